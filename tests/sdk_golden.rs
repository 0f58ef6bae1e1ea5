//! Golden requests: what wavedeck's own clients (`drs::client`, `cutover::dns_provider`,
//! `cloud::client`) send for every DRS, DNS, RDS and VPC call they make, held to what Huawei's Python SDK sends for the same operation.
//! The SDK's requests are in `tests/sdk_contract/golden/*.json`, recorded by a loopback capture
//! (`tests/sdk_contract/make_golden.py`). Here a loopback capture inside the test records
//! wavedeck's requests, driven through the same functions the engine calls (ensure_job,
//! prepare_jobs, poll, ...), and compares method, path, query keys, the API's headers present,
//! and the JSON body's field names, nesting and types (values may differ). A difference passes only when
//! `tests/sdk_contract/golden/allowed.txt` lists it with a reason.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wavedeck::config::Config;
use wavedeck::cutover::dns_provider::{Dns, HuaweiDns};
use wavedeck::drs::api::{job_name_for, EXTRA_RDS_INSTANCE};
use wavedeck::drs::model::JobId;
use wavedeck::drs::{Auth, DrsClient};
use wavedeck::inventory::model::{DatabaseSpec, Endpoint, Engine};
use wavedeck::secret::SecretRef;

// The placeholders make_golden.py uses, so paths compare as they are.
const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const JOB: &str = "JOBID0001";
const COMPARE: &str = "CMPID0001";
const ZONE: &str = "ZONEID0001";
const RECORDSET: &str = "RSID0001";
const DB_ID: &str = "sdk-golden-01";
const DNS_NAME: &str = "orders.sdk-golden.internal.";

#[derive(Clone, Debug)]
struct Captured {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Value,
    /// The API's own headers present (names, lower case); see `API_HEADERS`.
    headers: BTreeSet<String>,
}

/// The headers the DRS and DNS APIs read, as `capture.py` records them; transport headers are
/// the HTTP library's business.
const API_HEADERS: [&str; 6] = [
    "authorization",
    "content-type",
    "x-project-id",
    "x-sdk-date",
    "x-security-token",
    "x-auth-token",
];

type Log = Arc<Mutex<Vec<Captured>>>;

/// Answers that let the flows go on (a job id from create, passed connection tests, an ACTIVE
/// record set); every other call gets `{}`: only the request matters here.
fn answer(method: &str, path: &str) -> Value {
    let tail = path.rsplit('/').next().unwrap_or("");
    match (method, tail) {
        ("POST", "jobs") => json!({"total_record": 0, "jobs": []}),
        ("POST", "batch-creation") => json!({"count": 1, "results": [
            {"id": JOB, "name": job_name_for(DB_ID), "status": "CREATING"}]}),
        ("POST", "batch-connection") => json!({"count": 2, "results": [
            {"id": JOB, "status": "success", "success": true},
            {"id": JOB, "status": "success", "success": true}]}),
        ("PUT", "batch-modification") => {
            json!({"count": 1, "results": [{"id": JOB, "status": "success"}]})
        }
        ("PUT", "batch-select-objects") => {
            json!({"all_counts": 1, "results": [{"job_id": JOB, "status": true}]})
        }
        ("GET", "recordsets") => json!({"recordsets": [
            {"id": RECORDSET, "ttl": 300, "records": ["127.0.0.10"], "status": "ACTIVE"}]}),
        ("PUT", RECORDSET) => json!({"id": RECORDSET, "status": "PENDING_UPDATE"}),
        ("GET", RECORDSET) => json!({"id": RECORDSET, "status": "ACTIVE"}),
        _ => json!({}),
    }
}

async fn capture() -> (String, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let l = l.clone();
            async move {
                let query = uri
                    .query()
                    .map(|q| {
                        q.split('&')
                            .filter(|p| !p.is_empty())
                            .map(|p| {
                                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                                (k.to_string(), v.to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let body = if body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&body).unwrap_or(Value::String("<not JSON>".into()))
                };
                let path = uri.path().to_string();
                let reply = answer(method.as_str(), &path);
                let headers = headers
                    .keys()
                    .map(|k| k.as_str().to_ascii_lowercase())
                    .filter(|k| API_HEADERS.contains(&k.as_str()))
                    .collect();
                l.lock().unwrap().push(Captured {
                    method: method.to_string(),
                    path,
                    query,
                    body,
                    headers,
                });
                axum::Json(reply)
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, log)
}

fn take(log: &Log) -> Vec<Captured> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn spec(pw_file: &Path, engine: Engine) -> DatabaseSpec {
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: if engine == Engine::Mysql { 3306 } else { 5432 },
        database: "app".into(),
        user: "mig".into(),
        password: SecretRef::File(pw_file.to_path_buf()),
    };
    DatabaseSpec::new(DB_ID, engine, ep("127.0.0.1"), ep("127.0.0.2"))
        .with_version("16")
        .with_size_gb(2.5)
        .with_owner("sdk")
        .with_wave(Some(0))
        .with_extra(EXTRA_RDS_INSTANCE, json!("rds-sdk-golden"))
}

fn config(url: &str) -> Config {
    let mut c = Config::default();
    c.drs.endpoint = url.into();
    c.drs.dns_endpoint = url.into();
    c.drs.rds_endpoint = url.into();
    c.drs.vpc_endpoint = url.into();
    c.drs.project_id = PROJECT.into();
    c.drs.region = "eu-west-101".into();
    c.drs.vpc_id = "vpc-sdk".into();
    c.drs.subnet_id = "subnet-sdk".into();
    c.drs.security_group_id = "sg-sdk".into();
    c.drs.timeout_s = 5;
    c
}

/// Every request wavedeck's clients make, by the call names the golden files carry.
async fn wavedeck_requests(url: &str, log: &Log) -> BTreeMap<String, Captured> {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "loopback-only").unwrap();
    let cfg = config(url);
    let client = DrsClient::new(&cfg, auth()).unwrap();
    let sp = spec(&pw, Engine::Postgres);
    let job = JobId(JOB.into());
    let ids = std::slice::from_ref(&job);
    let mut out = BTreeMap::new();
    let mut one = |name: &str, got: Vec<Captured>| {
        assert_eq!(got.len(), 1, "{name}: expected one request, got {got:?}");
        out.insert(name.to_string(), got.into_iter().next().unwrap());
    };
    // Results are not looked at: the capture answers `{}` to most calls.
    let ensured = client.ensure_job(&sp, &cfg.drs).await.unwrap();
    assert_eq!(ensured.id, job);
    let mut got = take(log).into_iter();
    one("list-jobs", got.next().into_iter().collect());
    one("batch-creation", got.collect());
    client
        .prepare_jobs(&[(sp.clone(), job.clone())], &cfg.drs)
        .await
        .unwrap();
    let mut got = take(log).into_iter();
    one("batch-connection", got.next().into_iter().collect());
    one("batch-modification", got.next().into_iter().collect());
    one("batch-select-objects", got.collect());
    // A MySQL job: the calls whose body depends on the engine.
    let my = spec(&pw, Engine::Mysql);
    client.ensure_job(&my, &cfg.drs).await.unwrap();
    let mut got = take(log).into_iter();
    one("list-jobs-mysql", got.next().into_iter().collect());
    one("batch-creation-mysql", got.collect());
    client
        .prepare_jobs(&[(my, job.clone())], &cfg.drs)
        .await
        .unwrap();
    let got = take(log);
    one(
        "batch-modification-mysql",
        got.get(1).cloned().into_iter().collect(),
    );
    let _ = client.quotas().await;
    one("quotas", take(log));
    let _ = client.batch_status(ids).await;
    one("batch-status", take(log));
    // Temporary credentials: the same call with X-Security-Token, signed.
    let temporary = DrsClient::new(&cfg, temporary_auth()).unwrap();
    let _ = temporary.batch_status(ids).await;
    one("batch-status-temporary", take(log));
    let _ = client.batch_detail(ids).await;
    one("batch-detail", take(log));
    let _ = client.poll(ids).await;
    one("batch-progress", take(log));
    let _ = client.precheck(ids, false).await;
    one("batch-precheck", take(log));
    let _ = client.precheck_results(ids).await;
    one("batch-precheck-result", take(log));
    let _ = client.start(ids).await;
    one("batch-starting", take(log));
    let _ = client.pause(ids, false).await;
    one("batch-pause-task", take(log));
    let _ = client.resume(ids).await;
    one("batch-retry-task", take(log));
    let _ = client.terminate(ids, false).await;
    one("batch-jobs-terminate", take(log));
    let _ = client.delete(ids).await;
    one("batch-jobs-delete", take(log));
    let _ = client.switchover(ids).await;
    one("batch-switchover", take(log));
    let _ = client.create_object_compare(&job).await;
    one("object-compare", take(log));
    let _ = client.object_compare(&job).await;
    one("object-compare-overview", take(log));
    // The engine's comparison step (engine/runtime.rs, EffectStep::Compare) asks for this one.
    let req = wavedeck::drs::api::row_compare_request();
    let _ = client.create_table_compare(&job, &req).await;
    one("table-compare", take(log));
    let _ = client.list_table_compares(&job).await;
    one("table-compare-list", take(log));
    let _ = client.cancel_compare(&job, COMPARE).await;
    one("compare-cancel", take(log));
    let _ = client.line_overview(&job, COMPARE).await;
    one("line-overview", take(log));
    let _ = client.line_detail(&job, COMPARE).await;
    one("line-detail", take(log));
    let _ = client.content_overview(&job, COMPARE).await;
    one("content-overview", take(log));
    let _ = client.content_detail(&job, COMPARE).await;
    one("content-detail", take(log));

    // The cutover's DNS switch: find the record set, update it, poll it until ACTIVE.
    let dns = Dns::Huawei(HuaweiDns {
        base_url: url.to_string(),
        zone_id: ZONE.into(),
        project_id: PROJECT.into(),
        record_type: "A".into(),
        http: reqwest::Client::new(),
        signer: auth(),
        poll_every: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
        one_at_a_time: Default::default(),
    });
    dns.set(DNS_NAME, "127.0.0.20", 5).await.unwrap();
    let mut got = take(log).into_iter();
    one("dns-find", got.next().into_iter().collect());
    one("dns-update", got.next().into_iter().collect());
    one("dns-show", got.collect());

    // The exposure pre-check's reads: the target instance, then its security group's rules.
    let cloud = wavedeck::cloud::CloudClient::new(&cfg, auth()).unwrap();
    let _ = cloud.instance("RDSID0001").await;
    one("rds-list-instances", take(log));
    let _ = cloud.security_group_rules("SGID0001").await;
    one("vpc-security-group-rules", take(log));
    out
}

/// Made-up keys: the capture checks no signature.
fn auth() -> Auth {
    Auth::aksk("SDKGOLDENAK000000001", "sdkgoldensk")
}

/// Made-up temporary credentials (the capture checks no signature).
fn temporary_auth() -> Auth {
    use wavedeck::drs::auth::{Temporary, TemporaryKey};
    use wavedeck::secret::Secret;
    Auth::Temporary(Arc::new(Temporary::fixed(TemporaryKey {
        ak: Secret::new("SDKGOLDENTMPAK000001"),
        sk: Secret::new("sdkgoldentemporarysecretkey0000000000001"),
        token: Secret::new("sdk-golden-security-token-0001"),
        expires_at: None,
    })))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences of field names, nesting and JSON types between the SDK's body and ours.
fn shape(at: &str, sdk: &Value, ours: &Value, out: &mut Vec<String>) {
    match (sdk, ours) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => shape(&format!("{at}.{k}"), v, w, out),
                    None => out.push(format!("missing {at}.{k}")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("extra {at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                shape(&format!("{at}[{i}]"), v, w, out);
            }
        }
        _ if kind(sdk) != kind(ours) => {
            out.push(format!(
                "type {at}: {} in the SDK, {} here",
                kind(sdk),
                kind(ours)
            ));
        }
        _ => {}
    }
}

fn differences(golden: &Value, ours: &Captured) -> Vec<String> {
    let mut out = Vec::new();
    if golden["method"] != ours.method.as_str() {
        out.push(format!(
            "method {} here, {} in the SDK",
            ours.method, golden["method"]
        ));
    }
    if golden["path"] != ours.path.as_str() {
        out.push(format!(
            "path {} here, {} in the SDK",
            ours.path, golden["path"]
        ));
    }
    let sdk_q: BTreeSet<String> = golden["query"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p[0].as_str().map(str::to_string))
        .collect();
    let our_q: BTreeSet<String> = ours.query.iter().map(|(k, _)| k.clone()).collect();
    for k in sdk_q.difference(&our_q) {
        out.push(format!("missing query {k}"));
    }
    for k in our_q.difference(&sdk_q) {
        out.push(format!("extra query {k}"));
    }
    let sdk_h: BTreeSet<String> = golden["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h.as_str().map(str::to_string))
        .collect();
    for h in sdk_h.difference(&ours.headers) {
        out.push(format!("missing header {h}"));
    }
    for h in ours.headers.difference(&sdk_h) {
        out.push(format!("extra header {h}"));
    }
    shape("body", &golden["body"], &ours.body, &mut out);
    out
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk_contract/golden")
}

/// `allowed.txt`: `call | difference | reason` per line; `#` starts a comment.
fn allowed() -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(golden_dir().join("allowed.txt")).unwrap();
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, '|').map(str::trim).collect();
        assert!(
            parts.len() == 3 && !parts[2].is_empty(),
            "allowed.txt line {}: expected `call | difference | reason`, got {line:?}",
            n + 1
        );
        out.insert(
            (parts[0].to_string(), parts[1].to_string()),
            parts[2].to_string(),
        );
    }
    out
}

#[tokio::test]
async fn wavedeck_sends_what_huaweis_sdk_sends() {
    let (url, log) = capture().await;
    let ours = wavedeck_requests(&url, &log).await;
    let allowed = allowed();
    let mut goldens = BTreeSet::new();
    let mut unexplained = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let call = golden["call"].as_str().unwrap().to_string();
        let Some(req) = ours.get(&call) else {
            unexplained.push(format!("{call}: a golden request wavedeck never sends"));
            continue;
        };
        goldens.insert(call.clone());
        for d in differences(&golden, req) {
            let key = (call.clone(), d.clone());
            match allowed.get(&key) {
                Some(reason) => {
                    println!("allowed  {call}: {d} ({reason})");
                    seen.insert(key);
                }
                None => unexplained.push(format!("{call}: {d}")),
            }
        }
        println!("compared {call} ({})", golden["sdk"].as_str().unwrap_or(""));
    }
    for call in ours.keys().filter(|c| !goldens.contains(*c)) {
        unexplained.push(format!("{call}: no golden request (run make_golden.py)"));
    }
    for (call, d) in allowed.keys().filter(|k| !seen.contains(*k)) {
        // A fix landed: the entry should go (not a failure, so a fix elsewhere never breaks this).
        println!("stale allowed.txt entry (no longer differs, remove it): {call} | {d}");
    }
    assert!(
        goldens.len() >= 32,
        "only {} golden files in {}",
        goldens.len(),
        golden_dir().display()
    );
    assert!(
        unexplained.is_empty(),
        "wavedeck's requests differ from the SDK's where allowed.txt gives no reason:\n  {}",
        unexplained.join("\n  ")
    );
}

/// Keys `doc` and `ours` share whose JSON types differ (arrays compared item by item).
fn shared_type_differences(at: &str, doc: &Value, ours: &Value, out: &mut Vec<String>) {
    match (doc, ours) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    shared_type_differences(&format!("{at}.{k}"), v, w, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                shared_type_differences(&format!("{at}[{i}]"), v, w, out);
            }
        }
        // The examples write an unset optional field as null.
        (Value::Null, _) | (_, Value::Null) => {}
        _ if kind(doc) != kind(ours) => out.push(format!(
            "type {at}: {} in the example, {} here",
            kind(doc),
            kind(ours)
        )),
        _ => {}
    }
}

/// Where the example and the SDK disagree, wavedeck follows the SDK: `endpoint.py` types
/// `db_port` as an int, the modify example writes it as a string.
const SDK_OVER_EXAMPLE: [(&str, &str); 2] = [
    (
        "batch-modification",
        "type body.jobs[0].source_endpoint.db_port: string in the example, number here",
    ),
    (
        "batch-modification",
        "type body.jobs[0].target_endpoint.db_port: string in the example, number here",
    ),
];

/// The second check of every call: wavedeck's own request (as its client sends it, captured)
/// against the API reference's request example for that call (`tests/fixtures/drs/`), where
/// the reference has one: the keys both have carry the same JSON types.
#[tokio::test]
async fn wavedeck_requests_have_the_documented_examples_shape() {
    let (url, log) = capture().await;
    let ours = wavedeck_requests(&url, &log).await;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drs");
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for (call, req) in &ours {
        let p = fixtures.join(format!("{call}.request.json"));
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let doc: Value = serde_json::from_str(&text).unwrap();
        let mut out = Vec::new();
        shared_type_differences("body", &doc, &req.body, &mut out);
        problems.extend(
            out.into_iter()
                .filter(|d| !SDK_OVER_EXAMPLE.contains(&(call.as_str(), d.as_str())))
                .map(|d| format!("{call}: {d}")),
        );
        checked.push(call.clone());
    }
    assert!(
        checked.len() >= 14,
        "only {} calls have a documented example: {checked:?}",
        checked.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A signing vector with a security token, made by Huawei's Python SDK (make_golden.py, with
/// temporary credentials): the request exactly as it went on the wire and the SDK's
/// Authorization. wavedeck's verifier (the one the emulator's gateway runs, over the same
/// canonical request its signer builds) must accept it, and must refuse it once the token is
/// not the one signed: the token is part of what is signed, beside the Go, Python and Java
/// vectors of `drs::sign`.
#[test]
fn the_sdks_signature_with_a_security_token_verifies_here() {
    let p = golden_dir().join("signing/batch-status-temporary.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("{}: no {k}", p.display()))
    };
    let headers: Vec<(String, String)> = v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
        .collect();
    let header = |name: &str, hs: &[(String, String)]| {
        hs.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{}: no {name} header", p.display()))
    };
    let authz = header("authorization", &headers);
    assert!(
        authz.contains("x-security-token"),
        "the SDK signs the token: {authz}"
    );
    assert_eq!(header("x-security-token", &headers), s("security_token"));
    let when =
        chrono::NaiveDateTime::parse_from_str(&header("x-sdk-date", &headers), "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc();
    let query = wavedeck::drs::sign::parse_query(s("query"));
    let (ak, sk) = (s("ak").to_string(), s("sk").to_string());
    let verify = |hs: &[(String, String)]| {
        let input = wavedeck::drs::sign::SignInput {
            method: s("method"),
            path: s("path"),
            query: &query,
            headers: hs,
            body: s("body").as_bytes(),
        };
        wavedeck::drs::sign::verify(
            &input,
            &authz,
            |a| (a == ak).then(|| wavedeck::secret::Secret::new(sk.clone())),
            when,
        )
    };
    assert_eq!(verify(&headers).unwrap(), ak);
    let mut other = headers.clone();
    for (k, v) in other.iter_mut() {
        if k.eq_ignore_ascii_case("x-security-token") {
            *v = "another-token".into();
        }
    }
    assert!(verify(&other).is_err(), "a token other than the signed one");
}

#[test]
fn the_comparison_sees_names_nesting_and_types_but_not_values() {
    let sdk = json!({"jobs": [{"job_id": "a", "db_port": 5432, "ep": {"ip": "x"}}]});
    let mut out = Vec::new();
    shape(
        "body",
        &sdk,
        &json!({"jobs": [{"job_id": "b", "db_port": 1, "ep": {"ip": "y"}}]}),
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    shape(
        "body",
        &sdk,
        &json!({"jobs": [{"job_id": 7, "ep": {"ip": "y", "extra": true}}]}),
        &mut out,
    );
    assert_eq!(
        out,
        [
            "missing body.jobs[0].db_port",
            "extra body.jobs[0].ep.extra",
            "type body.jobs[0].job_id: string in the SDK, number here",
        ]
    );
}
