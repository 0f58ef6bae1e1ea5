//! What the brain remembers of each database and wave, and what that memory says by itself
//! (which step is done, whether a job is held, whether the database waits for the operator).

use super::protocol::*;
use crate::cutover::steps::{rollback_plan, CutoverStep as CutStep, RollbackAction};
use crate::drs::model::JobStatus;
use crate::engine::poll_plan::LastSeen;
use crate::inventory::Criticality;
use crate::lifecycle::facts::WindowMemo;
use crate::lifecycle::{Position, Stage};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashSet};

#[derive(Clone, Debug)]
pub(super) struct Db {
    pub(super) id: String,
    pub(super) wave: Option<u32>,
    pub(super) criticality: Criticality,
    pub(super) size_gb: f64,
    /// How it migrates (inventory `mode`): an offline database has no DRS job before its
    /// cutover, so it takes no DRS slot and runs no DRS pre-check.
    pub(super) mode: crate::inventory::Mode,
    /// Its own business window (inventory), read once.
    pub(super) window: WindowMemo,
    /// `overrides.max_cutover_lag_s`, for the guards.
    pub(super) own_max_lag_s: Option<f64>,
    /// The limit that applies (own, else global), for polling and lag events.
    pub(super) max_lag_s: f64,
    pub(super) pos: Position,
    /// When it entered its stage (none before its first stage change), for a wave's end.
    pub(super) since: Option<DateTime<Utc>>,
    pub(super) job: Option<String>,
    pub(super) job_started: bool,
    pub(super) job_paused: bool,
    pub(super) job_terminated: bool,
    pub(super) job_released: bool,
    /// The last look saw the DRS job in a failed state.
    pub(super) job_failed: bool,
    pub(super) dns_switched: bool,
    pub(super) source_drained: bool,
    /// When the source's writes stopped (the drain's outcome): the cutover's end records the
    /// write outage from it.
    pub(super) drained_at: Option<DateTime<Utc>>,
    /// DRS's pre-check of the current job passed (`db.precheck` since its `create_job`): an
    /// offline cutover starts its job only then, as DRS starts no other (DRS.M00304).
    pub(super) job_prechecked: bool,
    /// The latest validation since the last cutover began passed (`db.validation` after the
    /// `cutover` stage event): an offline cutover validates its load inside the cutover.
    pub(super) cut_validated: bool,
    /// Cutover-module steps of the current cutover that began (an intent) and that finished;
    /// kept across a retry of a failed cutover, so a rollback undoes what began and a retry
    /// does not redo what finished.
    pub(super) cut_started: BTreeSet<CutStep>,
    pub(super) cut_done: BTreeSet<CutStep>,
    /// DRS status seen last (None: not looked at since load or since the job was created).
    pub(super) job_status: Option<JobStatus>,
    /// Steps done since the database entered its current stage.
    pub(super) done: HashSet<EffectStep>,
    /// An intent found without outcome at load: to be resumed first.
    pub(super) open: Option<(EffectStep, u32)>,
    /// A work or look is in flight.
    pub(super) busy: bool,
    /// Failed attempts of the current step in this stage.
    pub(super) retries: u32,
    /// Tries of the current step that could not decide for lag ([`ErrorClass::Waiting`]),
    /// counted apart from `retries`.
    pub(super) waits: u32,
    pub(super) not_before: f64,
    pub(super) seen: LastSeen,
    /// When the next job look should bring progress or lag (0: at the next look).
    pub(super) progress_at: f64,
    /// Last full-load percent seen and when, for the rate.
    pub(super) last_pct: Option<(f64, f64)>,
    /// Full-load percent per second, from the last two looks.
    pub(super) pct_rate: Option<f64>,
    pub(super) lag_zero_since: Option<f64>,
    pub(super) validation: Option<(bool, DateTime<Utc>)>,
    /// wavedeck's half of a check (the step that made it, its report) waiting for DRS's half.
    /// Its outcome event holds the report too, so a restart rebuilds it (`replay`): a failed
    /// half is never dropped to pass on DRS's verdict alone.
    pub(super) partial: Option<(EffectStep, Report)>,
    pub(super) last_progress_evt: f64,
    pub(super) last_lag_evt: Option<(f64, f64)>,
    /// Why it is not moving, when a limit holds it (for status and the cockpit).
    pub(super) held_by: Option<String>,
    /// The sign-offs standing now.
    pub(super) signoff: crate::signoff::Ledger,
    /// When a restore test last passed since the database entered its stage (hypercare).
    pub(super) restore_passed_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Wave {
    /// The cutover window as planned, read once (it is set at load and never changes).
    pub(super) window: WindowMemo,
    /// Databases in the wave (they are loaded once, and never change wave).
    pub(super) members: usize,
    /// Who approved the cutover window.
    pub(super) approved_by: Option<String>,
    pub(super) started: bool,
    pub(super) started_at: Option<DateTime<Utc>>,
    /// Its `wave.done` is written (or in the store): never written again.
    pub(super) done: bool,
}

/// What a successful step changes in what the brain knows of the job.
pub(super) fn apply_done(d: &mut Db, s: EffectStep, job: Option<String>, at: DateTime<Utc>) {
    d.done.insert(s);
    match s {
        EffectStep::CreateJob => {
            if job.is_some() {
                d.job = job;
            }
            d.job_prechecked = false;
            d.job_status = None;
            d.job_started = false;
            d.job_terminated = false;
            d.job_released = false;
        }
        EffectStep::StartJob | EffectStep::ResumeJob => {
            d.job_started = true;
            d.job_paused = false;
            d.job_failed = false;
        }
        EffectStep::PauseJob => d.job_paused = true,
        EffectStep::Terminate => d.job_terminated = true,
        EffectStep::DeleteJob => {
            d.job = None;
            d.job_prechecked = false;
            d.job_status = None;
            d.job_started = false;
            d.job_terminated = false;
            d.job_released = false;
        }
        EffectStep::DrainSource | EffectStep::Cut(CutStep::DrainSource) => {
            d.source_drained = true;
            d.drained_at = Some(at);
        }
        EffectStep::SourceWritesOn | EffectStep::Undo(RollbackAction::SourceWritesOn) => {
            d.source_drained = false;
            d.drained_at = None;
        }
        EffectStep::DnsSwitch | EffectStep::Cut(CutStep::DnsSwitch) => d.dns_switched = true,
        EffectStep::DnsSwitchBack | EffectStep::Undo(RollbackAction::DnsBack) => {
            d.dns_switched = false
        }
        _ => {}
    }
    if let EffectStep::Cut(c) = s {
        d.cut_done.insert(c);
    }
    if s == EffectStep::Cut(CutStep::FinalSync) {
        // Only DRS lag readings taken after the final sync count towards terminating its job.
        d.lag_zero_since = None;
    }
}

/// What a rolled-back database still has to undo. A cutover run by the cutover module is undone
/// by its plan (in reverse of how far it got); a DRS-mode one by its two switches.
pub(super) fn rollback_next(d: &Db) -> Option<EffectStep> {
    if !d.cut_started.is_empty() {
        let started: Vec<CutStep> = d.cut_started.iter().copied().collect();
        return rollback_plan(&started)
            .into_iter()
            .map(EffectStep::Undo)
            .find(|s| !d.done.contains(s));
    }
    if d.dns_switched {
        return Some(EffectStep::DnsSwitchBack);
    }
    if d.source_drained {
        return Some(EffectStep::SourceWritesOn);
    }
    None
}

/// Stages where a database is working (counts against the per-wave limit).
pub(super) fn working(s: Stage) -> bool {
    matches!(
        s,
        Stage::Prechecks | Stage::Provisioning | Stage::FullLoad | Stage::Cdc | Stage::Validation
    )
}

/// Whether a database holds (or is about to create) a DRS job.
pub(super) fn holds_job(d: &Db) -> bool {
    if d.job.is_some() {
        return !d.job_released;
    }
    // An offline database creates its job only at its cutover: its pre-checks take no slot.
    d.mode.is_online() && matches!(d.pos.stage, Stage::Prechecks | Stage::Provisioning)
}

pub(super) fn in_full_load(d: &Db) -> bool {
    (d.pos.stage == Stage::Provisioning && d.job_started)
        || d.pos.stage == Stage::FullLoad
        || (offline_cutover(d) && d.job_started && !d.job_terminated && !full_load_done(d))
}

/// An offline database in its cutover: the data moves there, with the source's writes stopped.
pub(super) fn offline_cutover(d: &Db) -> bool {
    d.pos.stage == Stage::Cutover && !d.mode.is_online()
}

/// A FULL_TRANS job's load is complete: DRS stops at FULL_TRANSFER_COMPLETE (no CDC follows).
pub(super) fn full_load_done(d: &Db) -> bool {
    d.job_status == Some(JobStatus::FullTransferComplete)
}

/// Whether a database runs a validation now (counts against `limits.validation_capacity`).
pub(super) fn runs_validation(d: &Db) -> bool {
    match d.pos.stage {
        Stage::Validation => d.busy_or_started_validation(),
        _ if offline_cutover(d) => !d.cut_validated && d.started_validation(),
        _ => false,
    }
}

impl Db {
    pub(super) fn busy_or_started_validation(&self) -> bool {
        self.started_validation() || self.busy
    }

    pub(super) fn started_validation(&self) -> bool {
        self.done.contains(&EffectStep::Compare) || self.done.contains(&EffectStep::SqlValidate)
    }
}

/// Nothing for the engine to do until an operator acts: terminal with nothing left to clean
/// up, or waiting for a command.
pub(super) fn quiet(d: &Db) -> bool {
    match d.pos.stage {
        Stage::Completed | Stage::Aborted => d.job.is_none(),
        // An offline database's job is discarded once its rollback is undone.
        Stage::RolledBack => rollback_next(d).is_none() && (d.mode.is_online() || d.job.is_none()),
        Stage::Registered | Stage::Failed | Stage::Hypercare | Stage::ReadyOffline => true,
        _ => false,
    }
}

/// Whether `step`'s report is wavedeck's half of a check, kept until DRS's half arrives: the
/// local pre-check of an online database (DRS's pre-check always runs on its job), and the SQL
/// validation when `engine.checks: both` (DRS's comparison runs beside it). An offline
/// database's SQL pre-checks are all its pre-checks: it has no job before its cutover.
pub(super) fn waits_for_drs(d: &Db, step: EffectStep, both: bool) -> bool {
    match step {
        // The exposure re-check at a cutover's start stands alone.
        EffectStep::SqlPrecheck | EffectStep::ExposureCheck => {
            d.mode.is_online() && d.pos.stage == Stage::Prechecks
        }
        EffectStep::SqlValidate => both,
        _ => false,
    }
}
