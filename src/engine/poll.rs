//! How often each database is looked at, and how looks are batched into DRS calls.
//!
//! A database in full load for hours needs a look every half minute; one whose lag is about to
//! pass the cutover gate needs one every few seconds. Intervals adapt to the stage and to what
//! the last look saw, are compressed by the time scale (rehearsals with a fast emulator), and
//! stretch while DRS is rate limiting.

use crate::lifecycle::Stage;
use std::time::Duration;

/// DRS batch APIs take at most this many jobs per call.
pub const DRS_BATCH: usize = 10;

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
    let scale = if time_scale.is_finite() && time_scale > 0.0 {
        time_scale
    } else {
        1.0
    };
    let slow = if slowdown.is_finite() {
        slowdown.clamp(1.0, 64.0)
    } else {
        1.0
    };
    let secs = (s.max(0.0) / scale * slow).max(0.02);
    Duration::from_secs_f64(secs)
}

/// Number of batch calls one round of `n` jobs costs.
pub fn calls_for(n: usize) -> usize {
    n.div_ceil(DRS_BATCH)
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

    #[test]
    fn a_round_of_2000_jobs_costs_200_calls_and_in_flight_bounds_it() {
        assert_eq!(calls_for(0), 0);
        assert_eq!(calls_for(1), 1);
        assert_eq!(calls_for(10), 1);
        assert_eq!(calls_for(11), 2);
        assert_eq!(calls_for(2000), 200);
        // With the DRS concurrency limit (default 50) only that many are in flight.
        assert_eq!(calls_for(50), 5);
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
