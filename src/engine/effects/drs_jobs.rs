//! Works of one step, and pre-check looks, that fall due in the same round go to DRS together.
//!
//! DRS's v3 batch APIs take up to ten jobs per call; at 2000 databases one call per job was most
//! of the engine's HTTP work (and so of its CPU). A resumed work of an action step does not join
//! a batch: it asks DRS about its own job first (`runtime::run_work`), then comes here alone.

use super::ctx::{done, fail_of, fatal, recovered, Shared};
use crate::drs::api::item_result;
use crate::drs::client::BATCH_MAX;
use crate::drs::model::{JobId, PrecheckResult};
use crate::drs::DrsError;
use crate::engine::brain::{EffectStep, Look, Report, Seen, Work, WorkResult};
use crate::inventory::DatabaseSpec;
use serde_json::json;
use std::collections::HashMap;

/// Whether a work may share a DRS call with others of its step. Creating and preparing a job
/// are safe to repeat, so even a resumed one may; an action resumed after a restart may not.
pub fn batchable(w: &Work) -> bool {
    match w.step {
        EffectStep::CreateJob | EffectStep::PrepareJob => true,
        EffectStep::DrsPrecheck
        | EffectStep::StartJob
        | EffectStep::ResumeJob
        | EffectStep::PauseJob
        | EffectStep::Terminate => !w.resumed,
        _ => false,
    }
}

/// Group works into batches: one step per batch, at most [`BATCH_MAX`] works, first come
/// first served. A work that cannot be batched is a batch of its own.
pub fn group(works: Vec<Work>) -> Vec<Vec<Work>> {
    let mut out: Vec<Vec<Work>> = Vec::new();
    let mut open: HashMap<EffectStep, usize> = HashMap::new();
    for w in works {
        if !batchable(&w) {
            out.push(vec![w]);
            continue;
        }
        match open.get(&w.step) {
            Some(&i) if out[i].len() < BATCH_MAX => out[i].push(w),
            _ => {
                open.insert(w.step, out.len());
                out.push(vec![w]);
            }
        }
    }
    out
}

/// Run one batch of works of one DRS job step; one result per work, in order.
pub async fn run(sh: &Shared, works: &[Work]) -> Vec<WorkResult> {
    let mut out: Vec<Option<WorkResult>> = vec![None; works.len()];
    let Some(step) = works.first().map(|w| w.step) else {
        return Vec::new();
    };
    match step {
        EffectStep::CreateJob => {
            let mut at = Vec::new();
            let mut specs: Vec<&DatabaseSpec> = Vec::new();
            for (i, w) in works.iter().enumerate() {
                match spec_of(sh, w) {
                    Ok(s) => {
                        at.push(i);
                        specs.push(s);
                    }
                    Err(r) => out[i] = Some(r),
                }
            }
            let answers = sh.drs.ensure_jobs(&specs, &sh.cfg.drs).await;
            for (i, r) in at.into_iter().zip(answers) {
                out[i] = Some(match r {
                    Ok(j) => WorkResult::Ok {
                        job: Some(j.id.0),
                        report: None,
                        recovered: !j.created,
                    },
                    Err(e) => WorkResult::Err(fail_of(&e)),
                });
            }
        }
        EffectStep::PrepareJob => {
            let mut at = Vec::new();
            let mut pairs = Vec::new();
            for (i, w) in works.iter().enumerate() {
                match spec_of(sh, w).and_then(|spec| Ok((spec, job_of(w)?))) {
                    Ok((spec, job)) => {
                        at.push(i);
                        pairs.push((spec.clone(), job));
                    }
                    Err(r) => out[i] = Some(r),
                }
            }
            if !pairs.is_empty() {
                // Safe to repeat (connection test, save endpoints, select the database).
                match sh.drs.prepare_jobs(&pairs, &sh.cfg.drs).await {
                    Err(e) => fill(&mut out, &at, &e),
                    Ok(answers) => {
                        for (&i, (_, job)) in at.iter().zip(&pairs) {
                            out[i] = Some(match answers.iter().find(|(id, _)| id == job) {
                                Some((_, Ok(()))) => done(),
                                Some((_, Err(e))) => WorkResult::Err(fail_of(e)),
                                None => fatal(format!(
                                    "DRS did not answer for job {job} when preparing it"
                                )),
                            });
                        }
                    }
                }
            }
        }
        EffectStep::DrsPrecheck
        | EffectStep::StartJob
        | EffectStep::ResumeJob
        | EffectStep::PauseJob
        | EffectStep::Terminate
        | EffectStep::DeleteJob => {
            let mut at = Vec::new();
            let mut jobs = Vec::new();
            for (i, w) in works.iter().enumerate() {
                match job_of(w) {
                    Ok(j) => {
                        at.push(i);
                        jobs.push(j);
                    }
                    Err(r) => out[i] = Some(r),
                }
            }
            if !jobs.is_empty() {
                let drs = &sh.drs;
                let (call, answers) = match step {
                    EffectStep::DrsPrecheck => ("batch-precheck", drs.precheck(&jobs, false).await),
                    EffectStep::StartJob => ("batch-starting", drs.start(&jobs).await),
                    EffectStep::ResumeJob => ("batch-retry-task", drs.resume(&jobs).await),
                    EffectStep::PauseJob => ("batch-pause-task", drs.pause(&jobs, false).await),
                    EffectStep::Terminate => {
                        ("batch-jobs terminate", drs.terminate(&jobs, false).await)
                    }
                    _ => ("batch-jobs delete", drs.delete(&jobs).await),
                };
                match answers {
                    Err(e) => fill(&mut out, &at, &e),
                    Ok(answers) => {
                        let gone_is_done =
                            matches!(step, EffectStep::DeleteJob | EffectStep::Terminate);
                        for (&i, job) in at.iter().zip(&jobs) {
                            out[i] = Some(match item_result(call, job, &answers) {
                                Ok(()) => done(),
                                Err(e) if e.is_not_found() && gone_is_done => recovered(),
                                Err(e) => WorkResult::Err(fail_of(&e)),
                            });
                        }
                    }
                }
            }
        }
        other => {
            for r in out.iter_mut() {
                *r = Some(fatal(format!(
                    "{} is not a DRS job step (an engine bug: it was batched)",
                    other.as_str()
                )));
            }
        }
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| fatal("the step got no answer (an engine bug)")))
        .collect()
}

/// [`run`] for one work.
pub async fn one(sh: &Shared, w: &Work) -> WorkResult {
    run(sh, std::slice::from_ref(w))
        .await
        .pop()
        .unwrap_or_else(|| fatal("the step got no answer (an engine bug)"))
}

/// The work's DRS job, or the step's failure when none is recorded.
pub(crate) fn job_of(w: &Work) -> Result<JobId, WorkResult> {
    w.job.clone().map(JobId).ok_or_else(|| {
        fatal(format!(
            "{}: no DRS job recorded for this database",
            w.step.as_str()
        ))
    })
}

/// The database's inventory entry, or the step's failure when the store lacks it.
fn spec_of<'a>(sh: &'a Shared, w: &Work) -> Result<&'a DatabaseSpec, WorkResult> {
    sh.specs.get(&w.db).ok_or_else(|| {
        fatal(format!(
            "{} is not in the store's inventory (run wavedeck init again)",
            w.db
        ))
    })
}

/// A whole call failed: every work it carried failed the same way.
fn fill(out: &mut [Option<WorkResult>], at: &[usize], e: &DrsError) {
    let f = fail_of(e);
    for &i in at {
        out[i] = Some(WorkResult::Err(f.clone()));
    }
}

/// The DRS pre-check results of up to [`BATCH_MAX`] jobs in one call; one [`Seen`] per look.
pub async fn precheck_looks(sh: &Shared, looks: &[Look]) -> Vec<Seen> {
    let jobs: Vec<JobId> = looks.iter().map(|l| JobId(l.job.clone())).collect();
    match sh.drs.precheck_results(&jobs).await {
        // A whole call's failure is no job's verdict: even a not-found here (the client asks
        // job by job when DRS refuses a call for one job) must not make every look gone.
        Err(e) => {
            let f = fail_of(&e);
            looks.iter().map(|_| Seen::Err(f.clone())).collect()
        }
        Ok(r) => jobs
            .iter()
            .zip(match_prechecks(&jobs, &r))
            .map(|(job, p)| match precheck_seen(job, p) {
                Ok(s) => s,
                Err(e) if e.is_not_found() => Seen::Gone,
                Err(e) => Seen::Err(fail_of(&e)),
            })
            .collect(),
    }
}

/// Each job's pre-check result. Results carry no job id, only `precheck_id`, which is the
/// job id in the examples DRS documents; when no result is named so, they are taken in the
/// order asked, provided there is one per job.
fn match_prechecks<'a>(jobs: &[JobId], r: &'a [PrecheckResult]) -> Vec<Option<&'a PrecheckResult>> {
    let named = r.iter().any(|p| jobs.iter().any(|j| j.0 == p.precheck_id));
    jobs.iter()
        .enumerate()
        .map(|(k, job)| {
            if named {
                r.iter().find(|p| p.precheck_id == job.0)
            } else if r.len() == jobs.len() {
                r.get(k)
            } else {
                None
            }
        })
        .collect()
}

/// What one job's pre-check result says.
pub fn precheck_seen(job: &JobId, p: Option<&PrecheckResult>) -> Result<Seen, DrsError> {
    let Some(p) = p else {
        return Ok(Seen::Report {
            finished: false,
            report: Report {
                passed: false,
                summary: "no pre-check result yet".into(),
                detail: serde_json::Value::Null,
            },
        });
    };
    if let Some(code) = p.error_code.as_deref().filter(|c| !c.is_empty()) {
        return Err(DrsError::Item {
            call: "batch-precheck-result".into(),
            job: job.0.clone(),
            code: code.to_string(),
            message: p.error_msg.clone().unwrap_or_default(),
        });
    }
    let failed: Vec<serde_json::Value> = p
        .precheck_result
        .iter()
        .filter(|i| i.result != "PASSED")
        .map(|i| json!({"item": i.item, "result": i.result, "reason": i.failed_reason}))
        .collect();
    let summary = if p.passed() {
        format!("DRS pre-check passed ({} items)", p.precheck_result.len())
    } else {
        format!(
            "DRS pre-check: {} of {} items not passed ({})",
            failed.len(),
            p.precheck_result.len(),
            failed
                .iter()
                .take(3)
                .map(|f| f["item"].as_str().unwrap_or("?").to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(Seen::Report {
        finished: p.finished(),
        report: Report {
            passed: p.passed(),
            summary,
            detail: json!({"total_passed_rate": p.total_passed_rate, "not_passed": failed}),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(db: &str, step: EffectStep, resumed: bool) -> Work {
        Work {
            db: db.into(),
            step,
            attempt: 0,
            job: Some(format!("job-{db}")),
            resumed,
            blockers: Vec::new(),
        }
    }

    #[test]
    fn precheck_results_match_by_id_else_by_order() {
        let jobs: Vec<JobId> = ["a", "b", "c"]
            .iter()
            .map(|j| JobId(j.to_string()))
            .collect();
        let res = |id: &str| PrecheckResult {
            precheck_id: id.into(),
            ..Default::default()
        };
        let ids = |m: Vec<Option<&PrecheckResult>>| -> Vec<Option<String>> {
            m.into_iter()
                .map(|p| p.map(|p| p.precheck_id.clone()))
                .collect()
        };
        // Named: each finds its own, whatever the order; a missing one waits.
        let named = [res("c"), res("a")];
        assert_eq!(
            ids(match_prechecks(&jobs, &named)),
            [Some("a".into()), None, Some("c".into())]
        );
        // Not named by job id: by order, one per job.
        let other = [res("p1"), res("p2"), res("p3")];
        assert_eq!(
            ids(match_prechecks(&jobs, &other)),
            [Some("p1".into()), Some("p2".into()), Some("p3".into())]
        );
        // Not named and not one per job: nothing can be matched safely.
        assert_eq!(ids(match_prechecks(&jobs, &other[..2])), [None, None, None]);
    }

    #[test]
    fn batches_hold_one_step_and_at_most_ten() {
        let mut works = Vec::new();
        for i in 0..23 {
            works.push(work(&format!("s{i}"), EffectStep::StartJob, false));
            if i % 2 == 0 {
                works.push(work(&format!("p{i}"), EffectStep::PrepareJob, i == 4));
            }
        }
        works.push(work("r", EffectStep::StartJob, true));
        works.push(work("v", EffectStep::SqlValidate, false));
        works.push(work("d", EffectStep::DeleteJob, false));
        let n = works.len();
        let batches = group(works.clone());
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), n);
        for b in &batches {
            assert!(!b.is_empty() && b.len() <= BATCH_MAX, "{b:?}");
            assert!(b.iter().all(|w| w.step == b[0].step));
            if b.len() > 1 {
                assert!(b.iter().all(batchable));
            }
        }
        // 23 starts in 3 batches, 12 prepares (one resumed: still safe to batch) in 2.
        let of = |s: EffectStep| {
            batches
                .iter()
                .filter(|b| b[0].step == s && batchable(&b[0]))
                .count()
        };
        assert_eq!(
            (of(EffectStep::StartJob), of(EffectStep::PrepareJob)),
            (3, 2)
        );
        // The resumed start, the validation and the delete go alone.
        for db in ["r", "v", "d"] {
            let b = batches
                .iter()
                .find(|b| b.iter().any(|w| w.db == db))
                .unwrap();
            assert_eq!(b.len(), 1, "{db}");
        }
        // Order within a step is kept.
        let starts: Vec<&str> = batches
            .iter()
            .flatten()
            .filter(|w| w.step == EffectStep::StartJob && !w.resumed)
            .map(|w| w.db.as_str())
            .collect();
        let want: Vec<String> = (0..23).map(|i| format!("s{i}")).collect();
        assert_eq!(starts, want);
    }
}
