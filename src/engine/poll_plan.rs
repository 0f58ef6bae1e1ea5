//! How often each database is looked at, and how looks are batched into DRS calls.
//!
//! A database in full load for hours needs a look every half minute; one whose lag is about to
//! pass the cutover gate needs one every few seconds. Intervals adapt to the stage and to what
//! the last look saw, are compressed by the time scale (rehearsals with a fast emulator), and
//! stretch while DRS is rate limiting.
//!
//! A look needs either the job's status only, which the tenant job list gives for 100 jobs per
//! call, or its full-load progress / CDC lag too, which only batch-progress gives, 10 jobs per
//! call. Looks are gathered into rounds (`round_s`); a round asks batch-progress only for the
//! looks that need it, at most `progress_calls_per_round` calls, most urgent first; the others
//! get their status from the list and their progress in a later round. So a round over 2000
//! in-flight jobs costs about 2000/100 + 20 calls instead of 2000/10.

use crate::lifecycle::Stage;
use std::time::Duration;

/// DRS batch APIs take at most this many jobs per call.
pub const DRS_BATCH: usize = 10;

/// The tenant job list takes at most this many job ids per call (and pages by 100).
pub const LIST_PAGE: usize = 100;

/// Base intervals (seconds, real time) per stage; from `engine.poll` in the config.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollIntervals {
    /// DRS pre-check result.
    pub prechecks_s: f64,
    /// Job creation and start.
    pub provisioning_s: f64,
    /// Full-load progress.
    pub full_load_s: f64,
    /// CDC lag while catching up.
    pub cdc_s: f64,
    /// Comparison / validation results.
    pub validation_s: f64,
    /// Lag of databases waiting in `ready` (keeps the gauges alive).
    pub ready_s: f64,
    /// Lag during cutover (waiting for 0 and stable).
    pub cutover_s: f64,
    /// Lag of databases in `ready`, for the gauges (their status is looked at every `ready_s`).
    pub ready_lag_s: f64,
    /// Looks are gathered into rounds this far apart, so they share calls.
    pub round_s: f64,
    /// Most batch-progress calls (10 jobs each) one round may make; looks beyond them get their
    /// status from the job list and their progress or lag in a later round.
    pub progress_calls_per_round: u32,
}

impl Default for PollIntervals {
    fn default() -> Self {
        PollIntervals {
            prechecks_s: 10.0,
            provisioning_s: 15.0,
            full_load_s: 30.0,
            cdc_s: 10.0,
            validation_s: 15.0,
            ready_s: 30.0,
            cutover_s: 2.0,
            ready_lag_s: 120.0,
            round_s: 2.0,
            progress_calls_per_round: 20,
        }
    }
}

/// What the last look at a database saw, for choosing the next interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LastSeen {
    pub progress_pct: Option<f64>,
    pub lag_s: Option<f64>,
}

/// Real-time interval until the next look.
///
/// `time_scale`: the emulator's speed factor (1 in production); `slowdown`: 1 normally, more
/// while DRS is rate limiting. Never below 20 ms, so a huge speed factor cannot spin the CPU.
pub fn next_interval(
    stage: Stage,
    seen: LastSeen,
    gate_lag_s: f64,
    base: &PollIntervals,
    time_scale: f64,
    slowdown: f64,
) -> Duration {
    let s = match stage {
        Stage::Prechecks => base.prechecks_s,
        Stage::Provisioning => base.provisioning_s,
        // Near the end of a full load, look more often: CDC starts right after.
        Stage::FullLoad => match seen.progress_pct {
            Some(p) if p >= 90.0 => base.full_load_s / 3.0,
            _ => base.full_load_s,
        },
        // Lag near the gate: look more often so the database moves on promptly; lag far
        // above it changes slowly.
        Stage::Cdc => match seen.lag_s {
            Some(l) if l <= gate_lag_s * 2.0 => base.cdc_s / 2.0,
            Some(l) if l > gate_lag_s * 20.0 => base.cdc_s * 2.0,
            _ => base.cdc_s,
        },
        Stage::Validation => base.validation_s,
        Stage::Ready | Stage::Hypercare => base.ready_s,
        Stage::Cutover => base.cutover_s,
        _ => base.ready_s,
    };
    scale_and_slow(s, time_scale, slowdown)
}

fn valid_scale(time_scale: f64) -> f64 {
    if time_scale.is_finite() && time_scale > 0.0 {
        time_scale
    } else {
        1.0
    }
}

fn scale_and_slow(s: f64, time_scale: f64, slowdown: f64) -> Duration {
    let scale = valid_scale(time_scale);
    let slow = if slowdown.is_finite() {
        slowdown.clamp(1.0, 64.0)
    } else {
        1.0
    };
    Duration::from_secs_f64((s.max(0.0) / scale * slow).max(0.02))
}

/// Whether a look at a job in this stage wants progress or lag (batch-progress), not only
/// its status (the job list).
pub fn wants_progress(stage: Stage) -> bool {
    matches!(
        stage,
        Stage::FullLoad | Stage::Cdc | Stage::Ready | Stage::Cutover
    )
}

/// Real-time interval until the next progress or lag look.
///
/// A full load is looked at about once per 5 % of progress (its rate is known from the last
/// two looks), between `full_load_s` and 8 times that: a 500 GB load at 100 MB/s moves 5 % in
/// four minutes, and its status (failure, done) is still looked at every `full_load_s`. CDC and
/// cutover need the lag at every look; `ready` keeps the gauges alive at `ready_lag_s`.
pub fn progress_interval(
    stage: Stage,
    seen: LastSeen,
    rate_pct_per_s: Option<f64>,
    gate_lag_s: f64,
    base: &PollIntervals,
    time_scale: f64,
    slowdown: f64,
) -> Duration {
    let s = match stage {
        Stage::FullLoad => {
            if seen.progress_pct.is_some_and(|p| p >= 90.0) {
                base.full_load_s / 3.0
            } else {
                match rate_pct_per_s.filter(|r| r.is_finite() && *r > 0.0) {
                    // Rate in real seconds (as looked at): undo the time scale first.
                    Some(r) => (5.0 / r * valid_scale(time_scale))
                        .clamp(base.full_load_s, base.full_load_s * 8.0),
                    None => base.full_load_s,
                }
            }
        }
        Stage::Ready | Stage::Hypercare => base.ready_lag_s,
        _ => return next_interval(stage, seen, gate_lag_s, base, time_scale, slowdown),
    };
    scale_and_slow(s, time_scale, slowdown)
}

/// How urgently a look needs its progress or lag: higher goes first when a round cannot give
/// batch-progress to every look. A cutover waits on its lag; a CDC near the gate is about to
/// move on; a full load near its end is about to start CDC; ready only feeds gauges.
pub fn urgency(stage: Stage, seen: LastSeen, gate_lag_s: f64) -> u8 {
    match stage {
        Stage::Cutover => 5,
        Stage::Cdc => match seen.lag_s {
            Some(l) if l <= gate_lag_s * 2.0 => 4,
            _ => 3,
        },
        Stage::FullLoad => match seen.progress_pct {
            Some(p) if p >= 90.0 => 3,
            None => 2,
            _ => 1,
        },
        _ => 0,
    }
}

/// One due look at a job, as the round planner sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ask {
    /// The job's DRS `db_use_type` (the job list is filtered by it).
    pub use_type: &'static str,
    /// It wants progress or lag (batch-progress), not only the status.
    pub progress: bool,
    pub urgency: u8,
    /// Seconds it has waited past its progress time (older first among equals).
    pub overdue_s: f64,
}

/// The calls of one polling round, as indexes into the asks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundPlan {
    /// Job-list calls: (db_use_type, up to [`LIST_PAGE`] asks).
    pub lists: Vec<(&'static str, Vec<usize>)>,
    /// batch-progress calls of up to [`DRS_BATCH`] asks.
    pub progress: Vec<Vec<usize>>,
    /// Asks that wanted progress but get only their status this round.
    pub deferred: usize,
}

impl RoundPlan {
    pub fn calls(&self) -> usize {
        self.lists.len() + self.progress.len()
    }
}

/// Split one round's asks into calls: batch-progress for the most urgent asks that want it,
/// within `progress_calls`; the job list, per `db_use_type`, for everything else.
pub fn plan_round(asks: &[Ask], progress_calls: usize) -> RoundPlan {
    let mut want: Vec<usize> = (0..asks.len()).filter(|&i| asks[i].progress).collect();
    want.sort_by(|&a, &b| {
        asks[b]
            .urgency
            .cmp(&asks[a].urgency)
            .then(asks[b].overdue_s.total_cmp(&asks[a].overdue_s))
            .then(a.cmp(&b))
    });
    let room = progress_calls.saturating_mul(DRS_BATCH);
    let deferred = want.len().saturating_sub(room);
    want.truncate(room);
    let mut by_progress = vec![false; asks.len()];
    for &i in &want {
        by_progress[i] = true;
    }
    let mut lists: Vec<(&'static str, Vec<usize>)> = Vec::new();
    let mut open: std::collections::BTreeMap<&'static str, Vec<usize>> = Default::default();
    for (i, a) in asks.iter().enumerate() {
        if by_progress[i] {
            continue;
        }
        let page = open.entry(a.use_type).or_default();
        page.push(i);
        if page.len() == LIST_PAGE {
            lists.push((a.use_type, std::mem::take(page)));
        }
    }
    lists.extend(open.into_iter().filter(|(_, v)| !v.is_empty()));
    // Keep the ask order inside progress calls: the caller's order is stable and readable.
    want.sort_unstable();
    RoundPlan {
        lists,
        progress: want.chunks(DRS_BATCH).map(<[usize]>::to_vec).collect(),
        deferred,
    }
}

/// Rate-limit memory for one client: grows on 429, decays on success.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slowdown(pub f64);

impl Default for Slowdown {
    fn default() -> Self {
        Slowdown(1.0)
    }
}

impl Slowdown {
    pub fn throttled(&mut self) {
        self.0 = (self.0 * 2.0).min(64.0);
    }
    pub fn succeeded(&mut self) {
        self.0 = (self.0 * 0.8).max(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_adapt_to_what_was_seen() {
        let b = PollIntervals::default();
        let far = next_interval(
            Stage::FullLoad,
            LastSeen {
                progress_pct: Some(10.0),
                lag_s: None,
            },
            5.0,
            &b,
            1.0,
            1.0,
        );
        let near = next_interval(
            Stage::FullLoad,
            LastSeen {
                progress_pct: Some(95.0),
                lag_s: None,
            },
            5.0,
            &b,
            1.0,
            1.0,
        );
        assert!(near < far);
        let lag_big = next_interval(
            Stage::Cdc,
            LastSeen {
                progress_pct: None,
                lag_s: Some(600.0),
            },
            5.0,
            &b,
            1.0,
            1.0,
        );
        let lag_mid = next_interval(
            Stage::Cdc,
            LastSeen {
                progress_pct: None,
                lag_s: Some(30.0),
            },
            5.0,
            &b,
            1.0,
            1.0,
        );
        let lag_small = next_interval(
            Stage::Cdc,
            LastSeen {
                progress_pct: None,
                lag_s: Some(3.0),
            },
            5.0,
            &b,
            1.0,
            1.0,
        );
        assert!(lag_small < lag_mid && lag_mid < lag_big);
        let cut = next_interval(Stage::Cutover, LastSeen::default(), 5.0, &b, 1.0, 1.0);
        assert!(cut < lag_small);
    }

    #[test]
    fn time_scale_compresses_and_slowdown_stretches_with_a_floor() {
        let b = PollIntervals::default();
        let seen = LastSeen::default();
        let normal = next_interval(Stage::Validation, seen, 5.0, &b, 1.0, 1.0);
        assert_eq!(normal, Duration::from_secs(15));
        assert_eq!(
            next_interval(Stage::Validation, seen, 5.0, &b, 10.0, 1.0),
            Duration::from_millis(1500)
        );
        assert_eq!(
            next_interval(Stage::Validation, seen, 5.0, &b, 1.0, 4.0),
            Duration::from_secs(60)
        );
        assert_eq!(
            next_interval(Stage::Validation, seen, 5.0, &b, 1e9, 1.0),
            Duration::from_millis(20)
        );
        assert_eq!(
            next_interval(Stage::Validation, seen, 5.0, &b, f64::NAN, f64::NAN),
            normal
        );
    }

    fn ask(use_type: &'static str, progress: bool, urgency: u8, overdue_s: f64) -> Ask {
        Ask {
            use_type,
            progress,
            urgency,
            overdue_s,
        }
    }

    #[test]
    fn a_round_of_2000_jobs_costs_a_few_dozen_calls() {
        // Worst case: every one of 2000 in-flight jobs wants its progress in the same round.
        let asks: Vec<Ask> = (0..2000)
            .map(|i| ask(if i % 2 == 0 { "sync" } else { "migration" }, true, 1, 0.0))
            .collect();
        let p = plan_round(&asks, 20);
        assert_eq!(p.progress.len(), 20);
        assert_eq!(p.deferred, 1800);
        // 1800 by the list: 900 of each use type, 9 pages each.
        assert_eq!(p.lists.len(), 18);
        assert_eq!(p.calls(), 38);
        // Every ask is in exactly one call, each call within its API's limit.
        let mut seen = vec![0u8; asks.len()];
        for (ut, page) in &p.lists {
            assert!(page.len() <= LIST_PAGE);
            for &i in page {
                assert_eq!(asks[i].use_type, *ut);
                seen[i] += 1;
            }
        }
        for call in &p.progress {
            assert!(call.len() <= DRS_BATCH);
            for &i in call {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        // Status only: 2000 / 100 calls, nothing deferred.
        let asks: Vec<Ask> = (0..2000).map(|_| ask("sync", false, 0, 0.0)).collect();
        let p = plan_round(&asks, 20);
        assert_eq!((p.calls(), p.deferred), (20, 0));
        assert_eq!(plan_round(&[], 20).calls(), 0);
        // No progress budget: everything by the list.
        let p = plan_round(&[ask("sync", true, 5, 0.0)], 0);
        assert_eq!((p.lists.len(), p.progress.len(), p.deferred), (1, 0, 1));
    }

    #[test]
    fn progress_goes_to_the_most_urgent_then_the_longest_waiting() {
        let mut asks = vec![ask("sync", true, 1, 0.0); 25];
        asks[7] = ask("sync", true, 5, 0.0);
        asks[20] = ask("migration", true, 3, 0.0);
        asks[3] = ask("sync", true, 1, 9.0);
        asks[12] = ask("sync", false, 5, 0.0);
        let p = plan_round(&asks, 1);
        let got: Vec<usize> = p.progress.concat();
        assert_eq!(got.len(), 10);
        for must in [7, 20, 3] {
            assert!(got.contains(&must), "{must} not in {got:?}");
        }
        assert!(
            !got.contains(&12),
            "a status-only ask never takes a progress slot"
        );
        assert_eq!(p.deferred, 24 - 10);
    }

    #[test]
    fn urgency_orders_cutover_cdc_full_load_ready() {
        let at = |pct: Option<f64>, lag: Option<f64>| LastSeen {
            progress_pct: pct,
            lag_s: lag,
        };
        let cut = urgency(Stage::Cutover, at(None, Some(0.0)), 5.0);
        let near = urgency(Stage::Cdc, at(None, Some(6.0)), 5.0);
        let far = urgency(Stage::Cdc, at(None, Some(600.0)), 5.0);
        let end = urgency(Stage::FullLoad, at(Some(95.0), None), 5.0);
        let mid = urgency(Stage::FullLoad, at(Some(40.0), None), 5.0);
        let ready = urgency(Stage::Ready, at(None, Some(0.0)), 5.0);
        assert!(cut > near && near > far && far >= end && end > mid && mid > ready);
        assert!(wants_progress(Stage::Cdc) && !wants_progress(Stage::Provisioning));
    }

    #[test]
    fn full_load_progress_follows_its_rate_within_bounds() {
        let b = PollIntervals::default();
        let seen = LastSeen {
            progress_pct: Some(40.0),
            lag_s: None,
        };
        let iv = |rate| progress_interval(Stage::FullLoad, seen, rate, 5.0, &b, 1.0, 1.0);
        // 5 % per 80 s: once per 80 s.
        assert_eq!(iv(Some(0.0625)), Duration::from_secs(80));
        // Fast: never more often than full_load_s; slow: at least every 8 x full_load_s.
        assert_eq!(iv(Some(1.0)), Duration::from_secs(30));
        assert_eq!(iv(Some(1e-6)), Duration::from_secs(240));
        assert_eq!(iv(None), Duration::from_secs(30));
        // A rate measured at time scale 10 is ten times the production rate.
        assert_eq!(
            progress_interval(Stage::FullLoad, seen, Some(0.625), 5.0, &b, 10.0, 1.0),
            Duration::from_secs(8)
        );
        let ready = progress_interval(Stage::Ready, seen, None, 5.0, &b, 1.0, 1.0);
        assert_eq!(ready, Duration::from_secs(120));
        let cdc = progress_interval(Stage::Cdc, seen, None, 5.0, &b, 1.0, 1.0);
        assert_eq!(cdc, next_interval(Stage::Cdc, seen, 5.0, &b, 1.0, 1.0));
    }

    #[test]
    fn slowdown_doubles_on_throttle_and_decays() {
        let mut s = Slowdown::default();
        s.throttled();
        s.throttled();
        assert_eq!(s.0, 4.0);
        for _ in 0..100 {
            s.succeeded();
        }
        assert_eq!(s.0, 1.0);
        for _ in 0..100 {
            s.throttled();
        }
        assert_eq!(s.0, 64.0);
    }
}
