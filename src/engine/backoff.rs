//! Retry delays: exponential growth, capped, with jitter so that a hundred databases failing
//! at the same second (a DRS hiccup) do not all come back at the same second.

use std::time::Duration;

/// Retry policy for one kind of step. Pure: the caller supplies the random draw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub base: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// No delay is ever longer than this.
    pub cap: Duration,
    /// Attempts allowed after the first failure; one more failure and the database is failed.
    pub max_retries: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, max_retries: u32) -> Backoff {
        Backoff {
            base,
            factor: 2.0,
            cap: cap.max(base),
            max_retries,
        }
    }

    /// Delay before retry number `attempt` (1 = first retry). `draw` is uniform in [0, 1).
    ///
    /// "Equal jitter": half the exponential delay is kept, the other half is random. Keeping
    /// half means a retry is never immediate (a struggling service gets real rest), the random
    /// half spreads a herd of retries over time.
    pub fn delay(&self, attempt: u32, draw: f64) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1).min(64) as i32);
        let full = (self.base.as_secs_f64() * exp).min(self.cap.as_secs_f64());
        let draw = if draw.is_finite() {
            draw.clamp(0.0, 1.0)
        } else {
            0.5
        };
        Duration::from_secs_f64(full / 2.0 + full / 2.0 * draw)
    }

    /// Whether one more retry is allowed after `attempts` retries already made.
    pub fn allows(&self, attempts: u32) -> bool {
        attempts < self.max_retries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Backoff {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 5)
    }

    #[test]
    fn grows_exponentially_within_the_jitter_band() {
        let p = policy();
        for attempt in 1..=5u32 {
            let full = 2f64.powi(attempt as i32 - 1);
            let lo = p.delay(attempt, 0.0).as_secs_f64();
            let hi = p.delay(attempt, 0.999_999).as_secs_f64();
            assert!((lo - full / 2.0).abs() < 1e-6, "attempt {attempt}: {lo}");
            assert!((hi - full).abs() < 1e-3, "attempt {attempt}: {hi}");
        }
    }

    #[test]
    fn never_exceeds_the_cap_even_for_huge_attempts() {
        let p = policy();
        for attempt in [7, 20, 64, 1000, u32::MAX] {
            for draw in [0.0, 0.5, 0.99] {
                assert!(p.delay(attempt, draw) <= Duration::from_secs(60));
            }
        }
        assert!(p.delay(1000, 0.0) >= Duration::from_secs(30));
    }

    #[test]
    fn a_bad_draw_does_not_panic_or_escape_the_band() {
        let p = policy();
        for draw in [f64::NAN, f64::INFINITY, -3.0, 7.0] {
            let d = p.delay(3, draw);
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_secs(4),
                "{d:?}"
            );
        }
    }

    #[test]
    fn jitter_spreads_a_herd() {
        let p = policy();
        let delays: std::collections::BTreeSet<u128> = (0..100)
            .map(|i| p.delay(4, i as f64 / 100.0).as_millis())
            .collect();
        assert!(delays.len() > 50, "only {} distinct delays", delays.len());
    }

    #[test]
    fn retries_are_counted_against_the_limit() {
        let p = policy();
        assert!(p.allows(0));
        assert!(p.allows(4));
        assert!(!p.allows(5));
        let none = Backoff::new(Duration::from_secs(1), Duration::from_secs(1), 0);
        assert!(!none.allows(0));
    }

    #[test]
    fn cap_below_base_is_raised_to_base() {
        let p = Backoff::new(Duration::from_secs(10), Duration::from_secs(1), 3);
        assert_eq!(p.cap, Duration::from_secs(10));
        assert!(p.delay(1, 0.0) >= Duration::from_secs(5));
    }
}
