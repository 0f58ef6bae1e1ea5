//! What one sample of a MySQL job's servers shows, and how far its copy got: written by the
//! copy (`copy.rs`) and the worker (`my.rs`), read by the job's observation. Below both.

use crate::cutover::mysql::ops::ReplicaStatus;

/// How far the copy got.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CopyProgress {
    pub tables_total: u64,
    pub tables_done: u64,
    /// The source's row estimate (`information_schema.tables.table_rows`) and the rows copied.
    pub rows_est: u64,
    pub rows_done: u64,
}

/// What one sample of a MySQL job's servers shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MyObs {
    /// The copy in progress, when it runs.
    pub copy: Option<CopyProgress>,
    /// The job's replication connection on the target (`None`: not created yet, or removed).
    pub replica: Option<ReplicaStatus>,
    /// Source transactions the target has not applied (summed over GTID domains).
    pub gtid_gap: u64,
    /// The source's position as one number ([`super::position_total`]).
    pub source_total: u64,
    /// `Seconds_Behind_Master` of the connection.
    pub seconds_behind: Option<i64>,
    /// DRS's delay in ms once the copy is over (`None` before).
    pub delay_ms: Option<i64>,
}

impl MyObs {
    /// Copy over and both replica threads running.
    pub fn streaming(&self) -> bool {
        self.copy.is_none() && self.replica.as_ref().is_some_and(|r| r.running())
    }

    /// Full-load percent: the larger of the copied-table share and the copied-row share, kept
    /// under 100 until the replica streams (the row estimate may be below the real count).
    pub fn full_pct(&self) -> f64 {
        if self.streaming() {
            return 100.0;
        }
        let Some(c) = &self.copy else {
            // Copied and replicating, but the replica does not run (yet).
            return if self.replica.is_some() { 99.0 } else { 0.0 };
        };
        let share = |done: u64, total: u64| {
            if total > 0 {
                100.0 * done as f64 / total as f64
            } else {
                0.0
            }
        };
        share(c.tables_done, c.tables_total)
            .max(share(c.rows_done, c.rows_est))
            .clamp(0.0, 99.0)
    }
}
