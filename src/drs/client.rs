//! The DRS REST client (reqwest + rustls): typed v3 calls, per-request timeout, AK/SK signing or
//! IAM token, DRS error codes kept. It does not retry: the engine does, guided by
//! `DrsError::is_retryable`. Batch calls are split into chunks of at most [`BATCH_MAX`] jobs.

use super::auth::Auth;
use super::error::DrsError;
use super::model::*;
use super::sign;
use crate::config::Config;
use crate::inventory::model::Engine;
use crate::secret::redact;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// DRS asks for at most 10 jobs per batch call.
pub const BATCH_MAX: usize = 10;

/// Header the emulator reads to inject a fault into one request (ignored by real DRS).
pub const FAULT_HEADER: &str = "X-Wavedeck-Fault";

#[derive(Clone)]
pub struct DrsClient {
    http: reqwest::Client,
    base_url: String,
    host: String,
    project_id: String,
    auth: Auth,
    timeout_s: u64,
    calls: Arc<AtomicU64>,
    /// Errors and latencies of every call, shared with copies (alerts and metrics read it).
    log: Arc<crate::metrics::calls::CallLog>,
    extra_headers: Vec<(String, String)>,
}

impl std::fmt::Debug for DrsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrsClient")
            .field("base_url", &self.base_url)
            .field("project_id", &self.project_id)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl DrsClient {
    /// A client for the configured endpoint, with credentials resolved from the config.
    pub fn from_config(cfg: &Config) -> Result<DrsClient, DrsError> {
        DrsClient::new(cfg, Auth::from_config(&cfg.drs)?)
    }

    pub fn new(cfg: &Config, auth: Auth) -> Result<DrsClient, DrsError> {
        if cfg.drs.project_id.trim().is_empty() {
            return Err(DrsError::Config(
                "drs.project_id is empty: set it in wavedeck.yaml or WAVEDECK_DRS_PROJECT_ID (IAM: GET /v3/projects?name=<region>)".into(),
            ));
        }
        let base_url = cfg.drs_base_url();
        let url = reqwest::Url::parse(&base_url).map_err(|e| {
            DrsError::Config(format!("drs.endpoint {base_url:?} is not a URL: {e}"))
        })?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => {
                return Err(DrsError::Config(format!(
                    "drs.endpoint {base_url:?} has no host"
                )))
            }
        };
        let timeout_s = cfg.drs.timeout_s.max(1);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(timeout_s))
            .connect_timeout(Duration::from_secs(timeout_s.min(10)))
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| DrsError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(DrsClient {
            http,
            base_url,
            host,
            project_id: cfg.drs.project_id.clone(),
            auth,
            timeout_s,
            calls: Arc::new(AtomicU64::new(0)),
            log: Arc::default(),
            extra_headers: Vec::new(),
        })
    }

    /// A copy that sends one more header on every request (used to ask the emulator for a
    /// fault: `with_header(FAULT_HEADER, "429")`). Shares the call counter.
    pub fn with_header(&self, name: &str, value: &str) -> DrsClient {
        let mut c = self.clone();
        c.extra_headers.push((name.to_string(), value.to_string()));
        c
    }

    /// HTTP calls made so far by this client and its copies (for the engine's figures).
    pub fn calls_made(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Errors by code, throttled answers and latencies of this client's calls and its copies'.
    pub fn call_log(&self) -> &Arc<crate::metrics::calls::CallLog> {
        &self.log
    }

    /// The credentials this client signs with (RDS and VPC reads sign with the same).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    // ---------- transport ----------

    /// Send one request; returns status and body of a 2xx, or the DRS error of anything else.
    /// Its latency and error code go to the call log.
    async fn send(
        &self,
        call: &str,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), DrsError> {
        let t0 = std::time::Instant::now();
        let r = self.send_once(call, method, path, query, body).await;
        let code = match &r {
            Ok(_) => None,
            Err(DrsError::Api { status, code, .. }) if code.is_empty() => Some(status.to_string()),
            Err(DrsError::Timeout { .. }) => Some("timeout".to_string()),
            Err(DrsError::Transport { .. }) => Some("transport".to_string()),
            Err(e) => Some(e.code().unwrap_or("invalid").to_string()),
        };
        let throttled = match &r {
            Err(DrsError::Api { status, code, .. }) => {
                *status == 429
                    || super::codes::meaning(code, Some(*status))
                        == Some(super::codes::Meaning::Throttled)
            }
            _ => false,
        };
        self.log
            .record(call, t0.elapsed(), code.as_deref(), throttled);
        r
    }

    async fn send_once(
        &self,
        call: &str,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), DrsError> {
        let body = body.unwrap_or_default();
        let mut headers: Vec<(String, String)> = vec![
            ("Host".into(), self.host.clone()),
            ("X-Project-Id".into(), self.project_id.clone()),
            (
                sign::DATE_HEADER.into(),
                sign::date_header_value(chrono::Utc::now()),
            ),
        ];
        headers.extend(self.extra_headers.iter().cloned());
        let key = self.auth.signing_key()?;
        if let Some((_, _, Some(token))) = &key {
            headers.push((
                super::auth::SECURITY_TOKEN_HEADER.into(),
                token.expose().to_string(),
            ));
        }
        let sign_input = sign::SignInput {
            method: method.as_str(),
            path,
            query,
            headers: &headers,
            body: &body,
        };
        let auth_header = match &key {
            Some((ak, sk, _)) => Some(
                sign::sign(&sign_input, ak, sk)
                    .map_err(|e| DrsError::Invalid(format!("cannot sign {call}: {e}")))?,
            ),
            None => None,
        };
        let mut url = format!("{}{}", self.base_url, path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&sign::canonical_query(query));
        }
        let mut req = self
            .http
            .request(method, &url)
            .header("Content-Type", "application/json");
        for (k, v) in &headers {
            match reqwest::header::HeaderValue::from_str(v) {
                // The security token is a credential: marked so it is never shown by Debug.
                Ok(mut hv) if k == super::auth::SECURITY_TOKEN_HEADER => {
                    hv.set_sensitive(true);
                    req = req.header(k, hv);
                }
                _ => req = req.header(k, v),
            }
        }
        match (&self.auth, auth_header) {
            (_, Some(a)) => req = req.header("Authorization", a),
            (Auth::Token(t), None) => req = req.header("X-Auth-Token", t.expose()),
            _ => {}
        }
        if !body.is_empty() {
            req = req.body(body);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(call, e))?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("X-Request-Id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(call, e))?
            .to_vec();
        if (200..300).contains(&status) {
            return Ok((status, bytes));
        }
        let owned = self.auth.secrets();
        let secrets: Vec<&crate::secret::Secret> = owned.iter().collect();
        Err(match super::error::ErrorBody::extract(&bytes) {
            Some((code, msg, rid)) => DrsError::Api {
                call: call.to_string(),
                status,
                code,
                message: redact(&msg, &secrets),
                request_id: rid.or(request_id),
            },
            None => DrsError::Api {
                call: call.to_string(),
                status,
                code: String::new(),
                message: redact(
                    &String::from_utf8_lossy(&bytes[..bytes.len().min(300)]),
                    &secrets,
                ),
                request_id,
            },
        })
    }

    fn transport_error(&self, call: &str, e: reqwest::Error) -> DrsError {
        if e.is_timeout() {
            DrsError::Timeout {
                call: call.to_string(),
                after_s: self.timeout_s,
            }
        } else {
            // reqwest errors carry the URL, never headers or bodies.
            let mut reason = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                reason = format!("{reason}: {s}");
                src = s.source();
            }
            DrsError::Transport {
                call: call.to_string(),
                base_url: self.base_url.clone(),
                reason,
            }
        }
    }

    async fn json<B: Serialize, R: DeserializeOwned>(
        &self,
        call: &str,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&B>,
    ) -> Result<R, DrsError> {
        let bytes = match body {
            Some(b) => Some(
                serde_json::to_vec(b)
                    .map_err(|e| DrsError::Invalid(format!("cannot encode {call}: {e}")))?,
            ),
            None => None,
        };
        let (status, resp) = self.send(call, method, path, query, bytes).await?;
        let resp = if resp.is_empty() {
            b"{}".to_vec()
        } else {
            resp
        };
        serde_json::from_slice(&resp).map_err(|e| DrsError::Decode {
            call: call.to_string(),
            status,
            reason: e.to_string(),
        })
    }

    fn v3(&self, rest: &str) -> String {
        format!("/v3/{}/{}", self.project_id, rest)
    }

    /// Run a batch call over `items` in chunks of [`BATCH_MAX`], concatenating the results.
    async fn batched<T: BatchItem, R: DeserializeOwned + BatchAnswer>(
        &self,
        call: &str,
        method: Method,
        rest: &str,
        items: &[T],
        page_req: Option<PageReq>,
    ) -> Result<Vec<R>, DrsError> {
        let path = self.v3(rest);
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(BATCH_MAX) {
            let answer = |chunk: &[T]| {
                let body = Jobs {
                    jobs: chunk.to_vec(),
                    page_req,
                };
                let (method, path) = (method.clone(), path.clone());
                async move {
                    let r: Results<R> = self.json(call, method, &path, &[], Some(&body)).await?;
                    Ok(r.results)
                }
            };
            out.extend(one_by_one_if_refused(chunk, answer).await?);
        }
        Ok(out)
    }

    fn ids(jobs: &[JobId]) -> Vec<String> {
        jobs.iter().map(|j| j.0.clone()).collect()
    }

    // ---------- job lifecycle (v3 batch API) ----------

    pub async fn create_jobs(
        &self,
        jobs: &[CreateJobReq],
    ) -> Result<Vec<CreateJobResult>, DrsError> {
        self.batched(
            "batch-creation",
            Method::POST,
            "jobs/batch-creation",
            jobs,
            None,
        )
        .await
    }

    pub async fn list_jobs(&self, req: &ListJobsReq) -> Result<ListJobsResp, DrsError> {
        self.json("list-jobs", Method::POST, &self.v3("jobs"), &[], Some(req))
            .await
    }

    /// Every job of one engine (all pages of 100).
    pub async fn list_all_jobs(&self, engine: Engine) -> Result<Vec<JobInfo>, DrsError> {
        self.list_pages(engine, None, |_| false).await
    }

    /// Pages of the tenant list for one engine ([`super::job_kind::list_request`]) until `stop` is
    /// true of a job or the list ends.
    async fn list_pages(
        &self,
        engine: Engine,
        name: Option<&str>,
        stop: impl Fn(&JobInfo) -> bool,
    ) -> Result<Vec<JobInfo>, DrsError> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let r = self
                .list_jobs(&super::job_kind::list_request(
                    engine,
                    page,
                    100,
                    name.map(str::to_string),
                ))
                .await?;
            let n = r.jobs.len();
            let done = r.jobs.iter().any(&stop);
            out.extend(r.jobs);
            if done || n < 100 || out.len() as u64 >= r.total_record {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// The live (not deleted) job with this name, if any. DRS names are case-insensitive
    /// (`create_job_req.py` name: "不区分大小写") and the `name` filter may match more than
    /// the one name, so every page is read until it is found.
    pub async fn find_job_by_name(
        &self,
        engine: Engine,
        name: &str,
    ) -> Result<Option<JobInfo>, DrsError> {
        let is_it =
            |j: &JobInfo| j.name.eq_ignore_ascii_case(name) && j.status != JobStatus::Deleted;
        Ok(self
            .list_pages(engine, Some(name), is_it)
            .await?
            .into_iter()
            .find(is_it))
    }

    /// Test the source (`so`) and target (`ta`) connections of jobs in CONFIGURATION.
    pub async fn test_connections(
        &self,
        endpoints: &[TestEndPoint],
    ) -> Result<Vec<ConnectionResult>, DrsError> {
        self.batched(
            "batch-connection",
            Method::POST,
            "jobs/batch-connection",
            endpoints,
            None,
        )
        .await
    }

    /// Save the tested endpoints on the jobs (`store_db_info: true`).
    pub async fn modify_jobs(&self, jobs: &[ModifyJobReq]) -> Result<Vec<ActionResult>, DrsError> {
        self.batched(
            "batch-modification",
            Method::PUT,
            "jobs/batch-modification",
            jobs,
            None,
        )
        .await
    }

    /// Choose what the jobs migrate (a database, or the whole instance).
    pub async fn select_objects(
        &self,
        jobs: &[SelectObjectsReq],
    ) -> Result<Vec<SelectObjectsResult>, DrsError> {
        let path = self.v3("jobs/batch-select-objects");
        let mut out = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(BATCH_MAX) {
            let answer = |chunk: &[SelectObjectsReq]| {
                let body = Jobs::of(chunk.to_vec());
                let path = path.clone();
                async move {
                    let r: SelectObjectsResp = self
                        .json("batch-select-objects", Method::PUT, &path, &[], Some(&body))
                        .await?;
                    Ok(r.results)
                }
            };
            out.extend(one_by_one_if_refused(chunk, answer).await?);
        }
        Ok(out)
    }

    pub async fn batch_status(&self, jobs: &[JobId]) -> Result<Vec<JobStatusResult>, DrsError> {
        self.batched(
            "batch-status",
            Method::POST,
            "jobs/batch-status",
            &Self::ids(jobs),
            Some(PageReq::ALL),
        )
        .await
    }

    pub async fn batch_detail(&self, jobs: &[JobId]) -> Result<Vec<JobDetail>, DrsError> {
        self.batched(
            "batch-detail",
            Method::POST,
            "jobs/batch-detail",
            &Self::ids(jobs),
            Some(PageReq::ALL),
        )
        .await
    }

    pub async fn batch_progress(&self, jobs: &[JobId]) -> Result<Vec<ProgressResult>, DrsError> {
        self.batched(
            "batch-progress",
            Method::POST,
            "jobs/batch-progress",
            &Self::ids(jobs),
            None,
        )
        .await
    }

    /// Start DRS's own pre-check (`forStartJob`, or `forRetryJob` before a reset). DRS accepts
    /// it only after the connection tests and `store_db_info` (see `DrsClient::prepare_jobs`).
    pub async fn precheck(
        &self,
        jobs: &[JobId],
        for_retry: bool,
    ) -> Result<Vec<ActionResult>, DrsError> {
        let mode = if for_retry {
            "forRetryJob"
        } else {
            "forStartJob"
        };
        let reqs: Vec<PrecheckReq> = jobs
            .iter()
            .map(|j| PrecheckReq {
                job_id: j.0.clone(),
                precheck_mode: mode.into(),
            })
            .collect();
        self.batched(
            "batch-precheck",
            Method::POST,
            "jobs/batch-precheck",
            &reqs,
            None,
        )
        .await
    }

    pub async fn precheck_results(&self, jobs: &[JobId]) -> Result<Vec<PrecheckResult>, DrsError> {
        self.batched(
            "batch-precheck-result",
            Method::POST,
            "jobs/batch-precheck-result",
            &Self::ids(jobs),
            None,
        )
        .await
    }

    pub async fn start(&self, jobs: &[JobId]) -> Result<Vec<ActionResult>, DrsError> {
        let reqs: Vec<StartReq> = jobs
            .iter()
            .map(|j| StartReq {
                job_id: j.0.clone(),
                ..Default::default()
            })
            .collect();
        self.batched(
            "batch-starting",
            Method::POST,
            "jobs/batch-starting",
            &reqs,
            None,
        )
        .await
    }

    /// Pause; `all` stops capture and replay, otherwise only replay on the target.
    pub async fn pause(&self, jobs: &[JobId], all: bool) -> Result<Vec<ActionResult>, DrsError> {
        let reqs: Vec<PauseReq> = jobs
            .iter()
            .map(|j| PauseReq {
                job_id: j.0.clone(),
                pause_mode: if all { "all" } else { "target" }.into(),
            })
            .collect();
        self.batched(
            "batch-pause-task",
            Method::POST,
            "jobs/batch-pause-task",
            &reqs,
            None,
        )
        .await
    }

    /// Resume a paused job, or retry a failed one.
    pub async fn resume(&self, jobs: &[JobId]) -> Result<Vec<ActionResult>, DrsError> {
        let reqs: Vec<RetryReq> = jobs
            .iter()
            .map(|j| RetryReq {
                job_id: j.0.clone(),
                ..Default::default()
            })
            .collect();
        self.batched(
            "batch-retry-task",
            Method::POST,
            "jobs/batch-retry-task",
            &reqs,
            None,
        )
        .await
    }

    async fn batch_jobs(
        &self,
        jobs: &[JobId],
        delete_type: &str,
    ) -> Result<Vec<ActionResult>, DrsError> {
        let reqs: Vec<DeleteJobReq> = jobs
            .iter()
            .map(|j| DeleteJobReq {
                job_id: j.0.clone(),
                delete_type: delete_type.into(),
            })
            .collect();
        self.batched("batch-jobs", Method::DELETE, "jobs/batch-jobs", &reqs, None)
            .await
    }

    /// Stop (terminate) the job: the migration cutover step that releases the DRS instance and
    /// lifts the target's read-only. `force` skips migrating triggers and events.
    pub async fn terminate(
        &self,
        jobs: &[JobId],
        force: bool,
    ) -> Result<Vec<ActionResult>, DrsError> {
        self.batch_jobs(
            jobs,
            if force {
                "force_terminate"
            } else {
                "terminate"
            },
        )
        .await
    }

    /// Delete finished jobs (terminated or failed to create).
    pub async fn delete(&self, jobs: &[JobId]) -> Result<Vec<ActionResult>, DrsError> {
        self.batch_jobs(jobs, "delete").await
    }

    /// Primary/standby swap of a disaster-recovery job. Migration jobs have no switchover: their
    /// cutover is [`DrsClient::terminate`] (see DESIGN.md).
    pub async fn switchover(&self, jobs: &[JobId]) -> Result<Vec<SwitchoverResult>, DrsError> {
        self.batched(
            "batch-switchover",
            Method::POST,
            "jobs/batch-switchover",
            &Self::ids(jobs),
            None,
        )
        .await
    }

    pub async fn quotas(&self) -> Result<QuotasResp, DrsError> {
        self.json::<(), _>("quotas", Method::GET, &self.v3("quotas"), &[], None)
            .await
    }

    // ---------- data comparison (per-job v3 API) ----------

    pub async fn create_object_compare(&self, job: &JobId) -> Result<(), DrsError> {
        let path = self.v3(&format!("jobs/{job}/object/compare"));
        self.send(
            "object-compare",
            Method::POST,
            &path,
            &[],
            Some(b"{}".to_vec()),
        )
        .await
        .map(|_| ())
    }

    pub async fn object_compare(&self, job: &JobId) -> Result<ObjectCompareOverview, DrsError> {
        let path = self.v3(&format!("jobs/{job}/object/compare"));
        self.json::<(), _>("object-compare-overview", Method::GET, &path, &[], None)
            .await
    }

    /// Create a row-count (`lines`) or value (`contents`) comparison; returns its id.
    pub async fn create_table_compare(
        &self,
        job: &JobId,
        req: &CreateTableCompareReq,
    ) -> Result<String, DrsError> {
        let path = self.v3(&format!("jobs/{job}/table/compare"));
        let r: IdResp = self
            .json("table-compare", Method::POST, &path, &[], Some(req))
            .await?;
        Ok(r.id)
    }

    pub async fn list_table_compares(&self, job: &JobId) -> Result<CompareJobList, DrsError> {
        let path = self.v3(&format!("jobs/{job}/table/compare"));
        let q = [
            ("limit".to_string(), "100".to_string()),
            ("offset".to_string(), "0".to_string()),
        ];
        self.json::<(), _>("table-compare-list", Method::GET, &path, &q, None)
            .await
    }

    pub async fn cancel_compare(&self, job: &JobId, compare_id: &str) -> Result<(), DrsError> {
        let path = self.v3(&format!("jobs/{job}/compare/{compare_id}"));
        self.send("compare-cancel", Method::DELETE, &path, &[], None)
            .await
            .map(|_| ())
    }

    async fn compare_view<R: DeserializeOwned>(
        &self,
        job: &JobId,
        compare_id: &str,
        view: &str,
    ) -> Result<R, DrsError> {
        let path = self.v3(&format!("jobs/{job}/compare/{compare_id}/{view}"));
        let q = [
            ("limit".to_string(), "1000".to_string()),
            ("offset".to_string(), "0".to_string()),
        ];
        self.json::<(), _>(view, Method::GET, &path, &q, None).await
    }

    pub async fn line_overview(
        &self,
        job: &JobId,
        compare_id: &str,
    ) -> Result<LineOverview, DrsError> {
        self.compare_view(job, compare_id, "line-overview").await
    }

    pub async fn line_detail(&self, job: &JobId, compare_id: &str) -> Result<LineDetail, DrsError> {
        self.compare_view(job, compare_id, "line-detail").await
    }

    pub async fn content_overview(
        &self,
        job: &JobId,
        compare_id: &str,
    ) -> Result<ContentOverview, DrsError> {
        self.compare_view(job, compare_id, "content-overview").await
    }

    pub async fn content_detail(
        &self,
        job: &JobId,
        compare_id: &str,
    ) -> Result<ContentDetail, DrsError> {
        self.compare_view(job, compare_id, "content-detail").await
    }

    /// Emulator only: tell the emulated source that writes stopped (drain) or resumed, so the
    /// emulated lag settles to 0. Real DRS answers 404 `APIG.0101`.
    pub async fn emulator_source_writes(&self, job: &JobId, active: bool) -> Result<(), DrsError> {
        let path = format!(
            "/wavedeck-emulator/v1/{}/jobs/{job}/source-writes",
            self.project_id
        );
        self.send(
            "emulator-source-writes",
            Method::POST,
            &path,
            &[],
            Some(serde_json::to_vec(&SourceWritesReq { active }).unwrap_or_default()),
        )
        .await
        .map(|_| ())
    }
}

/// A request item of a batch call, named by the job it is about (its id, or the name of a job
/// to create).
pub trait BatchItem: Clone + Serialize {
    fn job_key(&self) -> &str;
}

/// A result item of a batch call that can say "this job was refused" by itself.
pub trait BatchAnswer {
    fn refused(job_key: &str, code: &str, message: &str) -> Self;
}

/// One chunk's answer; when DRS refuses the whole call for what one job is (an unknown id, a
/// taken name: [`DrsError::is_about_one_job`]), each job is asked alone, so only the jobs DRS
/// refuses by themselves get the refusal. One gone job never makes its nine neighbours gone.
async fn one_by_one_if_refused<T, R, F, Fut>(chunk: &[T], answer: F) -> Result<Vec<R>, DrsError>
where
    T: BatchItem,
    R: BatchAnswer,
    F: Fn(&[T]) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<R>, DrsError>>,
{
    let refusal = |item: &T, e: &DrsError| {
        let (code, message) = match e {
            DrsError::Api { code, message, .. } => (code.as_str(), message.as_str()),
            _ => ("", ""),
        };
        R::refused(item.job_key(), code, message)
    };
    match answer(chunk).await {
        Err(e) if e.is_about_one_job() && chunk.len() == 1 => Ok(vec![refusal(&chunk[0], &e)]),
        Err(e) if e.is_about_one_job() => {
            let mut out = Vec::with_capacity(chunk.len());
            for item in chunk {
                match answer(std::slice::from_ref(item)).await {
                    Ok(r) => out.extend(r),
                    Err(e) if e.is_about_one_job() => out.push(refusal(item, &e)),
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        }
        other => other,
    }
}

macro_rules! batch_item {
    ($($t:ty => $f:ident),* $(,)?) => {
        $(impl BatchItem for $t {
            fn job_key(&self) -> &str {
                &self.$f
            }
        })*
    };
}

batch_item! {
    CreateJobReq => name,
    TestEndPoint => id,
    ModifyJobReq => job_id,
    SelectObjectsReq => job_id,
    PrecheckReq => job_id,
    StartReq => job_id,
    PauseReq => job_id,
    RetryReq => job_id,
    DeleteJobReq => job_id,
}

impl BatchItem for String {
    fn job_key(&self) -> &str {
        self
    }
}

/// `BatchAnswer` for result types: the field naming the job, the field of the message (DRS
/// spells it `error_msg` or `error_message`), and whatever else a refusal sets.
macro_rules! batch_answer {
    ($($t:ty { $key:ident, $msg:ident $(, $f:ident: $v:expr)* $(,)? }),* $(,)?) => {
        $(impl BatchAnswer for $t {
            #[allow(clippy::needless_update)]
            fn refused(job_key: &str, code: &str, message: &str) -> Self {
                Self {
                    $key: job_key.to_string(),
                    error_code: Some(code.to_string()),
                    $msg: Some(message.to_string()),
                    $($f: $v,)*
                    ..Default::default()
                }
            }
        })*
    };
}

batch_answer! {
    CreateJobResult { name, error_msg },
    ConnectionResult { id, error_msg, status: "failed".into(), success: Some(false) },
    ActionResult { id, error_msg, status: "failed".into() },
    SelectObjectsResult { job_id, error_msg, status: false },
    JobStatusResult { id, error_message, status: None },
    JobDetail { id, error_message },
    ProgressResult { job_id, error_msg },
    // Pre-check results carry no job id; `precheck_id` is the job id in DRS's examples and
    // the engine matches by it (`engine::effects::drs_jobs::match_prechecks`).
    PrecheckResult { precheck_id, error_msg },
    SwitchoverResult { job_id, error_msg },
}
