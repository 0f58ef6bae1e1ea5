//! A restore test's plan, free of I/O: its steps, the name of its temporary instance, and,
//! from the `step.intent` / `step.outcome` events it wrote, what it must do next. The one rule
//! that matters most: a run that created (or may have created) a temporary instance ends with
//! that instance deleted, whatever happened in between — a failed step, or a crash.
//!
//! Every event of a run carries a [`RunRef`] in its `detail`, so a fold of the log alone
//! (after kill -9, on the next start) finds each run and how far it got.

use crate::store::event::{Body, StepIntent, StepOutcome};
use crate::store::{Event, RestoreBrief, RestoreLast};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The side effects of a restore test, in order. Waiting for the instance is part of
/// `Create`; reading backups is not a side effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RestoreStep {
    /// Restore a backup (or a point in time) to a new, temporary instance, and wait until it
    /// is available.
    Create,
    /// The runbook's smoke tests and row counts on the copy, against the live target.
    Smoke,
    /// Delete the temporary instance.
    Delete,
}

impl RestoreStep {
    pub const ALL: [RestoreStep; 3] =
        [RestoreStep::Create, RestoreStep::Smoke, RestoreStep::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            RestoreStep::Create => "restore.create",
            RestoreStep::Smoke => "restore.smoke",
            RestoreStep::Delete => "restore.delete",
        }
    }

    pub fn parse(s: &str) -> Option<RestoreStep> {
        RestoreStep::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// What the step does, in words (the intent's `does`).
    pub fn describe(self) -> &'static str {
        match self {
            RestoreStep::Create => "restore the backup to a temporary instance and wait for it",
            RestoreStep::Smoke => "run the smoke tests and row counts on the restored copy",
            RestoreStep::Delete => "delete the temporary instance",
        }
    }
}

/// Where a restore is taken from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Point {
    /// The newest finished backup.
    NewestBackup,
    /// A point in time (RDS `restore_time`).
    At { time: DateTime<Utc> },
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Point::NewestBackup => f.write_str("the newest finished backup"),
            Point::At { time } => write!(f, "{}", time.format("%Y-%m-%d %H:%M:%S UTC")),
        }
    }
}

/// Who asked for a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    Command {
        id: i64,
        by: String,
    },
    /// `restore_test.every_days` came round during hypercare.
    Schedule,
}

/// What every event of a run carries in its `detail`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    /// 1 for a database's first run, then 2, 3...
    pub run: u32,
    /// The temporary instance's name ([`instance_name`]); the instance is found by it after
    /// a crash, when its id may never have been written.
    pub instance: String,
    pub point: Point,
    pub origin: Origin,
    /// Set once the restore call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// For a delete after a restart: the run did not finish and has no verdict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl RunRef {
    pub fn read(v: &Option<serde_json::Value>) -> Option<RunRef> {
        v.as_ref()
            .and_then(|v| v.get("run_ref"))
            .and_then(|r| serde_json::from_value(r.clone()).ok())
    }
}

/// RDS instance names: 4 to 64 characters, a letter first, then letters, digits, `-` and `_`
/// (SDK `CreateInstanceRequestBody.name`). `wd-rt-<db_id>-<run>`, the db_id's other
/// characters as `-`, cut so the run number always fits.
pub fn instance_name(db_id: &str, run: u32) -> String {
    let tail = format!("-{run}");
    let clean: String = db_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let room = 64 - "wd-rt-".len() - tail.len();
    let clean: String = clean.chars().take(room).collect();
    format!("wd-rt-{clean}{tail}")
}

/// What the log says of one step of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSeen {
    pub intents: u32,
    pub outcome: Option<StepOutcome>,
    pub at: DateTime<Utc>,
}

/// One restore test as the log tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub db: String,
    pub wave: Option<u32>,
    pub r: RunRef,
    pub started_at: DateTime<Utc>,
    pub steps: BTreeMap<RestoreStep, StepSeen>,
}

/// A run's verdict, once its smoke step has an outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    pub summary: String,
    pub detail: Option<serde_json::Value>,
    /// From the run's first intent to its smoke outcome.
    pub took: Duration,
    pub at: DateTime<Utc>,
}

/// What a run needs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Run this step; `resumed`: its intent is already written (left open by a crash), so
    /// look at the world before acting.
    Step {
        step: RestoreStep,
        attempt: u32,
        resumed: bool,
    },
    /// A step is running (in this process).
    Wait,
    Done,
}

impl Run {
    fn ok(&self, s: RestoreStep) -> Option<bool> {
        self.steps
            .get(&s)
            .and_then(|x| x.outcome.as_ref())
            .map(|o| o.ok)
    }

    fn open(&self, s: RestoreStep) -> bool {
        self.steps
            .get(&s)
            .is_some_and(|x| x.intents > 0 && x.outcome.is_none())
    }

    fn attempts(&self, s: RestoreStep) -> u32 {
        self.steps.get(&s).map_or(0, |x| x.intents)
    }

    /// Finished: the temporary instance is deleted (or was never made).
    pub fn done(&self) -> bool {
        self.ok(RestoreStep::Delete) == Some(true)
    }

    /// The result of the smoke step (a failed restore is a failed test too).
    pub fn verdict(&self) -> Option<Verdict> {
        let (o, at, passed) = [RestoreStep::Smoke, RestoreStep::Create]
            .into_iter()
            .find_map(|s| {
                let x = self.steps.get(&s)?;
                let o = x.outcome.as_ref()?;
                verdict_of(s, o).map(|p| (o, x.at, p))
            })?;
        Some(Verdict {
            passed,
            summary: o
                .summary
                .clone()
                .or_else(|| o.error.clone())
                .unwrap_or_default(),
            detail: o.detail.clone(),
            took: at - self.started_at,
            at,
        })
    }

    /// What comes next. `in_flight`: this process runs one of the run's steps now;
    /// `loaded`: the run was found in the log at start (no step of it runs any more), so an
    /// unfinished test is not carried on: its instance is deleted.
    pub fn next(&self, in_flight: bool, loaded: bool) -> Next {
        use RestoreStep::*;
        if in_flight {
            return Next::Wait;
        }
        if self.done() {
            return Next::Done;
        }
        let delete = |resumed| Next::Step {
            step: Delete,
            attempt: self.attempts(Delete),
            resumed,
        };
        if self.attempts(Delete) > 0 {
            // A delete cut short (its intent is written: resumed) or one that failed (a new
            // attempt). Every delete looks whether the instance is still there first.
            let open = self.open(Delete);
            return Next::Step {
                step: Delete,
                attempt: self.attempts(Delete) - u32::from(open),
                resumed: open,
            };
        }
        if loaded && (self.open(Create) || self.open(Smoke) || self.ok(Smoke).is_none()) {
            return delete(false);
        }
        match (self.ok(Create), self.ok(Smoke)) {
            (None, _) if self.open(Create) => Next::Wait,
            (Some(true), None) if self.open(Smoke) => Next::Wait,
            (Some(true), None) => Next::Step {
                step: Smoke,
                attempt: 0,
                resumed: false,
            },
            // The restore failed (it may have left a half-made instance) or the test has its
            // verdict: delete.
            _ => delete(false),
        }
    }
}

/// Every restore test in the log, per database.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Book {
    runs: BTreeMap<String, Vec<Run>>,
}

impl Book {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Book {
        let mut b = Book::default();
        for e in events {
            b.observe(e);
        }
        b
    }

    /// Take in one event (others than a restore step's are ignored).
    pub fn observe(&mut self, e: &Event) {
        let Some(db) = e.db_id.as_deref() else { return };
        let body = Body::read(&e.kind, &e.payload);
        let (step, r, outcome) = match &body {
            Body::StepIntent(i) => match (RestoreStep::parse(&i.step), RunRef::read(&i.detail)) {
                (Some(s), Some(r)) => (s, r, None),
                _ => return,
            },
            Body::StepOutcome(o) => match (RestoreStep::parse(&o.step), RunRef::read(&o.detail)) {
                (Some(s), Some(r)) => (s, r, Some(o.clone())),
                _ => return,
            },
            _ => return,
        };
        let runs = self.runs.entry(db.to_string()).or_default();
        let run = match runs.iter().position(|x| x.r.run == r.run) {
            Some(i) => &mut runs[i],
            None => {
                runs.push(Run {
                    db: db.to_string(),
                    wave: e.wave,
                    r: r.clone(),
                    started_at: e.time,
                    steps: BTreeMap::new(),
                });
                runs.last_mut().expect("just pushed")
            }
        };
        if r.instance_id.is_some() {
            run.r.instance_id = r.instance_id.clone();
        }
        if r.backup_id.is_some() {
            run.r.backup_id = r.backup_id.clone();
        }
        let seen = run.steps.entry(step).or_insert(StepSeen {
            intents: 0,
            outcome: None,
            at: e.time,
        });
        seen.at = e.time;
        match outcome {
            None => {
                seen.intents += 1;
                seen.outcome = None;
            }
            Some(o) => seen.outcome = Some(o),
        }
    }

    pub fn runs(&self, db: &str) -> &[Run] {
        self.runs.get(db).map_or(&[], Vec::as_slice)
    }

    pub fn all(&self) -> impl Iterator<Item = &Run> {
        self.runs.values().flatten()
    }

    /// The run that is not finished, if any (one at a time per database).
    pub fn active(&self, db: &str) -> Option<&Run> {
        self.runs(db).iter().find(|r| !r.done())
    }

    /// The last run with a verdict.
    pub fn last(&self, db: &str) -> Option<(&Run, Verdict)> {
        self.runs(db)
            .iter()
            .rev()
            .find_map(|r| r.verdict().map(|v| (r, v)))
    }

    /// The last passed test at or after `since` (hypercare's start), for the close guard.
    pub fn passed_since(&self, db: &str, since: DateTime<Utc>) -> Option<Verdict> {
        self.runs(db)
            .iter()
            .rev()
            .filter_map(Run::verdict)
            .find(|v| v.passed && v.at >= since)
    }

    /// The number the next run of `db` gets.
    pub fn next_run(&self, db: &str) -> u32 {
        self.runs(db).iter().map(|r| r.r.run).max().unwrap_or(0) + 1
    }
}

/// Whether an outcome gives its run a verdict, and which: the smoke step's, or a restore
/// that failed (the copy was never made: a failed test too).
fn verdict_of(step: RestoreStep, o: &StepOutcome) -> Option<bool> {
    match step {
        RestoreStep::Smoke => Some(o.ok && o.passed == Some(true)),
        RestoreStep::Create if !o.ok => Some(false),
        _ => None,
    }
}

/// Fold one event of a restore test into a database's [`RestoreBrief`] (the store's fold does,
/// for the Databases view): the same verdict and the same "not finished until its instance is
/// deleted" as [`Run`], from the events one at a time.
pub fn brief(b: &mut RestoreBrief, time: DateTime<Utc>, body: &Body) {
    let (step, r, outcome) = match body {
        Body::StepIntent(i) => (RestoreStep::parse(&i.step), RunRef::read(&i.detail), None),
        Body::StepOutcome(o) => (
            RestoreStep::parse(&o.step),
            RunRef::read(&o.detail),
            Some(o),
        ),
        _ => return,
    };
    let (Some(step), Some(r)) = (step, r) else {
        return;
    };
    let since = match b.running {
        Some((run, since)) if run == r.run => since,
        _ => time,
    };
    b.running = Some((r.run, since));
    let Some(o) = outcome else { return };
    if let Some(passed) = verdict_of(step, o) {
        b.last = Some(RestoreLast {
            run: r.run,
            passed,
            at: time,
            took_s: (time - since).num_seconds(),
        });
    }
    if step == RestoreStep::Delete && o.ok {
        b.running = None;
    }
}

/// A passed smoke step: what the close-hypercare guard waits for.
pub fn passed_smoke(o: &StepOutcome) -> bool {
    o.step == RestoreStep::Smoke.as_str() && o.ok && o.passed == Some(true)
}

/// Whether a scheduled test is due: in hypercare since `since`, every `every_days` from the
/// later of `since` and the last run's start. `every_days` 0 turns the schedule off.
pub fn due(
    since: DateTime<Utc>,
    last_started: Option<DateTime<Utc>>,
    every_days: u32,
    now: DateTime<Utc>,
) -> bool {
    if every_days == 0 {
        return false;
    }
    let from = last_started.map_or(since, |l| l.max(since));
    now - from >= Duration::days(i64::from(every_days))
}

/// The intent event of a step.
pub fn intent(run: &Run, step: RestoreStep, attempt: u32) -> StepIntent {
    intent_for(&run.r, step, attempt)
}

pub fn intent_for(r: &RunRef, step: RestoreStep, attempt: u32) -> StepIntent {
    StepIntent {
        step: step.as_str().to_string(),
        attempt,
        stage: None,
        drs_job_id: None,
        does: Some(step.describe().to_string()),
        blockers: Vec::new(),
        detail: Some(serde_json::json!({ "run_ref": r })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewEvent;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn stored(seq: i64, e: NewEvent) -> Event {
        Event {
            seq,
            time: at(seq),
            db_id: e.db_id,
            wave: e.wave,
            kind: e.kind,
            payload: e.payload,
            actor: e.actor,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn rr() -> RunRef {
        RunRef {
            run: 1,
            instance: instance_name("hr", 1),
            point: Point::NewestBackup,
            origin: Origin::Schedule,
            instance_id: None,
            backup_id: None,
            interrupted: false,
        }
    }

    struct Log(Vec<Event>);
    impl Log {
        fn intent(&mut self, s: RestoreStep, attempt: u32) -> &mut Log {
            let e = NewEvent::of(
                Some("hr"),
                Some(0),
                Body::StepIntent(intent_for(&rr(), s, attempt)),
                "engine",
            );
            let n = self.0.len() as i64 + 1;
            self.0.push(stored(n, e));
            self
        }
        fn outcome(&mut self, s: RestoreStep, ok: bool, passed: Option<bool>) -> &mut Log {
            let mut o = StepOutcome::ok(s.as_str(), 0);
            o.ok = ok;
            o.passed = passed;
            o.detail = Some(serde_json::json!({ "run_ref": rr() }));
            let e = NewEvent::of(Some("hr"), Some(0), Body::StepOutcome(o), "engine");
            let n = self.0.len() as i64 + 1;
            self.0.push(stored(n, e));
            self
        }
        fn run(&self) -> Run {
            Book::from_events(&self.0).runs("hr")[0].clone()
        }
    }

    use RestoreStep::*;

    fn step(step: RestoreStep, attempt: u32, resumed: bool) -> Next {
        Next::Step {
            step,
            attempt,
            resumed,
        }
    }

    #[test]
    fn a_live_run_goes_create_smoke_delete() {
        let mut l = Log(vec![]);
        l.intent(Create, 0);
        assert_eq!(l.run().next(false, false), Next::Wait);
        l.outcome(Create, true, None);
        assert_eq!(l.run().next(false, false), step(Smoke, 0, false));
        l.intent(Smoke, 0).outcome(Smoke, true, Some(true));
        assert_eq!(l.run().next(false, false), step(Delete, 0, false));
        assert!(l.run().verdict().unwrap().passed);
        l.intent(Delete, 0).outcome(Delete, true, None);
        assert_eq!(l.run().next(false, false), Next::Done);
        assert!(Book::from_events(&l.0).active("hr").is_none());
    }

    /// The fold's brief, one event at a time, says what the whole log's [`Book`] says after
    /// every event: the same last verdict (passed, when, how long) and the same run under way.
    #[test]
    fn the_brief_agrees_with_the_book_after_every_event() {
        let mut logs = Vec::new();
        let mut l = Log(vec![]);
        l.intent(Create, 0).outcome(Create, true, None);
        l.intent(Smoke, 0).outcome(Smoke, true, Some(true));
        l.intent(Delete, 0).outcome(Delete, false, None);
        l.intent(Delete, 1).outcome(Delete, true, None);
        logs.push(l);
        let mut l = Log(vec![]);
        l.intent(Create, 0).outcome(Create, false, None);
        l.intent(Delete, 0).outcome(Delete, true, None);
        logs.push(l);
        let mut l = Log(vec![]);
        l.intent(Create, 0).outcome(Create, true, None);
        l.intent(Smoke, 0).outcome(Smoke, true, Some(false));
        logs.push(l);
        // A crash during the smoke tests: deleted on the next start, no verdict.
        let mut l = Log(vec![]);
        l.intent(Create, 0)
            .outcome(Create, true, None)
            .intent(Smoke, 0);
        l.intent(Delete, 0).outcome(Delete, true, None);
        logs.push(l);
        for l in logs {
            let mut b = RestoreBrief::default();
            for n in 1..=l.0.len() {
                let e = &l.0[n - 1];
                brief(&mut b, e.time, &Body::read(&e.kind, &e.payload));
                let book = Book::from_events(&l.0[..n]);
                let want = book.last("hr").map(|(r, v)| RestoreLast {
                    run: r.r.run,
                    passed: v.passed,
                    at: v.at,
                    took_s: v.took.num_seconds(),
                });
                assert_eq!(b.last, want, "after event {n}");
                let active = book.active("hr").map(|r| (r.r.run, r.started_at));
                assert_eq!(b.running, active, "after event {n}");
            }
        }
    }

    #[test]
    fn a_failed_restore_or_smoke_test_still_deletes() {
        let mut l = Log(vec![]);
        l.intent(Create, 0).outcome(Create, false, None);
        assert_eq!(l.run().next(false, false), step(Delete, 0, false));
        assert!(!l.run().verdict().unwrap().passed);
        let mut l = Log(vec![]);
        l.intent(Create, 0).outcome(Create, true, None);
        l.intent(Smoke, 0).outcome(Smoke, true, Some(false));
        assert_eq!(l.run().next(false, false), step(Delete, 0, false));
        assert!(!l.run().verdict().unwrap().passed);
    }

    #[test]
    fn after_a_crash_every_unfinished_run_is_deleted_once() {
        // Crash during the restore, after it, and during the smoke tests: delete, no verdict.
        for cut in 1..=4 {
            let mut l = Log(vec![]);
            l.intent(Create, 0);
            if cut >= 2 {
                l.outcome(Create, true, None);
            }
            if cut >= 3 {
                l.intent(Smoke, 0);
            }
            if cut >= 4 {
                l.outcome(Smoke, true, Some(true));
            }
            assert_eq!(
                l.run().next(false, true),
                step(Delete, 0, false),
                "cut {cut}"
            );
        }
        // Crash during the delete: look first (resumed), same attempt.
        let mut l = Log(vec![]);
        l.intent(Create, 0)
            .outcome(Create, true, None)
            .intent(Delete, 0);
        assert_eq!(l.run().next(false, true), step(Delete, 0, true));
        // A delete that failed: again, next attempt, looking first.
        l.outcome(Delete, false, None);
        assert_eq!(l.run().next(false, false), step(Delete, 1, false));
        l.intent(Delete, 1).outcome(Delete, true, None);
        assert_eq!(l.run().next(false, true), Next::Done);
    }

    #[test]
    fn instance_names_fit_rds() {
        assert_eq!(instance_name("pilot-pg-hr", 3), "wd-rt-pilot-pg-hr-3");
        assert_eq!(instance_name("a.b/c d", 1), "wd-rt-a-b-c-d-1");
        let long = instance_name(&"x".repeat(200), 12345);
        assert_eq!(long.len(), 64);
        assert!(long.ends_with("-12345"));
    }

    #[test]
    fn the_schedule_counts_from_hypercare_or_the_last_run() {
        let day = 86_400;
        assert!(!due(at(0), None, 7, at(6 * day)));
        assert!(due(at(0), None, 7, at(7 * day)));
        assert!(!due(at(0), Some(at(5 * day)), 7, at(8 * day)));
        assert!(due(at(0), Some(at(5 * day)), 7, at(12 * day)));
        // A run before hypercare began does not count.
        assert!(due(at(10 * day), Some(at(0)), 7, at(17 * day)));
        assert!(!due(at(0), None, 0, at(100 * day)));
    }

    #[test]
    fn passed_since_hypercare_only() {
        let mut l = Log(vec![]);
        l.intent(Create, 0).outcome(Create, true, None);
        l.intent(Smoke, 0).outcome(Smoke, true, Some(true));
        let b = Book::from_events(&l.0);
        assert!(b.passed_since("hr", at(0)).is_some());
        assert!(b.passed_since("hr", at(100)).is_none());
        assert_eq!(b.next_run("hr"), 2);
        assert_eq!(b.next_run("other"), 1);
    }
}
