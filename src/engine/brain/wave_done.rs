//! A wave's end. Once every member is in a final stage (completed, aborted or rolled back)
//! and the engine has nothing left to do there (a rollback's undo steps finished, the DRS job
//! deleted), the brain writes `wave.done` with the count per final stage and how long the wave
//! took. Hypercare is not final: the wave is done when its hypercare is closed, not when its
//! cutover night ends (`cutover_done` notifications say that, database by database).
//!
//! Once per wave: the replay marks a wave whose `wave.done` is in the store, and the mark is
//! set here as the event leaves, so neither a restart nor a kill -9 (which loses the event and
//! the mark together, unwritten) makes a second one.

use super::memory::{quiet, Db};
use super::{ev, Brain};
use crate::lifecycle::Stage;
use crate::store::event::{Body, WaveDone};
use std::collections::BTreeMap;

/// A database the wave no longer waits for.
fn settled(d: &Db) -> bool {
    d.pos.stage.is_terminal() && quiet(d) && !d.busy && d.open.is_none()
}

impl Brain {
    /// Write `wave.done` for each wave not yet done whose members are all settled.
    pub(super) fn waves_done(&mut self) {
        let mut ends: BTreeMap<u32, Option<WaveDone>> = BTreeMap::new();
        for d in self.dbs.values() {
            let Some(w) = d.wave else { continue };
            if self.waves.get(&w).is_some_and(|x| x.done) {
                continue;
            }
            let end = ends.entry(w).or_insert_with(|| {
                Some(WaveDone {
                    wave: w,
                    members: 0,
                    completed: 0,
                    aborted: 0,
                    rolled_back: 0,
                    started_at: None,
                    ended_at: None,
                    duration_s: None,
                })
            });
            let Some(t) = end else { continue };
            if !settled(d) {
                *end = None;
                continue;
            }
            t.members += 1;
            match d.pos.stage {
                Stage::Completed => t.completed += 1,
                Stage::Aborted => t.aborted += 1,
                _ => t.rolled_back += 1,
            }
            t.ended_at = t.ended_at.max(d.since);
        }
        for (w, end) in ends {
            let Some(mut done) = end else { continue };
            let wave = self.waves.entry(w).or_default();
            wave.done = true;
            done.started_at = wave.started_at;
            if let (Some(a), Some(b)) = (done.started_at, done.ended_at) {
                done.duration_s = Some((b - a).num_milliseconds().max(0) as f64 / 1000.0);
            }
            self.out.push(ev(None, Some(w), Body::WaveDone(done)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::brain::test_support::*;

    fn done_events(events: &[NewEvent]) -> Vec<Body> {
        events
            .iter()
            .filter(|e| e.kind == kind::WAVE_DONE)
            .map(|e| Body::read(&e.kind, &e.payload))
            .collect()
    }

    /// Wave 0 started, with members `a`, `b` and `c` failed in CDC (waiting for the operator,
    /// so no tick gives them work), and the events that got them there.
    fn wave_of_three() -> (Brain, Vec<Event>) {
        let mut b = Brain::new(settings(ChecksMode::Drs), 1);
        let seeds = ["a", "b", "c"]
            .map(|id| {
                let mut s = seed(id, 0, Criticality::Low, 1.0);
                s.stage = Stage::Failed;
                s.held = Some(Stage::Cdc);
                s
            })
            .to_vec();
        let wave = WaveSeed {
            wave: 0,
            started: true,
            ..Default::default()
        };
        let started = event(1, None, kind::WAVE_STARTED, json!({"wave": 0}));
        b.load(seeds, vec![wave], std::slice::from_ref(&started));
        (b, vec![started])
    }

    fn abort(b: &mut Brain, id: i64, db: &str) {
        b.on_command(
            &cmd(id, Role::Operator, Action::Abort, Target::Db(db.into())),
            wall(),
        )
        .unwrap();
    }

    #[test]
    fn once_every_member_is_final_the_wave_is_done_once_even_after_a_replay() {
        let (mut b, log) = wave_of_three();
        abort(&mut b, 1, "a");
        abort(&mut b, 2, "b");
        b.tick(0.0, wall());
        let mut out = b.take_events();
        assert!(
            done_events(&out).is_empty(),
            "c is still failed: the wave is not done"
        );
        abort(&mut b, 3, "c");
        b.tick(1.0, wall());
        out.extend(b.take_events());
        let done = done_events(&out);
        assert_eq!(
            done,
            [Body::WaveDone(WaveDone {
                wave: 0,
                members: 3,
                completed: 0,
                aborted: 3,
                rolled_back: 0,
                started_at: Some(wall()),
                ended_at: Some(wall()),
                duration_s: Some(0.0),
            })]
        );
        b.tick(2.0, wall());
        assert!(done_events(&b.take_events()).is_empty(), "written once");

        // A restarted engine reads the same events back: no second wave.done.
        let log = stored(log, out);
        let mut r = Brain::new(settings(ChecksMode::Drs), 2);
        let seeds = ["a", "b", "c"]
            .map(|id| {
                let mut s = seed(id, 0, Criticality::Low, 1.0);
                s.stage = Stage::Aborted;
                s
            })
            .to_vec();
        let wave = WaveSeed {
            wave: 0,
            started: true,
            ..Default::default()
        };
        r.load(seeds, vec![wave], &log);
        r.tick(0.0, wall());
        assert!(
            done_events(&r.take_events()).is_empty(),
            "none after a replay"
        );
    }

    #[test]
    fn a_rolled_back_member_counts_once_its_undo_steps_are_done() {
        let mut b = Brain::new(settings(ChecksMode::Drs), 1);
        let mut s = seed("a", 0, Criticality::Low, 1.0);
        s.stage = Stage::Cutover;
        let wave = WaveSeed {
            wave: 0,
            started: true,
            ..Default::default()
        };
        let start = wall() - chrono::Duration::minutes(90);
        let mut started = event(1, None, kind::WAVE_STARTED, json!({"wave": 0}));
        started.time = start;
        // The drain ran: a rollback must turn the source's writes back on first.
        let drained = event(
            2,
            Some("a"),
            kind::STEP_OUTCOME,
            json!({"step": "drain_source", "attempt": 0, "ok": true}),
        );
        b.load(vec![s], vec![wave], &[started, drained]);
        b.on_command(
            &cmd(1, Role::Operator, Action::Rollback, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let p = b.tick(0.0, wall());
        assert_eq!(p.works[0].step, EffectStep::SourceWritesOn);
        assert!(
            done_events(&b.take_events()).is_empty(),
            "the source is not writable yet"
        );
        b.on_work(&p.works[0], ok(None), 0.0, wall());
        b.tick(1.0, wall());
        match &done_events(&b.take_events())[..] {
            [Body::WaveDone(d)] => {
                assert_eq!((d.members, d.rolled_back), (1, 1));
                assert_eq!(d.duration_s, Some(5400.0));
            }
            other => panic!("one wave.done expected, got {other:?}"),
        }
    }
}
