//! What the emulator keeps of a native job: where its databases are and what was last measured
//! ([`NativeJob`], [`WalMarks`], [`Observation`]). Below the job (`job.rs`, which holds it) and
//! the workers that fill it (`native.rs`, `my.rs`), so that neither imports the other for it.

use super::my::obs::MyObs;
use crate::cutover::context::NativeMover;
use crate::cutover::postgres::ops as pg;
use crate::cutover::side::Side;
use crate::inventory::Engine;

/// The native part of a job: where its databases are and what was last measured.
#[derive(Clone, Debug)]
pub struct NativeJob {
    /// What moves the data: logical replication (PostgreSQL) or copy + GTID replication (MySQL).
    pub engine: Engine,
    pub source: Side,
    pub target: Side,
    pub mover: NativeMover,
    /// A full-load-only job (`task_type: FULL_TRANS`, an offline migration): the tables are
    /// copied once and nothing streams after; the job rests in FULL_TRANSFER_COMPLETE.
    pub full_only: bool,
    /// The copy of a full-load-only job finished: a resume does not copy again.
    pub loaded: bool,
    /// The create request asked for a read-only target while the job runs (DRS default).
    pub target_readonly: bool,
    /// Set once a setup made the target read-only, so release lifts only what it set.
    pub readonly_set: bool,
    /// A worker task runs for this job.
    pub worker: bool,
    pub obs: Option<Observation>,
    /// Since when (epoch ms) the replication worker has been seen missing.
    pub down_since_ms: Option<i64>,
    /// Source WAL positions seen and not yet confirmed by the subscriber: the lag's clock.
    pub wal_marks: WalMarks,
}

/// When each source WAL position was first seen, kept until the subscriber confirms it.
///
/// `replay_lag` alone lies when the subscriber stalls (a lock, a conflict, a slow apply): the
/// publisher only learns it from feedback, so it keeps the last small figure while the backlog
/// grows. DRS's delay keeps growing then, and so does this: the oldest position still
/// unconfirmed was written no later than when it was first seen.
#[derive(Clone, Debug, Default)]
pub struct WalMarks {
    marks: std::collections::VecDeque<(u64, i64)>,
}

impl WalMarks {
    /// Enough for hours of samples; past it the newest are dropped, which keeps the oldest
    /// unconfirmed mark and so the lag's lower bound right.
    const CAP: usize = 50_000;

    /// Note the source position `source` seen at `at_ms` and the subscriber's `confirmed`
    /// position; returns how long (ms) the oldest unconfirmed position has waited, a lower
    /// bound of the lag (0 when everything seen is confirmed).
    pub fn observe(&mut self, source: u64, confirmed: u64, at_ms: i64) -> i64 {
        if self.marks.back().is_none_or(|&(l, _)| source > l) && self.marks.len() < Self::CAP {
            self.marks.push_back((source, at_ms));
        }
        while self.marks.front().is_some_and(|&(l, _)| l <= confirmed) {
            self.marks.pop_front();
        }
        self.marks
            .front()
            .map_or(0, |&(_, seen)| (at_ms - seen).max(0))
    }

    /// Forget everything: the slot was made anew or the positions cannot be read.
    pub fn clear(&mut self) {
        self.marks.clear();
    }
}

/// One sample of both servers.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// Wall time of the sample (epoch ms): DRS's `process_time`.
    pub at_ms: i64,
    pub lag: pg::Lag,
    pub subscription_exists: bool,
    /// Bytes of the published tables on the source (heap and TOAST).
    pub source_bytes: i64,
    /// Bytes of the subscribed tables on the target: what has been copied so far.
    pub target_bytes: i64,
    /// Rows inserted, updated or deleted in the subscribed tables on the target.
    pub target_rows: i64,
    /// Apply and table-sync errors the target counted for this subscription (PostgreSQL 15+).
    pub errors: i64,
    /// Copy rate in bytes per second, smoothed over the samples.
    pub rate_bps: f64,
    /// MySQL jobs: the copy and the replica as measured (the PostgreSQL fields stay empty).
    pub my: Option<MyObs>,
}

impl Observation {
    /// Every published table copied and ready on the target (PostgreSQL; the subscription lists
    /// its tables when it is created, so none listed means none to copy).
    pub fn copied(&self) -> bool {
        self.subscription_exists && self.lag.subscriber.tables_not_ready == 0
    }

    /// Initial copy over and changes streaming.
    pub fn in_cdc(&self) -> bool {
        if let Some(m) = &self.my {
            return m.streaming();
        }
        self.lag.subscriber.worker_running && self.lag.subscriber.tables_not_ready == 0
    }

    /// Full-load percent: the larger of the ready-table share and the copied-byte share, kept
    /// under 100 until every table is ready (bytes alone can pass 100 with a bloated target).
    pub fn full_pct(&self) -> f64 {
        if self.in_cdc() {
            return 100.0;
        }
        if let Some(m) = &self.my {
            return m.full_pct();
        }
        let sub = &self.lag.subscriber;
        let by_tables = if sub.tables_total > 0 {
            100.0 * (sub.tables_total - sub.tables_not_ready) as f64 / sub.tables_total as f64
        } else {
            0.0
        };
        let by_bytes = if self.source_bytes > 0 {
            100.0 * self.target_bytes as f64 / self.source_bytes as f64
        } else {
            0.0
        };
        by_tables.max(by_bytes).clamp(0.0, 99.0)
    }

    /// Seconds of copy left at the measured rate (0 when unknown or done).
    pub fn remaining_s(&self) -> f64 {
        if self.in_cdc() || self.rate_bps <= 0.0 {
            return 0.0;
        }
        (self.source_bytes - self.target_bytes).max(0) as f64 / self.rate_bps
    }

    /// CDC delay in milliseconds: the larger of what the publisher measured from the
    /// subscriber's feedback (`pg_stat_replication.replay_lag`) and how long the oldest
    /// unconfirmed WAL position has waited ([`WalMarks`]); 0 when the slot confirmed everything.
    pub fn delay_ms(&self) -> Option<i64> {
        if let Some(m) = &self.my {
            return m.delay_ms;
        }
        self.in_cdc().then_some(self.lag.millis.max(0))
    }
}
