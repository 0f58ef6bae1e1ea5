//! The report's figures from a wave's events (its members' events and the wave's own), in seq
//! order. Pure. States come from the store's fold ([`Derived`]), sign-offs from its ledger,
//! phase names from `program::pace`; what no other reader keeps (time in every stage, the write
//! gap, the series the charts draw) is measured here from the same typed events.

use crate::cutover::steps::{CutoverStep, RollbackAction};
use crate::engine::brain::EffectStep as Step;
use crate::lifecycle::Stage;
use crate::program::{stage_pos, StageMark};
use crate::store::event::{Body, WaveDone};
use crate::store::fold::Derived;
use crate::store::model::{DbState, Event, WaveState};
use chrono::{DateTime, Utc};

/// How far before its cutover a database's lag is drawn, in seconds of store time.
pub const LAG_BEFORE_CUTOVER_S: f64 = 600.0;

/// Milestones the burn-down counts down to: databases not yet loaded, validated, cut over.
pub const MILESTONES: [(Stage, &str); 3] = [
    (Stage::Cdc, "to load"),
    (Stage::Ready, "to validate"),
    (Stage::Hypercare, "to cut over"),
];

/// One alert raised about a member.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertLine {
    pub at: DateTime<Utc>,
    pub db_id: String,
    pub rule: String,
    pub what: String,
    pub cleared_at: Option<DateTime<Utc>>,
}

/// One rollback of a member (its move to `rolled_back`).
#[derive(Clone, Debug, PartialEq)]
pub struct Rollback {
    pub at: DateTime<Utc>,
    pub db_id: String,
    pub reason: String,
    pub by: Option<String>,
}

/// One member's line.
#[derive(Clone, Debug, PartialEq)]
pub struct DbLine {
    pub state: DbState,
    /// Seconds spent in each stage it went through, in the order it entered them (a stage
    /// entered twice counts both times); the stage it is in now runs to the report's time.
    pub stages: Vec<(Stage, f64)>,
    /// Validation runs: (passed, summary) of the last, and how many ran.
    pub validation: Option<(bool, String)>,
    pub validation_runs: usize,
    /// `role by who` of the sign-offs standing now.
    pub signoffs: Vec<String>,
    /// Writes off at the source (the drain's intent) to writes open at the target (the outcome
    /// of the step that opens them), seconds: see [`opens_writes`].
    pub write_gap_s: Option<f64>,
    pub alerts: usize,
    pub rollbacks: usize,
}

/// A named series of (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

#[derive(Clone, Debug, PartialEq)]
pub struct WaveReport {
    pub wave: u32,
    pub state: Option<WaveState>,
    pub at: DateTime<Utc>,
    /// Where the time axes start: the wave's start, else its first event.
    pub t0: DateTime<Utc>,
    pub dbs: Vec<DbLine>,
    pub alerts: Vec<AlertLine>,
    pub rollbacks: Vec<Rollback>,
    /// When the engine wrote the wave's `wave.done`, and what it said.
    pub done: Option<(DateTime<Utc>, WaveDone)>,
    /// Minutes after `t0` → databases short of each of [`MILESTONES`].
    pub burn_down: Vec<Series>,
    /// Seconds from the database's cutover start → lag in seconds, per database cut over.
    pub lag_at_cutover: Vec<Series>,
    /// Minutes after `t0` → full-load MB/s, per database (loaded share × size over time, as the
    /// throughput alert measures it).
    pub throughput: Vec<Series>,
}

impl WaveReport {
    /// Members by final stage, in lifecycle order.
    pub fn outcomes(&self) -> Vec<(Stage, usize)> {
        Stage::ALL
            .iter()
            .map(|s| (*s, self.dbs.iter().filter(|d| d.state.stage == *s).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).as_seconds_f64()
}

/// The report of wave `wave` from `events` (seq order) at time `at`.
pub fn build(wave: u32, events: &[Event], at: DateTime<Utc>) -> WaveReport {
    let derived = Derived::from_events(events);
    let state = derived.waves.get(&wave).cloned();
    let t0 = state
        .as_ref()
        .and_then(|w| w.started_at)
        .or_else(|| events.first().map(|e| e.time))
        .unwrap_or(at);
    let members: Vec<&DbState> = derived
        .dbs
        .values()
        .filter(|d| d.wave == Some(wave))
        .collect();
    let mut alerts: Vec<AlertLine> = Vec::new();
    let mut rollbacks = Vec::new();
    for e in events {
        let Some(db) = e.db_id.clone() else { continue };
        match e.body() {
            Body::AlertRaised(r) => alerts.push(AlertLine {
                at: e.time,
                db_id: db,
                rule: r.rule,
                what: r.what,
                cleared_at: None,
            }),
            Body::AlertCleared(c) => {
                if let Some(a) = alerts
                    .iter_mut()
                    .rev()
                    .find(|a| a.db_id == db && a.rule == c.rule && a.cleared_at.is_none())
                {
                    a.cleared_at = Some(e.time);
                }
            }
            Body::Stage(s) if s.to == Stage::RolledBack => rollbacks.push(Rollback {
                at: e.time,
                db_id: db,
                reason: s.reason,
                by: s.by,
            }),
            _ => {}
        }
    }
    let dbs = members
        .iter()
        .map(|d| db_line(d, events, at, &alerts, &rollbacks))
        .collect();
    let marks: Vec<StageMark> = events
        .iter()
        .filter_map(|e| match e.body() {
            Body::Stage(s) => Some(StageMark {
                seq: e.seq,
                time: e.time,
                db_id: e.db_id.clone()?,
                to: s.to,
            }),
            _ => None,
        })
        .filter(|m| members.iter().any(|d| d.db_id == m.db_id))
        .collect();
    let done = events
        .iter()
        .filter(|e| e.db_id.is_none() && e.wave == Some(wave))
        .find_map(|e| match e.body() {
            Body::WaveDone(d) => Some((e.time, d)),
            _ => None,
        });
    WaveReport {
        wave,
        state,
        at,
        t0,
        done,
        burn_down: burn_down(&marks, members.len(), t0, at),
        lag_at_cutover: lag_at_cutover(&members, events),
        throughput: throughput(&members, events, t0),
        dbs,
        alerts,
        rollbacks,
    }
}

fn of<'a>(events: &'a [Event], db: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
    events
        .iter()
        .filter(move |e| e.db_id.as_deref() == Some(db))
}

fn db_line(
    d: &DbState,
    events: &[Event],
    at: DateTime<Utc>,
    alerts: &[AlertLine],
    rollbacks: &[Rollback],
) -> DbLine {
    let id = d.db_id.as_str();
    let mut stages: Vec<(Stage, f64)> = Vec::new();
    let mut current: Option<(Stage, DateTime<Utc>)> = None;
    let mut validation = None;
    let mut validation_runs = 0;
    let mut drained: Option<DateTime<Utc>> = None;
    let mut write_gap_s = None;
    for e in of(events, id) {
        match e.body() {
            Body::Stage(s) => {
                if let Some((st, since)) = current.take() {
                    stages.push((st, secs(since, e.time).max(0.0)));
                }
                current = Some((s.to, e.time));
            }
            Body::Validation(v) => {
                validation_runs += 1;
                validation = Some((v.passed, v.summary));
            }
            Body::StepIntent(i) if drains(&i.step) => {
                drained = Some(e.time);
                write_gap_s = None;
            }
            Body::StepOutcome(o) if o.ok && opens_writes(&o.step) => {
                write_gap_s = drained.map(|t| secs(t, e.time).max(0.0));
            }
            // Writes went back on at the source: this cutover's gap is not a target's.
            Body::StepOutcome(o)
                if o.ok
                    && matches!(
                        Step::parse(&o.step),
                        Some(Step::SourceWritesOn | Step::Undo(RollbackAction::SourceWritesOn))
                    ) =>
            {
                drained = None;
            }
            _ => {}
        }
    }
    if let Some((st, since)) = current {
        stages.push((st, secs(since, at).max(0.0)));
    }
    DbLine {
        state: d.clone(),
        stages,
        validation,
        validation_runs,
        signoffs: d
            .signoff
            .signed
            .iter()
            .map(|s| format!("{} by {}", s.role.as_str(), s.who))
            .collect(),
        write_gap_s,
        alerts: alerts.iter().filter(|a| a.db_id == id).count(),
        rollbacks: rollbacks.iter().filter(|r| r.db_id == id).count(),
    }
}

/// Writes stop at the source: the engine's DRS-side drain or the SQL cutover's.
fn drains(step: &str) -> bool {
    matches!(
        Step::parse(step),
        Some(Step::DrainSource | Step::Cut(CutoverStep::DrainSource))
    )
}

/// The step after which clients write to the target: the SQL cutover's `target_writes_on`;
/// on the DRS-side path (terminate lifts the target's read-only, then DNS), the DNS switch.
fn opens_writes(step: &str) -> bool {
    matches!(
        Step::parse(step),
        Some(Step::DnsSwitch | Step::Cut(CutoverStep::TargetWritesOn))
    )
}

/// Databases short of each milestone after every stage change (a step line).
fn burn_down(
    marks: &[StageMark],
    members: usize,
    t0: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Vec<Series> {
    let mut furthest: std::collections::HashMap<&str, usize> = Default::default();
    let main_end = stage_pos(Stage::Completed);
    let short = |furthest: &std::collections::HashMap<&str, usize>, m: Stage| {
        members
            - furthest
                .values()
                .filter(|p| **p >= stage_pos(m) && **p <= main_end)
                .count()
    };
    let mut out: Vec<Series> = MILESTONES
        .iter()
        .map(|(_, name)| (name.to_string(), vec![(0.0, members as f64)]))
        .collect();
    for m in marks {
        let p = stage_pos(crate::program::stages::data_stage(m.to));
        // Failed, paused, rolled back: off the main path, the database keeps what it reached.
        if p > main_end {
            continue;
        }
        let e = furthest.entry(m.db_id.as_str()).or_insert(0);
        *e = (*e).max(p);
        let x = (secs(t0, m.time) / 60.0).max(0.0);
        for (i, (stage, _)) in MILESTONES.iter().enumerate() {
            let y = short(&furthest, *stage) as f64;
            let line = &mut out[i].1;
            if line.last().map(|l| l.1) != Some(y) {
                line.push((x, line.last().map(|l| l.1).unwrap_or(y)));
                line.push((x, y));
            }
        }
    }
    let end = (secs(t0, at) / 60.0).max(0.0);
    for (_, line) in &mut out {
        if let Some(&(x, y)) = line.last() {
            if end > x {
                line.push((end, y));
            }
        }
    }
    out
}

fn lag_at_cutover(members: &[&DbState], events: &[Event]) -> Vec<Series> {
    let mut out = Vec::new();
    for d in members {
        let cut = of(events, &d.db_id)
            .filter(|e| matches!(e.body(), Body::Stage(s) if s.to == Stage::Cutover))
            .map(|e| e.time)
            .last();
        let Some(cut) = cut else { continue };
        let pts: Vec<(f64, f64)> = of(events, &d.db_id)
            .filter_map(|e| match e.body() {
                Body::Lag(l) if l.lag_s.is_finite() => Some((secs(cut, e.time), l.lag_s)),
                _ => None,
            })
            .filter(|(x, _)| *x >= -LAG_BEFORE_CUTOVER_S)
            .collect();
        if !pts.is_empty() {
            out.push((d.db_id.clone(), pts));
        }
    }
    out
}

fn throughput(members: &[&DbState], events: &[Event], t0: DateTime<Utc>) -> Vec<Series> {
    let mut out = Vec::new();
    for d in members {
        let size_mb = d.size_gb.max(0.0) * 1000.0;
        let mut last: Option<(DateTime<Utc>, f64)> = None;
        let mut pts = Vec::new();
        for e in of(events, &d.db_id) {
            match e.body() {
                // The load (re)starts at 0% when the stage is entered.
                Body::Stage(s) if s.to == Stage::FullLoad => last = Some((e.time, 0.0)),
                Body::Progress(p) if p.pct.is_finite() => {
                    if let Some((t, pct)) = last {
                        let dt = secs(t, e.time);
                        if dt > 0.0 {
                            let mbps = p
                                .mbps
                                .unwrap_or((p.pct - pct).max(0.0) / 100.0 * size_mb / dt);
                            pts.push((secs(t0, e.time) / 60.0, mbps));
                        }
                    }
                    last = Some((e.time, p.pct));
                }
                _ => {}
            }
        }
        if !pts.is_empty() {
            out.push((d.db_id.clone(), pts));
        }
    }
    out
}
