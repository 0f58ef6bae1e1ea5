//! What a cutover of one database works with, whatever its engine: the context ([`CutoverCtx`]:
//! sides, mover, DNS, limits), the error type, the step outcome, and the parts of the steps both
//! engines share (the DNS switch, the quick verdict, hypercare, intents). The engine-specific
//! steps are in `postgres::steps` and `mysql::steps`.

use super::dns_provider::{Dns, DnsError};
use super::quick;
use super::side::{Side, SideError};
use super::steps::{CutoverStep, RollbackAction};
use crate::inventory::Engine;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Native replication names (the lab's data mover, and the emulator's native mode). With DRS as
/// the mover the engine drives the job; these names then stay unused. PostgreSQL: publication,
/// subscription and slots. MySQL / MariaDB: `subscription` names the replication connection on
/// the target (`CHANGE MASTER 'name'`), `reverse` the one the source gets at rollback.
#[derive(Clone, Debug)]
pub struct NativeMover {
    /// Publication on the source.
    pub publication: String,
    /// Subscription on the target; its slot on the source has the same name.
    pub subscription: String,
    /// Name of the reverse publication, slot and subscription used by rollback.
    pub reverse: String,
}

impl NativeMover {
    /// Names derived from the database id, valid identifiers (lowercase, `_`).
    pub fn for_db(db_id: &str) -> NativeMover {
        let base: String = db_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        NativeMover {
            publication: format!("wd_pub_{base}"),
            subscription: format!("wd_sub_{base}"),
            reverse: format!("wd_rev_{base}"),
        }
    }
}

/// What moves the data while the source still takes writes: it says where "what the target
/// applied" is read at the final sync, and what is released before the target takes writes.
#[derive(Clone, Debug)]
pub enum Mover {
    /// Native logical replication wavedeck set up itself (the lab's `lab cutover`).
    Native(NativeMover),
    /// DRS (the engine's cutover). PostgreSQL: DRS reads a logical replication slot on the
    /// source; `slot` is its name (inventory `extra.replication_slot`), `None`: the only logical
    /// slot of the source database, found on the server at each step. A subscription on the
    /// target reading that slot (the lab, the emulator's native mode) is released at writes-on
    /// like the native mover's; with real DRS there is none, terminating the job released it.
    /// MySQL: DRS reads the binary log and nothing on the servers names it (`slot` unused); a
    /// GTID replica connection on the target reading the source (the lab under an emulated job)
    /// is found and released the same way. `reverse` names the way back (rollback).
    Drs {
        slot: Option<String>,
        reverse: String,
    },
}

impl Mover {
    /// The mover of a database whose data DRS moves, with the reverse names of `db_id`.
    pub fn drs(db_id: &str, slot: Option<String>) -> Mover {
        Mover::Drs {
            slot,
            reverse: NativeMover::for_db(db_id).reverse,
        }
    }

    /// Name of the reverse publication, slot and subscription a rollback uses.
    pub fn reverse(&self) -> &str {
        match self {
            Mover::Native(m) => &m.reverse,
            Mover::Drs { reverse, .. } => reverse,
        }
    }
}

impl From<NativeMover> for Mover {
    fn from(m: NativeMover) -> Mover {
        Mover::Native(m)
    }
}

/// Everything a cutover of one database needs.
pub struct CutoverCtx {
    pub db_id: String,
    /// Whose server calls the steps make: `run_step` and friends dispatch on it (MySQL and
    /// MariaDB both are `Engine::Mysql`; the server's version picks the statements).
    pub engine: Engine,
    pub source: Side,
    pub target: Side,
    pub mover: Mover,
    /// The DNS provider, shared: the engine builds one for all its databases.
    pub dns: std::sync::Arc<Dns>,
    /// The service name applications resolve.
    pub dns_name: String,
    /// What the name holds while the source serves (file provider: `host:port`).
    pub dns_source_value: String,
    /// What it holds once the target serves.
    pub dns_target_value: String,
    pub dns_ttl_s: u32,
    pub drain_grace: Duration,
    pub sync_timeout: Duration,
    pub max_lag_s: f64,
    /// `schema.table` names (or `*`) checksummed at the final quick validation.
    pub checksum_tables: Vec<String>,
    /// When given, step 4 also runs the validation gate (`validate::run_validation`, final
    /// mode) on the checksum tables: chunked checksums, smoke tests and rules of the runbook.
    pub validation: Option<(crate::inventory::DatabaseSpec, crate::validate::Runbook)>,
    /// Guard failures computed by the lifecycle guards from the store (window closed, not
    /// approved, validation too old, another cutover in flight). Empty = those guards pass.
    pub blockers: Vec<String>,
    pub hypercare_hours: u32,
    /// The database migrates offline (inventory `mode: offline`): one full load after the drain
    /// moves its data and nothing streams, so the guards look for no replication and no final
    /// sync runs; the MySQL way back is keyed on the drained source's position instead of a
    /// final sync marker.
    pub offline: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    #[error("cutover of {db} blocked: {}", .reasons.join("; "))]
    Blocked { db: String, reasons: Vec<String> },
    /// A PostgreSQL server refused or failed (the error names the side and the database).
    #[error(transparent)]
    Postgres(SideError),
    /// A MySQL / MariaDB server refused or failed.
    #[error(transparent)]
    Mysql(SideError),
    #[error(transparent)]
    Dns(#[from] DnsError),
    #[error("{db}: final sync not reached: {msg}")]
    Sync { db: String, msg: String },
    #[error("{db}: quick validation found differences: {}", .differences.join("; "))]
    Validation {
        db: String,
        differences: Vec<String>,
    },
    #[error("{db}: smoke test through {endpoint} failed: {msg}")]
    Smoke {
        db: String,
        endpoint: String,
        msg: String,
    },
    #[error("{db}: {msg}")]
    Unsafe { db: String, msg: String },
}

impl CutoverError {
    /// Whether retrying the same step can help (a guard or a data difference needs a human).
    pub fn retryable(&self) -> bool {
        !matches!(
            self,
            CutoverError::Blocked { .. }
                | CutoverError::Validation { .. }
                | CutoverError::Unsafe { .. }
        )
    }
}

/// What a step did, for the `step.outcome` event and the evidence pack.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepOutcome {
    pub step: String,
    pub detail: Value,
    pub ms: u64,
}

impl CutoverCtx {
    /// An error of the source's server, with either side's password scrubbed.
    pub(super) fn src_err(&self, e: impl std::fmt::Display) -> CutoverError {
        self.engine_err(self.source.err("source", self.scrub(e)))
    }
    /// An error of the target's server, with either side's password scrubbed.
    pub(super) fn tgt_err(&self, e: impl std::fmt::Display) -> CutoverError {
        self.engine_err(self.target.err("target", self.scrub(e)))
    }
    /// A server error, named for the engine it came from.
    pub(super) fn engine_err(&self, e: SideError) -> CutoverError {
        match self.engine {
            Engine::Postgres => CutoverError::Postgres(e),
            Engine::Mysql => CutoverError::Mysql(e),
        }
    }
    /// Error text of either side may quote the other's password: a subscription's connection
    /// string carries the publisher's.
    fn scrub(&self, e: impl std::fmt::Display) -> String {
        let secrets: Vec<&crate::secret::Secret> = [&self.source.password, &self.target.password]
            .into_iter()
            .flatten()
            .collect();
        crate::secret::redact(&e.to_string(), &secrets)
    }

    /// The endpoint applications reach through the service name now: smoke tests go there, so
    /// they test the switch itself, not just the target.
    pub(super) async fn resolved_target(&self) -> Result<Side, CutoverError> {
        let entry = self.dns.current(&self.dns_name).await?;
        let value = entry.map(|e| e.value).unwrap_or_default();
        if value != self.dns_target_value {
            return Err(CutoverError::Smoke {
                db: self.db_id.clone(),
                endpoint: self.dns_name.clone(),
                msg: format!(
                    "the name resolves to {value:?}, not the target {:?}",
                    self.dns_target_value
                ),
            });
        }
        Ok(match split_host_port(&value) {
            Some((h, p)) => Side {
                host: h,
                port: p,
                ..self.target.clone()
            },
            None => Side {
                host: value,
                ..self.target.clone()
            },
        })
    }

    /// What a step is about to do, written as the intent before it runs.
    pub fn intent(&self, step: CutoverStep) -> Value {
        json!({
            "step": step.as_str(),
            "does": step.describe(),
            "db_id": self.db_id,
            "engine": self.engine.as_str(),
            "source": self.source.endpoint(),
            "target": self.target.endpoint(),
            "dns_name": self.dns_name,
            "dns_provider": self.dns.kind(),
        })
    }

    pub fn rollback_intent(&self, action: RollbackAction) -> Value {
        json!({
            "step": action.as_str(),
            "does": action.describe(),
            "db_id": self.db_id,
            "source": self.source.endpoint(),
            "target": self.target.endpoint(),
        })
    }
}

fn split_host_port(v: &str) -> Option<(String, u16)> {
    let (h, p) = v.rsplit_once(':')?;
    Some((h.to_string(), p.parse().ok()?))
}

/// Whether the service name points at the target with the planned TTL.
pub(super) async fn dns_switched(ctx: &CutoverCtx) -> Result<bool, CutoverError> {
    Ok(ctx
        .dns
        .current(&ctx.dns_name)
        .await?
        .is_some_and(|e| e.value == ctx.dns_target_value && e.ttl_s == ctx.dns_ttl_s))
}

/// Point the service name at the target (`back`: at the source again).
pub(super) async fn dns_switch(ctx: &CutoverCtx, back: bool) -> Result<Value, CutoverError> {
    let value = if back {
        &ctx.dns_source_value
    } else {
        &ctx.dns_target_value
    };
    let change = ctx.dns.set(&ctx.dns_name, value, ctx.dns_ttl_s).await?;
    Ok(json!({ "dns": change }))
}

/// The hypercare outcome: the rollback window and the source kept.
pub(super) fn hypercare_detail(ctx: &CutoverCtx, source_fenced_since: Value) -> Value {
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::hours(i64::from(ctx.hypercare_hours));
    json!({
        "hypercare_from": now.to_rfc3339(),
        "rollback_until": until.to_rfc3339(),
        "source_kept": ctx.source.endpoint(),
        "source_read_only_since": source_fenced_since,
    })
}

pub(super) fn source_reopened(ctx: &CutoverCtx) -> CutoverError {
    CutoverError::Unsafe {
        db: ctx.db_id.clone(),
        msg: "the source is writable again during hypercare; it must stay read-only \
              and intact for the rollback window (check who changed it)"
            .into(),
    }
}

/// The outcome of `work` named `name`, with how long it took.
pub(super) async fn timed(
    name: &str,
    work: impl std::future::Future<Output = Result<Value, CutoverError>>,
) -> Result<StepOutcome, CutoverError> {
    let started = Instant::now();
    let detail = work.await?;
    Ok(StepOutcome {
        step: name.into(),
        detail,
        ms: started.elapsed().as_millis() as u64,
    })
}

/// Step 4's verdict from the quick figures of either engine, plus the validation gate when the
/// context carries one.
pub(super) async fn quick_verdict(
    ctx: &CutoverCtx,
    r: quick::QuickReport,
) -> Result<Value, CutoverError> {
    let mut differences = r.differences.clone();
    let mut detail = json!({
        "tables": r.tables.len(), "checksummed": r.checksummed, "ms": r.ms, "counts": r.tables,
    });
    if let Some((spec, runbook)) = &ctx.validation {
        let only =
            (!ctx.checksum_tables.iter().any(|t| t == "*")).then(|| ctx.checksum_tables.clone());
        let opts = crate::validate::ValidateOptions {
            tables: only,
            ..Default::default()
        };
        let report = crate::validate::run_validation(spec, runbook, &opts).await;
        if !report.passed() {
            differences.push(format!("validation gate: {}", report.summary()));
            differences.extend(report.errors.iter().cloned());
        }
        detail["gate"] = json!({
            "passed": report.passed(),
            "summary": report.summary(),
            "report": report,
        });
    }
    if !differences.is_empty() {
        return Err(CutoverError::Validation {
            db: ctx.db_id.clone(),
            differences,
        });
    }
    Ok(detail)
}

pub(super) async fn dns_switched_back(ctx: &CutoverCtx) -> Result<bool, CutoverError> {
    Ok(ctx
        .dns
        .current(&ctx.dns_name)
        .await?
        .is_some_and(|e| e.value == ctx.dns_source_value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mover_names_are_safe_identifiers() {
        let m = NativeMover::for_db("Orders-DB.01");
        assert_eq!(m.publication, "wd_pub_orders_db_01");
        assert_eq!(m.subscription, "wd_sub_orders_db_01");
        assert_eq!(m.reverse, "wd_rev_orders_db_01");
    }

    #[test]
    fn endpoints_split() {
        assert_eq!(
            split_host_port("127.0.0.1:5433"),
            Some(("127.0.0.1".into(), 5433))
        );
        assert_eq!(split_host_port("rds.internal"), None);
    }

    #[test]
    fn errors_never_carry_either_password() {
        let mut source = Side::new("10.0.0.1", 5432, "app", "orders");
        source.password = Some(crate::secret::Secret::new("src-pw-123"));
        let mut target = Side::new("10.1.0.1", 5432, "app", "orders");
        target.password = Some(crate::secret::Secret::new("tgt-pw-456"));
        let ctx = CutoverCtx {
            db_id: "orders".into(),
            engine: Engine::Postgres,
            dns_source_value: source.endpoint(),
            dns_target_value: target.endpoint(),
            source,
            target,
            mover: Mover::drs("orders", None),
            dns: Dns::File(super::super::dns_provider::FileDns::new(
                "/nonexistent/dns.yaml",
            ))
            .into(),
            dns_name: "orders.db.internal".into(),
            dns_ttl_s: 60,
            drain_grace: Duration::from_secs(1),
            sync_timeout: Duration::from_secs(1),
            max_lag_s: 5.0,
            checksum_tables: vec![],
            validation: None,
            blockers: vec![],
            hypercare_hours: 72,
            offline: false,
        };
        let e = ctx
            .src_err("subscription failed: host=10.1.0.1 password='tgt-pw-456' (src-pw-123)")
            .to_string();
        assert!(
            !e.contains("tgt-pw-456") && !e.contains("src-pw-123"),
            "{e}"
        );
        assert!(e.starts_with("source 10.0.0.1:5432/orders"), "{e}");
        assert_eq!(ctx.mover.reverse(), "wd_rev_orders");
    }

    #[test]
    fn guards_and_data_differences_are_not_retried() {
        let b = CutoverError::Blocked {
            db: "a".into(),
            reasons: vec!["lag 12.4 s > 5 s".into(), "window opens 01:00".into()],
        };
        assert!(!b.retryable());
        assert_eq!(
            b.to_string(),
            "cutover of a blocked: lag 12.4 s > 5 s; window opens 01:00"
        );
        let s = CutoverError::Sync {
            db: "a".into(),
            msg: "x".into(),
        };
        assert!(s.retryable());
    }
}
