//! The program ETA from the pace the store has measured: how many databases finished each
//! phase (full load, validation, cutover) in the last 7 days, and how long one took, from the
//! `db.stage` marks. Never from the plan's constants: with no measured pace there is no ETA.

use super::stages::{effective_stage, stage_pos, StageMark};
use crate::lifecycle::Stage;
use crate::store::model::DbState;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// How far back the pace looks.
pub const PACE_DAYS: i64 = 7;

/// A phase whose pace is measured: from entering one stage to entering the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    FullLoad,
    Validation,
    Cutover,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::FullLoad, Phase::Validation, Phase::Cutover];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::FullLoad => "full load",
            Phase::Validation => "validation",
            Phase::Cutover => "cutover",
        }
    }

    /// (stage entered when the phase starts, stage entered when it is done).
    fn stages(self) -> (Stage, Stage) {
        match self {
            Phase::FullLoad => (Stage::FullLoad, Stage::Cdc),
            Phase::Validation => (Stage::Validation, Stage::Ready),
            Phase::Cutover => (Stage::Cutover, Stage::Hypercare),
        }
    }

    /// Whether database `d` still has this phase ahead of it (or is in it).
    fn ahead_of(self, d: &DbState) -> bool {
        let done = self.stages().1;
        match d.stage {
            // Aborted databases wait for a decision, not for pace.
            Stage::Aborted => false,
            // Rolled back after its data was loaded and checked: only the cutover is to redo.
            Stage::RolledBack => self == Phase::Cutover,
            _ => {
                let s = effective_stage(d);
                stage_pos(s) < stage_pos(done)
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhasePace {
    pub phase: Phase,
    /// Databases that finished the phase inside the pace window.
    pub done: usize,
    /// Median time one database spent in it (entering to leaving), seconds.
    pub median_s: Option<i64>,
    /// Databases per hour over the pace window.
    pub per_hour: Option<f64>,
    /// Databases that still have this phase ahead.
    pub remaining: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pace {
    /// Start of the measured span: 7 days ago, or the first mark if the store is younger.
    pub since: DateTime<Utc>,
    pub span_s: i64,
    /// How it was computed, for people: "at the last 7 days' pace".
    pub basis: String,
    pub phases: Vec<PhasePace>,
    /// When every database should be through its last phase.
    pub eta: Option<DateTime<Utc>>,
    /// The phase that sets the ETA (the slowest to drain).
    pub bottleneck: Option<Phase>,
    /// Why there is no ETA, when there is none.
    pub no_eta: Option<String>,
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    (!v.is_empty()).then(|| v[v.len() / 2])
}

/// `marks` in seq order.
pub fn measure(dbs: &[DbState], marks: &[StageMark], now: DateTime<Utc>) -> Pace {
    let window = now - Duration::days(PACE_DAYS);
    let first = marks.iter().map(|m| m.time).find(|t| *t <= now);
    let since = match first {
        Some(t) if t > window => t,
        _ => window,
    };
    let span_s = (now - since).num_seconds().max(0);
    // Last entry into each phase per database; a retried phase is timed from its last start.
    let mut entered: HashMap<&str, [Option<DateTime<Utc>>; 3]> = HashMap::new();
    let mut durations: [Vec<i64>; 3] = Default::default();
    for m in marks.iter().filter(|m| m.time <= now) {
        for (i, ph) in Phase::ALL.iter().enumerate() {
            let (start, done) = ph.stages();
            if m.to == start {
                entered.entry(m.db_id.as_str()).or_default()[i] = Some(m.time);
            } else if m.to == done && m.time >= since {
                if let Some(t) = entered.get_mut(m.db_id.as_str()).and_then(|e| e[i].take()) {
                    durations[i].push((m.time - t).num_seconds().max(0));
                }
            }
        }
    }
    let hours = span_s as f64 / 3600.0;
    let phases: Vec<PhasePace> = Phase::ALL
        .iter()
        .enumerate()
        .map(|(i, ph)| {
            let done = durations[i].len();
            PhasePace {
                phase: *ph,
                done,
                median_s: median(durations[i].clone()),
                per_hour: (done > 0 && hours > 0.0).then(|| done as f64 / hours),
                remaining: dbs.iter().filter(|d| ph.ahead_of(d)).count(),
            }
        })
        .collect();
    let basis = if since == window {
        format!("at the last {PACE_DAYS} days' pace")
    } else {
        format!(
            "at the pace since {} ({}, the store's first move)",
            since.format("%d %b %H:%M UTC"),
            crate::tui::fmt::dur_long(span_s)
        )
    };
    // Phases run side by side across waves, so the program ends when the slowest phase has
    // drained what it still has ahead: the largest of remaining / rate.
    let mut eta_s: Option<(f64, Phase)> = None;
    let mut no_eta = None;
    for p in phases.iter().filter(|p| p.remaining > 0) {
        match p.per_hour {
            Some(r) => {
                let s = p.remaining as f64 / r * 3600.0;
                if eta_s.is_none_or(|(best, _)| s > best) {
                    eta_s = Some((s, p.phase));
                }
            }
            None => {
                no_eta.get_or_insert_with(|| {
                    format!(
                        "no ETA: no {} finished in the last {PACE_DAYS} days, so there is no pace yet",
                        p.phase.as_str()
                    )
                });
            }
        }
    }
    let all_done = phases.iter().all(|p| p.remaining == 0);
    if all_done {
        no_eta = Some("every database is through cutover".into());
    }
    let (eta, bottleneck) = match (no_eta.is_none(), eta_s) {
        (true, Some((s, ph))) if s.is_finite() && s < 3.0e9 => {
            (Some(now + Duration::seconds(s.ceil() as i64)), Some(ph))
        }
        _ => (None, None),
    };
    Pace {
        since,
        span_s,
        basis,
        phases,
        eta,
        bottleneck,
        no_eta,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{db, mark, t0};
    use super::*;

    #[test]
    fn no_marks_no_eta() {
        let dbs = vec![db("a", 0, Stage::Registered, 1.0)];
        let p = measure(&dbs, &[], t0());
        assert_eq!(p.eta, None);
        assert!(
            p.no_eta
                .as_deref()
                .unwrap()
                .contains("no full load finished"),
            "{:?}",
            p.no_eta
        );
        assert_eq!(p.basis, "at the last 7 days' pace");
    }

    #[test]
    fn the_slowest_phase_to_drain_sets_the_eta() {
        // Two databases went all the way in the last 2 hours; two are still registered.
        let mut marks = Vec::new();
        let mut seq = 0;
        for (id, base) in [("a", 120), ("b", 100)] {
            for (to, off) in [
                (Stage::FullLoad, 0),
                (Stage::Cdc, 30),
                (Stage::Validation, 40),
                (Stage::Ready, 50),
                (Stage::Cutover, 60),
                (Stage::Hypercare, 80),
            ] {
                seq += 1;
                marks.push(mark(seq, base - off, id, to));
            }
        }
        let dbs = vec![
            db("a", 0, Stage::Hypercare, 1.0),
            db("b", 0, Stage::Hypercare, 1.0),
            db("c", 1, Stage::Registered, 1.0),
            db("d", 1, Stage::Ready, 1.0),
        ];
        let p = measure(&dbs, &marks, t0());
        // The store is 2 hours old: the pace is said to be since its first move.
        assert!(
            p.basis
                .starts_with("at the pace since 02 Dec 10:00 UTC (2h00m"),
            "{}",
            p.basis
        );
        let fl = &p.phases[0];
        assert_eq!((fl.done, fl.median_s, fl.remaining), (2, Some(1800), 1));
        assert_eq!(fl.per_hour, Some(1.0));
        let cut = &p.phases[2];
        assert_eq!((cut.done, cut.median_s, cut.remaining), (2, Some(1200), 2));
        // Full load: 1 left at 1/h = 1 h; validation 1 at 1/h; cutover 2 at 1/h = 2 h.
        assert_eq!(p.bottleneck, Some(Phase::Cutover));
        assert_eq!(p.eta, Some(t0() + Duration::hours(2)));
        assert_eq!(p.no_eta, None);

        // A phase with work ahead and no pace: no ETA, and the reason names the phase.
        let p = measure(&dbs, &marks[..3], t0());
        assert_eq!(p.eta, None);
        assert!(p.no_eta.unwrap().contains("no validation finished"));
    }

    #[test]
    fn marks_older_than_the_window_give_no_pace_and_aborted_waits_for_a_decision() {
        let marks = vec![
            mark(1, 9 * 24 * 60, "a", Stage::FullLoad),
            mark(2, 8 * 24 * 60, "a", Stage::Cdc),
        ];
        let dbs = vec![db("a", 0, Stage::Cdc, 1.0), db("x", 0, Stage::Aborted, 1.0)];
        let p = measure(&dbs, &marks, t0());
        assert_eq!(p.basis, "at the last 7 days' pace");
        assert_eq!(p.phases[0].done, 0);
        assert_eq!(p.phases[0].remaining, 0);
        assert_eq!(p.phases[1].remaining, 1);
        assert_eq!(p.eta, None);
    }
}
