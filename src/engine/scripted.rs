//! A scripted world for the brain: it answers every work and look the way a healthy DRS and
//! healthy checks would (with the lag and reports it is given), so the brain's own events can
//! be produced without a network: cockpit fixtures and property tests read what the real
//! writer writes, not a guess of it. Pure, no I/O.

use super::brain::{Brain, EffectStep, Fail, LookKind, Report, Seen, WorkResult};
use super::classify::ErrorClass;
use crate::drs::model::JobStatus;
use crate::lifecycle::Stage;
use crate::store::NewEvent;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the world answers, and its clocks.
#[derive(Clone, Debug)]
pub struct World {
    /// CDC lag DRS reports.
    pub lag_s: f64,
    /// Reports of the SQL pre-check and validation steps (verdict, summary, detail).
    pub precheck: Report,
    pub validation: Report,
    /// Monotonic seconds and the wall clock, moved by `step_s` each round.
    pub now: f64,
    pub wall: DateTime<Utc>,
    pub step_s: f64,
    /// Databases the world answers differently from a healthy one.
    pub per_db: BTreeMap<String, Answer>,
    /// Jobs terminated so far: DRS reports them released.
    terminated: BTreeSet<String>,
}

/// How the world answers for one database, where it differs from the healthy default.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    /// Full-load percent DRS reports; below 100 the job stays in full load.
    pub pct: Option<f64>,
    /// CDC lag DRS reports, instead of the world's.
    pub lag_s: Option<f64>,
    /// The SQL pre-check and validation reports, instead of the world's.
    pub precheck: Option<Report>,
    pub validation: Option<Report>,
    /// DRS's pre-check never finishes.
    pub precheck_running: bool,
    /// Job looks fail for good with these words (a source lost, say).
    pub look_fails: Option<String>,
    /// Its job is a full load only (FULL_TRANS, an offline database's): done, DRS says
    /// FULL_TRANSFER_COMPLETE where a CDC job goes on to INCRE_TRANSFER_STARTED.
    pub full_only: bool,
}

impl World {
    pub fn new(wall: DateTime<Utc>) -> World {
        let ok = |s: &str| Report {
            passed: true,
            summary: s.into(),
            detail: Value::Null,
        };
        World {
            lag_s: 1.0,
            precheck: ok("all checks passed"),
            validation: ok("0 differences"),
            now: 0.0,
            wall,
            step_s: 60.0,
            per_db: BTreeMap::new(),
            terminated: BTreeSet::new(),
        }
    }

    fn answer(&self, db: &str) -> Answer {
        self.per_db.get(db).cloned().unwrap_or_default()
    }

    fn tick(&mut self) {
        self.now += self.step_s;
        self.wall += Duration::milliseconds((self.step_s * 1000.0) as i64);
    }
}

/// Events with the wall time they were written at (the store stamps them on append).
pub type Written = Vec<(DateTime<Utc>, NewEvent)>;

/// Run rounds until `db` is at `stage` (true) or `rounds` ran out (false); every event the
/// brain writes is added to `out`.
pub fn drive_until(
    brain: &mut Brain,
    w: &mut World,
    db: &str,
    stage: Stage,
    rounds: usize,
    out: &mut Written,
) -> bool {
    for _ in 0..rounds {
        if brain.stage_of(db).map(|p| p.stage) == Some(stage) {
            return true;
        }
        w.tick();
        let plan = brain.tick(w.now, w.wall);
        take(brain, w, out);
        for work in &plan.works {
            let a = w.answer(&work.db);
            if work.step == EffectStep::Terminate {
                w.terminated.insert(work.db.clone());
            }
            let result = WorkResult::Ok {
                job: (work.step == EffectStep::CreateJob).then(|| format!("job-{}", work.db)),
                report: match work.step {
                    EffectStep::SqlPrecheck | EffectStep::ExposureCheck => {
                        Some(a.precheck.unwrap_or_else(|| w.precheck.clone()))
                    }
                    EffectStep::SqlValidate => {
                        Some(a.validation.unwrap_or_else(|| w.validation.clone()))
                    }
                    _ => None,
                },
                recovered: false,
            };
            brain.on_work(work, result, w.now, w.wall);
            take(brain, w, out);
        }
        for look in &plan.looks {
            let at = brain.stage_of(&look.db).map(|p| p.stage);
            let a = w.answer(&look.db);
            let pct = a.pct.unwrap_or(100.0);
            let seen = match look.kind {
                LookKind::Job if a.look_fails.is_some() => Seen::Err(Fail {
                    class: ErrorClass::Fatal,
                    words: a.look_fails.clone().unwrap_or_default(),
                }),
                LookKind::Job => Seen::Job {
                    status: match at {
                        _ if w.terminated.contains(&look.db) => JobStatus::ReleaseResourceComplete,
                        Some(Stage::Prechecks) => JobStatus::Configuration,
                        _ if pct < 100.0 => JobStatus::FullTransferStarted,
                        _ if a.full_only => JobStatus::FullTransferComplete,
                        _ => JobStatus::IncreTransferStarted,
                    },
                    progress_pct: Some(pct),
                    // DRS says -1 until CDC runs.
                    lag_s: Some(if pct < 100.0 {
                        -1.0
                    } else {
                        a.lag_s.unwrap_or(w.lag_s)
                    }),
                },
                LookKind::Precheck | LookKind::Compare => Seen::Report {
                    finished: !(look.kind == LookKind::Precheck && a.precheck_running),
                    report: Report {
                        passed: true,
                        summary: "DRS: passed".into(),
                        detail: Value::Null,
                    },
                },
            };
            brain.on_seen(&look.db, look.kind, seen, w.now, w.wall);
            take(brain, w, out);
        }
    }
    brain.stage_of(db).map(|p| p.stage) == Some(stage)
}

fn take(brain: &mut Brain, w: &World, out: &mut Written) {
    out.extend(brain.take_events().into_iter().map(|e| (w.wall, e)));
}
