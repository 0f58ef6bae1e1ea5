//! The PostgreSQL cutover steps and rollback actions ([`PostgresSteps`]), on the server
//! operations of [`super::ops`]. How "the target applied everything" is read depends on the
//! mover: a native subscription wavedeck set up (the lab), or DRS reading a logical slot on the
//! source (found by name or as the only logical slot of the database).

use super::ops::{self as pg, SubscriptionStart};
use crate::cutover::context::{
    dns_switch, dns_switched_back, hypercare_detail, quick_verdict, source_reopened, CutoverCtx,
    CutoverError, Mover,
};
use crate::cutover::engine::EngineSteps;
use crate::cutover::quick;
use crate::cutover::steps::{CutoverStep, RollbackAction};
use serde_json::{json, Value};
use sqlx::postgres::PgConnection;

/// The PostgreSQL implementation of the cutover steps.
pub(crate) struct PostgresSteps;

impl EngineSteps for PostgresSteps {
    async fn source_drained(&self, ctx: &CutoverCtx) -> Result<bool, CutoverError> {
        let mut s = ctx.src().await?;
        Ok(pg::drained_at(&mut s, &ctx.source.database)
            .await
            .map_err(|e| ctx.src_err(e))?
            .is_some())
    }

    async fn step(&self, step: CutoverStep, ctx: &CutoverCtx) -> Result<Value, CutoverError> {
        pg_step(step, ctx).await
    }

    async fn rollback_is_done(
        &self,
        action: RollbackAction,
        ctx: &CutoverCtx,
    ) -> Result<bool, CutoverError> {
        match action {
            RollbackAction::DnsBack => dns_switched_back(ctx).await,
            RollbackAction::DrainTarget => {
                let mut t = ctx.tgt().await?;
                Ok(pg::drained_at(&mut t, &ctx.target.database)
                    .await
                    .map_err(|e| ctx.tgt_err(e))?
                    .is_some())
            }
            RollbackAction::ReverseSync => {
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
            RollbackAction::SourceWritesOn => {
                let mut s = ctx.src().await?;
                Ok(!pg::db_read_only(&mut s, &ctx.source.database)
                    .await
                    .map_err(|e| ctx.src_err(e))?)
            }
        }
    }

    async fn rollback(
        &self,
        action: RollbackAction,
        ctx: &CutoverCtx,
    ) -> Result<Value, CutoverError> {
        pg_rollback(action, ctx).await
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

impl CutoverCtx {
    async fn src(&self) -> Result<PgConnection, CutoverError> {
        self.source
            .connect_admin("source")
            .await
            .map_err(CutoverError::Postgres)
    }
    async fn tgt(&self) -> Result<PgConnection, CutoverError> {
        self.target
            .connect_admin("target")
            .await
            .map_err(CutoverError::Postgres)
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
}

/// The PostgreSQL part of `cutover::run_step`: what the step did, as evidence.
async fn pg_step(step: CutoverStep, ctx: &CutoverCtx) -> Result<Value, CutoverError> {
    Ok(match step {
        CutoverStep::Guards => guards(ctx).await?,
        CutoverStep::DrainSource => {
            let mut s = ctx.src().await?;
            let r = pg::drain(&mut s, &ctx.source.database, ctx.drain_grace)
                .await
                .map_err(|e| ctx.src_err(e))?;
            json!({"drain": r, "grace_s": ctx.drain_grace.as_secs()})
        }
        CutoverStep::FinalSync => final_sync(ctx).await?,
        CutoverStep::QuickValidation => quick_validation(ctx).await?,
        CutoverStep::DnsSwitch => dns_switch(ctx, false).await?,
        CutoverStep::TargetWritesOn => target_writes_on(ctx).await?,
        CutoverStep::Hypercare => {
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
    if ctx.offline {
        // Nothing replicates an offline database: its job loads it once after the drain. Both
        // servers answered; what else holds it back is among the lifecycle guards.
        let source_read_only = pg::db_read_only(&mut s, &ctx.source.database)
            .await
            .map_err(|e| ctx.src_err(e))?;
        if !reasons.is_empty() {
            return Err(CutoverError::Blocked {
                db: ctx.db_id.clone(),
                reasons,
            });
        }
        return Ok(
            json!({"offline": true, "moves": "one DRS full load (FULL_TRANS) after the drain", "source_read_only": source_read_only}),
        );
    }
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

/// The PostgreSQL part of `cutover::run_rollback`.
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
