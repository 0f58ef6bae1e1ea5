//! A Huawei Cloud DNS private-zone emulator: the record-set calls the cutover uses (list by
//! name, show, update), with the real API's shapes (research/drs-api.md §5): `PUT` answers 202
//! `PENDING_UPDATE` and the record set turns `ACTIVE` a few reads later; requests must carry a
//! valid `SDK-HMAC-SHA256` signature (checked with the same code as the DRS emulator) or an
//! `X-Auth-Token`. Rehearsals and tests point `drs.dns_endpoint` at it.

use crate::drs::sign;
use crate::secret::Secret;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct EmuRecord {
    pub id: String,
    pub name: String,
    pub rtype: String,
    pub ttl: u32,
    pub records: Vec<String>,
    pub status: String,
    /// Reads left before a pending update turns ACTIVE.
    pending_reads: u32,
    pub updated: String,
}

pub struct DnsEmulator {
    pub zone_id: String,
    pub zone_name: String,
    keys: BTreeMap<String, Secret>,
    records: Mutex<BTreeMap<String, EmuRecord>>,
    /// Reads of a record set after a PUT before it reports ACTIVE.
    pub pending_reads: u32,
}

impl DnsEmulator {
    pub fn new(zone_id: &str, zone_name: &str, ak: &str, sk: &str) -> DnsEmulator {
        let mut keys = BTreeMap::new();
        keys.insert(ak.to_string(), Secret::new(sk));
        DnsEmulator {
            zone_id: zone_id.into(),
            zone_name: super::dns::fqdn(zone_name),
            keys,
            records: Mutex::new(BTreeMap::new()),
            pending_reads: 2,
        }
    }

    /// Add a record set (as created before the cutover night); returns its id.
    pub fn add_record(&self, name: &str, rtype: &str, ttl: u32, value: &str) -> String {
        let mut recs = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let id = format!("{:032x}", recs.len() as u128 + 0xabc0);
        recs.insert(
            id.clone(),
            EmuRecord {
                id: id.clone(),
                name: super::dns::fqdn(name),
                rtype: rtype.into(),
                ttl,
                records: vec![value.into()],
                status: "ACTIVE".into(),
                pending_reads: 0,
                updated: chrono::Utc::now().to_rfc3339(),
            },
        );
        id
    }

    pub fn record(&self, id: &str) -> Option<EmuRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn json_of(&self, r: &EmuRecord) -> Value {
        json!({
            "id": r.id, "name": r.name, "type": r.rtype, "ttl": r.ttl, "records": r.records,
            "status": r.status, "zone_id": self.zone_id, "zone_name": self.zone_name,
            "create_at": r.updated, "update_at": r.updated, "default": false,
            "description": "", "project_id": "emulated",
            "links": {"self": format!("/v2/zones/{}/recordsets/{}", self.zone_id, r.id)},
        })
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

/// Why a request is refused, as the API gateway words it; `None` when it may pass.
fn auth_refusal(
    emu: &DnsEmulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<&'static str> {
    if headers.contains_key("x-auth-token") {
        return None;
    }
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Some("no Authorization header");
    };
    let hs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let query = sign::parse_query(uri.query().unwrap_or(""));
    let input = sign::SignInput {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        headers: &hs,
        body,
    };
    sign::verify(
        &input,
        auth,
        |ak| emu.keys.get(ak).cloned(),
        chrono::Utc::now(),
    )
    .err()
    .map(|_| "verify aksk signature fail")
}

async fn handle(
    axum::extract::State(emu): axum::extract::State<Arc<DnsEmulator>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(msg) = auth_refusal(&emu, &method, &uri, &headers, &body) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({
                "error_code": "APIG.0301",
                "error_msg": format!("Incorrect IAM authentication information: {msg}"),
                "request_id": "emulated",
            })),
        )
            .into_response();
    }
    let segs: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let query: BTreeMap<String, String> = sign::parse_query(uri.query().unwrap_or(""))
        .into_iter()
        .collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["v2", "zones", zone, "recordsets"]) if *zone == emu.zone_id => {
            let recs = emu.records.lock().unwrap_or_else(|e| e.into_inner());
            let want_name = query.get("name").map(|n| super::dns::fqdn(n));
            let exact = query.get("search_mode").map(String::as_str) == Some("equal");
            let list: Vec<Value> = recs
                .values()
                .filter(|r| query.get("type").is_none_or(|t| *t == r.rtype))
                .filter(|r| match &want_name {
                    None => true,
                    Some(n) if exact => r.name == *n,
                    Some(n) => r.name.contains(n.trim_end_matches('.')),
                })
                .map(|r| emu.json_of(r))
                .collect();
            let n = list.len();
            axum::Json(json!({"recordsets": list, "links": {}, "metadata": {"total_count": n}}))
                .into_response()
        }
        ("GET", ["v2", "zones", zone, "recordsets", id]) if *zone == emu.zone_id => {
            let mut recs = emu.records.lock().unwrap_or_else(|e| e.into_inner());
            let Some(r) = recs.get_mut(*id) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "DNS.0313",
                    "The record set does not exist.",
                );
            };
            if r.status == "PENDING_UPDATE" {
                if r.pending_reads == 0 {
                    r.status = "ACTIVE".into();
                } else {
                    r.pending_reads -= 1;
                }
            }
            let v = emu.json_of(r);
            axum::Json(v).into_response()
        }
        ("PUT", ["v2", "zones", zone, "recordsets", id]) if *zone == emu.zone_id => {
            let Ok(req) = serde_json::from_slice::<Value>(&body) else {
                return error(StatusCode::BAD_REQUEST, "DNS.0005", "Invalid request body.");
            };
            let mut recs = emu.records.lock().unwrap_or_else(|e| e.into_inner());
            let Some(r) = recs.get_mut(*id) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "DNS.0313",
                    "The record set does not exist.",
                );
            };
            if req["name"].as_str() != Some(r.name.as_str())
                || req["type"].as_str() != Some(r.rtype.as_str())
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "DNS.0304",
                    "Invalid record set name or type.",
                );
            }
            if let Some(ttl) = req["ttl"].as_u64() {
                if !(1..=2_147_483_647).contains(&ttl) {
                    return error(StatusCode::BAD_REQUEST, "DNS.0303", "Invalid TTL.");
                }
                r.ttl = ttl as u32;
            }
            if let Some(list) = req["records"].as_array() {
                r.records = list
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
            }
            r.status = "PENDING_UPDATE".into();
            r.pending_reads = emu.pending_reads;
            r.updated = chrono::Utc::now().to_rfc3339();
            let v = emu.json_of(r);
            (StatusCode::ACCEPTED, axum::Json(v)).into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "DNS.0002",
            "The resource does not exist.",
        ),
    }
}

/// The emulator's routes, to serve alone or beside the DRS emulator.
pub fn router(emu: Arc<DnsEmulator>) -> Router {
    Router::new().fallback(handle).with_state(emu)
}

/// Serve on `addr` (loopback); returns the base URL and the server task.
pub async fn spawn(
    emu: Arc<DnsEmulator>,
    addr: SocketAddr,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router(emu)).await;
    });
    Ok((base, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cutover::dns::{AuthSigner, Dns, HuaweiDns};
    use crate::drs::auth::Auth;
    use std::time::Duration;

    fn provider(base: &str, zone: &str, sk: &str) -> Dns {
        Dns::Huawei(HuaweiDns {
            base_url: base.into(),
            zone_id: zone.into(),
            project_id: "0123456789abcdef0123456789abcdef".into(),
            record_type: "A".into(),
            http: reqwest::Client::new(),
            signer: Arc::new(AuthSigner(Auth::aksk("AK1", sk))),
            poll_every: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
        })
    }

    #[tokio::test]
    async fn switch_waits_for_active_and_is_signed() {
        let emu = Arc::new(DnsEmulator::new(
            "zone1",
            "corp.internal",
            "AK1",
            "SK-secret",
        ));
        let id = emu.add_record("db01.corp.internal", "A", 300, "10.0.0.1");
        let (base, task) = spawn(emu.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dns = provider(&base, "zone1", "SK-secret");

        let now = dns.current("db01.corp.internal").await.unwrap().unwrap();
        assert_eq!(now.value, "10.0.0.1");
        assert_eq!(now.ttl_s, 300);
        let change = dns.set("db01.corp.internal", "10.0.0.2", 60).await.unwrap();
        assert_eq!(change.status, "ACTIVE");
        assert_eq!(change.previous.unwrap().ttl_s, 300);
        let r = emu.record(&id).unwrap();
        assert_eq!(
            (r.records, r.ttl, r.status.as_str()),
            (vec!["10.0.0.2".to_string()], 60, "ACTIVE")
        );
        let again = dns.set("db01.corp.internal", "10.0.0.2", 60).await.unwrap();
        assert_eq!(again.status, "UNCHANGED");

        let missing = dns
            .set("db02.corp.internal", "10.0.0.9", 60)
            .await
            .unwrap_err();
        assert!(
            missing.to_string().contains("db02.corp.internal"),
            "{missing}"
        );

        let wrong = provider(&base, "zone1", "not-the-key");
        let err = wrong
            .current("db01.corp.internal")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("401") && err.contains("APIG.0301"), "{err}");
        assert!(!err.contains("not-the-key"), "{err}");
        task.abort();
    }
}
