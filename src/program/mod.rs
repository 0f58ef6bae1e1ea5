//! The whole factory at a glance, for the lead: progress by stage across every wave, data moved
//! and validated, failures over the last day, the calendar of windows, and a program ETA from the
//! pace the store has measured. Pure: states, waves and stage marks in, figures out; the cockpit
//! and `wavedeck status --program` draw the same figures.

pub mod calendar;
pub mod pace;
pub mod report;
pub mod stages;

pub use stages::{effective_stage, stage_pos, StageMark};

use crate::lifecycle::Stage;
use crate::store::model::{DbState, WaveState, WaveStatus};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// Whether the database has passed `stage` on the main path (registered .. completed).
fn reached(s: Stage, stage: Stage) -> bool {
    let main = |x: Stage| stage_pos(x) <= stage_pos(Stage::Completed);
    let s = stages::data_stage(s);
    main(s) && stage_pos(s) >= stage_pos(stage)
}

/// The headline figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    pub databases: usize,
    /// Databases by stage, in `Stage::ALL` order.
    #[serde(skip)]
    pub by_stage: [usize; Stage::COUNT],
    /// The same by stage name, only stages with databases (for scripts).
    pub stages: std::collections::BTreeMap<&'static str, usize>,
    pub total_gb: f64,
    /// Loaded by DRS: databases past full load, plus the loaded share of those in it.
    pub moved_gb: f64,
    /// Passed the validation gate (at `ready` or later).
    pub validated_gb: f64,
    pub completed: usize,
    /// Databases failed now.
    pub failed_now: usize,
    /// Databases that entered `failed` in the last 24 h.
    pub failures_24h: usize,
    /// Databases with any stage change in the last 24 h: the denominator of the error rate.
    pub active_24h: usize,
}

impl Progress {
    /// Failures over databases that moved in the last 24 h, as a fraction; `None` when nothing
    /// moved (a rate over zero would be a made-up figure).
    pub fn error_rate_24h(&self) -> Option<f64> {
        (self.active_24h > 0).then(|| self.failures_24h as f64 / self.active_24h as f64)
    }

    /// Counts by stage name, only stages with at least one database (for JSON and text).
    pub fn stage_counts(&self) -> Vec<(Stage, usize)> {
        Stage::ALL
            .iter()
            .zip(self.by_stage)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (*s, n))
            .collect()
    }
}

pub fn progress(dbs: &[DbState], marks: &[StageMark], now: DateTime<Utc>) -> Progress {
    let mut p = Progress {
        databases: dbs.len(),
        by_stage: [0; Stage::COUNT],
        stages: Default::default(),
        total_gb: 0.0,
        moved_gb: 0.0,
        validated_gb: 0.0,
        completed: 0,
        failed_now: 0,
        failures_24h: 0,
        active_24h: 0,
    };
    for d in dbs {
        p.by_stage[stage_pos(d.stage)] += 1;
        let gb = if d.size_gb.is_finite() && d.size_gb > 0.0 {
            d.size_gb
        } else {
            0.0
        };
        p.total_gb += gb;
        let eff = effective_stage(d);
        if reached(eff, Stage::Cdc) || (d.stage == Stage::RolledBack) {
            p.moved_gb += gb;
        } else if eff == Stage::FullLoad {
            p.moved_gb += gb * (d.progress_pct / 100.0).clamp(0.0, 1.0);
        }
        if reached(eff, Stage::Ready) {
            p.validated_gb += gb;
        }
        match d.stage {
            Stage::Completed => p.completed += 1,
            Stage::Failed => p.failed_now += 1,
            _ => {}
        }
    }
    p.stages = p
        .stage_counts()
        .into_iter()
        .map(|(s, n)| (s.as_str(), n))
        .collect();
    let since = now - Duration::hours(24);
    // Marks are in seq order, which is time order: walk back from the newest.
    let mut failed: Vec<&str> = Vec::new();
    let mut active: Vec<&str> = Vec::new();
    for m in marks.iter().rev() {
        if m.time <= since {
            break;
        }
        if m.time > now {
            continue;
        }
        active.push(m.db_id.as_str());
        if m.to == Stage::Failed {
            failed.push(m.db_id.as_str());
        }
    }
    for v in [&mut failed, &mut active] {
        v.sort_unstable();
        v.dedup();
    }
    p.failures_24h = failed.len();
    p.active_24h = active.len();
    p
}

/// Waves by where they are ([`WaveState::status`]): done (its `wave.done` written), running
/// (started), planned (not started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WaveCounts {
    pub done: usize,
    pub running: usize,
    pub planned: usize,
}

pub fn wave_counts(waves: &[WaveState]) -> WaveCounts {
    let mut c = WaveCounts::default();
    for w in waves {
        match w.status() {
            WaveStatus::Done => c.done += 1,
            WaveStatus::Running => c.running += 1,
            WaveStatus::Planned => c.planned += 1,
        }
    }
    c
}

/// Everything the Program view and `status --program` show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Program {
    pub now: DateTime<Utc>,
    pub progress: Progress,
    pub waves: WaveCounts,
    pub pace: pace::Pace,
    pub calendar: calendar::Calendar,
    /// Failures over databases that moved in the last 24 h (`null` when nothing moved).
    pub error_rate_24h: Option<f64>,
    /// Alert rules do not exist yet: always empty, and shown as nothing rather than faked.
    pub alerts: Vec<String>,
}

/// `marks` must be in seq order (as the store hands them out).
pub fn build(
    dbs: &[DbState],
    waves: &[WaveState],
    marks: &[StageMark],
    now: DateTime<Utc>,
) -> Program {
    let progress = progress(dbs, marks, now);
    Program {
        now,
        error_rate_24h: progress.error_rate_24h(),
        progress,
        waves: wave_counts(waves),
        pace: pace::measure(dbs, marks, now),
        calendar: calendar::build(dbs, waves, now, calendar::DAYS),
        alerts: Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::inventory::{Criticality, Engine};
    use chrono::TimeZone;

    pub fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap()
    }

    pub fn db(id: &str, wave: u32, stage: Stage, gb: f64) -> DbState {
        DbState {
            db_id: id.into(),
            wave: Some(wave),
            engine: Engine::Postgres,
            size_gb: gb,
            owner: "team-a".into(),
            criticality: Criticality::Low,
            stage,
            held_stage: None,
            stage_since: t0(),
            progress_pct: 0.0,
            lag_s: None,
            validation: None,
            precheck: None,
            drs_job_id: None,
            last_error: None,
            last_event_at: t0(),
            attempts: 0,
            max_lag_s: None,
            business_window: String::new(),
            signoff: Default::default(),
            restore_passed_at: None,
            restore_test: Default::default(),
            mode: Default::default(),
        }
    }

    pub fn mark(seq: i64, mins_ago: i64, id: &str, to: Stage) -> StageMark {
        StageMark {
            seq,
            time: t0() - Duration::minutes(mins_ago),
            db_id: id.into(),
            to,
        }
    }

    #[test]
    fn progress_counts_moved_and_validated_data_and_the_day_failures() {
        let mut loading = db("b", 0, Stage::FullLoad, 100.0);
        loading.progress_pct = 25.0;
        let mut failed = db("c", 0, Stage::Failed, 10.0);
        failed.held_stage = Some(Stage::Validation);
        let dbs = vec![
            db("a", 0, Stage::Completed, 50.0),
            loading,
            failed,
            db("d", 1, Stage::Registered, 40.0),
            db("e", 1, Stage::Ready, 1.0),
        ];
        let marks = vec![
            // 2 days ago: outside the 24 h.
            mark(1, 48 * 60, "d", Stage::Failed),
            mark(2, 60, "c", Stage::Validation),
            mark(3, 30, "c", Stage::Failed),
            mark(4, 20, "e", Stage::Ready),
        ];
        let p = progress(&dbs, &marks, t0());
        assert_eq!(p.databases, 5);
        assert_eq!(p.completed, 1);
        assert_eq!(p.failed_now, 1);
        assert_eq!(p.by_stage[stage_pos(Stage::Failed)], 1);
        assert_eq!(p.total_gb, 201.0);
        // a 50 + b a quarter of 100 + c (failed in validation: loaded) 10 + e 1.
        assert_eq!(p.moved_gb, 86.0);
        // Past the gate: a and e only; c failed before it.
        assert_eq!(p.validated_gb, 51.0);
        assert_eq!((p.failures_24h, p.active_24h), (1, 2));
        assert_eq!(p.error_rate_24h(), Some(0.5));
        let waves: Vec<WaveState> = (0..3)
            .map(|n| WaveState {
                wave: n,
                window: String::new(),
                approved_by: None,
                approved_at: None,
                started_at: (n == 0).then(t0),
                done: (n == 2).then(|| crate::store::model::WaveEnd {
                    at: t0(),
                    members: 1,
                    completed: 0,
                    aborted: 1,
                    rolled_back: 0,
                }),
            })
            .collect();
        // Wave 0 started with databases behind; wave 1 not started; wave 2 done.
        assert_eq!(
            wave_counts(&waves),
            WaveCounts {
                done: 1,
                running: 1,
                planned: 1
            }
        );
        let quiet = progress(&dbs, &[], t0());
        assert_eq!(quiet.error_rate_24h(), None);
        assert_eq!(
            p.stage_counts()
                .iter()
                .map(|(s, n)| format!("{} {n}", s.as_str()))
                .collect::<Vec<_>>(),
            [
                "registered 1",
                "full_load 1",
                "ready 1",
                "completed 1",
                "failed 1"
            ]
        );
    }
}
