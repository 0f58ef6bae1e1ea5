//! The notification outbox: one row per (event seq, target), written in the transaction that
//! appends the event, so a crash cannot lose a notification's intent nor write it twice (the
//! pair is the key). The sender (src/notify) posts what is due and marks it sent; a row
//! marked sent is never posted again, a row not yet marked is posted again after a restart
//! (delivery is at least once; the `Idempotency-Key` lets the receiver apply it once).

use super::db::{fmt_time, get, now, parse_time, row_chunks, values_placeholders, Backend, Store};
use super::error::{Ctx, Result};
pub use super::router::Router;
pub(crate) use super::router::RouterSlot;
use super::Event;
use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};

/// One notification as the outbox holds it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OutboxRow {
    pub seq: i64,
    pub target: String,
    /// Posts whose outcome was recorded (one cut short by a crash is not counted).
    pub attempts: u32,
    /// Not posted again before this.
    pub next_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Why the last post failed (status or transport error, no URL in it).
    pub last_error: Option<String>,
    /// When it was given up (refused for good, or out of attempts): never posted again.
    pub given_up_at: Option<DateTime<Utc>>,
}

const COLS: &str = "seq, target, attempts, next_at, sent_at, last_error";

/// An outbox row with its give-up mark (`notify_given_up`), as `o` and `g`.
const SELECT: &str = "SELECT o.seq AS seq, o.target AS target, o.attempts AS attempts, \
     o.next_at AS next_at, o.sent_at AS sent_at, o.last_error AS last_error, g.at AS given_up_at \
     FROM notify_outbox o LEFT JOIN notify_given_up g ON g.seq = o.seq AND g.target = o.target";

fn row_of(r: &sqlx::any::AnyRow) -> Result<OutboxRow> {
    let attempts: i64 = get(r, "attempts")?;
    Ok(OutboxRow {
        seq: get(r, "seq")?,
        target: get(r, "target")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_at: parse_time(&get::<String>(r, "next_at")?)?,
        sent_at: get::<Option<String>>(r, "sent_at")?
            .map(|t| parse_time(&t))
            .transpose()?,
        last_error: get(r, "last_error")?,
        given_up_at: get::<Option<String>>(r, "given_up_at")?
            .map(|t| parse_time(&t))
            .transpose()?,
    })
}

/// Write the outbox rows of freshly appended `events`, inside their transaction.
pub(crate) async fn insert_in(
    tx: &mut Transaction<'_, Any>,
    slot: &RouterSlot,
    events: &[Event],
) -> Result<()> {
    let Some(router) = slot.get() else {
        return Ok(());
    };
    let rows: Vec<(i64, String)> = events
        .iter()
        .flat_map(|e| router(e).into_iter().map(move |t| (e.seq, t)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let at = fmt_time(now());
    for chunk in row_chunks(&rows) {
        let sql = format!(
            "INSERT INTO notify_outbox ({COLS}) VALUES {} ON CONFLICT (seq, target) DO NOTHING",
            values_placeholders(Backend::of(tx), chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for (seq, target) in chunk {
            q = q
                .bind(*seq)
                .bind(target.as_str())
                .bind(0i64)
                .bind(at.as_str())
                .bind(None::<String>)
                .bind(None::<String>);
        }
        q.execute(&mut **tx)
            .await
            .ctx("write the notification outbox")?;
    }
    slot.wrote_rows();
    Ok(())
}

impl Store {
    /// From now on, every append of this store (and its clones) writes an outbox row for each
    /// target `router` names, in the append's transaction.
    pub fn route_notifications(&self, router: Router) {
        self.outbox.set(router);
    }

    /// Notified each time an append that wrote outbox rows has committed (one wake-up is kept
    /// while nobody waits): the sender posts at once instead of at its next poll.
    pub fn outbox_waker(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox.waker()
    }

    /// Unsent notifications not given up, oldest event first, at most `limit` (the sender
    /// posts each target's in this order, from its oldest, once its `next_at` has come).
    pub async fn outbox_unsent(&self, limit: u32) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE o.sent_at IS NULL AND g.seq IS NULL ORDER BY o.seq, o.target LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .ctx("read the notification outbox")?;
        rows.iter().map(row_of).collect()
    }

    /// Every outbox row, oldest event first (status, tests).
    pub async fn outbox(&self) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(&format!("{SELECT} ORDER BY o.seq, o.target"))
            .fetch_all(&self.pool)
            .await
            .ctx("read the notification outbox")?;
        rows.iter().map(row_of).collect()
    }

    /// Mark a notification delivered (the receiver answered 2xx). False if it was not waiting
    /// (already marked, or no such row).
    pub async fn outbox_sent(&self, seq: i64, target: &str, attempts: u32) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE notify_outbox SET sent_at = $1, attempts = $2, last_error = NULL \
             WHERE seq = $3 AND target = $4 AND sent_at IS NULL",
        )
        .bind(fmt_time(now()))
        .bind(i64::from(attempts))
        .bind(seq)
        .bind(target)
        .execute(&self.pool)
        .await
        .ctx("mark a notification sent")?;
        Ok(r.rows_affected() == 1)
    }

    /// Record a failed post: the attempts so far, when to try again and why it failed.
    pub async fn outbox_failed(
        &self,
        seq: i64,
        target: &str,
        attempts: u32,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notify_outbox SET attempts = $1, next_at = $2, last_error = $3 \
             WHERE seq = $4 AND target = $5 AND sent_at IS NULL",
        )
        .bind(i64::from(attempts))
        .bind(fmt_time(next_at))
        .bind(error)
        .bind(seq)
        .bind(target)
        .execute(&self.pool)
        .await
        .ctx("record a failed notification")?;
        Ok(())
    }
}
