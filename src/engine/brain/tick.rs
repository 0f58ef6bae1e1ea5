//! One round of the brain: admission, then the next work or look of each database that is due.

use super::memory::*;
use super::playbook::*;
use super::protocol::*;
use super::{ev, Brain};
use crate::cutover::steps::CutoverStep as CutStep;
use crate::engine::poll_plan::{self};
use crate::lifecycle::Stage;
use crate::store::event::{Body, StepIntent};
use crate::store::Role;
use chrono::{DateTime, Utc};
use std::time::Duration;

impl Brain {
    /// One round: admit waiting databases, then ask for the next work or look of each database
    /// that is due. `now` is monotonic seconds, `wall` the clock for guards.
    pub fn tick(&mut self, now: f64, wall: DateTime<Utc>) -> Plan {
        self.admit(wall);
        self.revalidate_stale(wall);
        let mut plan = Plan::default();
        let mut usage = self.usage();
        let caps = self.settings.caps;
        let round_open = now >= self.next_round;
        let mut job_looks = false;
        let ids: Vec<String> = self
            .dbs
            .values()
            .filter(|d| !d.busy && d.not_before <= now && !quiet(d))
            .map(|d| d.id.clone())
            .collect();
        for id in ids {
            let next = {
                let d = &self.dbs[&id];
                if let Some((step, attempt)) = d.open {
                    Next::Work(step, attempt, true)
                } else {
                    self.next_for(d, now, &caps, &usage)
                }
            };
            let blockers = match next {
                Next::Work(EffectStep::Cut(CutStep::Guards), ..) => {
                    self.cutover_blockers(&id, wall)
                }
                _ => Vec::new(),
            };
            let settings_poll = self.settings.poll;
            let scale = self.settings.time_scale;
            let slow = self.slowdown.0;
            let d = self.dbs.get_mut(&id).expect("id from the map");
            d.held_by = None;
            match next {
                Next::Work(step, attempt, resumed) => {
                    if step == EffectStep::StartJob
                        || (step == EffectStep::ResumeJob && d.pos.stage <= Stage::FullLoad)
                    {
                        usage.full_loads += 1;
                    }
                    if step == EffectStep::Compare || step == EffectStep::SqlValidate {
                        usage.validations += 1;
                    }
                    if !resumed {
                        let intent = StepIntent {
                            step: step.as_str().to_string(),
                            attempt,
                            stage: Some(d.pos.stage),
                            drs_job_id: d.job.clone(),
                            does: match step {
                                EffectStep::Cut(c) => Some(c.describe().to_string()),
                                EffectStep::Undo(a) => Some(a.describe().to_string()),
                                _ => None,
                            },
                            blockers: blockers.clone(),
                            detail: None,
                        };
                        self.out
                            .push(ev(Some(&id), d.wave, Body::StepIntent(intent)));
                    }
                    if let EffectStep::Cut(c) = step {
                        d.cut_started.insert(c);
                    }
                    d.open = Some((step, attempt));
                    d.busy = true;
                    plan.works.push(Work {
                        db: id.clone(),
                        step,
                        attempt,
                        job: d.job.clone(),
                        resumed,
                        blockers,
                    });
                }
                Next::Look(k) => {
                    let Some(job) = d.job.clone() else { continue };
                    let mut look = Look {
                        db: id.clone(),
                        job,
                        kind: k,
                        progress: false,
                        urgency: 0,
                        overdue_s: 0.0,
                    };
                    if k == LookKind::Job {
                        if !round_open {
                            d.not_before = self.next_round;
                            continue;
                        }
                        job_looks = true;
                        if poll_plan::wants_progress(d.pos.stage) && now >= d.progress_at {
                            look.progress = true;
                            look.urgency = poll_plan::urgency(d.pos.stage, d.seen, d.max_lag_s);
                            look.overdue_s = now - d.progress_at;
                        }
                    }
                    d.busy = true;
                    plan.looks.push(look);
                }
                Next::Advance(trigger, reason) => {
                    if let Err(why) =
                        self.transition(&id, trigger, &reason, wall, Role::Operator, None)
                    {
                        let d = self.dbs.get_mut(&id).expect("id from the map");
                        d.held_by = Some(why.reason);
                        d.not_before = now
                            + poll_plan::next_interval(
                                d.pos.stage,
                                d.seen,
                                d.max_lag_s,
                                &settings_poll,
                                scale,
                                slow,
                            )
                            .as_secs_f64();
                    }
                }
                Next::Wait(reason) => {
                    // A limit may free up any moment: check again soon, but not every tick.
                    d.held_by = Some(reason);
                    d.not_before = now + (0.5 / scale).max(0.02);
                }
                Next::Idle => {
                    let iv = poll_plan::next_interval(
                        d.pos.stage,
                        d.seen,
                        d.max_lag_s,
                        &settings_poll,
                        scale,
                        slow,
                    );
                    d.not_before = now + iv.as_secs_f64();
                }
            }
        }
        if job_looks {
            self.next_round =
                now + self.scaled(Duration::from_secs_f64(self.settings.poll.round_s.max(0.0)));
        }
        self.waves_done();
        plan
    }
}
