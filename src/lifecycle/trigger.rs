//! What asks a database to move: the triggers of the transition table. A leaf below the table
//! (transition.rs) and the guards (guard.rs, whose wave context names the member trigger), so
//! neither imports the other for it.

use crate::store::model::Action;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What asks a database to move. Engine triggers report the outcome of work; operator triggers
/// come from commands and always carry the role guard. Details (error text, retryable or not)
/// travel in the event payload, not here: they do not change where the database goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Operator: the database's wave was started (`registered → prechecks`).
    Start,
    /// Engine: the current stage's work is done; advance along the pipeline.
    StepSucceeded,
    /// Engine: a step failed for good (retries exhausted, or not retryable).
    StepFailed,
    /// Engine: the validation gate ran and found differences.
    ValidationFailed,
    /// Engine: a ready database's validation is too old; run it again before cutover.
    Revalidate,
    /// Engine: every cutover step is done; hypercare (the rollback window) begins.
    CutoverDone,
    Pause,
    Resume,
    /// Operator: a failed database goes back to the stage it failed in.
    Retry,
    Abort,
    Cutover,
    Rollback,
    CloseHypercare,
}

impl Trigger {
    pub const ALL: [Trigger; 13] = [
        Trigger::Start,
        Trigger::StepSucceeded,
        Trigger::StepFailed,
        Trigger::ValidationFailed,
        Trigger::Revalidate,
        Trigger::CutoverDone,
        Trigger::Pause,
        Trigger::Resume,
        Trigger::Retry,
        Trigger::Abort,
        Trigger::Cutover,
        Trigger::Rollback,
        Trigger::CloseHypercare,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::StepSucceeded => "step_succeeded",
            Trigger::StepFailed => "step_failed",
            Trigger::ValidationFailed => "validation_failed",
            Trigger::Revalidate => "revalidate",
            Trigger::CutoverDone => "cutover_done",
            Trigger::Pause => "pause",
            Trigger::Resume => "resume",
            Trigger::Retry => "retry",
            Trigger::Abort => "abort",
            Trigger::Cutover => "cutover",
            Trigger::Rollback => "rollback",
            Trigger::CloseHypercare => "close_hypercare",
        }
    }

    /// Operator triggers (from commands) need the role guard; engine triggers do not.
    pub fn is_operator(self) -> bool {
        Trigger::for_action_all().contains(&self)
    }

    /// The per-database trigger an operator command turns into. `StartWave` becomes `Start` for
    /// each registered member; `ApproveWindow` moves no database (see `guards`).
    pub fn for_action(action: Action) -> Option<Trigger> {
        match action {
            Action::StartWave => Some(Trigger::Start),
            Action::ApproveWindow | Action::Signoff | Action::AckAlert | Action::RestoreTest => {
                None
            }
            Action::Pause => Some(Trigger::Pause),
            Action::Resume => Some(Trigger::Resume),
            Action::Retry => Some(Trigger::Retry),
            Action::Abort => Some(Trigger::Abort),
            Action::Cutover => Some(Trigger::Cutover),
            Action::Rollback => Some(Trigger::Rollback),
            Action::CloseHypercare => Some(Trigger::CloseHypercare),
        }
    }

    fn for_action_all() -> [Trigger; 8] {
        [
            Trigger::Start,
            Trigger::Pause,
            Trigger::Resume,
            Trigger::Retry,
            Trigger::Abort,
            Trigger::Cutover,
            Trigger::Rollback,
            Trigger::CloseHypercare,
        ]
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
