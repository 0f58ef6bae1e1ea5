//! The engine's restore tests, free of I/O, as the alert rules are: loaded from the log, fed
//! what the store appended, asked each round what to do. It decides `restore_test` commands,
//! starts scheduled runs during hypercare (`restore_test.every_days`), and hands the driver
//! each step as a [`RestoreWork`] whose intent event is appended before it runs; the driver
//! runs it ([`super::run`]) and gives the outcome back.
//!
//! A step stays "in flight" until its outcome is *stored* (seen by [`Tester::observe`]), so a
//! round between the result and the flush never starts it twice. After a restart (`load`),
//! every run that did not finish is deleted, never carried on.

use super::plan::{intent_for, Book, Next, Origin, Point, RestoreStep, Run, RunRef};
use crate::lifecycle::Stage;
use crate::store::event::{Body, StepOutcome};
use crate::store::{CommandRow, Event, NewEvent, Role, Target};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The actor of restore-test events: the engine.
const ACTOR: &str = "engine";

/// A step for the driver to run.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoreWork {
    pub db: String,
    pub wave: Option<u32>,
    pub step: RestoreStep,
    pub attempt: u32,
    /// Its intent was written before a restart (no new intent). Deletes look whether the
    /// instance is still there first, always.
    pub resumed: bool,
    pub r: RunRef,
}

impl RestoreWork {
    /// The outcome event of this work.
    pub fn outcome(&self, o: StepOutcome) -> NewEvent {
        NewEvent::of(Some(&self.db), self.wave, Body::StepOutcome(o), ACTOR)
    }
}

#[derive(Clone, Debug)]
struct DbFacts {
    wave: Option<u32>,
    stage: Stage,
    since: DateTime<Utc>,
}

pub struct Tester {
    book: Book,
    every_days: u32,
    /// (db, run) whose step runs now.
    in_flight: BTreeSet<(String, u32)>,
    /// Runs found unfinished at load: deleted, not carried on.
    loaded: BTreeSet<(String, u32)>,
    stages: BTreeMap<String, DbFacts>,
    /// Works whose intents are in events handed out and not yet launched.
    ready: Vec<RestoreWork>,
    /// When a failed delete may be tried again (db, run) -> time.
    not_before: BTreeMap<(String, u32), DateTime<Utc>>,
}

/// Seconds between tries of a delete that failed.
const DELETE_RETRY_S: i64 = 30;

impl Tester {
    pub fn new(every_days: u32) -> Tester {
        Tester {
            book: Book::default(),
            every_days,
            in_flight: BTreeSet::new(),
            loaded: BTreeSet::new(),
            stages: BTreeMap::new(),
            ready: Vec::new(),
            not_before: BTreeMap::new(),
        }
    }

    /// The log as it is at start.
    pub fn load(&mut self, events: &[Event]) {
        for e in events {
            self.observe_one(e);
        }
        self.loaded = self
            .book
            .all()
            .filter(|r| !r.done())
            .map(|r| (r.db.clone(), r.r.run))
            .collect();
    }

    pub fn book(&self) -> &Book {
        &self.book
    }

    /// Take in what the store appended (the tester's own events among them).
    pub fn observe(&mut self, stored: &[Event]) {
        for e in stored {
            self.observe_one(e);
        }
    }

    fn observe_one(&mut self, e: &Event) {
        if let (Some(db), Body::Stage(s)) = (e.db_id.as_deref(), Body::read(&e.kind, &e.payload)) {
            self.stages.insert(
                db.to_string(),
                DbFacts {
                    wave: e.wave,
                    stage: s.to,
                    since: e.time,
                },
            );
            return;
        }
        if e.kind != crate::store::kind::STEP_OUTCOME && e.kind != crate::store::kind::STEP_INTENT {
            return;
        }
        self.book.observe(e);
        if let (Some(db), Body::StepOutcome(o)) =
            (e.db_id.as_deref(), Body::read(&e.kind, &e.payload))
        {
            if let (Some(step), Some(r)) = (
                RestoreStep::parse(&o.step),
                super::plan::RunRef::read(&o.detail),
            ) {
                self.in_flight.remove(&(db.to_string(), r.run));
                if step == RestoreStep::Delete && !o.ok {
                    self.not_before.insert(
                        (db.to_string(), r.run),
                        e.time + chrono::Duration::seconds(DELETE_RETRY_S),
                    );
                }
            }
        }
    }

    /// When the database entered the stage it is in, and which.
    pub fn stage(&self, db: &str) -> Option<(Stage, DateTime<Utc>)> {
        self.stages.get(db).map(|f| (f.stage, f.since))
    }

    fn start(&mut self, db: &str, point: Point, origin: Origin) -> NewEvent {
        let wave = self.stages.get(db).and_then(|f| f.wave);
        let r = RunRef {
            run: self.book.next_run(db),
            instance: super::plan::instance_name(db, self.book.next_run(db)),
            point,
            origin,
            instance_id: None,
            backup_id: None,
            interrupted: false,
        };
        self.in_flight.insert((db.to_string(), r.run));
        let ev = NewEvent::of(
            Some(db),
            wave,
            Body::StepIntent(intent_for(&r, RestoreStep::Create, 0)),
            ACTOR,
        );
        self.ready.push(RestoreWork {
            db: db.to_string(),
            wave,
            step: RestoreStep::Create,
            attempt: 0,
            resumed: false,
            r,
        });
        ev
    }

    /// A `restore_test` command (`args.at`: a point in time, RFC 3339): the sentence for the
    /// command row and the run's first intent, or why not.
    pub fn decide(&mut self, c: &CommandRow) -> Result<(String, Vec<NewEvent>), String> {
        let Target::Db(db) = &c.target else {
            return Err("a restore test is run for one database: give its db_id".into());
        };
        if c.role != Role::Operator {
            return Err(format!(
                "{} is a viewer: only an operator can run a restore test",
                c.who
            ));
        }
        let point = match c.args.get("at").and_then(|v| v.as_str()) {
            None => Point::NewestBackup,
            Some(t) => match DateTime::parse_from_rfc3339(t) {
                Ok(t) => Point::At {
                    time: t.with_timezone(&Utc),
                },
                Err(e) => {
                    return Err(format!(
                        "--at {t:?} is not a time ({e}); give it as 2026-12-01T02:00:00Z"
                    ))
                }
            },
        };
        let guards = start_guards(
            self.stage(db).map(|s| s.0),
            self.book.active(db).map(|r| r.r.run),
            db,
        );
        if let Some(why) = guards {
            return Err(why);
        }
        let ev = self.start(
            db,
            point.clone(),
            Origin::Command {
                id: c.id,
                by: c.who.clone(),
            },
        );
        Ok((
            format!("restore test of {db} from {point} started"),
            vec![ev],
        ))
    }

    /// One round: scheduled runs that are due, and the next step of every unfinished run.
    /// The events (intents) must be appended before the works run.
    pub fn tick(&mut self, now: DateTime<Utc>) -> (Vec<NewEvent>, Vec<RestoreWork>) {
        let mut events = Vec::new();
        let due: Vec<String> = self
            .stages
            .iter()
            .filter(|(db, f)| {
                f.stage == Stage::Hypercare
                    && self.book.active(db).is_none()
                    && super::plan::due(
                        f.since,
                        self.book.runs(db).last().map(|r| r.started_at),
                        self.every_days,
                        now,
                    )
            })
            .map(|(db, _)| db.clone())
            .collect();
        for db in due {
            events.push(self.start(&db, Point::NewestBackup, Origin::Schedule));
        }
        let runs: Vec<Run> = self.book.all().filter(|r| !r.done()).cloned().collect();
        for run in runs {
            let key = (run.db.clone(), run.r.run);
            if self
                .ready
                .iter()
                .any(|w| w.db == run.db && w.r.run == run.r.run)
            {
                continue;
            }
            if self.not_before.get(&key).is_some_and(|t| now < *t) {
                continue;
            }
            let loaded = self.loaded.contains(&key);
            let Next::Step {
                step,
                attempt,
                resumed,
            } = run.next(self.in_flight.contains(&key), loaded)
            else {
                continue;
            };
            let mut r = run.r.clone();
            r.interrupted = loaded && step == RestoreStep::Delete && run.verdict().is_none();
            if !resumed {
                events.push(NewEvent::of(
                    Some(&run.db),
                    run.wave,
                    Body::StepIntent(intent_for(&r, step, attempt)),
                    ACTOR,
                ));
            }
            self.in_flight.insert(key);
            self.ready.push(RestoreWork {
                db: run.db.clone(),
                wave: run.wave,
                step,
                attempt,
                resumed,
                r,
            });
        }
        (events, std::mem::take(&mut self.ready))
    }

    /// Works started by [`Tester::decide`] (their intents went with the command's decision).
    pub fn take_ready(&mut self) -> Vec<RestoreWork> {
        std::mem::take(&mut self.ready)
    }

    /// Whether nothing runs and nothing waits (for `idle`).
    pub fn idle(&self) -> bool {
        self.in_flight.is_empty() && self.ready.is_empty() && self.book.all().all(Run::done)
    }
}

/// Whether the target is the live database (hypercare or completed): before, it holds no
/// data of its own, so there is nothing to restore-test.
pub fn target_live(stage: Stage) -> bool {
    matches!(stage, Stage::Hypercare | Stage::Completed)
}

/// Why a restore test cannot start now, or `None`. A test needs the target to be the live
/// database ([`target_live`]) and no other run of it unfinished (`active`: its number).
pub fn start_guards(stage: Option<Stage>, active: Option<u32>, db: &str) -> Option<String> {
    match stage {
        None => return Some(format!("{db} is not in the store (run wavedeck init)")),
        Some(s) if target_live(s) => {}
        Some(s) => {
            return Some(format!(
                "{db} is in {}: a restore test restores the target's backups, so it runs once the target is live (hypercare or completed)",
                s.as_str()
            ))
        }
    }
    active.map(|run| {
        format!(
            "restore test {run} of {db} is not finished yet (its instance {} is deleted first)",
            super::plan::instance_name(db, run)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::event::StageChanged;
    use crate::store::CommandStatus;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    /// Stores events as the store does: seq and time.
    struct Log {
        events: Vec<Event>,
        clock: i64,
    }
    impl Log {
        fn put(&mut self, evs: Vec<NewEvent>) -> Vec<Event> {
            let out: Vec<Event> = evs
                .into_iter()
                .map(|e| {
                    self.clock += 1;
                    Event {
                        seq: self.events.len() as i64 + 1,
                        time: t(self.clock),
                        db_id: e.db_id,
                        wave: e.wave,
                        kind: e.kind,
                        payload: e.payload,
                        actor: e.actor,
                        prev_hash: String::new(),
                        hash: String::new(),
                    }
                })
                .collect();
            self.events.extend(out.clone());
            out
        }
    }

    fn hypercare(db: &str) -> NewEvent {
        NewEvent::of(
            Some(db),
            Some(0),
            Body::Stage(StageChanged {
                from: Some(Stage::Cutover),
                to: Stage::Hypercare,
                trigger: None,
                reason: String::new(),
                held: None,
                error: None,
                by: None,
                outage_s: None,
            }),
            "engine",
        )
    }

    fn cmd(role: Role, target: Target) -> CommandRow {
        CommandRow {
            id: 7,
            time: t(0),
            who: "opr".into(),
            role,
            action: crate::store::Action::RestoreTest,
            target,
            args: serde_json::json!({}),
            status: CommandStatus::Pending,
            reason: None,
            decided_at: None,
        }
    }

    fn finish(w: &RestoreWork, ok: bool, passed: Option<bool>) -> NewEvent {
        let mut o = StepOutcome::ok(w.step.as_str(), w.attempt);
        o.ok = ok;
        o.passed = passed;
        o.detail = Some(serde_json::json!({ "run_ref": w.r }));
        w.outcome(o)
    }

    /// A tester that has seen `hr` reach hypercare, and the log that holds it.
    fn in_hypercare() -> (Log, Tester) {
        let mut log = Log {
            events: vec![],
            clock: 0,
        };
        let mut x = Tester::new(7);
        x.observe(&log.put(vec![hypercare("hr")]));
        (log, x)
    }

    /// [`in_hypercare`], with an operator's restore test of `hr` accepted and stored.
    fn asked() -> (Log, Tester) {
        let (mut log, mut x) = in_hypercare();
        let (_, evs) = x
            .decide(&cmd(Role::Operator, Target::Db("hr".into())))
            .unwrap();
        x.observe(&log.put(evs));
        (log, x)
    }

    #[test]
    fn a_command_runs_one_test_to_the_end_and_never_twice_at_once() {
        let (mut log, mut x) = in_hypercare();
        assert!(x
            .decide(&cmd(Role::Viewer, Target::Db("hr".into())))
            .unwrap_err()
            .contains("viewer"));
        assert!(x
            .decide(&cmd(Role::Operator, Target::Db("xx".into())))
            .unwrap_err()
            .contains("not in the store"));
        let (said, evs) = x
            .decide(&cmd(Role::Operator, Target::Db("hr".into())))
            .unwrap();
        assert!(said.contains("newest finished backup"), "{said}");
        let stored = log.put(evs);
        x.observe(&stored);
        let works = x.take_ready();
        assert_eq!(works.len(), 1);
        assert_eq!(works[0].step, RestoreStep::Create);
        assert_eq!(works[0].r.instance, "wd-rt-hr-1");
        // While it runs: nothing more, and a second command is refused.
        assert_eq!(x.tick(t(100)).1, vec![]);
        assert!(x
            .decide(&cmd(Role::Operator, Target::Db("hr".into())))
            .unwrap_err()
            .contains("not finished"));
        // The result came back but is not stored yet: still nothing.
        let out = finish(&works[0], true, None);
        assert_eq!(x.tick(t(101)).1, vec![]);
        let stored = log.put(vec![out]);
        x.observe(&stored);
        let (evs, works) = x.tick(t(102));
        assert_eq!((evs.len(), works[0].step), (1, RestoreStep::Smoke));
        x.observe(&log.put(evs));
        x.observe(&log.put(vec![finish(&works[0], true, Some(true))]));
        let (evs, works) = x.tick(t(103));
        assert_eq!((evs.len(), works[0].step), (1, RestoreStep::Delete));
        x.observe(&log.put(evs));
        x.observe(&log.put(vec![finish(&works[0], true, None)]));
        assert_eq!(x.tick(t(104)), (vec![], vec![]));
        assert!(x.idle());
        assert!(x.book().last("hr").unwrap().1.passed);
    }

    #[test]
    fn after_a_restart_the_open_run_is_deleted_once() {
        let (mut log, _) = asked();
        // kill -9 while the restore runs: a new tester from the log.
        let mut y = Tester::new(7);
        y.load(&log.events);
        let (evs, works) = y.tick(t(50));
        assert_eq!(works.len(), 1);
        assert_eq!(
            (works[0].step, works[0].resumed, works[0].r.interrupted),
            (RestoreStep::Delete, false, true)
        );
        assert_eq!(evs.len(), 1);
        y.observe(&log.put(evs));
        // Killed again during the delete: the next one looks first, and does not write a new intent.
        let mut z = Tester::new(7);
        z.load(&log.events);
        let (evs, works) = z.tick(t(60));
        assert!(evs.is_empty());
        assert_eq!(
            (works[0].step, works[0].resumed),
            (RestoreStep::Delete, true)
        );
        z.observe(&log.put(vec![finish(&works[0], true, None)]));
        assert_eq!(z.tick(t(61)), (vec![], vec![]));
        let intents = log
            .events
            .iter()
            .filter(|e| {
                e.kind == crate::store::kind::STEP_INTENT && e.payload["step"] == "restore.delete"
            })
            .count();
        assert_eq!(intents, 1);
    }

    #[test]
    fn the_schedule_starts_a_run_during_hypercare_only() {
        let (log, mut x) = in_hypercare();
        assert!(x.tick(t(6 * 86_400)).1.is_empty());
        let (evs, works) = x.tick(t(8 * 86_400));
        assert_eq!((evs.len(), works.len()), (1, 1));
        assert_eq!(works[0].r.origin, Origin::Schedule);
        let mut off = Tester::new(0);
        off.observe(&log.events[..1]);
        assert!(off.tick(t(80 * 86_400)).1.is_empty());
    }

    #[test]
    fn a_failed_delete_is_tried_again_later() {
        let (mut log, mut x) = asked();
        let w = x.take_ready().remove(0);
        x.observe(&log.put(vec![finish(&w, false, None)]));
        let (evs, works) = x.tick(t(20));
        assert_eq!(works[0].step, RestoreStep::Delete);
        x.observe(&log.put(evs));
        x.observe(&log.put(vec![finish(&works[0], false, None)]));
        assert!(x.tick(t(30)).1.is_empty(), "waits {DELETE_RETRY_S} s");
        let (evs, works) = x.tick(t(100));
        assert_eq!(evs.len(), 1, "a new attempt has its own intent");
        assert_eq!(
            (works[0].step, works[0].attempt, works[0].resumed),
            (RestoreStep::Delete, 1, false)
        );
    }
}
