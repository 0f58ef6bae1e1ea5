//! The stage marks the program view measures its pace from: every `db.stage` event's time,
//! database and new stage, read without decoding whole events (a factory's log holds tens of
//! thousands of them, read once when the cockpit starts).

use super::db::{get, parse_time, Store};
use super::error::{Ctx, Result};
use crate::lifecycle::Stage;
use crate::program::StageMark;

#[derive(serde::Deserialize)]
struct To {
    to: Stage,
}

/// The query behind [`Store::stage_marks`], public so a test can ask each backend for its plan.
/// The kind is written out, not bound: neither SQLite nor a PostgreSQL generic plan can match
/// a bound value to the partial index `events_stage_by_seq` (`WHERE kind = 'db.stage'`).
pub const STAGE_MARKS_SQL: &str =
    "SELECT seq, time, db_id, payload FROM events WHERE kind = 'db.stage' AND seq > $1 ORDER BY seq";

impl Store {
    /// Stage marks with seq > `after`, in seq order. A row whose payload or time this build
    /// cannot read is left out (the Events view shows it as unreadable).
    pub async fn stage_marks(&self, after: i64) -> Result<Vec<StageMark>> {
        let rows = sqlx::query(STAGE_MARKS_SQL)
            .bind(after)
            .fetch_all(&self.pool)
            .await
            .ctx("read stage changes")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let (Some(db_id), Ok(time), Ok(to)) = (
                get::<Option<String>>(r, "db_id")?,
                parse_time(&get::<String>(r, "time")?),
                serde_json::from_str::<To>(&get::<String>(r, "payload")?),
            ) else {
                continue;
            };
            out.push(StageMark {
                seq: get(r, "seq")?,
                time,
                db_id,
                to: to.to,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_query_names_the_stage_kind() {
        assert!(
            super::STAGE_MARKS_SQL.contains(&format!("kind = '{}'", crate::store::kind::DB_STAGE))
        );
    }
}
