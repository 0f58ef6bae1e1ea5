//! Types the store keeps and hands out. The engine writes events; the cockpit reads states and
//! writes commands.

use crate::inventory::{Criticality, Engine, Mode};
use crate::lifecycle::Stage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Event kinds. One constant per kind so the writer (engine) and the readers (state fold,
/// cockpit, evidence) agree on the spelling.
pub mod kind {
    pub const DB_REGISTERED: &str = "db.registered";
    pub const DB_UPDATED: &str = "db.updated";
    pub const DB_REMOVED: &str = "db.removed";
    /// payload: {"from": stage, "to": stage, "reason": text}
    pub const DB_STAGE: &str = "db.stage";
    /// payload: {"pct": f64, "mbps": f64?}
    pub const DB_PROGRESS: &str = "db.progress";
    /// payload: {"lag_s": f64}
    pub const DB_LAG: &str = "db.lag";
    /// payload: {"status": DRS job status, "drs_job_id": id}: written when the status DRS
    /// reports for the job changes.
    pub const DB_JOB_STATUS: &str = "db.job_status";
    /// payload: {"step": name, "attempt": n, ...}: written before a side effect.
    pub const STEP_INTENT: &str = "step.intent";
    /// payload: {"step": name, "attempt": n, "ok": bool, "error": text?, ...}: written after it.
    pub const STEP_OUTCOME: &str = "step.outcome";
    /// payload: {"passed": bool, "summary": text, "tables": [...]}
    pub const DB_PRECHECK: &str = "db.precheck";
    pub const DB_VALIDATION: &str = "db.validation";
    pub const WAVE_PLANNED: &str = "wave.planned";
    pub const WAVE_APPROVED: &str = "wave.approved";
    pub const WAVE_STARTED: &str = "wave.started";
    /// payload: {"wave", "members", "completed", "aborted", "rolled_back", "started_at"?,
    /// "ended_at"?, "duration_s"?}: every member of the wave is in a final stage, written once.
    pub const WAVE_DONE: &str = "wave.done";
    pub const COMMAND_ACCEPTED: &str = "command.accepted";
    pub const COMMAND_REJECTED: &str = "command.rejected";
    /// payload: {"role": signoff role, "who": signer, "note": text?, "command": id?}
    pub const DB_SIGNOFF: &str = "db.signoff";
    /// payload: {"rule", "value", "threshold", "what"}: an alert rule fired (src/alerts).
    pub const ALERT_RAISED: &str = "alert.raised";
    /// payload: {"rule", "value", "threshold", "what", "raised_seq"}: back to normal.
    pub const ALERT_CLEARED: &str = "alert.cleared";
    /// payload: {"rule", "by", "command"}: an operator acknowledged a standing alert.
    pub const ALERT_ACKED: &str = "alert.acked";
    /// payload: {"target", "about_seq", "about", "attempts", "reason"}: the notification of
    /// event `about_seq` to a `notify:` target was given up (src/notify/verdict.rs).
    pub const NOTIFY_GIVEN_UP: &str = "notify.given_up";
    /// The kinds the alerts board folds.
    pub const ALERTS: [&str; 3] = [ALERT_RAISED, ALERT_CLEARED, ALERT_ACKED];
}

/// An event as stored: appended once, never changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i64,
    pub time: DateTime<Utc>,
    pub db_id: Option<String>,
    pub wave: Option<u32>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub actor: String,
    pub prev_hash: String,
    pub hash: String,
}

/// An event to append; the store assigns seq, time and the hashes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub db_id: Option<String>,
    pub wave: Option<u32>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub actor: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    Viewer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    Pending,
    Accepted,
    Rejected,
}

/// What an operator can ask for. The engine checks guards and accepts or rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    StartWave,
    ApproveWindow,
    Pause,
    Resume,
    Retry,
    Abort,
    Cutover,
    Rollback,
    CloseHypercare,
    /// A sign-off for a role (`args`: `role`, optional `note`); moves no database.
    Signoff,
    /// Acknowledge a standing alert (`args`: `rule`; the target is its database, or the
    /// factory); moves nothing, records who saw it.
    AckAlert,
    /// Run a restore test of a database now (`args`: optional `at`, a point in time, RFC
    /// 3339); decided by the restore tests (src/restore), moves nothing.
    RestoreTest,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::StartWave => "start_wave",
            Action::ApproveWindow => "approve_window",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Retry => "retry",
            Action::Abort => "abort",
            Action::Cutover => "cutover",
            Action::Rollback => "rollback",
            Action::CloseHypercare => "close_hypercare",
            Action::Signoff => "signoff",
            Action::AckAlert => "ack_alert",
            Action::RestoreTest => "restore_test",
        }
    }

    /// What the operator must type to confirm this action on `target` (the cockpit's dialog
    /// and the command line ask the same): the database id, or `wave-N`, for the actions that
    /// move traffic or throw work away.
    pub fn confirmation(self, target: &Target) -> Option<String> {
        match (self, target) {
            (Action::Cutover | Action::Rollback | Action::Abort, Target::Db(id)) => {
                Some(id.clone())
            }
            (Action::Cutover | Action::Rollback | Action::Abort, Target::Wave(n)) => {
                Some(format!("wave-{n}"))
            }
            _ => None,
        }
    }
}

/// What a command is aimed at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Db(String),
    Wave(u32),
    /// The whole factory: an alert about no one database (DRS errors, the lease).
    Factory,
}

/// An operator intent and, once the engine has looked at it, its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandRow {
    pub id: i64,
    pub time: DateTime<Utc>,
    pub who: String,
    pub role: Role,
    pub action: Action,
    pub target: Target,
    pub args: serde_json::Value,
    pub status: CommandStatus,
    pub reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// Latest validation outcome of a database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationSummary {
    pub passed: bool,
    pub at: DateTime<Utc>,
    /// One line for tables and lists ("42 tables, 0 differences").
    pub summary: String,
}

/// Current state of one database, derived from its events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DbState {
    pub db_id: String,
    pub wave: Option<u32>,
    pub engine: Engine,
    pub size_gb: f64,
    pub owner: String,
    pub criticality: Criticality,
    pub stage: Stage,
    /// For `failed`: the stage it failed in. For `paused`: the stage it was paused in.
    pub held_stage: Option<Stage>,
    pub stage_since: DateTime<Utc>,
    /// Full-load progress, 0 to 100.
    pub progress_pct: f64,
    /// Latest CDC lag in seconds, once CDC has started.
    pub lag_s: Option<f64>,
    pub validation: Option<ValidationSummary>,
    /// Latest pre-check outcome (`db.precheck`).
    #[serde(default)]
    pub precheck: Option<ValidationSummary>,
    pub drs_job_id: Option<String>,
    pub last_error: Option<String>,
    pub last_event_at: DateTime<Utc>,
    /// Retries recorded for the current step.
    pub attempts: u32,
    /// The database's own cutover lag limit (`overrides.max_cutover_lag_s`), if it has one.
    #[serde(default)]
    pub max_lag_s: Option<f64>,
    /// The database's own business window (used when its wave has none).
    #[serde(default)]
    pub business_window: String,
    /// The sign-offs standing now (`db.signoff` events, withdrawn by a change that matters).
    #[serde(default)]
    pub signoff: crate::signoff::Ledger,
    /// When a restore test last passed since the database entered its stage (hypercare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_passed_at: Option<DateTime<Utc>>,
    /// Its restore tests in brief (the Databases view's column), kept across stages.
    #[serde(default, skip_serializing_if = "RestoreBrief::is_empty")]
    pub restore_test: RestoreBrief,
    /// How it migrates (inventory `mode`); left out when online, as in its spec.
    #[serde(default, skip_serializing_if = "Mode::is_online")]
    pub mode: Mode,
}

/// A database's restore tests as its state keeps them (`restore::plan::brief` folds them in):
/// the last verdict and the run under way. The detail view reads the whole log instead.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreBrief {
    /// The run whose instance is not deleted yet: its number and first event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<(u32, DateTime<Utc>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<RestoreLast>,
}

impl RestoreBrief {
    pub fn is_empty(&self) -> bool {
        self == &RestoreBrief::default()
    }
}

/// The last restore test with a verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreLast {
    pub run: u32,
    pub passed: bool,
    pub at: DateTime<Utc>,
    /// From the run's first event to its verdict.
    pub took_s: i64,
}

/// Current state of one wave, derived from its events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaveState {
    pub wave: u32,
    /// The wave's cutover window as written (same syntax as an inventory business window).
    pub window: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    /// Its `wave.done`, once the engine wrote it; left out before (and in older rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<WaveEnd>,
}

/// Where a wave is, as the lead asks about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaveStatus {
    /// Not started.
    Planned,
    /// Started, and no `wave.done` yet (a member in hypercare has not ended).
    Running,
    /// Its `wave.done` is written: every member completed, aborted or rolled back.
    Done,
}

impl WaveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WaveStatus::Planned => "planned",
            WaveStatus::Running => "running",
            WaveStatus::Done => "done",
        }
    }
    pub fn parse(s: &str) -> Option<WaveStatus> {
        match s {
            "planned" => Some(WaveStatus::Planned),
            "running" => Some(WaveStatus::Running),
            "done" => Some(WaveStatus::Done),
            _ => None,
        }
    }
}

impl WaveState {
    pub fn status(&self) -> WaveStatus {
        match (&self.done, self.started_at) {
            (Some(_), _) => WaveStatus::Done,
            (None, Some(_)) => WaveStatus::Running,
            (None, None) => WaveStatus::Planned,
        }
    }
}

/// A wave's end as its state keeps it: when the engine wrote `wave.done`, and its members by
/// final stage. Only the event says a wave is done: hypercare is not final, so the members'
/// stages alone cannot tell a closed wave from one whose hypercare is still open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaveEnd {
    pub at: DateTime<Utc>,
    pub members: u32,
    pub completed: u32,
    pub aborted: u32,
    pub rolled_back: u32,
}

impl WaveEnd {
    /// "8 completed, 1 rolled back" (the counts that are not 0).
    pub fn counts(&self) -> String {
        final_counts(self.completed, self.rolled_back, self.aborted)
    }
}

/// Members by final stage, the counts that are not 0: "8 completed, 1 rolled back".
pub fn final_counts(completed: u32, rolled_back: u32, aborted: u32) -> String {
    let counts: Vec<String> = [
        (completed, "completed"),
        (rolled_back, "rolled back"),
        (aborted, "aborted"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    counts.join(", ")
}
