//! Alert rules, evaluated by the engine (issue #18): a fixed table of rules
//! ([`rules::RuleKind`], numbers under `alerts:`), read from [`facts::Facts`] (the store's fold
//! plus lag samples, step outcomes and the DRS client's error counters), raised and cleared
//! with hysteresis ([`hysteresis::Phase`]) into `alert.raised` / `alert.cleared` events.
//!
//! Everything here is pure; [`Alerter`] is what the engine's loop holds: it takes in what the
//! engine stored and returns the alert events to store next.

pub mod board;
pub mod config;
pub mod facts;
pub mod hysteresis;
pub mod rules;

pub use config::AlertsConfig;

use crate::store::event::{AlertAcked, AlertCleared, AlertRaised, Body};
use crate::store::{CommandRow, Event, NewEvent, Role, Target};
use chrono::{DateTime, Utc};
use facts::{Estimates, Facts, LeaseLost};
use hysteresis::{Change, Phase};
use rules::{Reading, RuleKind};
use std::collections::{HashMap, HashSet};

/// The figures stage estimates come from, as the planner reads them (see plan::estimate).
/// Here rather than in facts.rs, which the config does not need to know.
fn estimates(cfg: &crate::config::Config) -> Estimates {
    Estimates {
        job_mbps: cfg.engine.job_bandwidth_mbps,
        validation_gb_per_hour: cfg.plan.validation_gb_per_hour,
        validation_overhead_s: cfg.plan.validation_overhead_s,
        fixed_stage_s: 1800.0,
    }
}

/// Who writes alert events.
pub const ACTOR: &str = "engine";

pub struct Alerter {
    cfg: AlertsConfig,
    scale: f64,
    pub facts: Facts,
    phases: HashMap<(RuleKind, Option<String>), Phase>,
    /// The engine-seconds clock starts here.
    origin: DateTime<Utc>,
    readings: Vec<Reading>,
    /// When the rules were last evaluated (see [`Alerter::due`]).
    evaluated: Option<DateTime<Utc>>,
}

/// The rules are evaluated at most this often, in wall-clock seconds: alerts are for people,
/// and a tenth of a second is far below anything they act on. In an accelerated rehearsal it
/// is `time_scale / 10` engine seconds (6 at x60), under the shortest hold of the defaults
/// (60 s). The engine's loop runs every 10 ms at such scales; evaluating every rule over every
/// database that often was most of what the alert rules cost (issue #18).
pub const EVALUATE_EVERY_S: f64 = 0.1;

impl Alerter {
    /// `None` when `alerts.enabled` is off.
    pub fn new(cfg: &crate::config::Config, now: DateTime<Utc>) -> Option<Alerter> {
        if !cfg.alerts.enabled {
            return None;
        }
        let scale = if cfg.engine.time_scale.is_finite() && cfg.engine.time_scale > 0.0 {
            cfg.engine.time_scale
        } else {
            1.0
        };
        let keep_s = RuleKind::ALL
            .iter()
            .filter(|k| **k != RuleKind::DrsErrors)
            .map(|k| cfg.alerts.rule(*k).window_s)
            .fold(60.0, f64::max)
            / scale;
        let drs_keep_s = cfg.alerts.drs_errors.window_s.max(60.0);
        Some(Alerter {
            cfg: cfg.alerts.clone(),
            scale,
            facts: Facts::new(estimates(cfg), keep_s * 1.5, drs_keep_s * 1.5),
            phases: HashMap::new(),
            origin: now,
            readings: Vec::new(),
            evaluated: None,
        })
    }

    /// Take in the event log as the engine found it at start: alerts standing from an earlier
    /// run stay raised (and clear when their value is back), never raised twice.
    pub fn load(&mut self, events: &[Event]) {
        self.observe(events);
        for (rule, db) in self.facts.board.standing.keys() {
            if let Some(k) = RuleKind::parse(rule) {
                self.phases.insert((k, db.clone()), Phase::Active);
            }
        }
    }

    /// This engine took its lease over from `previous`, who never released it.
    pub fn lease_taken_over(&mut self, previous: &str) {
        self.facts.lease_lost = Some(LeaseLost {
            previous: previous.to_string(),
            reported: false,
        });
    }

    /// Take in events as stored.
    pub fn observe(&mut self, events: &[Event]) {
        for e in events {
            self.facts.observe(e);
        }
    }

    /// [`Alerter::observe`] with each event's payload already read (`bodies[i]` is
    /// `events[i].body()`), for a caller that hands the same events to other readers.
    pub fn observe_read(&mut self, events: &[Event], bodies: &[Body]) {
        for (e, b) in events.iter().zip(bodies) {
            self.facts.observe_read(e, b);
        }
    }

    /// Whether the rules are due for evaluation at `now`: never evaluated yet, or last at
    /// least one engine second and [`EVALUATE_EVERY_S`] ago (or the clock went back).
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        let every = (1.0 / self.scale).max(EVALUATE_EVERY_S);
        self.evaluated.is_none_or(|at| {
            let since = (now - at).as_seconds_f64();
            since >= every || since < 0.0
        })
    }

    pub fn lag_samples(&mut self, samples: &[(String, DateTime<Utc>, f64)]) {
        for (db, t, l) in samples {
            self.facts.lag_sample(db, *t, *l);
        }
    }

    /// Evaluate every rule at `now`, with the DRS client's totals so far; returns the alert
    /// events to store.
    pub fn evaluate(
        &mut self,
        now: DateTime<Utc>,
        drs_errors: u64,
        drs_throttled: u64,
    ) -> Vec<NewEvent> {
        self.evaluated = Some(now);
        self.facts.drs_totals(now, drs_errors, drs_throttled);
        let t = (now - self.origin).as_seconds_f64() * self.scale;
        let mut out = Vec::new();
        for kind in RuleKind::ALL {
            let rule = self.cfg.rule(kind).clone();
            if !rule.enabled {
                continue;
            }
            let mut readings = std::mem::take(&mut self.readings);
            readings.clear();
            kind.measure(&self.facts, &rule, now, self.scale, &mut readings);
            let dir = kind.direction();
            for r in &readings {
                let phase = self
                    .phases
                    .entry((kind, r.db.clone()))
                    .or_insert(Phase::Quiet);
                let change = phase.step(&rule, dir, Some(r.value), r.forced, t);
                if let Some(e) = self.event(kind, &rule, change, Some(r), now) {
                    out.push(e);
                }
            }
            // Subjects with a phase but no reading now: back to normal for the rule. (A set:
            // a rule may stand on many databases at once, and read as many.)
            let read: HashSet<&Option<String>> = readings.iter().map(|r| &r.db).collect();
            let gone: Vec<Option<String>> = self
                .phases
                .keys()
                .filter(|(k, db)| *k == kind && !read.contains(db))
                .map(|(_, db)| db.clone())
                .collect();
            for db in gone {
                let Some(phase) = self.phases.get_mut(&(kind, db.clone())) else {
                    continue;
                };
                let change = phase.step(&rule, dir, None, false, t);
                let quiet = *phase == Phase::Quiet;
                let r = Reading {
                    db: db.clone(),
                    value: f64::NAN,
                    forced: false,
                };
                if let Some(e) = self.event(kind, &rule, change, Some(&r), now) {
                    out.push(e);
                }
                if quiet {
                    self.phases.remove(&(kind, db));
                }
            }
            self.readings = readings;
        }
        out
    }

    fn event(
        &mut self,
        kind: RuleKind,
        rule: &rules::Rule,
        change: Change,
        r: Option<&Reading>,
        now: DateTime<Utc>,
    ) -> Option<NewEvent> {
        let r = r?;
        let db = r.db.as_deref();
        let wave = db
            .and_then(|id| self.facts.state.dbs.get(id))
            .and_then(|d| d.wave);
        let value = r.value.is_finite().then_some(r.value);
        let body = match change {
            Change::None => return None,
            Change::Raise => {
                if kind == RuleKind::LeaseLost {
                    if let Some(l) = &mut self.facts.lease_lost {
                        l.reported = true;
                    }
                }
                Body::AlertRaised(AlertRaised {
                    rule: kind.name().to_string(),
                    value: round(r.value),
                    threshold: rule.threshold,
                    what: kind.words(&self.facts, r, now),
                })
            }
            Change::Clear => {
                let key = (kind.name().to_string(), r.db.clone());
                let raised_seq = self.facts.board.standing.get(&key).map_or(0, |s| s.seq);
                Body::AlertCleared(AlertCleared {
                    rule: kind.name().to_string(),
                    value: value.map(round),
                    threshold: rule.clear,
                    what: match value {
                        Some(_) => kind.words(&self.facts, r, now),
                        None => "back to normal".to_string(),
                    },
                    raised_seq,
                })
            }
        };
        Some(NewEvent::of(db, wave, body, ACTOR))
    }

    /// An operator's `ack_alert` command: the `alert.acked` event to store with its acceptance,
    /// or why it is refused. The alert is the one standing for `args.rule` on the command's
    /// target (its database, or the factory).
    pub fn ack(&self, c: &CommandRow) -> Result<(String, NewEvent), String> {
        let rule = c
            .args
            .get("rule")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                "ack_alert needs args.rule: the rule of the alert to acknowledge".to_string()
            })?;
        if c.role == Role::Viewer {
            return Err(format!(
                "ack_alert blocked: {} is a viewer; acknowledging needs an operator",
                c.who
            ));
        }
        let db = match &c.target {
            Target::Db(id) => Some(id.clone()),
            Target::Factory => None,
            Target::Wave(w) => {
                return Err(format!(
                    "ack_alert applies to one alert (a database or the factory), not to wave {w}"
                ))
            }
        };
        let about = db.as_deref().unwrap_or("the factory");
        let s = self.facts.board.ackable(rule, db.as_deref())?;
        let body = Body::AlertAcked(AlertAcked {
            rule: rule.to_string(),
            by: c.who.clone(),
            command: c.id,
        });
        Ok((
            format!("{rule} alert on {about} acknowledged by {}", c.who),
            NewEvent::of(db.as_deref(), s.wave, body, &c.who),
        ))
    }

    /// Alerts standing now (raised, not cleared), for the cockpit and the metrics.
    pub fn standing(&self) -> usize {
        self.facts.board.standing.len()
    }
}

/// Values in events carry 3 decimals: enough to read, and stable in the evidence.
fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The rules run at most once an engine second and ten times a wall second, first at
    /// once; a clock stepped back does not hold them off.
    #[test]
    fn evaluation_is_due_once_an_engine_second_and_at_most_ten_times_a_second() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 7, 2, 0, 0).unwrap();
        let ms = |n: i64| t0 + chrono::Duration::milliseconds(n);
        for (scale, every_ms) in [(1.0, 1000), (5.0, 200), (60.0, 100), (800.0, 100)] {
            let mut cfg = crate::config::Config::default();
            cfg.engine.time_scale = scale;
            let mut a = Alerter::new(&cfg, t0).expect("alerts are on by default");
            assert!(a.due(t0), "x{scale}: never evaluated");
            a.evaluate(t0, 0, 0);
            assert!(
                !a.due(ms(every_ms - 1)),
                "x{scale}: {every_ms} ms not passed"
            );
            assert!(a.due(ms(every_ms)), "x{scale}: {every_ms} ms passed");
            assert!(a.due(ms(-1)), "x{scale}: the clock went back");
        }
    }
}
