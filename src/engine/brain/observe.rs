//! What comes back: a work's result (success, retry with backoff, failure in words), a report
//! merged from its SQL and DRS halves, and what a look saw of a DRS job (progress, lag, states,
//! the end of a stage).

use super::memory::*;
use super::protocol::*;
use super::{ev, Brain};
use crate::config::ChecksMode;
use crate::drs::model::JobStatus;
use crate::engine::classify::ErrorClass;
use crate::engine::poll_plan::{self};
use crate::lifecycle::{JobPhase, Stage, Trigger};
use crate::store::event::{Body, CheckReport, JobStatusSeen, Lag, Progress, StepOutcome};
use crate::store::Role;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::json;

/// Tries of a step that could not decide for lag ([`ErrorClass::Waiting`]) before the database
/// fails with the reason. Each waits the retry backoff (capped by `engine.retry_cap_s`) and the
/// live gate itself waits up to `validation.recheck_wait_s` for its position: hours of a
/// replication that does not move, not a workload's usual lag.
pub(super) const WAIT_TRIES: u32 = 20;

impl Brain {
    /// Fail the current step: retry later, or move to `failed` with the words.
    pub(super) fn fail(
        &mut self,
        id: &str,
        fail: &Fail,
        now: f64,
        wall: DateTime<Utc>,
    ) -> Option<f64> {
        let draw: f64 = self.rng.gen();
        let scale = self.settings.time_scale;
        let backoff = self.settings.backoff;
        let d = self.dbs.get_mut(id)?;
        match fail.class {
            ErrorClass::Throttled => {
                self.slowdown.throttled();
                let wait = backoff.delay(1, draw).as_secs_f64() * self.slowdown.0 / scale;
                d.not_before = now + wait;
                Some(wait)
            }
            ErrorClass::Retryable if backoff.allows(d.retries) => {
                d.retries += 1;
                let wait = backoff.delay(d.retries, draw).as_secs_f64() / scale;
                d.not_before = now + wait;
                Some(wait)
            }
            // The same capped backoff as a retry, on its own count.
            ErrorClass::Waiting if d.waits < WAIT_TRIES => {
                d.waits += 1;
                let wait = backoff.delay(d.waits, draw).as_secs_f64() / scale;
                d.not_before = now + wait;
                Some(wait)
            }
            _ => {
                let words = match fail.class {
                    ErrorClass::Retryable => {
                        format!("{} (gave up after {} retries)", fail.words, d.retries)
                    }
                    ErrorClass::Waiting => format!(
                        "{} (still not decided after {} tries: look at the replication's lag \
                         and position, then retry)",
                        fail.words, d.waits
                    ),
                    _ => fail.words.clone(),
                };
                // Where the table has no way to `failed` (a pause that keeps failing), wait long.
                d.not_before = now + backoff.cap.as_secs_f64() / scale;
                let _ =
                    self.transition(id, Trigger::StepFailed, &words, wall, Role::Operator, None);
                None
            }
        }
    }

    /// A work came back: write its outcome and move on.
    pub fn on_work(&mut self, w: &Work, result: WorkResult, now: f64, wall: DateTime<Utc>) {
        let Some(d) = self.dbs.get_mut(&w.db) else {
            return;
        };
        d.busy = false;
        if d.open.map(|o| o.0) == Some(w.step) {
            d.open = None;
        }
        match result {
            WorkResult::Ok {
                job,
                report,
                recovered,
            } => {
                let both = self.settings.checks == ChecksMode::Both;
                let mut o = StepOutcome::ok(w.step.as_str(), w.attempt);
                o.recovered = recovered || w.resumed;
                o.drs_job_id = job.clone();
                if let Some(r) = &report {
                    o.passed = Some(r.passed);
                    o.summary = Some(r.summary.clone());
                    // A check's detail goes into its db.precheck / db.validation event; any
                    // other step's (a DNS change, a drain, a final sync) stays in its outcome.
                    // A half that waits for DRS's keeps it in its outcome too: only the store
                    // holds it across a restart until the merged report is filed.
                    if !w.step.reports_check() || waits_for_drs(d, w.step, both) {
                        o.detail = Some(r.detail.clone());
                    }
                }
                self.out.push(ev(Some(&w.db), d.wave, Body::StepOutcome(o)));
                apply_done(d, w.step, job, wall);
                d.not_before = 0.0;
                if let Some(r) = report.filter(|_| w.step.reports_check()) {
                    self.on_report(&w.db, w.step, r, wall);
                }
            }
            WorkResult::Err(f) => {
                let retry_in = self.fail_preview(&w.db, &f);
                let d = self.dbs.get_mut(&w.db).expect("checked above");
                let o = StepOutcome {
                    ok: false,
                    error: Some(f.words.clone()),
                    class: Some(class_name(f.class).to_string()),
                    will_retry: retry_in,
                    ..StepOutcome::ok(w.step.as_str(), w.attempt)
                };
                self.out.push(ev(Some(&w.db), d.wave, Body::StepOutcome(o)));
                // A pause or resume that fails leaves the database where it is; the step is
                // tried again on the next rounds like any other.
                self.fail(&w.db, &f, now, wall);
            }
        }
    }

    pub(super) fn fail_preview(&self, id: &str, f: &Fail) -> Option<bool> {
        let d = self.dbs.get(id)?;
        match f.class {
            ErrorClass::Throttled => Some(true),
            ErrorClass::Retryable if self.settings.backoff.allows(d.retries) => Some(true),
            ErrorClass::Waiting if d.waits < WAIT_TRIES => Some(true),
            _ => None,
        }
    }

    /// A pre-check or validation report, from SQL work or a DRS look.
    pub(super) fn on_report(&mut self, id: &str, step: EffectStep, r: Report, wall: DateTime<Utc>) {
        let both = self.settings.checks == ChecksMode::Both;
        let Some(d) = self.dbs.get_mut(id) else {
            return;
        };
        let is_validation = matches!(step, EffectStep::Compare | EffectStep::SqlValidate);
        if waits_for_drs(d, step, both) {
            d.partial = Some((step, r));
            return;
        }
        let r = match d.partial.take() {
            Some((half, p)) => merged(half, p, r),
            None => r,
        };
        let report = CheckReport {
            passed: r.passed,
            summary: r.summary.clone(),
            detail: r.detail.clone(),
        };
        self.out.push(ev(
            Some(id),
            d.wave,
            if is_validation {
                Body::Validation(report)
            } else {
                Body::Precheck(report)
            },
        ));
        // Inside an offline cutover a passed check moves nothing: the cutover goes on.
        let in_cutover = d.pos.stage == Stage::Cutover;
        if is_validation {
            d.validation = Some((r.passed, wall));
            d.cut_validated = r.passed;
            if in_cutover && r.passed {
                return;
            }
            let trig = if r.passed {
                Trigger::StepSucceeded
            } else {
                Trigger::ValidationFailed
            };
            let words = if r.passed {
                format!("validation passed: {}", r.summary)
            } else {
                format!(
                    "validation found differences: {} (fix the target, then retry)",
                    r.summary
                )
            };
            let _ = self.transition(id, trig, &words, wall, Role::Operator, None);
        } else if r.passed {
            d.job_prechecked = true;
            if in_cutover {
                return;
            }
            let _ = self.transition(
                id,
                Trigger::StepSucceeded,
                &format!("pre-checks passed: {}", r.summary),
                wall,
                Role::Operator,
                None,
            );
        } else {
            d.job_prechecked = false;
            // The cutover's exposure re-check says which rule or address to fix, in the words
            // of the SQL cutover's guards step.
            let refusal = if in_cutover && step == EffectStep::ExposureCheck {
                serde_json::from_value::<Vec<crate::checks::CheckResult>>(r.detail.clone())
                    .ok()
                    .and_then(|results| crate::checks::exposure::refusal(&results))
            } else {
                None
            };
            let words = if in_cutover && !d.source_drained {
                format!(
                    "cutover stopped before the drain, nothing touched: {} (fix it, then retry)",
                    refusal.unwrap_or_else(|| r.summary.clone())
                )
            } else {
                format!(
                    "pre-checks failed: {} (fix the cause, then retry)",
                    r.summary
                )
            };
            let _ = self.transition(id, Trigger::StepFailed, &words, wall, Role::Operator, None);
        }
    }

    /// A look came back.
    pub fn on_seen(
        &mut self,
        db: &str,
        kind_: LookKind,
        seen: Seen,
        now: f64,
        wall: DateTime<Utc>,
    ) {
        let poll = self.settings.poll;
        let scale = self.settings.time_scale;
        let Some(d) = self.dbs.get_mut(db) else {
            return;
        };
        d.busy = false;
        match seen {
            Seen::Err(f) => {
                if f.class == ErrorClass::Throttled {
                    self.slowdown.throttled();
                }
                // A failed look changes nothing in the world: look again after a pause,
                // without spending the step's retries unless the failure is fatal.
                if f.class == ErrorClass::Fatal {
                    let _ = self.transition(
                        db,
                        Trigger::StepFailed,
                        &f.words,
                        wall,
                        Role::Operator,
                        None,
                    );
                } else {
                    let iv = poll_plan::next_interval(
                        d.pos.stage,
                        d.seen,
                        d.max_lag_s,
                        &poll,
                        scale,
                        self.slowdown.0,
                    );
                    d.not_before = now + iv.as_secs_f64();
                }
            }
            Seen::Gone => {
                d.job_released = true;
                d.job_terminated = true;
                let stage = d.pos.stage;
                if matches!(stage, Stage::Aborted | Stage::Completed | Stage::RolledBack) {
                    d.job = None;
                    d.job_started = false;
                    return;
                }
                if stage == Stage::Cutover {
                    return;
                }
                d.job = None;
                d.job_started = false;
                let _ = self.transition(db, Trigger::StepFailed, "the DRS job no longer exists (deleted outside wavedeck?): retry the database to create it again", wall, Role::Operator, None);
            }
            Seen::Report { finished, report } => {
                if !finished {
                    let iv = poll_plan::next_interval(
                        d.pos.stage,
                        d.seen,
                        d.max_lag_s,
                        &poll,
                        scale,
                        self.slowdown.0,
                    );
                    d.not_before = now + iv.as_secs_f64();
                    return;
                }
                let step = match kind_ {
                    LookKind::Compare => EffectStep::Compare,
                    _ => EffectStep::DrsPrecheck,
                };
                self.slowdown.succeeded();
                self.on_report(db, step, report, wall);
            }
            Seen::Job {
                status,
                progress_pct,
                lag_s,
            } => {
                self.slowdown.succeeded();
                self.on_job(db, &status, progress_pct, lag_s, now, wall);
            }
        }
    }

    pub(super) fn on_job(
        &mut self,
        id: &str,
        status: &JobStatus,
        pct: Option<f64>,
        lag: Option<f64>,
        now: f64,
        wall: DateTime<Utc>,
    ) {
        let poll = self.settings.poll;
        let scale = self.settings.time_scale;
        let slow = self.slowdown.0;
        let Some(d) = self.dbs.get_mut(id) else {
            return;
        };
        let stage = d.pos.stage;
        // An offline database loads inside its cutover: its load's progress is recorded as an
        // online full load's is, for the cockpit and the evidence.
        let loading = stage == Stage::FullLoad || (offline_cutover(d) && d.job_started);
        let got_progress = pct.is_some() || lag.is_some();
        if let Some(p) = pct {
            if let Some((p0, t0)) = d.last_pct {
                if p > p0 && now > t0 {
                    d.pct_rate = Some((p - p0) / (now - t0));
                }
            }
            d.last_pct = Some((p, now));
            d.seen.progress_pct = Some(p);
            if loading
                && (p - d.last_progress_evt >= 5.0 || (p >= 100.0 && d.last_progress_evt < 100.0))
            {
                d.last_progress_evt = p;
                self.out.push(ev(
                    Some(id),
                    d.wave,
                    Body::Progress(Progress { pct: p, mbps: None }),
                ));
            }
        }
        // `-1` means "not in CDC yet" (research §2.4).
        let lag = lag.filter(|l| *l >= 0.0 && l.is_finite());
        if let Some(l) = lag {
            d.seen.lag_s = Some(l);
            self.lag_samples.push((id.to_string(), l));
            let significant = match d.last_lag_evt {
                None => true,
                Some((last, at)) => {
                    (l - last).abs() >= (0.1 * last).max(0.5)
                        || (l <= d.max_lag_s) != (last <= d.max_lag_s)
                        || (l != last && now - at >= 60.0 / scale)
                }
            };
            if significant {
                d.last_lag_evt = Some((l, now));
                self.out
                    .push(ev(Some(id), d.wave, Body::Lag(Lag { lag_s: l })));
            }
            // DRS reports whole seconds: "0" is as close to zero as it says.
            if stage == Stage::Cutover {
                if l < 1.0 {
                    d.lag_zero_since.get_or_insert(now);
                } else {
                    d.lag_zero_since = None;
                }
            }
        }
        d.job_failed = false;
        if d.job_status.as_ref() != Some(status) {
            let seen = JobStatusSeen {
                status: status.clone(),
                drs_job_id: d.job.clone(),
            };
            self.out.push(ev(Some(id), d.wave, Body::JobStatus(seen)));
        }
        d.job_status = Some(status.clone());
        if loading && full_load_done(d) && d.last_progress_evt < 100.0 {
            // A look without progress saw the load end: its end is on the record all the same.
            d.last_progress_evt = 100.0;
            let done = Progress {
                pct: 100.0,
                mbps: None,
            };
            self.out.push(ev(Some(id), d.wave, Body::Progress(done)));
        }
        let phase = JobPhase::of(status);
        if phase == JobPhase::CreateFailed {
            // DRS holds no instance for it: nothing to terminate, nothing counted.
            d.job_released = true;
            d.job_terminated = true;
            let f = Fail {
                class: ErrorClass::Fatal,
                words: format!(
                    "DRS could not create the replication instance for job {} (CREATE_FAILED): check quotas and network, then retry (the job is deleted and created again)",
                    d.job.clone().unwrap_or_default()
                ),
            };
            self.fail(id, &f, now, wall);
            return;
        }
        if phase == JobPhase::Released {
            d.job_released = true;
            d.job_terminated = true;
        } else if phase == JobPhase::Pausing && stage != Stage::Paused {
            d.job_paused = true;
        } else if phase == JobPhase::Failed && !d.job_terminated {
            d.job_failed = true;
        }
        let iv = poll_plan::next_interval(stage, d.seen, d.max_lag_s, &poll, scale, slow);
        d.not_before = now + iv.as_secs_f64();
        if got_progress {
            let piv = poll_plan::progress_interval(
                stage,
                d.seen,
                d.pct_rate,
                d.max_lag_s,
                &poll,
                scale,
                slow,
            );
            d.progress_at = now + piv.as_secs_f64();
        } else if poll_plan::wants_progress(stage) && now >= d.progress_at {
            // The round had no room for its progress: ask again in the next one.
            d.not_before = now;
        }
        if d.job_failed && stage != Stage::Paused {
            let f = Fail {
                class: ErrorClass::Retryable,
                words: format!("DRS job {} is {status}", d.job.clone().unwrap_or_default()),
            };
            self.fail(id, &f, now, wall);
            return;
        }
        let advance = match stage {
            Stage::Provisioning => matches!(phase, JobPhase::Running { .. }),
            Stage::FullLoad => phase == JobPhase::Running { cdc: true },
            // A fresh lag reading in CDC: the table's lag guard judges it against the
            // database's own limit, as it does for a cutover.
            Stage::Cdc => phase == JobPhase::Running { cdc: true } && lag.is_some(),
            _ => false,
        };
        if advance {
            if stage == Stage::FullLoad && d.last_progress_evt < 100.0 {
                d.last_progress_evt = 100.0;
                let done = Progress {
                    pct: 100.0,
                    mbps: None,
                };
                self.out.push(ev(Some(id), d.wave, Body::Progress(done)));
            }
            let reason = match stage {
                Stage::Provisioning => format!("DRS job started ({status})"),
                Stage::FullLoad => "full load complete; CDC running".to_string(),
                _ => format!("lag {:.1} s within {} s", lag.unwrap_or(0.0), d.max_lag_s),
            };
            let _ = self.transition(
                id,
                Trigger::StepSucceeded,
                &reason,
                wall,
                Role::Operator,
                None,
            );
        }
    }
}

/// wavedeck's half (made by `half`) and DRS's as one report: both must pass.
fn merged(half: EffectStep, local: Report, drs: Report) -> Report {
    let key = half.half_key();
    Report {
        passed: local.passed && drs.passed,
        summary: format!("{key}: {}; drs: {}", local.summary, drs.summary),
        detail: json!({key: local.detail, "drs": drs.detail}),
    }
}

pub(super) fn class_name(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::Retryable => "retryable",
        ErrorClass::Throttled => "throttled",
        ErrorClass::Fatal => "fatal",
        ErrorClass::Waiting => StepOutcome::WAITING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::brain::test_support::*;

    /// DRS's model says a CREATE_FAILED job holds no instance; the brain must read it the same
    /// way (it counted it against `limits.drs_concurrency`, and terminated a job with nothing
    /// to terminate), and say on the record what DRS reported.
    #[test]
    fn create_failed_holds_no_drs_instance() {
        let mut a = seed("a", 0, Criticality::Low, 1.0);
        a.stage = Stage::Prechecks;
        a.job = Some("job-a".into());
        let mut b = brain(ChecksMode::Drs, vec![a]);
        assert_eq!(b.load_now().drs_jobs, 1);
        b.on_seen(
            "a",
            LookKind::Job,
            Seen::Job {
                status: JobStatus::CreateFailed,
                progress_pct: None,
                lag_s: None,
            },
            0.0,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Failed);
        assert_eq!(b.load_now().drs_jobs, 0, "no DRS instance is held");
        let evs = b.take_events();
        let st = evs
            .iter()
            .find(|e| e.kind == kind::DB_JOB_STATUS)
            .expect("the status DRS reported is written");
        assert_eq!(st.payload["status"], "CREATE_FAILED");
        // Aborting it deletes the job without a terminate first.
        b.on_command(
            &cmd(1, Role::Operator, Action::Abort, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let plan = b.tick(10.0, wall());
        assert_eq!(
            plan.works.iter().map(|w| w.step).collect::<Vec<_>>(),
            vec![EffectStep::DeleteJob]
        );
    }

    #[test]
    fn retryable_failures_back_off_then_fail_in_plain_words() {
        let mut b = brain(ChecksMode::Drs, vec![seed("a", 0, Criticality::Low, 1.0)]);
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        let transient = Fail {
            class: ErrorClass::Retryable,
            words: "HTTP 503: busy".into(),
        };
        let mut now = 0.0;
        for attempt in 0..=2u32 {
            let p = b.tick(now, wall());
            assert_eq!(p.works.len(), 1, "attempt {attempt}");
            assert_eq!(p.works[0].attempt, attempt);
            b.on_work(&p.works[0], WorkResult::Err(transient.clone()), now, wall());
            // Not due again right away: the backoff holds it.
            assert!(b.tick(now, wall()).works.is_empty());
            now += 100.0;
        }
        let pos = b.stage_of("a").unwrap();
        assert_eq!(pos, Position::failed_in(Stage::Prechecks));
        let ev = b.take_events();
        let failed = ev.iter().find(|e| e.payload["to"] == "failed").unwrap();
        let words = failed.payload["error"].as_str().unwrap();
        assert!(
            words.contains("503") && words.contains("gave up after 2 retries"),
            "{words}"
        );
        let outcomes: Vec<&NewEvent> = ev.iter().filter(|e| e.kind == kind::STEP_OUTCOME).collect();
        assert_eq!(outcomes.len(), 3);
        assert_eq!(outcomes[0].payload["will_retry"], true);
        // Retry by the operator goes back to the stage it failed in, with fresh retries.
        b.on_command(
            &cmd(2, Role::Operator, Action::Retry, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Prechecks);
        let p = b.tick(now, wall());
        assert_eq!(
            (p.works[0].step, p.works[0].attempt),
            (EffectStep::ExposureCheck, 0)
        );
    }

    #[test]
    fn fatal_failures_fail_at_once_and_throttling_costs_no_retry() {
        let mut b = brain(
            ChecksMode::Drs,
            vec![
                seed("a", 0, Criticality::Low, 1.0),
                seed("b", 0, Criticality::Low, 1.0),
            ],
        );
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        let p = b.tick(0.0, wall());
        let wa = p.works.iter().find(|w| w.db == "a").unwrap().clone();
        let wb = p.works.iter().find(|w| w.db == "b").unwrap().clone();
        b.on_work(
            &wa,
            WorkResult::Err(Fail {
                class: ErrorClass::Fatal,
                words: "bad key".into(),
            }),
            0.0,
            wall(),
        );
        assert_eq!(b.stage_of("a").unwrap().stage, Stage::Failed);
        b.on_work(
            &wb,
            WorkResult::Err(Fail {
                class: ErrorClass::Throttled,
                words: "429".into(),
            }),
            0.0,
            wall(),
        );
        assert_eq!(b.stage_of("b").unwrap().stage, Stage::Prechecks);
        assert!(b.slowdown.0 > 1.0);
        let p = b.tick(1000.0, wall());
        assert_eq!(
            p.works[0].attempt, 0,
            "throttling is not the database's fault"
        );
    }

    /// CDC hands over to validation by the table's lag guard: within the database's own limit
    /// (`overrides.max_cutover_lag_s`) when it has one, else the global one.
    #[test]
    fn cdc_ends_within_the_databases_own_lag_limit() {
        let at_cdc = |own: Option<f64>| {
            let mut s = seed("a", 0, Criticality::Low, 1.0);
            s.stage = Stage::Cdc;
            s.job = Some("job-a".into());
            s.max_lag_s = own;
            let mut b = Brain::new(settings(ChecksMode::Sql), 1);
            b.load(vec![s], vec![], &[]);
            b
        };
        let seen = || job_seen("INCRE_TRANSFER_STARTED", 100.0, 12.0);
        let mut global = at_cdc(None);
        global.on_seen("a", LookKind::Job, seen(), 1.0, wall());
        assert_eq!(
            global.stage_of("a").unwrap().stage,
            Stage::Cdc,
            "12 s > 5 s"
        );
        let mut own = at_cdc(Some(30.0));
        own.on_seen("a", LookKind::Job, seen(), 1.0, wall());
        assert_eq!(own.stage_of("a").unwrap().stage, Stage::Validation);
        let moved = own.take_events();
        assert!(
            moved
                .iter()
                .any(|e| e.kind == kind::DB_STAGE && e.payload["to"] == "validation"),
            "{:?}",
            kinds(&moved)
        );
        // Within the global limit, without an own one: on to validation too.
        let mut low = at_cdc(None);
        low.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 1.0),
            1.0,
            wall(),
        );
        assert_eq!(low.stage_of("a").unwrap().stage, Stage::Validation);
    }

    /// The live gate left "not decided: lag" is not a failure: tried again on its own
    /// schedule, many more times than `thresholds.max_retries` (2 here), each attempt still the
    /// first, also after a restart; a transient error still counts, and a real difference
    /// still fails the database at once.
    #[test]
    fn lag_undecided_gates_wait_without_spending_the_retry_budget() {
        let lag = Fail {
            class: ErrorClass::Waiting,
            words: "validation not decided: public.t: lag: slot s had confirmed lsn 0/10 of \
                    lsn 0/20 after 300 s (validation.recheck_wait_s)"
                .into(),
        };
        let mut b = validating(&[]);
        let mut now = 0.0;
        let mut log = Vec::new();
        for n in 0..6 {
            let p = b.tick(now, wall());
            assert_eq!(p.works.len(), 1, "try {n}: {:?}", b.stage_of("a"));
            assert_eq!(
                (p.works[0].step, p.works[0].attempt),
                (EffectStep::SqlValidate, 0)
            );
            b.on_work(&p.works[0], WorkResult::Err(lag.clone()), now, wall());
            assert!(b.tick(now, wall()).works.is_empty(), "it waits first");
            assert_eq!(b.stage_of("a").unwrap().stage, Stage::Validation);
            now += 1000.0;
            if n == 2 {
                // A restart in the middle replays the waits: none counts as a retry.
                log = stored(log, b.take_events());
                b = validating(&log);
            }
        }
        log = stored(log, b.take_events());
        let waits: Vec<&Event> = log
            .iter()
            .filter(|e| e.kind == kind::STEP_OUTCOME && e.payload["ok"] == false)
            .collect();
        assert_eq!(waits.len(), 6);
        for w in &waits {
            assert_eq!(w.payload["class"], "waiting", "{}", w.payload);
            assert_eq!(w.payload["will_retry"], true, "{}", w.payload);
        }
        assert!(!log.iter().any(|e| e.payload["to"] == "failed"));

        // A transient failure is a retry like any other: attempt 1.
        let p = b.tick(now, wall());
        let transient = Fail {
            class: ErrorClass::Retryable,
            words: "connection reset".into(),
        };
        b.on_work(&p.works[0], WorkResult::Err(transient), now, wall());
        now += 1000.0;
        let p = b.tick(now, wall());
        assert_eq!(p.works[0].attempt, 1);

        // A real difference fails the database at once.
        let found = WorkResult::Ok {
            job: None,
            report: Some(Report {
                passed: false,
                summary: "1 table differs: public.t id=7 changed".into(),
                detail: Value::Null,
            }),
            recovered: false,
        };
        b.on_work(&p.works[0], found, now, wall());
        assert_eq!(
            b.stage_of("a").unwrap(),
            Position::failed_in(Stage::Validation)
        );
        let ev = b.take_events();
        let failed = ev.iter().find(|e| e.payload["to"] == "failed").unwrap();
        assert!(
            failed.payload["reason"]
                .as_str()
                .is_some_and(|r| r.contains("public.t id=7")),
            "{}",
            failed.payload
        );
    }

    /// The waits have a bound: a replication that never reaches the position fails the
    /// database in the end, saying what to look at.
    #[test]
    fn a_position_never_reached_fails_after_the_wait_budget() {
        let lag = Fail {
            class: ErrorClass::Waiting,
            words: "validation not decided: public.t: lag".into(),
        };
        let mut b = validating(&[]);
        let mut now = 0.0;
        for _ in 0..=WAIT_TRIES {
            let p = b.tick(now, wall());
            assert_eq!(p.works.len(), 1);
            b.on_work(&p.works[0], WorkResult::Err(lag.clone()), now, wall());
            now += 1000.0;
        }
        assert_eq!(
            b.stage_of("a").unwrap(),
            Position::failed_in(Stage::Validation)
        );
        let ev = b.take_events();
        let failed = ev.iter().find(|e| e.payload["to"] == "failed").unwrap();
        let why = failed.payload["error"].as_str().unwrap_or_default();
        assert!(
            why.contains(&format!("still not decided after {WAIT_TRIES} tries")),
            "{why}"
        );
    }
}
