//! The DNS switch: point a service name at the target (or back at the source) through a
//! provider. `file` is the lab's provider (a YAML file the workload resolves names through);
//! `huawei` updates a Huawei Cloud DNS private-zone record set (PUT, 202 `PENDING_UPDATE`, poll
//! until `ACTIVE`) with the same AK/SK signing as the DRS client.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, thiserror::Error)]
pub enum DnsError {
    #[error("DNS file {path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error("DNS record {name}: {msg}")]
    Record { name: String, msg: String },
    #[error("Huawei Cloud DNS {call}: {msg}")]
    Api { call: String, msg: String },
}

/// What a name resolves to now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DnsEntry {
    pub value: String,
    pub ttl_s: u32,
}

/// What a switch did, for the evidence pack.
#[derive(Clone, Debug, Serialize)]
pub struct DnsChange {
    pub provider: &'static str,
    pub name: String,
    pub previous: Option<DnsEntry>,
    pub value: String,
    pub ttl_s: u32,
    pub status: String,
    pub waited_ms: u64,
    pub at: String,
}

/// A DNS provider. Setting a name to the value it already has is a no-op that still reports.
/// Each provider takes concurrent switches itself: the file groups them into one write, the
/// Huawei zone changes one record at a time.
pub enum Dns {
    File(FileDns),
    Huawei(HuaweiDns),
}

impl Dns {
    pub fn kind(&self) -> &'static str {
        match self {
            Dns::File(_) => "file",
            Dns::Huawei(_) => "huawei",
        }
    }

    pub async fn current(&self, name: &str) -> Result<Option<DnsEntry>, DnsError> {
        match self {
            Dns::File(f) => f.current(name),
            Dns::Huawei(h) => h.current(name).await.map(|o| o.map(|(_, e)| e)),
        }
    }

    pub async fn set(&self, name: &str, value: &str, ttl_s: u32) -> Result<DnsChange, DnsError> {
        match self {
            Dns::File(f) => {
                // Off the runtime's threads: the write waits for fsync, and for a write in
                // flight that this switch then joins.
                let (f, name2, value2) = (f.clone(), name.to_string(), value.to_string());
                match tokio::task::spawn_blocking(move || f.set(&name2, &value2, ttl_s)).await {
                    Ok(r) => r,
                    Err(e) => Err(DnsError::Record {
                        name: name.into(),
                        msg: format!("the DNS file write stopped: {e}"),
                    }),
                }
            }
            Dns::Huawei(h) => h.set(name, value, ttl_s).await,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct DnsFileBody {
    #[serde(default)]
    records: BTreeMap<String, FileRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct FileRecord {
    value: String,
    ttl_s: u32,
    #[serde(default)]
    updated_at: String,
}

/// Names mapped to `host:port` endpoints in a YAML file:
/// ```yaml
/// records:
///   "orders.lab.internal": {value: "127.0.0.1:54321", ttl_s: 5, updated_at: "..."}
/// ```
/// Replaced atomically (write, fsync, rename), so a reader never sees half a file.
///
/// A wave's cutover switches hundreds of names; rewriting the file for each was O(n²) (11% of
/// the engine bench's CPU at 500 cutovers, then the file system's inode allocation after as
/// many deletions). So a handle (and its clones) keeps the records it last read or wrote with
/// the exact text they came from, parsing the file again only when its text differs (someone
/// else changed it), and switches asked while a write is in flight go together into the next
/// write (group commit): each caller returns once its own switch is on disk.
#[derive(Clone, Debug)]
pub struct FileDns {
    pub path: PathBuf,
    book: Arc<(Mutex<Book>, Condvar)>,
}

/// A file's text and its records.
#[derive(Debug)]
struct Parsed {
    text: Vec<u8>,
    body: DnsFileBody,
}

/// One switch asked of [`FileDns::set`].
#[derive(Debug)]
struct Switch {
    ticket: u64,
    name: String,
    value: String,
    ttl_s: u32,
}

/// What the handles sharing a file share.
#[derive(Debug, Default)]
struct Book {
    /// The records last read or written; taken by the writer while it writes.
    parsed: Option<Parsed>,
    /// Switches waiting for the next write.
    queue: Vec<Switch>,
    /// Outcomes not yet picked up, by ticket.
    done: HashMap<u64, Result<DnsChange, DnsError>>,
    writing: bool,
    next_ticket: u64,
    /// Files written (for tests).
    writes: u64,
}

impl FileDns {
    pub fn new(path: impl Into<PathBuf>) -> FileDns {
        FileDns {
            path: path.into(),
            book: Arc::default(),
        }
    }

    fn err(&self, msg: impl std::fmt::Display) -> DnsError {
        DnsError::File {
            path: self.path.clone(),
            msg: msg.to_string(),
        }
    }

    fn parse(&self, text: &[u8]) -> Result<DnsFileBody, DnsError> {
        let text = std::str::from_utf8(text).map_err(|e| self.err(e))?;
        if text.trim().is_empty() {
            return Ok(DnsFileBody::default());
        }
        serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            self.err(format!(
                "line {line}: {e} (expected `records: {{name: {{value, ttl_s}}}}`)"
            ))
        })
    }

    /// The file's records as they are on disk now, reusing `cached` when the text is the same.
    fn fresh(&self, cached: Option<Parsed>) -> Result<Parsed, DnsError> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(self.err(e)),
        };
        match cached {
            Some(p) if p.text == text => Ok(p),
            _ => Ok(Parsed {
                body: self.parse(&text)?,
                text,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        // A panic while holding the lock leaves at worst a stale cache, which the text
        // comparison catches.
        self.book.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current(&self, name: &str) -> Result<Option<DnsEntry>, DnsError> {
        let mut book = self.lock();
        let parsed = self.fresh(book.parsed.take())?;
        let entry = parsed.body.records.get(name).map(|r| DnsEntry {
            value: r.value.clone(),
            ttl_s: r.ttl_s,
        });
        if !book.writing {
            book.parsed = Some(parsed);
        }
        Ok(entry)
    }

    /// Point `name` at `value`; returns once that is on disk. Blocks: call it off the async
    /// runtime's threads ([`Dns::set`] does).
    pub fn set(&self, name: &str, value: &str, ttl_s: u32) -> Result<DnsChange, DnsError> {
        let mut book = self.lock();
        let ticket = book.next_ticket;
        book.next_ticket += 1;
        book.queue.push(Switch {
            ticket,
            name: name.to_string(),
            value: value.to_string(),
            ttl_s,
        });
        loop {
            if let Some(r) = book.done.remove(&ticket) {
                return r;
            }
            if book.writing {
                book = self.book.1.wait(book).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Write every switch queued so far, this one among them.
            book.writing = true;
            let batch = std::mem::take(&mut book.queue);
            let cached = book.parsed.take();
            drop(book);
            let (parsed, outcomes) = self.write_batch(cached, batch);
            book = self.lock();
            book.parsed = parsed;
            book.writes += 1;
            book.done.extend(outcomes);
            book.writing = false;
            self.book.1.notify_all();
        }
    }

    /// Apply `batch` in order to the file's records and write them once.
    #[allow(clippy::type_complexity)]
    fn write_batch(
        &self,
        cached: Option<Parsed>,
        batch: Vec<Switch>,
    ) -> (Option<Parsed>, Vec<(u64, Result<DnsChange, DnsError>)>) {
        let mut parsed = match self.fresh(cached) {
            Ok(p) => p,
            Err(e) => {
                let out = batch.iter().map(|s| (s.ticket, Err(e.clone()))).collect();
                return (None, out);
            }
        };
        let at = Utc::now().to_rfc3339();
        let mut changes = Vec::with_capacity(batch.len());
        for s in batch {
            let previous = parsed.body.records.get(&s.name).map(|r| DnsEntry {
                value: r.value.clone(),
                ttl_s: r.ttl_s,
            });
            let unchanged = previous
                .as_ref()
                .is_some_and(|p| p.value == s.value && p.ttl_s == s.ttl_s);
            if !unchanged {
                parsed.body.records.insert(
                    s.name.clone(),
                    FileRecord {
                        value: s.value.clone(),
                        ttl_s: s.ttl_s,
                        updated_at: at.clone(),
                    },
                );
            }
            changes.push((
                s.ticket,
                DnsChange {
                    provider: "file",
                    name: s.name,
                    previous,
                    value: s.value,
                    ttl_s: s.ttl_s,
                    status: if unchanged { "UNCHANGED" } else { "ACTIVE" }.into(),
                    waited_ms: 0,
                    at: at.clone(),
                },
            ));
        }
        if changes.iter().any(|(_, c)| c.status != "UNCHANGED") {
            let text = render(&parsed.body).into_bytes();
            if let Err(e) = write_atomic(&self.path, &text) {
                // Not on disk: every switch of the batch failed, and the records are
                // forgotten (the next call reads the file again).
                let out = changes
                    .into_iter()
                    .map(|(t, _)| (t, Err(self.err(&e))))
                    .collect();
                return (None, out);
            }
            parsed.text = text;
        }
        (
            Some(parsed),
            changes.into_iter().map(|(t, c)| (t, Ok(c))).collect(),
        )
    }
}

/// The file's text: one flow mapping per record, strings double-quoted. Written by hand
/// because serde_yaml's emitter cost ~1 ms per 250 records, paid on every switch.
fn render(body: &DnsFileBody) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(16 + body.records.len() * 96);
    if body.records.is_empty() {
        s.push_str("records: {}\n");
        return s;
    }
    s.push_str("records:\n");
    for (name, r) in &body.records {
        s.push_str("  ");
        push_quoted(&mut s, name);
        s.push_str(": {value: ");
        push_quoted(&mut s, &r.value);
        let _ = write!(s, ", ttl_s: {}, updated_at: ", r.ttl_s);
        push_quoted(&mut s, &r.updated_at);
        s.push_str("}\n");
    }
    s
}

/// `v` as a YAML double-quoted scalar: escapes what YAML does not allow raw in one (quotes,
/// backslashes, control and other non-printable characters).
fn push_quoted(s: &mut String, v: &str) {
    use std::fmt::Write;
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            // Not U+2028/U+2029 (line breaks to YAML 1.1) nor U+FEFF (a byte-order mark).
            '\u{20}'..='\u{7e}'
            | '\u{a0}'..='\u{2027}'
            | '\u{202a}'..='\u{d7ff}'
            | '\u{e000}'..='\u{fefe}'
            | '\u{ff00}'..='\u{fffd}' => s.push(c),
            c if u32::from(c) >= 0x10000 => s.push(c),
            c => {
                let _ = write!(s, "\\u{:04x}", u32::from(c));
            }
        }
    }
    s.push('"');
}

/// Write `bytes` to `path` so that readers see the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(d) = dir {
        std::fs::create_dir_all(d)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(d) = dir {
        if let Ok(f) = std::fs::File::open(d) {
            let _ = f.sync_all();
        }
    }
    Ok(())
}

impl Dns {
    /// The provider `cutover.dns_provider` names: `file` (`cutover.dns_file`) or `huawei`
    /// (zone `cutover.dns_zone_id` at `drs.dns_endpoint`, signed with the DRS credentials).
    pub fn from_config(cfg: &crate::config::Config) -> Result<Dns, String> {
        use crate::config::DnsProvider;
        match cfg.cutover.dns_provider {
            DnsProvider::File => Ok(Dns::File(FileDns::new(&cfg.cutover.dns_file))),
            DnsProvider::Huawei => {
                if cfg.cutover.dns_zone_id.is_empty() {
                    return Err("cutover.dns_provider is huawei but cutover.dns_zone_id is empty: set the private zone id".into());
                }
                let auth =
                    crate::drs::auth::Auth::from_config(&cfg.drs).map_err(|e| e.to_string())?;
                let base_url = if cfg.drs.dns_endpoint.is_empty() {
                    crate::config::huawei_endpoint("dns", &cfg.drs.region)
                } else {
                    cfg.drs.dns_endpoint.trim_end_matches('/').to_string()
                };
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(cfg.drs.timeout_s.max(1)))
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(Dns::Huawei(HuaweiDns {
                    base_url,
                    zone_id: cfg.cutover.dns_zone_id.clone(),
                    project_id: cfg.drs.project_id.clone(),
                    record_type: cfg.cutover.dns_record_type.as_str().to_string(),
                    http,
                    signer: auth,
                    poll_every: Duration::from_secs(2),
                    timeout: Duration::from_secs(cfg.cutover.dns_timeout_s.max(1)),
                    one_at_a_time: Default::default(),
                }))
            }
        }
    }
}

/// A private-zone record set in Huawei Cloud DNS.
pub struct HuaweiDns {
    /// e.g. `https://dns.ap-southeast-1.myhuaweicloud.com` (no trailing slash).
    pub base_url: String,
    pub zone_id: String,
    pub project_id: String,
    /// `A` (records are IPs) or `CNAME` (records are host names ending in `.`).
    pub record_type: String,
    pub http: reqwest::Client,
    /// The DRS credentials: DNS and DRS share one credential and signing path.
    pub signer: crate::drs::auth::Auth,
    pub poll_every: Duration,
    pub timeout: Duration,
    /// Record changes go one at a time: a wave's cutover asks hundreds at once, and each
    /// waits for its record set to become active.
    pub one_at_a_time: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct RecordSet {
    id: String,
    #[serde(default)]
    ttl: Option<u32>,
    #[serde(default)]
    records: Vec<String>,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct RecordSets {
    #[serde(default)]
    recordsets: Vec<RecordSet>,
}

/// Names in a zone are fully qualified: `db01.corp.internal.`.
pub fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// Record-set statuses after which waiting is pointless.
fn is_terminal_failure(status: &str) -> bool {
    matches!(
        status,
        "ERROR" | "ILLEGAL" | "POLICE" | "FREEZE" | "DISABLE"
    )
}

impl HuaweiDns {
    async fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), DnsError> {
        let call = format!(
            "{method} {}",
            path_and_query.split('?').next().unwrap_or("")
        );
        let api = |msg: String| DnsError::Api {
            call: call.clone(),
            msg,
        };
        let url = format!("{}{}", self.base_url, path_and_query);
        // Content-Type on every request, a body or not, as Huawei's SDK sends it.
        let mut rb = self
            .http
            .request(method.clone(), &url)
            .header("X-Project-Id", &self.project_id)
            .header("Content-Type", "application/json");
        if let Some(b) = body {
            let bytes = serde_json::to_vec(&b).map_err(|e| api(e.to_string()))?;
            rb = rb.body(bytes);
        }
        let mut req = rb.build().map_err(|e| api(e.to_string()))?;
        self.signer.sign_request(&mut req).map_err(api)?;
        let resp = self
            .http
            .execute(req)
            .await
            .map_err(|e| api(format!("{e} (check drs.dns_endpoint and the network)")))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| api(e.to_string()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        if status >= 300 {
            let code = json["code"]
                .as_str()
                .or(json["error_code"].as_str())
                .unwrap_or("");
            let msg = json["message"]
                .as_str()
                .or(json["error_msg"].as_str())
                .unwrap_or("");
            return Err(api(format!("HTTP {status} {code} {msg}")));
        }
        Ok((status, json))
    }

    /// The record set for `name` and what it holds.
    async fn current(&self, name: &str) -> Result<Option<(String, DnsEntry)>, DnsError> {
        let q = format!(
            "/v2/zones/{}/recordsets?type={}&name={}&search_mode=equal",
            self.zone_id,
            self.record_type,
            percent_encoding::utf8_percent_encode(&fqdn(name), percent_encoding::NON_ALPHANUMERIC)
        );
        let (_, json) = self.call(reqwest::Method::GET, &q, None).await?;
        let sets: RecordSets = serde_json::from_value(json).map_err(|e| DnsError::Api {
            call: "GET recordsets".into(),
            msg: e.to_string(),
        })?;
        Ok(sets.recordsets.into_iter().next().map(|r| {
            (
                r.id,
                DnsEntry {
                    value: r.records.join(","),
                    ttl_s: r.ttl.unwrap_or(0),
                },
            )
        }))
    }

    async fn set(&self, name: &str, value: &str, ttl_s: u32) -> Result<DnsChange, DnsError> {
        let _one_at_a_time = self.one_at_a_time.lock().await;
        let started = Instant::now();
        let (id, previous) = self.current(name).await?.ok_or_else(|| DnsError::Record {
            name: name.into(),
            msg: format!(
                "no {} record set in zone {}; create it before the cutover night",
                self.record_type, self.zone_id
            ),
        })?;
        let at = Utc::now().to_rfc3339();
        if previous.value == value && previous.ttl_s == ttl_s {
            return Ok(DnsChange {
                provider: "huawei",
                name: name.into(),
                previous: Some(previous),
                value: value.into(),
                ttl_s,
                status: "UNCHANGED".into(),
                waited_ms: 0,
                at,
            });
        }
        let path = format!("/v2/zones/{}/recordsets/{id}", self.zone_id);
        let body = serde_json::json!({
            "name": fqdn(name),
            "type": self.record_type,
            "ttl": ttl_s,
            "records": [value],
            "description": "wavedeck cutover",
        });
        let (_, json) = self.call(reqwest::Method::PUT, &path, Some(body)).await?;
        let mut status = json["status"].as_str().unwrap_or("").to_string();
        while status != "ACTIVE" {
            if is_terminal_failure(&status) {
                return Err(DnsError::Record {
                    name: name.into(),
                    msg: format!("record set {id} went to {status}; check it in the DNS console"),
                });
            }
            if started.elapsed() > self.timeout {
                return Err(DnsError::Record {
                    name: name.into(),
                    msg: format!(
                        "record set {id} still {status} after {}s; the switch may still complete, check before retrying",
                        self.timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(self.poll_every).await;
            let (_, json) = self.call(reqwest::Method::GET, &path, None).await?;
            let rs: RecordSet = serde_json::from_value(json).map_err(|e| DnsError::Api {
                call: "GET recordset".into(),
                msg: e.to_string(),
            })?;
            status = rs.status;
        }
        Ok(DnsChange {
            provider: "huawei",
            name: name.into(),
            previous: Some(previous),
            value: value.into(),
            ttl_s,
            status,
            waited_ms: started.elapsed().as_millis() as u64,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_provider_switches_and_reports_previous() {
        let dir = tempfile::tempdir().unwrap();
        let dns = FileDns::new(dir.path().join("dns.yaml"));
        assert_eq!(dns.current("orders").unwrap(), None);
        let c = dns.set("orders", "127.0.0.1:1000", 5).unwrap();
        assert!(c.previous.is_none());
        assert_eq!(c.status, "ACTIVE");
        let c = dns.set("orders", "127.0.0.1:2000", 5).unwrap();
        assert_eq!(c.previous.unwrap().value, "127.0.0.1:1000");
        assert_eq!(
            dns.current("orders").unwrap().unwrap().value,
            "127.0.0.1:2000"
        );
        let again = dns.set("orders", "127.0.0.1:2000", 5).unwrap();
        assert_eq!(again.status, "UNCHANGED");
        dns.set("billing", "127.0.0.1:3000", 60).unwrap();
        assert_eq!(dns.current("orders").unwrap().unwrap().ttl_s, 5);
    }

    #[test]
    fn file_provider_sees_changes_made_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dns.yaml");
        let dns = FileDns::new(&p);
        dns.set("orders", "127.0.0.1:1000", 5).unwrap();
        // Another process (or an operator) rewrites the file, in the older block style.
        std::fs::write(
            &p,
            "records:\n  orders:\n    value: 127.0.0.1:7000\n    ttl_s: 9\n  billing:\n    value: 127.0.0.1:8000\n    ttl_s: 5\n",
        )
        .unwrap();
        let c = dns.set("orders", "127.0.0.1:2000", 5).unwrap();
        assert_eq!(c.previous.unwrap().value, "127.0.0.1:7000");
        assert_eq!(
            dns.current("billing").unwrap().unwrap().value,
            "127.0.0.1:8000"
        );
        // A second handle (the workload's) reads what the first wrote.
        let other = FileDns::new(&p);
        assert_eq!(
            other.current("orders").unwrap().unwrap().value,
            "127.0.0.1:2000"
        );
        let odd = "a\u{2028}b\u{85}c\u{feff}\"\\\r\u{7f}: #{x} 'y' \u{10ffff}";
        dns.set(odd, odd, 5).unwrap();
        assert_eq!(FileDns::new(&p).current(odd).unwrap().unwrap().value, odd);
        std::fs::remove_file(&p).unwrap();
        assert_eq!(dns.current("orders").unwrap(), None);
        std::fs::write(&p, "records: [").unwrap();
        assert!(dns.set("orders", "127.0.0.1:3000", 5).is_err());
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "records: [",
            "a file that does not parse is left alone"
        );
    }

    #[test]
    fn concurrent_switches_all_land_and_share_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dns.yaml");
        let dns = FileDns::new(&p);
        let n = 48;
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let d = dns.clone();
                std::thread::spawn(move || {
                    d.set(&format!("db{i:02}"), &format!("127.0.0.1:{}", 1000 + i), 5)
                })
            })
            .collect();
        for t in threads {
            let c = t.join().unwrap().unwrap();
            assert_eq!(c.status, "ACTIVE");
            assert!(c.previous.is_none());
        }
        let fresh = FileDns::new(&p);
        for i in 0..n {
            assert_eq!(
                fresh.current(&format!("db{i:02}")).unwrap().unwrap().value,
                format!("127.0.0.1:{}", 1000 + i)
            );
        }
        let book = dns.lock();
        assert!((1..=n as u64).contains(&book.writes), "{}", book.writes);
        assert!(book.queue.is_empty() && book.done.is_empty() && !book.writing);
    }

    #[test]
    fn a_failed_write_fails_the_switch_and_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let dns = FileDns::new(blocker.join("dns.yaml"));
        let e = dns.set("orders", "127.0.0.1:1000", 5).unwrap_err();
        assert!(e.to_string().contains("not-a-dir"), "{e}");
        assert_eq!(dns.current("orders").ok().flatten(), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// The hand-written YAML reads back as the records it was written from, whatever the
        /// names and values hold.
        #[test]
        fn rendered_file_parses_back(
            recs in proptest::collection::btree_map(
                proptest::prelude::any::<String>(),
                (proptest::prelude::any::<String>(), proptest::prelude::any::<u32>(), "\\PC{0,12}"),
                0..6,
            )
        ) {
            let body = DnsFileBody {
                records: recs
                    .into_iter()
                    .map(|(k, (value, ttl_s, updated_at))| (k, FileRecord { value, ttl_s, updated_at }))
                    .collect(),
            };
            let text = render(&body);
            let back: DnsFileBody = match serde_yaml::from_str(&text) {
                Ok(b) => b,
                Err(e) => return Err(proptest::test_runner::TestCaseError::fail(format!("{e}: {text}"))),
            };
            proptest::prop_assert_eq!(back.records.len(), body.records.len());
            for ((k1, r1), (k2, r2)) in body.records.iter().zip(&back.records) {
                proptest::prop_assert_eq!(k1, k2);
                proptest::prop_assert_eq!((&r1.value, r1.ttl_s, &r1.updated_at), (&r2.value, r2.ttl_s, &r2.updated_at));
            }
        }
    }

    #[test]
    fn broken_file_names_path_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dns.yaml");
        std::fs::write(&p, "records:\n  orders: [1, 2\n").unwrap();
        let err = FileDns::new(&p).current("orders").unwrap_err().to_string();
        assert!(err.contains("dns.yaml"), "{err}");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn provider_from_config_explains_what_is_missing() {
        let mut cfg = crate::config::Config::default();
        assert_eq!(Dns::from_config(&cfg).unwrap().kind(), "file");
        cfg.cutover.dns_provider = crate::config::DnsProvider::Huawei;
        let e = Dns::from_config(&cfg).err().unwrap();
        assert!(e.contains("cutover.dns_zone_id"), "{e}");
    }

    #[test]
    fn names_are_fully_qualified() {
        assert_eq!(fqdn("db01.corp.internal"), "db01.corp.internal.");
        assert_eq!(fqdn("db01.corp.internal."), "db01.corp.internal.");
        assert!(is_terminal_failure("ERROR"));
        assert!(!is_terminal_failure("PENDING_UPDATE"));
    }

    /// The Huawei provider against the DRS emulator's Cloud DNS (the one rehearsals run),
    /// in process, signed with the DRS credentials.
    #[tokio::test]
    async fn huawei_switch_waits_for_active_and_is_signed() {
        use crate::drs::auth::Auth;
        let mut cfg = crate::config::Config::default();
        // 5 emulated seconds of PENDING_UPDATE pass in about 5 ms.
        cfg.emulator.speed = 1000.0;
        let h = crate::rehearsal::drs_emulator::spawn_with(
            &cfg,
            "127.0.0.1:0".parse().unwrap(),
            Auth::aksk("AK1", "SK-secret"),
        )
        .await
        .unwrap();
        let zone = "zone1";
        let id = h
            .dns_create(zone, "db01.corp.internal.", "A", &["10.0.0.1"], 300)
            .unwrap();
        let provider = |sk: &str| {
            Dns::Huawei(HuaweiDns {
                base_url: h.base_url(),
                zone_id: zone.into(),
                project_id: h.project_id.clone(),
                record_type: "A".into(),
                http: reqwest::Client::new(),
                signer: Auth::aksk("AK1", sk),
                poll_every: Duration::from_millis(10),
                timeout: Duration::from_secs(5),
                one_at_a_time: Default::default(),
            })
        };
        let dns = provider("SK-secret");

        let now = dns.current("db01.corp.internal").await.unwrap().unwrap();
        assert_eq!(now.value, "10.0.0.1");
        assert_eq!(now.ttl_s, 300);
        let change = dns.set("db01.corp.internal", "10.0.0.2", 60).await.unwrap();
        assert_eq!(change.status, "ACTIVE");
        assert_eq!(change.previous.unwrap().ttl_s, 300);
        let r = h.dns_record(zone, &id).unwrap();
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

        let wrong = provider("not-the-key");
        let err = wrong
            .current("db01.corp.internal")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("401") && err.contains("APIG.0301"), "{err}");
        assert!(!err.contains("not-the-key"), "{err}");
        h.shutdown().await;
    }
}
