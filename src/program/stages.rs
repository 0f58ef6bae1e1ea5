//! Where each database stands, as the program's figures count it (a failed or paused one at the
//! stage it holds), and the stage marks the pace is measured from: read by the progress figures
//! (`mod.rs`) and the pace (`pace.rs`), below both.

use crate::lifecycle::Stage;
use crate::store::model::DbState;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One stage change as the store recorded it (`db.stage`): what the pace is measured from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageMark {
    pub seq: i64,
    pub time: DateTime<Utc>,
    pub db_id: String,
    pub to: Stage,
}

/// Where a database stands for progress: a failed or paused one counts at the stage it holds.
pub fn effective_stage(d: &DbState) -> Stage {
    match d.stage {
        Stage::Failed | Stage::Paused => d.held_stage.unwrap_or(Stage::Registered),
        s => s,
    }
}

/// Where a stage stands on the data's path, for the figures of what is loaded and validated:
/// an offline database in `ready_offline` has passed its pre-checks and nothing more (its
/// data moves inside its cutover), though `ready_offline` comes after `ready` in the enum.
pub fn data_stage(s: Stage) -> Stage {
    match s {
        Stage::ReadyOffline => Stage::Prechecks,
        s => s,
    }
}

/// Index of a stage in `Stage::ALL`, for the count arrays.
pub fn stage_pos(s: Stage) -> usize {
    Stage::ALL.iter().position(|x| *x == s).unwrap_or(0)
}
