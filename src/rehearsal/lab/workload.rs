//! A steady write workload that behaves like a careful application: it resolves the service
//! name through the DNS provider on every (re)connect, writes numbered rows one at a time and
//! counts the writes the server acknowledged. After an ambiguous failure (connection lost around
//! a commit) it looks for its row before writing it again, so a correct cutover shows every
//! acknowledged write exactly once.

use crate::cutover::dns_provider::FileDns;
use crate::cutover::side::Side;
use crate::inventory::Engine;
use serde::{Deserialize, Serialize};
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The workload's table (created by the lab seed on both sides).
pub const TABLE: &str = "wd_workload";
/// SQLSTATE `read_only_sql_transaction`: the write certainly did not happen.
const READ_ONLY: &str = "25006";
/// MySQL / MariaDB errors saying the server refused the write because of read_only /
/// super_read_only (1290 ER_OPTION_PREVENTS_STATEMENT, 1792 read-only transaction, 1836
/// ER_READ_ONLY_MODE): the write certainly did not happen.
const MY_READ_ONLY: [u16; 3] = [1290, 1792, 1836];

/// Whether `e` proves the write was not applied (as opposed to a lost connection, after which
/// it may or may not have committed).
fn refused_read_only(e: &sqlx::Error) -> bool {
    let Some(d) = e.as_database_error() else {
        return false;
    };
    if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return MY_READ_ONLY.contains(&m.number());
    }
    d.code().is_some_and(|c| c == READ_ONLY)
}

/// The workload's session, on either engine.
enum Conn {
    Pg(PgConnection),
    My(MySqlConnection),
}

impl Conn {
    async fn insert(&mut self, client: &str, seq: i64) -> Result<(), sqlx::Error> {
        match self {
            Conn::Pg(c) => {
                sqlx::query("INSERT INTO wd_workload (client, seq) VALUES ($1, $2)")
                    .bind(client)
                    .bind(seq)
                    .execute(c)
                    .await?;
            }
            Conn::My(c) => {
                sqlx::query("INSERT INTO wd_workload (client, seq) VALUES (?, ?)")
                    .bind(client)
                    .bind(seq)
                    .execute(c)
                    .await?;
            }
        }
        Ok(())
    }

    async fn count(&mut self, client: &str, seq: i64) -> Result<i64, sqlx::Error> {
        match self {
            Conn::Pg(c) => {
                sqlx::query_scalar(
                    "SELECT count(*) FROM wd_workload WHERE client = $1 AND seq = $2",
                )
                .bind(client)
                .bind(seq)
                .fetch_one(c)
                .await
            }
            Conn::My(c) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM wd_workload WHERE client = ? AND seq = ?")
                    .bind(client)
                    .bind(seq)
                    .fetch_one(c)
                    .await
            }
        }
    }

    async fn close(self) {
        let _ = match self {
            Conn::Pg(c) => c.close().await,
            Conn::My(c) => c.close().await,
        };
    }
}

/// One acknowledged write.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ack {
    pub seq: i64,
    /// `host:port` that acknowledged it.
    pub endpoint: String,
    /// Milliseconds since the workload started.
    pub at_ms: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkloadStats {
    pub client: String,
    pub acks: Vec<Ack>,
    pub errors: u64,
    pub last_error: Option<String>,
    pub endpoint: Option<String>,
}

impl WorkloadStats {
    pub fn acked(&self) -> usize {
        self.acks.len()
    }
}

/// Where `lab workload` leaves every acknowledged write of database `db` when it stops (the
/// figures file, [`figures_file`], holds counters only): what an audit reads.
pub fn acks_file(lab_dir: &Path, db: &str) -> PathBuf {
    lab_dir.join(format!("workload-{db}.acks.json"))
}

/// Where `lab workload` writes its figures for database `db` every half second (what `lab
/// status` shows).
pub fn figures_file(lab_dir: &Path, db: &str) -> PathBuf {
    lab_dir.join(format!("workload-{db}.json"))
}

/// Write unavailability as the client saw it: from the last write acknowledged by `from` to the
/// first write acknowledged by `to` after it, in milliseconds.
pub fn unavailability_ms(acks: &[Ack], from: &str, to: &str) -> Option<f64> {
    let first_to = acks.iter().position(|a| a.endpoint == to)?;
    let last_from = acks[..first_to].iter().rev().find(|a| a.endpoint == from)?;
    Some(acks[first_to].at_ms - last_from.at_ms)
}

pub struct Workload {
    pub client: String,
    pub dns: FileDns,
    pub dns_name: String,
    pub engine: Engine,
    /// Template for connections: host and port come from the DNS answer. For MySQL this is the
    /// application's user: one without the privilege that writes through read_only.
    pub side: Side,
    pub pause: Duration,
}

/// A running workload: stop it to get its figures.
pub struct Running {
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<WorkloadStats>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    /// A copy of the figures so far.
    pub fn snapshot(&self) -> WorkloadStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub async fn stop(self) -> WorkloadStats {
        self.stop.store(true, Ordering::SeqCst);
        let stats = self.stats.clone();
        let _ = self.handle.await;
        let s = stats.lock().map(|s| s.clone()).unwrap_or_default();
        s
    }

    /// Counters without the per-write list (cheap enough to call often).
    pub fn summary(&self) -> serde_json::Value {
        match self.stats.lock() {
            Ok(s) => serde_json::json!({
                "client": s.client,
                "acked": s.acks.len(),
                "last_seq": s.acks.last().map(|a| a.seq),
                "errors": s.errors,
                "last_error": s.last_error,
                "endpoint": s.endpoint,
            }),
            Err(_) => serde_json::Value::Null,
        }
    }
}

enum Pending {
    /// Not written, or certainly not committed.
    Fresh,
    /// The last attempt may have committed: look before writing again.
    Unknown,
}

impl Workload {
    pub fn start(self) -> Running {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(WorkloadStats {
            client: self.client.clone(),
            ..Default::default()
        }));
        let handle = tokio::spawn(run(self, stop.clone(), stats.clone()));
        Running {
            stop,
            stats,
            handle,
        }
    }

    async fn connect(&self) -> Result<(Conn, String), String> {
        let entry = self
            .dns
            .current(&self.dns_name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} does not resolve", self.dns_name))?;
        let (host, port) = entry
            .value
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                format!(
                    "{} resolves to {:?}, not host:port",
                    self.dns_name, entry.value
                )
            })?;
        let side = Side {
            host,
            port,
            ..self.side.clone()
        };
        let c = match self.engine {
            Engine::Postgres => Conn::Pg(
                side.connect_app("wavedeck-workload")
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            Engine::Mysql => Conn::My(
                crate::cutover::mysql::ops::app(&side)
                    .await
                    .map_err(|e| side.err("workload", e).msg)?,
            ),
        };
        Ok((c, side.endpoint()))
    }
}

async fn run(w: Workload, stop: Arc<AtomicBool>, stats: Arc<Mutex<WorkloadStats>>) {
    let t0 = Instant::now();
    let mut seq: i64 = 1;
    let mut pending = Pending::Fresh;
    let mut conn: Option<(Conn, String)> = None;
    let note_err = |stats: &Arc<Mutex<WorkloadStats>>, e: String| {
        if let Ok(mut s) = stats.lock() {
            s.errors += 1;
            s.last_error = Some(e);
        }
    };
    while !stop.load(Ordering::SeqCst) {
        if conn.is_none() {
            match w.connect().await {
                Ok(c) => {
                    if let Ok(mut s) = stats.lock() {
                        s.endpoint = Some(c.1.clone());
                    }
                    conn = Some(c);
                }
                Err(e) => {
                    note_err(&stats, e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
        }
        let Some((c, endpoint)) = conn.as_mut() else {
            continue;
        };
        if matches!(pending, Pending::Unknown) {
            let found = c.count(&w.client, seq).await;
            match found {
                Ok(n) if n > 0 => {
                    // It did commit: acknowledge it now (late, which only makes the measured
                    // unavailability longer, never shorter).
                    push_ack(&stats, seq, endpoint, t0);
                    seq += 1;
                    pending = Pending::Fresh;
                    continue;
                }
                Ok(_) => pending = Pending::Fresh,
                Err(e) => {
                    note_err(&stats, e.to_string());
                    conn = None;
                    continue;
                }
            }
        }
        let r = c.insert(&w.client, seq).await;
        match r {
            Ok(_) => {
                push_ack(&stats, seq, endpoint, t0);
                seq += 1;
                if !w.pause.is_zero() {
                    tokio::time::sleep(w.pause).await;
                }
            }
            Err(e) => {
                pending = if refused_read_only(&e) {
                    Pending::Fresh
                } else {
                    Pending::Unknown
                };
                note_err(&stats, e.to_string());
                if let Some((c, _)) = conn.take() {
                    c.close().await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    if let Some((c, _)) = conn.take() {
        c.close().await;
    }
}

fn push_ack(stats: &Arc<Mutex<WorkloadStats>>, seq: i64, endpoint: &str, t0: Instant) {
    if let Ok(mut s) = stats.lock() {
        s.acks.push(Ack {
            seq,
            endpoint: endpoint.to_string(),
            at_ms: t0.elapsed().as_secs_f64() * 1000.0,
        });
    }
}

/// What the data says about the acknowledged writes at `side`: how many are missing and how
/// many rows of this client appear more than once.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Audit {
    pub acked: usize,
    pub rows: i64,
    pub missing: Vec<i64>,
    pub duplicated: Vec<i64>,
}

pub async fn audit(c: &mut PgConnection, stats: &WorkloadStats) -> Result<Audit, sqlx::Error> {
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM wd_workload WHERE client = $1 ORDER BY seq")
            .bind(&stats.client)
            .fetch_all(&mut *c)
            .await?;
    Ok(audit_seqs(&seqs, stats))
}

/// [`audit`] on a MySQL / MariaDB side.
pub async fn audit_my(
    c: &mut MySqlConnection,
    stats: &WorkloadStats,
) -> Result<Audit, sqlx::Error> {
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM wd_workload WHERE client = ? ORDER BY seq")
            .bind(&stats.client)
            .fetch_all(&mut *c)
            .await?;
    Ok(audit_seqs(&seqs, stats))
}

/// The audit of the rows found (`seqs`, sorted) against the acknowledged writes.
pub fn audit_seqs(seqs: &[i64], stats: &WorkloadStats) -> Audit {
    let mut duplicated: Vec<i64> = seqs
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    duplicated.dedup();
    let present: std::collections::HashSet<i64> = seqs.iter().copied().collect();
    let missing = stats
        .acks
        .iter()
        .map(|a| a.seq)
        .filter(|s| !present.contains(s))
        .collect();
    Audit {
        acked: stats.acks.len(),
        rows: seqs.len() as i64,
        missing,
        duplicated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(seq: i64, ep: &str, at: f64) -> Ack {
        Ack {
            seq,
            endpoint: ep.into(),
            at_ms: at,
        }
    }

    #[test]
    fn audit_finds_missing_and_doubled_writes() {
        let stats = WorkloadStats {
            client: "c".into(),
            acks: vec![ack(1, "s", 0.0), ack(2, "s", 1.0), ack(3, "t", 2.0)],
            ..Default::default()
        };
        let a = audit_seqs(&[1, 3, 3, 4], &stats);
        assert_eq!(a.missing, vec![2]);
        assert_eq!(a.duplicated, vec![3]);
        assert_eq!(a.rows, 4);
        assert_eq!(a.acked, 3);
    }

    #[test]
    fn unavailability_is_last_source_ack_to_first_target_ack() {
        let acks = vec![
            ack(1, "s", 0.0),
            ack(2, "s", 10.0),
            ack(3, "t", 850.0),
            ack(4, "t", 860.0),
        ];
        assert_eq!(unavailability_ms(&acks, "s", "t"), Some(840.0));
        assert_eq!(unavailability_ms(&acks, "t", "s"), None);
        assert_eq!(unavailability_ms(&acks[..2], "s", "t"), None);
    }
}
