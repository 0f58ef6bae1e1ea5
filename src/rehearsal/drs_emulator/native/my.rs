//! Native mode for MySQL jobs on MariaDB servers: the emulator moves the data as DRS does for a
//! MySQL migration job, and reports what the servers show in DRS's fields.
//!
//! - Start: the target is made read-only (`read_only`, server-wide, as DRS keeps a migration
//!   target), then the source's tables are copied from one consistent snapshot (`START
//!   TRANSACTION WITH CONSISTENT SNAPSHOT`; its GTID position from `BINLOG_GTID_POS` of the
//!   snapshot's binary log coordinates), and the target replicates from that position
//!   (`CHANGE MASTER 'name' TO ... MASTER_USE_GTID=slave_pos`, `name` being
//!   `NativeMover::subscription`, as the cutover code looks it up). The copy is written with
//!   `sql_log_bin=0`: the target's binary log then holds only what it replicated and, after a
//!   cutover, its own writes, so a rollback can replicate it back by GTID.
//! - Status and figures: `FULL_TRANSFER_STARTED` with the copied share of rows while copying;
//!   then `INCRE_TRANSFER_STARTED` while the replica's threads run, with the delay from
//!   `Seconds_Behind_Master` and the GTID gap: how long the oldest source position the target
//!   has not applied yet has waited ([`super::WalMarks`] over the summed sequence numbers), so
//!   the delay keeps growing while the replica is stopped or blocked.
//! - Pause stops the replica (or the copy, which starts again on resume); resume starts it;
//!   terminate removes it (`RESET SLAVE ALL`: position and credentials gone), carries
//!   AUTO_INCREMENT counters, lifts `read_only`, and keeps the target's data.
//! - A server that goes away fails the job (`FULL_TRANSFER_FAILED` / `INCRE_TRANSFER_FAILED`
//!   with DRS.KE0001); the worker keeps sampling, restarts a stopped replica, and the job streams
//!   again once the server is back. A copy that failed starts again.
//!
//! MariaDB only: a MySQL 8 server is refused at start with a message (its statements exist in
//! `cutover::mysql::ops`, but no MySQL 8 server was at hand to run this path against). Tables only:
//! views, routines, triggers and users are not copied.

use super::common::{next_task, released, started, Failure, Task, SAMPLE_MS, WORKER_GRACE_MS};
use super::{NativeJob, Observation};
use crate::cutover::mysql::ops::{self as my, Flavor, MariaPos, My};
use crate::cutover::side::Side;
use crate::drs::model::JobStatus;
use crate::rehearsal::drs_emulator::Emulator;
use std::sync::Arc;
use std::time::Duration;

mod copy;
pub mod obs;
pub(super) mod session;
use copy::copy;
pub use copy::{copied_as_hex, row_literal_sql};
pub use obs::{CopyProgress, MyObs};
use session::{at, lost, open};

/// How long a failed copy waits before it starts again.
const COPY_RETRY: Duration = Duration::from_secs(2);

/// The delay DRS would show: 0 when the target holds every source transaction, else the larger
/// of `Seconds_Behind_Master` and how long the oldest missing position has waited. Pure.
pub fn delay_ms(gap: u64, seconds_behind: Option<i64>, waited_ms: i64) -> i64 {
    if gap == 0 {
        return 0;
    }
    (seconds_behind.unwrap_or(0).max(0) * 1000).max(waited_ms.max(0))
}

/// A MariaDB position as one growing number (its sequence numbers summed over domains), for the
/// GTID gap's clock: every transaction a server commits raises it. Pure.
pub fn position_total(pos: &MariaPos) -> u64 {
    pos.0.values().map(|(_, n)| *n).sum()
}

/// What a sample means for a MySQL job's status: the new status and error, or `None` to keep
/// them. Pure; `down_ms` is how long the replica has been seen not running. A `full_only` job
/// (FULL_TRANS) rests in FULL_TRANSFER_COMPLETE once its copy set it there: it has no replica
/// to miss, and a server gone after the load fails nothing.
pub fn derive(
    status: &JobStatus,
    sample: &Result<MyObs, Failure>,
    down_ms: i64,
    full_only: bool,
) -> Option<(JobStatus, Option<Failure>)> {
    if full_only && *status == JobStatus::FullTransferComplete {
        return None;
    }
    let running = matches!(
        status,
        JobStatus::FullTransferStarted
            | JobStatus::FullTransferComplete
            | JobStatus::IncreTransferStarted
            | JobStatus::FullTransferFailed
            | JobStatus::IncreTransferFailed
    );
    if !running {
        return None;
    }
    let incremental = matches!(
        status,
        JobStatus::IncreTransferStarted | JobStatus::IncreTransferFailed
    );
    let failed = |copied: bool| {
        if copied || incremental {
            JobStatus::IncreTransferFailed
        } else {
            JobStatus::FullTransferFailed
        }
    };
    match sample {
        Err(f) => Some((failed(false), Some(f.clone()))),
        Ok(m) if m.copy.is_some() => Some((JobStatus::FullTransferStarted, None)),
        Ok(m) if m.streaming() => Some((JobStatus::IncreTransferStarted, None)),
        Ok(MyObs { replica: None, .. }) if incremental => Some((
            JobStatus::IncreTransferFailed,
            Some((
                String::new(),
                "the replication connection no longer exists on the target (removed outside DRS); retry the job to copy and replicate again".into(),
            )),
        )),
        // No replica yet: the copy starts (the worker runs it).
        Ok(MyObs { replica: None, .. }) => None,
        Ok(MyObs {
            replica: Some(r), ..
        }) if down_ms >= WORKER_GRACE_MS => Some((
            failed(true),
            Some((
                String::new(),
                format!(
                    "replication on the target has not run for {} s (io {}, sql {}): {}",
                    down_ms / 1000,
                    yes_no(r.io_running),
                    yes_no(r.sql_running),
                    r.last_error.as_deref().unwrap_or("no error reported; see the target's error log")
                ),
            )),
        )),
        Ok(_) => None,
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

/// Pause: stop the replica (both threads; STOP SLAVE returns once they stopped). A copy in
/// progress sees the paused status and stops before its next batch.
pub async fn pause(nj: &NativeJob) -> Result<(), Failure> {
    let mut t = open(&nj.target, "target").await?;
    let name = &nj.mover.subscription;
    if t.replica(name)
        .await
        .map_err(at(&nj.target, "target"))?
        .is_some()
    {
        my::exec(&mut t.c, &format!("STOP SLAVE {}", my::quote_literal(name)))
            .await
            .map_err(at(&nj.target, "target"))?;
    }
    Ok(())
}

/// The emulator's source-writes switch: drain the source server (`read_only`, sessions ended
/// after `grace`) or open it again.
pub async fn source_writes(
    nj: &NativeJob,
    active: bool,
    grace: Duration,
) -> Result<serde_json::Value, Failure> {
    let mut s = open(&nj.source, "source").await?;
    let err = at(&nj.source, "source");
    if active {
        s.set_fence(false).await.map_err(err)?;
        Ok(serde_json::json!({"source_writes": "on"}))
    } else {
        let r = s.drain(grace).await.map_err(err)?;
        Ok(serde_json::to_value(r).unwrap_or_default())
    }
}

fn mariadb_only(m: &My, side: &Side, which: &str) -> Result<(), Failure> {
    if m.flavor == Flavor::MariaDb {
        return Ok(());
    }
    Err((
        String::new(),
        format!(
            "the {which} {} runs MySQL {}: the emulator's native mode replicates MariaDB servers only; rehearse this database with the simulated emulator (without --native)",
            side.endpoint(),
            m.version
        ),
    ))
}

/// Start or resume: both servers are MariaDB, the source writes a ROW binary log, the target is
/// fenced; an existing replica is started again (no replica: the worker copies next). Returns
/// whether it set the target read-only.
async fn start(nj: &NativeJob) -> Result<bool, Failure> {
    let mut s = open(&nj.source, "source").await?;
    mariadb_only(&s, &nj.source, "source")?;
    let serr = at(&nj.source, "source");
    if !s.log_bin().await.map_err(&serr)? {
        return Err((
            String::new(),
            format!(
                "the source {} has no binary log (log_bin OFF): DRS reads the changes from it; start it with log_bin, binlog_format=ROW and binlog_row_image=FULL",
                nj.source.endpoint()
            ),
        ));
    }
    let format: String = sqlx::query_scalar("SELECT CAST(@@global.binlog_format AS CHAR)")
        .fetch_one(&mut s.c)
        .await
        .map_err(&serr)?;
    if !format.eq_ignore_ascii_case("row") {
        return Err((
            String::new(),
            format!(
                "the source {} writes binlog_format={format}: DRS needs ROW; SET GLOBAL binlog_format = 'ROW' (and in the server's configuration)",
                nj.source.endpoint()
            ),
        ));
    }
    let mut t = open(&nj.target, "target").await?;
    mariadb_only(&t, &nj.target, "target")?;
    let terr = at(&nj.target, "target");
    let mut readonly_set = false;
    if nj.target_readonly {
        t.set_fence(true).await.map_err(&terr)?;
        readonly_set = true;
    }
    let name = &nj.mover.subscription;
    if t.replica(name).await.map_err(&terr)?.is_some() {
        my::exec(&mut t.c, &t.flavor.start_replica_sql(name))
            .await
            .map_err(&terr)?;
    }
    Ok(readonly_set)
}

/// Terminate: remove the replica (position and credentials), carry AUTO_INCREMENT counters,
/// lift the read-only this job set. The target keeps its data. Idempotent.
async fn release(nj: &NativeJob) -> Result<Vec<String>, Failure> {
    let mut notes = Vec::new();
    let mut t = open(&nj.target, "target").await?;
    let terr = at(&nj.target, "target");
    let name = &nj.mover.subscription;
    if t.remove_replica(name).await.map_err(&terr)? {
        notes.push(format!("replication {name} removed from the target"));
    }
    let db = &nj.target.database;
    match open(&nj.source, "source").await {
        Ok(mut s) => match my::carry_auto_increments(&mut s, &nj.source.database, &mut t, db).await
        {
            Ok(moved) => notes.push(format!("{} AUTO_INCREMENT counter(s) carried", moved.len())),
            // 1049: the copy never created the database; nothing to carry.
            Err(e) => notes.push(format!(
                "AUTO_INCREMENT not carried: {}",
                nj.clean(&e.to_string())
            )),
        },
        Err((_, m)) => notes.push(format!(
            "source not reached, AUTO_INCREMENT not carried: {m}"
        )),
    }
    if nj.readonly_set || nj.target_readonly {
        t.set_fence(false).await.map_err(&terr)?;
    }
    Ok(notes)
}

/// One sample: the replica's state on the target and the GTID gap behind the source.
async fn sample(s: &mut My, t: &mut My, nj: &NativeJob) -> Result<MyObs, Failure> {
    let name = &nj.mover.subscription;
    let replica = t.replica(name).await.map_err(lost(&nj.target, "target"))?;
    let source_pos = s.gtid_pos().await.map_err(lost(&nj.source, "source"))?;
    let have = t.gtid_have().await.map_err(lost(&nj.target, "target"))?;
    let parse = |p: &str, side: &Side, which: &str| {
        MariaPos::parse(p).map_err(|m| (String::new(), side.err(which, m).to_string()))
    };
    let want = parse(&source_pos, &nj.source, "source")?;
    let gap = parse(&have, &nj.target, "target")?.behind(&want);
    Ok(MyObs {
        copy: None,
        seconds_behind: replica.as_ref().and_then(|r| r.seconds_behind),
        replica,
        gtid_gap: gap,
        source_total: position_total(&want),
        delay_ms: None,
    })
}

/// The job's worker, as the PostgreSQL one: acts on the status the API set, copies when the
/// target has no replica yet, samples, and exits once the job is released, deleted, failed to
/// start, or the emulator stops.
pub(crate) async fn worker(emu: Arc<Emulator>, id: String) {
    let mut conns: Option<(My, My)> = None;
    while let Some(task) = next_task(&emu, &id) {
        match task {
            Task::Start(nj) => {
                let r = start(&nj).await;
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
                        (Ok(s), Ok(t)) => Some((s, t)),
                        (Err(f), _) | (_, Err(f)) => {
                            record(&emu, &id, Err(f));
                            tokio::time::sleep(Duration::from_millis(SAMPLE_MS * 4)).await;
                            continue;
                        }
                    };
                }
                let Some((s, t)) = conns.as_mut() else {
                    continue;
                };
                let r = sample(s, t, &nj).await;
                match &r {
                    Err(_) => conns = None,
                    Ok(m)
                        if m.replica.is_none()
                            && matches!(
                                status,
                                JobStatus::FullTransferStarted | JobStatus::FullTransferFailed
                            ) =>
                    {
                        if nj.full_only && nj.loaded {
                            // Resumed after its load: FULL_TRANS copies once.
                            copy::loaded(&emu, &id);
                            continue;
                        }
                        match copy(&emu, &id, &nj).await {
                            Ok(()) => {}
                            Err(f) => {
                                tracing::warn!(job = %id, error = %nj.clean(&f.1), "native MySQL copy failed; starting again");
                                record(&emu, &id, Err(f));
                                tokio::time::sleep(COPY_RETRY).await;
                            }
                        }
                        continue;
                    }
                    Ok(m) => {
                        // DRS owns the replication: a replica found stopped without an error
                        // (a target restarted with skip-slave-start) is started again.
                        if let Some(rep) = &m.replica {
                            if !rep.running()
                                && rep.last_error.is_none()
                                && status != JobStatus::Pausing
                            {
                                let sql = t.flavor.start_replica_sql(&nj.mover.subscription);
                                let _ = my::exec(&mut t.c, &sql).await;
                            }
                        }
                    }
                }
                record(&emu, &id, r);
            }
        }
        tokio::time::sleep(Duration::from_millis(SAMPLE_MS)).await;
    }
}

/// Store a sample on the job and move its status.
fn record(emu: &Emulator, id: &str, r: Result<MyObs, Failure>) {
    let now = emu.clock.now();
    let wall = chrono::Utc::now().timestamp_millis();
    let mut st = emu.lock();
    let Some(j) = st.jobs.get_mut(id) else { return };
    let Some(nj) = j.native.as_mut() else { return };
    match &r {
        Ok(m)
            if m.replica.as_ref().is_some_and(|r| !r.running())
                && j.status != JobStatus::Pausing =>
        {
            nj.down_since_ms.get_or_insert(wall);
        }
        _ => nj.down_since_ms = None,
    }
    let down_ms = nj.down_since_ms.map(|t| wall - t).unwrap_or(0);
    let r = r.map(|mut m| {
        if m.replica.is_some() {
            // The gap's clock: the source's summed position, and what of it the target holds.
            let confirmed = m.source_total.saturating_sub(m.gtid_gap);
            let waited = nj.wal_marks.observe(m.source_total, confirmed, wall);
            m.delay_ms = Some(delay_ms(m.gtid_gap, m.seconds_behind, waited));
        } else {
            nj.wal_marks.clear();
        }
        m
    });
    let r = r.map_err(|(c, m)| (c, nj.clean(&m)));
    if let Ok(m) = &r {
        nj.obs = Some(Observation {
            at_ms: wall,
            subscription_exists: m.replica.is_some(),
            my: Some(m.clone()),
            ..Default::default()
        });
    }
    if let Some((status, error)) = derive(&j.status, &r, down_ms, nj.full_only) {
        if status != j.status {
            tracing::info!(job = %id, from = %j.status, to = %status, "native MySQL job status");
            j.updated_at = now;
            if status == JobStatus::IncreTransferStarted && j.full_complete_at.is_none() {
                j.full_complete_at = Some(now);
            }
        }
        j.status = status;
        j.error = error;
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::NET_FAIL;
    use super::*;
    use crate::cutover::mysql::ops::ReplicaStatus;

    fn replica(io: bool, sql: bool, err: Option<&str>) -> ReplicaStatus {
        ReplicaStatus {
            name: "wd_sub_shop".into(),
            io_running: io,
            sql_running: sql,
            last_error: err.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn delay_is_zero_when_caught_up_and_grows_with_the_gap_clock() {
        assert_eq!(delay_ms(0, Some(7), 9_000), 0, "nothing missing: 0");
        assert_eq!(delay_ms(3, Some(2), 500), 2_000);
        assert_eq!(
            delay_ms(3, None, 4_500),
            4_500,
            "a stopped replica has no seconds"
        );
        assert_eq!(position_total(&MariaPos::parse("0-1-8,1-2-5").unwrap()), 13);
    }

    #[test]
    fn copy_then_replica_follow_drs_statuses() {
        let copying = MyObs {
            copy: Some(CopyProgress {
                tables_total: 4,
                tables_done: 1,
                rows_est: 1000,
                rows_done: 600,
            }),
            ..Default::default()
        };
        assert_eq!(
            derive(
                &JobStatus::FullTransferStarted,
                &Ok(copying.clone()),
                0,
                false
            ),
            Some((JobStatus::FullTransferStarted, None))
        );
        assert!((copying.full_pct() - 60.0).abs() < 1e-9, "rows share wins");
        let mut over = copying.clone();
        over.copy.as_mut().unwrap().rows_done = 5000;
        assert_eq!(over.full_pct(), 99.0, "under 100 until it streams");
        let streaming = MyObs {
            replica: Some(replica(true, true, None)),
            delay_ms: Some(1200),
            ..Default::default()
        };
        assert!(streaming.streaming());
        assert_eq!(streaming.full_pct(), 100.0);
        assert_eq!(
            derive(
                &JobStatus::FullTransferStarted,
                &Ok(streaming.clone()),
                0,
                false
            ),
            Some((JobStatus::IncreTransferStarted, None))
        );
        assert_eq!(
            derive(&JobStatus::IncreTransferFailed, &Ok(streaming), 0, false),
            Some((JobStatus::IncreTransferStarted, None)),
            "it recovers by itself"
        );
        assert_eq!(
            derive(
                &JobStatus::FullTransferStarted,
                &Ok(MyObs::default()),
                0,
                false
            ),
            None,
            "no replica yet: the copy starts"
        );
    }

    #[test]
    fn lost_servers_stopped_and_removed_replicas_fail_the_job() {
        let f: Failure = (NET_FAIL.into(), "source 127.0.0.1:1 down".into());
        assert_eq!(
            derive(&JobStatus::IncreTransferStarted, &Err(f.clone()), 0, false),
            Some((JobStatus::IncreTransferFailed, Some(f.clone())))
        );
        assert_eq!(
            derive(&JobStatus::FullTransferStarted, &Err(f.clone()), 0, false),
            Some((JobStatus::FullTransferFailed, Some(f)))
        );
        let stopped = MyObs {
            replica: Some(replica(
                true,
                false,
                Some("Duplicate entry '7' for key 'PRIMARY'"),
            )),
            ..Default::default()
        };
        assert_eq!(
            derive(
                &JobStatus::IncreTransferStarted,
                &Ok(stopped.clone()),
                500,
                false
            ),
            None,
            "a blip is not a failure"
        );
        let (st, err) = derive(
            &JobStatus::IncreTransferStarted,
            &Ok(stopped),
            WORKER_GRACE_MS,
            false,
        )
        .unwrap();
        assert_eq!(st, JobStatus::IncreTransferFailed);
        let msg = err.unwrap().1;
        assert!(
            msg.contains("sql No") && msg.contains("Duplicate entry"),
            "{msg}"
        );
        let (st, err) = derive(
            &JobStatus::IncreTransferStarted,
            &Ok(MyObs::default()),
            0,
            false,
        )
        .unwrap();
        assert_eq!(st, JobStatus::IncreTransferFailed);
        assert!(err.unwrap().1.contains("removed outside DRS"));
        let f: Failure = (NET_FAIL.into(), "source 127.0.0.1:1 down".into());
        let done = JobStatus::FullTransferComplete;
        assert_eq!(
            derive(&done, &Err(f), 0, true),
            None,
            "a FULL_TRANS job's load is over"
        );
        assert_eq!(derive(&done, &Ok(MyObs::default()), 0, true), None);
        for s in [JobStatus::Pausing, JobStatus::ReleaseResourceStarted] {
            assert_eq!(
                derive(&s, &Ok(MyObs::default()), WORKER_GRACE_MS, false),
                None,
                "{s}"
            );
        }
    }
}
