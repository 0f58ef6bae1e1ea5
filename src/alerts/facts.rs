//! What the alert rules look at, kept from the events the engine writes (the store's own fold,
//! [`Derived`], plus the few figures it does not keep: lag sample times, full-load progress
//! over time, recent step outcomes, open cutover steps) and from the DRS client's error
//! counters. Pure: the engine feeds it, nothing here does I/O.

use super::board::Board;
use crate::lifecycle::Stage;
use crate::store::event::Body;
use crate::store::fold::{self, Derived};
use crate::store::{DbState, Event};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// A cutover step under way or failed for good.
#[derive(Clone, Debug, PartialEq)]
pub struct CutStep {
    pub step: String,
    pub since: DateTime<Utc>,
    pub failed: Option<String>,
}

/// This engine took over a lease its predecessor never released.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaseLost {
    pub previous: String,
    /// Raised already (the reading is gone afterwards, and the alert clears after its
    /// `clear_for_s`).
    pub reported: bool,
}

/// The figures estimates of a stage's length come from (the planner's, see plan::estimate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimates {
    pub job_mbps: f64,
    pub validation_gb_per_hour: f64,
    pub validation_overhead_s: f64,
    /// Stages without a size-based model (pre-checks, provisioning, CDC catch-up, cutover)
    /// are expected within this many seconds.
    pub fixed_stage_s: f64,
}

#[derive(Clone, Debug)]
pub struct Facts {
    pub state: Derived,
    lag: HashMap<String, (DateTime<Utc>, f64)>,
    /// Full-load percent over time, per database in full load (oldest first).
    load: HashMap<String, VecDeque<(DateTime<Utc>, f64)>>,
    /// Step outcomes that count for the error rate: (time, failed).
    outcomes: VecDeque<(DateTime<Utc>, bool)>,
    cut: BTreeMap<String, CutStep>,
    /// The DRS client's totals over time: (time, errors, throttled).
    drs: VecDeque<(DateTime<Utc>, u64, u64)>,
    pub lease_lost: Option<LeaseLost>,
    /// The alerts standing, as the events say.
    pub board: Board,
    estimates: Estimates,
    /// Longest window any rule looks back over, in wall seconds (older samples are dropped).
    keep_s: f64,
    /// The DRS error rate's window (wall seconds: see [`Facts::drs_error_rate`]).
    drs_keep_s: f64,
}

impl Facts {
    pub fn new(estimates: Estimates, keep_s: f64, drs_keep_s: f64) -> Facts {
        Facts {
            state: Derived::default(),
            lag: HashMap::new(),
            load: HashMap::new(),
            outcomes: VecDeque::new(),
            cut: BTreeMap::new(),
            drs: VecDeque::new(),
            lease_lost: None,
            board: Board::default(),
            estimates,
            keep_s,
            drs_keep_s,
        }
    }

    /// Take in one stored event.
    pub fn observe(&mut self, ev: &Event) {
        self.observe_read(ev, &ev.body())
    }

    /// [`Facts::observe`] with the payload already read (`ev.body()`, read once for every
    /// reader of the stored events).
    pub fn observe_read(&mut self, ev: &Event, body: &Body) {
        let before = ev
            .db_id
            .as_deref()
            .and_then(|id| self.state.dbs.get(id))
            .map(|d| d.stage);
        fold::apply_read(&mut self.state, ev, body.clone());
        let db = ev.db_id.clone();
        let stage_now = db
            .as_deref()
            .and_then(|id| self.state.dbs.get(id))
            .map(|d| d.stage);
        match body {
            Body::Progress(p) => {
                if let Some(id) = &db {
                    let q = self.load.entry(id.clone()).or_default();
                    q.push_back((ev.time, p.pct));
                    prune_series(q, ev.time, self.keep_s);
                }
            }
            Body::Lag(l) => {
                if let Some(id) = &db {
                    self.lag.insert(id.clone(), (ev.time, l.lag_s));
                }
            }
            Body::StepIntent(i) => {
                if let Some(id) = &db {
                    if i.step.starts_with("cutover.") || stage_now == Some(Stage::Cutover) {
                        self.cut.insert(
                            id.clone(),
                            CutStep {
                                step: i.step.clone(),
                                since: ev.time,
                                failed: None,
                            },
                        );
                    }
                }
            }
            // A DRS job that failed (a full load stopped part way) is a failed step too,
            // though the engine's next step (resume) may well succeed.
            Body::JobStatus(j) if j.status.is_failed() => {
                self.outcomes.push_back((ev.time, true));
            }
            Body::StepOutcome(o) => {
                if !o.waiting() && !o.recovered {
                    self.outcomes.push_back((ev.time, !o.ok));
                }
                if let Some(c) = db.as_deref().and_then(|id| self.cut.get_mut(id)) {
                    if c.step == o.step {
                        if o.ok {
                            self.cut.remove(db.as_deref().unwrap_or_default());
                        } else if o.will_retry != Some(true) && !o.waiting() {
                            c.failed = Some(o.error.clone().unwrap_or_else(|| "failed".into()));
                        }
                    }
                }
            }
            Body::AlertRaised(_) | Body::AlertCleared(_) | Body::AlertAcked(_) => {
                self.board.apply(ev, body)
            }
            _ => {}
        }
        if let (Some(id), Some(now)) = (&db, stage_now) {
            if before != Some(now) {
                // A new stage: its own progress series, its own cutover step.
                self.load.remove(id);
                if now == Stage::FullLoad {
                    let pct = self.state.dbs.get(id).map_or(0.0, |d| d.progress_pct);
                    self.load
                        .insert(id.clone(), VecDeque::from([(ev.time, pct)]));
                }
                if now != Stage::Cutover {
                    self.cut.remove(id);
                }
            }
        }
        self.prune(ev.time);
    }

    /// A lag sample (the engine takes many more than it writes as `db.lag` events).
    pub fn lag_sample(&mut self, db: &str, at: DateTime<Utc>, lag_s: f64) {
        self.lag.insert(db.to_string(), (at, lag_s));
    }

    /// The DRS client's totals now.
    pub fn drs_totals(&mut self, at: DateTime<Utc>, errors: u64, throttled: u64) {
        self.drs.push_back((at, errors, throttled));
        self.prune(at);
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        let keep = chrono::Duration::milliseconds((self.keep_s * 1000.0) as i64);
        let old = |t: &DateTime<Utc>| now - *t > keep;
        while self.outcomes.front().is_some_and(|(t, _)| old(t)) {
            self.outcomes.pop_front();
        }
        // Keep one sample older than the window: the base a rate is measured from.
        let drs_keep = chrono::Duration::milliseconds((self.drs_keep_s * 1000.0) as i64);
        while self.drs.len() > 1 && self.drs.get(1).is_some_and(|(t, _, _)| now - *t > drs_keep) {
            self.drs.pop_front();
        }
    }

    pub fn dbs(&self) -> impl Iterator<Item = &DbState> {
        self.state.dbs.values()
    }

    pub fn in_stages<'a>(&'a self, stages: &'a [Stage]) -> impl Iterator<Item = &'a DbState> {
        self.dbs().filter(move |d| stages.contains(&d.stage))
    }

    /// Latest lag: a sample, or the last `db.lag` event.
    pub fn lag(&self, db: &str) -> Option<f64> {
        self.lag
            .get(db)
            .map(|(_, l)| *l)
            .or_else(|| self.state.dbs.get(db)?.lag_s)
    }

    /// When the newest lag sample was taken (the epoch when none was).
    pub fn lag_at(&self, db: &str) -> DateTime<Utc> {
        self.lag
            .get(db)
            .map_or(DateTime::<Utc>::MIN_UTC, |(t, _)| *t)
    }

    /// Seconds a stage is expected to take for a database of `size_gb`; `None` for stages
    /// that wait on people or have no end (ready, hypercare, the final ones).
    pub fn estimate_s(&self, stage: Stage, size_gb: f64) -> Option<f64> {
        let e = &self.estimates;
        Some(match stage {
            Stage::FullLoad => (size_gb * 1000.0 / e.job_mbps.max(1e-9)).max(e.fixed_stage_s),
            Stage::Validation => (e.validation_overhead_s
                + size_gb / e.validation_gb_per_hour.max(1e-9) * 3600.0)
                .max(e.fixed_stage_s),
            Stage::Prechecks | Stage::Provisioning | Stage::Cdc | Stage::Cutover => e.fixed_stage_s,
            _ => return None,
        })
    }

    /// Full-load MB/s over the last `window_s` engine seconds (from when the stage began, if
    /// later); `None` until a tenth of the window has passed.
    pub fn throughput(
        &self,
        db: &str,
        size_gb: f64,
        now: DateTime<Utc>,
        scale: f64,
        window_s: f64,
    ) -> Option<f64> {
        let q = self.load.get(db)?;
        let from = now - wall(window_s, scale);
        let base = q.iter().rev().find(|(t, _)| *t <= from).or(q.front())?;
        let last = q.back()?;
        let span = (now - base.0).as_seconds_f64() * scale;
        if span < window_s / 10.0 || span <= 0.0 {
            return None;
        }
        Some(((last.1 - base.1).max(0.0) / 100.0 * size_gb * 1000.0) / span)
    }

    /// (failed, total) step outcomes over the last `window_s` engine seconds.
    pub fn step_error_rate(
        &self,
        now: DateTime<Utc>,
        scale: f64,
        window_s: f64,
    ) -> Option<(usize, usize)> {
        let from = now - wall(window_s, scale);
        let (mut failed, mut total) = (0, 0);
        for (t, f) in self.outcomes.iter().rev() {
            if *t < from {
                break;
            }
            total += 1;
            failed += usize::from(*f);
        }
        (total > 0).then_some((failed, total))
    }

    /// DRS errors per minute over the last `window_s` seconds, and how many of them were
    /// throttled answers. Wall-clock seconds and minutes, unlike the other rules: DRS's API
    /// limits count real requests whatever `engine.time_scale` is.
    pub fn drs_error_rate(&self, now: DateTime<Utc>, window_s: f64) -> Option<(f64, u64)> {
        let from = now - wall(window_s, 1.0);
        let base = self
            .drs
            .iter()
            .rev()
            .find(|(t, _, _)| *t <= from)
            .or(self.drs.front())?;
        let last = self.drs.back()?;
        let span = (last.0 - base.0).as_seconds_f64();
        if span < window_s / 10.0 || span <= 0.0 {
            return None;
        }
        let errors = last.1.saturating_sub(base.1) as f64;
        Some((errors / span * 60.0, last.2.saturating_sub(base.2)))
    }

    pub fn cutover_steps(&self) -> impl Iterator<Item = (&String, &CutStep)> {
        self.cut.iter()
    }
}

/// Drop samples older than `keep_s`, keeping one before it (the base of a rate).
fn prune_series(q: &mut VecDeque<(DateTime<Utc>, f64)>, now: DateTime<Utc>, keep_s: f64) {
    let keep = chrono::Duration::milliseconds((keep_s * 1000.0) as i64);
    while q.len() > 1 && q.get(1).is_some_and(|(t, _)| now - *t > keep) {
        q.pop_front();
    }
}

/// `s` engine seconds as a wall-clock span.
fn wall(s: f64, scale: f64) -> chrono::Duration {
    chrono::Duration::microseconds((s / scale.max(1e-9) * 1e6).min(1e15) as i64)
}
