//! Running one cutover step or one rollback action against real servers. The engine (or the
//! lab driver) records intent before and outcome after each call; this module only acts and
//! reports. Every function here is idempotent, so a driver restarted after `kill -9` simply
//! asks [`is_done`] and, if not, runs the step again.

use super::dns_provider::{Dns, DnsError};
use super::postgres::ops::{self as pg, PgError, PgSide, SubscriptionStart};
use super::quick;
use super::steps::{RollbackAction, Step};
use crate::inventory::Engine;
use serde_json::{json, Value};
use sqlx::postgres::PgConnection;
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

/// The mover as the servers show it at one step.
struct Route {
    /// The slot on the source whose `confirmed_flush_lsn` says what the target applied; `None`
    /// when it no longer exists (released).
    slot: Option<String>,
    /// A subscription on the target reading that slot, when one exists.
    subscription: Option<String>,
}

/// Everything a cutover of one database needs.
pub struct CutoverCtx {
    pub db_id: String,
    /// Whose server calls the steps make: `run_step` and friends dispatch on it (MySQL and
    /// MariaDB both are `Engine::Mysql`; the server's version picks the statements).
    pub engine: Engine,
    pub source: PgSide,
    pub target: PgSide,
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
}

#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    #[error("cutover of {db} blocked: {}", .reasons.join("; "))]
    Blocked { db: String, reasons: Vec<String> },
    #[error(transparent)]
    Pg(#[from] PgError),
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
    async fn src(&self) -> Result<PgConnection, CutoverError> {
        Ok(self.source.connect_admin("source").await?)
    }
    async fn tgt(&self) -> Result<PgConnection, CutoverError> {
        Ok(self.target.connect_admin("target").await?)
    }
    fn src_err(&self, e: impl std::fmt::Display) -> CutoverError {
        CutoverError::Pg(self.source.err("source", self.scrub(e)))
    }
    fn tgt_err(&self, e: impl std::fmt::Display) -> CutoverError {
        CutoverError::Pg(self.target.err("target", self.scrub(e)))
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

    /// Find the mover on the servers: its slot on the source and a subscription reading it.
    async fn route(
        &self,
        s: &mut PgConnection,
        t: &mut PgConnection,
    ) -> Result<Route, CutoverError> {
        let named = match &self.mover {
            Mover::Native(m) => Some(m.subscription.clone()),
            Mover::Drs { slot, .. } => slot.clone(),
        };
        let slot = match named {
            Some(n) => pg::slot_exists(s, &n)
                .await
                .map_err(|e| self.src_err(e))?
                .then_some(n),
            None => {
                let all = pg::logical_slots(s, &self.source.database)
                    .await
                    .map_err(|e| self.src_err(e))?;
                if all.len() > 1 {
                    return Err(CutoverError::Unsafe {
                        db: self.db_id.clone(),
                        msg: format!(
                            "the source database has {} logical replication slots ({}): name the \
                             one DRS reads in the inventory (extra.replication_slot)",
                            all.len(),
                            all.join(", ")
                        ),
                    });
                }
                all.into_iter().next()
            }
        };
        let subscription = match (&self.mover, &slot) {
            (Mover::Native(m), _) => pg::subscription_exists(t, &m.subscription)
                .await
                .map_err(|e| self.tgt_err(e))?
                .then(|| m.subscription.clone()),
            (Mover::Drs { .. }, Some(sl)) => pg::subscription_for_slot(t, sl)
                .await
                .map_err(|e| self.tgt_err(e))?,
            (Mover::Drs { .. }, None) => None,
        };
        Ok(Route { slot, subscription })
    }

    /// The endpoint applications reach through the service name now: smoke tests go there, so
    /// they test the switch itself, not just the target.
    pub(super) async fn resolved_target(&self) -> Result<PgSide, CutoverError> {
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
            Some((h, p)) => PgSide {
                host: h,
                port: p,
                ..self.target.clone()
            },
            None => PgSide {
                host: value,
                ..self.target.clone()
            },
        })
    }

    /// What a step is about to do, written as the intent before it runs.
    pub fn intent(&self, step: Step) -> Value {
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

/// Whether `step`'s effect is already in place (used on resume when an intent has no outcome).
/// Checks that only read return `false`: running them again is cheap and gives fresh evidence.
/// Both engines share this shape; only the drain is read from the servers their own way.
pub async fn is_done(step: Step, ctx: &CutoverCtx) -> Result<bool, CutoverError> {
    match step {
        // Step 6 ends with smoke tests through the new endpoint: running it again is cheap and
        // is the only way to get that evidence for a run that died half-way.
        Step::Guards
        | Step::FinalSync
        | Step::QuickValidation
        | Step::TargetWritesOn
        | Step::Hypercare => Ok(false),
        Step::DrainSource => match ctx.engine {
            Engine::Postgres => {
                let mut s = ctx.src().await?;
                Ok(pg::drained_at(&mut s, &ctx.source.database)
                    .await
                    .map_err(|e| ctx.src_err(e))?
                    .is_some())
            }
            Engine::Mysql => super::mysql::steps::source_drained(ctx).await,
        },
        Step::DnsSwitch => dns_switched(ctx).await,
    }
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

/// Run one cutover step. Safe to call again after success or after a crash inside it.
pub async fn run_step(step: Step, ctx: &CutoverCtx) -> Result<StepOutcome, CutoverError> {
    timed(step.as_str(), async {
        match ctx.engine {
            Engine::Postgres => pg_step(step, ctx).await,
            Engine::Mysql => super::mysql::steps::step(step, ctx).await,
        }
    })
    .await
}

/// The outcome of `work` named `name`, with how long it took.
async fn timed(
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

/// The PostgreSQL part of [`run_step`]: what the step did, as evidence.
async fn pg_step(step: Step, ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    Ok(match step {
        Step::Guards => guards(ctx).await?,
        Step::DrainSource => {
            let mut s = ctx.src().await?;
            let r = pg::drain(&mut s, &ctx.source.database, ctx.drain_grace)
                .await
                .map_err(|e| ctx.src_err(e))?;
            json!({"drain": r, "grace_s": ctx.drain_grace.as_secs()})
        }
        Step::FinalSync => final_sync(ctx).await?,
        Step::QuickValidation => quick_validation(ctx).await?,
        Step::DnsSwitch => dns_switch(ctx, false).await?,
        Step::TargetWritesOn => target_writes_on(ctx).await?,
        Step::Hypercare => {
            let mut s = ctx.src().await?;
            let drained = pg::drained_at(&mut s, &ctx.source.database)
                .await
                .map_err(|e| ctx.src_err(e))?;
            if drained.is_none() {
                return Err(source_reopened(ctx));
            }
            hypercare_detail(ctx, json!(drained))
        }
    })
}

async fn guards(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut reasons = ctx.blockers.clone();
    let mut s = ctx.src().await?;
    let mut t = ctx.tgt().await?;
    let route = ctx.route(&mut s, &mut t).await?;
    let native = match &ctx.mover {
        Mover::Native(m) => Some(m.subscription.clone()),
        Mover::Drs { .. } => route.subscription.clone(),
    };
    let detail = if let Some(sub) = native {
        // Replication wavedeck can see from both ends: worker, initial copy and lag measured.
        let lag = pg::measure_lag(&mut s, &mut t, &sub, route.slot.as_deref().unwrap_or(&sub))
            .await
            .map_err(|e| ctx.src_err(e))?;
        let lag_s = lag.millis as f64 / 1000.0;
        if !lag.subscriber.worker_running {
            reasons.push(format!(
                "replication worker of {sub} is not running on the target"
            ));
        } else if !lag.in_cdc() {
            reasons.push(format!(
                "initial copy not finished ({} of {} tables)",
                lag.subscriber.tables_total - lag.subscriber.tables_not_ready,
                lag.subscriber.tables_total
            ));
        }
        if lag_s > ctx.max_lag_s {
            reasons.push(format!("lag {lag_s:.1} s > {} s", ctx.max_lag_s));
        }
        json!({"lag_s": lag_s, "lag_bytes": lag.bytes, "max_lag_s": ctx.max_lag_s, "subscription": sub})
    } else if let Some(slot) = &route.slot {
        // DRS applies on the target by itself: what the source shows is its slot. The lag in
        // seconds is DRS's own figure, among the lifecycle guards in `blockers`.
        let active = pg::slot_active(&mut s, slot)
            .await
            .map_err(|e| ctx.src_err(e))?
            .unwrap_or(false);
        if !active {
            reasons.push(format!(
                "nothing reads replication slot {slot} on the source (is the DRS job running?)"
            ));
        }
        let at = pg::flush_lsn(&mut s).await.map_err(|e| ctx.src_err(e))?;
        let confirmed = pg::slot_confirmed_lsn(&mut s, slot)
            .await
            .map_err(|e| ctx.src_err(e))?;
        let bytes = match &confirmed {
            Some(c) => pg::lsn_diff(&mut s, &at, c)
                .await
                .map_err(|e| ctx.src_err(e))?
                .max(0),
            None => -1,
        };
        json!({"slot": slot, "slot_active": active, "source_lsn": at, "confirmed_lsn": confirmed, "lag_bytes": bytes})
    } else {
        reasons.push(format!(
            "no logical replication slot of {} on the source: nothing replicates it (is the DRS job running?)",
            ctx.source.database
        ));
        Value::Null
    };
    if !reasons.is_empty() {
        return Err(CutoverError::Blocked {
            db: ctx.db_id.clone(),
            reasons,
        });
    }
    Ok(detail)
}

async fn quick_validation(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut s = ctx.src().await?;
    let mut t = ctx.tgt().await?;
    // DRS lifts the target's read-only when its job is terminated. Applications must not write
    // there before step 6 carried the sequences and prepared the way back, and the figures
    // below are exact only while both sides are read-only.
    let tdb = &ctx.target.database;
    if !pg::db_read_only(&mut t, tdb)
        .await
        .map_err(|e| ctx.tgt_err(e))?
    {
        pg::set_db_read_only(&mut t, tdb, true)
            .await
            .map_err(|e| ctx.tgt_err(e))?;
    }
    let r = quick::quick_compare(&mut s, &mut t, &ctx.checksum_tables)
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    quick_verdict(ctx, r).await
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

async fn final_sync(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut s = ctx.src().await?;
    if pg::drained_at(&mut s, &ctx.source.database)
        .await
        .map_err(|e| ctx.src_err(e))?
        .is_none()
    {
        return Err(CutoverError::Unsafe {
            db: ctx.db_id.clone(),
            msg: "final sync needs a drained source (step 2 first)".into(),
        });
    }
    let mut t = ctx.tgt().await?;
    let route = ctx.route(&mut s, &mut t).await?;
    let Some(slot) = route.slot else {
        return Err(CutoverError::Sync {
            db: ctx.db_id.clone(),
            msg: format!(
                "no logical replication slot of {} on the source: what the target applied \
                 cannot be read (was the DRS job terminated before the final sync?)",
                ctx.source.database
            ),
        });
    };
    let sub = route.subscription.as_deref();
    let r = pg::wait_caught_up(
        &mut s,
        sub.map(|sub| (&mut t, sub)),
        &slot,
        ctx.sync_timeout,
    )
    .await
    .map_err(|msg| CutoverError::Sync {
        db: ctx.db_id.clone(),
        msg,
    })?;
    Ok(json!({"sync": r, "slot": slot}))
}

async fn target_writes_on(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut s = ctx.src().await?;
    let mut t = ctx.tgt().await?;
    let tdb = ctx.target.database.clone();
    let mut detail = serde_json::Map::new();
    // Release the mover, after making sure once more that it delivered everything: a resumed
    // run may come here long after the final sync. With DRS, terminating the job released it.
    let route = ctx.route(&mut s, &mut t).await?;
    if let (Some(sub), Some(slot)) = (&route.subscription, &route.slot) {
        let r = pg::wait_caught_up(&mut s, None, slot, ctx.sync_timeout)
            .await
            .map_err(|msg| CutoverError::Sync {
                db: ctx.db_id.clone(),
                msg,
            })?;
        detail.insert("last_sync".into(), json!(r));
        pg::drop_subscription(&mut t, sub)
            .await
            .map_err(|e| ctx.tgt_err(e))?;
        detail.insert("replication_released".into(), json!(sub));
    }
    let moved = pg::carry_sequences(&mut s, &mut t)
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    detail.insert("sequences_moved".into(), json!(moved));
    // Prepare the way back before the first write lands: the reverse slot must exist before the
    // target takes writes, or a rollback could not bring them back.
    pg::create_publication(&mut t, ctx.mover.reverse())
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    pg::create_slot(&mut t, ctx.mover.reverse())
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    detail.insert("reverse_slot".into(), json!(ctx.mover.reverse()));
    pg::set_db_read_only(&mut t, &tdb, false)
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    pg::clear_drained(&mut t, &tdb)
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    let via = ctx.resolved_target().await?;
    let smoke = pg::smoke_write(&via)
        .await
        .map_err(|e| CutoverError::Smoke {
            db: ctx.db_id.clone(),
            endpoint: via.endpoint(),
            msg: via.err("target", e).msg,
        })?;
    detail.insert("smoke".into(), smoke);
    Ok(Value::Object(detail))
}

/// Whether a rollback action's effect is already in place.
pub async fn rollback_is_done(
    action: RollbackAction,
    ctx: &CutoverCtx,
) -> Result<bool, CutoverError> {
    match (action, ctx.engine) {
        (RollbackAction::DnsBack, _) => dns_switched_back(ctx).await,
        (_, Engine::Mysql) => super::mysql::steps::rollback_is_done(action, ctx).await,
        (RollbackAction::DrainTarget, Engine::Postgres) => {
            let mut t = ctx.tgt().await?;
            Ok(pg::drained_at(&mut t, &ctx.target.database)
                .await
                .map_err(|e| ctx.tgt_err(e))?
                .is_some())
        }
        (RollbackAction::ReverseSync, Engine::Postgres) => {
            let mut t = ctx.tgt().await?;
            let mut s = ctx.src().await?;
            let slot = pg::slot_exists(&mut t, ctx.mover.reverse())
                .await
                .map_err(|e| ctx.tgt_err(e))?;
            let sub = pg::subscription_exists(&mut s, ctx.mover.reverse())
                .await
                .map_err(|e| ctx.src_err(e))?;
            Ok(!slot && !sub)
        }
        (RollbackAction::SourceWritesOn, Engine::Postgres) => {
            let mut s = ctx.src().await?;
            Ok(!pg::db_read_only(&mut s, &ctx.source.database)
                .await
                .map_err(|e| ctx.src_err(e))?)
        }
    }
}

pub(super) async fn dns_switched_back(ctx: &CutoverCtx) -> Result<bool, CutoverError> {
    Ok(ctx
        .dns
        .current(&ctx.dns_name)
        .await?
        .is_some_and(|e| e.value == ctx.dns_source_value))
}

/// Run one rollback action. Safe to call again after success or a crash inside it.
pub async fn run_rollback(
    action: RollbackAction,
    ctx: &CutoverCtx,
) -> Result<StepOutcome, CutoverError> {
    timed(action.as_str(), async {
        match ctx.engine {
            Engine::Postgres => pg_rollback(action, ctx).await,
            Engine::Mysql => super::mysql::steps::rollback(action, ctx).await,
        }
    })
    .await
}

/// The PostgreSQL part of [`run_rollback`].
async fn pg_rollback(action: RollbackAction, ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    Ok(match action {
        RollbackAction::DrainTarget => {
            let mut t = ctx.tgt().await?;
            let r = pg::drain(&mut t, &ctx.target.database, ctx.drain_grace)
                .await
                .map_err(|e| ctx.tgt_err(e))?;
            json!({"drain": r})
        }
        RollbackAction::ReverseSync => reverse_sync(ctx).await?,
        RollbackAction::DnsBack => dns_switch(ctx, true).await?,
        RollbackAction::SourceWritesOn => {
            let mut s = ctx.src().await?;
            let mut t = ctx.tgt().await?;
            let moved = pg::carry_sequences(&mut t, &mut s)
                .await
                .map_err(|e| ctx.src_err(e))?;
            let db = &ctx.source.database;
            pg::set_db_read_only(&mut s, db, false)
                .await
                .map_err(|e| ctx.src_err(e))?;
            pg::clear_drained(&mut s, db)
                .await
                .map_err(|e| ctx.src_err(e))?;
            let smoke = pg::smoke_write(&ctx.source)
                .await
                .map_err(|e| CutoverError::Smoke {
                    db: ctx.db_id.clone(),
                    endpoint: ctx.source.endpoint(),
                    msg: ctx.source.err("source", e).msg,
                })?;
            json!({"sequences_moved": moved, "smoke": smoke})
        }
    })
}

async fn reverse_sync(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut t = ctx.tgt().await?;
    let mut s = ctx.src().await?;
    let rev = ctx.mover.reverse();
    let slot = pg::slot_exists(&mut t, rev)
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    if !slot {
        // Step 6 creates this slot before the target turns writable, so without it the target
        // never took a write (or a previous run already brought everything back).
        pg::drop_publication(&mut t, rev)
            .await
            .map_err(|e| ctx.tgt_err(e))?;
        return Ok(json!({"reverse": "nothing to bring back: no reverse slot on the target"}));
    }
    if pg::drained_at(&mut t, &ctx.target.database)
        .await
        .map_err(|e| ctx.tgt_err(e))?
        .is_none()
    {
        return Err(CutoverError::Unsafe {
            db: ctx.db_id.clone(),
            msg: "reverse sync needs a drained target (drain it first)".into(),
        });
    }
    pg::create_subscription(
        &mut s,
        rev,
        &ctx.target,
        rev,
        SubscriptionStart::FromSlot(rev),
    )
    .await
    .map_err(|e| ctx.src_err(e))?;
    let r = pg::wait_caught_up(&mut t, Some((&mut s, rev)), rev, ctx.sync_timeout)
        .await
        .map_err(|msg| CutoverError::Sync {
            db: ctx.db_id.clone(),
            msg: format!("reverse replication: {msg}"),
        })?;
    pg::drop_subscription(&mut s, rev)
        .await
        .map_err(|e| ctx.src_err(e))?;
    pg::drop_slot(&mut t, rev)
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    pg::drop_publication(&mut t, rev)
        .await
        .map_err(|e| ctx.tgt_err(e))?;
    Ok(json!({"reverse_sync": r}))
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
        let mut source = PgSide::new("10.0.0.1", 5432, "app", "orders");
        source.password = Some(crate::secret::Secret::new("src-pw-123"));
        let mut target = PgSide::new("10.1.0.1", 5432, "app", "orders");
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
