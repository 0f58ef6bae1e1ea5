//! `validation.max_rows_per_s`: the rows a validation run may read per second from one side,
//! shared by every session of that side, so that validation never takes more from a
//! production source than the operator allows.
//!
//! A reader takes rows as it decodes them and, past the pace, waits before it decodes more:
//! its socket fills, and the server's COPY or SELECT blocks on the write.
//! The server is held back, not only the client.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far in the past a batch's share may start: the time the reader took to read it, up to
/// this. Paid from the moment of the grant, a scan whose own speed is near the limit would
/// spend its read time and then its share in turn, and run well below the limit. It is also
/// the most an idle reader may take at once beyond the limit.
pub const ALLOWANCE: Duration = Duration::from_millis(50);

/// The recent time the cockpit's wait share is taken over: long enough to smooth the turns of
/// reading and waiting, short enough to see a limit start or stop holding.
pub const WINDOW: Duration = Duration::from_secs(10);

/// The schedule alone (pure): every batch of rows is given its share of time after the end of
/// the batches before it, never before [`ALLOWANCE`] ago (an idle reader earns no more burst).
#[derive(Debug)]
pub struct Schedule {
    per_row: Duration,
    /// When the rows granted so far have been paid for.
    until: Option<Instant>,
    waits: Waits,
}

impl Schedule {
    pub fn new(rows_per_s: u64) -> Schedule {
        Schedule {
            per_row: Duration::from_secs_f64(1.0 / rows_per_s.max(1) as f64),
            until: None,
            waits: Waits::default(),
        }
    }

    /// Grant `rows` read at `now`: the moment the reader may go on.
    pub fn grant(&mut self, now: Instant, rows: u64) -> Instant {
        let earliest = now.checked_sub(ALLOWANCE).unwrap_or(now);
        let from = self.until.map_or(earliest, |u| u.max(earliest));
        let until = from + self.per_row.mul_f64(rows as f64);
        self.until = Some(until);
        self.waits.add(now, until);
        until
    }

    /// The share of the [`WINDOW`] before `now` (or of the time since the first grant, if
    /// shorter) in which some reader waited on its grant: 0 to 1.
    pub fn waiting(&mut self, now: Instant) -> f64 {
        self.waits.share(now, WINDOW)
    }

    /// All the time some reader waited on its grant, up to `now`.
    pub fn waited(&self, now: Instant) -> Duration {
        self.waits.waited(now)
    }
}
/// The wall time readers spent waiting on the schedule. A wait runs from a grant to the
/// moment it gives; waits of readers side by side overlap and are counted once, so the share
/// says how much of the time the limit held some reader back. Grants come in order (under
/// the pace's lock) and their ends never go back, so the spans are kept merged, in order.
#[derive(Debug, Default)]
struct Waits {
    /// The waits that overlap or touch are one span; at most [`SPANS_KEPT`].
    spans: VecDeque<(Instant, Instant)>,
    /// All the waiting granted so far, ends in the future included.
    total: Duration,
    first: Option<Instant>,
}

/// Disjoint waits kept: a thousand a second over a 10 s window (a grant is a buffer of
/// thousands of rows). Past it the oldest go, and the share can only read low.
const SPANS_KEPT: usize = 10_000;

impl Waits {
    fn add(&mut self, now: Instant, until: Instant) {
        self.first.get_or_insert(now);
        if until <= now {
            return;
        }
        match self.spans.back_mut() {
            Some((_, end)) if *end >= now => {
                if until > *end {
                    self.total += until - *end;
                    *end = until;
                }
            }
            _ => {
                self.total += until - now;
                self.spans.push_back((now, until));
                if self.spans.len() > SPANS_KEPT {
                    self.spans.pop_front();
                }
            }
        }
    }

    /// Waiting up to `now` since the first grant.
    fn waited(&self, now: Instant) -> Duration {
        let ahead = self.spans.back().map_or(Duration::ZERO, |&(_, end)| {
            end.saturating_duration_since(now)
        });
        self.total.saturating_sub(ahead)
    }

    /// The share of the `window` before `now` (or of the time since the first grant, if
    /// shorter) spent waiting.
    fn share(&mut self, now: Instant, window: Duration) -> f64 {
        let Some(first) = self.first else {
            return 0.0;
        };
        let from = now.checked_sub(window).unwrap_or(first).max(first);
        while self.spans.front().is_some_and(|&(_, end)| end <= from) {
            self.spans.pop_front();
        }
        let span = now.saturating_duration_since(from);
        if span.is_zero() {
            return 0.0;
        }
        let waited: Duration = self
            .spans
            .iter()
            .map(|&(s, e)| e.min(now).saturating_duration_since(s.max(from)))
            .sum();
        (waited.as_secs_f64() / span.as_secs_f64()).clamp(0.0, 1.0)
    }
}

/// One side's pace, shared by its sessions.
#[derive(Debug)]
pub struct Pace {
    rows_per_s: u64,
    schedule: Mutex<Schedule>,
}

impl Pace {
    /// None when there is no limit (`max_rows_per_s: 0`).
    pub fn new(max_rows_per_s: u64) -> Option<Pace> {
        (max_rows_per_s > 0).then(|| Pace {
            rows_per_s: max_rows_per_s,
            schedule: Mutex::new(Schedule::new(max_rows_per_s)),
        })
    }

    pub fn rows_per_s(&self) -> u64 {
        self.rows_per_s
    }

    /// See [`Schedule::waiting`].
    pub fn waiting(&self) -> f64 {
        self.schedule().waiting(Instant::now())
    }

    /// See [`Schedule::waited`].
    pub fn waited(&self) -> Duration {
        self.schedule().waited(Instant::now())
    }

    fn schedule(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until `rows` just read fit in the limit.
    pub async fn take(&self, rows: u64) {
        if rows == 0 {
            return;
        }
        // `now` is read under the lock, so grants come in the order of their moments.
        let until = self.schedule().grant(Instant::now(), rows);
        tokio::time::sleep_until(until.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_spaced_by_their_rows_and_an_idle_reader_earns_no_burst() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let a = ALLOWANCE;
        let mut s = Schedule::new(1_000);
        // Two readers taking 500 rows each at the same moment: the second waits for the first.
        assert_eq!(s.grant(t0, 500), t0 - a + Duration::from_millis(500));
        assert_eq!(s.grant(t0, 500), t0 - a + Duration::from_secs(1));
        // 3 s idle: the next batch is paid from the allowance before now, not from the past.
        let later = t0 + Duration::from_secs(4);
        assert_eq!(s.grant(later, 100), later - a + Duration::from_millis(100));
        // 10 000 rows at 1000 rows/s take 10 s whatever the batch sizes.
        let mut s = Schedule::new(1_000);
        let mut end = t0;
        for n in [1u64, 999, 4_000, 3_000, 2_000] {
            end = s.grant(t0, n);
        }
        assert_eq!(end, t0 - a + Duration::from_secs(10));
    }

    /// A reader that reads each batch in `read` and waits for its grant: the rows per second
    /// it keeps over `batches` batches of `rows`, and whether, at every grant, the rows
    /// granted so far fit the limit over the time since it started plus the allowance.
    fn reader(limit: u64, rows: u64, read: Duration, batches: u32) -> (f64, bool) {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut s = Schedule::new(limit);
        let (mut now, mut granted, mut within) = (t0, 0u64, true);
        for _ in 0..batches {
            now += read;
            let go = s.grant(now, rows);
            granted += rows;
            let allowed = limit as f64 * ((go - t0) + ALLOWANCE).as_secs_f64();
            within &= granted as f64 <= allowed + 1e-6;
            now = now.max(go);
        }
        (granted as f64 / (now - t0).as_secs_f64(), within)
    }

    #[test]
    fn the_read_time_counts_so_a_scan_near_the_limit_runs_at_the_limit() {
        // 50 rows a batch at 1000 rows/s: a 50 ms share each. Read in 40 ms (natural speed
        // 1250 rows/s), the reader keeps the limit; paid from the grant, it kept 50 / 90 ms.
        let (rate, within) = reader(1_000, 50, Duration::from_millis(40), 1_000);
        assert!(within);
        assert!((rate - 1_000.0).abs() < 5.0, "{rate:.1} rows/s");
        // Twice the limit's speed: 500 rows in 25 ms of their 50 ms share.
        let (rate, within) = reader(10_000, 500, Duration::from_millis(25), 1_000);
        assert!(within);
        assert!((rate - 10_000.0).abs() < 50.0, "{rate:.1} rows/s");
        // A reader much faster than the limit is held to it...
        let (rate, within) = reader(1_000, 100, Duration::from_millis(1), 1_000);
        assert!(within);
        assert!((rate - 1_000.0).abs() < 5.0, "{rate:.1} rows/s");
        // ...and one slower than the limit reads at its own speed.
        let (rate, within) = reader(1_000, 50, Duration::from_micros(62_500), 1_000);
        assert!(within);
        assert!((rate - 800.0).abs() < 1.0, "{rate:.1} rows/s");
    }

    #[test]
    fn the_wait_share_is_the_recent_wall_time_some_reader_waited() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let ms = Duration::from_millis;
        let at = |n: u64| t0 + ms(n);
        let mut s = Schedule::new(1_000);
        assert_eq!(s.waiting(t0), 0.0, "no grant yet");
        // A reader reads 50 rows in 10 ms and waits 40 of their 50 ms share, for 2 s.
        let mut now = t0;
        for _ in 0..40 {
            now += ms(10);
            now = now.max(s.grant(now, 50));
        }
        assert_eq!(now, at(1_960));
        let share = s.waiting(now);
        assert!((share - 0.8).abs() < 0.03, "{share}");
        assert_eq!(s.waited(now), ms(40 * 40 - 50 + 10));
        // Two readers side by side: waits that overlap count once.
        let mut s = Schedule::new(1_000);
        s.grant(t0, 500);
        s.grant(t0, 500);
        assert_eq!(s.waited(at(950)), ms(950));
        assert!((s.waiting(at(950)) - 1.0).abs() < 1e-9);
        // A wait still running counts up to now only; then 10 s of reading without waits
        // leave the window empty, while the total keeps what was waited.
        assert_eq!(s.waited(at(500)), ms(500));
        let later = at(950) + WINDOW + ms(1);
        s.grant(later, 10);
        assert_eq!(s.waiting(later + ms(1)), 0.0);
        assert_eq!(s.waited(later + ms(1)), ms(950));
        // A reader slower than the limit never waits.
        let mut s = Schedule::new(1_000);
        let mut now = t0;
        for _ in 0..100 {
            now += ms(100);
            assert!(s.grant(now, 50) <= now);
        }
        assert_eq!((s.waiting(now), s.waited(now)), (0.0, Duration::ZERO));
    }

    #[test]
    fn zero_is_no_limit() {
        assert!(Pace::new(0).is_none());
        assert_eq!(Pace::new(5).unwrap().rows_per_s(), 5);
    }
}
