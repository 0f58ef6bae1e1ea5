//! Cutover and rollback of one database against real servers. The engine (or the lab's journal
//! driver) records intent before and outcome after each call; this module only acts and reports.
//! Every function is idempotent, so a driver restarted after `kill -9` simply asks [`is_done`]
//! and, if not, runs the step again.
//!
//! - [`steps`]: the seven cutover steps and the rollback plan, as pure data;
//! - [`context`]: what a cutover works with ([`CutoverCtx`]), its error type, and the parts of
//!   the steps both engines share (DNS switch, quick verdict, hypercare);
//! - [`engine`]: the trait each engine implements for the steps;
//! - [`postgres`], [`mysql`]: per engine, the server operations (`ops`) and the steps on them
//!   (`steps`); neither imports the other;
//! - [`side`]: one side of a cutover (host, port, user, password, database) for either engine;
//! - [`dns_provider`]: the DNS switch providers (`file` for the lab, Huawei Cloud DNS; rehearsals
//!   and tests point `drs.dns_endpoint` at the DRS emulator, which serves the record-set API);
//! - [`quick`]: the final quick validation (row counts, checksums) on either engine.
//!
//! The functions below are the one place that picks the engine (`CutoverCtx::engine`).
pub mod context;
pub mod dns_provider;
pub mod engine;
pub mod mysql;
pub mod postgres;
pub mod quick;
pub mod side;
pub mod steps;

pub use context::{CutoverCtx, CutoverError, StepOutcome};
pub use steps::{rollback_plan, CutoverStep, RollbackAction};

use crate::inventory::Engine;
use context::{dns_switched, timed};
use engine::EngineSteps;
use mysql::steps::MysqlSteps;
use postgres::steps::PostgresSteps;

/// Whether `step`'s effect is already in place (used on resume when an intent has no outcome).
/// Checks that only read return `false`: running them again is cheap and gives fresh evidence.
/// Both engines share this shape; only the drain is read from the servers their own way.
pub async fn is_done(step: CutoverStep, ctx: &CutoverCtx) -> Result<bool, CutoverError> {
    match step {
        // Step 6 ends with smoke tests through the new endpoint: running it again is cheap and
        // is the only way to get that evidence for a run that died half-way.
        CutoverStep::Guards
        | CutoverStep::FinalSync
        | CutoverStep::QuickValidation
        | CutoverStep::TargetWritesOn
        | CutoverStep::Hypercare => Ok(false),
        CutoverStep::DrainSource => match ctx.engine {
            Engine::Postgres => PostgresSteps.source_drained(ctx).await,
            Engine::Mysql => MysqlSteps.source_drained(ctx).await,
        },
        CutoverStep::DnsSwitch => dns_switched(ctx).await,
    }
}

/// Run one cutover step. Safe to call again after success or after a crash inside it.
pub async fn run_step(step: CutoverStep, ctx: &CutoverCtx) -> Result<StepOutcome, CutoverError> {
    timed(step.as_str(), async {
        match ctx.engine {
            Engine::Postgres => PostgresSteps.step(step, ctx).await,
            Engine::Mysql => MysqlSteps.step(step, ctx).await,
        }
    })
    .await
}

/// Whether a rollback action's effect is already in place.
pub async fn rollback_is_done(
    action: RollbackAction,
    ctx: &CutoverCtx,
) -> Result<bool, CutoverError> {
    match ctx.engine {
        Engine::Postgres => PostgresSteps.rollback_is_done(action, ctx).await,
        Engine::Mysql => MysqlSteps.rollback_is_done(action, ctx).await,
    }
}

/// Run one rollback action. Safe to call again after success or a crash inside it.
pub async fn run_rollback(
    action: RollbackAction,
    ctx: &CutoverCtx,
) -> Result<StepOutcome, CutoverError> {
    timed(action.as_str(), async {
        match ctx.engine {
            Engine::Postgres => PostgresSteps.rollback(action, ctx).await,
            Engine::Mysql => MysqlSteps.rollback(action, ctx).await,
        }
    })
    .await
}
