//! The cutover steps and rollback actions for MySQL / MariaDB ([`MysqlSteps`]), called by
//! `cutover::run_step` and friends when the context's engine is MySQL. Same contract as the
//! PostgreSQL steps: each function is idempotent, reads the servers to skip what is already in
//! place, and returns the evidence.
//!
//! How "the target applied everything" is read depends on what moves the data (the context's
//! mover, and for DRS what the target shows):
//! - native binlog replication with GTIDs (the lab's `lab cutover`; also the lab under the
//!   engine, where the DRS job is emulated and the lab's connection is found on the target):
//!   the target's binary log continues the source's GTIDs, so the source's position is waited
//!   for on the target, and at rollback the source replicates back from its own position;
//! - DRS: it applies on the target as the target's own transactions, so no GTID position of the
//!   source says what the target applied. A marker row written on the drained source and read
//!   on the target does (see `final_sync`), and the way back starts from the target's position
//!   at the moment it opened to writes, kept in a note on the target (see `target_writes_on`).
use super::ops::{self as my, My};
use crate::cutover::context::{self as run, CutoverCtx, CutoverError, Mover};
use crate::cutover::engine::EngineSteps;
use crate::cutover::quick::{self, QuickSide};
use crate::cutover::side::Side;
use crate::cutover::steps::{CutoverStep, RollbackAction};
use serde_json::{json, Value};

/// The MySQL / MariaDB implementation of the cutover steps.
pub(crate) struct MysqlSteps;

impl EngineSteps for MysqlSteps {
    async fn source_drained(&self, ctx: &CutoverCtx) -> Result<bool, CutoverError> {
        source_drained(ctx).await
    }

    async fn step(&self, s: CutoverStep, ctx: &CutoverCtx) -> Result<Value, CutoverError> {
        step(s, ctx).await
    }

    async fn rollback_is_done(
        &self,
        action: RollbackAction,
        ctx: &CutoverCtx,
    ) -> Result<bool, CutoverError> {
        rollback_is_done(action, ctx).await
    }

    async fn rollback(
        &self,
        action: RollbackAction,
        ctx: &CutoverCtx,
    ) -> Result<Value, CutoverError> {
        rollback(action, ctx).await
    }
}

impl CutoverCtx {
    async fn my_src(&self) -> Result<My, CutoverError> {
        my::admin(&self.source, "source")
            .await
            .map_err(CutoverError::Mysql)
    }
    async fn my_tgt(&self) -> Result<My, CutoverError> {
        my::admin(&self.target, "target")
            .await
            .map_err(CutoverError::Mysql)
    }
    fn at(&self, side: &Side, label: &str, e: impl std::fmt::Display) -> CutoverError {
        CutoverError::Mysql(side.err(label, e))
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
    /// How the data reaches the target now (read before the target is released from it).
    async fn feed(&self, t: &mut My) -> Result<Feed, CutoverError> {
        Ok(match &self.mover {
            Mover::Native(m) => Feed::Gtid(m.subscription.clone()),
            Mover::Drs { .. } => match t
                .replica_of(&self.source)
                .await
                .map_err(|e| self.at_tgt(e))?
            {
                Some(r) => Feed::Gtid(r.name),
                None => Feed::Drs,
            },
        })
    }
    fn unsafe_(&self, msg: impl Into<String>) -> CutoverError {
        CutoverError::Unsafe {
            db: self.db_id.clone(),
            msg: msg.into(),
        }
    }
}

/// What feeds the target, as the servers show it.
enum Feed {
    /// A GTID replication connection on the target reading the source (its name).
    Gtid(String),
    /// DRS: nothing on the servers shows it.
    Drs,
}

/// How the target got the source's data, as the way back needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FedBy {
    /// Its binary log continues the source's GTIDs (GTID replication, also one already released).
    Gtid,
    /// DRS applied the changes as the target's own transactions.
    Drs,
}

/// Marker kinds in [`my::MARKER_TABLE`].
const FINAL_SYNC: &str = "final_sync";
const REVERSE: &str = "reverse";
/// The target's note of how it was fed and where it stood when it opened to writes.
const WAY_BACK: &str = "way_back";

fn token(kind: &str) -> String {
    format!(
        "{kind}-{}-{:08x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        rand::random::<u32>()
    )
}

/// The target's [`WAY_BACK`] note, as written at step 6.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct WayBack {
    /// Token of the final sync marker of the cutover that wrote it.
    cutover: String,
    /// `gtid` (the target's binary log continues the source's GTIDs) or `drs`.
    fed_by: String,
    /// The target's GTID position just before it took writes.
    target_gtid_pos: String,
}

async fn source_drained(ctx: &CutoverCtx) -> Result<bool, CutoverError> {
    let mut s = ctx.my_src().await?;
    s.drained().await.map_err(|e| ctx.at_src(e))
}

async fn step(step: CutoverStep, ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    Ok(match step {
        CutoverStep::Guards => guards(ctx).await?,
        CutoverStep::DrainSource => {
            let mut s = ctx.my_src().await?;
            let r = s.drain(ctx.drain_grace).await.map_err(|e| ctx.at_src(e))?;
            json!({"drain": r, "grace_s": ctx.drain_grace.as_secs()})
        }
        CutoverStep::FinalSync => final_sync(ctx).await?,
        CutoverStep::QuickValidation => {
            let mut s = ctx.my_src().await?;
            let mut t = ctx.my_tgt().await?;
            // DRS may lift the target's read_only when its job is terminated. Applications must
            // not write there before step 6 prepared the way back, and the figures below are
            // exact only while both sides are fenced.
            if !t.fenced().await.map_err(|e| ctx.at_tgt(e))? {
                t.set_fence(true).await.map_err(|e| ctx.at_tgt(e))?;
            }
            let r = quick::compare(
                QuickSide::My(&mut s, &ctx.source.database),
                QuickSide::My(&mut t, &ctx.target.database),
                &ctx.checksum_tables,
            )
            .await
            .map_err(|e| ctx.at_tgt(e))?;
            run::quick_verdict(ctx, r).await?
        }
        CutoverStep::DnsSwitch => run::dns_switch(ctx, false).await?,
        CutoverStep::TargetWritesOn => target_writes_on(ctx).await?,
        CutoverStep::Hypercare => {
            let mut s = ctx.my_src().await?;
            if !s.fenced().await.map_err(|e| ctx.at_src(e))? {
                return Err(run::source_reopened(ctx));
            }
            let mut d = run::hypercare_detail(ctx, json!(null));
            d["source_fence"] = json!(s.flavor.fence_var());
            d["source_gtid_pos"] = json!(s.gtid_pos().await.map_err(|e| ctx.at_src(e))?);
            d
        }
    })
}

async fn guards(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut reasons = ctx.blockers.clone();
    let mut s = ctx.my_src().await?;
    let mut t = ctx.my_tgt().await?;
    let mut detail = json!({
        "max_lag_s": ctx.max_lag_s,
        "source": {"flavor": s.flavor, "version": s.version},
        "target": {"flavor": t.flavor, "version": t.version},
    });
    if ctx.offline {
        return offline_guards(ctx, reasons, &mut t, detail).await;
    }
    match ctx.feed(&mut t).await? {
        Feed::Gtid(name) => {
            let lag = my::measure_lag(&mut s, &mut t, &name)
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
            detail["fed_by"] = json!(format!("GTID replication {name}"));
            detail["lag_s"] = json!(lag_s);
            detail["transactions_behind"] = json!(lag.behind);
            detail["source"]["gtid_pos"] = json!(lag.source_pos);
            detail["target"]["gtid_have"] = json!(lag.replica_have);
        }
        Feed::Drs => {
            // DRS's lag is among the lifecycle guards in `blockers`. The final sync writes a
            // marker on the drained source and step 6 a note on the fenced target: both need a
            // user that writes through the fence.
            detail["fed_by"] = json!("DRS");
            for (side, label, c) in [
                (&ctx.source, "source", &mut s),
                (&ctx.target, "target", &mut t),
            ] {
                if !c
                    .writes_through_fence()
                    .await
                    .map_err(|e| ctx.at(side, label, e))?
                {
                    reasons.push(format!(
                        "wavedeck's user {} on the {label} cannot write through read_only \
                         (no READ_ONLY ADMIN): the final sync's marker and the rollback's note \
                         need it",
                        side.user
                    ));
                }
            }
        }
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
    Ok(detail)
}

/// An offline database's guards: nothing replicates it (its job loads it once after the drain),
/// so no lag and no marker on the source. Step 6 writes the way-back note on the fenced target,
/// which needs a user that writes through the fence there. A target that takes writes now is
/// no blocker: nothing made it read-only before its job, which DRS starts with the target
/// read-only (`is_target_readonly`); the figure is kept in the evidence.
async fn offline_guards(
    ctx: &CutoverCtx,
    mut reasons: Vec<String>,
    t: &mut My,
    mut detail: Value,
) -> Result<Value, CutoverError> {
    detail["fed_by"] = json!("DRS full load (FULL_TRANS) after the drain");
    detail["offline"] = json!(true);
    if !t.writes_through_fence().await.map_err(|e| ctx.at_tgt(e))? {
        reasons.push(format!(
            "wavedeck's user {} on the target cannot write through read_only (no READ_ONLY \
             ADMIN): the rollback's note needs it",
            ctx.target.user
        ));
    }
    detail["target"]["fenced_before"] = json!(t.fenced().await.map_err(|e| ctx.at_tgt(e))?);
    if !reasons.is_empty() {
        return Err(CutoverError::Blocked {
            db: ctx.db_id.clone(),
            reasons,
        });
    }
    Ok(detail)
}

/// The target applied every transaction of the drained source.
///
/// - Native mover: the source's GTID position read after the drain, waited for on the target
///   (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET), not a lag figure.
/// - DRS: the target's GTIDs are its own, so no position of the source can be looked up there.
///   wavedeck writes a marker row on the drained source (as its own user, through the fence,
///   into `wavedeck_marker` of the moved database) and waits until the target has it: DRS
///   reads the binary log in order, so everything committed before the marker was read before
///   it. DRS may apply in parallel, so the marker alone does not prove that earlier changes
///   were written; the engine therefore also waits for DRS's own delay to read 0 and stay 0
///   (`engine.lag_stable_s`) after this step before it terminates the job, and step 4 counts
///   and checksums both sides. When the target also replicates from the source by GTID (the
///   lab under an emulated job), the source's position is waited for as well.
async fn final_sync(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut s = ctx.my_src().await?;
    if !s.fenced().await.map_err(|e| ctx.at_src(e))? {
        return Err(ctx.unsafe_("final sync needs a drained source (step 2 first)"));
    }
    let mut t = ctx.my_tgt().await?;
    let feed = ctx.feed(&mut t).await?;
    let mut sync = serde_json::Map::new();
    if let Mover::Drs { .. } = ctx.mover {
        let marker = token(FINAL_SYNC);
        let pos = s.gtid_pos().await.map_err(|e| ctx.at_src(e))?;
        s.write_marker(
            &ctx.source.database,
            &marker,
            FINAL_SYNC,
            &json!({"source_gtid_pos_before": pos}).to_string(),
            true,
        )
        .await
        .map_err(|e| ctx.at_src(e))?;
        let waited = t
            .wait_marker(&ctx.target.database, &marker, ctx.sync_timeout)
            .await
            .map_err(|m| {
                ctx.sync_err(format!(
                    "{m}: the mover has not delivered what the source committed before it \
                     (is the DRS job running, and does it carry new tables of the database?)"
                ))
            })?;
        sync.insert("method".into(), json!("marker"));
        sync.insert("marker".into(), json!(marker));
        sync.insert("marker_waited_ms".into(), json!(waited));
    }
    if let Feed::Gtid(name) = feed {
        let pos = s.gtid_pos().await.map_err(|e| ctx.at_src(e))?;
        let r = t
            .wait_applied(&pos, &name, ctx.sync_timeout)
            .await
            .map_err(|m| ctx.sync_err(m))?;
        sync.insert("source_gtid_pos".into(), json!(pos));
        sync.insert("target_gtid_have".into(), json!(r.applied));
        sync.insert("waited_ms".into(), json!(r.waited_ms));
        sync.insert("replication".into(), json!(name));
        if !sync.contains_key("method") {
            sync.insert(
                "method".into(),
                json!(match s.flavor {
                    my::Flavor::MariaDb => "MASTER_GTID_WAIT",
                    my::Flavor::MySql => "WAIT_FOR_EXECUTED_GTID_SET",
                }),
            );
        }
    }
    Ok(json!({ "sync": sync }))
}

async fn target_writes_on(ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    let mut s = ctx.my_src().await?;
    let mut t = ctx.my_tgt().await?;
    let mut detail = serde_json::Map::new();
    let feed = ctx.feed(&mut t).await?;
    let forward = match &feed {
        Feed::Gtid(name) => t
            .replica(name)
            .await
            .map_err(|e| ctx.at_tgt(e))?
            .map(|r| r.name),
        Feed::Drs => None,
    };
    if let Some(name) = &forward {
        // Make sure once more the mover delivered everything: a resumed run may come here
        // long after the final sync.
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
    }
    // The way back: the target's own binary log is what reverse replication reads, so without
    // it a rollback could not bring the target's writes back.
    if !t.log_bin().await.map_err(|e| ctx.at_tgt(e))? {
        return Err(ctx.unsafe_(
            "the target has no binary log (log_bin OFF): a rollback could not bring its writes \
             back; enable log_bin (and log_slave_updates) on the target first",
        ));
    }
    // How the target was fed, read before anything here writes to its binary log (the
    // AUTO_INCREMENT carry below is DDL).
    let fed_by = match &feed {
        Feed::Gtid(_) => FedBy::Gtid,
        Feed::Drs => {
            // The replication the emulator's native mode sets up goes when the DRS job is
            // terminated, before this step: its trace is a binary log that continues the
            // source's own GTIDs.
            if t.continues_gtids_of(&mut s)
                .await
                .map_err(|e| ctx.at_tgt(e))?
            {
                FedBy::Gtid
            } else {
                FedBy::Drs
            }
        }
    };
    let moved =
        my::carry_auto_increments(&mut s, &ctx.source.database, &mut t, &ctx.target.database)
            .await
            .map_err(|e| ctx.at_tgt(e))?;
    detail.insert("auto_increment_moved".into(), json!(moved));
    if let Mover::Drs { .. } = ctx.mover {
        let note = way_back_note(ctx, &mut t, fed_by).await?;
        detail.insert("way_back".into(), json!(note));
    }
    if let Some(name) = forward {
        t.remove_replica(&name).await.map_err(|e| ctx.at_tgt(e))?;
        detail.insert("replication_released".into(), json!(name));
    }
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

/// The target's note of this cutover's way back, written once while the target is still fenced
/// (so its GTID position is where it stood before any application write), out of its binary log
/// (so it leaves that position as it was and travels nowhere). Written before the forward
/// replication is released: a run resumed after the release still finds how the target was fed.
/// The PostgreSQL counterpart is the reverse slot step 6 creates before the target takes writes.
async fn way_back_note(
    ctx: &CutoverCtx,
    t: &mut My,
    fed_by: FedBy,
) -> Result<WayBack, CutoverError> {
    let tdb = &ctx.target.database;
    let cutover = if ctx.offline {
        offline_cutover_key(ctx).await?
    } else {
        let Some((marker, _)) = t
            .latest_marker(tdb, FINAL_SYNC)
            .await
            .map_err(|e| ctx.at_tgt(e))?
        else {
            return Err(ctx.unsafe_(
                "no final sync marker on the target: run the final sync (step 3) before the \
                 target takes writes",
            ));
        };
        marker
    };
    if let Some(note) = read_way_back(ctx, t).await? {
        if note.cutover == cutover {
            return Ok(note);
        }
    }
    if !t.fenced().await.map_err(|e| ctx.at_tgt(e))? {
        return Err(ctx.unsafe_(
            "the target is writable but holds no note of where it stood before: a rollback \
             could not tell its writes from the migrated data; fence it again and roll back by \
             the runbook",
        ));
    }
    let note = WayBack {
        cutover,
        fed_by: match fed_by {
            FedBy::Gtid => "gtid".into(),
            FedBy::Drs => "drs".into(),
        },
        target_gtid_pos: t.gtid_pos().await.map_err(|e| ctx.at_tgt(e))?,
    };
    t.write_marker(
        tdb,
        &token(WAY_BACK),
        WAY_BACK,
        &json!(note).to_string(),
        false,
    )
    .await
    .map_err(|e| ctx.at_tgt(e))?;
    Ok(note)
}

/// What names an offline cutover in its way-back note, as the final sync's marker names an
/// online one's: the drained source's GTID position (it stays put while the source is fenced,
/// and moves with any write the source takes between two cutovers).
async fn offline_cutover_key(ctx: &CutoverCtx) -> Result<String, CutoverError> {
    let mut s = ctx.my_src().await?;
    if !s.fenced().await.map_err(|e| ctx.at_src(e))? {
        return Err(ctx.unsafe_(
            "the source is writable again; drain it (step 2) before the target takes writes",
        ));
    }
    Ok(format!(
        "offline-{}",
        s.gtid_pos().await.map_err(|e| ctx.at_src(e))?
    ))
}

async fn read_way_back(ctx: &CutoverCtx, t: &mut My) -> Result<Option<WayBack>, CutoverError> {
    let Some((_, text)) = t
        .latest_marker(&ctx.target.database, WAY_BACK)
        .await
        .map_err(|e| ctx.at_tgt(e))?
    else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ctx.at_tgt(format!("note {WAY_BACK} in {}: {e}", my::MARKER_TABLE)))
}

/// How the target's writes come back at rollback.
enum WayBackBy {
    /// The target's binary log continues the source's GTIDs: the source replicates from it,
    /// starting from its own position.
    Gtid,
    /// DRS fed the target: its writes since `target_gtid_pos` come back through a reverse DRS
    /// job; wavedeck proves they arrived with a marker.
    Drs { target_gtid_pos: String },
}

async fn way_back(ctx: &CutoverCtx, t: &mut My) -> Result<WayBackBy, CutoverError> {
    if let Mover::Native(_) = ctx.mover {
        return Ok(WayBackBy::Gtid);
    }
    // No note (a cutover by an earlier wavedeck, or by hand): the GTID way, whose errors the
    // server words if the target does not continue the source's GTIDs.
    Ok(match read_way_back(ctx, t).await? {
        Some(n) if n.fed_by == "drs" => WayBackBy::Drs {
            target_gtid_pos: n.target_gtid_pos,
        },
        _ => WayBackBy::Gtid,
    })
}

async fn rollback_is_done(action: RollbackAction, ctx: &CutoverCtx) -> Result<bool, CutoverError> {
    match action {
        RollbackAction::DrainTarget => {
            let mut t = ctx.my_tgt().await?;
            t.drained().await.map_err(|e| ctx.at_tgt(e))
        }
        RollbackAction::ReverseSync => {
            let mut s = ctx.my_src().await?;
            let mut t = ctx.my_tgt().await?;
            match way_back(ctx, &mut t).await? {
                WayBackBy::Gtid => {
                    let linked = s
                        .replica(ctx.mover.reverse())
                        .await
                        .map_err(|e| ctx.at_src(e))?
                        .is_some();
                    let tpos = t.gtid_pos().await.map_err(|e| ctx.at_tgt(e))?;
                    let back = s.has_applied(&tpos).await.map_err(|e| ctx.at_src(e))?;
                    Ok(!linked && back)
                }
                WayBackBy::Drs { target_gtid_pos } => {
                    if t.holds_nothing_beyond(&target_gtid_pos)
                        .await
                        .map_err(|e| ctx.at_tgt(e))?
                    {
                        return Ok(true);
                    }
                    let marker = t
                        .latest_marker(&ctx.target.database, REVERSE)
                        .await
                        .map_err(|e| ctx.at_tgt(e))?;
                    match marker {
                        Some((m, _)) => s
                            .has_marker(&ctx.source.database, &m)
                            .await
                            .map_err(|e| ctx.at_src(e)),
                        None => Ok(false),
                    }
                }
            }
        }
        RollbackAction::DnsBack => run::dns_switched_back(ctx).await,
        RollbackAction::SourceWritesOn => {
            let mut s = ctx.my_src().await?;
            Ok(!s.fenced().await.map_err(|e| ctx.at_src(e))?)
        }
    }
}

async fn rollback(action: RollbackAction, ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    Ok(match action {
        RollbackAction::DrainTarget => {
            let mut t = ctx.my_tgt().await?;
            let r = t.drain(ctx.drain_grace).await.map_err(|e| ctx.at_tgt(e))?;
            json!({"drain": r})
        }
        RollbackAction::ReverseSync => {
            let mut t = ctx.my_tgt().await?;
            match way_back(ctx, &mut t).await? {
                WayBackBy::Gtid => reverse_sync(ctx).await?,
                WayBackBy::Drs { target_gtid_pos } => {
                    reverse_by_drs(ctx, &mut t, &target_gtid_pos).await?
                }
            }
        }
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
    })
}

/// The way back after DRS fed the target. Nothing to do when the target committed nothing since
/// it opened to writes. Otherwise the target's writes come back through a reverse DRS job (target
/// to source) the operator creates by the runbook: wavedeck writes a marker on the drained
/// target and waits until the source has it, as the final sync does the other way round.
async fn reverse_by_drs(
    ctx: &CutoverCtx,
    t: &mut My,
    target_gtid_pos: &str,
) -> Result<Value, CutoverError> {
    if t.holds_nothing_beyond(target_gtid_pos)
        .await
        .map_err(|e| ctx.at_tgt(e))?
    {
        return Ok(json!({
            "reverse": "nothing to bring back: the target committed nothing since it opened to writes",
            "target_gtid_pos": target_gtid_pos,
        }));
    }
    if !t.drained().await.map_err(|e| ctx.at_tgt(e))? {
        return Err(ctx.unsafe_("reverse sync needs a drained target (drain it first)"));
    }
    let marker = token(REVERSE);
    t.write_marker(&ctx.target.database, &marker, REVERSE, "{}", true)
        .await
        .map_err(|e| ctx.at_tgt(e))?;
    let mut s = ctx.my_src().await?;
    let waited = s
        .wait_marker(&ctx.source.database, &marker, ctx.sync_timeout)
        .await
        .map_err(|m| {
            ctx.sync_err(format!(
                "reverse sync: the target took writes since the cutover and DRS moved the data, \
                 so they come back through a reverse DRS job (target to source, \
                 runbooks/rollback.md); create it and retry: this step waits until the marker \
                 written on the drained target is on the source ({m})"
            ))
        })?;
    Ok(json!({"reverse_sync": {
        "method": "marker",
        "marker": marker,
        "marker_waited_ms": waited,
        "from_target_gtid_pos": target_gtid_pos,
    }}))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_tokens_are_unique_and_fit_their_column() {
        let a = token(FINAL_SYNC);
        let b = token(FINAL_SYNC);
        assert_ne!(a, b);
        assert!(a.starts_with("final_sync-") && a.len() <= 120, "{a}");
    }

    #[test]
    fn the_way_back_note_reads_back_as_written() {
        let n = WayBack {
            cutover: token(FINAL_SYNC),
            fed_by: "drs".into(),
            target_gtid_pos: "0-2-17".into(),
        };
        let text = json!(n).to_string();
        assert_eq!(serde_json::from_str::<WayBack>(&text).unwrap(), n);
    }
}
