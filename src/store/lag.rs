//! CDC lag samples for the cockpit's gauges and sparklines, kept apart from the event log so
//! frequent polling does not grow the chain. Recent samples are kept as recorded; older ones
//! are folded into one-minute buckets holding the worst (max) lag; buckets older than a day are
//! dropped. So each database holds at most `FULL_RESOLUTION` of raw samples plus 1440 buckets.
//!
//! Every `db.lag` event appended records a sample too (same transaction), so the engine gets
//! gauges by writing its events; `record_lag` is for samples that need no event.

use super::db::{fmt_time, get, now, parse_time, row_chunks, values_placeholders, Backend, Store};
use super::error::{Ctx, Result};
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::Ordering;

/// Raw samples younger than this are kept as recorded.
pub const FULL_RESOLUTION: Duration = Duration::minutes(10);
/// Buckets older than this are dropped.
pub const KEEP: Duration = Duration::hours(24);
/// Compaction runs at most this often per process (seconds), from `record_lag`.
const COMPACT_EVERY_S: i64 = 60;

impl Store {
    /// Record one lag sample of a database (seconds behind the source).
    pub async fn record_lag(&self, db_id: &str, time: DateTime<Utc>, lag_s: f64) -> Result<()> {
        self.record_lags(&[(db_id.to_string(), time, lag_s)]).await
    }

    /// Record many samples in one statement (one polling round of the engine).
    pub async fn record_lags(&self, samples: &[(String, DateTime<Utc>, f64)]) -> Result<()> {
        let mut conn = self.pool.acquire().await.ctx("record lag samples")?;
        insert_samples(&mut conn, samples).await?;
        drop(conn);
        self.maybe_compact_lag().await
    }

    /// Compact if this process has not done so for a minute.
    pub(crate) async fn maybe_compact_lag(&self) -> Result<()> {
        let t = now();
        let last = self.last_lag_compaction.load(Ordering::Relaxed);
        if t.timestamp() - last >= COMPACT_EVERY_S {
            self.last_lag_compaction
                .store(t.timestamp(), Ordering::Relaxed);
            self.compact_lag(t).await?;
        }
        Ok(())
    }

    /// Fold raw samples older than `FULL_RESOLUTION` (before `now`) into one-minute max
    /// buckets and drop buckets older than `KEEP`. Runs by itself from `record_lag`; public so
    /// a test or a maintenance task can run it at a chosen time.
    pub async fn compact_lag(&self, now: DateTime<Utc>) -> Result<()> {
        let cutoff = fmt_time(now - FULL_RESOLUTION);
        let mut tx = self.begin_write().await?;
        // The fixed-width time text makes "same minute" a prefix: YYYY-MM-DDTHH:MM.
        sqlx::query(
            "INSERT INTO lag_samples (db_id, bucket, time, lag_s) \
             SELECT db_id, 1, substr(time, 1, 16) || ':00.000000Z', MAX(lag_s) FROM lag_samples \
             WHERE bucket = 0 AND time < $1 GROUP BY db_id, substr(time, 1, 16) \
             ON CONFLICT (db_id, bucket, time) DO UPDATE SET lag_s = \
             CASE WHEN excluded.lag_s > lag_samples.lag_s THEN excluded.lag_s ELSE lag_samples.lag_s END",
        )
        .bind(cutoff.clone())
        .execute(&mut *tx)
        .await
        .ctx("fold lag samples into buckets")?;
        sqlx::query("DELETE FROM lag_samples WHERE bucket = 0 AND time < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await
            .ctx("drop folded lag samples")?;
        sqlx::query("DELETE FROM lag_samples WHERE bucket = 1 AND time < $1")
            .bind(fmt_time(now - KEEP))
            .execute(&mut *tx)
            .await
            .ctx("drop old lag buckets")?;
        tx.commit().await.ctx("commit lag compaction")?;
        Ok(())
    }

    /// Lag history of a database, oldest first: minute maxima, then recent raw samples.
    pub async fn lag_series(&self, db_id: &str) -> Result<Vec<(DateTime<Utc>, f64)>> {
        let rows = sqlx::query(
            "SELECT time, lag_s FROM lag_samples WHERE db_id = $1 ORDER BY time, bucket DESC",
        )
        .bind(db_id)
        .fetch_all(&self.pool)
        .await
        .ctx("read lag samples")?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_time(&get::<String>(r, "time")?)?,
                    get::<f64>(r, "lag_s")?,
                ))
            })
            .collect()
    }
}

/// The lag samples a batch of events carries: the last `db.lag` per database (all events of a
/// batch share one time, and a sample is keyed by database and time).
pub(crate) fn samples_of(events: &[super::Event]) -> Vec<(String, DateTime<Utc>, f64)> {
    let mut last: std::collections::BTreeMap<&str, (DateTime<Utc>, f64)> = Default::default();
    for e in events.iter().filter(|e| e.kind == super::kind::DB_LAG) {
        let lag = e.payload.get("lag_s").and_then(serde_json::Value::as_f64);
        if let (Some(db), Some(lag)) = (e.db_id.as_deref(), lag.filter(|l| l.is_finite())) {
            last.insert(db, (e.time, lag));
        }
    }
    last.into_iter()
        .map(|(db, (t, l))| (db.to_string(), t, l))
        .collect()
}

/// Insert raw samples (inside `append`'s transaction, or alone); a sample that is not a finite
/// number is skipped.
pub(crate) async fn insert_samples(
    conn: &mut sqlx::AnyConnection,
    samples: &[(String, DateTime<Utc>, f64)],
) -> Result<()> {
    let samples: Vec<_> = samples.iter().filter(|s| s.2.is_finite()).collect();
    for chunk in row_chunks(&samples) {
        let sql = format!(
            "INSERT INTO lag_samples (db_id, bucket, time, lag_s) VALUES {} \
             ON CONFLICT (db_id, bucket, time) DO UPDATE SET lag_s = excluded.lag_s",
            values_placeholders(Backend::of(conn), chunk.len(), 4)
        );
        let mut q = sqlx::query(&sql);
        for (db, t, lag) in chunk {
            q = q.bind(db.clone()).bind(0i64).bind(fmt_time(*t)).bind(*lag);
        }
        q.execute(&mut *conn).await.ctx("record lag samples")?;
    }
    Ok(())
}
