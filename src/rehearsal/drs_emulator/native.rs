//! Native mode: the emulator moves the data for real. A PostgreSQL job gets a publication on
//! its source and a subscription on its target (the names of [`NativeMover`], so the cutover
//! code finds them), and its status, progress and lag are measured from the two servers and
//! reported in DRS's own fields. The API, the state machine and the error bodies stay those of
//! the simulated jobs, so the production client and engine run unchanged against it.
//!
//! Who does what:
//! - handlers do the quick, synchronous parts: real connection tests, pause (disable the
//!   subscription and wait for its workers to exit, so nothing lands after a successful pause),
//!   and the source drain switch;
//! - one worker task per started job does the rest: set up (publication, subscription, target
//!   read-only), sample the servers every [`SAMPLE_MS`] and move the status, and release on
//!   terminate (drop the subscription and its slot, carry sequences, lift read-only). The target
//!   data stays.
//!
//! Passwords arrive in the create, connection-test and modify requests as with DRS. They are kept
//! only inside [`Side`]s (a `Secret`, never shown by Debug), put on the wire to the databases,
//! and redacted from every message.
//!
//! Engines: PostgreSQL here; MySQL jobs on MariaDB servers in [`my`] (a consistent copy, then
//! GTID replication on the target). [`check_engine`] says which engines native mode moves.

use super::job::Refusal;
use super::Emulator;
use crate::cutover::context::NativeMover;
use crate::cutover::postgres::ops::{self as pg, SubscriptionStart};
use crate::cutover::side::Side;
use crate::drs::api::{db_id_of_tag, TAG_DB_ID};
use crate::drs::model::{CreateJobReq, Endpoint, JobStatus, TestEndPoint};
use crate::inventory::Engine;
use crate::secret::redact;
use sqlx::postgres::PgConnection;
use std::sync::Arc;
use std::time::Duration;

mod common;
mod job_state;
pub mod my;

use common::{connect_within, next_task, released, smoothed_rate, started, Task};
pub use common::{Failure, AUTH_FAIL, NET_FAIL, SAMPLE_MS, WORKER_GRACE_MS};
pub use job_state::{NativeJob, Observation, WalMarks};

/// How long a pause waits for the subscription's workers to exit.
pub(crate) const PAUSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The engine of a job, or a refusal for what native mode cannot move. PostgreSQL is moved by
/// logical replication, MySQL by a copy and GTID replication ([`my`]).
pub fn check_engine(engine_type: &str) -> Result<Engine, Refusal> {
    match engine_type {
        "postgresql" => Ok(Engine::Postgres),
        "mysql" => Ok(Engine::Mysql),
        other => Err(Refusal {
            code: "DRS.M00202",
            msg: format!(
                "The value of parameter engine_type is invalid. (this emulator runs in native mode, which moves postgresql and mysql; engine_type {other:?} is not supported there: run the emulator without --native to simulate it)"
            ),
        }),
    }
}

fn side_of(ep: &Endpoint, which: &str) -> Result<Side, Refusal> {
    let missing = |field: &str| Refusal {
        code: "DRS.M00201",
        msg: format!("The parameter {which}.{field} is empty."),
    };
    let host = ep
        .ip
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or(missing("ip"))?;
    let port = ep.db_port.ok_or(missing("db_port"))?;
    let port = u16::try_from(port).map_err(|_| Refusal {
        code: "DRS.M00202",
        msg: format!("The value of parameter {which}.db_port is invalid."),
    })?;
    let user = ep
        .db_user
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or(missing("db_user"))?;
    let db = ep
        .db_name
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or(missing("db_name"))?;
    let mut side = Side::new(&host, port, &user, &db);
    side.password = ep.db_password.as_ref().map(|p| p.0.clone());
    Ok(side)
}

/// The native part of a new job, from its create request (passwords still in it).
pub fn new_job(req: &CreateJobReq) -> Result<NativeJob, Refusal> {
    let engine = check_engine(&req.engine_type)?;
    let source = side_of(&req.source_endpoint, "source_endpoint")?;
    let target = side_of(&req.target_endpoint, "target_endpoint")?;
    let db_id = req
        .tags
        .iter()
        .find(|t| t.key == TAG_DB_ID)
        .map(|t| db_id_of_tag(&t.value).unwrap_or_else(|| t.value.clone()))
        .unwrap_or_else(|| req.name.clone());
    Ok(NativeJob {
        engine,
        source,
        target,
        mover: NativeMover::for_db(&db_id),
        full_only: req.task_type == "FULL_TRANS",
        loaded: false,
        target_readonly: req.is_target_readonly.unwrap_or(true),
        readonly_set: false,
        worker: false,
        obs: None,
        down_since_ms: None,
        wal_marks: WalMarks::default(),
    })
}

impl NativeJob {
    /// Take the endpoints a modify request saved (DRS keeps what `store_db_info` stores).
    pub fn update(&mut self, source: Option<&Endpoint>, target: Option<&Endpoint>) {
        if let Some(s) = source.and_then(|e| side_of(e, "source_endpoint").ok()) {
            self.source = s;
        }
        if let Some(t) = target.and_then(|e| side_of(e, "target_endpoint").ok()) {
            self.target = t;
        }
    }

    /// A message with both passwords removed.
    pub(crate) fn clean(&self, text: &str) -> String {
        let secrets: Vec<&crate::secret::Secret> = self
            .source
            .password
            .iter()
            .chain(self.target.password.iter())
            .collect();
        redact(text, &secrets)
    }
}

async fn open(side: &Side, which: &str) -> Result<PgConnection, Failure> {
    use sqlx::{ConnectOptions, Connection};
    // connect_admin maps errors to text; classification needs the driver's error itself.
    let mut o = sqlx::postgres::PgConnectOptions::new()
        .host(&side.host)
        .port(side.port)
        .username(&side.user)
        .database(&side.database)
        .application_name(pg::ADMIN_APP)
        .disable_statement_logging();
    if let Some(p) = &side.password {
        o = o.password(p.expose());
    }
    let mut c = connect_within(side, which, o.connect()).await?;
    if let Err(e) = sqlx::query("SET default_transaction_read_only = off")
        .execute(&mut c)
        .await
    {
        let _ = c.close().await;
        return Err((String::new(), side.err(which, e).to_string()));
    }
    Ok(c)
}

/// The real connection test of one side (`so` source, `ta` target) of a connection-test item.
pub async fn test_connection(t: &TestEndPoint) -> Result<(), Refusal> {
    let which = if t.end_point_type == "so" {
        "source"
    } else {
        "target"
    };
    let ep = Endpoint {
        db_type: t.db_type.clone(),
        ip: t.ip.clone(),
        db_port: t.db_port,
        db_user: t.db_user.clone(),
        db_password: t.db_password.clone(),
        db_name: t.db_name.clone(),
        ..Default::default()
    };
    let engine = check_engine(&t.db_type)?;
    let side = side_of(&ep, if which == "source" { "so" } else { "ta" })?;
    let opened = match engine {
        Engine::Postgres => match open(&side, which).await {
            Ok(c) => {
                use sqlx::Connection;
                let _ = c.close().await;
                Ok(())
            }
            Err(f) => Err(f),
        },
        Engine::Mysql => my::session::open(&side, which).await.map(drop),
    };
    match opened {
        Ok(()) => Ok(()),
        Err((code, msg)) => Err(Refusal {
            code: if code == AUTH_FAIL {
                AUTH_FAIL
            } else {
                NET_FAIL
            },
            msg,
        }),
    }
}

/// Pause: disable the subscription and wait until its workers are gone.
pub async fn pause(nj: &NativeJob) -> Result<(), Failure> {
    if nj.engine == Engine::Mysql {
        return my::pause(nj).await;
    }
    let mut t = open(&nj.target, "target").await?;
    let exists = pg::subscription_exists(&mut t, &nj.mover.subscription)
        .await
        .map_err(|e| (String::new(), nj.target.err("target", e).to_string()))?;
    if !exists {
        return Ok(());
    }
    pg::set_subscription_enabled(&mut t, &nj.mover.subscription, false, PAUSE_TIMEOUT)
        .await
        .map_err(|m| (String::new(), nj.clean(&m)))
}

/// The emulator's source-writes switch, for real: drain the source database (read-only for new
/// transactions, older sessions ended after `grace`) or open it again.
pub async fn source_writes(
    nj: &NativeJob,
    active: bool,
    grace: Duration,
) -> Result<serde_json::Value, Failure> {
    if nj.engine == Engine::Mysql {
        return my::source_writes(nj, active, grace).await;
    }
    let mut s = open(&nj.source, "source").await?;
    let db = nj.source.database.clone();
    let err = |e: sqlx::Error| (String::new(), nj.source.err("source", e).to_string());
    if active {
        pg::set_db_read_only(&mut s, &db, false)
            .await
            .map_err(err)?;
        pg::clear_drained(&mut s, &db).await.map_err(err)?;
        Ok(serde_json::json!({"source_writes": "on"}))
    } else {
        let r = pg::drain(&mut s, &db, grace).await.map_err(err)?;
        Ok(serde_json::to_value(r).unwrap_or_default())
    }
}

/// Start or resume: publication on the source, read-only target, subscription (copying the
/// tables first) or the existing one enabled again. Idempotent.
async fn setup(nj: &NativeJob) -> Result<bool, Failure> {
    let mut s = open(&nj.source, "source").await?;
    let src_err = |e: sqlx::Error| (String::new(), nj.source.err("source", e).to_string());
    let tgt_err = |e: sqlx::Error| (String::new(), nj.target.err("target", e).to_string());
    pg::create_publication(&mut s, &nj.mover.publication)
        .await
        .map_err(src_err)?;
    let mut t = open(&nj.target, "target").await?;
    let mut readonly_set = false;
    if nj.target_readonly {
        pg::set_db_read_only(&mut t, &nj.target.database, true)
            .await
            .map_err(tgt_err)?;
        readonly_set = true;
    }
    if nj.full_only && nj.loaded {
        // A full-load-only job that copied once stays copied: its subscription stays disabled
        // (enabling it would stream what the source wrote since, which FULL_TRANS never does).
    } else if pg::subscription_exists(&mut t, &nj.mover.subscription)
        .await
        .map_err(tgt_err)?
    {
        pg::set_subscription_enabled(&mut t, &nj.mover.subscription, true, PAUSE_TIMEOUT)
            .await
            .map_err(|m| (String::new(), nj.clean(&m)))?;
    } else {
        pg::create_subscription(
            &mut t,
            &nj.mover.subscription,
            &nj.source,
            &nj.mover.publication,
            SubscriptionStart::CopyData,
        )
        .await
        .map_err(|e| {
            (
                String::new(),
                nj.clean(&nj.target.err("target", e).to_string()),
            )
        })?;
    }
    Ok(readonly_set)
}

/// Terminate: stop replication and leave the target as a database of its own. The target data
/// stays; sequences are carried (logical replication does not move them); the read-only this
/// job set is lifted, as DRS lifts it when a job ends. Idempotent.
async fn release(nj: &NativeJob) -> Result<Vec<String>, Failure> {
    let mut notes = Vec::new();
    let mut t = open(&nj.target, "target").await?;
    let tgt_err = |e: sqlx::Error| (String::new(), nj.target.err("target", e).to_string());
    let sub = &nj.mover.subscription;
    if pg::subscription_exists(&mut t, sub)
        .await
        .map_err(tgt_err)?
    {
        if let Err(e) = pg::drop_subscription(&mut t, sub).await {
            // The publisher is unreachable, so its slot cannot be dropped with it: detach the
            // slot and drop the subscription anyway; the slot stays on the source (say so).
            tracing::warn!(job_sub = %sub, error = %nj.clean(&e.to_string()), "dropping the subscription with its slot failed; detaching the slot");
            let q = pg::quote_ident(sub);
            for sql in [
                format!("ALTER SUBSCRIPTION {q} DISABLE"),
                format!("ALTER SUBSCRIPTION {q} SET (slot_name = NONE)"),
                format!("DROP SUBSCRIPTION {q}"),
            ] {
                sqlx::query(&sql).execute(&mut t).await.map_err(tgt_err)?;
            }
            notes.push(format!(
                "replication slot {sub} left on the source (unreachable): drop it there"
            ));
        }
    }
    match open(&nj.source, "source").await {
        Ok(mut s) => {
            let moved = pg::carry_sequences(&mut s, &mut t).await.map_err(tgt_err)?;
            notes.push(format!("{moved} sequence(s) carried to the target"));
            pg::drop_publication(&mut s, &nj.mover.publication)
                .await
                .map_err(|e| (String::new(), nj.source.err("source", e).to_string()))?;
        }
        Err((_, m)) => notes.push(format!("source not reached, sequences not carried: {m}")),
    }
    if nj.readonly_set || nj.target_readonly {
        pg::set_db_read_only(&mut t, &nj.target.database, false)
            .await
            .map_err(tgt_err)?;
    }
    Ok(notes)
}

/// How long a sample waits for a table lock before it keeps the last sizes.
const SAMPLE_LOCK_WAIT: &str = "SET lock_timeout = '200ms'";

fn lock_timed_out(e: &sqlx::Error) -> bool {
    // 55P03 lock_not_available: what lock_timeout raises.
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "55P03")
}

/// One sample of both servers.
async fn sample(
    s: &mut PgConnection,
    t: &mut PgConnection,
    nj: &NativeJob,
) -> Result<Observation, Failure> {
    let src = |e: sqlx::Error| (NET_FAIL.to_string(), nj.source.err("source", e).to_string());
    let tgt = |e: sqlx::Error| (NET_FAIL.to_string(), nj.target.err("target", e).to_string());
    let sub = &nj.mover.subscription;
    let subscription_exists = pg::subscription_exists(t, sub).await.map_err(tgt)?;
    // measure_lag reads both sides; find which one failed for the message.
    let lag = match pg::measure_lag(s, t, sub, sub).await {
        Ok(l) => l,
        Err(e) => {
            return Err(if sqlx::query("SELECT 1").execute(&mut *s).await.is_err() {
                src(e)
            } else {
                tgt(e)
            })
        }
    };
    // Table sizes take a lock on each table: behind someone's long lock (an ALTER, a LOCK
    // TABLE that stalls the apply) they would freeze the whole sample, lag included, exactly
    // when the lag matters. Past a short wait the last sizes stand.
    let prev = nj.obs.as_ref();
    let source_bytes: i64 = match sqlx::query_scalar(
        "SELECT coalesce(sum(pg_table_size(format('%I.%I', schemaname, tablename)::regclass)), 0)::int8 \
         FROM pg_publication_tables WHERE pubname = $1",
    )
    .bind(&nj.mover.publication)
    .fetch_one(&mut *s)
    .await
    {
        Err(e) if lock_timed_out(&e) => prev.map_or(0, |p| p.source_bytes),
        r => r.map_err(src)?,
    };
    let row: (i64, i64) = match sqlx::query_as(
        "SELECT coalesce(sum(pg_table_size(r.srrelid)), 0)::int8, \
                coalesce(sum(coalesce(st.n_tup_ins + st.n_tup_upd + st.n_tup_del, 0)), 0)::int8 \
         FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid \
         LEFT JOIN pg_stat_user_tables st ON st.relid = r.srrelid WHERE s.subname = $1",
    )
    .bind(sub)
    .fetch_one(&mut *t)
    .await
    {
        Err(e) if lock_timed_out(&e) => prev.map_or((0, 0), |p| (p.target_bytes, p.target_rows)),
        r => r.map_err(tgt)?,
    };
    // pg_stat_subscription_stats exists from PostgreSQL 15; older servers have no counts.
    let errors: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(apply_error_count + sync_error_count), 0)::int8 \
         FROM pg_stat_subscription_stats WHERE subname = $1",
    )
    .bind(sub)
    .fetch_one(&mut *t)
    .await
    .unwrap_or(0);
    Ok(Observation {
        at_ms: chrono::Utc::now().timestamp_millis(),
        lag,
        subscription_exists,
        source_bytes,
        target_bytes: row.0,
        target_rows: row.1,
        errors,
        rate_bps: 0.0,
        my: None,
    })
}

/// What a sample means for the job's status: the new status and error, or `None` to keep them.
/// Pure; `down_ms` is how long the replication worker has been missing. A `full_only` job
/// (FULL_TRANS) is complete once every table is copied (the worker has disabled its
/// subscription by then) and rests there: its missing workers are the point, not a failure.
pub fn derive(
    status: &JobStatus,
    sample: &Result<Observation, Failure>,
    down_ms: i64,
    full_only: bool,
) -> Option<(JobStatus, Option<Failure>)> {
    if full_only {
        if *status == JobStatus::FullTransferComplete {
            return None;
        }
        let copying = matches!(
            status,
            JobStatus::FullTransferStarted | JobStatus::FullTransferFailed
        );
        if copying && sample.as_ref().is_ok_and(|o| o.copied()) {
            return Some((JobStatus::FullTransferComplete, None));
        }
    }
    let running = matches!(
        status,
        JobStatus::StartJobing
            | JobStatus::FullTransferStarted
            | JobStatus::FullTransferComplete
            | JobStatus::IncreTransferStarted
            | JobStatus::FullTransferFailed
            | JobStatus::IncreTransferFailed
    );
    if !running {
        return None;
    }
    let failed_state = |copied: bool| {
        if copied || *status == JobStatus::IncreTransferStarted {
            JobStatus::IncreTransferFailed
        } else {
            JobStatus::FullTransferFailed
        }
    };
    match sample {
        Err(f) => Some((
            failed_state(matches!(
                status,
                JobStatus::IncreTransferStarted | JobStatus::IncreTransferFailed
            )),
            Some(f.clone()),
        )),
        Ok(o) if !o.subscription_exists => Some((
            failed_state(false),
            Some((
                String::new(),
                "the replication subscription no longer exists on the target (dropped outside DRS); retry the job to recreate it".into(),
            )),
        )),
        Ok(o) if o.in_cdc() => Some((JobStatus::IncreTransferStarted, None)),
        Ok(o) if o.lag.subscriber.worker_running => Some((JobStatus::FullTransferStarted, None)),
        Ok(o) if down_ms >= WORKER_GRACE_MS => {
            let copied = o.lag.subscriber.tables_total > 0 && o.lag.subscriber.tables_not_ready == 0;
            let errors = if o.errors > 0 {
                format!(" ({} apply/sync errors counted)", o.errors)
            } else {
                String::new()
            };
            Some((
                failed_state(copied),
                Some((
                    String::new(),
                    format!(
                        "the replication worker on the target has not run for {} s{errors}; see the target's server log",
                        down_ms / 1000
                    ),
                )),
            ))
        }
        Ok(_) => None,
    }
}

/// Start the worker of each named native job that has none.
pub(crate) fn kick(emu: &Arc<Emulator>, ids: &[String]) {
    let mut st = emu.lock();
    for id in ids {
        let Some(nj) = st.jobs.get_mut(id).and_then(|j| j.native.as_mut()) else {
            continue;
        };
        if nj.worker {
            continue;
        }
        nj.worker = true;
        let emu = emu.clone();
        let id = id.clone();
        match nj.engine {
            Engine::Postgres => tokio::spawn(async move { worker(emu, id).await }),
            Engine::Mysql => tokio::spawn(async move { my::worker(emu, id).await }),
        };
    }
}

/// The job's worker: acts on the status the API set, samples, and exits once the job is
/// released, deleted, failed to start, or the emulator stops.
async fn worker(emu: Arc<Emulator>, id: String) {
    let mut conns: Option<(PgConnection, PgConnection)> = None;
    while let Some(task) = next_task(&emu, &id) {
        match task {
            Task::Start(nj) => {
                let r = setup(&nj).await;
                if !started(&emu, &id, &nj, r) {
                    return;
                }
                conns = None;
                continue;
            }
            Task::Release(nj) => {
                let r = release(&nj).await;
                released(&emu, &id, &nj, r);
                return;
            }
            Task::Sample(nj, status) => {
                if conns.is_none() {
                    conns = match (
                        open(&nj.source, "source").await,
                        open(&nj.target, "target").await,
                    ) {
                        (Ok(mut s), Ok(mut t)) => {
                            for c in [&mut s, &mut t] {
                                // Best effort: without it a sample may wait, never fail.
                                let _ = sqlx::query(SAMPLE_LOCK_WAIT).execute(c).await;
                            }
                            Some((s, t))
                        }
                        (Err(f), _) | (_, Err(f)) => {
                            record(&emu, &id, Err(f));
                            tokio::time::sleep(Duration::from_millis(SAMPLE_MS * 4)).await;
                            continue;
                        }
                    };
                }
                let r = match conns.as_mut() {
                    Some((s, t)) => sample(s, t, &nj).await,
                    None => continue,
                };
                let r = match (r, conns.as_mut()) {
                    (Ok(o), Some((_, t))) if loads_once(&nj, &status, &o) => {
                        stop_after_load(&emu, &id, &nj, t).await.map(|()| o)
                    }
                    (r, _) => r,
                };
                if r.is_err() {
                    conns = None;
                }
                record(&emu, &id, r);
            }
        }
        tokio::time::sleep(Duration::from_millis(SAMPLE_MS)).await;
    }
}

/// Whether sample `o` shows a full-load-only job's copy just finished: every table ready while
/// the job still copies. Pure.
fn loads_once(nj: &NativeJob, status: &JobStatus, o: &Observation) -> bool {
    nj.full_only
        && matches!(
            status,
            JobStatus::FullTransferStarted | JobStatus::FullTransferFailed
        )
        && o.copied()
}

/// A full-load-only job copied its tables: disable the subscription and wait for its workers to
/// exit, so nothing streams after the load (the slot stays for release to drop), and note the
/// job as loaded so a resume does not enable it again. The status moves once this returns.
///
/// Why the target is a consistent copy even when the source still took writes: a table is
/// `ready` only once its sync caught up with the apply worker's stream, so with every table
/// ready the target is the source at one point of that stream, and disabling stops it at a
/// transaction boundary.
async fn stop_after_load(
    emu: &Emulator,
    id: &str,
    nj: &NativeJob,
    t: &mut PgConnection,
) -> Result<(), Failure> {
    pg::set_subscription_enabled(t, &nj.mover.subscription, false, PAUSE_TIMEOUT)
        .await
        .map_err(|m| {
            (
                String::new(),
                nj.target.err("target", nj.clean(&m)).to_string(),
            )
        })?;
    let mut st = emu.lock();
    if let Some(n) = st.jobs.get_mut(id).and_then(|j| j.native.as_mut()) {
        n.loaded = true;
    }
    tracing::info!(job = %id, "native full-load-only job copied; subscription disabled");
    Ok(())
}

/// Store a sample on the job and move its status.
fn record(emu: &Emulator, id: &str, r: Result<Observation, Failure>) {
    let now = emu.clock.now();
    let mut st = emu.lock();
    let Some(j) = st.jobs.get_mut(id) else { return };
    let Some(nj) = j.native.as_mut() else { return };
    let r = r.map(|mut o| {
        o.rate_bps = smoothed_rate(nj.obs.as_ref(), &o);
        o
    });
    let wall = chrono::Utc::now().timestamp_millis();
    match &r {
        Ok(o) if !o.lag.subscriber.worker_running && j.status != JobStatus::Pausing => {
            nj.down_since_ms.get_or_insert(wall);
        }
        _ => nj.down_since_ms = None,
    }
    let down_ms = nj.down_since_ms.map(|t| wall - t).unwrap_or(0);
    let r = r.map(|mut o| {
        let source = pg::lsn_value(&o.lag.source_lsn);
        let confirmed = o.lag.confirmed_lsn.as_deref().and_then(pg::lsn_value);
        match (source, confirmed) {
            (Some(s), Some(c)) => {
                let waited = nj.wal_marks.observe(s, c, o.at_ms);
                if o.lag.bytes > 0 {
                    o.lag.millis = o.lag.millis.max(waited);
                }
            }
            _ => nj.wal_marks.clear(),
        }
        nj.obs = Some(o.clone());
        o
    });
    let r = r.map_err(|(c, m)| (c, nj.clean(&m)));
    if let Some((status, error)) = derive(&j.status, &r, down_ms, nj.full_only) {
        if status != j.status {
            tracing::info!(job = %id, from = %j.status, to = %status, "native job status");
            j.updated_at = now;
            let loaded = matches!(
                status,
                JobStatus::IncreTransferStarted | JobStatus::FullTransferComplete
            );
            if loaded && j.full_complete_at.is_none() {
                j.full_complete_at = Some(now);
            }
        }
        j.status = status;
        j.error = error;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_marks_time_the_oldest_unconfirmed_position() {
        let mut m = WalMarks::default();
        assert_eq!(m.observe(100, 100, 1_000), 0, "caught up");
        // The subscriber stalls at 100 while the source moves on: the wait grows from the
        // first sample that saw WAL past 100, not from the newest.
        assert_eq!(m.observe(200, 100, 2_000), 0);
        assert_eq!(m.observe(300, 100, 2_500), 500);
        assert_eq!(
            m.observe(300, 100, 4_000),
            2_000,
            "an idle source does not reset it"
        );
        // It confirms up to 200: what was first seen at 2 500 is the oldest pending now.
        assert_eq!(m.observe(300, 200, 4_100), 1_600);
        assert_eq!(m.observe(350, 350, 4_200), 0, "caught up again");
        assert_eq!(m.observe(400, 350, 4_300), 0);
        assert_eq!(m.observe(400, 350, 4_800), 500);
        m.clear();
        assert_eq!(
            m.observe(400, 350, 5_000),
            0,
            "cleared: the clock starts again"
        );
    }

    fn obs(running: bool, total: i64, not_ready: i64) -> Observation {
        let mut o = Observation {
            subscription_exists: true,
            source_bytes: 1000,
            target_bytes: 400,
            ..Default::default()
        };
        o.lag.subscriber.worker_running = running;
        o.lag.subscriber.tables_total = total;
        o.lag.subscriber.tables_not_ready = not_ready;
        o.lag.millis = 1530;
        o
    }

    #[test]
    fn copying_then_streaming_follow_drs_statuses() {
        let s = JobStatus::StartJobing;
        let copying = obs(true, 3, 2);
        assert_eq!(
            derive(&s, &Ok(copying.clone()), 0, false),
            Some((JobStatus::FullTransferStarted, None))
        );
        assert_eq!(copying.delay_ms(), None);
        assert!((copying.full_pct() - 40.0).abs() < 1e-9, "bytes share wins");
        let streaming = obs(true, 3, 0);
        assert_eq!(
            derive(
                &JobStatus::FullTransferStarted,
                &Ok(streaming.clone()),
                0,
                false
            ),
            Some((JobStatus::IncreTransferStarted, None))
        );
        assert_eq!(streaming.full_pct(), 100.0);
        assert_eq!(streaming.delay_ms(), Some(1530));
    }

    #[test]
    fn progress_stays_under_100_until_every_table_is_ready() {
        let mut o = obs(true, 2, 1);
        o.target_bytes = 5000;
        assert_eq!(o.full_pct(), 99.0);
        o.rate_bps = 100.0;
        o.target_bytes = 800;
        assert!((o.remaining_s() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn unreachable_server_and_missing_worker_fail_the_job_with_a_message() {
        let f: Failure = (NET_FAIL.into(), "source down".into());
        assert_eq!(
            derive(&JobStatus::IncreTransferStarted, &Err(f.clone()), 0, false),
            Some((JobStatus::IncreTransferFailed, Some(f.clone())))
        );
        assert_eq!(
            derive(&JobStatus::FullTransferStarted, &Err(f.clone()), 0, false),
            Some((JobStatus::FullTransferFailed, Some(f)))
        );
        let down = obs(false, 3, 0);
        assert_eq!(
            derive(
                &JobStatus::IncreTransferStarted,
                &Ok(down.clone()),
                500,
                false
            ),
            None
        );
        let (st, err) = derive(
            &JobStatus::IncreTransferStarted,
            &Ok(down),
            WORKER_GRACE_MS,
            false,
        )
        .unwrap();
        assert_eq!(st, JobStatus::IncreTransferFailed);
        assert!(err.unwrap().1.contains("server log"));
        let mut gone = obs(true, 3, 0);
        gone.subscription_exists = false;
        assert_eq!(
            derive(&JobStatus::FullTransferStarted, &Ok(gone), 0, false)
                .unwrap()
                .0,
            JobStatus::FullTransferFailed
        );
    }

    #[test]
    fn a_full_load_only_job_completes_once_copied_and_rests_there() {
        let copying = obs(true, 3, 1);
        let started = JobStatus::FullTransferStarted;
        assert_eq!(
            derive(&started, &Ok(copying), 0, true),
            Some((JobStatus::FullTransferStarted, None))
        );
        // The worker disabled the subscription once every table was ready: no worker runs.
        let loaded = obs(false, 3, 0);
        assert!(loaded.copied() && !loaded.in_cdc());
        assert_eq!(
            derive(&started, &Ok(loaded.clone()), 0, true),
            Some((JobStatus::FullTransferComplete, None))
        );
        let done = JobStatus::FullTransferComplete;
        assert_eq!(
            derive(&done, &Ok(loaded.clone()), WORKER_GRACE_MS, true),
            None
        );
        let f: Failure = (NET_FAIL.into(), "source down".into());
        assert_eq!(derive(&done, &Err(f), 0, true), None, "the load is over");
        // Streaming is never reported for it, even if a subscription were enabled again.
        assert_eq!(
            derive(&started, &Ok(obs(true, 3, 0)), 0, true),
            Some((JobStatus::FullTransferComplete, None))
        );
        // A database without tables is copied at once; an online job would not be complete.
        assert!(obs(false, 0, 0).copied());
        assert_eq!(
            derive(&started, &Ok(loaded), WORKER_GRACE_MS, false)
                .unwrap()
                .0,
            JobStatus::IncreTransferFailed,
            "an online job with no worker fails"
        );
    }

    #[test]
    fn paused_configured_and_released_jobs_keep_their_status() {
        for s in [
            JobStatus::Pausing,
            JobStatus::Configuration,
            JobStatus::ReleaseResourceStarted,
            JobStatus::ReleaseResourceComplete,
        ] {
            assert_eq!(derive(&s, &Ok(obs(true, 1, 0)), 0, false), None, "{s}");
        }
    }

    #[test]
    fn engines_are_checked_and_endpoints_need_their_fields() {
        assert_eq!(check_engine("mysql").unwrap(), Engine::Mysql);
        let r = check_engine("oracle").unwrap_err();
        assert_eq!(r.code, "DRS.M00202");
        assert!(r.msg.contains("native mode"), "{}", r.msg);
        let mut req = CreateJobReq {
            name: "wd-db1".into(),
            engine_type: "postgresql".into(),
            ..Default::default()
        };
        assert_eq!(new_job(&req).unwrap_err().code, "DRS.M00201");
        let ep = |port| Endpoint {
            db_type: "postgresql".into(),
            ip: Some("127.0.0.1".into()),
            db_port: Some(port),
            db_user: Some("app".into()),
            db_password: Some(crate::drs::model::WirePassword(crate::secret::Secret::new(
                "pw-secret-9",
            ))),
            db_name: Some("orders".into()),
            ..Default::default()
        };
        req.source_endpoint = ep(5433);
        req.target_endpoint = ep(5434);
        req.tags = vec![crate::drs::model::Tag {
            key: TAG_DB_ID.into(),
            value: "Orders-DB".into(),
        }];
        let nj = new_job(&req).unwrap();
        assert_eq!(nj.mover.subscription, "wd_sub_orders_db");
        assert_eq!(nj.target.port, 5434);
        assert!(nj.target_readonly);
        assert_eq!(nj.engine, Engine::Postgres);
        assert!(!format!("{nj:?}").contains("pw-secret-9"));
        assert_eq!(nj.clean("x pw-secret-9 y"), "x *** y");
    }
}
