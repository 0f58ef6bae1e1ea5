//! Live validation ties each comparison to a point of the source's change stream: a source
//! chunk is read in a snapshot that notes the stream position it covers, and the target chunk
//! only once the replication has confirmed that position. PostgreSQL: the WAL insert position
//! read inside a REPEATABLE READ snapshot, against the `confirmed_flush_lsn` of the logical
//! slot DRS (or the lab's subscription) reads. MySQL / MariaDB: the binlog GTID position, which
//! the target waits for with `MASTER_GTID_WAIT` (MariaDB) or `WAIT_FOR_EXECUTED_GTID_SET`
//! (MySQL) when it carries the source's GTIDs; when it does not (DRS applies changes as the
//! target's own transactions), a marker row written on the source after the snapshot and seen
//! on the target (see [`Markers`]).
//!
//! Why a snapshot position is enough: every commit the snapshot sees lies at or before the
//! position read after the snapshot was taken, so a target that confirmed it holds at least
//! the snapshot's data. What it may hold beyond that is settled by `checksum`'s bracket: the
//! source is read again after the target, and a chunk that did not change in between and still
//! differs is a real difference.

use super::connect::Pool;
use crate::cutover::mysql::ops::{self as my, Flavor, MariaPos, MARKER_TABLE};
use crate::cutover::postgres::ops::{self as pg, lsn_value as parse_lsn};
use crate::cutover::side::Side;
use crate::inventory::DatabaseSpec;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the gate compares: exact with replication quiesced, or at positions while CDC runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Writes are drained and replication caught up (cutover): both sides read as they are.
    #[default]
    Final,
    /// CDC runs: every chunk is compared at a position of the change stream.
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Final => "final",
            Mode::Live => "live",
        }
    }
}

/// A point of the source's change stream.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Position {
    /// A PostgreSQL WAL position (byte offset).
    Lsn(u64),
    /// A MySQL / MariaDB GTID position or set, as the server prints it.
    Gtid(String),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Lsn(v) => write!(f, "lsn {:X}/{:X}", v >> 32, v & 0xffff_ffff),
            Position::Gtid(g) if g.is_empty() => write!(f, "gtid (empty)"),
            Position::Gtid(g) => write!(f, "gtid {g}"),
        }
    }
}

/// The queries that note the position inside an open snapshot (run first after BEGIN, so the
/// snapshot is taken before the position is read). PostgreSQL: the insert position, because
/// with asynchronous commit a visible commit may not be written yet.
pub const PG_POSITION: &str = "SELECT pg_current_wal_insert_lsn()::text";
const MARIADB_POSITION: &str = "SELECT @@gtid_binlog_pos";
const MYSQL_POSITION: &str = "SELECT @@GLOBAL.gtid_executed";

/// Inventory `extra` key naming the logical slot DRS reads (the cutover reads the same key).
pub const EXTRA_SLOT: &str = "replication_slot";

/// The logical slot `extra.replication_slot` names on a PostgreSQL source, if any (the live
/// gate and the cutover follow the same slot).
pub fn named_slot(spec: &DatabaseSpec) -> Option<String> {
    spec.extra
        .get(EXTRA_SLOT)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Which replication confirms positions on the target.
enum Follow {
    /// Logical slots on the source; the position is reached when all of them confirmed it.
    PgSlots(Vec<String>),
    /// The target carries the source's GTIDs (MariaDB).
    MariaGtid,
    /// The target carries the source's GTIDs (MySQL). Not tested here: the test servers are
    /// MariaDB, so `WAIT_FOR_EXECUTED_GTID_SET` is only known from MySQL's manual.
    MysqlGtid,
    /// The target does not carry the source's GTIDs: markers stand for positions.
    Marker(Box<Markers>),
    /// Nothing to follow: every live comparison stays undecided with this reason.
    None(String),
}

/// Follows how far the target's replication has confirmed the source's stream.
pub struct Follower {
    follow: Follow,
    /// How the source notes its position inside a snapshot.
    pub position_sql: &'static str,
    wait: Duration,
    /// Highest PostgreSQL position known applied on the target, so ranges below it need no
    /// query.
    confirmed: Mutex<u64>,
    /// The target's replication origins can be read (see `applied_on_target`).
    origin: AtomicBool,
}

/// A position the target did not confirm in time: the gate is not decided, not failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lag(pub String);

impl Follower {
    /// Find what replicates `spec`'s source: the slot named in `extra.replication_slot`, or the
    /// logical slots of the source database (PostgreSQL); GTIDs (MySQL / MariaDB).
    pub async fn discover(spec: &DatabaseSpec, src: &Pool, tgt: &Pool, wait: Duration) -> Follower {
        let position_sql = match src {
            Pool::Pg(_) => PG_POSITION,
            Pool::My(p) if is_mariadb(p).await => MARIADB_POSITION,
            Pool::My(_) => MYSQL_POSITION,
        };
        let follow = match (src, tgt) {
            (Pool::Pg(p), _) => {
                let found = match named_slot(spec) {
                    Some(n) => Ok(vec![n]),
                    None => match p.acquire().await {
                        Ok(mut c) => pg::logical_slots(&mut c, &spec.source.database).await,
                        Err(e) => Err(e),
                    },
                };
                match found {
                    Ok(v) if v.is_empty() => Follow::None(format!(
                        "no logical replication slot of {} on the source, so no CDC position \
                         can be confirmed (is the DRS job replicating? name its slot in \
                         extra.replication_slot)",
                        spec.source.database
                    )),
                    Ok(v) => Follow::PgSlots(v),
                    Err(e) => Follow::None(format!("reading the source's replication slots: {e}")),
                }
            }
            (Pool::My(s), Pool::My(t)) => my_follow(spec, s, t).await,
            (Pool::My(_), Pool::Pg(_)) => Follow::None(
                "a MySQL source replicated to PostgreSQL has no GTIDs to wait for".into(),
            ),
        };
        Follower {
            follow,
            position_sql,
            wait,
            confirmed: Mutex::new(0),
            origin: AtomicBool::new(true),
        }
    }

    /// Wait until the target's replication has confirmed `pos` (at most `recheck_wait_s`).
    pub async fn reached(&self, src: &Pool, tgt: &Pool, pos: &Position) -> Result<(), Lag> {
        let deadline = Instant::now() + self.wait;
        match (&self.follow, pos, src, tgt) {
            (Follow::None(why), ..) => Err(Lag(why.clone())),
            (Follow::PgSlots(slots), Position::Lsn(want), Pool::Pg(p), tgt) => {
                let mut seen = String::from("nothing");
                let reached = || *self.confirmed.lock().unwrap_or_else(|e| e.into_inner()) >= *want;
                loop {
                    if reached() {
                        return Ok(());
                    }
                    let got: Result<(i64, Option<String>), sqlx::Error> = sqlx::query_as(
                        "SELECT count(*), min(confirmed_flush_lsn)::text FROM pg_replication_slots \
                         WHERE slot_name = ANY($1)",
                    )
                    .bind(slots)
                    .fetch_one(p)
                    .await;
                    match got {
                        Ok((n, lsn)) if n as usize == slots.len() => {
                            if let Some(v) = lsn.as_deref().and_then(parse_lsn) {
                                seen = Position::Lsn(v).to_string();
                                let mut c =
                                    self.confirmed.lock().unwrap_or_else(|e| e.into_inner());
                                *c = (*c).max(v);
                            }
                        }
                        Ok(_) => {
                            return Err(Lag(format!(
                                "replication slot {} is gone from the source",
                                slots.join(", ")
                            )))
                        }
                        Err(e) => {
                            return Err(Lag(format!("reading slot {}: {e}", slots.join(", "))))
                        }
                    }
                    // The target's origin is asked only when the slot has not confirmed `want`.
                    if !reached() {
                        if let (Pool::Pg(t), true) = (tgt, self.origin.load(Ordering::Relaxed)) {
                            self.applied_on_target(t, slots).await;
                        }
                    }
                    if reached() {
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        return Err(Lag(format!(
                            "lag: slot {} had confirmed {seen} of {pos} after {} s \
                             (validation.recheck_wait_s)",
                            slots.join(", "),
                            self.wait.as_secs()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            (Follow::MariaGtid | Follow::MysqlGtid, Position::Gtid(g), _, Pool::My(t)) => {
                if g.is_empty() {
                    return Ok(());
                }
                let secs = self.wait.as_secs_f64().max(0.1);
                let sql = match self.follow {
                    Follow::MariaGtid => "SELECT MASTER_GTID_WAIT(?, ?)",
                    _ => "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)",
                };
                let r: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(sql)
                    .bind(g)
                    .bind(secs)
                    .fetch_one(t)
                    .await;
                match r {
                    Ok(Some(0)) => Ok(()),
                    Ok(_) => Err(Lag(format!(
                        "lag: the target had not applied {pos} after {} s (validation.recheck_wait_s)",
                        self.wait.as_secs()
                    ))),
                    Err(e) => Err(Lag(format!("waiting for {pos} on the target: {e}"))),
                }
            }
            (Follow::Marker(m), Position::Gtid(g), ..) => m.reached(g, self.wait, pos).await,
            _ => Err(Lag(format!(
                "internal: position {pos} does not belong to this replication"
            ))),
        }
    }
}

/// The marker kind of the live gate in [`MARKER_TABLE`] (the cutover writes its own kinds).
pub const LIVE_MARKER: &str = "live_validation";

/// Positions of a MySQL / MariaDB source on a target that does not carry its GTIDs (DRS): to
/// reach a position read in a snapshot, wavedeck notes the source's position `before`, writes
/// a marker row on the source (after the snapshot, so after everything it saw), and waits
/// until the target shows the row. The mover reads the binary log in order, so the target has
/// then applied every transaction of `before`. One marker serves every range whose position
/// `before` contains (MariaDB: positions compare per domain); ranges that wait while a marker
/// is on its way are served by the next one, so the source takes a few marker writes per
/// gate, not one per range. The table keeps one row of the kind (`my::renew_marker_on`), and
/// the runbooks exclude it from the comparison.
///
/// The marker's statements run on sessions of the gate's pools, taken for the marker and given
/// back: a session held for the whole gate would come on top of the pool's
/// `validation.parallelism` (sqlx opens another for a connection taken out of the pool).
/// [`super::checksum::Ctx::new`] leaves one session of each pool to this work when the
/// parallelism allows it; at parallelism 1 the marker takes its turn with the reads.
pub struct Markers {
    src: sqlx::MySqlPool,
    tgt: sqlx::MySqlPool,
    flavor: Flavor,
    /// One marker on its way at a time (ranges that wait meanwhile are served by it or the
    /// next): at most one session of each side does position work.
    writing: tokio::sync::Mutex<()>,
    src_db: String,
    tgt_db: String,
    /// `before` of the newest marker the target showed.
    confirmed: Mutex<Option<MariaPos>>,
}

impl Markers {
    /// Whether a marker the target showed already covers `want` (MariaDB; a MySQL GTID set
    /// would need the server's set arithmetic, so MySQL writes a marker for every wait).
    fn covers(&self, want: &str) -> bool {
        let Ok(want) = MariaPos::parse(want) else {
            return false;
        };
        // An empty position says nothing about what the snapshot saw (no binary log?).
        !want.0.is_empty()
            && self
                .confirmed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|have| have.contains(&want))
    }

    async fn reached(&self, want: &str, wait: Duration, pos: &Position) -> Result<(), Lag> {
        if self.covers(want) {
            return Ok(());
        }
        let _writing = self.writing.lock().await;
        if self.covers(want) {
            return Ok(()); // a marker written while this range waited for its turn
        }
        let deadline = Instant::now() + wait;
        let token = format!(
            "{LIVE_MARKER}-{}-{:08x}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            rand::random::<u32>()
        );
        let before = {
            let mut src = take(&self.src, deadline, "source").await?;
            let before = my::gtid_pos_on(&mut src, self.flavor)
                .await
                .map_err(|e| Lag(format!("reading the source's position: {e}")))?;
            my::renew_marker_on(&mut src, &self.src_db, &token, LIVE_MARKER)
                .await
                .map_err(|e| {
                    Lag(format!(
                        "writing the position marker into {}.{MARKER_TABLE} on the source: {e} \
                         (wavedeck's user needs CREATE, INSERT and DELETE on that table)",
                        self.src_db
                    ))
                })?;
            before
        };
        let mut tgt = take(&self.tgt, deadline, "target").await?;
        my::wait_marker_on(&mut tgt, &self.tgt_db, &token, wait)
            .await
            .map_err(|m| {
                Lag(format!(
                    "lag: the target had not applied {pos}: {m} (validation.recheck_wait_s; \
                     the target does not carry the source's GTIDs, so a marker row stands for \
                     the position)"
                ))
            })?;
        if self.flavor == Flavor::MariaDb {
            if let Ok(p) = MariaPos::parse(&before) {
                *self.confirmed.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
            }
        }
        Ok(())
    }
}

/// A session of the gate's pool for position work, waited for until `deadline`: at
/// parallelism 1 a paced read may hold the side's only session longer than the pool's
/// acquire timeout (`connect_timeout_s`).
async fn take(
    p: &sqlx::MySqlPool,
    deadline: Instant,
    side: &str,
) -> Result<sqlx::pool::PoolConnection<sqlx::MySql>, Lag> {
    loop {
        match p.acquire().await {
            Ok(c) => return Ok(c),
            Err(sqlx::Error::PoolTimedOut) if Instant::now() < deadline => {}
            Err(e) => {
                return Err(Lag(format!(
                    "lag: no session of the {side} free for the position marker: {e} \
                     (validation.recheck_wait_s)"
                )))
            }
        }
    }
}

/// How a MySQL / MariaDB target confirms positions: by GTID when it replicates from the source
/// itself (a replication connection on it reads the source's host and port, the rule the
/// cutover follows, `my::replica_of_on`), else by markers: DRS, or a connection wavedeck
/// cannot see or read.
async fn my_follow(spec: &DatabaseSpec, s: &sqlx::MySqlPool, t: &sqlx::MySqlPool) -> Follow {
    let flavor = match flavor_of(t).await {
        Ok(f) => f,
        Err(e) => return Follow::None(format!("opening a session on the target: {e}")),
    };
    let e = &spec.source;
    let source = Side::new(&e.host, e.port, &e.user, &e.database);
    let found = match t.acquire().await {
        Ok(mut c) => my::replica_of_on(&mut c, flavor, &source).await,
        Err(e) => return Follow::None(format!("opening a session on the target: {e}")),
    };
    match found {
        Ok(Some(_)) if flavor == Flavor::MariaDb => return Follow::MariaGtid,
        Ok(Some(_)) => return Follow::MysqlGtid,
        Ok(None) => {}
        Err(e) => tracing::debug!(
            "replication connections not readable on the target ({e}); markers stand for positions"
        ),
    }
    match flavor_of(s).await {
        Ok(flavor) => Follow::Marker(Box::new(Markers {
            src: s.clone(),
            tgt: t.clone(),
            flavor,
            writing: tokio::sync::Mutex::new(()),
            src_db: spec.source.database.clone(),
            tgt_db: spec.target.database.clone(),
            confirmed: Mutex::new(None),
        })),
        Err(e) => Follow::None(format!("opening a session on the source: {e}")),
    }
}

/// Whether the server behind `p` is MariaDB or MySQL (from its version).
async fn flavor_of(p: &sqlx::MySqlPool) -> Result<Flavor, sqlx::Error> {
    let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(p)
        .await?;
    Ok(Flavor::of_version(&version))
}

impl Follower {
    /// When the target is a PostgreSQL subscriber of the slot (the lab, the emulator's native
    /// mode), its replication origin says which source commit it applied last, well before the
    /// subscriber's asynchronous flush moves the slot. The apply worker commits in source order
    /// and finishes one transaction before it starts the next, so once a commit ending past
    /// `p` is recorded every commit up to `p` is visible there: `p` is reached when
    /// `remote_lsn > p`. A target that is not a subscriber (DRS), or a user who may not read
    /// the origins, turns this off and the slot alone decides.
    async fn applied_on_target(&self, t: &sqlx::PgPool, slots: &[String]) {
        let r: Result<Option<String>, sqlx::Error> = sqlx::query_scalar(
            "SELECT max(o.remote_lsn)::text FROM pg_replication_origin_status o \
             JOIN pg_subscription s ON o.external_id = 'pg_' || s.oid \
             JOIN pg_database d ON d.oid = s.subdbid \
             WHERE s.subslotname = ANY($1) AND d.datname = current_database()",
        )
        .bind(slots)
        .fetch_one(t)
        .await;
        match r.map(|v| v.as_deref().and_then(parse_lsn)) {
            Ok(Some(v)) if v > 0 => {
                let mut c = self.confirmed.lock().unwrap_or_else(|e| e.into_inner());
                *c = (*c).max(v - 1);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(
                    "replication origins not readable on the target ({e}); the slot decides"
                );
                self.origin.store(false, Ordering::Relaxed);
            }
        }
    }
}

/// MariaDB and MySQL name their GTID variables differently (a server that does not say is
/// taken for MySQL).
async fn is_mariadb(p: &sqlx::MySqlPool) -> bool {
    flavor_of(p).await.is_ok_and(|f| f == Flavor::MariaDb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_round_trips_through_its_display() {
        let v = parse_lsn("16/B374D848").unwrap();
        assert_eq!(v, 0x16_B374_D848);
        assert_eq!(Position::Lsn(v).to_string(), "lsn 16/B374D848");
        assert!(parse_lsn("16B374D848").is_none());
        assert!(parse_lsn("1FFFFFFFF/0").is_none());
        assert!(Position::Lsn(1) < Position::Lsn(2));
        assert_eq!(Position::Gtid("0-1-7".into()).to_string(), "gtid 0-1-7");
    }
}
