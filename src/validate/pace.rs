//! `validation.max_rows_per_s`: the rows a validation run may read per second from one side,
//! shared by every session of that side, so that validation never takes more from a
//! production source than the operator allows.
//!
//! A reader takes rows as it decodes them and, past the pace, waits before it decodes more:
//! its channel fills, its socket fills, and the server's COPY or SELECT blocks on the write.
//! The server is held back, not only the client.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The schedule alone (pure): every batch of rows is given its share of time after the end of
/// the batches before it, never before now (an idle reader earns no burst).
#[derive(Debug)]
pub struct Schedule {
    per_row: Duration,
    /// When the rows granted so far have been paid for.
    until: Option<Instant>,
}

impl Schedule {
    pub fn new(rows_per_s: u64) -> Schedule {
        Schedule {
            per_row: Duration::from_secs_f64(1.0 / rows_per_s.max(1) as f64),
            until: None,
        }
    }

    /// Grant `rows` read at `now`: the moment the reader may go on.
    pub fn grant(&mut self, now: Instant, rows: u64) -> Instant {
        let from = self.until.map_or(now, |u| u.max(now));
        let until = from + self.per_row.mul_f64(rows as f64);
        self.until = Some(until);
        until
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

    /// Wait until `rows` just read fit in the limit.
    pub async fn take(&self, rows: u64) {
        if rows == 0 {
            return;
        }
        let until = self
            .schedule
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .grant(Instant::now(), rows);
        tokio::time::sleep_until(until.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_spaced_by_their_rows_and_an_idle_reader_earns_no_burst() {
        let t0 = Instant::now();
        let mut s = Schedule::new(1_000);
        // Two readers taking 500 rows each at the same moment: the second waits for the first.
        assert_eq!(s.grant(t0, 500), t0 + Duration::from_millis(500));
        assert_eq!(s.grant(t0, 500), t0 + Duration::from_secs(1));
        // 3 s idle: the next batch is paid from now, not from the past.
        let later = t0 + Duration::from_secs(4);
        assert_eq!(s.grant(later, 100), later + Duration::from_millis(100));
        // 10 000 rows at 1000 rows/s take 10 s whatever the batch sizes.
        let mut s = Schedule::new(1_000);
        let mut end = t0;
        for n in [1u64, 999, 4_000, 3_000, 2_000] {
            end = s.grant(t0, n);
        }
        assert_eq!(end, t0 + Duration::from_secs(10));
    }

    #[test]
    fn zero_is_no_limit() {
        assert!(Pace::new(0).is_none());
        assert_eq!(Pace::new(5).unwrap().rows_per_s(), 5);
    }
}
