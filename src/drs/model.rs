//! DRS v3 request and response bodies with the service's own JSON field names (the Huawei Cloud Go
//! SDK `services/drs/v3/model`, the DRS v3 API reference). The client and the emulator share these
//! types. Response fields default when absent: DRS omits many of them depending on state.

use crate::secret::Secret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// A DRS job id (UUID-shaped, e.g. `9a470239-2308-4bb5-a6bc-1040402fjb21`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

impl JobId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for JobId {
    fn from(s: &str) -> Self {
        JobId(s.to_string())
    }
}

macro_rules! job_status {
    ($($v:ident => $s:literal),* $(,)?) => {
        /// Job status strings as DRS reports them (§3.1). Unknown strings are kept, not lost.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum JobStatus { $($v,)* Other(String) }
        impl JobStatus {
            pub fn as_str(&self) -> &str {
                match self { $(JobStatus::$v => $s,)* JobStatus::Other(s) => s }
            }
            pub fn parse(s: &str) -> JobStatus {
                match s { $($s => JobStatus::$v,)* other => JobStatus::Other(other.to_string()) }
            }
        }
    };
}

job_status! {
    Creating => "CREATING",
    CreateFailed => "CREATE_FAILED",
    Configuration => "CONFIGURATION",
    StartJobing => "STARTJOBING",
    WaitingForStart => "WAITING_FOR_START",
    StartJobFailed => "START_JOB_FAILED",
    Pausing => "PAUSING",
    FullTransferStarted => "FULL_TRANSFER_STARTED",
    FullTransferFailed => "FULL_TRANSFER_FAILED",
    FullTransferComplete => "FULL_TRANSFER_COMPLETE",
    IncreTransferStarted => "INCRE_TRANSFER_STARTED",
    IncreTransferFailed => "INCRE_TRANSFER_FAILED",
    ReleaseResourceStarted => "RELEASE_RESOURCE_STARTED",
    ReleaseResourceFailed => "RELEASE_RESOURCE_FAILED",
    ReleaseResourceComplete => "RELEASE_RESOURCE_COMPLETE",
    RebuildNodeStarted => "REBUILD_NODE_STARTED",
    RebuildNodeFailed => "REBUILD_NODE_FAILED",
    ChangeJobStarted => "CHANGE_JOB_STARTED",
    ChangeJobFailed => "CHANGE_JOB_FAILED",
    Deleted => "DELETED",
    ChildTransferStarting => "CHILD_TRANSFER_STARTING",
    ChildTransferStarted => "CHILD_TRANSFER_STARTED",
    ChildTransferComplete => "CHILD_TRANSFER_COMPLETE",
    ChildTransferFailed => "CHILD_TRANSFER_FAILED",
    ReleaseChildTransferStarted => "RELEASE_CHILD_TRANSFER_STARTED",
    ReleaseChildTransferComplete => "RELEASE_CHILD_TRANSFER_COMPLETE",
    NodeUpgradeStart => "NODE_UPGRADE_START",
    NodeUpgradeComplete => "NODE_UPGRADE_COMPLETE",
    NodeUpgradeFailed => "NODE_UPGRADE_FAILED",
}

impl JobStatus {
    /// A failed state the operator (or a retry/reset) must deal with.
    pub fn is_failed(&self) -> bool {
        matches!(
            self,
            JobStatus::CreateFailed
                | JobStatus::StartJobFailed
                | JobStatus::FullTransferFailed
                | JobStatus::IncreTransferFailed
                | JobStatus::ReleaseResourceFailed
                | JobStatus::RebuildNodeFailed
                | JobStatus::ChangeJobFailed
                | JobStatus::ChildTransferFailed
                | JobStatus::NodeUpgradeFailed
        )
    }

    /// The job no longer holds a DRS instance (does not count against the quota).
    /// `RELEASE_CHILD_TRANSFER_COMPLETE` is "再编辑子任务已结束" (the job, ended while a re-edit
    /// child task ran, has ended that task too: SDK `query_job_status_resp.py` status enum);
    /// Terraform's provider deletes a job in it without a force-terminate, as it does one in
    /// `RELEASE_RESOURCE_COMPLETE` or `CREATE_FAILED` (`resource_huaweicloud_drs_job.go`,
    /// resourceJobDelete), so it holds nothing any more either.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            JobStatus::ReleaseResourceComplete
                | JobStatus::ReleaseChildTransferComplete
                | JobStatus::Deleted
                | JobStatus::CreateFailed
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(JobStatus::parse(&s))
    }
}

/// A password on the wire: serialised as its value (DRS needs it), never shown by Debug.
#[derive(Clone, PartialEq, Eq)]
pub struct WirePassword(pub Secret);

impl fmt::Debug for WirePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for WirePassword {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose())
    }
}

impl<'de> Deserialize<'de> for WirePassword {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(WirePassword(Secret::new(String::deserialize(d)?)))
    }
}

/// DRS sends ports as numbers but its own examples also show strings ("3306"): accept both.
fn port_any<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum P {
        N(u32),
        S(String),
    }
    match Option::<P>::deserialize(d)? {
        None => Ok(None),
        Some(P::N(n)) => Ok(Some(n)),
        Some(P::S(s)) if s.is_empty() => Ok(None),
        Some(P::S(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Endpoint (`model_endpoint.go`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    /// Optional in the SDK (`endpoint.py`: required only in a modify after the connection
    /// test), so an answer without it still reads.
    #[serde(default)]
    pub db_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inst_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(
        default,
        deserialize_with = "port_any",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_password: Option<WirePassword>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

impl Endpoint {
    /// The same endpoint without its password (for storing or showing).
    pub fn without_password(&self) -> Endpoint {
        Endpoint {
            db_password: None,
            ..self.clone()
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// CreateJobReq (`model_create_job_req.go`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CreateJobReq {
    pub name: String,
    pub db_use_type: String,
    pub engine_type: String,
    pub job_direction: String,
    pub net_type: String,
    pub node_type: String,
    pub task_type: String,
    pub source_endpoint: Endpoint,
    pub target_endpoint: Endpoint,
    /// Subnet of the DRS node. The field name really is misspelt in the DRS API.
    #[serde(default)]
    pub customize_sutnet_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_target_readonly: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_days: Option<String>,
    /// Required and `true` when `net_type` is `eip` (`create_job_req.py` `bind_eip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_eip: Option<bool>,
}

/// `{"jobs":[...]}`, the envelope of every v3 batch request.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Jobs<T> {
    pub jobs: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_req: Option<PageReq>,
}

impl<T> Jobs<T> {
    pub fn of(jobs: Vec<T>) -> Self {
        Jobs {
            jobs,
            page_req: None,
        }
    }
}

/// Paging of batch-status / batch-detail. `per_page: 0` means all; DRS defaults to 5 when the
/// client omits it, so the client always sends it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PageReq {
    pub cur_page: u32,
    pub per_page: u32,
}

impl PageReq {
    pub const ALL: PageReq = PageReq {
        cur_page: 1,
        per_page: 0,
    };
}

/// `{"results":[...],"count":N}`, the envelope of every v3 batch answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Results<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CreateJobResult {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

/// Tenant job list (`POST /v3/{pid}/jobs`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ListJobsReq {
    pub cur_page: u32,
    pub per_page: u32,
    pub db_use_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_type: Option<String>,
    /// A name, or up to 100 comma-separated ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct JobAction {
    #[serde(default)]
    pub available_actions: Vec<String>,
    #[serde(default)]
    pub unavailable_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_action: Option<String>,
}

/// JobInfo (`model_job_info.go`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct JobInfo {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub status: JobStatus,
    #[serde(default)]
    pub create_time: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub engine_type: String,
    #[serde(default)]
    pub net_type: String,
    #[serde(default)]
    pub job_direction: String,
    #[serde(default)]
    pub db_use_type: String,
    #[serde(default)]
    pub task_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_action: Option<JobAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

impl Default for JobStatus {
    fn default() -> Self {
        JobStatus::Other(String::new())
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ListJobsResp {
    #[serde(default)]
    pub total_record: u64,
    #[serde(default)]
    pub jobs: Vec<JobInfo>,
}

/// batch-status item (`model_query_job_status_resp.go`): note `error_message`, not `error_msg`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct JobStatusResult {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// batch-detail item (main fields of `model_query_job_resp.go`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct JobDetail {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub create_time: String,
    #[serde(default)]
    pub task_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_endpoint: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_endpoint: Option<Endpoint>,
    #[serde(default)]
    pub net_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_transfer_complete_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default)]
    pub job_direction: String,
    #[serde(default)]
    pub db_use_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_target_readonly: Option<bool>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The job's replication instance (its private and, with an EIP, public address): what a
    /// no-public-exposure check reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inst_info: Option<InstInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// InstInfo (`inst_info.py`): the replication instance of a job.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct InstInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_type: Option<String>,
    /// `common`, `high` or `ultrahigh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inst_type: Option<String>,
    /// Private address of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Public address; only with an EIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// `active` or `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Disk size in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_size: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProgressMapItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_time: Option<String>,
}

/// batch-progress item (`model_query_progress_resp.go`): numbers are strings.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProgressResult {
    #[serde(default)]
    pub job_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incre_trans_delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incre_trans_delay_millis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_status: Option<JobStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_map: Option<BTreeMap<String, ProgressMapItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

/// TestEndPoint (`model_test_end_point.go`): one side of a job's connection test.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TestEndPoint {
    /// The job id.
    pub id: String,
    pub net_type: String,
    pub db_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(
        default,
        deserialize_with = "port_any",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inst_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_password: Option<WirePassword>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// `so` (source) or `ta` (target).
    pub end_point_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

/// batch-connection item.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ConnectionResult {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
    /// Optional in the SDK (`check_job_resp.py`: only `id` and `status` are required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

impl ConnectionResult {
    /// The connection test passed. `success` when given; else `status`, which the SDK
    /// (`model_check_job_resp.go`) gives as `"true"`/`"false"` and the OTC example as
    /// `"success"`. Where they disagree we follow the SDK and accept the example's word too.
    pub fn ok(&self) -> bool {
        self.error_code.as_deref().unwrap_or("").is_empty()
            && self.success.unwrap_or_else(|| {
                self.status.eq_ignore_ascii_case("true")
                    || self.status.eq_ignore_ascii_case("success")
            })
    }
}

/// ModifyJobReq (`model_modify_job_req.go`): saves the tested endpoints on the job.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ModifyJobReq {
    pub job_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_endpoint: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_endpoint: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_type: Option<String>,
    /// Must be true after the connection test, or DRS forgets the endpoints.
    #[serde(default)]
    pub store_db_info: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_target_readonly: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_use_type: Option<String>,
    /// Move every definer to the target user (MySQL). Mandatory in a modify after the
    /// connection test (`model_modify_job_req.go` `ReplaceDefiner`: "测试连接之后修改调用时必填").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_definer: Option<bool>,
    /// Whether the job is being rebuilt; Terraform's provider sends `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_recreate: Option<bool>,
}

/// DatabaseInfo (`model_database_info.go`): one selected object.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DatabaseInfo {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// `database`, `table`, `schema` or `view`.
    pub object_type: String,
    #[serde(default)]
    pub object_name: String,
    /// `"true"`, `"false"` or `"partial"` (a string in DRS).
    pub select: String,
}

/// batch-select-objects item: `selected: false` means the whole instance.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SelectObjectsReq {
    pub job_id: String,
    pub selected: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_database: Option<bool>,
    #[serde(default)]
    pub job: Vec<DatabaseInfo>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SelectObjectsResult {
    #[serde(default)]
    pub job_id: String,
    /// A boolean here, unlike the other batch answers.
    #[serde(default)]
    pub status: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SelectObjectsResp {
    #[serde(default)]
    pub all_counts: u64,
    #[serde(default)]
    pub results: Vec<SelectObjectsResult>,
}

/// Per-item outcome of an action (start, pause, retry, precheck, terminate, delete).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ActionResult {
    #[serde(default)]
    pub id: String,
    /// `success` or `failed`.
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

impl ActionResult {
    pub fn ok(&self) -> bool {
        self.status.eq_ignore_ascii_case("success")
            && self.error_code.as_deref().unwrap_or("").is_empty()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PrecheckReq {
    pub job_id: String,
    /// `forStartJob` or `forRetryJob`.
    pub precheck_mode: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PrecheckItem {
    #[serde(default)]
    pub item: String,
    /// `PASSED`, `ALARM` or `FAILED`.
    #[serde(default)]
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// batch-precheck-result item (`model_query_pre_check_resp.go`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PrecheckResult {
    #[serde(default)]
    pub precheck_id: String,
    #[serde(default)]
    pub result: bool,
    /// `"100%"` when finished.
    #[serde(default)]
    pub process: String,
    #[serde(default)]
    pub total_passed_rate: String,
    /// The target RDS instance of the job checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_direction: Option<String>,
    #[serde(default)]
    pub precheck_result: Vec<PrecheckItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

impl PrecheckResult {
    pub fn finished(&self) -> bool {
        self.process == "100%"
    }
    /// Terraform's rule: may start iff every item passed.
    pub fn passed(&self) -> bool {
        self.finished() && self.total_passed_rate == "100%"
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StartReq {
    pub job_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_auto_create_compare: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PauseReq {
    pub job_id: String,
    /// `target` (stop replay) or `all` (stop capture and replay).
    pub pause_mode: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RetryReq {
    pub job_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_sync_re_edit: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeleteJobReq {
    pub job_id: String,
    /// `terminate`, `force_terminate` or `delete`.
    pub delete_type: String,
}

/// batch-switchover item (disaster-recovery swap; not a migration cutover).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SwitchoverResult {
    #[serde(default)]
    pub job_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_target_readonly: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct QuotaResource {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub used: i64,
    #[serde(default)]
    pub quota: i64,
    #[serde(default)]
    pub min: i64,
    #[serde(default)]
    pub max: i64,
}

/// `GET /v3/{pid}/quotas`: `{"quotas":{"resource":{...}}}`. The SDK models `resource` as one
/// object (`query_quota_info.py`, HW drs_03_0144); a list is read too, in case.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct QuotasResp {
    pub quotas: Quotas,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Quotas {
    #[serde(
        rename = "resource",
        alias = "resources",
        deserialize_with = "one_or_many",
        serialize_with = "as_one"
    )]
    pub resources: Vec<QuotaResource>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<QuotaResource>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(QuotaResource),
        Many(Vec<QuotaResource>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(r) => vec![r],
        OneOrMany::Many(v) => v,
    })
}

/// One object as DRS answers; a list only when there is more than one (DRS never does).
fn as_one<S: Serializer>(v: &[QuotaResource], s: S) -> Result<S::Ok, S::Error> {
    match v {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

// ---- data comparison (per-job v3 API, §2.6) ----

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CompareObject {
    pub db_name: String,
    /// Tables of the database (`compare_object_info.py`: "该库下的表名列表"). The SDK and the
    /// API reference state no meaning for an empty list; the emulator takes the whole
    /// database, and wavedeck never sends one (it asks for a quick comparison).
    #[serde(default)]
    pub table_name: Vec<String>,
}

/// `compare_mode` of a comparison of the job's objects, none named.
pub const QUICK_COMPARISON: &str = "quick_comparison";

/// `POST /v3/{pid}/jobs/{job_id}/table/compare`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CreateTableCompareReq {
    /// `lines` (row counts) or `contents` (values).
    #[serde(rename = "type")]
    pub kind: String,
    /// Epoch milliseconds as a string; empty or absent = now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// `quick_comparison`, or absent: then `compare_object` must name the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compare_object: Vec<CompareObject>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IdResp {
    pub id: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CompareJob {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// `RUNNING`, `WAITING_FOR_RUNNING`, `SUCCESSFUL`, `FAILED`, `CANCELLED`, ...
    #[serde(default)]
    pub status: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CompareJobList {
    #[serde(default)]
    pub compare_jobs: Vec<CompareJob>,
    #[serde(default)]
    pub count: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ObjectCompareResultItem {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub source_count: i64,
    #[serde(default)]
    pub target_count: i64,
    /// 0 inconsistent, 2 consistent, 3 unfinished.
    #[serde(default)]
    pub status: i32,
}

/// `GET /v3/{pid}/jobs/{job_id}/object/compare`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ObjectCompareOverview {
    #[serde(default)]
    pub compare_job_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    #[serde(default)]
    pub compare_result: Vec<ObjectCompareResultItem>,
}

/// Integer status codes of the compare results (§2.6).
pub mod compare_status {
    pub const INCONSISTENT: i32 = 0;
    pub const CONSISTENT: i32 = 2;
    pub const UNFINISHED: i32 = 3;
    pub const COMPARING: i32 = 5;
    pub const WAITING: i32 = 6;
    pub const CANCELLED: i32 = 7;
    /// Both sides are empty (`data_compare_overview_info.py`: 10 源库和目标库都为空): nothing
    /// to differ, so consistent. 8 (source empty) and 9 (target empty) are not.
    pub const BOTH_EMPTY: i32 = 10;

    /// A row-count result that counts as consistent.
    pub fn consistent(status: i32) -> bool {
        status == CONSISTENT || status == BOTH_EMPTY
    }
}

/// Status codes of a content-detail row (`node_content_compare_detail_result.py`: 1 comparing,
/// 2 done, 3 waiting, 4 cancelled), not the codes of [`compare_status`].
pub mod content_detail_status {
    pub const COMPARING: i32 = 1;
    pub const DONE: i32 = 2;
    pub const WAITING: i32 = 3;
    pub const CANCELLED: i32 = 4;
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LineOverviewInfo {
    #[serde(default)]
    pub source_db_name: String,
    #[serde(default)]
    pub target_db_name: String,
    #[serde(default)]
    pub status: i32,
    #[serde(default)]
    pub compare_num: i64,
    #[serde(default)]
    pub compare_end_num: i64,
    #[serde(default)]
    pub data_inconsistent_num: i64,
    #[serde(default)]
    pub uncomparable_num: i64,
}

/// `GET …/compare/{compare_job_id}/line-overview`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LineOverview {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub data_compare_overview_infos: Vec<LineOverviewInfo>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LineDetailInfo {
    #[serde(default)]
    pub source_table_name: String,
    #[serde(default)]
    pub source_row_num: i64,
    #[serde(default)]
    pub target_table_name: String,
    #[serde(default)]
    pub target_row_num: i64,
    #[serde(default)]
    pub difference_row_num: i64,
    #[serde(default)]
    pub status: i32,
}

/// `GET …/compare/{compare_job_id}/line-detail`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LineDetail {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub table_line_compare_result_infos: Vec<LineDetailInfo>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ContentOverviewInfo {
    #[serde(default)]
    pub source_db: String,
    #[serde(default)]
    pub target_db: String,
    #[serde(default)]
    pub status: i32,
    #[serde(default)]
    pub compare_num: i64,
    #[serde(default)]
    pub compare_end_num: i64,
    #[serde(default)]
    pub data_inconsistent_num: i64,
    #[serde(default)]
    pub uncomparable_num: i64,
}

/// `GET …/compare/{compare_job_id}/content-overview`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ContentOverview {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub content_compare_result_infos: Vec<ContentOverviewInfo>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ContentDetailInfo {
    #[serde(default)]
    pub source_db: String,
    #[serde(default)]
    pub target_db: String,
    #[serde(default)]
    pub source_table_name: String,
    #[serde(default)]
    pub target_table_name: String,
    #[serde(default)]
    pub source_row_num: i64,
    #[serde(default)]
    pub target_row_num: i64,
    #[serde(default)]
    pub difference_row_num: i64,
    #[serde(default)]
    pub line_compare_result: bool,
    #[serde(default)]
    pub content_compare_result: bool,
    #[serde(default)]
    pub status: i32,
    #[serde(default)]
    pub progress: f64,
}

/// `GET …/compare/{compare_job_id}/content-detail`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ContentDetail {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub content_compare_result_infos: Vec<ContentDetailInfo>,
}

/// Emulator-only control: whether the emulated source is still taking writes (the cutover's
/// drain stops them; the emulated lag then settles to 0). Not part of the DRS API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SourceWritesReq {
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_example_from_docs_parses() {
        // OTC querying_task_progress_in_batches.rst, abridged.
        let body = r#"{"count":1,"results":[{"progress":"100","job_id":"8d0e8e36-a618-490d-8a46-8c61ac9jb502","incre_trans_delay":"0","task_mode":"FULL_INCR_TRANS","transfer_status":"INCRE_TRANSFER_STARTED","process_time":"1608274919000","remaining_time":"0","progress_map":{"data":{"completed":"100%","remaining_time":null}}}]}"#;
        let r: Results<ProgressResult> = serde_json::from_str(body).unwrap();
        assert_eq!(
            r.results[0].transfer_status,
            Some(JobStatus::IncreTransferStarted)
        );
        assert_eq!(r.results[0].incre_trans_delay.as_deref(), Some("0"));
    }

    #[test]
    fn unknown_status_is_kept() {
        let s: JobStatus = serde_json::from_str("\"SOME_NEW_STATE\"").unwrap();
        assert_eq!(s, JobStatus::Other("SOME_NEW_STATE".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"SOME_NEW_STATE\"");
        // The SDK's enum (model_query_job_status_resp.go) has these failed states too.
        assert!(JobStatus::parse("CHILD_TRANSFER_FAILED").is_failed());
        assert!(JobStatus::parse("NODE_UPGRADE_FAILED").is_failed());
        assert!(!JobStatus::parse("NODE_UPGRADE_START").is_failed());
        assert_eq!(JobStatus::parse("PAUSING"), JobStatus::Pausing);
    }

    #[test]
    fn connection_results_read_the_sdk_and_the_example() {
        let r = |j: &str| serde_json::from_str::<ConnectionResult>(j).unwrap().ok();
        // SDK (check_job_resp.py): status "true"/"false", success optional.
        assert!(r(r#"{"id":"j","status":"true"}"#));
        assert!(!r(r#"{"id":"j","status":"false"}"#));
        // OTC example: status "success" with success true.
        assert!(r(r#"{"id":"j","status":"success","success":true}"#));
        assert!(!r(r#"{"id":"j","status":"success","success":false}"#));
        assert!(!r(
            r#"{"id":"j","status":"true","error_code":"DRS.KE0002"}"#
        ));
        // An endpoint without db_type reads (optional in endpoint.py).
        let e: Endpoint = serde_json::from_str(r#"{"ip":"10.0.0.1"}"#).unwrap();
        assert_eq!(e.db_type, "");
    }

    #[test]
    fn password_is_sent_but_never_debugged() {
        let ep = Endpoint {
            db_type: "mysql".into(),
            db_port: Some(3306),
            db_password: Some(WirePassword(Secret::new("s3cr3t-pw"))),
            ..Default::default()
        };
        let json = serde_json::to_string(&ep).unwrap();
        assert!(json.contains("s3cr3t-pw"));
        assert!(!format!("{ep:?}").contains("s3cr3t-pw"));
        let back: Endpoint =
            serde_json::from_str(r#"{"db_type":"mysql","db_port":"3306"}"#).unwrap();
        assert_eq!(back.db_port, Some(3306));
    }

    #[test]
    fn quotas_are_one_object_as_the_sdk_says() {
        let q = QuotasResp {
            quotas: Quotas {
                resources: vec![QuotaResource {
                    kind: "instances".into(),
                    used: 1,
                    quota: 5,
                    ..Default::default()
                }],
            },
        };
        let v = serde_json::to_value(&q).unwrap();
        assert_eq!(v["quotas"]["resource"]["quota"], 5, "{v}");
        assert!(v["quotas"].get("resources").is_none(), "{v}");
        let one: QuotasResp = serde_json::from_str(
            r#"{"quotas":{"resource":{"type":"instances","used":3,"quota":50,"min":0,"max":1000}}}"#,
        )
        .unwrap();
        assert_eq!(one.quotas.resources[0].quota, 50);
    }

    #[test]
    fn quotas_accept_object_or_list() {
        let one: QuotasResp = serde_json::from_str(
            r#"{"quotas":{"resources":{"type":"instances","used":3,"quota":50,"min":0,"max":1000}}}"#,
        )
        .unwrap();
        assert_eq!(one.quotas.resources[0].quota, 50);
        let many: QuotasResp = serde_json::from_str(
            r#"{"quotas":{"resources":[{"type":"instances","used":3,"quota":50}]}}"#,
        )
        .unwrap();
        assert_eq!(many.quotas.resources[0].used, 3);
    }
}
