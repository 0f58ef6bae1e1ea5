//! Loading: the databases and waves from the store, then their events replayed to rebuild what
//! the state tables do not hold (steps done in the current stage, intents left open).

use super::memory::*;
use super::protocol::*;
use super::Brain;
use crate::engine::poll_plan::LastSeen;
use crate::lifecycle::facts::WindowMemo;
use crate::lifecycle::{Position, Trigger};
use crate::store::event::Body;
use crate::store::Event;
use std::collections::{BTreeSet, HashSet};

impl Brain {
    /// Load the databases and waves, then replay their events (in seq order) to rebuild what
    /// the state tables do not hold: steps done in the current stage and intents left open.
    pub fn load(&mut self, seeds: Vec<Seed>, waves: Vec<WaveSeed>, events: &[Event]) {
        for w in waves {
            self.waves.insert(
                w.wave,
                Wave {
                    window: WindowMemo::new(&w.window),
                    members: 0,
                    approved_by: w.approved_by,
                    started: w.started,
                    started_at: None,
                    done: false,
                },
            );
        }
        for s in seeds {
            if let Some(w) = s.wave {
                self.waves.entry(w).or_default().members += 1;
            }
            let db = Db {
                own_max_lag_s: s.max_lag_s,
                max_lag_s: self.settings.thresholds().lag_limit(s.max_lag_s),
                id: s.db_id.clone(),
                wave: s.wave,
                criticality: s.criticality,
                size_gb: s.size_gb,
                mode: s.mode,
                window: WindowMemo::new(&s.business_window),
                pos: Position::from_state(s.stage, s.held),
                since: None,
                job: s.job,
                job_started: false,
                job_paused: false,
                job_terminated: false,
                job_released: false,
                job_failed: false,
                dns_switched: false,
                source_drained: false,
                drained_at: None,
                job_prechecked: false,
                cut_validated: false,
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
                restore_passed_at: None,
            };
            self.dbs.insert(s.db_id, db);
        }
        for e in events {
            self.replay(e);
        }
    }

    pub(super) fn replay(&mut self, e: &Event) {
        let body = e.body();
        match &body {
            Body::WaveStarted(a) | Body::WaveApproved(a) => {
                if let Some(w) = e.wave.or(a.wave) {
                    let wave = self.waves.entry(w).or_default();
                    if matches!(body, Body::WaveStarted(_)) {
                        wave.started = true;
                        wave.started_at = Some(e.time);
                    } else {
                        // As the store's fold reads it: the approver, else the event's actor.
                        wave.approved_by = Some(a.by.clone().unwrap_or_else(|| e.actor.clone()));
                    }
                }
                return;
            }
            Body::WaveDone(d) => {
                self.waves.entry(e.wave.unwrap_or(d.wave)).or_default().done = true;
                return;
            }
            _ => {}
        }
        let both = self.settings.checks == crate::config::ChecksMode::Both;
        let Some(db) = e.db_id.as_deref().and_then(|id| self.dbs.get_mut(id)) else {
            return;
        };
        db.signoff.observe(&e.kind, &body, e.time);
        if let Some(j) = body.drs_job_id() {
            db.job = Some(j.to_string());
        }
        match body {
            Body::Stage(s) => {
                db.since = Some(e.time);
                db.restore_passed_at = None;
                db.done.clear();
                db.retries = 0;
                db.open = None;
                db.partial = None;
                if s.trigger == Some(Trigger::Cutover) {
                    db.cut_started.clear();
                    db.cut_done.clear();
                    db.cut_validated = false;
                }
            }
            Body::StepIntent(i) => {
                if let Some(s) = EffectStep::parse(&i.step) {
                    db.open = Some((s, i.attempt));
                    if let EffectStep::Cut(c) = s {
                        db.cut_started.insert(c);
                    }
                }
            }
            Body::StepOutcome(o) => {
                if crate::restore::plan::passed_smoke(&o) {
                    db.restore_passed_at = Some(e.time);
                }
                let Some(s) = EffectStep::parse(&o.step) else {
                    return;
                };
                if db.open.map(|o| o.0) == Some(s) {
                    db.open = None;
                }
                if o.ok {
                    apply_done(db, s, None, e.time);
                    // wavedeck's half of a check, as `on_report` kept it before the restart.
                    if let Some(passed) = o.passed.filter(|_| waits_for_drs(db, s, both)) {
                        let report = Report {
                            passed,
                            summary: o.summary.clone().unwrap_or_default(),
                            detail: o.detail.clone().unwrap_or_default(),
                        };
                        db.partial = Some((s, report));
                    }
                } else if !o.waiting() {
                    db.retries = db.retries.max(o.attempt + 1);
                }
            }
            // A filed report took the half that waited for it: it is spent.
            Body::Validation(r) => {
                db.partial = None;
                db.validation = Some((r.passed, e.time));
                db.cut_validated = r.passed;
            }
            Body::Precheck(r) => {
                db.partial = None;
                db.job_prechecked = r.passed;
            }
            Body::Lag(l) => db.seen.lag_s = Some(l.lag_s),
            Body::Progress(p) => {
                db.seen.progress_pct = Some(p.pct);
                db.last_progress_evt = p.pct;
            }
            Body::JobStatus(j) => db.job_status = Some(j.status),
            _ => {}
        }
    }
}

impl Brain {
    /// A restore test's outcome the driver stored (the restore tests write their own events):
    /// a passed one opens the close-hypercare guard.
    pub fn observe_restore(&mut self, stored: &[Event]) {
        for e in stored {
            if e.kind != crate::store::kind::STEP_OUTCOME {
                continue;
            }
            if let (Some(d), Body::StepOutcome(o)) = (
                e.db_id.as_deref().and_then(|id| self.dbs.get_mut(id)),
                e.body(),
            ) {
                if crate::restore::plan::passed_smoke(&o) {
                    d.restore_passed_at = Some(e.time);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::brain::test_support::*;

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
        assert!(p.works[0].resumed && p.works[0].step == EffectStep::StartJob);
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
        assert_eq!(p.works[0].step, EffectStep::Cut(CutStep::DrainSource));
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
        assert_eq!(p.works[0].step, EffectStep::Cut(CutStep::DrainSource));
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
        assert_eq!(
            p.works[0].step,
            EffectStep::Undo(RollbackAction::SourceWritesOn)
        );
        r.on_work(&p.works[0], cut_ok("source writable"), 100.0, wall());
        assert!(r.tick(200.0, wall()).works.is_empty());
        assert!(r.idle());
    }

    /// wavedeck's half of the pre-checks (the exposure check with `checks: drs`, the SQL
    /// pre-checks with `checks: sql`) waits for DRS's pre-check; a restart in between rebuilds
    /// it from its outcome, so a failed half still fails the database when DRS's passes.
    #[test]
    fn a_failed_local_precheck_half_survives_a_restart() {
        for (checks, local) in [
            (ChecksMode::Drs, EffectStep::ExposureCheck),
            (ChecksMode::Sql, EffectStep::SqlPrecheck),
        ] {
            let mut b = brain(checks, vec![seed("a", 0, Criticality::Low, 1.0)]);
            b.on_command(
                &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap();
            let p = b.tick(0.0, wall());
            assert_eq!(p.works[0].step, local, "{checks:?}");
            let failed = WorkResult::Ok {
                job: None,
                report: Some(exposed_report()),
                recovered: false,
            };
            b.on_work(&p.works[0], failed, 0.0, wall());
            let mut now = 0.0;
            let mut steps = Vec::new();
            while !steps.contains(&EffectStep::DrsPrecheck) {
                now += 100.0;
                let p = b.tick(now, wall());
                for w in &p.works {
                    steps.push(w.step);
                    b.on_work(
                        w,
                        ok((w.step == EffectStep::CreateJob).then_some("job-a")),
                        now,
                        wall(),
                    );
                }
                for l in &p.looks {
                    b.on_seen(
                        &l.db,
                        l.kind,
                        job_seen("CONFIGURATION", 0.0, -1.0),
                        now,
                        wall(),
                    );
                }
            }
            assert_eq!(
                steps,
                [
                    EffectStep::CreateJob,
                    EffectStep::PrepareJob,
                    EffectStep::DrsPrecheck
                ]
            );
            let log = stored(Vec::new(), b.take_events());

            // The engine restarts while DRS's pre-check runs; DRS's verdict is a pass.
            let mut r = restarted(checks, Stage::Prechecks, &log);
            let p = r.tick(now + 100.0, wall());
            assert_eq!(p.looks[0].kind, LookKind::Precheck, "{checks:?}");
            let drs = Report {
                passed: true,
                summary: "12/12 passed".into(),
                detail: json!({"total_passed_rate": "100%", "not_passed": []}),
            };
            let seen = Seen::Report {
                finished: true,
                report: drs,
            };
            r.on_seen("a", LookKind::Precheck, seen, now + 100.0, wall());
            assert_eq!(
                r.stage_of("a").unwrap(),
                Position::failed_in(Stage::Prechecks),
                "{checks:?}: the failed half before the restart fails the database"
            );
            let evs = r.take_events();
            let pre = evs.iter().find(|e| e.kind == kind::DB_PRECHECK).unwrap();
            let report: CheckReport = serde_json::from_value(pre.payload.clone()).unwrap();
            assert!(!report.passed);
            let lines = report.precheck().lines();
            let sg = lines
                .iter()
                .find(|l| l.name == crate::checks::exposure::SECURITY_GROUP)
                .unwrap_or_else(|| panic!("{checks:?}: {lines:?}"));
            assert!(sg.detail.contains("r-world"), "{sg:?}");
            assert!(
                pre.payload["detail"].get(local.half_key()).is_some(),
                "{}",
                pre.payload
            );
        }
    }
}
