//! The cutover steps and rollback actions for MySQL / MariaDB, called by `run` when the
//! context's engine is MySQL. Same contract as the PostgreSQL path: each function is
//! idempotent, reads the servers to skip what is already in place, and returns the evidence.
//!
//! The data mover here is native binlog replication with GTIDs: the target replicates from the
//! source through the connection `mover.subscription`; at rollback the source replicates from
//! the target through `mover.reverse`, starting from the GTID position the source stopped at.

use super::my::{self, My};
use super::quick::{self, QuickSide};
use super::run::{self as run, CutoverCtx, CutoverError, Mover, StepOutcome};
use super::side::Side;
use super::step::{RollbackAction, Step};
use serde_json::{json, Value};
use std::time::Instant;

impl CutoverCtx {
    async fn my_src(&self) -> Result<My, CutoverError> {
        Ok(my::admin(&self.source, "source").await?)
    }
    async fn my_tgt(&self) -> Result<My, CutoverError> {
        Ok(my::admin(&self.target, "target").await?)
    }
    fn at(&self, side: &Side, label: &str, e: impl std::fmt::Display) -> CutoverError {
        CutoverError::Pg(side.err(label, e))
    }
    fn at_src(&self, e: impl std::fmt::Display) -> CutoverError {
        self.at(&self.source, "source", e)
    }
    fn at_tgt(&self, e: impl std::fmt::Display) -> CutoverError {
        self.at(&self.target, "target", e)
    }
    fn sync_err(&self, msg: String) -> CutoverError {
        CutoverError::Sync {
            db: self.db_id.clone(),
            msg,
        }
    }
    /// The replication connection on the target that moves the data. MySQL cutovers here
    /// need native replication: with DRS moving the data the target shows no GTIDs of the
    /// source to wait for.
    fn forward(&self) -> Result<&str, CutoverError> {
        match &self.mover {
            Mover::Native(m) => Ok(&m.subscription),
            Mover::Slot { .. } => Err(self.unsafe_(
                "a MySQL cutover by wavedeck needs native GTID replication (target replicating \
                 from the source); with DRS moving the data, cut over by the runbook \
                 (runbooks/cutover-night.md, MySQL section)",
            )),
        }
    }
    fn unsafe_(&self, msg: impl Into<String>) -> CutoverError {
        CutoverError::Unsafe {
            db: self.db_id.clone(),
            msg: msg.into(),
        }
    }
}

pub(super) async fn is_done(step: Step, ctx: &CutoverCtx) -> Result<bool, CutoverError> {
    match step {
        // As for PostgreSQL: checks that only read, and step 6 whose smoke test is its evidence,
        // simply run again.
        Step::Guards
        | Step::FinalSync
        | Step::QuickValidation
        | Step::TargetWritesOn
        | Step::Hypercare => Ok(false),
        Step::DrainSource => {
            let mut s = ctx.my_src().await?;
            s.drained().await.map_err(|e| ctx.at_src(e))
        }
        Step::DnsSwitch => run::dns_switched(ctx).await,
    }
}

pub(super) async fn run_step(step: Step, ctx: &CutoverCtx) -> Result<StepOutcome, CutoverError> {
    let started = Instant::now();
    let detail = match step {
        Step::Guards => guards(ctx).await?,
        Step::DrainSource => {
            let mut s = ctx.my_src().await?;
            let r = s.drain(ctx.drain_grace).await.map_err(|e| ctx.at_src(e))?;
            json!({"drain": r, "grace_s": ctx.drain_grace.as_secs()})
        }
        Step::FinalSync => final_sync(ctx).await?,
        Step::QuickValidation => {
            let mut s = ctx.my_src().await?;
            let mut t = ctx.my_tgt().await?;
            let r = quick::compare(
                QuickSide::My(&mut s, &ctx.source.database),
                QuickSide::My(&mut t, &ctx.target.database),
                &ctx.checksum_tables,
            )
            .await
            .map_err(|e| ctx.at_tgt(e))?;
            run::quick_verdict(ctx, r).await?
        }
        Step::DnsSwitch => run::dns_switch(ctx, false).await?,
        Step::TargetWritesOn => target_writes_on(ctx).await?,
        Step::Hypercare => {
            let mut s = ctx.my_src().await?;
            if !s.fenced().await.map_err(|e| ctx.at_src(e))? {
                return Err(run::source_reopened(ctx));
            }
            let mut d = run::hypercare_detail(ctx, json!(null));
            d["source_fence"] = json!(s.flavor.fence_var());
            d["source_gtid_pos"] = json!(s.gtid_pos().await.map_err(|e| ctx.at_src(e))?);
            d
        }
    };
    Ok(StepOutcome {
        step: step.as_str().into(),
        detail,
        ms: started.elapsed().as_millis() as u64,
    })
}

async fn guards(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut reasons = ctx.blockers.clone();
    let mut s = ctx.my_src().await?;
    let mut t = ctx.my_tgt().await?;
    let name = ctx.forward()?;
    let lag = my::measure_lag(&mut s, &mut t, name)
        .await
        .map_err(|e| ctx.at_tgt(e))?;
    match &lag.replica {
        None => reasons.push(format!(
            "the target has no replication connection {name} from the source"
        )),
        Some(r) if !r.running() => reasons.push(format!(
            "replication {name} on the target is not running (io {}, sql {}): {}",
            r.io_running,
            r.sql_running,
            r.last_error.as_deref().unwrap_or("no error reported")
        )),
        Some(_) => {}
    }
    let lag_s = lag.seconds.unwrap_or(0) as f64;
    if lag_s > ctx.max_lag_s {
        reasons.push(format!("lag {lag_s:.1} s > {} s", ctx.max_lag_s));
    }
    if !t.fenced().await.map_err(|e| ctx.at_tgt(e))? {
        // A writable target before the cutover means someone writes there already: those rows
        // would be mixed with replicated ones and a rollback could not tell them apart.
        reasons.push(format!(
            "the target accepts writes before the cutover ({} is OFF); set it ON",
            t.flavor.fence_var()
        ));
    }
    if !reasons.is_empty() {
        return Err(CutoverError::Blocked {
            db: ctx.db_id.clone(),
            reasons,
        });
    }
    Ok(json!({
        "lag_s": lag_s, "max_lag_s": ctx.max_lag_s, "transactions_behind": lag.behind,
        "source": {"flavor": s.flavor, "version": s.version, "gtid_pos": lag.source_pos},
        "target": {"flavor": t.flavor, "version": t.version, "gtid_have": lag.replica_have},
    }))
}

/// The target applied every transaction the drained source has in its binary log: the GTID
/// position read after the drain, waited for on the target (MASTER_GTID_WAIT /
/// WAIT_FOR_EXECUTED_GTID_SET), not a lag figure.
async fn final_sync(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut s = ctx.my_src().await?;
    if !s.fenced().await.map_err(|e| ctx.at_src(e))? {
        return Err(ctx.unsafe_("final sync needs a drained source (step 2 first)"));
    }
    let pos = s.gtid_pos().await.map_err(|e| ctx.at_src(e))?;
    let mut t = ctx.my_tgt().await?;
    let r = t
        .wait_applied(&pos, ctx.forward()?, ctx.sync_timeout)
        .await
        .map_err(|m| ctx.sync_err(m))?;
    Ok(json!({"sync": {
        "source_gtid_pos": pos,
        "target_gtid_have": r.applied,
        "waited_ms": r.waited_ms,
        "method": match s.flavor {
            my::Flavor::MariaDb => "MASTER_GTID_WAIT",
            my::Flavor::MySql => "WAIT_FOR_EXECUTED_GTID_SET",
        },
    }}))
}

async fn target_writes_on(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut s = ctx.my_src().await?;
    let mut t = ctx.my_tgt().await?;
    let mut detail = serde_json::Map::new();
    let name = ctx.forward()?;
    if t.replica(name).await.map_err(|e| ctx.at_tgt(e))?.is_some() {
        // Release the mover only after making sure once more it delivered everything: a resumed
        // run may come here long after the final sync.
        if !s.fenced().await.map_err(|e| ctx.at_src(e))? {
            return Err(ctx.unsafe_(
                "the source is writable again; drain it (step 2) before the target takes writes",
            ));
        }
        let pos = s.gtid_pos().await.map_err(|e| ctx.at_src(e))?;
        let r = t
            .wait_applied(&pos, name, ctx.sync_timeout)
            .await
            .map_err(|m| ctx.sync_err(m))?;
        detail.insert("last_sync".into(), json!(r));
        t.remove_replica(name).await.map_err(|e| ctx.at_tgt(e))?;
        detail.insert("replication_released".into(), json!(name));
    }
    // The way back: the target's own binary log is what reverse replication reads, so without
    // it a rollback could not bring the target's writes back.
    if !t.log_bin().await.map_err(|e| ctx.at_tgt(e))? {
        return Err(ctx.unsafe_(
            "the target has no binary log (log_bin OFF): a rollback could not bring its writes \
             back; enable log_bin (and log_slave_updates) on the target first",
        ));
    }
    let moved =
        my::carry_auto_increments(&mut s, &ctx.source.database, &mut t, &ctx.target.database)
            .await
            .map_err(|e| ctx.at_tgt(e))?;
    detail.insert("auto_increment_moved".into(), json!(moved));
    detail.insert(
        "cutover_gtid_pos".into(),
        json!(t.gtid_pos().await.map_err(|e| ctx.at_tgt(e))?),
    );
    t.set_fence(false).await.map_err(|e| ctx.at_tgt(e))?;
    detail.insert("target_fence_off".into(), json!(t.flavor.fence_var()));
    let via = ctx.resolved_target().await?;
    let smoke = my::smoke_write(&via)
        .await
        .map_err(|msg| CutoverError::Smoke {
            db: ctx.db_id.clone(),
            endpoint: via.endpoint(),
            msg: via.err("target", msg).msg,
        })?;
    detail.insert("smoke".into(), smoke);
    Ok(Value::Object(detail))
}

pub(super) async fn rollback_is_done(
    action: RollbackAction,
    ctx: &CutoverCtx,
) -> Result<bool, CutoverError> {
    match action {
        RollbackAction::DrainTarget => {
            let mut t = ctx.my_tgt().await?;
            t.drained().await.map_err(|e| ctx.at_tgt(e))
        }
        RollbackAction::ReverseSync => {
            let mut s = ctx.my_src().await?;
            let mut t = ctx.my_tgt().await?;
            let linked = s
                .replica(ctx.mover.reverse())
                .await
                .map_err(|e| ctx.at_src(e))?
                .is_some();
            let tpos = t.gtid_pos().await.map_err(|e| ctx.at_tgt(e))?;
            let back = s.has_applied(&tpos).await.map_err(|e| ctx.at_src(e))?;
            Ok(!linked && back)
        }
        RollbackAction::DnsBack => run::dns_switched_back(ctx).await,
        RollbackAction::SourceWritesOn => {
            let mut s = ctx.my_src().await?;
            Ok(!s.fenced().await.map_err(|e| ctx.at_src(e))?)
        }
    }
}

pub(super) async fn run_rollback(
    action: RollbackAction,
    ctx: &CutoverCtx,
) -> Result<StepOutcome, CutoverError> {
    let started = Instant::now();
    let detail = match action {
        RollbackAction::DrainTarget => {
            let mut t = ctx.my_tgt().await?;
            let r = t.drain(ctx.drain_grace).await.map_err(|e| ctx.at_tgt(e))?;
            json!({"drain": r})
        }
        RollbackAction::ReverseSync => reverse_sync(ctx).await?,
        RollbackAction::DnsBack => run::dns_switch(ctx, true).await?,
        RollbackAction::SourceWritesOn => {
            let mut s = ctx.my_src().await?;
            let mut t = ctx.my_tgt().await?;
            let moved = my::carry_auto_increments(
                &mut t,
                &ctx.target.database,
                &mut s,
                &ctx.source.database,
            )
            .await
            .map_err(|e| ctx.at_src(e))?;
            s.set_fence(false).await.map_err(|e| ctx.at_src(e))?;
            let smoke = my::smoke_write(&ctx.source)
                .await
                .map_err(|msg| CutoverError::Smoke {
                    db: ctx.db_id.clone(),
                    endpoint: ctx.source.endpoint(),
                    msg: ctx.source.err("source", msg).msg,
                })?;
            json!({"auto_increment_moved": moved, "smoke": smoke})
        }
    };
    Ok(StepOutcome {
        step: action.as_str().into(),
        detail,
        ms: started.elapsed().as_millis() as u64,
    })
}

/// Bring the target's writes back: the source replicates from the target, starting from its own
/// GTID position (where it stopped at the cutover; it stayed fenced since), until it holds the
/// drained target's whole position; then the reverse connection is removed.
async fn reverse_sync(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut s = ctx.my_src().await?;
    let mut t = ctx.my_tgt().await?;
    let rev = ctx.mover.reverse();
    let tpos = t.gtid_pos().await.map_err(|e| ctx.at_tgt(e))?;
    if s.has_applied(&tpos).await.map_err(|e| ctx.at_src(e))? {
        let removed = s.remove_replica(rev).await.map_err(|e| ctx.at_src(e))?;
        return Ok(json!({
            "reverse": "nothing to bring back: the source holds every transaction of the target",
            "target_gtid_pos": tpos,
            "reverse_connection_removed": removed,
        }));
    }
    if !t.drained().await.map_err(|e| ctx.at_tgt(e))? {
        return Err(ctx.unsafe_("reverse sync needs a drained target (drain it first)"));
    }
    let start = s.gtid_pos().await.map_err(|e| ctx.at_src(e))?;
    // The source resumes from its own position, not from one read off the target: a write made
    // on the source during hypercare then stops replication with a GTID error (strict mode)
    // instead of being silently mixed in.
    s.replicate_from(rev, &ctx.target, Some(&start))
        .await
        .map_err(|e| ctx.at_src(e))?;
    let r = s
        .wait_applied(&tpos, rev, ctx.sync_timeout)
        .await
        .map_err(|m| ctx.sync_err(format!("reverse replication: {m}")))?;
    s.remove_replica(rev).await.map_err(|e| ctx.at_src(e))?;
    Ok(json!({"reverse_sync": {
        "from_source_gtid_pos": start,
        "target_gtid_pos": tpos,
        "source_gtid_have": r.applied,
        "waited_ms": r.waited_ms,
    }}))
}
