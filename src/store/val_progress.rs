//! How far a running validation is, kept in the store while it runs so that every cockpit on
//! the store sees it: per table, the rows done out of the estimate (the exact count taken
//! before the chunks), the rows this attempt read and how long it took, hence the rate and
//! the ETA. And each finished validation's measured rate, per engine, which `wavedeck plan`
//! uses instead of its configured constant.
//!
//! A cache of work in flight, like the validation chunks: not in the event log, whose chain
//! would grow by a row a second per validating database for figures nobody audits.

use super::db::{fmt_time, get, now, parse_time, Store};
use super::error::{Ctx, Result};
use chrono::{DateTime, Utc};

/// One table of a running (or the last) validation of a database.
#[derive(Clone, Debug, PartialEq)]
pub struct TableProgress {
    pub db_id: String,
    pub table: String,
    /// Rows the table holds (the larger side's exact count before its chunks were read).
    pub rows_est: u64,
    /// Rows whose chunks are done, kept ones of an earlier attempt included.
    pub rows_done: u64,
    /// Rows this attempt read, over `read_ms` from the table's first chunk to its last.
    pub rows_read: u64,
    pub read_ms: u64,
    /// The attempt's time so far, and how much of it the rate limit held reads back.
    pub run_ms: u64,
    pub limited_ms: u64,
    /// The database's rate limit, the same on each of its tables; none without one.
    pub limit: Option<Limit>,
    pub finished: bool,
    pub updated_at: DateTime<Utc>,
}

/// `validation.max_rows_per_s` of a running validation, and how much it holds it back.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    pub rows_per_s: u64,
    /// The share of the recent wall time (`validate::pace::WINDOW`) in which some reader
    /// waited on the limit, on the side it held back most: 0 to 1.
    pub waiting: f64,
}

/// A limit that makes the readers wait more than this share of the time holds validation
/// back, and the cockpit says so; below it the reads are slow of their own accord.
pub const HOLDING: f64 = 0.2;

impl Limit {
    pub fn holding(&self) -> bool {
        self.waiting > HOLDING
    }
}

impl TableProgress {
    /// Rows per second this attempt read the table at (none before a second of reading).
    pub fn rate(&self) -> Option<f64> {
        rate(self.rows_read, self.read_ms)
    }

    /// Seconds left at the table's own rate.
    pub fn eta_s(&self) -> Option<f64> {
        eta(self.rows_est, self.rows_done, self.rate())
    }
}

fn rate(rows: u64, ms: u64) -> Option<f64> {
    (ms >= 1000 && rows > 0).then(|| rows as f64 * 1000.0 / ms as f64)
}

fn eta(est: u64, done: u64, rate: Option<f64>) -> Option<f64> {
    let left = est.saturating_sub(done);
    if left == 0 {
        return Some(0.0);
    }
    rate.map(|r| left as f64 / r)
}

/// A database's validation as a whole: its tables summed, the rate over the attempt's time
/// (tables are read side by side, so their own rates do not add up).
#[derive(Clone, Debug, PartialEq)]
pub struct DbProgress {
    pub rows_est: u64,
    pub rows_done: u64,
    pub rows_read: u64,
    pub run_ms: u64,
    pub limited_ms: u64,
    pub limit: Option<Limit>,
    pub finished: bool,
    pub updated_at: DateTime<Utc>,
}

impl DbProgress {
    pub fn of(tables: &[TableProgress]) -> Option<DbProgress> {
        let first = tables.first()?;
        Some(DbProgress {
            rows_est: tables.iter().map(|t| t.rows_est).sum(),
            rows_done: tables.iter().map(|t| t.rows_done.min(t.rows_est)).sum(),
            rows_read: tables.iter().map(|t| t.rows_read).sum(),
            run_ms: tables.iter().map(|t| t.run_ms).max().unwrap_or(0),
            limited_ms: tables.iter().map(|t| t.limited_ms).max().unwrap_or(0),
            limit: tables.iter().find_map(|t| t.limit.clone()),
            finished: tables.iter().all(|t| t.finished),
            updated_at: tables
                .iter()
                .map(|t| t.updated_at)
                .max()
                .unwrap_or(first.updated_at),
        })
    }

    /// Done, 0 to 1 (an empty database is done).
    pub fn fraction(&self) -> f64 {
        match self.rows_est {
            0 => 1.0,
            n => (self.rows_done as f64 / n as f64).clamp(0.0, 1.0),
        }
    }

    pub fn rate(&self) -> Option<f64> {
        rate(self.rows_read, self.run_ms)
    }

    pub fn eta_s(&self) -> Option<f64> {
        eta(self.rows_est, self.rows_done, self.rate())
    }

    /// The share of the attempt's time the rate limit held reads back (0 to 1).
    pub fn held_back(&self) -> f64 {
        match self.run_ms {
            0 => 0.0,
            n => (self.limited_ms as f64 / n as f64).clamp(0.0, 1.0),
        }
    }
}

/// One finished validation's measured speed: bytes of the database validated per hour.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasuredRate {
    pub engine: String,
    pub gb_per_hour: f64,
    pub rows_per_s: f64,
}

/// Runs kept per engine: enough for a steady median, few enough that old hardware ages out.
const RATES_KEPT: i64 = 50;

impl Store {
    /// Write a validation's tables as they stand (each replaces the table's row), all of one
    /// database, with its limit (the first row's).
    pub async fn put_validation_progress(&self, mode: &str, rows: &[TableProgress]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for p in rows {
            sqlx::query(
                "INSERT INTO validation_progress (db_id, mode, tbl, rows_est, rows_done, rows_read, read_ms, \
                 run_ms, limited_ms, finished, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (db_id, mode, tbl) DO UPDATE SET rows_est = excluded.rows_est, \
                 rows_done = excluded.rows_done, rows_read = excluded.rows_read, read_ms = excluded.read_ms, \
                 run_ms = excluded.run_ms, limited_ms = excluded.limited_ms, finished = excluded.finished, \
                 updated_at = excluded.updated_at",
            )
            .bind(&p.db_id)
            .bind(mode)
            .bind(&p.table)
            .bind(int(p.rows_est))
            .bind(int(p.rows_done))
            .bind(int(p.rows_read))
            .bind(int(p.read_ms))
            .bind(int(p.run_ms))
            .bind(int(p.limited_ms))
            .bind(p.finished as i64)
            .bind(fmt_time(p.updated_at))
            .execute(&mut *tx)
            .await
            .ctx("keep validation progress")?;
        }
        if let Some(p) = rows.first() {
            match &p.limit {
                Some(l) => sqlx::query(
                    "INSERT INTO validation_limits (db_id, mode, max_rows_per_s, waiting, updated_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (db_id, mode) DO UPDATE SET \
                     max_rows_per_s = excluded.max_rows_per_s, waiting = excluded.waiting, \
                     updated_at = excluded.updated_at",
                )
                .bind(&p.db_id)
                .bind(mode)
                .bind(int(l.rows_per_s))
                .bind(l.waiting)
                .bind(fmt_time(p.updated_at)),
                None => sqlx::query("DELETE FROM validation_limits WHERE db_id = $1 AND mode = $2")
                    .bind(&p.db_id)
                    .bind(mode),
            }
            .execute(&mut *tx)
            .await
            .ctx("keep validation progress")?;
        }
        tx.commit().await.ctx("keep validation progress")
    }

    /// Forget a database's progress in `mode` (a new run starts).
    pub async fn clear_validation_progress(&self, db_id: &str, mode: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for table in ["validation_progress", "validation_limits"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE db_id = $1 AND mode = $2"
            ))
            .bind(db_id)
            .bind(mode)
            .execute(&mut *tx)
            .await
            .ctx("clear validation progress")?;
        }
        tx.commit().await.ctx("clear validation progress")
    }

    /// The tables of every validation that has not finished, by db_id then table.
    pub async fn running_validations(&self) -> Result<Vec<TableProgress>> {
        self.progress_rows(
            "p.db_id IN (SELECT db_id FROM validation_progress WHERE finished = 0)",
            None,
        )
        .await
    }

    /// The tables of a database's last validation, finished or not.
    pub async fn validation_progress_of(&self, db_id: &str) -> Result<Vec<TableProgress>> {
        self.progress_rows("p.db_id = $1", Some(db_id)).await
    }

    async fn progress_rows(&self, filter: &str, db_id: Option<&str>) -> Result<Vec<TableProgress>> {
        let sql = format!(
            "SELECT p.db_id, p.tbl, p.rows_est, p.rows_done, p.rows_read, p.read_ms, p.run_ms, p.limited_ms, \
             p.finished, p.updated_at, l.max_rows_per_s, l.waiting FROM validation_progress p \
             LEFT JOIN validation_limits l ON l.db_id = p.db_id AND l.mode = p.mode \
             WHERE {filter} ORDER BY p.db_id, p.tbl"
        );
        let mut q = sqlx::query(&sql);
        if let Some(db) = db_id {
            q = q.bind(db);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .ctx("read validation progress")?;
        let n = |r, c| get::<i64>(r, c).map(|v| v.max(0) as u64);
        rows.iter()
            .map(|r| {
                Ok(TableProgress {
                    db_id: get(r, "db_id")?,
                    table: get(r, "tbl")?,
                    rows_est: n(r, "rows_est")?,
                    rows_done: n(r, "rows_done")?,
                    rows_read: n(r, "rows_read")?,
                    read_ms: n(r, "read_ms")?,
                    run_ms: n(r, "run_ms")?,
                    limited_ms: n(r, "limited_ms")?,
                    limit: match get::<Option<i64>>(r, "max_rows_per_s")? {
                        Some(v) => Some(Limit {
                            rows_per_s: v.max(0) as u64,
                            waiting: get::<Option<f64>>(r, "waiting")?.unwrap_or(0.0),
                        }),
                        None => None,
                    },
                    finished: get::<i64>(r, "finished")? != 0,
                    updated_at: parse_time(&get::<String>(r, "updated_at")?)?,
                })
            })
            .collect()
    }

    /// Keep a finished validation's speed; the oldest beyond the last [`RATES_KEPT`] of the
    /// engine go.
    pub async fn keep_validation_rate(&self, db_id: &str, r: &MeasuredRate) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO validation_rates (db_id, engine, gb_per_hour, rows_per_s, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(db_id)
        .bind(&r.engine)
        .bind(r.gb_per_hour)
        .bind(r.rows_per_s)
        .bind(fmt_time(now()))
        .execute(&mut *tx)
        .await
        .ctx("keep a validation rate")?;
        sqlx::query(
            "DELETE FROM validation_rates WHERE engine = $1 AND at NOT IN \
             (SELECT at FROM validation_rates WHERE engine = $1 ORDER BY at DESC LIMIT $2)",
        )
        .bind(&r.engine)
        .bind(RATES_KEPT)
        .execute(&mut *tx)
        .await
        .ctx("keep a validation rate")?;
        tx.commit().await.ctx("keep a validation rate")
    }

    /// The measured rates kept, newest first.
    pub async fn validation_rates(&self) -> Result<Vec<MeasuredRate>> {
        let rows = sqlx::query(
            "SELECT engine, gb_per_hour, rows_per_s FROM validation_rates ORDER BY at DESC",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("read validation rates")?;
        rows.iter()
            .map(|r| {
                Ok(MeasuredRate {
                    engine: get(r, "engine")?,
                    gb_per_hour: get(r, "gb_per_hour")?,
                    rows_per_s: get(r, "rows_per_s")?,
                })
            })
            .collect()
    }
}

fn int(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(est: u64, done: u64, read: u64, read_ms: u64, run_ms: u64) -> TableProgress {
        TableProgress {
            db_id: "d".into(),
            table: "t".into(),
            rows_est: est,
            rows_done: done,
            rows_read: read,
            read_ms,
            run_ms,
            limited_ms: 0,
            limit: None,
            finished: false,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_eta_is_the_rows_left_at_the_rate_read_so_far() {
        // 400k of 1M done, 300k of them read now in 3 s (100k kept from an attempt before):
        // 100k rows/s, 600k left, 6 s.
        let p = t(1_000_000, 400_000, 300_000, 3000, 3000);
        assert_eq!(p.rate(), Some(100_000.0));
        assert_eq!(p.eta_s(), Some(6.0));
        // Under a second of reading says nothing yet; a done table needs no rate.
        assert_eq!(t(10, 5, 5, 999, 999).eta_s(), None);
        assert_eq!(t(10, 10, 0, 0, 0).eta_s(), Some(0.0));
    }

    #[test]
    fn a_database_is_its_tables_at_the_attempt_rate() {
        // Two tables read side by side over the same 4 s: 200k rows, 50k rows/s together.
        let a = t(300_000, 150_000, 150_000, 4000, 4000);
        let b = t(100_000, 50_000, 50_000, 4000, 4000);
        let d = DbProgress::of(&[a, b]).unwrap();
        assert_eq!((d.rows_est, d.rows_done), (400_000, 200_000));
        assert_eq!(d.fraction(), 0.5);
        assert_eq!(d.rate(), Some(50_000.0));
        assert_eq!(d.eta_s(), Some(4.0));
        assert!(!d.finished);
        assert_eq!(DbProgress::of(&[]), None);
    }
}
