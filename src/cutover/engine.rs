//! What each engine implements for a cutover: the steps and rollback actions that read or change
//! its servers. `cutover::run_step` and friends pick the implementation from the context's
//! engine (`postgres::PostgresSteps`, `mysql::MysqlSteps`); what both share (DNS, hypercare, the
//! quick verdict, intents) is in `context`. Neither engine module imports the other.

use super::context::{CutoverCtx, CutoverError};
use super::steps::{CutoverStep, RollbackAction};
use serde_json::Value;

/// The cutover steps of one engine. Every method is idempotent: it reads the servers to skip
/// what is already in place, so a driver restarted after `kill -9` can simply call it again.
pub(crate) trait EngineSteps {
    /// Whether the source is drained (step 2's effect), as its servers show it.
    async fn source_drained(&self, ctx: &CutoverCtx) -> Result<bool, CutoverError>;
    /// Run one step; what it did, as evidence.
    async fn step(&self, step: CutoverStep, ctx: &CutoverCtx) -> Result<Value, CutoverError>;
    /// Whether a rollback action's effect is already in place.
    async fn rollback_is_done(
        &self,
        action: RollbackAction,
        ctx: &CutoverCtx,
    ) -> Result<bool, CutoverError>;
    /// Run one rollback action; what it did, as evidence.
    async fn rollback(
        &self,
        action: RollbackAction,
        ctx: &CutoverCtx,
    ) -> Result<Value, CutoverError>;
}
