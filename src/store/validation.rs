//! What a validation run of a database remembers between its attempts: each chunk whose two
//! sides matched, with the table's schema fingerprint and the position it was compared at, so
//! that a run cut short (kill -9, a restart, a pause, lag) goes on at the first chunk not done
//! instead of reading the database again. Kept apart from the event log: thousands of chunks
//! per database would grow the chain for what is a cache of work done.
//!
//! For the freshness gate, each table's change marker as the run first saw it (before any of
//! its reads), and the last passed result of each table with that marker.
//!
//! A run is open until a decided report closes it ([`Store::finish_validation_run`]); the
//! next run starts empty. Runs of one database and mode (live / final) are numbered.

use super::db::{fmt_time, get, now, Store};
use super::error::{Ctx, Result};
use chrono::{DateTime, Utc};

/// The run a validation attempt works in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationRun {
    pub run: i64,
    /// An earlier attempt of this run was cut short: its chunks stand.
    pub resumed: bool,
    pub started_at: DateTime<Utc>,
}

/// A table's last passed result: the marker taken before it was read, its report (JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedResult {
    pub table: String,
    pub fingerprint: String,
    pub marker: String,
    pub at: String,
    pub report: String,
}

/// One matched chunk, as the validation module hands it over (its own encodings as text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedChunk {
    pub table: String,
    /// The table's schema fingerprint when the chunk was compared.
    pub fingerprint: String,
    /// Key range bounds, decimal ("" for an open bound).
    pub lo: String,
    pub hi: String,
    pub rows: u64,
    /// The digest both sides had.
    pub digest: String,
    /// Live: the stream position the range was compared at.
    pub at: Option<String>,
}

impl Store {
    /// The open run of `db_id` in `mode`, or a new one when the last one was finished. A new
    /// run drops the chunks of the runs before it.
    pub async fn open_validation_run(&self, db_id: &str, mode: &str) -> Result<ValidationRun> {
        let mut tx = self.begin_write().await?;
        let last = sqlx::query(
            "SELECT run, started_at, finished_at FROM validation_runs WHERE db_id = $1 AND mode = $2 \
             ORDER BY run DESC LIMIT 1",
        )
        .bind(db_id)
        .bind(mode)
        .fetch_optional(&mut *tx)
        .await
        .ctx("read the validation run")?;
        if let Some(r) = &last {
            if get::<Option<String>>(r, "finished_at")?.is_none() {
                let started_at = super::db::parse_time(&get::<String>(r, "started_at")?)?;
                return Ok(ValidationRun {
                    run: get(r, "run")?,
                    resumed: true,
                    started_at,
                });
            }
        }
        let run = match &last {
            Some(r) => get::<i64>(r, "run")? + 1,
            None => 1,
        };
        let started_at = now();
        for sql in [
            "DELETE FROM validation_chunks WHERE db_id = $1 AND mode = $2 AND run < $3",
            "DELETE FROM validation_marks WHERE db_id = $1 AND mode = $2 AND run < $3",
            "DELETE FROM validation_runs WHERE db_id = $1 AND mode = $2 AND run < $3",
        ] {
            sqlx::query(sql)
                .bind(db_id)
                .bind(mode)
                .bind(run)
                .execute(&mut *tx)
                .await
                .ctx("drop old validation runs")?;
        }
        sqlx::query(
            "INSERT INTO validation_runs (db_id, mode, run, started_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(db_id)
        .bind(mode)
        .bind(run)
        .bind(fmt_time(started_at))
        .execute(&mut *tx)
        .await
        .ctx("open a validation run")?;
        tx.commit().await.ctx("open a validation run")?;
        Ok(ValidationRun {
            run,
            resumed: false,
            started_at,
        })
    }

    /// The chunks a run kept so far.
    pub async fn saved_chunks(&self, db_id: &str, mode: &str, run: i64) -> Result<Vec<SavedChunk>> {
        let rows = sqlx::query(
            "SELECT tbl, fingerprint, lo, hi, rows_n, digest, at FROM validation_chunks \
             WHERE db_id = $1 AND mode = $2 AND run = $3",
        )
        .bind(db_id)
        .bind(mode)
        .bind(run)
        .fetch_all(&self.pool)
        .await
        .ctx("read validation chunks")?;
        rows.iter()
            .map(|r| {
                Ok(SavedChunk {
                    table: get(r, "tbl")?,
                    fingerprint: get(r, "fingerprint")?,
                    lo: get(r, "lo")?,
                    hi: get(r, "hi")?,
                    rows: get::<i64>(r, "rows_n")?.max(0) as u64,
                    digest: get(r, "digest")?,
                    at: get(r, "at")?,
                })
            })
            .collect()
    }

    /// Keep one matched chunk of a run (again: the newer result replaces it).
    pub async fn save_chunk(
        &self,
        db_id: &str,
        mode: &str,
        run: i64,
        c: &SavedChunk,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO validation_chunks (db_id, mode, run, tbl, lo, hi, fingerprint, rows_n, digest, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (db_id, mode, run, tbl, lo, hi) DO UPDATE SET fingerprint = excluded.fingerprint, \
             rows_n = excluded.rows_n, digest = excluded.digest, at = excluded.at",
        )
        .bind(db_id)
        .bind(mode)
        .bind(run)
        .bind(&c.table)
        .bind(&c.lo)
        .bind(&c.hi)
        .bind(&c.fingerprint)
        .bind(c.rows.min(i64::MAX as u64) as i64)
        .bind(&c.digest)
        .bind(&c.at)
        .execute(&self.pool)
        .await
        .ctx("keep a validation chunk")?;
        Ok(())
    }

    /// Close a run: its report is decided, the next attempt starts a new run.
    pub async fn finish_validation_run(&self, db_id: &str, mode: &str, run: i64) -> Result<()> {
        sqlx::query(
            "UPDATE validation_runs SET finished_at = $4 WHERE db_id = $1 AND mode = $2 AND run = $3",
        )
        .bind(db_id)
        .bind(mode)
        .bind(run)
        .bind(fmt_time(now()))
        .execute(&self.pool)
        .await
        .ctx("finish a validation run")?;
        Ok(())
    }

    /// Each table's marker as the run first saw it: `marks` are kept for tables the run has
    /// none for yet, and the run's first markers of every table come back.
    pub async fn first_validation_marks(
        &self,
        db_id: &str,
        mode: &str,
        run: i64,
        marks: &[(String, String)],
    ) -> Result<std::collections::HashMap<String, String>> {
        let mut tx = self.begin_write().await?;
        for (tbl, marker) in marks {
            sqlx::query(
                "INSERT INTO validation_marks (db_id, mode, run, tbl, marker) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (db_id, mode, run, tbl) DO NOTHING",
            )
            .bind(db_id)
            .bind(mode)
            .bind(run)
            .bind(tbl)
            .bind(marker)
            .execute(&mut *tx)
            .await
            .ctx("keep validation markers")?;
        }
        let rows = sqlx::query(
            "SELECT tbl, marker FROM validation_marks WHERE db_id = $1 AND mode = $2 AND run = $3",
        )
        .bind(db_id)
        .bind(mode)
        .bind(run)
        .fetch_all(&mut *tx)
        .await
        .ctx("read validation markers")?;
        tx.commit().await.ctx("keep validation markers")?;
        rows.iter()
            .map(|r| Ok((get(r, "tbl")?, get(r, "marker")?)))
            .collect()
    }

    /// The last passed result of each table of a database in `mode`.
    pub async fn validation_results(&self, db_id: &str, mode: &str) -> Result<Vec<SavedResult>> {
        let rows = sqlx::query(
            "SELECT tbl, fingerprint, marker, at, report FROM validation_results \
             WHERE db_id = $1 AND mode = $2",
        )
        .bind(db_id)
        .bind(mode)
        .fetch_all(&self.pool)
        .await
        .ctx("read validation results")?;
        rows.iter()
            .map(|r| {
                Ok(SavedResult {
                    table: get(r, "tbl")?,
                    fingerprint: get(r, "fingerprint")?,
                    marker: get(r, "marker")?,
                    at: get(r, "at")?,
                    report: get(r, "report")?,
                })
            })
            .collect()
    }

    /// Keep tables' passed results (each replaces the table's earlier one).
    pub async fn keep_validation_results(
        &self,
        db_id: &str,
        mode: &str,
        results: &[SavedResult],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for r in results {
            sqlx::query(
                "INSERT INTO validation_results (db_id, mode, tbl, fingerprint, marker, at, report) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (db_id, mode, tbl) DO UPDATE SET \
                 fingerprint = excluded.fingerprint, marker = excluded.marker, at = excluded.at, \
                 report = excluded.report",
            )
            .bind(db_id)
            .bind(mode)
            .bind(&r.table)
            .bind(&r.fingerprint)
            .bind(&r.marker)
            .bind(&r.at)
            .bind(&r.report)
            .execute(&mut *tx)
            .await
            .ctx("keep validation results")?;
        }
        tx.commit().await.ctx("keep validation results")
    }
}
