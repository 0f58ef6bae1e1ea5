//! PostgreSQL side of the cutover: read-only switches, session draining, WAL positions, native
//! logical replication (publication, subscription, slots) and sequences. Every function is safe
//! to call again after it succeeded or after a crash half-way through.

use crate::cutover::side::{Side, SideError};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};
use std::time::{Duration, Instant};

/// Application name of wavedeck's own sessions, so draining never ends them.
pub const ADMIN_APP: &str = "wavedeck-cutover";
/// Database-level setting recording when a drain finished (the drain's completion marker, kept
/// on the server itself so a restarted driver can tell a finished drain from a half one).
const DRAINED_AT: &str = "wavedeck.drained_at";

/// PostgreSQL sessions of a [`Side`].
impl Side {
    fn options(&self, app: &str) -> PgConnectOptions {
        let mut o = PgConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(&self.database)
            .application_name(app)
            .disable_statement_logging();
        if let Some(p) = &self.password {
            o = o.password(p.expose());
        }
        o
    }

    /// A session as an application would open it (no overrides): used by smoke tests and the
    /// workload, so they see exactly what applications see.
    pub async fn connect_app(&self, app: &str) -> Result<PgConnection, sqlx::Error> {
        self.options(app).connect().await
    }

    /// wavedeck's own session: allowed to write even where the database defaults to read-only,
    /// and never ended by a drain.
    pub async fn connect_admin(&self, side: &str) -> Result<PgConnection, SideError> {
        let mut c = self
            .options(ADMIN_APP)
            .connect()
            .await
            .map_err(|e| self.err(side, e))?;
        sqlx::query("SET default_transaction_read_only = off")
            .execute(&mut c)
            .await
            .map_err(|e| self.err(side, e))?;
        Ok(c)
    }

    /// libpq connection string for `CREATE SUBSCRIPTION`. No application_name: the walsender
    /// then carries the subscription's name, which is how lag is found in pg_stat_replication.
    /// (The password, when there is one, ends
    /// up in the server's catalog as PostgreSQL requires; never in our logs or events).
    pub fn conninfo(&self) -> String {
        let mut s = format!(
            "host={} port={} dbname={} user={}",
            quote_conninfo(&self.host),
            self.port,
            quote_conninfo(&self.database),
            quote_conninfo(&self.user),
        );
        if let Some(p) = &self.password {
            s.push_str(&format!(" password={}", quote_conninfo(p.expose())));
        }
        s
    }
}

/// `"name"` with inner quotes doubled: safe for any identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with inner quotes doubled: a SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quote_conninfo(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

type R<T> = Result<T, sqlx::Error>;

/// Whether new transactions in `db` default to read-only (the database-level setting).
pub async fn db_read_only(c: &mut PgConnection, db: &str) -> R<bool> {
    Ok(db_setting(c, db, "default_transaction_read_only")
        .await?
        .as_deref()
        == Some("on"))
}

/// The database-level value of `name` (`ALTER DATABASE ... SET`), if set.
pub async fn db_setting(c: &mut PgConnection, db: &str, name: &str) -> R<Option<String>> {
    let row = sqlx::query(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase \
         WHERE d.datname = $1 AND s.setrole = 0",
    )
    .bind(db)
    .fetch_optional(&mut *c)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let cfg: Vec<String> = row.try_get(0)?;
    let prefix = format!("{name}=");
    Ok(cfg
        .into_iter()
        .find_map(|kv| kv.strip_prefix(&prefix).map(str::to_string)))
}

pub async fn set_db_read_only(c: &mut PgConnection, db: &str, on: bool) -> R<()> {
    let sql = if on {
        format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on",
            quote_ident(db)
        )
    } else {
        format!(
            "ALTER DATABASE {} RESET default_transaction_read_only",
            quote_ident(db)
        )
    };
    sqlx::query(&sql).execute(&mut *c).await?;
    Ok(())
}

/// When the last completed drain of `db` finished, if it is drained.
pub async fn drained_at(c: &mut PgConnection, db: &str) -> R<Option<String>> {
    if !db_read_only(c, db).await? {
        return Ok(None);
    }
    db_setting(c, db, DRAINED_AT).await
}

pub async fn clear_drained(c: &mut PgConnection, db: &str) -> R<()> {
    sqlx::query(&format!(
        "ALTER DATABASE {} RESET \"{DRAINED_AT}\"",
        quote_ident(db)
    ))
    .execute(&mut *c)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DrainReport {
    /// Sessions ended at once because they had no transaction open.
    pub ended_idle: u32,
    /// Sessions ended when the grace ran out (they were inside a transaction).
    pub ended_after_grace: u32,
    /// Sessions that finished by themselves during the grace.
    pub left_by_themselves: u32,
    pub waited_ms: u64,
    pub drained_at: String,
}

/// Make `db` read-only for new transactions, then end every older application session: at once
/// when it has no transaction open (its next statement would still write), after `grace` when
/// it is inside one (so it can commit). Returns once none of them is left.
pub async fn drain(c: &mut PgConnection, db: &str, grace: Duration) -> R<DrainReport> {
    let started = Instant::now();
    set_db_read_only(c, db, true).await?;
    // Sessions opened from now on get the read-only default; only older ones can write.
    let cutoff: String = sqlx::query_scalar("SELECT clock_timestamp()::text")
        .fetch_one(&mut *c)
        .await?;
    let mut report = DrainReport::default();
    let mut seen_busy: std::collections::HashSet<i32> = Default::default();
    loop {
        let rows = sqlx::query(
            "SELECT pid, coalesce(state, '') FROM pg_stat_activity \
             WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid() \
               AND application_name <> $2 AND backend_start < $3::timestamptz",
        )
        .bind(db)
        .bind(ADMIN_APP)
        .bind(&cutoff)
        .fetch_all(&mut *c)
        .await?;
        let live: Vec<i32> = rows.iter().map(|r| r.get::<i32, _>(0)).collect();
        report.left_by_themselves += seen_busy.iter().filter(|p| !live.contains(p)).count() as u32;
        seen_busy.retain(|p| live.contains(p));
        if rows.is_empty() {
            break;
        }
        let grace_over = started.elapsed() >= grace;
        for r in &rows {
            let pid: i32 = r.get(0);
            let state: String = r.get(1);
            let idle = state == "idle";
            if idle || grace_over {
                let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                    .bind(pid)
                    .fetch_one(&mut *c)
                    .await?;
                seen_busy.remove(&pid);
                match (ended, idle) {
                    (true, true) => report.ended_idle += 1,
                    (true, false) => report.ended_after_grace += 1,
                    (false, _) => {}
                }
            } else {
                seen_busy.insert(pid);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query(&format!(
        "ALTER DATABASE {} SET \"{DRAINED_AT}\" = {}",
        quote_ident(db),
        quote_literal(&cutoff)
    ))
    .execute(&mut *c)
    .await?;
    report.waited_ms = started.elapsed().as_millis() as u64;
    report.drained_at = cutoff;
    Ok(report)
}

/// The WAL position up to which commits are durable: every commit a client saw acknowledged
/// (synchronous commit) lies at or before it.
pub async fn flush_lsn(c: &mut PgConnection) -> R<String> {
    sqlx::query_scalar("SELECT pg_current_wal_flush_lsn()::text")
        .fetch_one(&mut *c)
        .await
}

/// A `pg_lsn` in its text form (`16/B374D848`) as the byte position it names.
pub fn lsn_value(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (hi <= u32::MAX as u64 && lo <= u32::MAX as u64).then_some(hi << 32 | lo)
}

/// Bytes from `b` to `a` (`a - b`), computed by the server.
pub async fn lsn_diff(c: &mut PgConnection, a: &str, b: &str) -> R<i64> {
    let v: f64 = sqlx::query_scalar("SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::float8")
        .bind(a)
        .bind(b)
        .fetch_one(&mut *c)
        .await?;
    Ok(v as i64)
}

/// The position a logical slot's consumer confirmed as applied and flushed.
pub async fn slot_confirmed_lsn(c: &mut PgConnection, slot: &str) -> R<Option<String>> {
    let v: Option<Option<String>> = sqlx::query_scalar(
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(slot)
    .fetch_optional(&mut *c)
    .await?;
    Ok(v.flatten())
}

/// Logical replication slots of database `db` on this server, by name.
pub async fn logical_slots(c: &mut PgConnection, db: &str) -> R<Vec<String>> {
    sqlx::query_scalar(
        "SELECT slot_name::text FROM pg_replication_slots \
         WHERE slot_type = 'logical' AND database = $1 ORDER BY 1",
    )
    .bind(db)
    .fetch_all(&mut *c)
    .await
}

/// Whether a consumer is connected to `slot` right now (`None`: no such slot).
pub async fn slot_active(c: &mut PgConnection, slot: &str) -> R<Option<bool>> {
    sqlx::query_scalar("SELECT active FROM pg_replication_slots WHERE slot_name = $1")
        .bind(slot)
        .fetch_optional(&mut *c)
        .await
}

/// The subscription of the current database that reads from a slot named `slot`, if any.
pub async fn subscription_for_slot(c: &mut PgConnection, slot: &str) -> R<Option<String>> {
    sqlx::query_scalar(
        "SELECT s.subname::text FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid \
         WHERE s.subslotname = $1 AND d.datname = current_database()",
    )
    .bind(slot)
    .fetch_optional(&mut *c)
    .await
}

pub async fn slot_exists(c: &mut PgConnection, slot: &str) -> R<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1")
            .bind(slot)
            .fetch_one(&mut *c)
            .await?;
    Ok(n > 0)
}

pub async fn create_slot(c: &mut PgConnection, slot: &str) -> R<()> {
    if !slot_exists(c, slot).await? {
        sqlx::query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')")
            .bind(slot)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn drop_slot(c: &mut PgConnection, slot: &str) -> R<()> {
    if slot_exists(c, slot).await? {
        sqlx::query("SELECT pg_drop_replication_slot($1)")
            .bind(slot)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn publication_exists(c: &mut PgConnection, name: &str) -> R<bool> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_publication WHERE pubname = $1")
        .bind(name)
        .fetch_one(&mut *c)
        .await?;
    Ok(n > 0)
}

pub async fn create_publication(c: &mut PgConnection, name: &str) -> R<()> {
    if !publication_exists(c, name).await? {
        sqlx::query(&format!(
            "CREATE PUBLICATION {} FOR ALL TABLES",
            quote_ident(name)
        ))
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub async fn drop_publication(c: &mut PgConnection, name: &str) -> R<()> {
    sqlx::query(&format!("DROP PUBLICATION IF EXISTS {}", quote_ident(name)))
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn subscription_exists(c: &mut PgConnection, name: &str) -> R<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid \
         WHERE s.subname = $1 AND d.datname = current_database()",
    )
    .bind(name)
    .fetch_one(&mut *c)
    .await?;
    Ok(n > 0)
}

/// How the subscription starts.
pub enum SubscriptionStart<'a> {
    /// Copy the tables first, with a new slot of the subscription's name on the publisher.
    CopyData,
    /// Stream from an existing slot on the publisher, no initial copy.
    FromSlot(&'a str),
}

pub async fn create_subscription(
    c: &mut PgConnection,
    name: &str,
    publisher: &Side,
    publication: &str,
    start: SubscriptionStart<'_>,
) -> R<()> {
    if subscription_exists(c, name).await? {
        return Ok(());
    }
    let with = match start {
        SubscriptionStart::CopyData => "copy_data = true".to_string(),
        SubscriptionStart::FromSlot(slot) => format!(
            "create_slot = false, slot_name = {}, copy_data = false",
            quote_literal(slot)
        ),
    };
    let sql = format!(
        "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH ({with})",
        quote_ident(name),
        quote_literal(&publisher.conninfo()),
        quote_ident(publication)
    );
    sqlx::query(&sql).execute(&mut *c).await?;
    Ok(())
}

/// Drop the subscription and (through it) its slot on the publisher.
pub async fn drop_subscription(c: &mut PgConnection, name: &str) -> R<()> {
    if subscription_exists(c, name).await? {
        sqlx::query(&format!("DROP SUBSCRIPTION {}", quote_ident(name)))
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Enable or disable a subscription (a paused mover keeps its slot, so nothing is lost).
/// Disabling returns once the subscription's workers have exited: the launcher stops them
/// asynchronously, and until they are gone changes may still land.
pub async fn set_subscription_enabled(
    c: &mut PgConnection,
    name: &str,
    on: bool,
    timeout: Duration,
) -> Result<(), String> {
    let verb = if on { "ENABLE" } else { "DISABLE" };
    sqlx::query(&format!("ALTER SUBSCRIPTION {} {verb}", quote_ident(name)))
        .execute(&mut *c)
        .await
        .map_err(|e| e.to_string())?;
    if on {
        return Ok(());
    }
    let started = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_subscription WHERE subname = $1 AND pid IS NOT NULL",
        )
        .bind(name)
        .fetch_one(&mut *c)
        .await
        .map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "subscription {name} disabled but {n} worker(s) still running after {}s",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the subscriber itself reports (pg_stat_subscription, apply worker row).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SubscriberView {
    pub worker_running: bool,
    pub received_lsn: Option<String>,
    pub latest_end_lsn: Option<String>,
    pub latest_end_time: Option<String>,
    /// Tables still in initial copy (srsubstate other than `r` ready).
    pub tables_not_ready: i64,
    pub tables_total: i64,
}

pub async fn subscriber_view(c: &mut PgConnection, sub: &str) -> R<SubscriberView> {
    let row = sqlx::query(
        "SELECT pid IS NOT NULL, received_lsn::text, latest_end_lsn::text, latest_end_time::text \
         FROM pg_stat_subscription WHERE subname = $1 AND relid IS NULL",
    )
    .bind(sub)
    .fetch_optional(&mut *c)
    .await?;
    let mut v = SubscriberView::default();
    if let Some(r) = row {
        v.worker_running = r.try_get(0)?;
        v.received_lsn = r.try_get(1)?;
        v.latest_end_lsn = r.try_get(2)?;
        v.latest_end_time = r.try_get(3)?;
    }
    let counts = sqlx::query(
        "SELECT count(*) FILTER (WHERE r.srsubstate <> 'r'), count(*) FROM pg_subscription_rel r \
         JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1",
    )
    .bind(sub)
    .fetch_one(&mut *c)
    .await?;
    v.tables_not_ready = counts.try_get(0)?;
    v.tables_total = counts.try_get(1)?;
    Ok(v)
}

/// Replication lag measured from both servers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Lag {
    pub source_lsn: String,
    pub confirmed_lsn: Option<String>,
    /// WAL bytes the subscriber has not confirmed yet.
    pub bytes: i64,
    /// Time lag the publisher measured from subscriber feedback (`pg_stat_replication.replay_lag`);
    /// 0 when nothing is pending.
    pub millis: i64,
    pub subscriber: SubscriberView,
}

impl Lag {
    /// True once the initial copy is over and the subscriber streams changes.
    pub fn in_cdc(&self) -> bool {
        self.subscriber.worker_running
            && self.subscriber.tables_total > 0
            && self.subscriber.tables_not_ready == 0
    }

    /// Full-load progress in percent, from the subscriber's per-table states.
    pub fn progress_pct(&self) -> f64 {
        let t = self.subscriber.tables_total;
        if t == 0 {
            0.0
        } else {
            100.0 * (t - self.subscriber.tables_not_ready) as f64 / t as f64
        }
    }

    /// The DRS job status this state corresponds to (research §3.1).
    pub fn drs_status(&self) -> &'static str {
        if self.in_cdc() {
            "INCRE_TRANSFER_STARTED"
        } else if self.subscriber.worker_running {
            "FULL_TRANSFER_STARTED"
        } else if self.confirmed_lsn.is_none() && self.subscriber.tables_total == 0 {
            // Subscription and slot gone: the mover was released at cutover (DRS: terminated).
            "RELEASE_RESOURCE_COMPLETE"
        } else {
            "INCRE_TRANSFER_FAILED"
        }
    }

    /// This sample as one item of DRS `batch-progress` results, so the engine's DRS-shaped code
    /// reads the lab exactly as it reads DRS.
    pub fn to_drs_progress(&self, job_id: &str, now_ms: i64) -> serde_json::Value {
        let cdc = self.in_cdc();
        let (delay_s, delay_ms) = if cdc {
            (
                format!("{}", self.millis / 1000),
                format!("{}", self.millis),
            )
        } else {
            ("-1".to_string(), "-1".to_string())
        };
        let pct = self.progress_pct();
        serde_json::json!({
            "job_id": job_id,
            "progress": format!("{}", pct.floor() as i64),
            "incre_trans_delay": delay_s,
            "incre_trans_delay_millis": delay_ms,
            "task_mode": "FULL_INCR_TRANS",
            "transfer_status": self.drs_status(),
            "process_time": format!("{now_ms}"),
            "remaining_time": "0",
            "progress_map": {"data": {"completed": format!("{}%", pct.floor() as i64), "remaining_time": null}},
        })
    }
}

/// Lag of subscription `sub` (on `target`) behind its slot `slot` on `source`.
pub async fn measure_lag(
    source: &mut PgConnection,
    target: &mut PgConnection,
    sub: &str,
    slot: &str,
) -> R<Lag> {
    let source_lsn = flush_lsn(source).await?;
    let confirmed_lsn = slot_confirmed_lsn(source, slot).await?;
    let bytes = match &confirmed_lsn {
        Some(c) => lsn_diff(source, &source_lsn, c).await?.max(0),
        None => -1,
    };
    let replay_ms: Option<f64> = sqlx::query_scalar(
        "SELECT (extract(epoch FROM replay_lag) * 1000)::float8 FROM pg_stat_replication \
         WHERE application_name = $1 ORDER BY backend_start DESC LIMIT 1",
    )
    .bind(sub)
    .fetch_optional(&mut *source)
    .await?
    .flatten();
    let millis = if bytes == 0 {
        0
    } else {
        replay_ms.unwrap_or(0.0).round() as i64
    };
    let subscriber = subscriber_view(target, sub).await?;
    Ok(Lag {
        source_lsn,
        confirmed_lsn,
        bytes,
        millis,
        subscriber,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct SyncReport {
    pub source_lsn: String,
    pub confirmed_lsn: String,
    pub subscriber_end_lsn: Option<String>,
    pub waited_ms: u64,
}

/// Wait until the consumer of `slot` on the publisher has applied and flushed every WAL byte the
/// publisher had flushed when this was called. `side` names the publisher in errors.
pub async fn wait_caught_up(
    publisher: &mut PgConnection,
    subscriber: Option<(&mut PgConnection, &str)>,
    slot: &str,
    timeout: Duration,
) -> Result<SyncReport, String> {
    let started = Instant::now();
    let target_lsn = flush_lsn(publisher).await.map_err(|e| e.to_string())?;
    let mut subscriber = subscriber;
    loop {
        let confirmed = slot_confirmed_lsn(publisher, slot)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("replication slot {slot} does not exist on the publisher"))?;
        let behind = lsn_diff(publisher, &target_lsn, &confirmed)
            .await
            .map_err(|e| e.to_string())?;
        if behind <= 0 {
            let end = match subscriber.as_mut() {
                Some((c, sub)) => {
                    subscriber_view(c, sub)
                        .await
                        .map_err(|e| e.to_string())?
                        .latest_end_lsn
                }
                None => None,
            };
            return Ok(SyncReport {
                source_lsn: target_lsn,
                confirmed_lsn: confirmed,
                subscriber_end_lsn: end,
                waited_ms: started.elapsed().as_millis() as u64,
            });
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "the subscriber confirmed {confirmed} but the publisher flushed {target_lsn} \
                 ({behind} bytes behind) after {}s; check the subscription worker and its log",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every sequence with its current value (`None` when never used).
pub async fn sequences(c: &mut PgConnection) -> R<Vec<(String, String, Option<i64>)>> {
    let rows = sqlx::query(
        "SELECT schemaname::text, sequencename::text, last_value FROM pg_sequences \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// Logical replication does not carry sequences: move every sequence of `to` forward to at
/// least its value on `from`, so new rows at `to` do not reuse ids. Never moves one backwards,
/// so running it twice is harmless. Returns how many were moved.
pub async fn carry_sequences(from: &mut PgConnection, to: &mut PgConnection) -> R<u32> {
    let mut moved = 0;
    let theirs = sequences(to).await?;
    for (schema, name, value) in sequences(from).await? {
        let Some(v) = value else { continue };
        let current = theirs
            .iter()
            .find(|(s, n, _)| *s == schema && *n == name)
            .and_then(|(_, _, v)| *v);
        if current.is_some_and(|c| c >= v) {
            continue;
        }
        let exists = theirs.iter().any(|(s, n, _)| *s == schema && *n == name);
        if !exists {
            continue;
        }
        let qualified = format!("{}.{}", quote_ident(&schema), quote_ident(&name));
        sqlx::query("SELECT setval($1::regclass, $2, true)")
            .bind(&qualified)
            .bind(v)
            .execute(&mut *to)
            .await?;
        moved += 1;
    }
    Ok(moved)
}

/// User tables as `schema.table`, sorted.
pub async fn user_tables(c: &mut PgConnection) -> R<Vec<String>> {
    sqlx::query_scalar("SELECT schemaname || '.' || relname FROM pg_stat_user_tables ORDER BY 1")
        .fetch_all(&mut *c)
        .await
}

/// A smoke test through an application-like session: the database answers, is not read-only,
/// and accepts a write (into a temporary table, rolled back, so no data changes).
pub async fn smoke_write(side: &Side) -> Result<serde_json::Value, sqlx::Error> {
    let started = Instant::now();
    let mut c = side.connect_app("wavedeck-smoke").await?;
    let ro: String = sqlx::query_scalar("SHOW default_transaction_read_only")
        .fetch_one(&mut c)
        .await?;
    let mut tx = c.begin().await?;
    sqlx::query("CREATE TEMP TABLE wd_smoke (x int) ON COMMIT DROP")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO wd_smoke VALUES (1)")
        .execute(&mut *tx)
        .await?;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM wd_smoke")
        .fetch_one(&mut *tx)
        .await?;
    tx.rollback().await?;
    let _ = c.close().await;
    Ok(serde_json::json!({
        "endpoint": side.endpoint(),
        "read_only_default": ro,
        "write_roundtrip_rows": n,
        "ms": started.elapsed().as_millis() as u64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn lsn_text_reads_as_a_byte_position() {
        assert_eq!(lsn_value("0/0"), Some(0));
        assert_eq!(lsn_value("16/B374D848"), Some(0x16_B374_D848));
        assert!(lsn_value("0/2") > lsn_value("0/1"));
        assert!(lsn_value("1/0") > lsn_value("0/FFFFFFFF"));
        for bad in ["", "16", "G/0", "0/", "1/100000000"] {
            assert_eq!(lsn_value(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_conninfo("p'w\\"), "'p\\'w\\\\'");
    }

    #[test]
    fn conninfo_carries_password_but_debug_does_not() {
        let mut s = Side::new("127.0.0.1", 5432, "app", "orders");
        s.password = Some(Secret::new("hunter22"));
        assert!(s.conninfo().contains("password='hunter22'"));
        assert!(!format!("{s:?}").contains("hunter22"));
        let e = s.err("source", "auth failed for password hunter22");
        assert!(!e.to_string().contains("hunter22"), "{e}");
        assert!(
            e.to_string().contains("source 127.0.0.1:5432/orders"),
            "{e}"
        );
    }

    #[test]
    fn lag_in_drs_format() {
        let mut lag = Lag {
            millis: 1530,
            bytes: 10,
            ..Lag::default()
        };
        let v = lag.to_drs_progress("job-1", 42);
        assert_eq!(v["incre_trans_delay"], "-1");
        assert_eq!(v["transfer_status"], "RELEASE_RESOURCE_COMPLETE");
        lag.confirmed_lsn = Some("0/1".into());
        assert_eq!(lag.drs_status(), "INCRE_TRANSFER_FAILED");
        lag.subscriber.worker_running = true;
        lag.subscriber.tables_total = 4;
        lag.subscriber.tables_not_ready = 1;
        let v = lag.to_drs_progress("job-1", 42);
        assert_eq!(v["progress"], "75");
        assert_eq!(v["transfer_status"], "FULL_TRANSFER_STARTED");
        lag.subscriber.tables_not_ready = 0;
        let v = lag.to_drs_progress("job-1", 42);
        assert_eq!(v["incre_trans_delay"], "1");
        assert_eq!(v["incre_trans_delay_millis"], "1530");
        assert_eq!(v["transfer_status"], "INCRE_TRANSFER_STARTED");
        assert_eq!(v["process_time"], "42");
    }
}
