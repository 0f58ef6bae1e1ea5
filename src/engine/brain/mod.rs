//! The engine's decisions, free of I/O: given what the store says and what DRS, the checks and
//! the operators report, what happens next. The driver (`runtime`) feeds it and carries out
//! what it asks for; this split keeps every rule testable without a network or a database.
//!
//! Two kinds of request leave the brain:
//! - [`Work`]: a side effect (create a DRS job, start it, terminate it, switch DNS...). Its
//!   `step.intent` event is in the batch the driver appends *before* running it; the
//!   `step.outcome` event is written when it returns. After a crash, an intent without an
//!   outcome is run again in "resumed" mode, where the driver first asks the world whether it
//!   already happened (a DRS job named after the db_id is found, not created twice).
//! - [`Look`]: a read-only poll (job status/progress/lag, pre-check or comparison result),
//!   batched by the driver, with no events of its own.

use crate::config::{ChecksMode, Config};
use crate::cutover::step::{rollback_plan, RollbackAction, Step as CutStep};
use crate::drs::model::JobStatus;
use crate::engine::admission::{self, Candidate, Caps, Usage};
use crate::engine::backoff::Backoff;
use crate::engine::classify::ErrorClass;
use crate::engine::poll::{self, LastSeen, Slowdown};
use crate::inventory::Criticality;
use crate::inventory::DatabaseSpec;
use crate::lifecycle::transition::CUTOVER_GUARDS;
use crate::lifecycle::{
    check, check_wave_action, decide, facts, GuardContext, GuardKind, JobPhase, Position,
    Rejection, Stage, Trigger,
};
use crate::store::event::{
    Body, CheckReport, GuardLine, JobStatusSeen, Lag, Progress, SignedOff, StageChanged,
    StepIntent, StepOutcome, WaveAct,
};
use crate::store::{Action, CommandRow, DbState, Event, NewEvent, Role, Target, WaveState};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

/// The `actor` of every event the engine writes on its own behalf.
pub const ACTOR: &str = "engine";

/// Tries of a step that could not decide for lag ([`ErrorClass::Waiting`]) before the database
/// fails with the reason. Each waits the retry backoff (capped by `engine.retry_cap_s`) and the
/// live gate itself waits up to `validation.recheck_wait_s` for its position: hours of a
/// replication that does not move, not a workload's usual lag.
const WAIT_TRIES: u32 = 20;

/// A step with a side effect: written as intent, run, written as outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// Create the DRS job named after the db_id (or find the one created before).
    CreateJob,
    /// Test the job's connections and save its endpoints (DRS wants both before a pre-check).
    PrepareJob,
    /// Submit DRS's own pre-check for the job.
    DrsPrecheck,
    /// wavedeck's SQL pre-checks against the real endpoints.
    SqlPrecheck,
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

impl Step {
    pub const ALL: [Step; 15] = [
        Step::PrepareJob,
        Step::DrainSource,
        Step::SourceWritesOn,
        Step::CreateJob,
        Step::DrsPrecheck,
        Step::SqlPrecheck,
        Step::StartJob,
        Step::ResumeJob,
        Step::PauseJob,
        Step::Compare,
        Step::SqlValidate,
        Step::Terminate,
        Step::DeleteJob,
        Step::DnsSwitch,
        Step::DnsSwitchBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateJob => "create_job",
            Step::PrepareJob => "prepare_job",
            Step::DrsPrecheck => "drs_precheck",
            Step::SqlPrecheck => "sql_precheck",
            Step::StartJob => "start_job",
            Step::ResumeJob => "resume_job",
            Step::PauseJob => "pause_job",
            Step::Compare => "compare",
            Step::SqlValidate => "sql_validate",
            Step::Terminate => "terminate_job",
            Step::DeleteJob => "delete_job",
            Step::DrainSource => "drain_source",
            Step::SourceWritesOn => "source_writes_on",
            Step::DnsSwitch => "dns_switch",
            Step::DnsSwitchBack => "dns_switch_back",
            Step::Cut(c) => c.as_str(),
            Step::Undo(a) => a.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        if s.starts_with("cutover.") {
            return CutStep::parse(s).map(Step::Cut);
        }
        if let Some(a) = RollbackAction::parse(s) {
            return Some(Step::Undo(a));
        }
        Step::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Steps whose result is a pre-check or validation report (a `db.precheck` or
    /// `db.validation` event); every other step's report belongs in its own outcome.
    fn reports_check(self) -> bool {
        matches!(
            self,
            Step::SqlPrecheck | Step::SqlValidate | Step::DrsPrecheck | Step::Compare
        )
    }
}

/// A side effect for the driver to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Work {
    pub db: String,
    pub step: Step,
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
    /// For progress looks: [`poll::urgency`], and seconds waited past the progress time.
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

#[derive(Clone, Debug)]
struct Db {
    id: String,
    wave: Option<u32>,
    criticality: Criticality,
    size_gb: f64,
    window: String,
    /// `overrides.max_cutover_lag_s`, for the guards.
    own_max_lag_s: Option<f64>,
    /// The limit that applies (own, else global), for polling and lag events.
    max_lag_s: f64,
    pos: Position,
    job: Option<String>,
    job_started: bool,
    job_paused: bool,
    job_terminated: bool,
    job_released: bool,
    /// The last look saw the DRS job in a failed state.
    job_failed: bool,
    dns_switched: bool,
    source_drained: bool,
    /// Cutover-module steps of the current cutover that began (an intent) and that finished;
    /// kept across a retry of a failed cutover, so a rollback undoes what began and a retry
    /// does not redo what finished.
    cut_started: BTreeSet<CutStep>,
    cut_done: BTreeSet<CutStep>,
    /// DRS status seen last (None: not looked at since load or since the job was created).
    job_status: Option<JobStatus>,
    /// Steps done since the database entered its current stage.
    done: HashSet<Step>,
    /// An intent found without outcome at load: to be resumed first.
    open: Option<(Step, u32)>,
    /// A work or look is in flight.
    busy: bool,
    /// Failed attempts of the current step in this stage.
    retries: u32,
    /// Tries of the current step that could not decide for lag ([`ErrorClass::Waiting`]),
    /// counted apart from `retries`.
    waits: u32,
    not_before: f64,
    seen: LastSeen,
    /// When the next job look should bring progress or lag (0: at the next look).
    progress_at: f64,
    /// Last full-load percent seen and when, for the rate.
    last_pct: Option<(f64, f64)>,
    /// Full-load percent per second, from the last two looks.
    pct_rate: Option<f64>,
    lag_zero_since: Option<f64>,
    validation: Option<(bool, DateTime<Utc>)>,
    /// Partial reports while `both` checks run: the SQL half waits for the DRS half.
    partial: Option<Report>,
    last_progress_evt: f64,
    last_lag_evt: Option<(f64, f64)>,
    /// Why it is not moving, when a limit holds it (for status and the cockpit).
    held_by: Option<String>,
    /// The sign-offs standing now.
    signoff: crate::signoff::Ledger,
}

#[derive(Clone, Debug, Default)]
struct Wave {
    window: String,
    /// Who approved the cutover window.
    approved_by: Option<String>,
    started: bool,
}

/// What one tick asks the driver to do, in order: append `events` (intents among them), then
/// run `works` and `looks`, and record `lag_samples`.
#[derive(Debug, Default)]
pub struct Plan {
    pub works: Vec<Work>,
    pub looks: Vec<Look>,
}

/// Engine settings derived from the config.
#[derive(Clone, Debug)]
pub struct Settings {
    pub checks: ChecksMode,
    pub time_scale: f64,
    pub poll: poll::PollIntervals,
    pub backoff: Backoff,
    pub caps: Caps,
    pub max_lag_s: f64,
    pub lag_stable_s: f64,
    pub validation_max_age_min: u32,
    /// `engine.source_drain: sql`: cutover and rollback run the cutover module's steps.
    pub sql_cutover: bool,
    /// Who must sign off a cutover, and who may.
    pub signoff: crate::signoff::SignoffConfig,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        let e = &cfg.engine;
        let secs = |s: f64| Duration::from_secs_f64(if s.is_finite() { s.max(0.0) } else { 0.0 });
        Settings {
            checks: e.checks,
            time_scale: if e.time_scale.is_finite() && e.time_scale > 0.0 {
                e.time_scale
            } else {
                1.0
            },
            poll: e.poll,
            backoff: Backoff::new(
                secs(e.retry_base_s),
                secs(e.retry_cap_s),
                cfg.thresholds.max_retries,
            ),
            caps: Caps::from_limits(&cfg.limits, e.job_bandwidth_mbps),
            max_lag_s: cfg.thresholds.max_cutover_lag_s,
            lag_stable_s: e.lag_stable_s,
            validation_max_age_min: cfg.thresholds.validation_max_age_min,
            sql_cutover: e.source_drain == crate::config::SourceDrain::Sql,
            signoff: cfg.signoff.clone(),
        }
    }

    /// The thresholds the guards read, as the cockpit reads them from the same config.
    pub fn thresholds(&self) -> facts::Thresholds {
        facts::Thresholds {
            max_lag_s: self.max_lag_s,
            validation_max_age_min: self.validation_max_age_min,
            signoff: crate::signoff::Needs::from_config(&self.signoff),
        }
    }

    fn drs(&self) -> bool {
        matches!(self.checks, ChecksMode::Drs | ChecksMode::Both)
    }
    fn sql(&self) -> bool {
        matches!(self.checks, ChecksMode::Sql | ChecksMode::Both)
    }
}

/// Counts for `wavedeck status` and the cockpit.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Load {
    pub drs_jobs: usize,
    pub working_per_wave: BTreeMap<u32, usize>,
    pub validations: usize,
    pub full_loads: usize,
    pub held: usize,
}

/// `Clone`: a test judges several commands against one state.
#[derive(Clone)]
pub struct Brain {
    pub settings: Settings,
    dbs: BTreeMap<String, Db>,
    waves: BTreeMap<u32, Wave>,
    /// Events to append before the works of this round run.
    out: Vec<NewEvent>,
    /// Lag samples to record (db_id, seconds).
    lag_samples: Vec<(String, f64)>,
    pub slowdown: Slowdown,
    /// Job looks wait for the next polling round (`engine.poll.round_s`) to share its calls.
    next_round: f64,
    rng: rand::rngs::StdRng,
}

fn ev(db: Option<&str>, wave: Option<u32>, body: Body) -> NewEvent {
    NewEvent::of(db, wave, body, ACTOR)
}

impl Brain {
    pub fn new(settings: Settings, seed: u64) -> Brain {
        Brain {
            settings,
            dbs: BTreeMap::new(),
            waves: BTreeMap::new(),
            out: Vec::new(),
            lag_samples: Vec::new(),
            slowdown: Slowdown::default(),
            next_round: 0.0,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        }
    }

    /// Load the databases and waves, then replay their events (in seq order) to rebuild what
    /// the state tables do not hold: steps done in the current stage and intents left open.
    pub fn load(&mut self, seeds: Vec<Seed>, waves: Vec<WaveSeed>, events: &[Event]) {
        for w in waves {
            self.waves.insert(
                w.wave,
                Wave {
                    window: w.window,
                    approved_by: w.approved_by,
                    started: w.started,
                },
            );
        }
        for s in seeds {
            if let Some(w) = s.wave {
                self.waves.entry(w).or_default();
            }
            let db = Db {
                own_max_lag_s: s.max_lag_s,
                max_lag_s: self.settings.thresholds().lag_limit(s.max_lag_s),
                id: s.db_id.clone(),
                wave: s.wave,
                criticality: s.criticality,
                size_gb: s.size_gb,
                window: s.business_window,
                pos: Position::from_state(s.stage, s.held),
                job: s.job,
                job_started: false,
                job_paused: false,
                job_terminated: false,
                job_released: false,
                job_failed: false,
                dns_switched: false,
                source_drained: false,
                cut_started: BTreeSet::new(),
                cut_done: BTreeSet::new(),
                job_status: None,
                done: HashSet::new(),
                open: None,
                busy: false,
                retries: 0,
                waits: 0,
                not_before: 0.0,
                seen: LastSeen::default(),
                progress_at: 0.0,
                last_pct: None,
                pct_rate: None,
                lag_zero_since: None,
                validation: None,
                partial: None,
                last_progress_evt: 0.0,
                last_lag_evt: None,
                held_by: None,
                signoff: Default::default(),
            };
            self.dbs.insert(s.db_id, db);
        }
        for e in events {
            self.replay(e);
        }
    }

    fn replay(&mut self, e: &Event) {
        let body = e.body();
        match &body {
            Body::WaveStarted(a) | Body::WaveApproved(a) => {
                if let Some(w) = e.wave.or(a.wave) {
                    let wave = self.waves.entry(w).or_default();
                    if matches!(body, Body::WaveStarted(_)) {
                        wave.started = true;
                    } else {
                        // As the store's fold reads it: the approver, else the event's actor.
                        wave.approved_by = Some(a.by.clone().unwrap_or_else(|| e.actor.clone()));
                    }
                }
                return;
            }
            _ => {}
        }
        let Some(db) = e.db_id.as_deref().and_then(|id| self.dbs.get_mut(id)) else {
            return;
        };
        db.signoff.observe(&e.kind, &body, e.time);
        if let Some(j) = body.drs_job_id() {
            db.job = Some(j.to_string());
        }
        match body {
            Body::Stage(s) => {
                db.done.clear();
                db.retries = 0;
                db.open = None;
                db.partial = None;
                if s.trigger == Some(Trigger::Cutover) {
                    db.cut_started.clear();
                    db.cut_done.clear();
                }
            }
            Body::StepIntent(i) => {
                if let Some(s) = Step::parse(&i.step) {
                    db.open = Some((s, i.attempt));
                    if let Step::Cut(c) = s {
                        db.cut_started.insert(c);
                    }
                }
            }
            Body::StepOutcome(o) => {
                let Some(s) = Step::parse(&o.step) else {
                    return;
                };
                if db.open.map(|o| o.0) == Some(s) {
                    db.open = None;
                }
                if o.ok {
                    apply_done(db, s, None);
                } else if !o.waiting() {
                    db.retries = db.retries.max(o.attempt + 1);
                }
            }
            Body::Validation(r) => db.validation = Some((r.passed, e.time)),
            Body::Lag(l) => db.seen.lag_s = Some(l.lag_s),
            Body::Progress(p) => {
                db.seen.progress_pct = Some(p.pct);
                db.last_progress_evt = p.pct;
            }
            Body::JobStatus(j) => db.job_status = Some(j.status),
            _ => {}
        }
    }

    /// Events to append now (intents of the works about to run among them).
    pub fn take_events(&mut self) -> Vec<NewEvent> {
        // The brain's own events that withdraw sign-offs (a failed validation, a rollback)
        // reach the ledgers here, in the one place every event leaves by.
        let now = Utc::now();
        for e in &self.out {
            if let Some(d) = e.db_id.as_deref().and_then(|id| self.dbs.get_mut(id)) {
                d.signoff
                    .observe(&e.kind, &Body::read(&e.kind, &e.payload), now);
            }
        }
        std::mem::take(&mut self.out)
    }

    /// Lag samples for the store's downsampled series.
    pub fn take_lag_samples(&mut self) -> Vec<(String, f64)> {
        std::mem::take(&mut self.lag_samples)
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    pub fn stage_of(&self, db: &str) -> Option<Position> {
        self.dbs.get(db).map(|d| d.pos)
    }

    pub fn job_of(&self, db: &str) -> Option<&str> {
        self.dbs.get(db).and_then(|d| d.job.as_deref())
    }

    /// Whether nothing more will happen without an operator: every database of every started
    /// wave is in ready or beyond, failed, or aborted, and nothing is in flight.
    pub fn idle(&self) -> bool {
        self.dbs.values().all(|d| {
            !d.busy
                && d.open.is_none()
                && match d.pos.stage {
                    Stage::Registered => !self.wave_started(d.wave),
                    Stage::Ready | Stage::Hypercare | Stage::Failed => true,
                    Stage::Paused => d.job_paused || !d.job_started,
                    Stage::Completed | Stage::Aborted => d.job.is_none(),
                    Stage::RolledBack => rollback_next(d).is_none(),
                    _ => false,
                }
        })
    }

    fn wave_started(&self, w: Option<u32>) -> bool {
        w.and_then(|w| self.waves.get(&w))
            .is_some_and(|w| w.started)
    }

    /// What is in use, from the current positions.
    pub fn load_now(&self) -> Load {
        let mut l = Load::default();
        for d in self.dbs.values() {
            if holds_job(d) {
                l.drs_jobs += 1;
            }
            if working(d.pos.stage) {
                if let Some(w) = d.wave {
                    *l.working_per_wave.entry(w).or_insert(0) += 1;
                }
            }
            if d.pos.stage == Stage::Validation && d.busy_or_started_validation() {
                l.validations += 1;
            }
            if in_full_load(d) {
                l.full_loads += 1;
            }
            if d.held_by.is_some() {
                l.held += 1;
            }
        }
        l
    }

    /// Why each held database waits (db_id, sentence).
    pub fn held(&self) -> Vec<(String, String)> {
        self.dbs
            .values()
            .filter_map(|d| d.held_by.clone().map(|h| (d.id.clone(), h)))
            .collect()
    }

    fn usage(&self) -> Usage {
        let l = self.load_now();
        Usage {
            drs_jobs: l.drs_jobs,
            per_wave: l.working_per_wave,
            validations: l.validations,
            full_loads: l.full_loads,
        }
    }

    fn scaled(&self, d: Duration) -> f64 {
        d.as_secs_f64() / self.settings.time_scale
    }

    /// One round: admit waiting databases, then ask for the next work or look of each database
    /// that is due. `now` is monotonic seconds, `wall` the clock for guards.
    pub fn tick(&mut self, now: f64, wall: DateTime<Utc>) -> Plan {
        self.admit(wall);
        self.revalidate_stale(wall);
        let mut plan = Plan::default();
        let mut usage = self.usage();
        let caps = self.settings.caps;
        let round_open = now >= self.next_round;
        let mut job_looks = false;
        let ids: Vec<String> = self
            .dbs
            .values()
            .filter(|d| !d.busy && d.not_before <= now && !quiet(d))
            .map(|d| d.id.clone())
            .collect();
        for id in ids {
            let next = {
                let d = &self.dbs[&id];
                if let Some((step, attempt)) = d.open {
                    Next::Work(step, attempt, true)
                } else {
                    self.next_for(d, now, &caps, &usage)
                }
            };
            let blockers = match next {
                Next::Work(Step::Cut(CutStep::Guards), ..) => self.cutover_blockers(&id, wall),
                _ => Vec::new(),
            };
            let settings_poll = self.settings.poll;
            let scale = self.settings.time_scale;
            let slow = self.slowdown.0;
            let d = self.dbs.get_mut(&id).expect("id from the map");
            d.held_by = None;
            match next {
                Next::Work(step, attempt, resumed) => {
                    if step == Step::StartJob
                        || (step == Step::ResumeJob && d.pos.stage <= Stage::FullLoad)
                    {
                        usage.full_loads += 1;
                    }
                    if step == Step::Compare || step == Step::SqlValidate {
                        usage.validations += 1;
                    }
                    if !resumed {
                        let intent = StepIntent {
                            step: step.as_str().to_string(),
                            attempt,
                            stage: Some(d.pos.stage),
                            drs_job_id: d.job.clone(),
                            does: match step {
                                Step::Cut(c) => Some(c.describe().to_string()),
                                Step::Undo(a) => Some(a.describe().to_string()),
                                _ => None,
                            },
                            blockers: blockers.clone(),
                        };
                        self.out
                            .push(ev(Some(&id), d.wave, Body::StepIntent(intent)));
                    }
                    if let Step::Cut(c) = step {
                        d.cut_started.insert(c);
                    }
                    d.open = Some((step, attempt));
                    d.busy = true;
                    plan.works.push(Work {
                        db: id.clone(),
                        step,
                        attempt,
                        job: d.job.clone(),
                        resumed,
                        blockers,
                    });
                }
                Next::Look(k) => {
                    let Some(job) = d.job.clone() else { continue };
                    let mut look = Look {
                        db: id.clone(),
                        job,
                        kind: k,
                        progress: false,
                        urgency: 0,
                        overdue_s: 0.0,
                    };
                    if k == LookKind::Job {
                        if !round_open {
                            d.not_before = self.next_round;
                            continue;
                        }
                        job_looks = true;
                        if poll::wants_progress(d.pos.stage) && now >= d.progress_at {
                            look.progress = true;
                            look.urgency = poll::urgency(d.pos.stage, d.seen, d.max_lag_s);
                            look.overdue_s = now - d.progress_at;
                        }
                    }
                    d.busy = true;
                    plan.looks.push(look);
                }
                Next::Advance(trigger, reason) => {
                    if let Err(why) =
                        self.transition(&id, trigger, &reason, wall, Role::Operator, None)
                    {
                        let d = self.dbs.get_mut(&id).expect("id from the map");
                        d.held_by = Some(why.reason);
                        d.not_before = now
                            + poll::next_interval(
                                d.pos.stage,
                                d.seen,
                                d.max_lag_s,
                                &settings_poll,
                                scale,
                                slow,
                            )
                            .as_secs_f64();
                    }
                }
                Next::Wait(reason) => {
                    // A limit may free up any moment: check again soon, but not every tick.
                    d.held_by = Some(reason);
                    d.not_before = now + (0.5 / scale).max(0.02);
                }
                Next::Idle => {
                    let iv = poll::next_interval(
                        d.pos.stage,
                        d.seen,
                        d.max_lag_s,
                        &settings_poll,
                        scale,
                        slow,
                    );
                    d.not_before = now + iv.as_secs_f64();
                }
            }
        }
        if job_looks {
            self.next_round =
                now + self.scaled(Duration::from_secs_f64(self.settings.poll.round_s.max(0.0)));
        }
        plan
    }

    /// The next thing a due database needs.
    fn next_for(&self, d: &Db, now: f64, caps: &Caps, usage: &Usage) -> Next {
        let s = &self.settings;
        let attempt = d.retries;
        let work = |step| Next::Work(step, attempt, false);
        // Stages that run on a started DRS job need it to exist, be started and not paused.
        let needs_job = matches!(
            d.pos.stage,
            Stage::Provisioning | Stage::FullLoad | Stage::Cdc | Stage::Validation | Stage::Ready
        );
        let phase = d.job_status.as_ref().map(JobPhase::of);
        if matches!(d.pos.stage, Stage::Prechecks | Stage::Provisioning) && d.job.is_some() {
            // A job DRS failed to create is deleted and made again (same name).
            if phase == Some(JobPhase::CreateFailed) {
                return work(Step::DeleteJob);
            }
            // Creation takes minutes on real DRS: wait for it instead of spending retries.
            if matches!(phase, None | Some(JobPhase::Creating)) && !d.job_started {
                return Next::Look(LookKind::Job);
            }
        }
        if needs_job || (d.pos.stage == Stage::Cutover && !d.job_terminated && d.job.is_some()) {
            if d.job.is_none() {
                return work(Step::CreateJob);
            }
            if !d.job_started {
                if let Err(h) = admission::may_full_load(caps, usage) {
                    return Next::Wait(h.to_string());
                }
                return work(Step::StartJob);
            }
            if d.job_paused || d.job_failed {
                return work(Step::ResumeJob);
            }
        }
        match d.pos.stage {
            Stage::Prechecks => {
                if s.sql() && !d.done.contains(&Step::SqlPrecheck) {
                    return work(Step::SqlPrecheck);
                }
                // DRS's pre-check runs whatever `checks` says: DRS starts no job whose pre-check
                // has not passed (DRS.M00304), so skipping it would only fail later.
                if d.job.is_none() {
                    return work(Step::CreateJob);
                }
                if !d.done.contains(&Step::PrepareJob) && !d.done.contains(&Step::DrsPrecheck) {
                    return work(Step::PrepareJob);
                }
                if !d.done.contains(&Step::DrsPrecheck) {
                    return work(Step::DrsPrecheck);
                }
                Next::Look(LookKind::Precheck)
            }
            Stage::Provisioning | Stage::FullLoad | Stage::Cdc | Stage::Ready => {
                Next::Look(LookKind::Job)
            }
            Stage::Validation => {
                if s.sql() && !d.done.contains(&Step::SqlValidate) {
                    if let Err(h) = admission::may_validate(caps, usage) {
                        return Next::Wait(h.to_string());
                    }
                    return work(Step::SqlValidate);
                }
                if s.drs() {
                    if !d.done.contains(&Step::Compare) {
                        if let Err(h) = admission::may_validate(caps, usage) {
                            return Next::Wait(h.to_string());
                        }
                        return work(Step::Compare);
                    }
                    return Next::Look(LookKind::Compare);
                }
                Next::Idle
            }
            Stage::Cutover if s.sql_cutover || !d.cut_started.is_empty() => {
                self.next_cut(d, now, attempt)
            }
            Stage::Cutover => {
                if d.job.is_some() && !d.job_terminated && !d.source_drained {
                    return work(Step::DrainSource);
                }
                if d.job.is_some() && !d.job_terminated {
                    let stable = self.scaled(Duration::from_secs_f64(s.lag_stable_s.max(0.0)));
                    return match d.lag_zero_since {
                        Some(t) if now - t >= stable => work(Step::Terminate),
                        _ => Next::Look(LookKind::Job),
                    };
                }
                if d.job.is_some() && !d.job_released {
                    return Next::Look(LookKind::Job);
                }
                if !d.dns_switched {
                    return work(Step::DnsSwitch);
                }
                Next::Advance(
                    Trigger::CutoverDone,
                    "DRS job terminated (target writable), DNS switched".into(),
                )
            }
            Stage::Paused => {
                if d.job.is_some() && d.job_started && !d.job_paused && !d.job_terminated {
                    return work(Step::PauseJob);
                }
                Next::Idle
            }
            Stage::Aborted | Stage::Completed => {
                let Some(_) = d.job else { return Next::Idle };
                if !d.job_terminated {
                    return work(Step::Terminate);
                }
                if !d.job_released {
                    return Next::Look(LookKind::Job);
                }
                work(Step::DeleteJob)
            }
            Stage::RolledBack => match rollback_next(d) {
                Some(step) => work(step),
                None => Next::Idle,
            },
            _ => Next::Idle,
        }
    }

    /// The next step of a cutover run by the cutover module: its steps in runbook order, with
    /// the DRS job's part between them (after the final sync, DRS's lag 0 and stable, then the
    /// job terminated and released, before the final quick validation).
    fn next_cut(&self, d: &Db, now: f64, attempt: u32) -> Next {
        let work = |step| Next::Work(step, attempt, false);
        let done = |c: CutStep| d.cut_done.contains(&c);
        for c in [CutStep::Guards, CutStep::DrainSource] {
            if !done(c) {
                return work(Step::Cut(c));
            }
        }
        if !done(CutStep::FinalSync) {
            return work(Step::Cut(CutStep::FinalSync));
        }
        if d.job.is_some() && !d.job_terminated {
            // The slot says the source has nothing left for DRS; DRS's own lag, read after
            // that and staying 0, says it applied what it took (its slot position alone may
            // count changes it holds but has not written to the target yet).
            let stable = self.scaled(Duration::from_secs_f64(self.settings.lag_stable_s.max(0.0)));
            return match d.lag_zero_since {
                Some(t) if now - t >= stable => work(Step::Terminate),
                _ => Next::Look(LookKind::Job),
            };
        }
        if d.job.is_some() && !d.job_released {
            return Next::Look(LookKind::Job);
        }
        for c in [
            CutStep::QuickValidation,
            CutStep::DnsSwitch,
            CutStep::TargetWritesOn,
            CutStep::Hypercare,
        ] {
            if !done(c) {
                return work(Step::Cut(c));
            }
        }
        Next::Advance(
            Trigger::CutoverDone,
            "cutover done: source drained, target caught up and checked, DNS switched, target writable"
                .into(),
        )
    }

    /// The lifecycle guards of a cutover that fail now, in words, except the role (checked
    /// when the command came) and "no cutover in flight" (this is the one in flight).
    fn cutover_blockers(&self, id: &str, wall: DateTime<Utc>) -> Vec<String> {
        let ctx = self.guard_context(id, Role::Operator, wall);
        CUTOVER_GUARDS
            .iter()
            .filter(|g| !matches!(g, GuardKind::Role | GuardKind::NoCutoverInFlight))
            .map(|g| g.check(&ctx))
            .filter(|g| !g.ok)
            .map(|g| g.sentence)
            .collect()
    }

    /// Waves whose members `trigger` may move from `from` as far as the wave decides: the
    /// row's guards on the wave's context, once per wave rather than once per database (each
    /// database moved is judged again on its own context by [`Brain::transition`]).
    fn waves_allowing(
        &self,
        from: Position,
        trigger: Trigger,
        wall: DateTime<Utc>,
    ) -> BTreeSet<u32> {
        self.waves
            .keys()
            .copied()
            .filter(|&w| {
                let ctx = self.wave_context(w, None, Role::Operator, wall);
                decide(from, trigger, &ctx).is_ok()
            })
            .collect()
    }

    /// Start waiting databases of waves the lifecycle admits from (started ones), as far as
    /// the limits allow.
    fn admit(&mut self, wall: DateTime<Utc>) {
        let open = self.waves_allowing(Position::at(Stage::Registered), Trigger::Start, wall);
        let mut waiting: Vec<Candidate> = self
            .dbs
            .values()
            .filter(|d| {
                d.pos.stage == Stage::Registered && d.wave.is_some_and(|w| open.contains(&w))
            })
            .map(|d| Candidate {
                wave: d.wave.unwrap_or(u32::MAX),
                criticality: d.criticality,
                size_gb: d.size_gb,
                db_id: d.id.clone(),
            })
            .collect();
        if waiting.is_empty() {
            return;
        }
        waiting.sort_by(admission::priority);
        let mut usage = self.usage();
        let admitted = admission::admit(&waiting, &self.settings.caps, &mut usage);
        let admitted: BTreeSet<usize> = admitted.into_iter().collect();
        for (i, c) in waiting.iter().enumerate() {
            if admitted.contains(&i) {
                let _ = self.transition(
                    &c.db_id,
                    Trigger::Start,
                    "admitted: its wave is started and a slot is free",
                    wall,
                    Role::Operator,
                    None,
                );
            } else if let Some(d) = self.dbs.get_mut(&c.db_id) {
                d.held_by = Some(if usage.drs_jobs >= self.settings.caps.drs_jobs {
                    admission::Held::DrsJobs(self.settings.caps.drs_jobs).to_string()
                } else {
                    admission::Held::Wave(c.wave, self.settings.caps.per_wave).to_string()
                });
            }
        }
    }

    /// Ready databases whose validation is too old are validated again, in the waves the
    /// lifecycle revalidates in (approved ones), so the cutover guard finds a fresh one.
    fn revalidate_stale(&mut self, wall: DateTime<Utc>) {
        let max_age = chrono::Duration::minutes(self.settings.validation_max_age_min as i64);
        let approved = self.waves_allowing(Position::at(Stage::Ready), Trigger::Revalidate, wall);
        let stale: Vec<String> = self
            .dbs
            .values()
            .filter(|d| {
                d.pos.stage == Stage::Ready
                    && !d.busy
                    && d.wave.is_some_and(|w| approved.contains(&w))
                    && d.validation.is_none_or(|(_, at)| wall - at > max_age)
            })
            .map(|d| d.id.clone())
            .collect();
        for id in stale {
            let _ = self.transition(
                &id,
                Trigger::Revalidate,
                "validation older than thresholds.validation_max_age_min before the window",
                wall,
                Role::Operator,
                None,
            );
        }
    }

    /// The guard context of a database as the engine knows it now (the cockpit builds its
    /// previews with the same [`facts::guard_context`]).
    pub fn guard_context(&self, db: &str, role: Role, wall: DateTime<Utc>) -> GuardContext {
        let th = self.settings.thresholds();
        let Some(d) = self.dbs.get(db) else {
            let mut ctx = GuardContext::new(db, wall);
            ctx.role = role;
            ctx.validation_max_age_min = th.validation_max_age_min;
            return ctx;
        };
        let wave = d.wave.and_then(|w| self.waves.get(&w));
        let f = facts::Facts {
            db_id: db,
            wave: d.wave,
            stage: d.pos.stage,
            lag_s: d.seen.lag_s,
            own_max_lag_s: d.own_max_lag_s,
            own_window: &d.window,
            validation: d.validation,
            wave_window: wave.map(|w| w.window.as_str()).unwrap_or(""),
            wave_approved_by: wave.and_then(|w| w.approved_by.as_deref()),
            wave_started: wave.is_some_and(|w| w.started),
            criticality: d.criticality,
            signoff: &d.signoff,
        };
        facts::guard_context(&f, th, role, wall)
    }

    /// The guard context of `action` on wave `w` as a whole (the cockpit builds its preview
    /// with the same [`facts::wave_context`]). For a cutover it counts the members whose own
    /// cutover guards pass, each on its [`Brain::guard_context`].
    pub fn wave_context(
        &self,
        w: u32,
        action: Option<Action>,
        role: Role,
        wall: DateTime<Utc>,
    ) -> GuardContext {
        let wave = self.waves.get(&w);
        let members = self.dbs.values().filter(|d| d.wave == Some(w));
        let members_ready = match action {
            Some(Action::Cutover) => members
                .clone()
                .filter(|d| {
                    decide(
                        d.pos,
                        Trigger::Cutover,
                        &self.guard_context(&d.id, role, wall),
                    )
                    .is_ok()
                })
                .count(),
            _ => 0,
        };
        let f = facts::WaveFacts {
            wave: w,
            members: members.count(),
            started: wave.is_some_and(|x| x.started),
            approved_by: wave.and_then(|x| x.approved_by.as_deref()),
            window: wave.map(|x| x.window.as_str()).unwrap_or(""),
            members_ready,
        };
        facts::wave_context(&f, role, wall)
    }

    /// Move a database by `trigger` if the lifecycle allows; write the stage event.
    /// Returns the refusal when it does not.
    fn transition(
        &mut self,
        id: &str,
        trigger: Trigger,
        reason: &str,
        wall: DateTime<Utc>,
        role: Role,
        who: Option<&str>,
    ) -> Result<Position, Refusal> {
        let ctx = self.guard_context(id, role, wall);
        let Some(d) = self.dbs.get_mut(id) else {
            return Err(format!("no database {id:?} in the store").into());
        };
        let from = d.pos;
        let to = decide(from, trigger, &ctx)?;
        // The store's fold takes the stage a `failed` or `paused` database holds from `from`.
        let change = StageChanged {
            from: Some(from.stage),
            to: to.stage,
            trigger: Some(trigger),
            reason: reason.to_string(),
            held: to.held,
            error: (to.stage == Stage::Failed).then(|| reason.to_string()),
            by: who.map(str::to_string),
        };
        self.out.push(ev(Some(id), d.wave, Body::Stage(change)));
        d.pos = to;
        d.done.clear();
        d.retries = 0;
        d.waits = 0;
        d.partial = None;
        d.not_before = 0.0;
        d.progress_at = 0.0;
        d.last_pct = None;
        d.pct_rate = None;
        d.held_by = None;
        if to.stage == Stage::Cutover || from.stage == Stage::Cutover {
            d.lag_zero_since = None;
        }
        if trigger == Trigger::Cutover {
            d.cut_started.clear();
            d.cut_done.clear();
        }
        if trigger == Trigger::Retry {
            d.job_failed = false;
        }
        Ok(to)
    }

    /// Fail the current step: retry later, or move to `failed` with the words.
    fn fail(&mut self, id: &str, fail: &Fail, now: f64, wall: DateTime<Utc>) -> Option<f64> {
        let draw: f64 = self.rng.gen();
        let scale = self.settings.time_scale;
        let backoff = self.settings.backoff;
        let d = self.dbs.get_mut(id)?;
        match fail.class {
            ErrorClass::Throttled => {
                self.slowdown.throttled();
                let wait = backoff.delay(1, draw).as_secs_f64() * self.slowdown.0 / scale;
                d.not_before = now + wait;
                Some(wait)
            }
            ErrorClass::Retryable if backoff.allows(d.retries) => {
                d.retries += 1;
                let wait = backoff.delay(d.retries, draw).as_secs_f64() / scale;
                d.not_before = now + wait;
                Some(wait)
            }
            // The same capped backoff as a retry, on its own count.
            ErrorClass::Waiting if d.waits < WAIT_TRIES => {
                d.waits += 1;
                let wait = backoff.delay(d.waits, draw).as_secs_f64() / scale;
                d.not_before = now + wait;
                Some(wait)
            }
            _ => {
                let words = match fail.class {
                    ErrorClass::Retryable => {
                        format!("{} (gave up after {} retries)", fail.words, d.retries)
                    }
                    ErrorClass::Waiting => format!(
                        "{} (still not decided after {} tries: look at the replication's lag \
                         and position, then retry)",
                        fail.words, d.waits
                    ),
                    _ => fail.words.clone(),
                };
                // Where the table has no way to `failed` (a pause that keeps failing), wait long.
                d.not_before = now + backoff.cap.as_secs_f64() / scale;
                let _ =
                    self.transition(id, Trigger::StepFailed, &words, wall, Role::Operator, None);
                None
            }
        }
    }

    /// A work came back: write its outcome and move on.
    pub fn on_work(&mut self, w: &Work, result: WorkResult, now: f64, wall: DateTime<Utc>) {
        let Some(d) = self.dbs.get_mut(&w.db) else {
            return;
        };
        d.busy = false;
        if d.open.map(|o| o.0) == Some(w.step) {
            d.open = None;
        }
        match result {
            WorkResult::Ok {
                job,
                report,
                recovered,
            } => {
                let mut o = StepOutcome::ok(w.step.as_str(), w.attempt);
                o.recovered = recovered || w.resumed;
                o.drs_job_id = job.clone();
                if let Some(r) = &report {
                    o.passed = Some(r.passed);
                    o.summary = Some(r.summary.clone());
                    // A check's detail goes into its db.precheck / db.validation event; any
                    // other step's (a DNS change, a drain, a final sync) stays in its outcome.
                    if !w.step.reports_check() {
                        o.detail = Some(r.detail.clone());
                    }
                }
                self.out.push(ev(Some(&w.db), d.wave, Body::StepOutcome(o)));
                apply_done(d, w.step, job);
                d.not_before = 0.0;
                if let Some(r) = report.filter(|_| w.step.reports_check()) {
                    self.on_report(&w.db, w.step, r, wall);
                }
            }
            WorkResult::Err(f) => {
                let retry_in = self.fail_preview(&w.db, &f);
                let d = self.dbs.get_mut(&w.db).expect("checked above");
                let o = StepOutcome {
                    ok: false,
                    error: Some(f.words.clone()),
                    class: Some(class_name(f.class).to_string()),
                    will_retry: retry_in,
                    ..StepOutcome::ok(w.step.as_str(), w.attempt)
                };
                self.out.push(ev(Some(&w.db), d.wave, Body::StepOutcome(o)));
                // A pause or resume that fails leaves the database where it is; the step is
                // tried again on the next rounds like any other.
                self.fail(&w.db, &f, now, wall);
            }
        }
    }

    fn fail_preview(&self, id: &str, f: &Fail) -> Option<bool> {
        let d = self.dbs.get(id)?;
        match f.class {
            ErrorClass::Throttled => Some(true),
            ErrorClass::Retryable if self.settings.backoff.allows(d.retries) => Some(true),
            ErrorClass::Waiting if d.waits < WAIT_TRIES => Some(true),
            _ => None,
        }
    }

    /// A pre-check or validation report, from SQL work or a DRS look.
    fn on_report(&mut self, id: &str, step: Step, r: Report, wall: DateTime<Utc>) {
        let both = self.settings.checks == ChecksMode::Both;
        let Some(d) = self.dbs.get_mut(id) else {
            return;
        };
        let is_validation = matches!(step, Step::Compare | Step::SqlValidate);
        // The SQL half is kept until the DRS half arrives: DRS's pre-check always runs, its
        // comparison only with both checks.
        if step == Step::SqlPrecheck || (both && step == Step::SqlValidate) {
            d.partial = Some(r);
            return;
        }
        let r = match d.partial.take() {
            Some(p) => Report {
                passed: p.passed && r.passed,
                summary: format!("sql: {}; drs: {}", p.summary, r.summary),
                detail: json!({"sql": p.detail, "drs": r.detail}),
            },
            None => r,
        };
        let report = CheckReport {
            passed: r.passed,
            summary: r.summary.clone(),
            detail: r.detail.clone(),
        };
        self.out.push(ev(
            Some(id),
            d.wave,
            if is_validation {
                Body::Validation(report)
            } else {
                Body::Precheck(report)
            },
        ));
        if is_validation {
            d.validation = Some((r.passed, wall));
            let trig = if r.passed {
                Trigger::StepSucceeded
            } else {
                Trigger::ValidationFailed
            };
            let words = if r.passed {
                format!("validation passed: {}", r.summary)
            } else {
                format!(
                    "validation found differences: {} (fix the target, then retry)",
                    r.summary
                )
            };
            let _ = self.transition(id, trig, &words, wall, Role::Operator, None);
        } else if r.passed {
            let _ = self.transition(
                id,
                Trigger::StepSucceeded,
                &format!("pre-checks passed: {}", r.summary),
                wall,
                Role::Operator,
                None,
            );
        } else {
            let _ = self.transition(
                id,
                Trigger::StepFailed,
                &format!(
                    "pre-checks failed: {} (fix the cause, then retry)",
                    r.summary
                ),
                wall,
                Role::Operator,
                None,
            );
        }
    }

    /// A look came back.
    pub fn on_seen(
        &mut self,
        db: &str,
        kind_: LookKind,
        seen: Seen,
        now: f64,
        wall: DateTime<Utc>,
    ) {
        let poll = self.settings.poll;
        let scale = self.settings.time_scale;
        let Some(d) = self.dbs.get_mut(db) else {
            return;
        };
        d.busy = false;
        match seen {
            Seen::Err(f) => {
                if f.class == ErrorClass::Throttled {
                    self.slowdown.throttled();
                }
                // A failed look changes nothing in the world: look again after a pause,
                // without spending the step's retries unless the failure is fatal.
                if f.class == ErrorClass::Fatal {
                    let _ = self.transition(
                        db,
                        Trigger::StepFailed,
                        &f.words,
                        wall,
                        Role::Operator,
                        None,
                    );
                } else {
                    let iv = poll::next_interval(
                        d.pos.stage,
                        d.seen,
                        d.max_lag_s,
                        &poll,
                        scale,
                        self.slowdown.0,
                    );
                    d.not_before = now + iv.as_secs_f64();
                }
            }
            Seen::Gone => {
                d.job_released = true;
                d.job_terminated = true;
                let stage = d.pos.stage;
                if matches!(stage, Stage::Aborted | Stage::Completed) {
                    d.job = None;
                    d.job_started = false;
                    return;
                }
                if stage == Stage::Cutover {
                    return;
                }
                d.job = None;
                d.job_started = false;
                let _ = self.transition(db, Trigger::StepFailed, "the DRS job no longer exists (deleted outside wavedeck?): retry the database to create it again", wall, Role::Operator, None);
            }
            Seen::Report { finished, report } => {
                if !finished {
                    let iv = poll::next_interval(
                        d.pos.stage,
                        d.seen,
                        d.max_lag_s,
                        &poll,
                        scale,
                        self.slowdown.0,
                    );
                    d.not_before = now + iv.as_secs_f64();
                    return;
                }
                let step = match kind_ {
                    LookKind::Compare => Step::Compare,
                    _ => Step::DrsPrecheck,
                };
                self.slowdown.succeeded();
                self.on_report(db, step, report, wall);
            }
            Seen::Job {
                status,
                progress_pct,
                lag_s,
            } => {
                self.slowdown.succeeded();
                self.on_job(db, &status, progress_pct, lag_s, now, wall);
            }
        }
    }

    fn on_job(
        &mut self,
        id: &str,
        status: &JobStatus,
        pct: Option<f64>,
        lag: Option<f64>,
        now: f64,
        wall: DateTime<Utc>,
    ) {
        let poll = self.settings.poll;
        let scale = self.settings.time_scale;
        let slow = self.slowdown.0;
        let Some(d) = self.dbs.get_mut(id) else {
            return;
        };
        let stage = d.pos.stage;
        let got_progress = pct.is_some() || lag.is_some();
        if let Some(p) = pct {
            if let Some((p0, t0)) = d.last_pct {
                if p > p0 && now > t0 {
                    d.pct_rate = Some((p - p0) / (now - t0));
                }
            }
            d.last_pct = Some((p, now));
            d.seen.progress_pct = Some(p);
            if stage == Stage::FullLoad
                && (p - d.last_progress_evt >= 5.0 || (p >= 100.0 && d.last_progress_evt < 100.0))
            {
                d.last_progress_evt = p;
                self.out.push(ev(
                    Some(id),
                    d.wave,
                    Body::Progress(Progress { pct: p, mbps: None }),
                ));
            }
        }
        // `-1` means "not in CDC yet" (research §2.4).
        let lag = lag.filter(|l| *l >= 0.0 && l.is_finite());
        if let Some(l) = lag {
            d.seen.lag_s = Some(l);
            self.lag_samples.push((id.to_string(), l));
            let significant = match d.last_lag_evt {
                None => true,
                Some((last, at)) => {
                    (l - last).abs() >= (0.1 * last).max(0.5)
                        || (l <= d.max_lag_s) != (last <= d.max_lag_s)
                        || (l != last && now - at >= 60.0 / scale)
                }
            };
            if significant {
                d.last_lag_evt = Some((l, now));
                self.out
                    .push(ev(Some(id), d.wave, Body::Lag(Lag { lag_s: l })));
            }
            // DRS reports whole seconds: "0" is as close to zero as it says.
            if stage == Stage::Cutover {
                if l < 1.0 {
                    d.lag_zero_since.get_or_insert(now);
                } else {
                    d.lag_zero_since = None;
                }
            }
        }
        d.job_failed = false;
        if d.job_status.as_ref() != Some(status) {
            let seen = JobStatusSeen {
                status: status.clone(),
                drs_job_id: d.job.clone(),
            };
            self.out.push(ev(Some(id), d.wave, Body::JobStatus(seen)));
        }
        d.job_status = Some(status.clone());
        let phase = JobPhase::of(status);
        if phase == JobPhase::CreateFailed {
            // DRS holds no instance for it: nothing to terminate, nothing counted.
            d.job_released = true;
            d.job_terminated = true;
            let f = Fail {
                class: ErrorClass::Fatal,
                words: format!(
                    "DRS could not create the replication instance for job {} (CREATE_FAILED): check quotas and network, then retry (the job is deleted and created again)",
                    d.job.clone().unwrap_or_default()
                ),
            };
            self.fail(id, &f, now, wall);
            return;
        }
        if phase == JobPhase::Released {
            d.job_released = true;
            d.job_terminated = true;
        } else if phase == JobPhase::Pausing && stage != Stage::Paused {
            d.job_paused = true;
        } else if phase == JobPhase::Failed && !d.job_terminated {
            d.job_failed = true;
        }
        let iv = poll::next_interval(stage, d.seen, d.max_lag_s, &poll, scale, slow);
        d.not_before = now + iv.as_secs_f64();
        if got_progress {
            let piv =
                poll::progress_interval(stage, d.seen, d.pct_rate, d.max_lag_s, &poll, scale, slow);
            d.progress_at = now + piv.as_secs_f64();
        } else if poll::wants_progress(stage) && now >= d.progress_at {
            // The round had no room for its progress: ask again in the next one.
            d.not_before = now;
        }
        if d.job_failed && stage != Stage::Paused {
            let f = Fail {
                class: ErrorClass::Retryable,
                words: format!("DRS job {} is {status}", d.job.clone().unwrap_or_default()),
            };
            self.fail(id, &f, now, wall);
            return;
        }
        let advance = match stage {
            Stage::Provisioning => matches!(phase, JobPhase::Running { .. }),
            Stage::FullLoad => phase == JobPhase::Running { cdc: true },
            // A fresh lag reading in CDC: the table's lag guard judges it against the
            // database's own limit, as it does for a cutover.
            Stage::Cdc => phase == JobPhase::Running { cdc: true } && lag.is_some(),
            _ => false,
        };
        if advance {
            if stage == Stage::FullLoad && d.last_progress_evt < 100.0 {
                d.last_progress_evt = 100.0;
                let done = Progress {
                    pct: 100.0,
                    mbps: None,
                };
                self.out.push(ev(Some(id), d.wave, Body::Progress(done)));
            }
            let reason = match stage {
                Stage::Provisioning => format!("DRS job started ({status})"),
                Stage::FullLoad => "full load complete; CDC running".to_string(),
                _ => format!("lag {:.1} s within {} s", lag.unwrap_or(0.0), d.max_lag_s),
            };
            let _ = self.transition(
                id,
                Trigger::StepSucceeded,
                &reason,
                wall,
                Role::Operator,
                None,
            );
        }
    }

    /// An operator command: accept it (and act) or reject it, with the reason.
    /// Record a sign-off for one database or every member of a wave, if the signer holds the
    /// role (config `signoff.holders`).
    fn sign_off(
        &mut self,
        c: &CommandRow,
        target: &Target,
        wall: DateTime<Utc>,
    ) -> Result<String, String> {
        use crate::signoff::{Signature, SignoffRole};
        let role = c
            .args
            .get("role")
            .and_then(Value::as_str)
            .and_then(SignoffRole::parse)
            .ok_or_else(|| {
                format!(
                    "signoff blocked: args.role must be one of {}",
                    SignoffRole::ALL.map(|r| r.as_str()).join(", ")
                )
            })?;
        let note = c.args.get("note").and_then(Value::as_str);
        self.settings
            .signoff
            .authorize(&c.who, role, c.role)
            .map_err(|e| format!("signoff blocked: {e}"))?;
        let ids: Vec<String> = match target {
            Target::Db(id) if self.dbs.contains_key(id) => vec![id.clone()],
            Target::Db(id) => return Err(format!("no database {id:?} in the store")),
            Target::Wave(w) => {
                let ctx = self.wave_context(*w, None, c.role, wall);
                check("signoff", &[GuardKind::WaveMembers], &ctx).map_err(|e| e.to_string())?;
                self.dbs
                    .values()
                    .filter(|d| d.wave == Some(*w))
                    .map(|d| d.id.clone())
                    .collect()
            }
        };
        for id in &ids {
            let Some(d) = self.dbs.get_mut(id) else {
                continue;
            };
            d.signoff.sign(Signature {
                role,
                who: c.who.clone(),
                at: wall,
                note: note.map(str::to_string),
            });
            let signed = SignedOff {
                command: Some(c.id),
                ..SignedOff::new(role, &c.who, note)
            };
            self.out.push(NewEvent::of(
                Some(id),
                d.wave,
                Body::Signoff(signed),
                &c.who,
            ));
        }
        Ok(match target {
            Target::Db(id) => format!("{} sign-off by {} recorded for {id}", role.as_str(), c.who),
            Target::Wave(w) => format!(
                "{} sign-off by {} recorded for the {} databases of wave {w}",
                role.as_str(),
                c.who,
                ids.len()
            ),
        })
    }

    pub fn on_command(&mut self, c: &CommandRow, wall: DateTime<Utc>) -> Result<String, Refusal> {
        let role_ctx = {
            let mut g = GuardContext::new("", wall);
            g.role = c.role;
            g
        };
        // A viewer hears about the role alone on a database; on a wave, every wave guard (the
        // role among them) is evaluated, as the cockpit's dialog shows them.
        if c.role == Role::Viewer && matches!(c.target, Target::Db(_)) {
            return Err(check(c.action.as_str(), &[GuardKind::Role], &role_ctx)
                .err()
                .map(Refusal::from)
                .unwrap_or_else(|| "viewers cannot act".to_string().into()));
        }
        match (c.action, &c.target) {
            (Action::StartWave | Action::ApproveWindow, Target::Wave(w)) => {
                let ctx = self.wave_context(*w, Some(c.action), c.role, wall);
                check_wave_action(c.action, &ctx)?;
                let wave = self.waves.entry(*w).or_default();
                if c.action == Action::StartWave {
                    wave.started = true;
                    self.out
                        .push(ev(None, Some(*w), Body::WaveStarted(wave_act(*w, c))));
                    Ok(format!(
                        "wave {w} started: {} databases queued",
                        ctx.wave_members
                    ))
                } else {
                    wave.approved_by = Some(c.who.clone());
                    self.out
                        .push(ev(None, Some(*w), Body::WaveApproved(wave_act(*w, c))));
                    Ok(format!("cutover window of wave {w} approved by {}", c.who))
                }
            }
            (Action::Signoff, target) => Ok(self.sign_off(c, target, wall)?),
            (Action::StartWave | Action::ApproveWindow, Target::Db(id)) => Err(format!(
                "{} applies to a wave, not to database {id}",
                c.action.as_str()
            )
            .into()),
            (action, Target::Db(id)) => {
                let trig = Trigger::for_action(action)
                    .ok_or_else(|| format!("{} moves no database", action.as_str()))?;
                if !self.dbs.contains_key(id) {
                    return Err(format!("no database {id:?} in the store").into());
                }
                let to = self.transition(
                    id,
                    trig,
                    &format!("{} by {}", action.as_str(), c.who),
                    wall,
                    c.role,
                    Some(&c.who),
                )?;
                Ok(format!("{id}: now {to}"))
            }
            (action, Target::Wave(w)) => {
                let trig = Trigger::for_action(action)
                    .ok_or_else(|| format!("{} moves no database", action.as_str()))?;
                let ctx = self.wave_context(*w, Some(action), c.role, wall);
                let members: Vec<String> = self
                    .dbs
                    .values()
                    .filter(|d| d.wave == Some(*w))
                    .map(|d| d.id.clone())
                    .collect();
                if let Err(rej) = check_wave_action(action, &ctx) {
                    // A cutover that would move none: say why, for the first few members.
                    let mut r = Refusal::from(rej);
                    if action == Action::Cutover {
                        let why: Vec<String> = members
                            .iter()
                            .take(3)
                            .filter_map(|id| {
                                let d = self.dbs.get(id)?;
                                let ctx = self.guard_context(id, c.role, wall);
                                decide(d.pos, trig, &ctx)
                                    .err()
                                    .map(|e| format!("{id}: {e}"))
                            })
                            .collect();
                        let more = members.len().saturating_sub(3);
                        r.reason.push_str(&format!(" ({}", why.join("; ")));
                        if more > 0 {
                            r.reason.push_str(&format!("; and {more} more"));
                        }
                        r.reason.push(')');
                    }
                    return Err(r);
                }
                let mut moved = 0;
                let mut refused: Vec<String> = Vec::new();
                for id in &members {
                    match self.transition(
                        id,
                        trig,
                        &format!("{} of wave {w} by {}", action.as_str(), c.who),
                        wall,
                        c.role,
                        Some(&c.who),
                    ) {
                        Ok(_) => moved += 1,
                        Err(why) => refused.push(format!("{id}: {why}")),
                    }
                }
                // A wave of hundreds refused for the same reason: the first few say enough.
                let mut summary_refused = refused
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ");
                if refused.len() > 3 {
                    summary_refused.push_str(&format!("; and {} more refused", refused.len() - 3));
                }
                if moved == 0 {
                    Err(summary_refused.into())
                } else if refused.is_empty() {
                    Ok(format!("wave {w}: {moved} databases"))
                } else {
                    Ok(format!(
                        "wave {w}: {moved} of {} databases; not the others: {summary_refused}",
                        members.len()
                    ))
                }
            }
        }
    }
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
            guards: r
                .guards
                .into_iter()
                .map(|g| GuardLine {
                    name: g.name.to_string(),
                    ok: g.ok,
                    sentence: g.sentence,
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

enum Next {
    Work(Step, u32, bool),
    Look(LookKind),
    Advance(Trigger, String),
    Wait(String),
    Idle,
}

fn wave_act(w: u32, c: &CommandRow) -> WaveAct {
    WaveAct {
        wave: Some(w),
        by: Some(c.who.clone()),
        command: Some(c.id),
    }
}

fn class_name(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::Retryable => "retryable",
        ErrorClass::Throttled => "throttled",
        ErrorClass::Fatal => "fatal",
        ErrorClass::Waiting => StepOutcome::WAITING,
    }
}

/// What a successful step changes in what the brain knows of the job.
fn apply_done(d: &mut Db, s: Step, job: Option<String>) {
    d.done.insert(s);
    match s {
        Step::CreateJob => {
            if job.is_some() {
                d.job = job;
            }
            d.job_status = None;
            d.job_started = false;
            d.job_terminated = false;
            d.job_released = false;
        }
        Step::StartJob | Step::ResumeJob => {
            d.job_started = true;
            d.job_paused = false;
            d.job_failed = false;
        }
        Step::PauseJob => d.job_paused = true,
        Step::Terminate => d.job_terminated = true,
        Step::DeleteJob => {
            d.job = None;
            d.job_status = None;
            d.job_started = false;
            d.job_terminated = false;
            d.job_released = false;
        }
        Step::DrainSource | Step::Cut(CutStep::DrainSource) => d.source_drained = true,
        Step::SourceWritesOn | Step::Undo(RollbackAction::SourceWritesOn) => {
            d.source_drained = false
        }
        Step::DnsSwitch | Step::Cut(CutStep::DnsSwitch) => d.dns_switched = true,
        Step::DnsSwitchBack | Step::Undo(RollbackAction::DnsBack) => d.dns_switched = false,
        _ => {}
    }
    if let Step::Cut(c) = s {
        d.cut_done.insert(c);
    }
    if s == Step::Cut(CutStep::FinalSync) {
        // Only DRS lag readings taken after the final sync count towards terminating its job.
        d.lag_zero_since = None;
    }
}

/// What a rolled-back database still has to undo. A cutover run by the cutover module is undone
/// by its plan (in reverse of how far it got); a DRS-mode one by its two switches.
fn rollback_next(d: &Db) -> Option<Step> {
    if !d.cut_started.is_empty() {
        let started: Vec<CutStep> = d.cut_started.iter().copied().collect();
        return rollback_plan(&started)
            .into_iter()
            .map(Step::Undo)
            .find(|s| !d.done.contains(s));
    }
    if d.dns_switched {
        return Some(Step::DnsSwitchBack);
    }
    if d.source_drained {
        return Some(Step::SourceWritesOn);
    }
    None
}

/// Stages where a database is working (counts against the per-wave limit).
fn working(s: Stage) -> bool {
    matches!(
        s,
        Stage::Prechecks | Stage::Provisioning | Stage::FullLoad | Stage::Cdc | Stage::Validation
    )
}

/// Whether a database holds (or is about to create) a DRS job.
fn holds_job(d: &Db) -> bool {
    if d.job.is_some() {
        return !d.job_released;
    }
    matches!(d.pos.stage, Stage::Prechecks | Stage::Provisioning)
}

fn in_full_load(d: &Db) -> bool {
    (d.pos.stage == Stage::Provisioning && d.job_started) || d.pos.stage == Stage::FullLoad
}

impl Db {
    fn busy_or_started_validation(&self) -> bool {
        self.done.contains(&Step::Compare) || self.done.contains(&Step::SqlValidate) || self.busy
    }
}

/// Nothing for the engine to do until an operator acts: terminal with nothing left to clean
/// up, or waiting for a command.
fn quiet(d: &Db) -> bool {
    match d.pos.stage {
        Stage::Completed | Stage::Aborted => d.job.is_none(),
        Stage::RolledBack => rollback_next(d).is_none(),
        Stage::Registered | Stage::Failed | Stage::Hypercare => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kind;
    use chrono::TimeZone;

    fn settings(checks: ChecksMode) -> Settings {
        let mut cfg = Config::default();
        cfg.engine.checks = checks;
        cfg.engine.retry_base_s = 1.0;
        cfg.engine.retry_cap_s = 8.0;
        cfg.engine.lag_stable_s = 2.0;
        cfg.thresholds.max_retries = 2;
        cfg.limits.drs_concurrency = 3;
        cfg.limits.wave_concurrency = 2;
        cfg.limits.validation_capacity = 1;
        Settings::from_config(&cfg)
    }

    fn seed(id: &str, wave: u32, crit: Criticality, size: f64) -> Seed {
        Seed {
            db_id: id.into(),
            wave: Some(wave),
            criticality: crit,
            size_gb: size,
            business_window: "daily 00:00-24:00 UTC".into(),
            max_lag_s: None,
            stage: Stage::Registered,
            held: None,
            job: None,
        }
    }

    fn wall() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 7, 2, 0, 0).unwrap()
    }

    fn cmd(id: i64, role: Role, action: Action, target: Target) -> CommandRow {
        CommandRow {
            id,
            time: wall(),
            who: "alice".into(),
            role,
            action,
            target,
            args: Value::Null,
            status: crate::store::CommandStatus::Pending,
            reason: None,
            decided_at: None,
        }
    }

    fn brain(checks: ChecksMode, dbs: Vec<Seed>) -> Brain {
        let mut b = Brain::new(settings(checks), 7);
        let waves = vec![WaveSeed {
            wave: 0,
            ..Default::default()
        }];
        b.load(dbs, waves, &[]);
        b
    }

    fn kinds(events: &[NewEvent]) -> Vec<String> {
        events.iter().map(|e| e.kind.clone()).collect()
    }

    fn ok(job: Option<&str>) -> WorkResult {
        WorkResult::Ok {
            job: job.map(str::to_string),
            report: None,
            recovered: false,
        }
    }

    fn job_seen(status: &str, pct: f64, lag: f64) -> Seen {
        Seen::Job {
            status: JobStatus::parse(status),
            progress_pct: Some(pct),
            lag_s: Some(lag),
        }
    }

    /// DRS's model says a CREATE_FAILED job holds no instance; the brain must read it the same
    /// way (it counted it against `limits.drs_concurrency`, and terminated a job with nothing
    /// to terminate), and say on the record what DRS reported.
    #[test]
    fn create_failed_holds_no_drs_instance() {
        let mut a = seed("a", 0, Criticality::Low, 1.0);
        a.stage = Stage::Prechecks;
        a.job = Some("job-a".into());
        let mut b = brain(ChecksMode::Drs, vec![a]);
        assert_eq!(b.load_now().drs_jobs, 1);
        b.on_seen(
            "a",
            LookKind::Job,
            Seen::Job {
                status: JobStatus::CreateFailed,
                progress_pct: None,
                lag_s: None,
            },
            0.0,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Failed);
        assert_eq!(b.load_now().drs_jobs, 0, "no DRS instance is held");
        let evs = b.take_events();
        let st = evs
            .iter()
            .find(|e| e.kind == kind::DB_JOB_STATUS)
            .expect("the status DRS reported is written");
        assert_eq!(st.payload["status"], "CREATE_FAILED");
        // Aborting it deletes the job without a terminate first.
        b.on_command(
            &cmd(1, Role::Operator, Action::Abort, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let plan = b.tick(10.0, wall());
        assert_eq!(
            plan.works.iter().map(|w| w.step).collect::<Vec<_>>(),
            vec![Step::DeleteJob]
        );
    }

    #[test]
    fn viewers_are_always_refused_and_waves_start_once() {
        let mut b = brain(ChecksMode::Drs, vec![seed("a", 0, Criticality::Low, 1.0)]);
        let err = b
            .on_command(
                &cmd(1, Role::Viewer, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap_err()
            .reason;
        assert!(err.contains("viewer"), "{err}");
        assert!(b.take_events().is_empty());
        let okm = b
            .on_command(
                &cmd(2, Role::Operator, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap();
        assert!(okm.contains("1 databases"), "{okm}");
        assert_eq!(kinds(&b.take_events()), [kind::WAVE_STARTED]);
        let again = b
            .on_command(
                &cmd(3, Role::Operator, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap_err()
            .reason;
        assert!(again.contains("already started"), "{again}");
        let none = b
            .on_command(
                &cmd(4, Role::Operator, Action::StartWave, Target::Wave(9)),
                wall(),
            )
            .unwrap_err()
            .reason;
        assert!(none.contains("no databases"), "{none}");
    }

    #[test]
    fn admission_follows_limits_and_priority() {
        let mut b = brain(
            ChecksMode::Drs,
            vec![
                seed("small-low", 0, Criticality::Low, 1.0),
                seed("big-low", 0, Criticality::Low, 100.0),
                seed("small-high", 0, Criticality::High, 1.0),
            ],
        );
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        b.take_events();
        let plan = b.tick(0.0, wall());
        let started: Vec<String> = b
            .take_events()
            .iter()
            .filter(|e| e.kind == kind::DB_STAGE)
            .map(|e| e.db_id.clone().unwrap())
            .collect();
        // Wave concurrency 2: the most critical, then the largest.
        assert_eq!(started, ["small-high", "big-low"]);
        assert_eq!(b.held().len(), 1);
        assert!(b.held()[0].1.contains("wave 0"), "{:?}", b.held());
        // Each admitted database asks for its DRS job, intent first.
        assert_eq!(plan.works.len(), 2);
        assert!(plan
            .works
            .iter()
            .all(|w| w.step == Step::CreateJob && !w.resumed));
    }

    /// `checks: sql` still has DRS pre-check the job (DRS starts none without it); the SQL
    /// result waits for DRS's and a failing half fails the stage.
    #[test]
    fn sql_checks_still_run_the_drs_precheck_before_the_job_starts() {
        for sql_passes in [true, false] {
            let mut b = brain(ChecksMode::Sql, vec![seed("a", 0, Criticality::Low, 1.0)]);
            b.on_command(
                &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap();
            let mut now = 0.0;
            let mut step = |b: &mut Brain| -> Plan {
                now += 100.0;
                b.tick(now, wall())
            };
            let p = step(&mut b);
            assert_eq!(p.works[0].step, Step::SqlPrecheck);
            let sql = Report {
                passed: sql_passes,
                summary: "sql checks".into(),
                detail: Value::Null,
            };
            let done = WorkResult::Ok {
                job: None,
                report: Some(sql),
                recovered: false,
            };
            b.on_work(&p.works[0], done, 100.0, wall());
            assert_eq!(b.stage_of("a").unwrap().stage, Stage::Prechecks);
            let p = step(&mut b);
            assert_eq!(p.works[0].step, Step::CreateJob);
            b.on_work(&p.works[0], ok(Some("job-a")), 200.0, wall());
            let p = step(&mut b);
            b.on_seen(
                "a",
                p.looks[0].kind,
                job_seen("CONFIGURATION", 0.0, -1.0),
                300.0,
                wall(),
            );
            for want in [Step::PrepareJob, Step::DrsPrecheck] {
                let p = step(&mut b);
                assert_eq!(p.works[0].step, want);
                b.on_work(&p.works[0], ok(None), 400.0, wall());
            }
            let p = step(&mut b);
            assert_eq!(p.looks[0].kind, LookKind::Precheck);
            let drs = Report {
                passed: true,
                summary: "12/12 passed".into(),
                detail: Value::Null,
            };
            let seen = Seen::Report {
                finished: true,
                report: drs,
            };
            b.on_seen("a", LookKind::Precheck, seen, 500.0, wall());
            let stage = b.stage_of("a").unwrap().stage;
            if sql_passes {
                assert_eq!(stage, Stage::Provisioning);
                assert_eq!(step(&mut b).works[0].step, Step::StartJob);
            } else {
                assert_eq!(stage, Stage::Failed, "the SQL half failed");
            }
        }
    }

    /// Drive one database through the DRS-mode pipeline by hand and check every request.
    #[test]
    fn one_database_goes_to_ready_through_drs_checks() {
        let mut b = brain(ChecksMode::Drs, vec![seed("a", 0, Criticality::Low, 1.0)]);
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        let mut now = 0.0;
        let step = |b: &mut Brain, now: &mut f64| -> Plan {
            *now += 100.0;
            b.tick(*now, wall())
        };
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, Step::CreateJob);
        let mut all = b.take_events();
        assert_eq!(
            kinds(&all),
            [kind::WAVE_STARTED, kind::DB_STAGE, kind::STEP_INTENT]
        );
        b.on_work(&p.works[0], ok(Some("job-a")), now, wall());
        assert_eq!(b.job_of("a"), Some("job-a"));
        // DRS takes a while to create the job: look until it is configured.
        for status in ["CREATING", "CONFIGURATION"] {
            let p = step(&mut b, &mut now);
            assert_eq!(p.looks[0].kind, LookKind::Job);
            b.on_seen("a", LookKind::Job, job_seen(status, 0.0, -1.0), now, wall());
        }
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, Step::PrepareJob);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, Step::DrsPrecheck);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.looks[0].kind, LookKind::Precheck);
        let report = Report {
            passed: true,
            summary: "12/12 passed".into(),
            detail: Value::Null,
        };
        b.on_seen(
            "a",
            LookKind::Precheck,
            Seen::Report {
                finished: false,
                report: report.clone(),
            },
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Prechecks);
        b.on_seen(
            "a",
            LookKind::Precheck,
            Seen::Report {
                finished: true,
                report,
            },
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Provisioning);
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, Step::StartJob);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.looks[0].kind, LookKind::Job);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("FULL_TRANSFER_STARTED", 3.0, -1.0),
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::FullLoad);
        step(&mut b, &mut now);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("FULL_TRANSFER_STARTED", 50.0, -1.0),
            now,
            wall(),
        );
        step(&mut b, &mut now);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 40.0),
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Cdc);
        step(&mut b, &mut now);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 2.0),
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Validation);
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, Step::Compare);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.looks[0].kind, LookKind::Compare);
        let good = Report {
            passed: true,
            summary: "3 tables consistent".into(),
            detail: Value::Null,
        };
        b.on_seen(
            "a",
            LookKind::Compare,
            Seen::Report {
                finished: true,
                report: good,
            },
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Ready);
        all.extend(b.take_events());
        let ev = all;
        let k = kinds(&ev);
        assert!(k.contains(&kind::DB_PROGRESS.to_string()));
        assert!(k.contains(&kind::DB_LAG.to_string()));
        assert!(k.contains(&kind::DB_PRECHECK.to_string()));
        assert!(k.contains(&kind::DB_VALIDATION.to_string()));
        // Every intent has its outcome.
        let intents = ev.iter().filter(|e| e.kind == kind::STEP_INTENT).count();
        let outcomes = ev.iter().filter(|e| e.kind == kind::STEP_OUTCOME).count();
        assert_eq!((intents, outcomes), (5, 5));
        assert!(!b.take_lag_samples().is_empty());
        assert!(b.idle());
    }

    #[test]
    fn retryable_failures_back_off_then_fail_in_plain_words() {
        let mut b = brain(ChecksMode::Drs, vec![seed("a", 0, Criticality::Low, 1.0)]);
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        let transient = Fail {
            class: ErrorClass::Retryable,
            words: "HTTP 503: busy".into(),
        };
        let mut now = 0.0;
        for attempt in 0..=2u32 {
            let p = b.tick(now, wall());
            assert_eq!(p.works.len(), 1, "attempt {attempt}");
            assert_eq!(p.works[0].attempt, attempt);
            b.on_work(&p.works[0], WorkResult::Err(transient.clone()), now, wall());
            // Not due again right away: the backoff holds it.
            assert!(b.tick(now, wall()).works.is_empty());
            now += 100.0;
        }
        let pos = b.stage_of("a").unwrap();
        assert_eq!(pos, Position::failed_in(Stage::Prechecks));
        let ev = b.take_events();
        let failed = ev.iter().find(|e| e.payload["to"] == "failed").unwrap();
        let words = failed.payload["error"].as_str().unwrap();
        assert!(
            words.contains("503") && words.contains("gave up after 2 retries"),
            "{words}"
        );
        let outcomes: Vec<&NewEvent> = ev.iter().filter(|e| e.kind == kind::STEP_OUTCOME).collect();
        assert_eq!(outcomes.len(), 3);
        assert_eq!(outcomes[0].payload["will_retry"], true);
        // Retry by the operator goes back to the stage it failed in, with fresh retries.
        b.on_command(
            &cmd(2, Role::Operator, Action::Retry, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Prechecks);
        let p = b.tick(now, wall());
        assert_eq!((p.works[0].step, p.works[0].attempt), (Step::CreateJob, 0));
    }

    #[test]
    fn fatal_failures_fail_at_once_and_throttling_costs_no_retry() {
        let mut b = brain(
            ChecksMode::Drs,
            vec![
                seed("a", 0, Criticality::Low, 1.0),
                seed("b", 0, Criticality::Low, 1.0),
            ],
        );
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        let p = b.tick(0.0, wall());
        let wa = p.works.iter().find(|w| w.db == "a").unwrap().clone();
        let wb = p.works.iter().find(|w| w.db == "b").unwrap().clone();
        b.on_work(
            &wa,
            WorkResult::Err(Fail {
                class: ErrorClass::Fatal,
                words: "bad key".into(),
            }),
            0.0,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Failed);
        b.on_work(
            &wb,
            WorkResult::Err(Fail {
                class: ErrorClass::Throttled,
                words: "429".into(),
            }),
            0.0,
            wall(),
        );
        assert_eq!(b.stage_of("b").unwrap().stage, Stage::Prechecks);
        assert!(b.slowdown.0 > 1.0);
        let p = b.tick(1000.0, wall());
        assert_eq!(
            p.works[0].attempt, 0,
            "throttling is not the database's fault"
        );
    }

    #[test]
    fn an_open_intent_is_resumed_without_a_new_intent() {
        let mut b = Brain::new(settings(ChecksMode::Drs), 1);
        let mut s = seed("a", 0, Criticality::Low, 1.0);
        s.stage = Stage::Provisioning;
        s.job = Some("job-a".into());
        let e = |seq: i64, k: &str, payload: Value| Event {
            seq,
            time: wall(),
            db_id: Some("a".into()),
            wave: Some(0),
            kind: k.into(),
            payload,
            actor: ACTOR.into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let events = vec![
            e(
                1,
                kind::DB_STAGE,
                json!({"from": "prechecks", "to": "provisioning"}),
            ),
            e(
                2,
                kind::STEP_INTENT,
                json!({"step": "start_job", "attempt": 0}),
            ),
        ];
        b.load(
            vec![s],
            vec![WaveSeed {
                wave: 0,
                started: true,
                ..Default::default()
            }],
            &events,
        );
        let p = b.tick(0.0, wall());
        assert_eq!(p.works.len(), 1);
        assert!(p.works[0].resumed && p.works[0].step == Step::StartJob);
        assert!(b.take_events().is_empty(), "no second intent");
        b.on_work(
            &p.works[0],
            WorkResult::Ok {
                job: None,
                report: None,
                recovered: true,
            },
            0.0,
            wall(),
        );
        let ev = b.take_events();
        assert_eq!(ev[0].payload["recovered"], true);
        // Steps done before the crash are not done again.
        let done = vec![
            e(
                1,
                kind::DB_STAGE,
                json!({"from": "prechecks", "to": "provisioning"}),
            ),
            e(
                2,
                kind::STEP_INTENT,
                json!({"step": "start_job", "attempt": 0}),
            ),
            e(
                3,
                kind::STEP_OUTCOME,
                json!({"step": "start_job", "attempt": 0, "ok": true}),
            ),
        ];
        let mut b2 = Brain::new(settings(ChecksMode::Drs), 1);
        let mut s = seed("a", 0, Criticality::Low, 1.0);
        s.stage = Stage::Provisioning;
        s.job = Some("job-a".into());
        b2.load(vec![s], vec![], &done);
        let p = b2.tick(0.0, wall());
        assert!(p.works.is_empty());
        assert_eq!(p.looks[0].kind, LookKind::Job);
    }

    #[test]
    fn cutover_needs_guards_then_waits_for_zero_lag_and_terminates() {
        let mut s = seed("a", 0, Criticality::Low, 1.0);
        s.stage = Stage::Ready;
        s.job = Some("job-a".into());
        let mut b = Brain::new(settings(ChecksMode::Drs), 1);
        let ev = vec![Event {
            seq: 1,
            time: wall(),
            db_id: Some("a".into()),
            wave: Some(0),
            kind: kind::STEP_OUTCOME.into(),
            payload: json!({"step": "start_job", "attempt": 0, "ok": true}),
            actor: ACTOR.into(),
            prev_hash: String::new(),
            hash: String::new(),
        }];
        b.load(
            vec![s],
            vec![WaveSeed {
                wave: 0,
                started: true,
                ..Default::default()
            }],
            &ev,
        );
        let c = cmd(1, Role::Operator, Action::Cutover, Target::Db("a".into()));
        let why = b.on_command(&c, wall()).unwrap_err().reason;
        assert!(
            why.contains("not approved") && why.contains("validation"),
            "{why}"
        );
        // Before the approval the stale validation waits: the Revalidate row's guard.
        b.revalidate_stale(wall());
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Ready);
        b.on_command(
            &cmd(2, Role::Operator, Action::ApproveWindow, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        // Approval makes a stale (missing) validation run again.
        let p = b.tick(0.0, wall());
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Validation);
        assert_eq!(p.works[0].step, Step::Compare);
        b.on_work(&p.works[0], ok(None), 0.0, wall());
        b.on_seen(
            "a",
            LookKind::Compare,
            Seen::Report {
                finished: true,
                report: Report {
                    passed: true,
                    summary: "ok".into(),
                    detail: Value::Null,
                },
            },
            0.0,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Ready);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 3.0),
            0.0,
            wall(),
        );
        b.on_command(&c, wall()).unwrap();
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Cutover);
        let mut now = 10.0;
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].step, Step::DrainSource);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = b.tick(now, wall());
        assert_eq!(p.looks[0].kind, LookKind::Job);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 0.0),
            now,
            wall(),
        );
        now += 1.0;
        assert!(
            b.tick(now, wall()).works.is_empty(),
            "lag 0 not yet stable for 2 s"
        );
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 0.0),
            now,
            wall(),
        );
        now += 3.0;
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].step, Step::Terminate);
        b.on_work(&p.works[0], ok(None), now, wall());
        now += 5.0;
        b.tick(now, wall());
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("RELEASE_RESOURCE_COMPLETE", 100.0, 0.0),
            now,
            wall(),
        );
        now += 5.0;
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].step, Step::DnsSwitch);
        b.take_events();
        // The switch reports what it changed: that belongs in its outcome, not on the
        // database's pre-check line (the cockpit once showed a DNS change there).
        let switched = WorkResult::Ok {
            job: None,
            report: Some(Report {
                passed: true,
                summary: "file a.db.internal -> 10.1.0.1:5432 (ttl 60 s, was 10.0.0.1:5432)".into(),
                detail: json!({"name": "a.db.internal"}),
            }),
            recovered: false,
        };
        b.on_work(&p.works[0], switched, now, wall());
        let evs = b.take_events();
        assert_eq!(kinds(&evs), [kind::STEP_OUTCOME]);
        assert!(evs[0].payload["summary"]
            .as_str()
            .unwrap()
            .starts_with("file a.db.internal"));
        now += 5.0;
        b.tick(now, wall());
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Hypercare);
    }

    fn event(seq: i64, db: Option<&str>, k: &str, payload: Value) -> Event {
        Event {
            seq,
            time: wall(),
            db_id: db.map(str::to_string),
            wave: Some(0),
            kind: k.into(),
            payload,
            actor: ACTOR.into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// A brain with database `a` ready for a SQL-mode cutover (fresh validation, approved
    /// window, small lag) and the events that got it there.
    fn ready_for_sql_cutover() -> (Brain, Vec<Event>) {
        let mut s = seed("a", 0, Criticality::Low, 1.0);
        s.stage = Stage::Ready;
        s.job = Some("job-a".into());
        let mut set = settings(ChecksMode::Drs);
        set.sql_cutover = true;
        let events = vec![
            event(
                1,
                Some("a"),
                kind::STEP_OUTCOME,
                json!({"step": "start_job", "attempt": 0, "ok": true}),
            ),
            event(
                2,
                Some("a"),
                kind::DB_VALIDATION,
                json!({"passed": true, "summary": "ok"}),
            ),
            event(3, None, kind::WAVE_APPROVED, json!({"wave": 0})),
            event(4, Some("a"), kind::DB_LAG, json!({"lag_s": 1.0})),
        ];
        let mut b = Brain::new(set, 1);
        b.load(
            vec![s],
            vec![WaveSeed {
                wave: 0,
                started: true,
                ..Default::default()
            }],
            &events,
        );
        (b, events)
    }

    fn cut_ok(summary: &str) -> WorkResult {
        WorkResult::Ok {
            job: None,
            report: Some(Report {
                passed: true,
                summary: summary.into(),
                detail: json!({"dns": {"value": "10.1.0.1:5432"}}),
            }),
            recovered: false,
        }
    }

    /// Events as the store would hand them back to a restarted engine.
    fn stored(mut log: Vec<Event>, new: Vec<NewEvent>) -> Vec<Event> {
        for e in new {
            let seq = log.len() as i64 + 1;
            log.push(Event {
                seq,
                time: wall(),
                db_id: e.db_id,
                wave: e.wave,
                kind: e.kind,
                payload: e.payload,
                actor: e.actor,
                prev_hash: String::new(),
                hash: String::new(),
            });
        }
        log
    }

    #[test]
    fn sql_cutover_runs_the_cutover_steps_with_the_drs_job_between_them() {
        let (mut b, mut log) = ready_for_sql_cutover();
        let c = cmd(1, Role::Operator, Action::Cutover, Target::Db("a".into()));
        b.on_command(&c, wall()).unwrap();
        let mut now = 10.0;
        let mut steps = Vec::new();
        let mut new_events = b.take_events();
        for _ in 0..40 {
            let p = b.tick(now, wall());
            for w in &p.works {
                steps.push(w.step.as_str());
                assert!(w.blockers.is_empty(), "{:?}", w.blockers);
                b.on_work(w, cut_ok(&format!("{} done", w.step.as_str())), now, wall());
                if w.step == Step::Cut(CutStep::DrainSource) {
                    // A lag-0 reading before the final sync does not count towards terminating.
                    b.on_seen(
                        "a",
                        LookKind::Job,
                        job_seen("INCRE_TRANSFER_STARTED", 100.0, 0.0),
                        now,
                        wall(),
                    );
                }
            }
            for l in &p.looks {
                steps.push("look");
                let status = if steps.contains(&"terminate_job") {
                    "RELEASE_RESOURCE_COMPLETE"
                } else {
                    "INCRE_TRANSFER_STARTED"
                };
                b.on_seen(&l.db, l.kind, job_seen(status, 100.0, 0.0), now, wall());
            }
            new_events.extend(b.take_events());
            now += 5.0;
            if b.stage_of("a").unwrap().stage == Stage::Hypercare {
                break;
            }
        }
        assert_eq!(
            steps,
            [
                "cutover.guards",
                "cutover.drain_source",
                "cutover.final_sync",
                // DRS's lag, read after the final sync, stays 0 for lag_stable_s.
                "look",
                "terminate_job",
                // Then the job is released.
                "look",
                "cutover.quick_validation",
                "cutover.dns_switch",
                "cutover.target_writes_on",
                "cutover.hypercare"
            ]
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Hypercare);
        // A step's report stays in its outcome: no pre-check or validation event is made of it.
        assert!(
            !new_events
                .iter()
                .any(|e| e.kind == kind::DB_PRECHECK || e.kind == kind::DB_VALIDATION),
            "{:?}",
            kinds(&new_events)
        );
        let dns = new_events
            .iter()
            .find(|e| e.kind == kind::STEP_OUTCOME && e.payload["step"] == "cutover.dns_switch")
            .unwrap();
        assert_eq!(dns.payload["summary"], "cutover.dns_switch done");
        assert_eq!(dns.payload["detail"]["dns"]["value"], "10.1.0.1:5432");
        let intent = new_events
            .iter()
            .find(|e| e.kind == kind::STEP_INTENT && e.payload["step"] == "cutover.drain_source")
            .unwrap();
        assert!(intent.payload["does"]
            .as_str()
            .unwrap()
            .contains("read-only"));

        // Rollback after writes reached the target: the whole plan, in order, then quiet.
        log = stored(log, new_events);
        b.on_command(
            &cmd(2, Role::Operator, Action::Rollback, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let mut undo = Vec::new();
        for _ in 0..10 {
            for w in &b.tick(now, wall()).works {
                undo.push(w.step.as_str());
                b.on_work(w, cut_ok("undone"), now, wall());
            }
            now += 5.0;
        }
        assert_eq!(
            undo,
            [
                "rollback.drain_target",
                "rollback.reverse_sync",
                "rollback.dns_back",
                "rollback.source_writes_on"
            ]
        );
        assert!(b.idle());
        let _ = log;
    }

    #[test]
    fn sql_cutover_resumes_an_open_step_and_rolls_back_what_began() {
        let (mut b, log) = ready_for_sql_cutover();
        b.on_command(
            &cmd(1, Role::Operator, Action::Cutover, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let mut now = 10.0;
        let mut new_events = b.take_events();
        // Guards done, then the drain starts and the engine dies before its outcome.
        let p = b.tick(now, wall());
        b.on_work(&p.works[0], cut_ok("guards"), now, wall());
        new_events.extend(b.take_events());
        now += 1.0;
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].step, Step::Cut(CutStep::DrainSource));
        new_events.extend(b.take_events());
        let log = stored(log, new_events);

        let mut set = settings(ChecksMode::Drs);
        set.sql_cutover = true;
        let mut r = Brain::new(set, 2);
        let mut s = seed("a", 0, Criticality::Low, 1.0);
        s.stage = Stage::Cutover;
        s.job = Some("job-a".into());
        r.load(
            vec![s],
            vec![WaveSeed {
                wave: 0,
                started: true,
                approved_by: Some("alice".into()),
                ..Default::default()
            }],
            &log,
        );
        let p = r.tick(0.0, wall());
        assert_eq!(p.works.len(), 1);
        assert_eq!(p.works[0].step, Step::Cut(CutStep::DrainSource));
        assert!(p.works[0].resumed, "the open intent is resumed");
        assert!(r.take_events().is_empty(), "no second intent");
        // The drain fails for good: the database fails in cutover; a rollback turns source
        // writes back on (the drain began) and nothing else.
        r.on_work(
            &p.works[0],
            WorkResult::Err(Fail {
                class: ErrorClass::Fatal,
                words: "source 10.0.0.1:5432/a: permission denied".into(),
            }),
            0.0,
            wall(),
        );
        assert_eq!(r.stage_of("a").unwrap().stage, Stage::Failed);
        r.on_command(
            &cmd(2, Role::Operator, Action::Rollback, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let p = r.tick(100.0, wall());
        assert_eq!(p.works[0].step, Step::Undo(RollbackAction::SourceWritesOn));
        r.on_work(&p.works[0], cut_ok("source writable"), 100.0, wall());
        assert!(r.tick(200.0, wall()).works.is_empty());
        assert!(r.idle());
    }

    #[test]
    fn a_cutover_guard_failing_at_the_step_is_passed_on_in_words() {
        let (mut b, _) = ready_for_sql_cutover();
        b.on_command(
            &cmd(1, Role::Operator, Action::Cutover, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        // Lag jumped above the threshold between the command and the step.
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 30.0),
            1.0,
            wall(),
        );
        let p = b.tick(10.0, wall());
        assert_eq!(p.works[0].step, Step::Cut(CutStep::Guards));
        assert!(
            p.works[0].blockers.iter().any(|r| r.contains("lag")),
            "{:?}",
            p.works[0].blockers
        );
    }

    /// CDC hands over to validation by the table's lag guard: within the database's own limit
    /// (`overrides.max_cutover_lag_s`) when it has one, else the global one.
    #[test]
    fn cdc_ends_within_the_databases_own_lag_limit() {
        let at_cdc = |own: Option<f64>| {
            let mut s = seed("a", 0, Criticality::Low, 1.0);
            s.stage = Stage::Cdc;
            s.job = Some("job-a".into());
            s.max_lag_s = own;
            let mut b = Brain::new(settings(ChecksMode::Sql), 1);
            b.load(vec![s], vec![], &[]);
            b
        };
        let seen = || job_seen("INCRE_TRANSFER_STARTED", 100.0, 12.0);
        let mut global = at_cdc(None);
        global.on_seen("a", LookKind::Job, seen(), 1.0, wall());
        assert_eq!(
            global.stage_of("a").unwrap().stage,
            Stage::Cdc,
            "12 s > 5 s"
        );
        let mut own = at_cdc(Some(30.0));
        own.on_seen("a", LookKind::Job, seen(), 1.0, wall());
        assert_eq!(own.stage_of("a").unwrap().stage, Stage::Validation);
        let moved = own.take_events();
        assert!(
            moved
                .iter()
                .any(|e| e.kind == kind::DB_STAGE && e.payload["to"] == "validation"),
            "{:?}",
            kinds(&moved)
        );
        // Within the global limit, without an own one: on to validation too.
        let mut low = at_cdc(None);
        low.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 1.0),
            1.0,
            wall(),
        );
        assert_eq!(low.stage_of("a").unwrap().stage, Stage::Validation);
    }

    #[test]
    fn step_names_round_trip() {
        for s in Step::ALL
            .into_iter()
            .chain(CutStep::ALL.into_iter().map(Step::Cut))
            .chain(RollbackAction::ALL.into_iter().map(Step::Undo))
        {
            assert_eq!(Step::parse(s.as_str()), Some(s), "{}", s.as_str());
        }
        assert_eq!(Step::parse("guards"), None);
    }

    #[test]
    fn wave_commands_report_what_moved_and_what_did_not() {
        let mut b = brain(
            ChecksMode::Drs,
            vec![
                seed("a", 0, Criticality::Low, 1.0),
                seed("b", 0, Criticality::Low, 1.0),
            ],
        );
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        let p = b.tick(0.0, wall());
        // Pause the wave: both in prechecks.
        let m = b
            .on_command(
                &cmd(2, Role::Operator, Action::Pause, Target::Wave(0)),
                wall(),
            )
            .unwrap();
        assert!(m.contains("2 databases"), "{m}");
        for w in &p.works {
            b.on_work(w, ok(Some(&format!("job-{}", w.db))), 1.0, wall());
        }
        // No job started yet: nothing to pause at DRS.
        assert!(b.tick(100.0, wall()).works.is_empty());
        let err = b
            .on_command(
                &cmd(3, Role::Operator, Action::Cutover, Target::Wave(0)),
                wall(),
            )
            .unwrap_err()
            .reason;
        // Refused as a whole by the wave's guard, with each member's reason.
        assert!(
            err.starts_with(
                "cutover blocked: none of the 2 databases of wave 0 passes its cutover guards now (a: cutover blocked"
            ) && err.contains("b: cutover"),
            "{err}"
        );
        b.on_command(
            &cmd(4, Role::Operator, Action::Abort, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let p = b.tick(200.0, wall());
        assert_eq!(
            p.works
                .iter()
                .map(|w| (w.db.as_str(), w.step))
                .collect::<Vec<_>>(),
            [("a", Step::Terminate)]
        );
    }

    #[test]
    fn signoff_needs_a_holder_and_feeds_the_cutover_guard_until_withdrawn() {
        let mut st = settings(ChecksMode::Drs);
        st.signoff = serde_yaml::from_str(
            "required:\n  high: [tech_lead, data_owner]\nholders:\n  tech_lead: [alice]\n  data_owner: [bob]\n",
        )
        .unwrap();
        let mut s = seed("a", 0, Criticality::High, 1.0);
        s.stage = Stage::Ready;
        let wave = || WaveSeed {
            wave: 0,
            ..Default::default()
        };
        let mut b = Brain::new(st.clone(), 1);
        b.load(vec![s.clone()], vec![wave()], &[]);
        let sign = |id: i64, who: &str, role: Role, r: &str| {
            let mut c = cmd(id, role, Action::Signoff, Target::Db("a".into()));
            c.who = who.into();
            c.args = json!({"role": r, "note": "rehearsal passed"});
            c
        };
        let guard =
            |b: &Brain| GuardKind::SignOff.check(&b.guard_context("a", Role::Operator, wall()));

        let e = b
            .on_command(&sign(1, "alice", Role::Viewer, "tech_lead"), wall())
            .unwrap_err()
            .reason;
        assert!(e.contains("viewer"), "{e}");
        let e = b
            .on_command(&sign(2, "bob", Role::Operator, "tech_lead"), wall())
            .unwrap_err()
            .reason;
        assert!(
            e.contains("bob does not hold the tech_lead role (its holders: alice"),
            "{e}"
        );
        let e = b
            .on_command(&sign(3, "alice", Role::Operator, "cto"), wall())
            .unwrap_err()
            .reason;
        assert!(e.contains("args.role must be one of"), "{e}");
        assert!(
            b.take_events().is_empty(),
            "a refused sign-off writes nothing"
        );

        let ok = b
            .on_command(&sign(4, "alice", Role::Operator, "tech_lead"), wall())
            .unwrap();
        assert_eq!(ok, "tech_lead sign-off by alice recorded for a");
        let signed = b.take_events();
        assert_eq!(kinds(&signed), vec![kind::DB_SIGNOFF.to_string()]);
        assert_eq!(signed[0].actor, "alice");
        assert_eq!(signed[0].payload["role"], "tech_lead");
        assert_eq!(signed[0].payload["note"], "rehearsal passed");
        let g = guard(&b);
        assert!(!g.ok);
        assert_eq!(
            g.sentence,
            "sign-off missing: data_owner (signed: tech_lead by alice)"
        );
        let why = b
            .on_command(
                &cmd(5, Role::Operator, Action::Cutover, Target::Db("a".into())),
                wall(),
            )
            .unwrap_err()
            .reason;
        assert!(why.contains("sign-off missing: data_owner"), "{why}");

        b.on_command(&sign(6, "bob", Role::Operator, "data_owner"), wall())
            .unwrap();
        let mut log = signed.clone();
        log.extend(b.take_events());
        assert!(guard(&b).ok, "{}", guard(&b).sentence);

        // A restarted engine reads the sign-offs back from the log.
        let events: Vec<Event> = log
            .iter()
            .enumerate()
            .map(|(i, e)| Event {
                seq: i as i64 + 1,
                time: wall(),
                db_id: e.db_id.clone(),
                wave: e.wave,
                kind: e.kind.clone(),
                payload: e.payload.clone(),
                actor: e.actor.clone(),
                prev_hash: String::new(),
                hash: String::new(),
            })
            .collect();
        let mut again = Brain::new(st, 1);
        again.load(vec![s], vec![wave()], &events);
        assert!(guard(&again).ok, "{}", guard(&again).sentence);

        // A failed validation the engine records withdraws every sign-off.
        b.out.push(ev(
            Some("a"),
            Some(0),
            Body::Validation(CheckReport {
                passed: false,
                summary: String::new(),
                detail: Value::Null,
            }),
        ));
        b.take_events();
        let g = guard(&b);
        assert!(!g.ok);
        assert!(
            g.sentence.starts_with(
                "sign-off missing: tech_lead, data_owner; earlier sign-offs withdrawn"
            ) && g.sentence.ends_with("a validation failed"),
            "{}",
            g.sentence
        );
    }

    /// A database in validation with a started job, `checks: sql`, restarted from `log`.
    fn validating(log: &[Event]) -> Brain {
        let mut s = seed("a", 0, Criticality::Low, 1.0);
        s.stage = Stage::Validation;
        s.job = Some("job-a".into());
        let mut b = Brain::new(settings(ChecksMode::Sql), 3);
        let started = Event {
            seq: 0,
            time: wall(),
            db_id: Some("a".into()),
            wave: Some(0),
            kind: kind::STEP_OUTCOME.into(),
            payload: json!({"step": "start_job", "attempt": 0, "ok": true}),
            actor: ACTOR.into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let mut all = vec![started];
        all.extend(log.iter().cloned());
        let wave = WaveSeed {
            wave: 0,
            started: true,
            ..Default::default()
        };
        b.load(vec![s], vec![wave], &all);
        b
    }

    /// The live gate left "not decided: lag" is not a failure: tried again on its own
    /// schedule, many more times than `thresholds.max_retries` (2 here), each attempt still the
    /// first, also after a restart; a transient error still counts, and a real difference
    /// still fails the database at once.
    #[test]
    fn lag_undecided_gates_wait_without_spending_the_retry_budget() {
        let lag = Fail {
            class: ErrorClass::Waiting,
            words: "validation not decided: public.t: lag: slot s had confirmed lsn 0/10 of \
                    lsn 0/20 after 300 s (validation.recheck_wait_s)"
                .into(),
        };
        let mut b = validating(&[]);
        let mut now = 0.0;
        let mut log = Vec::new();
        for n in 0..6 {
            let p = b.tick(now, wall());
            assert_eq!(p.works.len(), 1, "try {n}: {:?}", b.stage_of("a"));
            assert_eq!(
                (p.works[0].step, p.works[0].attempt),
                (Step::SqlValidate, 0)
            );
            b.on_work(&p.works[0], WorkResult::Err(lag.clone()), now, wall());
            assert!(b.tick(now, wall()).works.is_empty(), "it waits first");
            assert_eq!(b.stage_of("a").unwrap().stage, Stage::Validation);
            now += 1000.0;
            if n == 2 {
                // A restart in the middle replays the waits: none counts as a retry.
                log = stored(log, b.take_events());
                b = validating(&log);
            }
        }
        log = stored(log, b.take_events());
        let waits: Vec<&Event> = log
            .iter()
            .filter(|e| e.kind == kind::STEP_OUTCOME && e.payload["ok"] == false)
            .collect();
        assert_eq!(waits.len(), 6);
        for w in &waits {
            assert_eq!(w.payload["class"], "waiting", "{}", w.payload);
            assert_eq!(w.payload["will_retry"], true, "{}", w.payload);
        }
        assert!(!log.iter().any(|e| e.payload["to"] == "failed"));

        // A transient failure is a retry like any other: attempt 1.
        let p = b.tick(now, wall());
        let transient = Fail {
            class: ErrorClass::Retryable,
            words: "connection reset".into(),
        };
        b.on_work(&p.works[0], WorkResult::Err(transient), now, wall());
        now += 1000.0;
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].attempt, 1);

        // A real difference fails the database at once.
        let found = WorkResult::Ok {
            job: None,
            report: Some(Report {
                passed: false,
                summary: "1 table differs: public.t id=7 changed".into(),
                detail: Value::Null,
            }),
            recovered: false,
        };
        b.on_work(&p.works[0], found, now, wall());
        assert_eq!(
            b.stage_of("a").unwrap(),
            Position::failed_in(Stage::Validation)
        );
        let ev = b.take_events();
        let failed = ev.iter().find(|e| e.payload["to"] == "failed").unwrap();
        assert!(
            failed.payload["reason"]
                .as_str()
                .is_some_and(|r| r.contains("public.t id=7")),
            "{}",
            failed.payload
        );
    }

    /// The waits have a bound: a replication that never reaches the position fails the
    /// database in the end, saying what to look at.
    #[test]
    fn a_position_never_reached_fails_after_the_wait_budget() {
        let lag = Fail {
            class: ErrorClass::Waiting,
            words: "validation not decided: public.t: lag".into(),
        };
        let mut b = validating(&[]);
        let mut now = 0.0;
        for _ in 0..=WAIT_TRIES {
            let p = b.tick(now, wall());
            assert_eq!(p.works.len(), 1);
            b.on_work(&p.works[0], WorkResult::Err(lag.clone()), now, wall());
            now += 1000.0;
        }
        assert_eq!(
            b.stage_of("a").unwrap(),
            Position::failed_in(Stage::Validation)
        );
        let ev = b.take_events();
        let failed = ev.iter().find(|e| e.payload["to"] == "failed").unwrap();
        let why = failed.payload["error"].as_str().unwrap_or_default();
        assert!(
            why.contains(&format!("still not decided after {WAIT_TRIES} tries")),
            "{why}"
        );
    }
}
