//! HTTP side of the emulator: gateway checks (signature, token, AK lock, throttling, injected
//! faults), then the DRS v3 routes. One fallback handler routes by path segments so the raw
//! method, path, query, headers and body are at hand for signature verification.
// Handlers return the HTTP answer itself as their error: it is built once per request and goes
// straight out, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::faults::{self, RequestAction, RequestFaultKind};
use super::job::{Job, JobFaults, Refusal};
use super::native;
use super::{CompareTask, Emulator};
use crate::drs::api::TAG_SIZE_MB;
use crate::drs::client::{BATCH_MAX, FAULT_HEADER};
use crate::drs::error::ErrorBody;
use crate::drs::model::*;
use crate::drs::sign;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const MAX_BODY: usize = 12 * 1024 * 1024;
const DEFAULT_SIZE_MB: f64 = 1024.0;

pub(super) fn router(emu: Arc<Emulator>) -> Router {
    Router::new().fallback(handle).with_state(emu)
}

enum BodyError {
    TooLarge,
    /// No byte for the stall limit: the client stopped sending.
    Stalled,
    /// The connection broke mid-body.
    Broken,
}

/// The whole body, each read bounded by `stall`: a client that pauses and goes on is served, a
/// client that stops is cut off (the header half has hyper's timer, see `serve`).
async fn read_body(body: Body, stall: std::time::Duration) -> Result<axum::body::Bytes, BodyError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(stall, stream.next()).await {
            Err(_) => return Err(BodyError::Stalled),
            Ok(None) => return Ok(out.into()),
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(chunk))) => {
                if out.len() + chunk.len() > MAX_BODY {
                    return Err(BodyError::TooLarge);
                }
                out.extend_from_slice(&chunk);
            }
        }
    }
}

fn request_id() -> String {
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

fn json<T: Serialize>(status: u16, body: &T) -> Response {
    json_with_id(status, body, &request_id())
}

fn json_with_id<T: Serialize>(status: u16, body: &T, id: &str) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-request-id", v);
    }
    r
}

fn err(status: u16, code: &str, msg: impl Into<String>) -> Response {
    json(status, &ErrorBody::new(code, msg))
}

fn gateway_err(status: u16, code: &str, msg: &str) -> Response {
    let id = request_id();
    json_with_id(
        status,
        &ErrorBody {
            request_id: Some(id.clone()),
            ..ErrorBody::new(code, msg)
        },
        &id,
    )
}

fn empty(status: u16) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r
}

async fn handle(State(emu): State<Arc<Emulator>>, req: Request) -> Response {
    emu.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let body = match read_body(body, emu.client_stall).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return gateway_err(413, "APIG.0201", "Request entity too large");
        }
        Err(BodyError::Stalled) => {
            tracing::warn!(
                path = %parts.uri.path(),
                stall_s = emu.client_stall.as_secs(),
                "DRS emulator: the client sent no byte of the request body for {} s; cut off",
                emu.client_stall.as_secs()
            );
            return gateway_err(408, "APIG.0201", "Request timeout");
        }
        Err(BodyError::Broken) => {
            return gateway_err(400, "APIG.0201", "API request error");
        }
    };
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let query = sign::parse_query(parts.uri.query().unwrap_or(""));
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };

    // Gateway: authentication first, as APIG does.
    if let Some(token) = header("x-auth-token") {
        if token != emu.token.expose() {
            return gateway_err(
                401,
                "APIG.0301",
                "Incorrect IAM authentication information: decrypt token fail",
            );
        }
    } else {
        let Some(authz) = header("authorization") else {
            return gateway_err(
                401,
                "APIG.0301",
                "Incorrect IAM authentication information: Authorization not found",
            );
        };
        let access = sign::parse_authorization(authz).ok().map(|a| a.access);
        if let Some(ak) = &access {
            if emu.ak_locked(ak) {
                return gateway_err(
                    401,
                    "APIG.0301",
                    "Incorrect IAM authentication information: AK access failed to reach the limit,forbidden",
                );
            }
        }
        let input = sign::SignInput {
            method: method.as_str(),
            path: &path,
            query: &query,
            headers: &headers,
            body: &body,
        };
        let verdict = sign::verify(&input, authz, |ak| emu.secret_for(ak), chrono::Utc::now());
        if let Some(ak) = &access {
            emu.record_ak(ak, verdict.is_ok());
        }
        // DRS answers a clock refusal with the same generic message as a wrong key, so the
        // client cannot tell; the emulator's log says what it was.
        if let Err(sign::SignError::ClockSkew { skew_s }) = &verdict {
            tracing::warn!(
                skew_s = *skew_s,
                path = %path,
                "DRS emulator: signature refused because of the clock: the request's X-Sdk-Date is {} s {} the emulator's clock (at most {} s allowed); set the client's clock (NTP)",
                skew_s.abs(),
                if *skew_s > 0 { "behind" } else { "ahead of" },
                sign::MAX_CLOCK_SKEW_S
            );
        }
        if verdict.is_err() {
            return gateway_err(
                401,
                "APIG.0301",
                "Incorrect IAM authentication information: verify aksk signature fail",
            );
        }
        // A temporary access key counts only with its security token, signed.
        if let Some(want) = access.as_deref().and_then(|ak| emu.security_token_for(ak)) {
            let signed = sign::parse_authorization(authz)
                .map(|a| a.signed_headers.iter().any(|h| h == "x-security-token"))
                .unwrap_or(false);
            if !signed || header("x-security-token") != Some(want.expose()) {
                return gateway_err(
                    401,
                    "APIG.0301",
                    "Incorrect IAM authentication information: the security token is missing, unsigned or invalid",
                );
            }
        }
    }

    // Injected faults: the plan, then this request's header.
    let mut actions = emu
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .on_request(&path);
    let mut header_job_faults = JobFaults::default();
    if let Some(h) = header(FAULT_HEADER) {
        match faults::parse_header(h) {
            Ok((a, j)) => {
                actions.extend(a);
                header_job_faults = j;
            }
            Err(e) => {
                return err(
                    400,
                    "DRS.M00007",
                    format!("Invalid request parameter. ({FAULT_HEADER}: {e})"),
                )
            }
        }
    }
    for a in &actions {
        if let RequestAction::Delay(ms) = a {
            tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
        }
    }
    for a in &actions {
        if let RequestAction::Fail(k) = a {
            return match k {
                RequestFaultKind::Error500 => err(500, "DRS.M00004", "Service is abnormal."),
                RequestFaultKind::Error503 => err(503, "DRS.M00004", "Service is abnormal."),
                RequestFaultKind::Throttle429 => throttled(),
                RequestFaultKind::Slow => continue,
            };
        }
    }
    if !emu.admit() {
        return throttled();
    }

    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let pre = native_pre(&emu, &method, &segs, &body).await;
    route(
        &emu,
        &method,
        &segs,
        &query,
        &body,
        &header_job_faults,
        &pre,
    )
}

/// What native mode did against the servers before the (synchronous) route runs: refusals by
/// (job id, what) where what is `so`/`ta` (connection test), `pause` or `source-writes`.
#[derive(Default)]
struct NativePre {
    refusals: std::collections::HashMap<(String, String), Refusal>,
}

impl NativePre {
    fn refusal(&self, job: &str, what: &str) -> Option<Refusal> {
        self.refusals
            .get(&(job.to_string(), what.to_string()))
            .cloned()
    }
}

/// The native job of `id` in one of `states`, cloned out of the lock for I/O.
fn native_in(emu: &Emulator, id: &str, states: &[JobStatus]) -> Option<native::NativeJob> {
    let st = emu.lock();
    let j = st.jobs.get(id)?;
    if !states.contains(&j.status) {
        return None;
    }
    j.native.as_deref().cloned()
}

/// Native mode's I/O for the calls that act on the databases at once: real connection tests,
/// pause (the subscription is disabled and its workers gone before DRS answers), and the
/// source-writes switch (a real drain). Bodies that do not parse are left to the route.
async fn native_pre(emu: &Arc<Emulator>, method: &Method, segs: &[&str], body: &[u8]) -> NativePre {
    let mut pre = NativePre::default();
    if !emu.native {
        return pre;
    }
    let pid_ok = |pid: &str| pid == emu.project_id;
    match (method.as_str(), segs) {
        ("POST", ["v3", pid, "jobs", "batch-connection"]) if pid_ok(pid) => {
            // A body the route refuses connects to nothing.
            let Ok(req) = parse_checked::<Jobs<TestEndPoint>>(body, &CONNECTION) else {
                return pre;
            };
            for t in req.jobs.iter().take(BATCH_MAX) {
                if native_in(emu, &t.id, &[JobStatus::Configuration]).is_none() {
                    continue;
                }
                if let Err(r) = native::test_connection(t).await {
                    pre.refusals
                        .insert((t.id.clone(), t.end_point_type.clone()), r);
                }
            }
        }
        ("POST", ["v3", pid, "jobs", "batch-pause-task"]) if pid_ok(pid) => {
            let Ok(req) = serde_json::from_slice::<Jobs<PauseReq>>(body) else {
                return pre;
            };
            let pausable = [
                JobStatus::FullTransferStarted,
                JobStatus::FullTransferComplete,
                JobStatus::IncreTransferStarted,
                JobStatus::FullTransferFailed,
                JobStatus::IncreTransferFailed,
            ];
            for p in req.jobs.iter().take(BATCH_MAX) {
                let Some(nj) = native_in(emu, &p.job_id, &pausable) else {
                    continue;
                };
                if let Err((_, msg)) = native::pause(&nj).await {
                    pre.refusals.insert(
                        (p.job_id.clone(), "pause".into()),
                        Refusal {
                            code: "DRS.M01504",
                            msg: format!("Another operation is being performed on the migration task or the migration task is abnormal. (pausing replication failed: {msg})"),
                        },
                    );
                }
            }
        }
        ("POST", ["wavedeck-emulator", "v1", pid, "jobs", job, "source-writes"]) if pid_ok(pid) => {
            let Ok(req) = serde_json::from_slice::<SourceWritesReq>(body) else {
                return pre;
            };
            let Some(nj) = emu
                .lock()
                .jobs
                .get(*job)
                .and_then(|j| j.native.as_deref().cloned())
            else {
                return pre;
            };
            match native::source_writes(&nj, req.active, emu.drain_grace).await {
                Ok(detail) => {
                    tracing::info!(job = %job, active = req.active, detail = %detail, "native source writes switched");
                }
                Err((_, msg)) => {
                    pre.refusals.insert(
                        (job.to_string(), "source-writes".into()),
                        Refusal {
                            code: "DRS.M00004",
                            msg: format!("Service is abnormal. (switching writes at the source failed: {msg})"),
                        },
                    );
                }
            }
        }
        _ => {}
    }
    pre
}

fn throttled() -> Response {
    gateway_err(
        429,
        "APIG.0308",
        "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 second",
    )
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        err(
            400,
            "DRS.M00007",
            format!("Invalid request parameter. ({e})"),
        )
    })
}

/// The mandatory fields of one call's body, as the SDK's request models have them (Python SDK
/// huaweicloudsdkdrs 3.1.219, `huaweicloudsdkdrs/v3/model/`: a field the model's `__init__`
/// sets unconditionally is mandatory; the Go SDK's models mark the same ones without
/// `omitempty`).
struct Mandatory {
    /// Keys of the body itself.
    body: &'static [&'static str],
    /// The body's list of items (`jobs`, `compare_object`) and the keys each item must carry.
    items: Option<(&'static str, &'static [&'static str])>,
}

/// `query_jobs_req.py`.
const LIST: Mandatory = Mandatory {
    body: &["db_use_type"],
    items: None,
};
/// `batch_create_job_req.py`, `create_job_req.py`.
const CREATE: Mandatory = Mandatory {
    body: &["jobs"],
    items: Some((
        "jobs",
        &[
            "db_use_type",
            "name",
            "engine_type",
            "job_direction",
            "net_type",
            "node_type",
            "source_endpoint",
            "target_endpoint",
            "task_type",
            "customize_sutnet_id",
        ],
    )),
};
/// `batch_test_connection_req.py`, `test_end_point.py`.
const CONNECTION: Mandatory = Mandatory {
    body: &["jobs"],
    items: Some((
        "jobs",
        &[
            "id",
            "net_type",
            "db_type",
            "ip",
            "db_user",
            "db_password",
            "end_point_type",
        ],
    )),
};
/// `modify_job_req.py` (and `update_database_object_req.py`, `start_info.py`,
/// `retry_info.py`): only the job id; what a modify after the connection test needs besides
/// is `check_modify`'s.
const JOB_ID_ITEMS: Mandatory = Mandatory {
    body: &["jobs"],
    items: Some(("jobs", &["job_id"])),
};
/// `pre_check_info.py`.
const PRECHECK: Mandatory = Mandatory {
    body: &["jobs"],
    items: Some(("jobs", &["job_id", "precheck_mode"])),
};
/// `pause_info.py`.
const PAUSE: Mandatory = Mandatory {
    body: &["jobs"],
    items: Some(("jobs", &["job_id", "pause_mode"])),
};
/// `delete_job_req.py`.
const DELETE: Mandatory = Mandatory {
    body: &["jobs"],
    items: Some(("jobs", &["delete_type", "job_id"])),
};
/// Bodies that are a list of job (or pre-check) ids: `batch_query_job_req_page.py`,
/// `batch_query_progress_req.py`, `batch_query_precheck_result_req.py`,
/// `batch_switchover_req.py`.
const IDS: Mandatory = Mandatory {
    body: &["jobs"],
    items: None,
};
/// `create_data_level_table_compare_job_req.py` (`type`), `compare_object_info.py`
/// (`db_name`).
const TABLE_COMPARE: Mandatory = Mandatory {
    body: &["type"],
    items: Some(("compare_object", &["db_name"])),
};

/// Whether a mandatory field counts as left out: absent, null, or an empty string ("The
/// parameter … is empty"). A password may be the empty string: the lab's servers trust
/// loopback and have none (whether DRS takes "" is UNCONFIRMED; it is present, as the SDK
/// requires).
fn left_out(field: &str, v: Option<&serde_json::Value>) -> bool {
    match v {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::String(s)) => field != "db_password" && s.trim().is_empty(),
        Some(_) => false,
    }
}

/// The first mandatory field `v` leaves out, if any.
fn first_missing(v: &serde_json::Value, m: &Mandatory) -> Option<&'static str> {
    if let Some(f) = m.body.iter().find(|f| left_out(f, v.get(**f))) {
        return Some(f);
    }
    let (list, keys) = m.items?;
    let items = v.get(list).and_then(|l| l.as_array());
    items
        .into_iter()
        .flatten()
        .find_map(|item| keys.iter().find(|f| left_out(f, item.get(**f))).copied())
}

/// A body that must carry `m`'s mandatory fields: a missing one is DRS's 400 `DRS.M00201`
/// naming it (for the whole call), not a parse error.
fn parse_checked<T: DeserializeOwned>(body: &[u8], m: &Mandatory) -> Result<T, Response> {
    let v: serde_json::Value = parse(body)?;
    if let Some(f) = first_missing(&v, m) {
        return Err(missing(f));
    }
    serde_json::from_value(v).map_err(|e| {
        err(
            400,
            "DRS.M00007",
            format!("Invalid request parameter. ({e})"),
        )
    })
}

fn not_found_api() -> Response {
    gateway_err(
        404,
        "APIG.0101",
        "The API does not exist or has not been published in the environment",
    )
}

fn route(
    emu: &Arc<Emulator>,
    method: &Method,
    segs: &[&str],
    query: &[(String, String)],
    body: &[u8],
    hdr_faults: &JobFaults,
    pre: &NativePre,
) -> Response {
    let r = match segs {
        ["v3", pid, rest @ ..] | ["wavedeck-emulator", "v1", pid, rest @ ..] => {
            if *pid != emu.project_id {
                return err(403, "DRS.M00261", "Invalid project ID.");
            }
            if segs[0] == "wavedeck-emulator" {
                return emulator_route(emu, method, rest, body, pre);
            }
            v3_route(emu, method, rest, query, body, hdr_faults, pre)
        }
        ["v2", "zones", zone, rest @ ..] => dns_route(emu, method, zone, rest, query, body),
        _ => return not_found_api(),
    };
    r.unwrap_or_else(|e| e)
}

type Reply = Result<Response, Response>;

fn v3_route(
    emu: &Arc<Emulator>,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: &[u8],
    hdr_faults: &JobFaults,
    pre: &NativePre,
) -> Reply {
    match (method.as_str(), rest) {
        ("POST", ["jobs"]) => list_jobs(emu, parse_checked(body, &LIST)?),
        ("POST", ["jobs", "batch-creation"]) => {
            create_jobs(emu, parse_checked(body, &CREATE)?, hdr_faults)
        }
        ("POST", ["jobs", "batch-status"]) => batch_status(emu, parse_checked(body, &IDS)?),
        ("POST", ["jobs", "batch-detail"]) => batch_detail(emu, parse_checked(body, &IDS)?),
        ("POST", ["jobs", "batch-progress"]) => batch_progress(emu, parse_checked(body, &IDS)?),
        ("POST", ["jobs", "batch-connection"]) => {
            test_connections(emu, parse_checked(body, &CONNECTION)?, pre)
        }
        ("PUT", ["jobs", "batch-modification"]) => {
            let req: Jobs<ModifyJobReq> = parse_checked(body, &JOB_ID_ITEMS)?;
            let ids: Vec<String> = req.jobs.iter().map(|j| j.job_id.clone()).collect();
            {
                let st = emu.lock();
                if let Some(id) = ids.iter().find(|id| !st.jobs.contains_key(id.as_str())) {
                    return Err(unknown_job(id));
                }
                for m in &req.jobs {
                    let engine = st.jobs.get(&m.job_id).map(|j| j.req.engine_type.as_str());
                    check_modify(m, engine.unwrap_or_default())?;
                }
            }
            let mut by_id: std::collections::HashMap<String, ModifyJobReq> = req
                .jobs
                .into_iter()
                .map(|j| (j.job_id.clone(), j))
                .collect();
            actions(emu, ids, 200, |j, _, _| {
                let Some(m) = by_id.remove(&j.id) else {
                    return Ok(None);
                };
                if m.store_db_info {
                    j.store_db_info()?;
                }
                if let Some(n) = j.native.as_mut() {
                    n.update(m.source_endpoint.as_ref(), m.target_endpoint.as_ref());
                }
                // Keep what the caller saved, never the passwords.
                if let Some(ep) = m.source_endpoint {
                    j.req.source_endpoint = ep.without_password();
                }
                if let Some(ep) = m.target_endpoint {
                    j.req.target_endpoint = ep.without_password();
                }
                if let Some(d) = m.description {
                    j.req.description = Some(d);
                }
                Ok(None)
            })
        }
        ("PUT", ["jobs", "batch-select-objects"]) => {
            select_objects(emu, parse_checked(body, &JOB_ID_ITEMS)?)
        }
        ("POST", ["jobs", "batch-precheck"]) => {
            let req: Jobs<PrecheckReq> = parse_checked(body, &PRECHECK)?;
            let ids = req.jobs.iter().map(|j| j.job_id.clone()).collect();
            actions(emu, ids, 200, |j, now, _| {
                j.precheck(now).map(|_| Some(j.id.clone()))
            })
        }
        ("POST", ["jobs", "batch-precheck-result"]) => {
            precheck_results(emu, parse_checked(body, &IDS)?)
        }
        ("POST", ["jobs", "batch-starting"]) => {
            let req: Jobs<StartReq> = parse_checked(body, &JOB_ID_ITEMS)?;
            let ids: Vec<String> = req.jobs.iter().map(|j| j.job_id.clone()).collect();
            let r = actions(emu, ids.clone(), 202, |j, now, _| {
                j.start(now).map(|_| None)
            });
            native::kick(emu, &ids);
            r
        }
        ("POST", ["jobs", "batch-pause-task"]) => {
            let req: Jobs<PauseReq> = parse_checked(body, &PAUSE)?;
            let ids = req.jobs.iter().map(|j| j.job_id.clone()).collect();
            actions(emu, ids, 200, |j, now, bw| {
                if let Some(r) = pre.refusal(&j.id, "pause") {
                    return Err(r);
                }
                j.pause(now, bw).map(|_| None)
            })
        }
        ("POST", ["jobs", "batch-retry-task"]) => {
            let req: Jobs<RetryReq> = parse_checked(body, &JOB_ID_ITEMS)?;
            let ids: Vec<String> = req.jobs.iter().map(|j| j.job_id.clone()).collect();
            let r = actions(emu, ids.clone(), 200, |j, now, _| {
                j.resume(now).map(|_| None)
            });
            native::kick(emu, &ids);
            r
        }
        ("DELETE", ["jobs", "batch-jobs"]) => {
            let req: Jobs<DeleteJobReq> = parse_checked(body, &DELETE)?;
            let ids: Vec<String> = req.jobs.iter().map(|j| j.job_id.clone()).collect();
            let r = delete_jobs(emu, req);
            native::kick(emu, &ids);
            r
        }
        ("POST", ["jobs", "batch-switchover"]) => switchover(emu, parse_checked(body, &IDS)?),
        ("GET", ["quotas"]) => quotas(emu),
        // RDS v3 and VPC v3 reads (the exposure pre-check), from the fault plan's `rds` rules.
        ("GET", ["backups"]) => super::rds_restore::list_backups(emu, query)
            .map(|r| json(200, &r))
            .map_err(|(s, c, m)| err(s, c, m)),
        ("POST", ["instances"]) => super::rds_restore::restore(emu, body)
            .map(|r| json(202, &r))
            .map_err(|(s, c, m)| err(s, c, m)),
        ("DELETE", ["instances", id]) => super::rds_restore::delete(emu, id)
            .map(|r| json(202, &r))
            .map_err(|(s, c, m)| err(s, c, m)),
        ("GET", ["instances"]) => super::rds_restore::list_restored(emu, query)
            .unwrap_or_else(|| {
                let plan = emu
                    .faults
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .plan
                    .clone();
                super::cloud::list_instances(&plan, query)
            })
            .map(|r| json(200, &r))
            .map_err(|(s, c, m)| err(s, c, m)),
        ("GET", ["vpc", "security-group-rules"]) => {
            let plan = emu
                .faults
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .plan
                .clone();
            super::cloud::list_rules(&plan, query, &emu.project_id)
                .map(|r| json(200, &r))
                .map_err(|(s, c, m)| err(s, c, m))
        }
        ("POST", ["jobs", job, "object", "compare"]) => create_compare(emu, job, "object", &[]),
        ("GET", ["jobs", job, "object", "compare"]) => object_overview(emu, job),
        ("POST", ["jobs", job, "table", "compare"]) => {
            let req: CreateTableCompareReq = parse_checked(body, &TABLE_COMPARE)?;
            if req.kind != "lines" && req.kind != "contents" {
                return Err(err(
                    400,
                    "DRS.M00202",
                    "The value of parameter type is invalid.",
                ));
            }
            // `create_data_level_table_compare_job_req.py` compare_mode: without
            // quick_comparison the objects must be named.
            if req.compare_mode.as_deref() != Some(QUICK_COMPARISON)
                && req.compare_object.is_empty()
            {
                return Err(missing("compare_object"));
            }
            if req
                .compare_mode
                .as_deref()
                .is_some_and(|m| m != QUICK_COMPARISON)
            {
                return Err(invalid("compare_mode"));
            }
            create_compare(emu, job, &req.kind, &req.compare_object)
        }
        ("GET", ["jobs", job, "table", "compare"]) => list_compares(emu, job),
        ("DELETE", ["jobs", job, "compare", cid]) => cancel_compare(emu, job, cid),
        ("GET", ["jobs", job, "compare", cid, view]) => compare_view(emu, job, cid, view, query),
        _ => Err(not_found_api()),
    }
}

fn emulator_route(
    emu: &Emulator,
    method: &Method,
    rest: &[&str],
    body: &[u8],
    pre: &NativePre,
) -> Response {
    match (method.as_str(), rest) {
        ("POST", ["jobs", job, "source-writes"]) => {
            if let Some(r) = pre.refusal(job, "source-writes") {
                return err(422, r.code, r.msg);
            }
            let req: SourceWritesReq = match parse(body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            let now = emu.clock.now();
            let mut st = emu.lock();
            match st.jobs.get_mut(*job) {
                Some(j) => {
                    j.advance(now, emu.bandwidth_mbps);
                    j.set_source_writes(req.active, now);
                    empty(204)
                }
                None => err(400, "DRS.M00289", format!("job {job} does not exist")),
            }
        }
        _ => not_found_api(),
    }
}

fn check_batch<T>(jobs: &[T]) -> Result<(), Response> {
    if jobs.is_empty() {
        return Err(err(400, "DRS.M00201", "The parameter jobs is empty."));
    }
    if jobs.len() > BATCH_MAX {
        return Err(err(
            400,
            "DRS.M00300",
            format!("Invalid request, at most {BATCH_MAX} jobs per batch call"),
        ));
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    (4..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn new_job_id() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:07x}jb{:03x}",
        rng.gen::<u32>(),
        rng.gen::<u16>(),
        rng.gen::<u16>(),
        rng.gen::<u16>(),
        rng.gen::<u32>() & 0x0fff_ffff,
        rng.gen::<u16>() & 0x0fff
    )
}

fn create_jobs(emu: &Emulator, req: Jobs<CreateJobReq>, hdr: &JobFaults) -> Reply {
    check_batch(&req.jobs)?;
    for r in &req.jobs {
        check_create(r)?;
    }
    let now = emu.clock.now();
    let plan = emu
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .plan
        .clone();
    let mut st = emu.lock();
    for j in st.jobs.values_mut() {
        j.advance(now, emu.bandwidth_mbps);
    }
    // Names are case-insensitive in DRS (`create_job_req.py` name: "不区分大小写"). A name
    // taken, or given twice, refuses the whole call: HTTP 422 DRS.M00277 (OTC error_code.rst).
    let mut names = std::collections::HashSet::new();
    if let Some(r) = req.jobs.iter().find(|r| {
        let n = r.name.to_lowercase();
        st.by_name.contains_key(&n) || !names.insert(n)
    }) {
        return Err(err(
            422,
            "DRS.M00277",
            format!("The task name already exists. ({})", r.name),
        ));
    }
    let mut active = st.jobs.values().filter(|j| j.holds_quota()).count();
    let mut results = Vec::with_capacity(req.jobs.len());
    for mut r in req.jobs {
        let fail = |code: &str, msg: String| CreateJobResult {
            name: r.name.clone(),
            error_code: Some(code.to_string()),
            error_msg: Some(msg),
            ..Default::default()
        };
        if !valid_name(&r.name) {
            results.push(fail(
                "DRS.M00202",
                "The value of parameter name is invalid.".into(),
            ));
            continue;
        }
        if active >= emu.quota as usize {
            results.push(fail(
                "DRS.M05066",
                format!(
                    "Failed to create instance! The DRS task quota is used up ({active}/{}); stop or delete finished tasks or raise the quota.",
                    emu.quota
                ),
            ));
            continue;
        }
        let size_mb = r
            .tags
            .iter()
            .find(|t| t.key == TAG_SIZE_MB)
            .and_then(|t| t.value.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(DEFAULT_SIZE_MB);
        // Native mode keeps the passwords inside the job's database sides (to connect, as DRS
        // does); the request itself is stored without them either way.
        let native_job = if emu.native {
            match native::new_job(&r) {
                Ok(n) => Some(Box::new(n)),
                Err(refusal) => {
                    results.push(fail(refusal.code, refusal.msg));
                    continue;
                }
            }
        } else {
            None
        };
        r.source_endpoint = r.source_endpoint.without_password();
        r.target_endpoint = r.target_endpoint.without_password();
        let faults = faults::merge(plan.job_faults(&r.name), hdr);
        let id = new_job_id();
        st.next_seed += 1;
        let seed = st.next_seed ^ 0x5eed;
        let mut job = Job::new(id.clone(), r, size_mb, seed, now, faults);
        job.native = native_job;
        results.push(CreateJobResult {
            id: id.clone(),
            name: job.req.name.clone(),
            status: Some(JobStatus::Creating),
            create_time: Some(emu.clock.epoch_ms(now).to_string()),
            ..Default::default()
        });
        st.by_name.insert(job.req.name.to_lowercase(), id.clone());
        st.order.push(id.clone());
        st.jobs.insert(id, job);
        active += 1;
    }
    let count = results.len() as u64;
    Ok(json(
        202,
        &Results {
            results,
            count: Some(count),
        },
    ))
}

fn available_actions(s: &JobStatus) -> Vec<String> {
    let a: &[&str] = match s {
        JobStatus::Configuration => &["PRECHECK", "START", "STOP_JOB"],
        JobStatus::FullTransferStarted | JobStatus::IncreTransferStarted => &["PAUSE", "STOP_JOB"],
        JobStatus::FullTransferComplete => &["PAUSE", "STOP_JOB"],
        JobStatus::Pausing => &["RETRY", "STOP_JOB"],
        JobStatus::FullTransferFailed | JobStatus::IncreTransferFailed => {
            &["RETRY", "RESET", "PAUSE", "STOP_JOB"]
        }
        JobStatus::ReleaseResourceFailed => &["STOP_JOB"],
        JobStatus::ReleaseResourceComplete | JobStatus::CreateFailed => &["DELETE"],
        _ => &[],
    };
    a.iter().map(|s| s.to_string()).collect()
}

fn fmt_time(emu: &Emulator, t: f64) -> String {
    chrono::DateTime::from_timestamp_millis(emu.clock.epoch_ms(t))
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn list_jobs(emu: &Emulator, req: ListJobsReq) -> Reply {
    if req.cur_page == 0 || req.per_page == 0 || req.per_page > 1000 {
        return Err(err(
            400,
            "DRS.M00210",
            "The value of Page is invalid, cur_page >= 1 and 1 <= per_page <= 1000",
        ));
    }
    let now = emu.clock.now();
    let ids: Option<Vec<&str>> = req
        .name
        .as_deref()
        .filter(|n| n.contains(','))
        .map(|n| n.split(',').map(str::trim).collect());
    if ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(err(
            400,
            "DRS.M00202",
            "The value of parameter name is invalid. (at most 100 comma-separated job ids)",
        ));
    }
    // DRS's default engine_type is mysql (HW drs_03_0138 "engine_type … 缺省值:mysql"): a list
    // without it shows no PostgreSQL job.
    let engine_type = req
        .engine_type
        .as_deref()
        .filter(|e| !e.is_empty())
        .unwrap_or("mysql");
    let name = req.name.as_deref().map(str::to_lowercase);
    let mut st = emu.lock();
    // Filtered by ids: look those up instead of walking every job of the tenant.
    let order: Vec<String> = match &ids {
        Some(ids) => ids.iter().map(|s| s.to_string()).collect(),
        None => st.order.clone(),
    };
    let mut matched = Vec::new();
    for id in &order {
        let Some(j) = st.jobs.get_mut(id) else {
            continue;
        };
        j.advance(now, emu.bandwidth_mbps);
        if j.status == JobStatus::Deleted || j.req.db_use_type != req.db_use_type {
            continue;
        }
        if j.req.engine_type != engine_type {
            continue;
        }
        if req
            .status
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != j.status.as_str())
        {
            continue;
        }
        match (&ids, name.as_deref()) {
            (Some(ids), _) if !ids.contains(&j.id.as_str()) => continue,
            (None, Some(n))
                if !n.is_empty() && !j.req.name.to_lowercase().contains(n) && j.id != n =>
            {
                continue
            }
            _ => {}
        }
        matched.push(id.clone());
    }
    let total = matched.len() as u64;
    let start = ((req.cur_page - 1) as usize).saturating_mul(req.per_page as usize);
    let jobs = matched
        .iter()
        .skip(start)
        .take(req.per_page as usize)
        .filter_map(|id| st.jobs.get(id))
        .map(|j| JobInfo {
            id: j.id.clone(),
            name: j.req.name.clone(),
            status: j.status.clone(),
            create_time: fmt_time(emu, j.created_at),
            description: j.req.description.clone().unwrap_or_default(),
            engine_type: j.req.engine_type.clone(),
            net_type: j.req.net_type.clone(),
            job_direction: j.req.job_direction.clone(),
            db_use_type: j.req.db_use_type.clone(),
            task_type: j.req.task_type.clone(),
            job_action: Some(JobAction {
                available_actions: available_actions(&j.status),
                unavailable_actions: vec![],
                current_action: None,
            }),
            error_msg: j.error.as_ref().map(|e| e.1.clone()),
        })
        .collect();
    Ok(json(
        200,
        &ListJobsResp {
            total_record: total,
            jobs,
        },
    ))
}

/// Advance the named jobs and call `f` on each. An unknown id fails the whole call, as DRS
/// answers it: HTTP 400 with `DRS.M00289` in `results[0]` (Terraform's provider reads it so:
/// `ConvertExpected400ErrInto404Err(err, "results[0].error_code", "DRS.M00289")`), so `f`
/// only ever sees jobs that exist.
fn with_jobs<R>(
    emu: &Emulator,
    ids: &[String],
    mut f: impl FnMut(&mut Job, &str, f64) -> R,
) -> Result<Vec<R>, Response> {
    let now = emu.clock.now();
    let mut st = emu.lock();
    if let Some(id) = ids.iter().find(|id| !st.jobs.contains_key(id.as_str())) {
        return Err(unknown_job(id));
    }
    Ok(ids
        .iter()
        .map(|id| {
            let j = st.jobs.get_mut(id).expect("every id was found above");
            j.advance(now, emu.bandwidth_mbps);
            f(j, id, now)
        })
        .collect())
}

/// The whole-call answer to a batch naming a job DRS does not know.
fn unknown_job(id: &str) -> Response {
    let (code, msg) = not_exist(id);
    json(
        400,
        &serde_json::json!({
            "results": [{"id": id, "error_code": code, "error_msg": msg}],
            "count": 1
        }),
    )
}

/// A mandatory field left out: 400 `DRS.M00201` for the whole call (OTC error_code.rst).
fn missing(field: &str) -> Response {
    err(
        400,
        "DRS.M00201",
        format!("The parameter {field} is empty."),
    )
}

/// A field given with a value DRS refuses: 400 `DRS.M00202` for the whole call.
fn invalid(field: &str) -> Response {
    err(
        400,
        "DRS.M00202",
        format!("The value of parameter {field} is invalid."),
    )
}

/// Refuse a create item the way DRS validates a request, before any job is made: the
/// mandatory fields of `create_job_req.py`, `bind_eip` for an EIP network, tags and the
/// description as `resource_tag.py` / `create_job_req.py` state them.
fn check_create(r: &CreateJobReq) -> Result<(), Response> {
    // The mandatory fields themselves are CREATE's (parse_checked), customize_sutnet_id
    // among them: the emulator has no VPC to check the subnet against, but it must be named.
    if r.net_type == "eip" && r.bind_eip != Some(true) {
        return Err(missing("bind_eip"));
    }
    // The migration modes of `model_create_job_req.go` (task_type): full load only, full load
    // then incremental, incremental only. An offline migration is a FULL_TRANS job.
    if !["FULL_TRANS", "FULL_INCR_TRANS", "INCR_TRANS"].contains(&r.task_type.as_str()) {
        return Err(invalid("task_type"));
    }
    if let Some(d) = &r.description {
        if d.chars().count() > 256 || d.chars().any(|c| "!<>&'\"\\".contains(c)) {
            return Err(invalid("description"));
        }
    }
    for t in &r.tags {
        let key_ok = !t.key.is_empty()
            && t.key.chars().count() <= 36
            && t.key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        // Which of DRS.M00269–M00273 names which tag fault is not documented per code
        // (DRS API reference, "Error Codes", drs_05_0004); M00270 for the key and M00271 for the
        // value.
        if !key_ok {
            return Err(err(
                400,
                "DRS.M00270",
                format!("Invalid tag key {:?}.", t.key),
            ));
        }
        if !crate::drs::api::valid_tag_value(&t.value) {
            return Err(err(
                400,
                "DRS.M00271",
                format!(
                    "Invalid tag value {:?}: at most 43 letters, digits, '_' or '-'.",
                    t.value
                ),
            ));
        }
    }
    Ok(())
}

/// A modify after the connection test (`store_db_info: true`) must carry what
/// `modify_job_req.py` marks "测试连接之后修改调用时必填": node_type, engine_type, net_type,
/// job_direction, and replace_definer for MySQL.
fn check_modify(m: &ModifyJobReq, engine_type: &str) -> Result<(), Response> {
    if !m.store_db_info {
        return Ok(());
    }
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    for (f, v) in [
        ("node_type", &m.node_type),
        ("engine_type", &m.engine_type),
        ("net_type", &m.net_type),
        ("job_direction", &m.job_direction),
    ] {
        if !given(v) {
            return Err(missing(f));
        }
    }
    if engine_type == "mysql" && m.replace_definer.is_none() {
        return Err(missing("replace_definer"));
    }
    Ok(())
}

fn not_exist(id: &str) -> (String, String) {
    ("DRS.M00289".into(), format!("job {id} does not exist"))
}

fn page<T>(items: Vec<T>, page_req: Option<PageReq>) -> Vec<T> {
    // DRS pages batch-status/detail answers; without page_req it shows 5 per page.
    let p = page_req.unwrap_or(PageReq {
        cur_page: 1,
        per_page: 5,
    });
    if p.per_page == 0 {
        return items;
    }
    let start = (p.cur_page.max(1) as usize - 1) * p.per_page as usize;
    items
        .into_iter()
        .skip(start)
        .take(p.per_page as usize)
        .collect()
}

fn batch_status(emu: &Emulator, req: Jobs<String>) -> Reply {
    check_batch(&req.jobs)?;
    let results = with_jobs(emu, &req.jobs, |j, id, _| JobStatusResult {
        id: id.to_string(),
        status: Some(j.status.clone()),
        error_code: j
            .error
            .as_ref()
            .map(|e| e.0.clone())
            .filter(|c| !c.is_empty()),
        error_message: j.error.as_ref().map(|e| e.1.clone()),
    })?;
    let count = results.len() as u64;
    Ok(json(
        200,
        &Results {
            results: page(results, req.page_req),
            count: Some(count),
        },
    ))
}

fn batch_detail(emu: &Emulator, req: Jobs<String>) -> Reply {
    check_batch(&req.jobs)?;
    let mut deleted = None;
    let results = with_jobs(emu, &req.jobs, |j, id, now| match j {
        j if j.status != JobStatus::Deleted => JobDetail {
            id: j.id.clone(),
            name: j.req.name.clone(),
            status: Some(j.status.clone()),
            description: j.req.description.clone().unwrap_or_default(),
            create_time: emu.clock.epoch_ms(j.created_at).to_string(),
            task_type: j.req.task_type.clone(),
            source_endpoint: Some(j.req.source_endpoint.clone()),
            target_endpoint: Some(j.req.target_endpoint.clone()),
            net_type: j.req.net_type.clone(),
            failed_reason: j.error.as_ref().map(|e| e.1.clone()),
            actual_start_time: j.started_at.map(|t| emu.clock.epoch_ms(t).to_string()),
            full_transfer_complete_time: j
                .full_complete_at
                .map(|t| emu.clock.epoch_ms(t).to_string()),
            update_time: Some(emu.clock.epoch_ms(j.updated_at.min(now)).to_string()),
            job_direction: j.req.job_direction.clone(),
            db_use_type: j.req.db_use_type.clone(),
            // Read-only is lifted when the job is stopped, as DRS does.
            is_target_readonly: Some(
                j.req.is_target_readonly.unwrap_or(true)
                    && j.status != JobStatus::ReleaseResourceComplete,
            ),
            tags: j.req.tags.clone(),
            inst_info: Some(inst_info(j)),
            error_code: j
                .error
                .as_ref()
                .map(|e| e.0.clone())
                .filter(|c| !c.is_empty()),
            error_message: j.error.as_ref().map(|e| e.1.clone()),
        },
        _ => {
            deleted = Some(id.to_string());
            JobDetail::default()
        }
    })?;
    if let Some(id) = deleted {
        // Like DRS: a deleted job fails the whole call with 400 and the code in results[0].
        let item = JobDetail {
            id,
            error_code: Some("DRS.M05004".into()),
            error_message: Some(
                "The task has been deleted or the resource has been released.".into(),
            ),
            ..Default::default()
        };
        return Err(json(
            400,
            &Results {
                results: vec![item],
                count: Some(1),
            },
        ));
    }
    let count = results.len() as u64;
    Ok(json(
        200,
        &Results {
            results: page(results, req.page_req),
            count: Some(count),
        },
    ))
}

/// A job's replication instance as batch-detail shows it (`inst_info.py`): a private
/// address in the emulated subnet, a public one (from a documentation range) only with an
/// EIP, `deleted` once the job is released. No `start_time`: that is a scheduled start, and
/// wavedeck schedules none.
fn inst_info(j: &Job) -> InstInfo {
    // Stable per job: two bytes of its seed.
    let (a, b) = ((j.seed >> 8) as u8, (j.seed as u8).max(2));
    InstInfo {
        engine_type: Some(j.req.engine_type.clone()),
        // create_job_req.py node_type micro…2xlarge / high; inst_info.py inst_type
        // common/high/ultrahigh.
        inst_type: Some(
            match j.req.node_type.as_str() {
                "high" | "xlarge" | "2xlarge" => "high",
                "ultrahigh" => "ultrahigh",
                _ => "common",
            }
            .into(),
        ),
        ip: Some(format!("192.168.{a}.{b}")),
        public_ip: (j.req.net_type == "eip" || j.faults.eip_bound)
            .then(|| format!("198.51.100.{b}")),
        start_time: None,
        status: Some(
            if j.status.is_finished() {
                "deleted"
            } else {
                "active"
            }
            .into(),
        ),
        volume_size: Some(100),
    }
}

fn batch_progress(emu: &Emulator, req: Jobs<String>) -> Reply {
    check_batch(&req.jobs)?;
    let bw = emu.bandwidth_mbps;
    let results = with_jobs(emu, &req.jobs, |j, id, now| match j {
        j if j.native.is_some() => native_progress(emu, j, now),
        j => {
            let lag = j.lag_s(now);
            let pct = j.full_pct(now, bw);
            let in_full = j.status == JobStatus::FullTransferStarted;
            let remaining = if in_full {
                format!("{}", j.remaining_s(now, bw).ceil() as u64)
            } else {
                "0".to_string()
            };
            ProgressResult {
                job_id: id.to_string(),
                progress: Some(format!("{}", pct.floor() as u32)),
                incre_trans_delay: Some(match lag {
                    Some(l) => format!("{}", l.floor() as u64),
                    None => "-1".into(),
                }),
                incre_trans_delay_millis: Some(match lag {
                    Some(l) => format!("{}", (l * 1000.0).round() as u64),
                    None => "-1".into(),
                }),
                task_mode: Some(j.req.task_type.clone()),
                transfer_status: Some(j.status.clone()),
                process_time: Some(emu.clock.epoch_ms(now).to_string()),
                remaining_time: Some(remaining.clone()),
                // query_progress_resp.py progress_map: per part of the job ("data" for the
                // full load), `completed` as a percent string ("94%", progress_info.py).
                progress_map: Some(
                    [(
                        "data".to_string(),
                        ProgressMapItem {
                            completed: Some(format!("{}%", pct.floor() as u32)),
                            remaining_time: Some(remaining),
                        },
                    )]
                    .into_iter()
                    .collect(),
                ),
                error_code: j
                    .error
                    .as_ref()
                    .map(|e| e.0.clone())
                    .filter(|c| !c.is_empty()),
                error_msg: j.error.as_ref().map(|e| e.1.clone()),
            }
        }
    })?;
    let count = results.len() as u64;
    Ok(json(
        202,
        &Results {
            results,
            count: Some(count),
        },
    ))
}

/// A native job's batch-progress item: everything from the last sample of its servers.
fn native_progress(emu: &Emulator, j: &Job, now: f64) -> ProgressResult {
    let obs = j.native.as_ref().and_then(|n| n.obs.as_ref());
    let streaming = j.status == JobStatus::IncreTransferStarted;
    // A full-load-only job rests in FULL_TRANSFER_COMPLETE with its copy stopped: 100 %.
    let loaded = j.status == JobStatus::FullTransferComplete;
    let pct = match obs {
        _ if loaded => 100.0,
        Some(o) => o.full_pct(),
        None => 0.0,
    };
    let delay_ms = obs.and_then(|o| o.delay_ms()).filter(|_| streaming);
    let completed = format!("{}%", pct.floor() as u32);
    ProgressResult {
        job_id: j.id.clone(),
        progress: Some(format!("{}", pct.floor() as u32)),
        incre_trans_delay: Some(match delay_ms {
            Some(ms) => format!("{}", ms / 1000),
            None => "-1".into(),
        }),
        incre_trans_delay_millis: Some(match delay_ms {
            Some(ms) => format!("{ms}"),
            None => "-1".into(),
        }),
        task_mode: Some(j.req.task_type.clone()),
        transfer_status: Some(j.status.clone()),
        process_time: Some(
            obs.map(|o| o.at_ms)
                .unwrap_or_else(|| emu.clock.epoch_ms(now))
                .to_string(),
        ),
        remaining_time: Some(format!(
            "{}",
            obs.filter(|_| !loaded)
                .map(|o| o.remaining_s())
                .unwrap_or(0.0)
                .ceil() as u64
        )),
        progress_map: Some(
            [(
                "data".to_string(),
                ProgressMapItem {
                    completed: Some(completed),
                    remaining_time: None,
                },
            )]
            .into_iter()
            .collect(),
        ),
        error_code: j
            .error
            .as_ref()
            .map(|e| e.0.clone())
            .filter(|c| !c.is_empty()),
        error_msg: j.error.as_ref().map(|e| e.1.clone()),
    }
}

/// Run an action on each job; per-item success or failure inside a 2xx.
fn actions(
    emu: &Emulator,
    ids: Vec<String>,
    status: u16,
    mut f: impl FnMut(&mut Job, f64, f64) -> Result<Option<String>, Refusal>,
) -> Reply {
    check_batch(&ids)?;
    let bw = emu.bandwidth_mbps;
    let results = with_jobs(emu, &ids, |j, id, now| {
        let outcome = if j.status == JobStatus::Deleted {
            Err(Refusal {
                code: "DRS.M05004",
                msg: "The task has been deleted or the resource has been released.".into(),
            })
        } else {
            f(j, now, bw)
        };
        match outcome {
            Ok(precheck_id) => ActionResult {
                id: id.to_string(),
                status: "success".into(),
                precheck_id,
                ..Default::default()
            },
            Err(r) => ActionResult {
                id: id.to_string(),
                status: "failed".into(),
                error_code: Some(r.code.to_string()),
                error_msg: Some(r.msg),
                ..Default::default()
            },
        }
    })?;
    let count = results.len() as u64;
    Ok(json(
        status,
        &Results {
            results,
            count: Some(count),
        },
    ))
}

fn delete_jobs(emu: &Emulator, req: Jobs<DeleteJobReq>) -> Reply {
    check_batch(&req.jobs)?;
    for r in &req.jobs {
        if !matches!(
            r.delete_type.as_str(),
            "terminate" | "force_terminate" | "delete"
        ) {
            return Err(err(
                400,
                "DRS.M00202",
                "The value of parameter delete_type is invalid.",
            ));
        }
    }
    let types: std::collections::HashMap<String, String> = req
        .jobs
        .iter()
        .map(|r| (r.job_id.clone(), r.delete_type.clone()))
        .collect();
    let ids: Vec<String> = req.jobs.iter().map(|r| r.job_id.clone()).collect();
    let mut deleted_names = Vec::new();
    let reply = actions(emu, ids, 202, |j, now, _| {
        match types.get(&j.id).map(String::as_str) {
            Some("delete") => {
                j.delete(now)?;
                deleted_names.push(j.req.name.clone());
                Ok(None)
            }
            _ => j.terminate(now).map(|_| None),
        }
    });
    if !deleted_names.is_empty() {
        let mut st = emu.lock();
        for n in deleted_names {
            st.by_name.remove(&n.to_lowercase());
        }
    }
    reply
}

fn switchover(emu: &Emulator, req: Jobs<String>) -> Reply {
    check_batch(&req.jobs)?;
    let results = with_jobs(emu, &req.jobs, |j, id, _| {
        // Only disaster-recovery jobs swap roles; a migration's cutover is terminate.
        let (code, msg) = if j.req.db_use_type == "cloudDataGuard" {
            (None, None)
        } else {
            (
                Some("DRS.M00304".to_string()),
                Some("This API cannot be called in the current task status. (switchover applies to disaster-recovery tasks only)".to_string()),
            )
        };
        SwitchoverResult {
            job_id: id.to_string(),
            error_code: code,
            error_msg: msg,
            ..Default::default()
        }
    })?;
    let count = results.len() as u64;
    Ok(json(
        200,
        &Results {
            results,
            count: Some(count),
        },
    ))
}

fn quotas(emu: &Emulator) -> Reply {
    let now = emu.clock.now();
    let mut st = emu.lock();
    let mut used = 0;
    for j in st.jobs.values_mut() {
        j.advance(now, emu.bandwidth_mbps);
        if j.holds_quota() {
            used += 1;
        }
    }
    Ok(json(
        200,
        &QuotasResp {
            quotas: Quotas {
                resources: vec![QuotaResource {
                    kind: "instances".into(),
                    used,
                    quota: i64::from(emu.quota),
                    min: 0,
                    max: i64::from(emu.quota),
                }],
            },
        },
    ))
}

// ---------- data comparison ----------

/// Compare tasks take this long (emulated seconds) plus size / 5 MB/s for contents.
const COMPARE_BASE_S: f64 = 30.0;
const CONTENT_MBPS: f64 = 5.0;

fn job_for_compare<'a>(
    st: &'a mut super::State,
    job: &str,
    now: f64,
    bw: f64,
) -> Result<&'a mut Job, Response> {
    let j = st
        .jobs
        .get_mut(job)
        .ok_or_else(|| err(400, "DRS.M00289", format!("job {job} does not exist")))?;
    j.advance(now, bw);
    Ok(j)
}

fn create_compare(emu: &Emulator, job: &str, kind: &str, objects: &[CompareObject]) -> Reply {
    let now = emu.clock.now();
    let mut st = emu.lock();
    let j = job_for_compare(&mut st, job, now, emu.bandwidth_mbps)?;
    // DRS compares during the incremental phase, and a full-load-only job (FULL_TRANS, an
    // offline migration) once its load is complete: the state it rests in (research §3).
    let loaded = j.req.task_type == "FULL_TRANS" && j.status == JobStatus::FullTransferComplete;
    if j.status != JobStatus::IncreTransferStarted && !loaded {
        return Err(err(
            400,
            "DRS.M00304",
            format!(
                "This API cannot be called in the current task status. (status {})",
                j.status
            ),
        ));
    }
    let db = j
        .req
        .source_endpoint
        .db_name
        .clone()
        .unwrap_or_else(|| "db".into());
    let rows_base = (j.size_mb * 1000.0) as i64;
    let seed = j.seed;
    let mut tables: Vec<(String, String, i64)> = if objects.is_empty() {
        (1..=3)
            .map(|i| {
                (
                    db.clone(),
                    format!("table_{i}"),
                    rows_base / i + (seed % 97) as i64,
                )
            })
            .collect()
    } else {
        objects
            .iter()
            .flat_map(|o| {
                // A database named without tables: the SDK states no meaning for it
                // (compare_object_info.py); the emulator takes the whole database. wavedeck
                // itself asks for a quick comparison instead (api::row_compare_request).
                let (tables, jitter): (Vec<String>, i64) = if o.table_name.is_empty() {
                    (
                        (1..=3).map(|i| format!("table_{i}")).collect(),
                        (seed % 97) as i64,
                    )
                } else {
                    (o.table_name.clone(), 0)
                };
                tables
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| (o.db_name.clone(), t, rows_base / (i as i64 + 1) + jitter))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    if tables.is_empty() {
        tables.push((db, "table_1".into(), rows_base));
    }
    let duration = match kind {
        "contents" => COMPARE_BASE_S + j.size_mb / CONTENT_MBPS,
        _ => COMPARE_BASE_S,
    };
    let mismatch = j.faults.compare_mismatch;
    let id = new_job_id().replace("jb", "cp");
    let list = st.compares.entry(job.to_string()).or_default();
    // One unfinished data-level comparison per job: a new one replaces the running one.
    if kind != "object" {
        for t in list
            .iter_mut()
            .filter(|t| t.kind != "object" && now < t.done_at)
        {
            t.cancelled = true;
        }
    }
    list.push(CompareTask {
        id: id.clone(),
        kind: kind.to_string(),
        created_at: now,
        done_at: now + duration,
        tables,
        mismatch,
        cancelled: false,
    });
    // HW drs_03_0255 (tests/fixtures/drs/object-compare.response.json): 202 with `{ }`.
    Ok(if kind == "object" {
        json(202, &serde_json::json!({}))
    } else {
        json(200, &IdResp { id })
    })
}

fn task_status(t: &CompareTask, now: f64) -> &'static str {
    if t.cancelled {
        "CANCELLED"
    } else if now < t.done_at {
        "RUNNING"
    } else {
        "SUCCESSFUL"
    }
}

fn iso(emu: &Emulator, t: f64) -> String {
    chrono::DateTime::from_timestamp_millis(emu.clock.epoch_ms(t))
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn object_overview(emu: &Emulator, job: &str) -> Reply {
    let now = emu.clock.now();
    let mut st = emu.lock();
    job_for_compare(&mut st, job, now, emu.bandwidth_mbps)?;
    let Some(t) = st
        .compares
        .get(job)
        .and_then(|l| l.iter().rev().find(|t| t.kind == "object"))
    else {
        return Ok(json(200, &ObjectCompareOverview::default()));
    };
    let done = now >= t.done_at;
    let n_tables = t.tables.len() as i64;
    let status = |ok: bool| {
        if !done {
            compare_status::UNFINISHED
        } else if ok {
            compare_status::CONSISTENT
        } else {
            compare_status::INCONSISTENT
        }
    };
    let item = |kind: &str, src: i64, dst: i64| ObjectCompareResultItem {
        kind: kind.into(),
        source_count: src,
        target_count: dst,
        status: status(src == dst),
    };
    let target_tables = if t.mismatch { n_tables - 1 } else { n_tables };
    Ok(json(
        200,
        &ObjectCompareOverview {
            compare_job_id: t.id.clone(),
            status: task_status(t, now).into(),
            create_time: Some(emu.clock.epoch_ms(t.created_at).to_string()),
            start_time: Some(emu.clock.epoch_ms(t.created_at).to_string()),
            error_msg: None,
            compare_result: vec![
                item("DB", 1, 1),
                item("TABLE", n_tables, target_tables),
                item("INDEX", n_tables * 2, target_tables * 2),
            ],
        },
    ))
}

fn list_compares(emu: &Emulator, job: &str) -> Reply {
    let now = emu.clock.now();
    let mut st = emu.lock();
    job_for_compare(&mut st, job, now, emu.bandwidth_mbps)?;
    let compare_jobs: Vec<CompareJob> = st
        .compares
        .get(job)
        .map(|l| {
            l.iter()
                .filter(|t| t.kind != "object")
                .map(|t| CompareJob {
                    id: t.id.clone(),
                    kind: t.kind.clone(),
                    start_time: Some(iso(emu, t.created_at)),
                    end_time: (now >= t.done_at && !t.cancelled).then(|| iso(emu, t.done_at)),
                    status: task_status(t, now).into(),
                })
                .collect()
        })
        .unwrap_or_default();
    let count = compare_jobs.len() as u64;
    Ok(json(
        200,
        &CompareJobList {
            compare_jobs,
            count,
        },
    ))
}

fn cancel_compare(emu: &Emulator, job: &str, cid: &str) -> Reply {
    let now = emu.clock.now();
    let mut st = emu.lock();
    job_for_compare(&mut st, job, now, emu.bandwidth_mbps)?;
    let t = st
        .compares
        .get_mut(job)
        .and_then(|l| l.iter_mut().find(|t| t.id == cid))
        .ok_or_else(|| err(400, "DRS.M05003", "Task information not found."))?;
    if now < t.done_at {
        t.cancelled = true;
    }
    // HW drs_03_0244 (tests/fixtures/drs/compare-cancel.response.json): 200 with `{ }`.
    Ok(json(200, &serde_json::json!({})))
}

fn compare_view(
    emu: &Emulator,
    job: &str,
    cid: &str,
    view: &str,
    _query: &[(String, String)],
) -> Reply {
    let now = emu.clock.now();
    let mut st = emu.lock();
    job_for_compare(&mut st, job, now, emu.bandwidth_mbps)?;
    let t = st
        .compares
        .get(job)
        .and_then(|l| l.iter().find(|t| t.id == cid))
        .ok_or_else(|| err(400, "DRS.M05003", "Task information not found."))?;
    let done = now >= t.done_at && !t.cancelled;
    let running = !t.cancelled && now < t.done_at;
    // The mismatch fault drops a few rows of the last table on the target.
    let target_rows = |i: usize, rows: i64| {
        if t.mismatch && i + 1 == t.tables.len() {
            (rows - 3).max(0)
        } else {
            rows
        }
    };
    let st_code = |consistent: bool| {
        if t.cancelled {
            compare_status::CANCELLED
        } else if running {
            compare_status::COMPARING
        } else if consistent {
            compare_status::CONSISTENT
        } else {
            compare_status::INCONSISTENT
        }
    };
    let mut dbs: Vec<String> = t.tables.iter().map(|x| x.0.clone()).collect();
    dbs.dedup();
    let inconsistent_in = |db: &str| {
        t.tables
            .iter()
            .enumerate()
            .filter(|(i, x)| x.0 == db && target_rows(*i, x.2) != x.2)
            .count() as i64
    };
    let tables_in = |db: &str| t.tables.iter().filter(|x| x.0 == db).count() as i64;
    match view {
        "line-overview" if t.kind == "lines" => {
            let infos: Vec<LineOverviewInfo> = dbs
                .iter()
                .map(|db| {
                    let bad = if done { inconsistent_in(db) } else { 0 };
                    LineOverviewInfo {
                        source_db_name: db.clone(),
                        target_db_name: db.clone(),
                        status: st_code(bad == 0),
                        compare_num: tables_in(db),
                        compare_end_num: if done { tables_in(db) } else { 0 },
                        data_inconsistent_num: bad,
                        uncomparable_num: 0,
                    }
                })
                .collect();
            Ok(json(
                200,
                &LineOverview {
                    total_count: infos.len() as u64,
                    data_compare_overview_infos: infos,
                },
            ))
        }
        "line-detail" if t.kind == "lines" => {
            let infos: Vec<LineDetailInfo> = t
                .tables
                .iter()
                .enumerate()
                .map(|(i, (_, table, rows))| {
                    let dst = if done { target_rows(i, *rows) } else { 0 };
                    LineDetailInfo {
                        source_table_name: table.clone(),
                        source_row_num: if done { *rows } else { 0 },
                        target_table_name: table.clone(),
                        target_row_num: dst,
                        difference_row_num: if done { (*rows - dst).abs() } else { 0 },
                        status: st_code(!done || dst == *rows),
                    }
                })
                .collect();
            Ok(json(
                200,
                &LineDetail {
                    total_count: infos.len() as u64,
                    table_line_compare_result_infos: infos,
                },
            ))
        }
        "content-overview" if t.kind == "contents" => {
            let infos: Vec<ContentOverviewInfo> = dbs
                .iter()
                .map(|db| {
                    let bad = if done { inconsistent_in(db) } else { 0 };
                    ContentOverviewInfo {
                        source_db: db.clone(),
                        target_db: db.clone(),
                        status: st_code(bad == 0),
                        compare_num: tables_in(db),
                        compare_end_num: if done { tables_in(db) } else { 0 },
                        data_inconsistent_num: bad,
                        uncomparable_num: 0,
                    }
                })
                .collect();
            Ok(json(
                200,
                &ContentOverview {
                    total_count: infos.len() as u64,
                    content_compare_result_infos: infos,
                },
            ))
        }
        "content-detail" if t.kind == "contents" => {
            let progress = if t.cancelled {
                0.0
            } else {
                ((now - t.created_at) / (t.done_at - t.created_at) * 100.0).clamp(0.0, 100.0)
            };
            let infos: Vec<ContentDetailInfo> = t
                .tables
                .iter()
                .enumerate()
                .map(|(i, (db, table, rows))| {
                    let dst = target_rows(i, *rows);
                    ContentDetailInfo {
                        source_db: db.clone(),
                        target_db: db.clone(),
                        source_table_name: table.clone(),
                        target_table_name: table.clone(),
                        source_row_num: *rows,
                        target_row_num: dst,
                        difference_row_num: if done { (*rows - dst).abs() } else { 0 },
                        line_compare_result: !done || dst == *rows,
                        content_compare_result: !done || dst == *rows,
                        status: if t.cancelled {
                            content_detail_status::CANCELLED
                        } else if running {
                            content_detail_status::COMPARING
                        } else {
                            content_detail_status::DONE
                        },
                        progress,
                    }
                })
                .collect();
            Ok(json(
                200,
                &ContentDetail {
                    total_count: infos.len() as u64,
                    content_compare_result_infos: infos,
                },
            ))
        }
        "line-overview" | "line-detail" | "content-overview" | "content-detail" => Err(err(
            400,
            "DRS.M00202",
            format!(
                "The value of parameter compare_job_id is invalid. ({cid} is a {} comparison)",
                t.kind
            ),
        )),
        _ => Err(not_found_api()),
    }
}

const PRECHECK_ITEMS: &[(&str, &str)] = &[
    ("dstDbDiskSize", "db_disk_size"),
    ("dbCharacterSetConsistency", "db_params"),
    ("srcBinlogFormatCheck", "db_params"),
    ("srcBinlogRowImageCheck", "db_params"),
    ("srcDbServerIdCheck", "db_params"),
    ("sqlModeConsistency", "db_params"),
    ("dbTimeZoneConsistency", "db_params"),
    ("srcDbConnectivity", "network"),
];

fn precheck_results(emu: &Emulator, req: Jobs<String>) -> Reply {
    check_batch(&req.jobs)?;
    let mut seen = std::collections::HashSet::new();
    if !req.jobs.iter().all(|j| seen.insert(j)) {
        return Err(err(
            400,
            "DRS.M00301",
            "There are duplicate jobs in request.",
        ));
    }
    let results = with_jobs(emu, &req.jobs, |j, id, now| match j.precheck_state(now) {
        None => PrecheckResult {
            precheck_id: id.to_string(),
            error_code: Some("DRS.M00304".into()),
            error_msg: Some(
                "This API cannot be called in the current task status. (no pre-check was started)"
                    .into(),
            ),
            ..Default::default()
        },
        Some((pct, passed)) => {
            let finished = pct == 100;
            let items: Vec<PrecheckItem> = if finished {
                PRECHECK_ITEMS
                    .iter()
                    .enumerate()
                    .map(|(i, (item, group))| {
                        let fail = !passed && i == 2;
                        PrecheckItem {
                            item: item.to_string(),
                            result: if fail { "FAILED" } else { "PASSED" }.into(),
                            failed_reason: fail.then(|| {
                                "The source database binlog_format is not ROW.".to_string()
                            }),
                            group: Some(group.to_string()),
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let n = PRECHECK_ITEMS.len() as f64;
            let rate = if !finished {
                "0%".to_string()
            } else if passed {
                "100%".to_string()
            } else {
                format!("{:.1}%", (n - 1.0) / n * 100.0)
            };
            PrecheckResult {
                precheck_id: id.to_string(),
                result: finished && passed,
                process: format!("{pct}%"),
                total_passed_rate: rate,
                // `query_pre_check_resp.py` names the job's target instance and direction.
                rds_instance_id: j.req.target_endpoint.inst_id.clone(),
                job_direction: Some(j.req.job_direction.clone()),
                precheck_result: items,
                error_code: None,
                error_msg: None,
            }
        }
    })?;
    let count = results.len() as u64;
    Ok(json(
        200,
        &Results {
            results,
            count: Some(count),
        },
    ))
}

fn test_connections(emu: &Emulator, req: Jobs<TestEndPoint>, pre: &NativePre) -> Reply {
    check_batch(&req.jobs)?;
    let ids: Vec<String> = req.jobs.iter().map(|t| t.id.clone()).collect();
    let mut sides = req.jobs.iter().map(|t| t.end_point_type.clone());
    let results = with_jobs(emu, &ids, |j, id, _| {
        let side = sides.next().unwrap_or_default();
        let outcome = match pre.refusal(id, &side) {
            // The real test failed: record the side as untested, answer DRS's refusal.
            Some(r) => {
                let _ = j.test_connection(&side);
                match side.as_str() {
                    "so" => j.source_tested = false,
                    _ => j.target_tested = false,
                }
                Err(r)
            }
            None => j.test_connection(&side),
        };
        match outcome {
            Ok(()) => ConnectionResult {
                id: id.to_string(),
                // The SDK's enum (check_job_resp.py): "true" / "false".
                status: "true".into(),
                success: Some(true),
                ..Default::default()
            },
            Err(r) => ConnectionResult {
                id: id.to_string(),
                status: "false".into(),
                success: Some(false),
                error_code: Some(r.code.into()),
                error_msg: Some(r.msg),
            },
        }
    })?;
    let count = results.len() as u64;
    Ok(json(
        200,
        &Results {
            results,
            count: Some(count),
        },
    ))
}

fn select_objects(emu: &Emulator, req: Jobs<SelectObjectsReq>) -> Reply {
    check_batch(&req.jobs)?;
    let ids: Vec<String> = req.jobs.iter().map(|t| t.job_id.clone()).collect();
    let results = with_jobs(emu, &ids, |j, id, _| {
        let refusal = (j.status != JobStatus::Configuration).then(|| {
            (
                "DRS.M00304",
                format!(
                    "This API cannot be called in the current task status. (status {})",
                    j.status
                ),
            )
        });
        SelectObjectsResult {
            job_id: id.to_string(),
            status: refusal.is_none(),
            error_code: refusal.as_ref().map(|r| r.0.to_string()),
            error_msg: refusal.map(|r| r.1),
        }
    })?;
    Ok(json(
        202,
        &SelectObjectsResp {
            all_counts: results.len() as u64,
            results,
        },
    ))
}

fn dns_err(r: crate::rehearsal::dns_emulator::DnsRefusal) -> Response {
    json(
        r.status,
        &ErrorBody {
            code: Some(r.code.into()),
            message: Some(r.message.into()),
            ..Default::default()
        },
    )
}

/// A record set as Cloud DNS answers it (`show_record_set_response.py`,
/// `update_record_set_response.py`, `list_record_sets.py`): the stored fields and the zone's
/// name, `default` (false: made by a user, not the zone's own SOA/NS), the project, and the
/// link to itself.
#[derive(Serialize)]
struct RecordSetView<'a> {
    #[serde(flatten)]
    r: &'a crate::rehearsal::dns_emulator::RecordSet,
    zone_name: String,
    default: bool,
    project_id: &'a str,
    links: SelfLink,
}

#[derive(Serialize)]
struct SelfLink {
    #[serde(rename = "self")]
    this: String,
}

fn record_view<'a>(
    emu: &'a Emulator,
    r: &'a crate::rehearsal::dns_emulator::RecordSet,
) -> RecordSetView<'a> {
    RecordSetView {
        zone_name: crate::rehearsal::dns_emulator::zone_name_of(&r.name),
        default: false,
        project_id: &emu.project_id,
        links: SelfLink {
            this: format!(
                "{}/v2/zones/{}/recordsets/{}",
                emu.base_url, r.zone_id, r.id
            ),
        },
        r,
    }
}

fn dns_route(
    emu: &Emulator,
    method: &Method,
    zone: &str,
    rest: &[&str],
    query: &[(String, String)],
    body: &[u8],
) -> Reply {
    let now = emu.clock.now();
    let stamp = iso(emu, now);
    let mut zones = emu.dns.lock().unwrap_or_else(|e| e.into_inner());
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let parse_dns =
        |body: &[u8]| -> Result<crate::rehearsal::dns_emulator::RecordSetReq, Response> {
            serde_json::from_slice(body).map_err(|_| {
                json(
                    400,
                    &ErrorBody {
                        code: Some("DNS.0308".into()),
                        message: Some("Invalid record set value.".into()),
                        ..Default::default()
                    },
                )
            })
        };
    match (method.as_str(), rest) {
        ("GET", ["recordsets"]) => {
            let sets = zones.find(
                zone,
                q("name"),
                q("type"),
                q("search_mode") == Some("equal"),
                now,
            );
            let n = sets.len();
            let views: Vec<_> = sets.iter().map(|r| record_view(emu, r)).collect();
            Ok(json(
                200,
                &serde_json::json!({
                    "recordsets": views,
                    "links": {"self": format!("{}/v2/zones/{zone}/recordsets", emu.base_url)},
                    "metadata": {"total_count": n},
                }),
            ))
        }
        ("POST", ["recordsets"]) => zones
            .create(zone, parse_dns(body)?, now, stamp)
            .map(|r| json(202, &record_view(emu, &r)))
            .map_err(dns_err),
        ("GET", ["recordsets", id]) => zones
            .get(zone, id, now)
            .map(|r| json(200, &record_view(emu, &r)))
            .map_err(dns_err),
        ("PUT", ["recordsets", id]) => zones
            .update(zone, id, parse_dns(body)?, now, stamp)
            .map(|r| json(202, &record_view(emu, &r)))
            .map_err(dns_err),
        _ => Err(not_found_api()),
    }
}
