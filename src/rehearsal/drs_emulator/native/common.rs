//! What both engines' native job workers share, below both (`native.rs` for PostgreSQL, `my.rs`
//! for MySQL): DRS's failure codes, a connection failure in DRS's terms, the worker's next task
//! from the job's status, and the start/release results written back to the job.

use super::job_state::{NativeJob, Observation};
use crate::cutover::side::Side;
use crate::drs::model::JobStatus;
use crate::rehearsal::drs_emulator::Emulator;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often a worker samples its servers.
pub const SAMPLE_MS: u64 = 250;
/// A replication worker missing this long (not a restart blip) fails the job.
pub const WORKER_GRACE_MS: i64 = 10_000;
/// DRS's code for a failed login (research §4.3).
pub const AUTH_FAIL: &str = "DRS.KE0002";
/// Code for a database that cannot be reached. DRS documents none for this (UNCONFIRMED); the
/// emulator uses the code family of DRS.KE0002 so clients can tell it from a bad password.
pub const NET_FAIL: &str = "DRS.KE0001";

/// A failure as DRS reports it on the job: code (may be empty) and plain message.
pub type Failure = (String, String);

/// A connection failure in DRS's terms: a bad login is DRS.KE0002 with DRS's own message, an
/// unreachable server is [`NET_FAIL`]; the server's words follow, without the password.
pub fn connect_failure(side: &Side, which: &str, e: &sqlx::Error) -> Failure {
    let detail = side.err(which, e).to_string();
    match e {
        sqlx::Error::Database(d)
            if matches!(d.code().as_deref(), Some("28P01") | Some("28000")) =>
        {
            (
                AUTH_FAIL.into(),
                format!("The username or password is incorrect. ({detail})"),
            )
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => (
            NET_FAIL.into(),
            format!("The {which} database cannot be reached: check its address, port and network. ({detail})"),
        ),
        _ => (String::new(), detail),
    }
}

/// `connect` within 10 s, as DRS gives up on a connection test: its failure in DRS's terms (see
/// [`connect_failure`]), or [`NET_FAIL`] when the server does not answer.
pub async fn connect_within<C>(
    side: &Side,
    which: &str,
    connect: impl std::future::Future<Output = Result<C, sqlx::Error>>,
) -> Result<C, Failure> {
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(connect_failure(side, which, &e)),
        Err(_) => Err((
            NET_FAIL.into(),
            format!(
                "The {which} database cannot be reached: no answer from {} in 10 s.",
                side.endpoint()
            ),
        )),
    }
}

/// What a job's worker does next, from the status the API set.
pub(crate) enum Task {
    Start(NativeJob),
    Release(NativeJob),
    /// Sample the servers (the status says which phase the job is in).
    Sample(NativeJob, JobStatus),
}

/// The next task of job `id`'s worker, or `None` when the worker exits: the job is gone, its
/// status asks for nothing, or the emulator stops. Deciding to exit and clearing the `worker`
/// flag happen under one lock, so [`super::kick`] never misses a job.
pub(crate) fn next_task(emu: &Emulator, id: &str) -> Option<Task> {
    let mut st = emu.lock();
    let stopping = emu.stopping.load(Ordering::Relaxed);
    let j = st.jobs.get_mut(id)?;
    let status = j.status.clone();
    let nj = j.native.as_mut()?;
    match status {
        _ if stopping => None,
        JobStatus::StartJobing => Some(Task::Start((**nj).clone())),
        JobStatus::ReleaseResourceStarted => Some(Task::Release((**nj).clone())),
        JobStatus::FullTransferStarted
        | JobStatus::FullTransferComplete
        | JobStatus::IncreTransferStarted
        | JobStatus::FullTransferFailed
        | JobStatus::IncreTransferFailed
        | JobStatus::Pausing => Some(Task::Sample((**nj).clone(), status)),
        _ => None,
    }
    .or_else(|| {
        nj.worker = false;
        None
    })
}

/// The job's start has run (`Ok`: whether it set the target read-only): the job transfers, or
/// fails to start with DRS's error, unless the API moved it on meanwhile. Whether the worker
/// goes on (`false`: the job is gone or failed to start, the worker exits).
pub(crate) fn started(emu: &Emulator, id: &str, nj: &NativeJob, r: Result<bool, Failure>) -> bool {
    let now = emu.clock.now();
    let mut st = emu.lock();
    let Some(j) = st.jobs.get_mut(id) else {
        return false;
    };
    if j.status != JobStatus::StartJobing {
        return true;
    }
    j.updated_at = now;
    match r {
        Ok(ro) => {
            if let Some(n) = j.native.as_mut() {
                n.readonly_set |= ro;
                n.down_since_ms = None;
                n.wal_marks.clear();
            }
            j.error = None;
            j.status = JobStatus::FullTransferStarted;
            j.full_since = Some(now);
            true
        }
        Err((code, msg)) => {
            let msg = nj.clean(&msg);
            tracing::warn!(job = %id, engine = ?nj.engine, code = %code, error = %msg, "native job failed to start");
            j.error = Some((code, msg));
            j.status = JobStatus::StartJobFailed;
            if let Some(n) = j.native.as_mut() {
                n.worker = false;
            }
            false
        }
    }
}

/// The job's release has run (`Ok`: what it did): the job is released, or its release failed
/// with DRS's error. The worker exits after it.
pub(crate) fn released(emu: &Emulator, id: &str, nj: &NativeJob, r: Result<Vec<String>, Failure>) {
    let now = emu.clock.now();
    let mut st = emu.lock();
    let Some(j) = st.jobs.get_mut(id) else {
        return;
    };
    match r {
        Ok(notes) => {
            tracing::info!(job = %id, engine = ?nj.engine, notes = ?notes, "native job released");
            j.error = None;
            j.status = JobStatus::ReleaseResourceComplete;
        }
        Err((code, msg)) => {
            let msg = nj.clean(&msg);
            tracing::warn!(job = %id, engine = ?nj.engine, error = %msg, "native job release failed");
            j.error = Some((code, msg));
            j.status = JobStatus::ReleaseResourceFailed;
        }
    }
    j.updated_at = now;
    if let Some(n) = j.native.as_mut() {
        n.worker = false;
    }
}

/// The copy rate (bytes per second) of sample `o` after `prev`, smoothed over the samples.
pub(crate) fn smoothed_rate(prev: Option<&Observation>, o: &Observation) -> f64 {
    let inst = prev
        .filter(|p| o.at_ms > p.at_ms)
        .map(|p| {
            (o.target_bytes - p.target_bytes).max(0) as f64 * 1000.0 / (o.at_ms - p.at_ms) as f64
        })
        .unwrap_or(0.0);
    let old = prev.map(|p| p.rate_bps).unwrap_or(inst);
    0.7 * old + 0.3 * inst
}
