//! What each stage needs next: the work or look a due database asks for, and the order of the
//! SQL-mode cutover with the DRS job between its steps.

use super::memory::*;
use super::protocol::*;
use super::Brain;
use crate::cutover::steps::CutoverStep as CutStep;
use crate::engine::admission::{self, Caps, Usage};
use crate::lifecycle::{JobPhase, Stage, Trigger};
use std::time::Duration;

impl Brain {
    /// The next thing a due database needs.
    pub(super) fn next_for(&self, d: &Db, now: f64, caps: &Caps, usage: &Usage) -> Next {
        let s = &self.settings;
        let attempt = d.retries;
        let work = |step| Next::Work(step, attempt, false);
        if offline_cutover(d) {
            return self.next_offline_cut(d, caps, usage);
        }
        // Stages that run on a started DRS job need it to exist, be started and not paused.
        let needs_job = matches!(
            d.pos.stage,
            Stage::Provisioning | Stage::FullLoad | Stage::Cdc | Stage::Validation | Stage::Ready
        );
        if matches!(d.pos.stage, Stage::Prechecks | Stage::Provisioning) && d.job.is_some() {
            if let Some(next) = job_being_made(d) {
                return next;
            }
        }
        if needs_job || (d.pos.stage == Stage::Cutover && !d.job_terminated && d.job.is_some()) {
            if d.job.is_none() {
                return work(EffectStep::CreateJob);
            }
            if !d.job_started {
                if let Err(h) = admission::may_full_load(caps, usage) {
                    return Next::Wait(h.to_string());
                }
                return work(EffectStep::StartJob);
            }
            if d.job_paused || d.job_failed {
                return work(EffectStep::ResumeJob);
            }
        }
        match d.pos.stage {
            // An offline database is pre-checked by wavedeck's SQL checks whatever `checks`
            // says: DRS pre-checks a job, and nothing (no job, no provisioning) is made for it
            // before its cutover in the window.
            Stage::Prechecks if !d.mode.is_online() => {
                if d.done.contains(&EffectStep::SqlPrecheck) {
                    return Next::Idle;
                }
                work(EffectStep::SqlPrecheck)
            }
            Stage::Prechecks => {
                if s.sql() && !d.done.contains(&EffectStep::SqlPrecheck) {
                    return work(EffectStep::SqlPrecheck);
                }
                // The SQL pre-checks hold the exposure check; without them it runs alone,
                // because DRS's pre-check does not look at the target's EIPs or rules.
                if !s.sql() && !d.done.contains(&EffectStep::ExposureCheck) {
                    return work(EffectStep::ExposureCheck);
                }
                // DRS's pre-check runs whatever `checks` says: DRS starts no job whose pre-check
                // has not passed (DRS.M00304), so skipping it would only fail later.
                if d.job.is_none() {
                    return work(EffectStep::CreateJob);
                }
                drs_precheck(d)
            }
            Stage::Provisioning | Stage::FullLoad | Stage::Cdc | Stage::Ready => {
                Next::Look(LookKind::Job)
            }
            Stage::Validation => self.next_validation(d, caps, usage),
            Stage::Cutover if s.sql_cutover || !d.cut_started.is_empty() => {
                self.next_cut(d, now, attempt)
            }
            Stage::Cutover => {
                if let Some(recheck) = exposure_recheck(d) {
                    return recheck;
                }
                if d.job.is_some() && !d.job_terminated && !d.source_drained {
                    return work(EffectStep::DrainSource);
                }
                if d.job.is_some() && !d.job_terminated {
                    let stable = self.scaled(Duration::from_secs_f64(s.lag_stable_s.max(0.0)));
                    return match d.lag_zero_since {
                        Some(t) if now - t >= stable => work(EffectStep::Terminate),
                        _ => Next::Look(LookKind::Job),
                    };
                }
                if d.job.is_some() && !d.job_released {
                    return Next::Look(LookKind::Job);
                }
                if !d.dns_switched {
                    return work(EffectStep::DnsSwitch);
                }
                Next::Advance(
                    Trigger::CutoverDone,
                    "DRS job terminated (target writable), DNS switched".into(),
                )
            }
            Stage::Paused => {
                if d.job.is_some() && d.job_started && !d.job_paused && !d.job_terminated {
                    return work(EffectStep::PauseJob);
                }
                Next::Idle
            }
            Stage::Aborted | Stage::Completed => discard_job(d).unwrap_or(Next::Idle),
            // Waits for the operator's cutover in the window.
            Stage::ReadyOffline => Next::Idle,
            Stage::RolledBack => match rollback_next(d) {
                Some(step) => work(step),
                // An offline database's target is discarded with its job: nothing of it
                // reached the application before its switch.
                None if !d.mode.is_online() => discard_job(d).unwrap_or(Next::Idle),
                None => Next::Idle,
            },
            _ => Next::Idle,
        }
    }

    /// The validation gate: wavedeck's SQL validation, DRS's comparison, or both (the SQL
    /// half first), each within `limits.validation_capacity`.
    fn next_validation(&self, d: &Db, caps: &Caps, usage: &Usage) -> Next {
        let s = &self.settings;
        let work = |step| Next::Work(step, d.retries, false);
        if s.sql() && !d.done.contains(&EffectStep::SqlValidate) {
            if let Err(h) = admission::may_validate(caps, usage) {
                return Next::Wait(h.to_string());
            }
            return work(EffectStep::SqlValidate);
        }
        if s.drs() {
            if !d.done.contains(&EffectStep::Compare) {
                if let Err(h) = admission::may_validate(caps, usage) {
                    return Next::Wait(h.to_string());
                }
                return work(EffectStep::Compare);
            }
            return Next::Look(LookKind::Compare);
        }
        Next::Idle
    }

    /// The next step of an offline database's cutover (issue #17). Its FULL_TRANS job is made
    /// and pre-checked while the source still takes writes (such a job copies nothing before
    /// it starts, and making one takes minutes on DRS: none of that belongs in the outage);
    /// then the source is drained, the job started, its full load awaited
    /// (FULL_TRANSFER_COMPLETE), the target validated against the still source, the job
    /// terminated (which lifts the target's read-only) and released, and the name switched.
    fn next_offline_cut(&self, d: &Db, caps: &Caps, usage: &Usage) -> Next {
        if self.settings.sql_cutover || !d.cut_started.is_empty() {
            return self.next_offline_sql_cut(d, caps, usage);
        }
        let work = |step| Next::Work(step, d.retries, false);
        if let Some(recheck) = exposure_recheck(d) {
            return recheck;
        }
        if !d.job_terminated {
            if d.job.is_none() {
                // An online database's job took its slot at admission; this one takes it now.
                if usage.drs_jobs >= caps.drs_jobs {
                    return Next::Wait(admission::Held::DrsJobs(caps.drs_jobs).to_string());
                }
                return work(EffectStep::CreateJob);
            }
            if !d.job_started {
                if let Some(next) = job_being_made(d) {
                    return next;
                }
                if !d.job_prechecked {
                    return drs_precheck(d);
                }
                if !d.source_drained {
                    return work(EffectStep::DrainSource);
                }
                if let Err(h) = admission::may_full_load(caps, usage) {
                    return Next::Wait(h.to_string());
                }
                return work(EffectStep::StartJob);
            }
            if d.job_paused || d.job_failed {
                return work(EffectStep::ResumeJob);
            }
            if !d.cut_validated {
                if !full_load_done(d) {
                    return Next::Look(LookKind::Job);
                }
                return self.next_validation(d, caps, usage);
            }
            return work(EffectStep::Terminate);
        }
        if d.job.is_some() && !d.job_released {
            return Next::Look(LookKind::Job);
        }
        if !d.dns_switched {
            return work(EffectStep::DnsSwitch);
        }
        Next::Advance(
            Trigger::CutoverDone,
            "offline cutover done: source drained, full load (FULL_TRANS) complete and validated, DRS job terminated (target writable), DNS switched"
                .into(),
        )
    }

    /// [`Self::next_offline_cut`] with `engine.source_drain: sql`: the cutover module's steps
    /// where they apply, around the same FULL_TRANS job. The job is made and DRS-pre-checked
    /// while the source still takes writes; then the guards (the cutover's lifecycle guards
    /// and the target's exposure, checked again at the last moment before writes stop), the
    /// SQL drain, the load started and awaited, the exact validation, the job terminated and
    /// released, then [`OFFLINE_AFTER_RELEASE`]: the quick validation (the target read-only
    /// again), the switch, the target's writes (sequences or AUTO_INCREMENT carried, the way
    /// back prepared, smoke tests) and hypercare. No final sync and no lag wait: nothing
    /// streams.
    fn next_offline_sql_cut(&self, d: &Db, caps: &Caps, usage: &Usage) -> Next {
        let work = |step| Next::Work(step, d.retries, false);
        let done = |c: CutStep| d.cut_done.contains(&c);
        if !d.job_terminated {
            if d.job.is_none() {
                if usage.drs_jobs >= caps.drs_jobs {
                    return Next::Wait(admission::Held::DrsJobs(caps.drs_jobs).to_string());
                }
                return work(EffectStep::CreateJob);
            }
            if !d.job_started {
                if let Some(next) = job_being_made(d) {
                    return next;
                }
                if !d.job_prechecked {
                    return drs_precheck(d);
                }
                for c in [CutStep::Guards, CutStep::DrainSource] {
                    if !done(c) {
                        return work(EffectStep::Cut(c));
                    }
                }
                if let Err(h) = admission::may_full_load(caps, usage) {
                    return Next::Wait(h.to_string());
                }
                return work(EffectStep::StartJob);
            }
            if d.job_paused || d.job_failed {
                return work(EffectStep::ResumeJob);
            }
            if !d.cut_validated {
                if !full_load_done(d) {
                    return Next::Look(LookKind::Job);
                }
                return self.next_validation(d, caps, usage);
            }
            return work(EffectStep::Terminate);
        }
        if d.job.is_some() && !d.job_released {
            return Next::Look(LookKind::Job);
        }
        for c in OFFLINE_AFTER_RELEASE {
            if !done(c) {
                return work(EffectStep::Cut(c));
            }
        }
        Next::Advance(
            Trigger::CutoverDone,
            "offline cutover done: source drained, full load (FULL_TRANS) complete and validated, DRS job terminated, DNS switched, target writable"
                .into(),
        )
    }

    /// The next step of a cutover run by the cutover module: its steps in runbook order, with
    /// the DRS job's part between them (after the final sync, DRS's lag 0 and stable, then the
    /// job terminated and released, before the final quick validation).
    pub(super) fn next_cut(&self, d: &Db, now: f64, attempt: u32) -> Next {
        let work = |step| Next::Work(step, attempt, false);
        let done = |c: CutStep| d.cut_done.contains(&c);
        for c in [CutStep::Guards, CutStep::DrainSource] {
            if !done(c) {
                return work(EffectStep::Cut(c));
            }
        }
        if !done(CutStep::FinalSync) {
            return work(EffectStep::Cut(CutStep::FinalSync));
        }
        if d.job.is_some() && !d.job_terminated {
            // The slot says the source has nothing left for DRS; DRS's own lag, read after
            // that and staying 0, says it applied what it took (its slot position alone may
            // count changes it holds but has not written to the target yet).
            let stable = self.scaled(Duration::from_secs_f64(self.settings.lag_stable_s.max(0.0)));
            return match d.lag_zero_since {
                Some(t) if now - t >= stable => work(EffectStep::Terminate),
                _ => Next::Look(LookKind::Job),
            };
        }
        if d.job.is_some() && !d.job_released {
            return Next::Look(LookKind::Job);
        }
        for c in [
            CutStep::QuickValidation,
            CutStep::DnsSwitch,
            CutStep::TargetWritesOn,
            CutStep::Hypercare,
        ] {
            if !done(c) {
                return work(EffectStep::Cut(c));
            }
        }
        Next::Advance(
            Trigger::CutoverDone,
            "cutover done: source drained, target caught up and checked, DNS switched, target writable"
                .into(),
        )
    }
}

/// The cutover module's steps an offline cutover runs once its job is released, in order: the
/// online cutover's after its job. The quick validation stays although the exact one just
/// passed: it sets the target read-only again (terminating the job lifted that) before the
/// name points there, so no application writes before the sequences are carried and the way
/// back is prepared; it counts rows and checksums the critical tables of a database small
/// enough to move offline.
const OFFLINE_AFTER_RELEASE: [CutStep; 4] = [
    CutStep::QuickValidation,
    CutStep::DnsSwitch,
    CutStep::TargetWritesOn,
    CutStep::Hypercare,
];

/// What is left of a database's DRS job to get rid of: terminate it (releasing its instance),
/// wait for the release, delete it. `None`: no job.
fn discard_job(d: &Db) -> Option<Next> {
    d.job.as_ref()?;
    let work = |step| Next::Work(step, d.retries, false);
    Some(if !d.job_terminated {
        work(EffectStep::Terminate)
    } else if !d.job_released {
        Next::Look(LookKind::Job)
    } else {
        work(EffectStep::DeleteJob)
    })
}

/// A job whose creation is not through: one DRS failed to create is deleted and made again
/// (same name); one not started and still being created is waited for (minutes on real DRS)
/// instead of spending retries.
fn job_being_made(d: &Db) -> Option<Next> {
    match d.job_status.as_ref().map(JobPhase::of) {
        Some(JobPhase::CreateFailed) => Some(Next::Work(EffectStep::DeleteJob, d.retries, false)),
        None | Some(JobPhase::Creating) if !d.job_started => Some(Next::Look(LookKind::Job)),
        _ => None,
    }
}

/// DRS's pre-check of the job made: its connections tested and the pre-check started
/// (`PrepareJob`, unless the pre-check already ran), then the pre-check's result looked at.
fn drs_precheck(d: &Db) -> Next {
    let work = |step| Next::Work(step, d.retries, false);
    let done = |s: EffectStep| d.done.contains(&s);
    if !done(EffectStep::PrepareJob) && !done(EffectStep::DrsPrecheck) {
        return work(EffectStep::PrepareJob);
    }
    if !done(EffectStep::DrsPrecheck) {
        return work(EffectStep::DrsPrecheck);
    }
    Next::Look(LookKind::Precheck)
}

/// The exposure check again, first in a DRS-mode cutover (online or offline), before anything
/// is drained: a rule or an EIP added since the pre-checks must stop the switch, as the SQL
/// cutover's guards step does (issue #16). A restart after the drain does not ask again.
fn exposure_recheck(d: &Db) -> Option<Next> {
    let due =
        !d.source_drained && !d.job_terminated && !d.done.contains(&EffectStep::ExposureCheck);
    due.then_some(Next::Work(EffectStep::ExposureCheck, d.retries, false))
}

pub(super) enum Next {
    Work(EffectStep, u32, bool),
    Look(LookKind),
    Advance(Trigger, String),
    Wait(String),
    Idle,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::brain::test_support::*;

    /// `checks: sql` still has DRS pre-check the job (DRS starts none without it); the SQL
    /// result waits for DRS's and a failing half fails the stage.
    #[test]
    fn sql_checks_still_run_the_drs_precheck_before_the_job_starts() {
        for sql_passes in [true, false] {
            let mut b = brain(ChecksMode::Sql, vec![seed("a", 0, Criticality::Low, 1.0)]);
            b.on_command(
                &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap();
            let mut now = 0.0;
            let mut step = |b: &mut Brain| -> Plan {
                now += 100.0;
                b.tick(now, wall())
            };
            let p = step(&mut b);
            assert_eq!(p.works[0].step, EffectStep::SqlPrecheck);
            let sql = Report {
                passed: sql_passes,
                summary: "sql checks".into(),
                detail: Value::Null,
            };
            let done = WorkResult::Ok {
                job: None,
                report: Some(sql),
                recovered: false,
            };
            b.on_work(&p.works[0], done, 100.0, wall());
            assert_eq!(b.stage_of("a").unwrap().stage, Stage::Prechecks);
            let p = step(&mut b);
            assert_eq!(p.works[0].step, EffectStep::CreateJob);
            b.on_work(&p.works[0], ok(Some("job-a")), 200.0, wall());
            let p = step(&mut b);
            b.on_seen(
                "a",
                p.looks[0].kind,
                job_seen("CONFIGURATION", 0.0, -1.0),
                300.0,
                wall(),
            );
            for want in [EffectStep::PrepareJob, EffectStep::DrsPrecheck] {
                let p = step(&mut b);
                assert_eq!(p.works[0].step, want);
                b.on_work(&p.works[0], ok(None), 400.0, wall());
            }
            let p = step(&mut b);
            assert_eq!(p.looks[0].kind, LookKind::Precheck);
            let drs = Report {
                passed: true,
                summary: "12/12 passed".into(),
                detail: Value::Null,
            };
            let seen = Seen::Report {
                finished: true,
                report: drs,
            };
            b.on_seen("a", LookKind::Precheck, seen, 500.0, wall());
            let stage = b.stage_of("a").unwrap().stage;
            if sql_passes {
                assert_eq!(stage, Stage::Provisioning);
                assert_eq!(step(&mut b).works[0].step, EffectStep::StartJob);
            } else {
                assert_eq!(stage, Stage::Failed, "the SQL half failed");
            }
        }
    }

    /// Drive one database through the DRS-mode pipeline by hand and check every request.
    #[test]
    fn one_database_goes_to_ready_through_drs_checks() {
        let mut b = brain(ChecksMode::Drs, vec![seed("a", 0, Criticality::Low, 1.0)]);
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        let mut now = 0.0;
        let step = |b: &mut Brain, now: &mut f64| -> Plan {
            *now += 100.0;
            b.tick(*now, wall())
        };
        // DRS's pre-check does not look at the target's exposure: wavedeck's check runs first.
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, EffectStep::ExposureCheck);
        let mut all = b.take_events();
        assert_eq!(
            kinds(&all),
            [kind::WAVE_STARTED, kind::DB_STAGE, kind::STEP_INTENT]
        );
        let private =
            crate::engine::effects::checks::precheck_report(&[crate::checks::CheckResult::pass(
                "target/public_ip",
                "no public IP",
            )]);
        let checked = WorkResult::Ok {
            job: None,
            report: Some(private),
            recovered: false,
        };
        b.on_work(&p.works[0], checked, now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, EffectStep::CreateJob);
        b.on_work(&p.works[0], ok(Some("job-a")), now, wall());
        assert_eq!(b.job_of("a"), Some("job-a"));
        // DRS takes a while to create the job: look until it is configured.
        for status in ["CREATING", "CONFIGURATION"] {
            let p = step(&mut b, &mut now);
            assert_eq!(p.looks[0].kind, LookKind::Job);
            b.on_seen("a", LookKind::Job, job_seen(status, 0.0, -1.0), now, wall());
        }
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, EffectStep::PrepareJob);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, EffectStep::DrsPrecheck);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.looks[0].kind, LookKind::Precheck);
        let report = Report {
            passed: true,
            summary: "12/12 passed".into(),
            detail: Value::Null,
        };
        b.on_seen(
            "a",
            LookKind::Precheck,
            Seen::Report {
                finished: false,
                report: report.clone(),
            },
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Prechecks);
        b.on_seen(
            "a",
            LookKind::Precheck,
            Seen::Report {
                finished: true,
                report,
            },
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Provisioning);
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, EffectStep::StartJob);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.looks[0].kind, LookKind::Job);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("FULL_TRANSFER_STARTED", 3.0, -1.0),
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::FullLoad);
        step(&mut b, &mut now);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("FULL_TRANSFER_STARTED", 50.0, -1.0),
            now,
            wall(),
        );
        step(&mut b, &mut now);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 40.0),
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Cdc);
        step(&mut b, &mut now);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 2.0),
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Validation);
        let p = step(&mut b, &mut now);
        assert_eq!(p.works[0].step, EffectStep::Compare);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = step(&mut b, &mut now);
        assert_eq!(p.looks[0].kind, LookKind::Compare);
        let good = Report {
            passed: true,
            summary: "3 tables consistent".into(),
            detail: Value::Null,
        };
        b.on_seen(
            "a",
            LookKind::Compare,
            Seen::Report {
                finished: true,
                report: good,
            },
            now,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Ready);
        all.extend(b.take_events());
        let ev = all;
        let k = kinds(&ev);
        assert!(k.contains(&kind::DB_PROGRESS.to_string()));
        assert!(k.contains(&kind::DB_LAG.to_string()));
        assert!(k.contains(&kind::DB_PRECHECK.to_string()));
        assert!(k.contains(&kind::DB_VALIDATION.to_string()));
        // Every intent has its outcome.
        let intents = ev.iter().filter(|e| e.kind == kind::STEP_INTENT).count();
        let outcomes = ev.iter().filter(|e| e.kind == kind::STEP_OUTCOME).count();
        assert_eq!((intents, outcomes), (6, 6));
        let pre = ev.iter().find(|e| e.kind == kind::DB_PRECHECK).unwrap();
        assert_eq!(
            pre.payload["summary"],
            "exposure: 1 checks: 1 pass, 0 warn, 0 fail; drs: 12/12 passed"
        );
        assert!(!b.take_lag_samples().is_empty());
        assert!(b.idle());
    }

    #[test]
    fn cutover_needs_guards_then_waits_for_zero_lag_and_terminates() {
        let mut s = seed("a", 0, Criticality::Low, 1.0);
        s.stage = Stage::Ready;
        s.job = Some("job-a".into());
        let mut b = Brain::new(settings(ChecksMode::Drs), 1);
        let ev = vec![Event {
            seq: 1,
            time: wall(),
            db_id: Some("a".into()),
            wave: Some(0),
            kind: kind::STEP_OUTCOME.into(),
            payload: json!({"step": "start_job", "attempt": 0, "ok": true}),
            actor: ACTOR.into(),
            prev_hash: String::new(),
            hash: String::new(),
        }];
        b.load(
            vec![s],
            vec![WaveSeed {
                wave: 0,
                started: true,
                ..Default::default()
            }],
            &ev,
        );
        let c = cmd(1, Role::Operator, Action::Cutover, Target::Db("a".into()));
        let why = b.on_command(&c, wall()).unwrap_err().reason;
        assert!(
            why.contains("not approved") && why.contains("validation"),
            "{why}"
        );
        // Before the approval the stale validation waits: the Revalidate row's guard.
        b.revalidate_stale(wall());
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Ready);
        b.on_command(
            &cmd(2, Role::Operator, Action::ApproveWindow, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        // Approval makes a stale (missing) validation run again.
        let p = b.tick(0.0, wall());
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Validation);
        assert_eq!(p.works[0].step, EffectStep::Compare);
        b.on_work(&p.works[0], ok(None), 0.0, wall());
        b.on_seen(
            "a",
            LookKind::Compare,
            Seen::Report {
                finished: true,
                report: Report {
                    passed: true,
                    summary: "ok".into(),
                    detail: Value::Null,
                },
            },
            0.0,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Ready);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 3.0),
            0.0,
            wall(),
        );
        b.on_command(&c, wall()).unwrap();
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Cutover);
        let mut now = 10.0;
        // The exposure is checked again before anything is drained; a pass goes on.
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].step, EffectStep::ExposureCheck);
        b.on_work(&p.works[0], cut_ok("exposure: 2 checks pass"), now, wall());
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Cutover);
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].step, EffectStep::DrainSource);
        b.on_work(&p.works[0], ok(None), now, wall());
        let p = b.tick(now, wall());
        assert_eq!(p.looks[0].kind, LookKind::Job);
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 0.0),
            now,
            wall(),
        );
        now += 1.0;
        assert!(
            b.tick(now, wall()).works.is_empty(),
            "lag 0 not yet stable for 2 s"
        );
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 0.0),
            now,
            wall(),
        );
        now += 3.0;
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].step, EffectStep::Terminate);
        b.on_work(&p.works[0], ok(None), now, wall());
        now += 5.0;
        b.tick(now, wall());
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("RELEASE_RESOURCE_COMPLETE", 100.0, 0.0),
            now,
            wall(),
        );
        now += 5.0;
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].step, EffectStep::DnsSwitch);
        b.take_events();
        // The switch reports what it changed: that belongs in its outcome, not on the
        // database's pre-check line (the cockpit once showed a DNS change there).
        let switched = WorkResult::Ok {
            job: None,
            report: Some(Report {
                passed: true,
                summary: "file a.db.internal -> 10.1.0.1:5432 (ttl 60 s, was 10.0.0.1:5432)".into(),
                detail: json!({"name": "a.db.internal"}),
            }),
            recovered: false,
        };
        b.on_work(&p.works[0], switched, now, wall());
        let evs = b.take_events();
        assert_eq!(kinds(&evs), [kind::STEP_OUTCOME]);
        assert!(evs[0].payload["summary"]
            .as_str()
            .unwrap()
            .starts_with("file a.db.internal"));
        now += 5.0;
        b.tick(now, wall());
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Hypercare);
    }

    #[test]
    fn sql_cutover_runs_the_cutover_steps_with_the_drs_job_between_them() {
        let (mut b, mut log) = ready_for_sql_cutover();
        let c = cmd(1, Role::Operator, Action::Cutover, Target::Db("a".into()));
        b.on_command(&c, wall()).unwrap();
        let mut now = 10.0;
        let mut steps = Vec::new();
        let mut new_events = b.take_events();
        for _ in 0..40 {
            let p = b.tick(now, wall());
            for w in &p.works {
                steps.push(w.step.as_str());
                assert!(w.blockers.is_empty(), "{:?}", w.blockers);
                b.on_work(w, cut_ok(&format!("{} done", w.step.as_str())), now, wall());
                if w.step == EffectStep::Cut(CutStep::DrainSource) {
                    // A lag-0 reading before the final sync does not count towards terminating.
                    b.on_seen(
                        "a",
                        LookKind::Job,
                        job_seen("INCRE_TRANSFER_STARTED", 100.0, 0.0),
                        now,
                        wall(),
                    );
                }
            }
            for l in &p.looks {
                steps.push("look");
                let status = if steps.contains(&"terminate_job") {
                    "RELEASE_RESOURCE_COMPLETE"
                } else {
                    "INCRE_TRANSFER_STARTED"
                };
                b.on_seen(&l.db, l.kind, job_seen(status, 100.0, 0.0), now, wall());
            }
            new_events.extend(b.take_events());
            now += 5.0;
            if b.stage_of("a").unwrap().stage == Stage::Hypercare {
                break;
            }
        }
        assert_eq!(
            steps,
            [
                "cutover.guards",
                "cutover.drain_source",
                "cutover.final_sync",
                // DRS's lag, read after the final sync, stays 0 for lag_stable_s.
                "look",
                "terminate_job",
                // Then the job is released.
                "look",
                "cutover.quick_validation",
                "cutover.dns_switch",
                "cutover.target_writes_on",
                "cutover.hypercare"
            ]
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Hypercare);
        // A step's report stays in its outcome: no pre-check or validation event is made of it.
        assert!(
            !new_events
                .iter()
                .any(|e| e.kind == kind::DB_PRECHECK || e.kind == kind::DB_VALIDATION),
            "{:?}",
            kinds(&new_events)
        );
        let dns = new_events
            .iter()
            .find(|e| e.kind == kind::STEP_OUTCOME && e.payload["step"] == "cutover.dns_switch")
            .unwrap();
        assert_eq!(dns.payload["summary"], "cutover.dns_switch done");
        assert_eq!(dns.payload["detail"]["dns"]["value"], "10.1.0.1:5432");
        let intent = new_events
            .iter()
            .find(|e| e.kind == kind::STEP_INTENT && e.payload["step"] == "cutover.drain_source")
            .unwrap();
        assert!(intent.payload["does"]
            .as_str()
            .unwrap()
            .contains("read-only"));

        // Rollback after writes reached the target: the whole plan, in order, then quiet.
        log = stored(log, new_events);
        b.on_command(
            &cmd(2, Role::Operator, Action::Rollback, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let mut undo = Vec::new();
        for _ in 0..10 {
            for w in &b.tick(now, wall()).works {
                undo.push(w.step.as_str());
                b.on_work(w, cut_ok("undone"), now, wall());
            }
            now += 5.0;
        }
        assert_eq!(
            undo,
            [
                "rollback.drain_target",
                "rollback.reverse_sync",
                "rollback.dns_back",
                "rollback.source_writes_on"
            ]
        );
        assert!(b.idle());
        let _ = log;
    }
}
