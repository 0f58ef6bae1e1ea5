//! The RDS v3 and VPC v3 answers the exposure pre-check reads, with Huawei's field names
//! (Go SDK `services/rds/v3/model/model_instance_response.go`, `model_list_instances_response.go`;
//! `services/vpc/v3/model/model_security_group_rule.go`, `model_list_security_group_rules_response.go`,
//! `model_page_info.go`). A subset of each: what wavedeck reads, plus what the emulator must send
//! for the SDK to read its answer. One model for both sides: the client reads it, the emulator
//! writes it.

use serde::{Deserialize, Serialize};

/// `GET /v3/{project_id}/instances` (RDS `ListInstances`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListInstancesResponse {
    #[serde(default)]
    pub instances: Vec<InstanceResponse>,
    #[serde(default)]
    pub total_count: i32,
}

/// One RDS instance (`InstanceResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceResponse {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// ACTIVE, BUILD, FAILED, FROZEN, MODIFYING, ...
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub private_ips: Vec<String>,
    /// The EIPs bound to the instance: empty for a private one.
    #[serde(default)]
    pub public_ips: Vec<String>,
    /// Single, Ha or Replica.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub datastore: Option<Datastore>,
    #[serde(default)]
    pub port: i32,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub vpc_id: String,
    #[serde(default)]
    pub subnet_id: String,
    /// The instance's security group (one id in v3's `ListInstances`).
    #[serde(default)]
    pub security_group_id: String,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub updated: String,
    /// What a restore to a new instance copies: the flavour, the disk, the zone of a node.
    #[serde(default)]
    pub flavor_ref: String,
    #[serde(default)]
    pub volume: Option<Volume>,
    #[serde(default)]
    pub nodes: Vec<NodeResponse>,
}

/// `VolumeForInstanceResponse` / `Volume`: disk type (ULTRAHIGH, CLOUDSSD, ...) and GB.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    #[serde(rename = "type")]
    pub kind: String,
    pub size: i32,
}

/// `NodeResponse`, the part a restore reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub availability_zone: String,
}

/// `GET /v3/{project_id}/backups?instance_id=` (RDS `ListBackups`,
/// `model_list_backups_response.go`, `model_backup_for_list.go`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListBackupsResponse {
    #[serde(default)]
    pub backups: Vec<BackupForList>,
    #[serde(default)]
    pub total_count: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupForList {
    pub id: String,
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub name: String,
    /// `yyyy-mm-ddThh:mm:ssZ`, the zone as an offset (`+0800`).
    #[serde(default)]
    pub begin_time: String,
    #[serde(default)]
    pub end_time: String,
    /// BUILDING, COMPLETED, FAILED, DELETING.
    #[serde(default)]
    pub status: String,
    /// auto, manual, fragment, incremental.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub datastore: Option<Datastore>,
}

/// `POST /v3/{project_id}/instances` with `restore_point` (RDS `CreateRestoreInstance`,
/// `model_create_restore_instance_request_body.go`): the required fields and the restore point.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRestoreInstanceRequestBody {
    pub name: String,
    pub flavor_ref: String,
    pub volume: Volume,
    pub availability_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    pub restore_point: RestorePoint,
}

/// `RestorePoint`: `type` `backup` (with `backup_id`) or `timestamp` (with `restore_time`, Unix
/// milliseconds, UTC).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RestorePoint {
    pub instance_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_time: Option<i64>,
}

/// `CreateRestoreInstanceResponse`: the new instance (`CreateInstanceRespItem`, a subset) and
/// the job that builds it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRestoreInstanceResponse {
    #[serde(default)]
    pub instance: Option<CreateInstanceRespItem>,
    #[serde(default)]
    pub job_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateInstanceRespItem {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub flavor_ref: String,
    #[serde(default)]
    pub volume: Option<Volume>,
    #[serde(default)]
    pub availability_zone: String,
}

/// `DELETE /v3/{project_id}/instances/{instance_id}` (RDS `DeleteInstance`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteInstanceResponse {
    #[serde(default)]
    pub job_id: Option<String>,
}

/// `Datastore`: `type` is MySQL, PostgreSQL, SQLServer or MariaDB (case-sensitive).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Datastore {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub version: String,
}

/// `GET /v3/{project_id}/vpc/security-group-rules` (VPC `ListSecurityGroupRules`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListSecurityGroupRulesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default)]
    pub security_group_rules: Vec<SecurityGroupRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_info: Option<PageInfo>,
}

/// `PageInfo`: the next page is asked for with `marker=next_marker`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PageInfo {
    #[serde(default)]
    pub previous_marker: String,
    #[serde(default)]
    pub current_count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// One rule (`SecurityGroupRule`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub security_group_id: String,
    /// `ingress` or `egress`.
    #[serde(default)]
    pub direction: String,
    /// tcp, udp, icmp, icmpv6 or an IP protocol number; empty means every protocol.
    #[serde(default)]
    pub protocol: String,
    /// IPv4 or IPv6.
    #[serde(default)]
    pub ethertype: String,
    /// One port (`80`), a range (`1-30`) or a list (`22,3389,80`); empty means every port.
    #[serde(default)]
    pub multiport: String,
    /// `allow` or `deny`.
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub remote_group_id: String,
    /// An IP or CIDR; exclusive with `remote_group_id` and `remote_address_group_id`.
    #[serde(default)]
    pub remote_ip_prefix: String,
    #[serde(default)]
    pub remote_address_group_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub project_id: String,
    /// Default true in the API.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}
