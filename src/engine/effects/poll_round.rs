//! One polling round against DRS, as [`poll_plan::plan_round`] splits it: the tenant job list for
//! statuses (100 jobs per call), batch-progress for the looks that need progress or lag (10 per
//! call, within the round's budget), and batch-status only to confirm a job the list did not
//! return (gone, or not listed yet).

use super::ctx::fail_of;
use crate::drs::codes::is_gone;
use crate::drs::job_kind::{drs_types, list_request};
use crate::drs::model::JobId;
use crate::drs::{DrsClient, DrsError};
use crate::engine::brain::{Fail, Look, Seen};
use crate::engine::classify::ErrorClass;
use crate::engine::poll_plan::{self, Ask};
use crate::inventory::model::Engine;
use futures::StreamExt;
use std::collections::HashMap;

/// Job-list calls in flight at once (batch-progress has its own limit in `DrsClient::poll`).
const LIST_PARALLELISM: usize = 4;

fn job_seen(status: String, progress_pct: Option<f64>, lag_s: Option<f64>) -> Seen {
    Seen::Job {
        status: crate::drs::model::JobStatus::parse(&status),
        progress_pct,
        lag_s,
    }
}

fn item_seen(call: &str, job: &str, code: String, message: String) -> Seen {
    if is_gone(&code) {
        return Seen::Gone;
    }
    Seen::Err(fail_of(&DrsError::Item {
        call: call.into(),
        job: job.to_string(),
        code,
        message,
    }))
}

/// Run one round over `looks` (each with its database's engine, which names the job's DRS
/// `db_use_type` and `engine_type`); returns what each saw, in the order given.
/// `progress_calls`: the round's batch-progress budget.
pub async fn round(drs: &DrsClient, looks: &[(Look, Engine)], progress_calls: usize) -> Vec<Seen> {
    let asks: Vec<Ask> = looks
        .iter()
        .map(|(l, engine)| Ask {
            use_type: drs_types(*engine).0,
            progress: l.progress,
            urgency: l.urgency,
            overdue_s: l.overdue_s,
        })
        .collect();
    let plan = poll_plan::plan_round(&asks, progress_calls);
    let mut seen: Vec<Option<Seen>> = vec![None; looks.len()];

    // batch-progress: the plan's calls are chunks of at most 10, so `poll` makes as many.
    let by_progress: Vec<usize> = plan.progress.concat();
    let progress = async {
        if by_progress.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<JobId> = by_progress
            .iter()
            .map(|&i| JobId(looks[i].0.job.clone()))
            .collect();
        drs.poll(&ids).await
    };
    // Futures built up front (not in a stream's closure): the task stays `Send` for spawn.
    let list_calls: Vec<_> = plan
        .lists
        .iter()
        .enumerate()
        .map(|(k, (_, page))| {
            // A page holds one db_use_type, and so one engine (the plan makes no empty page).
            let req = list_request(
                looks[page[0]].1,
                1,
                poll_plan::LIST_PAGE as u32,
                Some(
                    page.iter()
                        .map(|&i| looks[i].0.job.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            );
            async move { (k, drs.list_jobs(&req).await) }
        })
        .collect();
    let lists = futures::stream::iter(list_calls)
        .buffer_unordered(LIST_PARALLELISM)
        .collect::<Vec<_>>();
    let (progress, lists) = futures::join!(progress, lists);

    match progress {
        Ok(snaps) => {
            for (&i, s) in by_progress.iter().zip(snaps) {
                seen[i] = Some(match s.error {
                    Some((code, msg)) => item_seen("batch-progress", &looks[i].0.job, code, msg),
                    None => job_seen(
                        s.status
                            .map(|st| st.as_str().to_string())
                            .unwrap_or_default(),
                        s.full_pct,
                        s.lag_s,
                    ),
                });
            }
        }
        Err(e) => {
            let f = fail_of(&e);
            for &i in &by_progress {
                seen[i] = Some(Seen::Err(f.clone()));
            }
        }
    }

    let mut unlisted: Vec<usize> = Vec::new();
    for (k, r) in lists {
        let page = &plan.lists[k].1;
        match r {
            Ok(resp) => {
                let mut status: HashMap<&str, &str> = resp
                    .jobs
                    .iter()
                    .map(|j| (j.id.as_str(), j.status.as_str()))
                    .collect();
                for &i in page {
                    match status.remove(looks[i].0.job.as_str()) {
                        Some(st) => seen[i] = Some(job_seen(st.to_string(), None, None)),
                        None => unlisted.push(i),
                    }
                }
            }
            Err(e) => {
                let f = fail_of(&e);
                for &i in page {
                    seen[i] = Some(Seen::Err(f.clone()));
                }
            }
        }
    }

    // The list leaves out deleted jobs (and a real DRS may list a new job late): ask those
    // one by one in batch-status, which names a missing job with its error code.
    if !unlisted.is_empty() {
        let ids: Vec<JobId> = unlisted
            .iter()
            .map(|&i| JobId(looks[i].0.job.clone()))
            .collect();
        match drs.batch_status(&ids).await {
            Ok(results) => {
                let mut by_id: HashMap<String, _> =
                    results.into_iter().map(|r| (r.id.clone(), r)).collect();
                for &i in &unlisted {
                    let job = &looks[i].0.job;
                    seen[i] = Some(match by_id.remove(job) {
                        Some(r) => match (r.status, r.error_code.filter(|c| !c.is_empty())) {
                            (_, Some(code)) => item_seen(
                                "batch-status",
                                job,
                                code,
                                r.error_message.unwrap_or_default(),
                            ),
                            (Some(st), None) => job_seen(st.as_str().to_string(), None, None),
                            (None, None) => {
                                item_seen("batch-status", job, String::new(), "no status".into())
                            }
                        },
                        None => item_seen(
                            "batch-status",
                            job,
                            String::new(),
                            "the job is missing from DRS's answer".into(),
                        ),
                    });
                }
            }
            Err(e) => {
                let f = fail_of(&e);
                for &i in &unlisted {
                    seen[i] = Some(Seen::Err(f.clone()));
                }
            }
        }
    }

    // Every ask is in exactly one call of the plan; a look left over is a bug, not the job's.
    seen.into_iter()
        .map(|s| {
            s.unwrap_or_else(|| {
                Seen::Err(Fail {
                    class: ErrorClass::Retryable,
                    words: "the polling round left this look out; looking again".into(),
                })
            })
        })
        .collect()
}
