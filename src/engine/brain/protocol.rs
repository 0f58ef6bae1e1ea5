//! The brain and the driver trade these: [`Work`] (a side effect), [`Look`] (a read-only poll),
//! and what comes back ([`WorkResult`], [`Seen`], [`Report`]); the seeds a brain is loaded from;
//! a tick's [`Plan`]; and a refused command's [`Refusal`].

use crate::cutover::steps::{CutoverStep as CutStep, RollbackAction};
use crate::drs::model::JobStatus;
use crate::engine::classify::ErrorClass;
use crate::inventory::Criticality;
use crate::inventory::DatabaseSpec;
use crate::lifecycle::{Rejection, Stage};
use crate::store::event::GuardLine;
use crate::store::{DbState, WaveState};
use serde_json::Value;

/// A step with a side effect (what a [`Work`] runs; `engine/effects/` runs them): written as
/// intent, run, written as outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EffectStep {
    /// Create the DRS job named after the db_id (or find the one created before).
    CreateJob,
    /// Test the job's connections and save its endpoints (DRS wants both before a pre-check).
    PrepareJob,
    /// Submit DRS's own pre-check for the job.
    DrsPrecheck,
    /// wavedeck's SQL pre-checks against the real endpoints (the exposure check among them).
    SqlPrecheck,
    /// The "no public exposure" check alone (`checks::exposure`), for the pre-checks that run
    /// no SQL checks (`engine.checks: drs`): DRS's own pre-check does not look at the target's
    /// EIPs or security groups.
    ExposureCheck,
    /// Start the DRS job (full load, then CDC).
    StartJob,
    /// Resume a paused or failed DRS job (DRS retries from where it stopped).
    ResumeJob,
    PauseJob,
    /// Create a DRS comparison task (objects, row counts).
    Compare,
    /// wavedeck's validation (schema, counts, checksums, smoke tests).
    SqlValidate,
    /// Terminate the DRS job: at cutover this lifts the target's read-only (research §2.7).
    Terminate,
    DeleteJob,
    /// Stop writes at the source (the emulator's switch in rehearsals).
    DrainSource,
    /// Writes back on at the source (rollback).
    SourceWritesOn,
    /// Point the service name at the target.
    DnsSwitch,
    /// Point the service name back at the source (rollback).
    DnsSwitchBack,
    /// A step of the cutover module (`engine.source_drain: sql`), `cutover.<name>` in events.
    Cut(CutStep),
    /// A rollback action of the cutover module, `rollback.<name>` in events.
    Undo(RollbackAction),
}

impl EffectStep {
    pub const ALL: [EffectStep; 16] = [
        EffectStep::PrepareJob,
        EffectStep::DrainSource,
        EffectStep::SourceWritesOn,
        EffectStep::CreateJob,
        EffectStep::DrsPrecheck,
        EffectStep::SqlPrecheck,
        EffectStep::ExposureCheck,
        EffectStep::StartJob,
        EffectStep::ResumeJob,
        EffectStep::PauseJob,
        EffectStep::Compare,
        EffectStep::SqlValidate,
        EffectStep::Terminate,
        EffectStep::DeleteJob,
        EffectStep::DnsSwitch,
        EffectStep::DnsSwitchBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EffectStep::CreateJob => "create_job",
            EffectStep::PrepareJob => "prepare_job",
            EffectStep::DrsPrecheck => "drs_precheck",
            EffectStep::SqlPrecheck => "sql_precheck",
            EffectStep::ExposureCheck => "exposure_check",
            EffectStep::StartJob => "start_job",
            EffectStep::ResumeJob => "resume_job",
            EffectStep::PauseJob => "pause_job",
            EffectStep::Compare => "compare",
            EffectStep::SqlValidate => "sql_validate",
            EffectStep::Terminate => "terminate_job",
            EffectStep::DeleteJob => "delete_job",
            EffectStep::DrainSource => "drain_source",
            EffectStep::SourceWritesOn => "source_writes_on",
            EffectStep::DnsSwitch => "dns_switch",
            EffectStep::DnsSwitchBack => "dns_switch_back",
            EffectStep::Cut(c) => c.as_str(),
            EffectStep::Undo(a) => a.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<EffectStep> {
        if s.starts_with("cutover.") {
            return CutStep::parse(s).map(EffectStep::Cut);
        }
        if let Some(a) = RollbackAction::parse(s) {
            return Some(EffectStep::Undo(a));
        }
        EffectStep::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Steps whose result is a pre-check or validation report (a `db.precheck` or
    /// `db.validation` event); every other step's report belongs in its own outcome.
    pub(super) fn reports_check(self) -> bool {
        matches!(
            self,
            EffectStep::SqlPrecheck
                | EffectStep::ExposureCheck
                | EffectStep::SqlValidate
                | EffectStep::DrsPrecheck
                | EffectStep::Compare
        )
    }

    /// The key of a report wavedeck makes itself (its local half) beside DRS's in a merged
    /// report's detail: `{"sql": …, "drs": …}`, or `{"exposure": …, "drs": …}`.
    pub(super) fn half_key(self) -> &'static str {
        match self {
            EffectStep::ExposureCheck => "exposure",
            _ => "sql",
        }
    }
}

/// A side effect for the driver to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Work {
    pub db: String,
    pub step: EffectStep,
    /// 0 for the first try, n for the n-th retry.
    pub attempt: u32,
    pub job: Option<String>,
    /// Re-run of an intent found without outcome after a restart: check the world first.
    pub resumed: bool,
    /// For the cutover's guard step: the lifecycle guards that fail now, in words (the step
    /// adds what the servers show).
    pub blockers: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookKind {
    /// Status, full-load progress and CDC lag (DRS batch progress).
    Job,
    Precheck,
    Compare,
}

/// A read-only poll for the driver to batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Look {
    pub db: String,
    pub job: String,
    pub kind: LookKind,
    /// A job look that wants progress or lag (batch-progress), not only the status.
    pub progress: bool,
    /// For progress looks: [`poll_plan::urgency`], and seconds waited past the progress time.
    pub urgency: u8,
    pub overdue_s: f64,
}

/// A pass/fail report (pre-check, validation), with detail for the evidence pack.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub passed: bool,
    pub summary: String,
    pub detail: Value,
}

/// A failure as the brain needs it: its class and the words for the operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Fail {
    pub class: ErrorClass,
    pub words: String,
}

/// What a [`Work`] returned.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkResult {
    Ok {
        /// The DRS job id (create), when the step produced one.
        job: Option<String>,
        /// The report, for the check/validation steps.
        report: Option<Report>,
        /// Resumed mode found it already done.
        recovered: bool,
    },
    Err(Fail),
}

/// What a [`Look`] saw.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    Job {
        status: JobStatus,
        progress_pct: Option<f64>,
        lag_s: Option<f64>,
    },
    /// `finished == false`: still running, look again later.
    Report {
        finished: bool,
        report: Report,
    },
    /// DRS does not know the job (deleted outside wavedeck, or released).
    Gone,
    Err(Fail),
}

/// Everything the brain needs to know about a database at load time.
#[derive(Clone, Debug, PartialEq)]
pub struct Seed {
    pub db_id: String,
    pub wave: Option<u32>,
    pub criticality: Criticality,
    pub size_gb: f64,
    pub business_window: String,
    pub max_lag_s: Option<f64>,
    pub stage: Stage,
    pub held: Option<Stage>,
    pub job: Option<String>,
    /// How it migrates (inventory `mode`).
    pub mode: crate::inventory::Mode,
}

impl Seed {
    /// A database as the store holds it: its derived state and its inventory record.
    pub fn from_state(s: DbState, spec: Option<&DatabaseSpec>) -> Seed {
        Seed {
            business_window: spec.map(|p| p.business_window.clone()).unwrap_or_default(),
            max_lag_s: spec.and_then(|p| p.overrides.max_cutover_lag_s),
            db_id: s.db_id,
            wave: s.wave,
            criticality: s.criticality,
            size_gb: s.size_gb,
            stage: s.stage,
            held: s.held_stage,
            job: s.drs_job_id,
            mode: s.mode,
        }
    }
}

impl WaveSeed {
    pub fn from_state(w: WaveState) -> WaveSeed {
        WaveSeed {
            wave: w.wave,
            window: w.window,
            approved_by: w.approved_by,
            started: w.started_at.is_some(),
        }
    }
}

/// Wave facts at load time.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct WaveSeed {
    pub wave: u32,
    pub window: String,
    pub approved_by: Option<String>,
    pub started: bool,
}

/// What one tick asks the driver to do, in order: append `events` (intents among them), then
/// run `works` and `looks`, and record `lag_samples`.
#[derive(Debug, Default)]
pub struct Plan {
    pub works: Vec<Work>,
    pub looks: Vec<Look>,
}

/// Why the brain refused a command: the sentence for the command row, and the guards behind
/// it (passing ones too), for the rejection event, the cockpit and evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub reason: String,
    pub guards: Vec<GuardLine>,
}

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal {
            reason,
            guards: Vec::new(),
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Refusal {
        Refusal {
            reason: r.to_string(),
            guards: r.guards.into_iter().map(GuardLine::from).collect(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn step_names_round_trip() {
        for s in EffectStep::ALL
            .into_iter()
            .chain(CutStep::ALL.into_iter().map(EffectStep::Cut))
            .chain(RollbackAction::ALL.into_iter().map(EffectStep::Undo))
        {
            assert_eq!(EffectStep::parse(s.as_str()), Some(s), "{}", s.as_str());
        }
        assert_eq!(EffectStep::parse("guards"), None);
    }
}
