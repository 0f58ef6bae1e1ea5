//! MySQL / MariaDB side of the cutover: write fencing, session draining, GTID positions, native
//! binlog replication (a named replication connection on the replica) and AUTO_INCREMENT
//! counters. Every function is safe to call again after it succeeded or after a crash half-way
//! through; the step code in `run_my` decides what is done from what these functions read back
//! from the servers.
//!
//! The two server families differ where it matters at 3 a.m.:
//! - MySQL 5.7/8 fences writes with `super_read_only` (nobody but replication writes);
//!   MariaDB has no `super_read_only`: `read_only` stops everyone without the `READ_ONLY ADMIN`
//!   privilege (10.11; `SUPER` before), and the drain then ends the sessions of those users.
//!   Sessions of users holding the privilege could still write: the drain lists them.
//! - GTIDs: MariaDB `domain-server-seq` lists (`@@gtid_binlog_pos`, `MASTER_GTID_WAIT`), MySQL
//!   `uuid:intervals` sets (`@@gtid_executed`, `WAIT_FOR_EXECUTED_GTID_SET`, `GTID_SUBSET`).
//! - Replication connections: MariaDB `CHANGE MASTER 'name' TO ... master_use_gtid=slave_pos`,
//!   MySQL `CHANGE REPLICATION SOURCE TO ... SOURCE_AUTO_POSITION=1 FOR CHANNEL 'name'`.
//!
//! The MariaDB statements run in the lab and the tests; the MySQL 8 statements are built by the
//! same code but no MySQL 8 server was available to run them against.

use crate::cutover::side::{Side, SideError};
use crate::secret::{redact, Secret};
use crate::validate::catalog::my_str;
use serde::Serialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{ConnectOptions, Connection, Row};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// Which server family answers, from `SELECT VERSION()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    /// `10.11.19-MariaDB-0+deb12u1-log` is MariaDB; `8.0.36` is MySQL.
    pub fn of_version(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// The variable that fences writes.
    pub fn fence_var(self) -> &'static str {
        match self {
            Flavor::MariaDb => "read_only",
            Flavor::MySql => "super_read_only",
        }
    }

    /// How the drain fences writes, said the way the evidence pack shows it.
    pub fn drain_mode(self) -> &'static str {
        match self {
            Flavor::MariaDb => {
                "read_only=ON (MariaDB has no super_read_only), then sessions of users without \
                 READ_ONLY ADMIN ended: idle ones at once, busy ones after the grace"
            }
            Flavor::MySql => {
                "super_read_only=ON, then application sessions ended: idle ones at once, busy \
                 ones after the grace"
            }
        }
    }

    /// The privilege that writes through the fence; `None` when nobody but replication does.
    pub fn fence_bypass_privilege(self) -> Option<&'static str> {
        match self {
            Flavor::MariaDb => Some("READ_ONLY ADMIN"),
            Flavor::MySql => None,
        }
    }

    /// The variable holding every transaction this server has in its binary log.
    pub fn gtid_var(self) -> &'static str {
        match self {
            Flavor::MariaDb => "gtid_binlog_pos",
            Flavor::MySql => "gtid_executed",
        }
    }

    /// `SELECT` waiting until this server applied a GTID position (two binds: position,
    /// timeout in seconds), and the value it returns on success.
    fn wait_sql(self) -> (&'static str, i64) {
        match self {
            Flavor::MariaDb => ("SELECT MASTER_GTID_WAIT(?, ?)", 0),
            Flavor::MySql => ("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", 0),
        }
    }

    /// Statements creating replication connection `name` to `from` (not started). The password
    /// goes to the replica's own catalog as the server requires; never to logs or events.
    pub fn change_source_sql(self, name: &str, from: &Side) -> String {
        let pw = from.password.as_ref().map(|p| p.expose()).unwrap_or("");
        match self {
            Flavor::MariaDb => format!(
                "CHANGE MASTER {} TO MASTER_HOST={}, MASTER_PORT={}, MASTER_USER={}, \
                 MASTER_PASSWORD={}, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
                quote_literal(name),
                quote_literal(&from.host),
                from.port,
                quote_literal(&from.user),
                quote_literal(pw)
            ),
            Flavor::MySql => format!(
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST={}, SOURCE_PORT={}, SOURCE_USER={}, \
                 SOURCE_PASSWORD={}, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1 \
                 FOR CHANNEL {}",
                quote_literal(&from.host),
                from.port,
                quote_literal(&from.user),
                quote_literal(pw),
                quote_literal(name)
            ),
        }
    }

    pub fn start_replica_sql(self, name: &str) -> String {
        match self {
            Flavor::MariaDb => format!("START SLAVE {}", quote_literal(name)),
            Flavor::MySql => format!("START REPLICA FOR CHANNEL {}", quote_literal(name)),
        }
    }

    /// Stop replication connection `name` and forget it (position and credentials).
    pub fn remove_replica_sql(self, name: &str) -> [String; 2] {
        match self {
            Flavor::MariaDb => [
                format!("STOP SLAVE {}", quote_literal(name)),
                format!("RESET SLAVE {} ALL", quote_literal(name)),
            ],
            Flavor::MySql => [
                format!("STOP REPLICA FOR CHANNEL {}", quote_literal(name)),
                format!("RESET REPLICA ALL FOR CHANNEL {}", quote_literal(name)),
            ],
        }
    }

    fn all_replicas_sql(self) -> &'static str {
        match self {
            Flavor::MariaDb => "SHOW ALL SLAVES STATUS",
            Flavor::MySql => "SHOW REPLICA STATUS",
        }
    }
}

/// `` `name` `` with inner backticks doubled.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `'text'` for statements that take no bind parameters (CHANGE MASTER). Admin sessions clear
/// NO_BACKSLASH_ESCAPES, so backslash escaping is the server's reading too.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A MariaDB GTID position: per replication domain, the server id and sequence number of the
/// last transaction (`0-1-8,1-2-5`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MariaPos(pub BTreeMap<u32, (u32, u64)>);

impl MariaPos {
    pub fn parse(text: &str) -> Result<MariaPos, String> {
        let mut m = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let nums: Vec<&str> = part.split('-').collect();
            let parsed = match nums.as_slice() {
                [d, s, n] => d
                    .parse::<u32>()
                    .ok()
                    .zip(s.parse::<u32>().ok())
                    .zip(n.parse::<u64>().ok()),
                _ => None,
            };
            let ((d, s), n) = parsed
                .ok_or_else(|| format!("{part:?} is not a MariaDB GTID (domain-server-seq)"))?;
            m.insert(d, (s, n));
        }
        Ok(MariaPos(m))
    }

    /// Whether a server at `self` has applied everything up to `want`: per domain, sequence
    /// numbers only grow (gtid_strict_mode), so a higher or equal number means applied.
    pub fn contains(&self, want: &MariaPos) -> bool {
        want.0
            .iter()
            .all(|(d, (_, n))| self.0.get(d).is_some_and(|(_, have)| have >= n))
    }

    /// Whether `self`, a binary log position, carries `source`'s own transactions: every
    /// domain of `source` is here with the same server id and at least its sequence number.
    /// False for an empty `source` (nothing shows where the data came from).
    pub fn continues(&self, source: &MariaPos) -> bool {
        !source.0.is_empty()
            && source.0.iter().all(|(d, (server, n))| {
                self.0
                    .get(d)
                    .is_some_and(|(s, have)| s == server && have >= n)
            })
    }

    /// Transactions `self` still lacks to reach `want`, summed over domains.
    pub fn behind(&self, want: &MariaPos) -> u64 {
        want.0
            .iter()
            .map(|(d, (_, n))| n.saturating_sub(self.0.get(d).map(|(_, h)| *h).unwrap_or(0)))
            .sum()
    }
}

type R<T> = Result<T, sqlx::Error>;

/// Run `sql` through the text protocol: for what MySQL cannot prepare (CHANGE MASTER, KILL,
/// START/STOP SLAVE). Goes through `Executor` on a `&str` rather than `sqlx::raw_sql`, whose
/// future is not `Send` for every lifetime and so cannot run in a spawned task.
pub async fn exec(c: &mut MySqlConnection, sql: &str) -> R<()> {
    use sqlx::Executor;
    c.execute(sql).await.map(|_| ())
}

/// Rows of `sql` through the text protocol (SHOW statements).
pub async fn rows(c: &mut MySqlConnection, sql: &str) -> R<Vec<MySqlRow>> {
    use sqlx::Executor;
    c.fetch_all(sql).await
}

/// An admin session: allowed through the write fence (for the settings it changes) and never
/// ended by a drain.
pub struct My {
    pub c: MySqlConnection,
    pub flavor: Flavor,
    pub version: String,
}

fn options(side: &Side) -> MySqlConnectOptions {
    let mut o = MySqlConnectOptions::new()
        .host(&side.host)
        .port(side.port)
        .username(&side.user)
        .database(&side.database)
        .disable_statement_logging();
    if let Some(p) = &side.password {
        o = o.password(p.expose());
    }
    o
}

/// A session as an application opens it (workload, smoke tests).
pub async fn app(side: &Side) -> R<MySqlConnection> {
    options(side).connect().await
}

/// wavedeck's own session on `side` (`label` names it in errors: source, target).
pub async fn admin(side: &Side, label: &str) -> Result<My, SideError> {
    let err = |e: sqlx::Error| side.err(label, e);
    let c = options(side).connect().await.map_err(err)?;
    admin_session(c).await.map_err(err)
}

/// An open connection made a wavedeck admin session: backslash escapes on whatever the server's
/// `sql_mode` says (the statements are written with them), lock waits of 10 s, and the server's
/// version read for its flavour. The DRS emulator opens its own connections (no database
/// selected, its own timeout) and sets them up with this.
pub async fn admin_session(mut c: MySqlConnection) -> R<My> {
    exec(
        &mut c,
        "SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', ''), \
         SESSION lock_wait_timeout = 10",
    )
    .await?;
    let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(&mut c)
        .await?;
    Ok(My {
        c,
        flavor: Flavor::of_version(&version),
        version,
    })
}

/// One row of a replica's status for one replication connection.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ReplicaStatus {
    pub name: String,
    pub io_running: bool,
    pub sql_running: bool,
    pub seconds_behind: Option<i64>,
    pub last_error: Option<String>,
    /// What the replica received (MariaDB `Gtid_IO_Pos`, MySQL `Retrieved_Gtid_Set`).
    pub received: String,
    /// Where it replicates from (`Master_Host` / `Source_Host`, `Master_Port` / `Source_Port`).
    pub source_host: String,
    pub source_port: Option<u16>,
}

impl ReplicaStatus {
    pub fn running(&self) -> bool {
        self.io_running && self.sql_running
    }
}

fn col(r: &MySqlRow, names: &[&str]) -> Option<String> {
    use sqlx::Column;
    let i = r
        .columns()
        .iter()
        .position(|c| names.iter().any(|n| c.name().eq_ignore_ascii_case(n)))?;
    my_str(r, i).ok()
}

impl My {
    async fn var(&mut self, name: &str) -> R<String> {
        var_on(&mut self.c, name).await
    }

    /// Whether writes are fenced (MariaDB `read_only`, MySQL `super_read_only`).
    pub async fn fenced(&mut self) -> R<bool> {
        Ok(truthy(&self.var(self.flavor.fence_var()).await?))
    }

    pub async fn set_fence(&mut self, on: bool) -> R<()> {
        let sql = match (self.flavor, on) {
            (Flavor::MariaDb, true) => "SET GLOBAL read_only = ON",
            (Flavor::MariaDb, false) => "SET GLOBAL read_only = OFF",
            // super_read_only=ON implies read_only=ON; OFF leaves read_only on, so clear both.
            (Flavor::MySql, true) => "SET GLOBAL super_read_only = ON",
            (Flavor::MySql, false) => "SET GLOBAL super_read_only = OFF, GLOBAL read_only = OFF",
        };
        exec(&mut self.c, sql).await?;
        Ok(())
    }

    /// Every transaction in this server's binary log, as the flavor writes it.
    pub async fn gtid_pos(&mut self) -> R<String> {
        gtid_pos_on(&mut self.c, self.flavor).await
    }

    /// What this server holds, its own writes and applied replication both (MariaDB
    /// `gtid_current_pos`, MySQL `gtid_executed`).
    pub async fn gtid_have(&mut self) -> R<String> {
        match self.flavor {
            Flavor::MariaDb => self.var("gtid_current_pos").await,
            Flavor::MySql => self.var("gtid_executed").await,
        }
    }

    /// Whether this server holds every transaction of `pos` (a position of the same flavor).
    pub async fn has_applied(&mut self, pos: &str) -> Result<bool, String> {
        match self.flavor {
            Flavor::MariaDb => {
                let have = self.gtid_have().await.map_err(|e| e.to_string())?;
                Ok(MariaPos::parse(&have)?.contains(&MariaPos::parse(pos)?))
            }
            Flavor::MySql => {
                let v: i64 = sqlx::query_scalar("SELECT GTID_SUBSET(?, @@global.gtid_executed)")
                    .bind(pos)
                    .fetch_one(&mut self.c)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(v == 1)
            }
        }
    }

    /// Transactions still missing here to reach `pos` (MariaDB: exact count; MySQL: 0 or 1 as
    /// "caught up or not", the set arithmetic is left to the server).
    pub async fn behind(&mut self, pos: &str) -> Result<u64, String> {
        match self.flavor {
            Flavor::MariaDb => {
                let have = self.gtid_have().await.map_err(|e| e.to_string())?;
                Ok(MariaPos::parse(&have)?.behind(&MariaPos::parse(pos)?))
            }
            Flavor::MySql => Ok(u64::from(!self.has_applied(pos).await?)),
        }
    }

    pub async fn log_bin(&mut self) -> R<bool> {
        Ok(truthy(&self.var("log_bin").await?))
    }

    /// Every replication connection on this server.
    pub async fn replicas(&mut self) -> R<Vec<ReplicaStatus>> {
        replicas_on(&mut self.c, self.flavor).await
    }

    pub async fn replica(&mut self, name: &str) -> R<Option<ReplicaStatus>> {
        Ok(self.replicas().await?.into_iter().find(|r| r.name == name))
    }

    /// The replication connection of this server that reads `from` (see [`replica_of_on`]).
    pub async fn replica_of(&mut self, from: &Side) -> R<Option<ReplicaStatus>> {
        replica_of_on(&mut self.c, self.flavor, from).await
    }

    /// Whether this server's binary log continues `source`'s GTIDs: it holds the source's whole
    /// position as the source wrote it (MariaDB: per domain the source's own server id and at
    /// least its sequence number, as GTID replication with log_slave_updates leaves it; MySQL:
    /// the source's GTID set). A mover that applies changes as this server's own transactions
    /// (DRS) leaves other server ids. Meaningful when both sides are drained and in sync.
    pub async fn continues_gtids_of(&mut self, source: &mut My) -> Result<bool, String> {
        let theirs = source.gtid_pos().await.map_err(|e| e.to_string())?;
        match self.flavor {
            Flavor::MariaDb => {
                let mine = self.gtid_pos().await.map_err(|e| e.to_string())?;
                Ok(MariaPos::parse(&mine)?.continues(&MariaPos::parse(&theirs)?))
            }
            Flavor::MySql => self.has_applied(&theirs).await,
        }
    }

    /// Whether this server holds nothing beyond `pos`: no transaction was committed here since
    /// the position was read (positions of this server's flavor).
    pub async fn holds_nothing_beyond(&mut self, pos: &str) -> Result<bool, String> {
        let now = self.gtid_pos().await.map_err(|e| e.to_string())?;
        match self.flavor {
            Flavor::MariaDb => Ok(MariaPos::parse(pos)?.contains(&MariaPos::parse(&now)?)),
            Flavor::MySql => {
                let v: i64 = sqlx::query_scalar("SELECT GTID_SUBSET(?, ?)")
                    .bind(&now)
                    .bind(pos)
                    .fetch_one(&mut self.c)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(v == 1)
            }
        }
    }

    /// Whether wavedeck's session writes through the fence, as [`My::write_marker`] needs:
    /// MariaDB lets users with READ_ONLY ADMIN (SUPER before 10.11) through `read_only`;
    /// MySQL's `super_read_only` stops everyone, so the marker write lifts it to `read_only`
    /// for that one statement.
    pub async fn writes_through_fence(&mut self) -> R<bool> {
        if self.flavor == Flavor::MySql {
            return Ok(true);
        }
        let me: String =
            sqlx::query_scalar("SELECT CAST(SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AS CHAR)")
                .fetch_one(&mut self.c)
                .await?;
        Ok(self.bypass_users().await?.contains(&me))
    }

    /// Write marker row `token` into `db`'s [`MARKER_TABLE`] (created when missing), also when
    /// writes are fenced. `binlog: false` keeps the row (and the table's creation) out of the
    /// binary log: a note for this server that no mover carries, and that leaves its GTID
    /// position as it was; an earlier row of the same `kind` is replaced then.
    pub async fn write_marker(
        &mut self,
        db: &str,
        token: &str,
        kind: &str,
        note: &str,
        binlog: bool,
    ) -> R<()> {
        // With super_read_only only lifted, read_only stays on: applications still cannot write
        // during the statement (their sessions were ended by the drain anyway).
        let lift = self.flavor == Flavor::MySql && truthy(&self.var("super_read_only").await?);
        if lift {
            exec(&mut self.c, "SET GLOBAL super_read_only = OFF").await?;
        }
        let written = insert_marker(&mut self.c, db, token, kind, note, binlog, !binlog).await;
        let relogged = if binlog {
            Ok(())
        } else {
            exec(&mut self.c, "SET SESSION sql_log_bin = 1").await
        };
        let refenced = if lift {
            exec(&mut self.c, "SET GLOBAL super_read_only = ON").await
        } else {
            Ok(())
        };
        written.and(relogged).and(refenced)
    }

    /// Write marker row `token` of `kind` (see [`renew_marker_on`]).
    pub async fn renew_marker(&mut self, db: &str, token: &str, kind: &str) -> R<()> {
        renew_marker_on(&mut self.c, db, token, kind).await
    }

    /// Whether marker `token` is in `db` here (false while the table itself has not arrived).
    pub async fn has_marker(&mut self, db: &str, token: &str) -> R<bool> {
        has_marker_on(&mut self.c, db, token).await
    }

    /// The newest marker of `kind` in `db` here: its token and note.
    pub async fn latest_marker(&mut self, db: &str, kind: &str) -> R<Option<(String, String)>> {
        let sql = format!(
            "SELECT CAST(token AS CHAR), CAST(note AS CHAR) FROM {}.{MARKER_TABLE} \
             WHERE kind = ? ORDER BY written_at DESC, token DESC LIMIT 1",
            quote_ident(db)
        );
        match sqlx::query(&sql)
            .bind(kind)
            .fetch_optional(&mut self.c)
            .await
        {
            Ok(Some(r)) => Ok(Some((my_str(&r, 0)?, my_str(&r, 1)?))),
            Ok(None) => Ok(None),
            Err(e) if is_no_such_table(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Wait until marker `token` is in `db` here; returns the milliseconds waited.
    pub async fn wait_marker(
        &mut self,
        db: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<u64, String> {
        wait_marker_on(&mut self.c, db, token, timeout).await
    }

    /// Replicate from `from` through connection `name`, starting after `start` (MariaDB: the
    /// GTID position this server continues from; `None` keeps the one it has). MySQL
    /// auto-positions from its own `gtid_executed`. Starting a running connection changes
    /// nothing.
    pub async fn replicate_from(
        &mut self,
        name: &str,
        from: &Side,
        start: Option<&str>,
    ) -> Result<(), String> {
        let secrets: Vec<&Secret> = from.password.iter().collect();
        let scrub = |e: sqlx::Error| redact(&e.to_string(), &secrets);
        if self.replica(name).await.map_err(scrub)?.is_none() {
            if let (Flavor::MariaDb, Some(pos)) = (self.flavor, start) {
                sqlx::query("SET GLOBAL gtid_slave_pos = ?")
                    .bind(pos)
                    .execute(&mut self.c)
                    .await
                    .map_err(scrub)?;
            }
            exec(&mut self.c, &self.flavor.change_source_sql(name, from))
                .await
                .map_err(scrub)?;
        }
        exec(&mut self.c, &self.flavor.start_replica_sql(name))
            .await
            .map_err(scrub)?;
        Ok(())
    }

    /// Stop and forget replication connection `name`, if it exists.
    pub async fn remove_replica(&mut self, name: &str) -> R<bool> {
        if self.replica(name).await?.is_none() {
            return Ok(false);
        }
        for sql in self.flavor.remove_replica_sql(name) {
            exec(&mut self.c, &sql).await?;
        }
        Ok(true)
    }

    /// Wait until this server applied `pos`, checking the replication connection `name` between
    /// short waits so a broken replica fails at once with its own error instead of a timeout.
    pub async fn wait_applied(
        &mut self,
        pos: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<WaitReport, String> {
        let started = Instant::now();
        let (sql, ok) = self.flavor.wait_sql();
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            let slice = left.min(Duration::from_secs(1)).as_secs_f64().max(0.05);
            let r: i64 = sqlx::query_scalar(sql)
                .bind(pos)
                .bind(slice)
                .fetch_one(&mut self.c)
                .await
                .map_err(|e| e.to_string())?;
            if r == ok {
                return Ok(WaitReport {
                    position: pos.to_string(),
                    applied: self.gtid_have().await.map_err(|e| e.to_string())?,
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            let status = self.replica(name).await.map_err(|e| e.to_string())?;
            let behind = self.behind(pos).await.unwrap_or(0);
            match status {
                None => {
                    return Err(format!(
                        "replication connection {name} does not exist; {behind} transaction(s) \
                         of {pos} not applied"
                    ))
                }
                Some(s) if !s.running() => {
                    return Err(format!(
                        "replication {name} stopped (io {}, sql {}): {}; {behind} transaction(s) \
                         of {pos} not applied",
                        s.io_running,
                        s.sql_running,
                        s.last_error.unwrap_or_else(|| "no error reported".into())
                    ))
                }
                Some(_) if started.elapsed() >= timeout => {
                    return Err(format!(
                        "{behind} transaction(s) of {pos} still not applied after {}s; see \
                         SHOW SLAVE '{name}' STATUS on the replica",
                        timeout.as_secs()
                    ))
                }
                Some(_) => {}
            }
        }
    }

    /// Users holding the privilege that writes through the fence (MariaDB only).
    async fn bypass_users(&mut self) -> R<HashSet<String>> {
        let Some(p) = self.flavor.fence_bypass_privilege() else {
            return Ok(HashSet::new());
        };
        // MariaDB 10.11 took READ_ONLY ADMIN out of SUPER; before 10.11 SUPER was enough.
        let super_counts = self.version_lt(10, 11);
        let rows = sqlx::query(
            "SELECT CAST(grantee AS CHAR) FROM information_schema.user_privileges \
             WHERE privilege_type = ? OR (privilege_type = 'SUPER' AND ?)",
        )
        .bind(p)
        .bind(super_counts)
        .fetch_all(&mut self.c)
        .await?;
        rows.iter()
            .map(|r| my_str(r, 0).map(|g| grantee_user(&g)))
            .collect()
    }

    fn version_lt(&self, major: u32, minor: u32) -> bool {
        let mut it = self
            .version
            .split(['.', '-'])
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let v = (it.next().unwrap_or(0), it.next().unwrap_or(0));
        v < (major, minor)
    }

    /// Client sessions other than this one, replication and the server's own threads.
    async fn sessions(&mut self) -> R<Vec<Session>> {
        let rows = sqlx::query(
            "SELECT CAST(p.id AS SIGNED), CAST(p.user AS CHAR), CAST(p.command AS CHAR), \
                    t.trx_mysql_thread_id IS NOT NULL, \
                    CAST(COALESCE(t.trx_rows_modified, 0) AS SIGNED) \
             FROM information_schema.processlist p \
             LEFT JOIN information_schema.innodb_trx t ON t.trx_mysql_thread_id = p.id \
             WHERE p.id <> CONNECTION_ID() \
               AND p.user NOT IN ('system user', 'event_scheduler', 'unauthenticated user', '') \
               AND p.command NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Killed', \
                                     'Slave_IO', 'Slave_SQL', 'Slave_worker', 'Connect')",
        )
        .fetch_all(&mut self.c)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Session {
                    id: r.try_get::<i64, _>(0)?.max(0) as u64,
                    user: my_str(r, 1)?,
                    command: my_str(r, 2)?,
                    in_trx: r.try_get::<i64, _>(3)? != 0,
                    rows_modified: r.try_get::<i64, _>(4)?.max(0) as u64,
                })
            })
            .collect()
    }

    /// Application sessions that hold uncommitted changes (they can no longer commit once the
    /// fence is up; the drain ends them after the grace).
    pub async fn open_writers(&mut self) -> R<Vec<u64>> {
        let bypass = self.bypass_users().await?;
        Ok(self
            .sessions()
            .await?
            .into_iter()
            .filter(|s| !bypass.contains(&s.user) && s.in_trx && s.rows_modified > 0)
            .map(|s| s.id)
            .collect())
    }

    /// Whether this server is drained: writes fenced and no application session left holding
    /// uncommitted changes. With the fence up nothing an application sends can commit any more,
    /// so this is the whole effect of a finished drain.
    pub async fn drained(&mut self) -> R<bool> {
        Ok(self.fenced().await? && self.open_writers().await?.is_empty())
    }

    async fn kill(&mut self, id: u64) -> R<bool> {
        match exec(&mut self.c, &format!("KILL CONNECTION {id}")).await {
            Ok(_) => Ok(true),
            // 1094: unknown thread id, it left by itself meanwhile.
            Err(sqlx::Error::Database(e))
                if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|m| m.number() == 1094) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Fence writes, then end every application session that was connected when the fence went
    /// up: at once when idle (so the application reconnects and follows the service name), after
    /// `grace` when busy (so reads in flight can finish; on MariaDB an open write transaction can
    /// no longer commit, its client gets an error). Sessions opening later are left alone: they
    /// cannot write. Users that write through the fence (MariaDB READ_ONLY ADMIN) are not ended
    /// but counted, so the operator sees who could still write.
    pub async fn drain(&mut self, grace: Duration) -> R<DrainReport> {
        let started = Instant::now();
        self.set_fence(true).await?;
        let drained_at: String = sqlx::query_scalar("SELECT CAST(NOW(6) AS CHAR)")
            .fetch_one(&mut self.c)
            .await?;
        let bypass = self.bypass_users().await?;
        let first = self.sessions().await?;
        // Connection ids only grow: everything at or below this id was connected before the
        // fence went up (or while it did).
        let cutoff = first.iter().map(|s| s.id).max().unwrap_or(0);
        let mut report = DrainReport {
            mode: self.flavor.drain_mode().to_string(),
            flavor: self.flavor,
            version: self.version.clone(),
            ended_idle: 0,
            ended_after_grace: 0,
            left_by_themselves: 0,
            privileged_sessions: 0,
            privileged_users: vec![],
            waited_ms: 0,
            drained_at: String::new(),
            gtid_pos: String::new(),
        };
        let privileged: Vec<&Session> = first.iter().filter(|s| bypass.contains(&s.user)).collect();
        report.privileged_sessions = privileged.len() as u32;
        let mut users: Vec<String> = privileged.iter().map(|s| s.user.clone()).collect();
        users.sort();
        users.dedup();
        report.privileged_users = users;
        let mut busy_seen: HashSet<u64> = HashSet::new();
        loop {
            let live: Vec<Session> = self
                .sessions()
                .await?
                .into_iter()
                .filter(|s| s.id <= cutoff && !bypass.contains(&s.user))
                .collect();
            report.left_by_themselves += busy_seen
                .iter()
                .filter(|id| !live.iter().any(|s| s.id == **id))
                .count() as u32;
            busy_seen.retain(|id| live.iter().any(|s| s.id == *id));
            if live.is_empty() {
                break;
            }
            let grace_over = started.elapsed() >= grace;
            for s in &live {
                let idle = s.command == "Sleep" && !s.in_trx;
                if idle || grace_over {
                    let ended = self.kill(s.id).await?;
                    busy_seen.remove(&s.id);
                    match (ended, idle) {
                        (true, true) => report.ended_idle += 1,
                        (true, false) => report.ended_after_grace += 1,
                        (false, _) => report.left_by_themselves += 1,
                    }
                } else {
                    busy_seen.insert(s.id);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        report.gtid_pos = self.gtid_pos().await?;
        report.waited_ms = started.elapsed().as_millis() as u64;
        report.drained_at = drained_at;
        Ok(report)
    }

    /// Base tables of `db` with their AUTO_INCREMENT counters (None: no such column).
    pub async fn auto_increments(&mut self, db: &str) -> R<Vec<(String, Option<u64>)>> {
        if self.flavor == Flavor::MySql {
            // MySQL 8 caches information_schema.tables figures for a day by default.
            exec(
                &mut self.c,
                "SET SESSION information_schema_stats_expiry = 0",
            )
            .await?;
        }
        let rows = sqlx::query(
            "SELECT CAST(table_name AS CHAR), CAST(auto_increment AS SIGNED) FROM information_schema.tables \
             WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .bind(db)
        .fetch_all(&mut self.c)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    my_str(r, 0)?,
                    r.try_get::<Option<i64>, _>(1)?.map(|v| v.max(0) as u64),
                ))
            })
            .collect()
    }

    /// Base tables of `db`, sorted.
    pub async fn tables(&mut self, db: &str) -> R<Vec<String>> {
        Ok(self
            .auto_increments(db)
            .await?
            .into_iter()
            .map(|(t, _)| t)
            .collect())
    }
}

/// wavedeck's own table in the moved database. A marker row written on one side after it was
/// drained proves, once it is read on the other side, that the mover applied everything written
/// before it, also a mover that does not carry the source's GTIDs (DRS). The target also keeps
/// a note here (out of its binary log) of how it was fed when it opened to writes, which the
/// rollback reads. The validation runbooks exclude it (`exclude_tables`): the note makes the
/// two sides differ once the target opened.
pub const MARKER_TABLE: &str = "wavedeck_marker";

// What needs no admin session runs on any connection: the validation gate runs it on a session
// of its pool, taken only for the statement, so that the gate keeps to its parallelism.

async fn var_on(c: &mut MySqlConnection, name: &str) -> R<String> {
    // Variable names are ours, never input.
    sqlx::query_scalar(&format!("SELECT CAST(@@global.{name} AS CHAR)"))
        .fetch_one(c)
        .await
        .map(|v: Option<String>| v.unwrap_or_default())
}

/// Every transaction in the server's binary log, as the flavor writes it.
pub async fn gtid_pos_on(c: &mut MySqlConnection, flavor: Flavor) -> R<String> {
    var_on(c, flavor.gtid_var()).await
}

/// Every replication connection on the server `c` is open on.
pub async fn replicas_on(c: &mut MySqlConnection, flavor: Flavor) -> R<Vec<ReplicaStatus>> {
    let rows = rows(c, flavor.all_replicas_sql()).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let yes = |v: Option<String>| v.is_some_and(|v| v.eq_ignore_ascii_case("yes"));
            let err = [
                col(r, &["Last_SQL_Error"]),
                col(r, &["Last_IO_Error"]),
                col(r, &["Last_Error"]),
            ]
            .into_iter()
            .flatten()
            .find(|e| !e.is_empty());
            ReplicaStatus {
                name: col(r, &["Connection_name", "Channel_Name"]).unwrap_or_default(),
                io_running: yes(col(r, &["Slave_IO_Running", "Replica_IO_Running"])),
                sql_running: yes(col(r, &["Slave_SQL_Running", "Replica_SQL_Running"])),
                seconds_behind: col(r, &["Seconds_Behind_Master", "Seconds_Behind_Source"])
                    .and_then(|v| v.parse().ok()),
                last_error: err,
                received: col(r, &["Gtid_IO_Pos", "Retrieved_Gtid_Set"]).unwrap_or_default(),
                source_host: col(r, &["Master_Host", "Source_Host"]).unwrap_or_default(),
                source_port: col(r, &["Master_Port", "Source_Port"]).and_then(|v| v.parse().ok()),
            }
        })
        .collect())
}

/// The replication connection of the server that reads `from`, found by the host and port
/// wavedeck reaches `from` at (a replica reaching it under another name is not found).
pub async fn replica_of_on(
    c: &mut MySqlConnection,
    flavor: Flavor,
    from: &Side,
) -> R<Option<ReplicaStatus>> {
    Ok(replicas_on(c, flavor)
        .await?
        .into_iter()
        .find(|r| r.source_host == from.host && r.source_port == Some(from.port)))
}

/// Write marker row `token` of `kind` into `db`'s [`MARKER_TABLE`] through the binary log
/// (a mover carries it), in place of the earlier rows of that kind: markers written often
/// (the live validation gate's) leave one row, not one per write. Leaves no session state.
pub async fn renew_marker_on(c: &mut MySqlConnection, db: &str, token: &str, kind: &str) -> R<()> {
    insert_marker(c, db, token, kind, "{}", true, true).await
}

/// Whether marker `token` is in `db` (false while the table itself has not arrived).
pub async fn has_marker_on(c: &mut MySqlConnection, db: &str, token: &str) -> R<bool> {
    let sql = format!(
        "SELECT COUNT(*) FROM {}.{MARKER_TABLE} WHERE token = ?",
        quote_ident(db)
    );
    match sqlx::query_scalar::<_, i64>(&sql)
        .bind(token)
        .fetch_one(c)
        .await
    {
        Ok(n) => Ok(n > 0),
        Err(e) if is_no_such_table(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Wait until marker `token` is in `db`; returns the milliseconds waited.
pub async fn wait_marker_on(
    c: &mut MySqlConnection,
    db: &str,
    token: &str,
    timeout: Duration,
) -> Result<u64, String> {
    let started = Instant::now();
    loop {
        if has_marker_on(c, db, token)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(started.elapsed().as_millis() as u64);
        }
        if started.elapsed() >= timeout {
            return Err(format!(
                "marker {token} not in {db}.{MARKER_TABLE} after {} s",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn insert_marker(
    c: &mut MySqlConnection,
    db: &str,
    token: &str,
    kind: &str,
    note: &str,
    binlog: bool,
    replace: bool,
) -> R<()> {
    let table = format!("{}.{MARKER_TABLE}", quote_ident(db));
    if !binlog {
        exec(c, "SET SESSION sql_log_bin = 0").await?;
    }
    exec(
        c,
        &format!(
            "CREATE TABLE IF NOT EXISTS {table} (token VARCHAR(120) NOT NULL PRIMARY KEY, \
             kind VARCHAR(32) NOT NULL, note VARCHAR(2000) NOT NULL, \
             written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB"
        ),
    )
    .await?;
    if replace {
        sqlx::query(&format!("DELETE FROM {table} WHERE kind = ?"))
            .bind(kind)
            .execute(&mut *c)
            .await?;
    }
    sqlx::query(&format!(
        "INSERT INTO {table} (token, kind, note) VALUES (?, ?, ?)"
    ))
    .bind(token)
    .bind(kind)
    .bind(note)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Error 1146: the table does not exist (yet).
fn is_no_such_table(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| m.number() == 1146))
}

/// A boolean system variable as text (`ON`, `1`).
fn truthy(v: &str) -> bool {
    v == "1" || v.eq_ignore_ascii_case("on")
}

/// `'app'@'%'` -> `app`.
fn grantee_user(grantee: &str) -> String {
    let user = grantee.rsplit_once('@').map(|(u, _)| u).unwrap_or(grantee);
    user.trim_matches('\'').trim_matches('`').to_string()
}

#[derive(Clone, Debug)]
struct Session {
    id: u64,
    user: String,
    command: String,
    in_trx: bool,
    rows_modified: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DrainReport {
    /// How writes were fenced (depends on the server family).
    pub mode: String,
    pub flavor: Flavor,
    pub version: String,
    /// Sessions ended at once because they were idle.
    pub ended_idle: u32,
    /// Sessions ended when the grace ran out (a statement or transaction was open).
    pub ended_after_grace: u32,
    /// Sessions that disconnected by themselves during the grace.
    pub left_by_themselves: u32,
    /// Sessions of users that write through the fence (MariaDB READ_ONLY ADMIN): not ended.
    pub privileged_sessions: u32,
    pub privileged_users: Vec<String>,
    pub waited_ms: u64,
    pub drained_at: String,
    /// The server's GTID position once drained: what the other side must apply.
    pub gtid_pos: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct WaitReport {
    /// The position waited for.
    pub position: String,
    /// What the waiting server held afterwards.
    pub applied: String,
    pub waited_ms: u64,
}

/// Move every AUTO_INCREMENT counter of `to_db` on `to` forward to at least its value on `from`
/// (rows replicated with their ids normally move it already; this covers a replica that was
/// seeded otherwise). Never moves one backwards. Returns the tables moved.
pub async fn carry_auto_increments(
    from: &mut My,
    from_db: &str,
    to: &mut My,
    to_db: &str,
) -> R<Vec<String>> {
    let theirs = to.auto_increments(to_db).await?;
    let mut moved = Vec::new();
    for (table, value) in from.auto_increments(from_db).await? {
        let Some(v) = value else { continue };
        let Some((_, current)) = theirs.iter().find(|(t, _)| *t == table) else {
            continue;
        };
        if current.is_some_and(|c| c >= v) {
            continue;
        }
        exec(
            &mut to.c,
            &format!(
                "ALTER TABLE {}.{} AUTO_INCREMENT = {v}",
                quote_ident(to_db),
                quote_ident(&table)
            ),
        )
        .await?;
        moved.push(table);
    }
    Ok(moved)
}

/// Smoke test through an application-like session: the server answers, writes are not fenced,
/// and a write round trip works (in a temporary table, so no data changes and nothing reaches
/// the binary log).
pub async fn smoke_write(side: &Side) -> Result<serde_json::Value, String> {
    let started = Instant::now();
    let mut c = app(side).await.map_err(|e| e.to_string())?;
    let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(&mut c)
        .await
        .map_err(|e| e.to_string())?;
    let ro: i64 = sqlx::query_scalar("SELECT @@global.read_only + 0")
        .fetch_one(&mut c)
        .await
        .map_err(|e| e.to_string())?;
    let sro: Option<i64> = match Flavor::of_version(&version) {
        Flavor::MySql => Some(
            sqlx::query_scalar("SELECT @@global.super_read_only + 0")
                .fetch_one(&mut c)
                .await
                .map_err(|e| e.to_string())?,
        ),
        Flavor::MariaDb => None,
    };
    if ro != 0 || sro.unwrap_or(0) != 0 {
        return Err(format!(
            "writes are still fenced (read_only={ro}{})",
            sro.map(|v| format!(", super_read_only={v}"))
                .unwrap_or_default()
        ));
    }
    let n: i64 = async {
        exec(&mut c, "CREATE TEMPORARY TABLE wd_smoke (x int)").await?;
        exec(&mut c, "INSERT INTO wd_smoke VALUES (1)").await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wd_smoke")
            .fetch_one(&mut c)
            .await?;
        exec(&mut c, "DROP TEMPORARY TABLE wd_smoke").await?;
        Ok::<_, sqlx::Error>(n)
    }
    .await
    .map_err(|e| e.to_string())?;
    let _ = c.close().await;
    Ok(serde_json::json!({
        "endpoint": side.endpoint(),
        "version": version,
        "read_only": ro,
        "write_roundtrip_rows": n,
        "ms": started.elapsed().as_millis() as u64,
    }))
}

/// Replication seen from both servers: where the source is, what the replica applied, how
/// its connection runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MyLag {
    pub source_pos: String,
    pub replica_have: String,
    /// Transactions the replica has not applied yet (MySQL: 1 means "some").
    pub behind: u64,
    /// `Seconds_Behind_Master` of the connection (whole seconds; 0 when idle).
    pub seconds: Option<i64>,
    pub replica: Option<ReplicaStatus>,
}

impl MyLag {
    pub fn streaming(&self) -> bool {
        self.replica.as_ref().is_some_and(|r| r.running())
    }

    /// The DRS job status this state corresponds to (as `pg::Lag::drs_status`).
    pub fn drs_status(&self) -> &'static str {
        match &self.replica {
            Some(r) if r.running() => "INCRE_TRANSFER_STARTED",
            Some(_) => "INCRE_TRANSFER_FAILED",
            None => "RELEASE_RESOURCE_COMPLETE",
        }
    }
}

/// Lag of replication connection `name` on `replica` behind `source`.
pub async fn measure_lag(source: &mut My, replica: &mut My, name: &str) -> Result<MyLag, String> {
    let source_pos = source.gtid_pos().await.map_err(|e| e.to_string())?;
    let replica_have = replica.gtid_have().await.map_err(|e| e.to_string())?;
    let behind = replica.behind(&source_pos).await?;
    let status = replica.replica(name).await.map_err(|e| e.to_string())?;
    Ok(MyLag {
        source_pos,
        replica_have,
        behind,
        seconds: status.as_ref().and_then(|s| s.seconds_behind),
        replica: status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_from_version_string() {
        assert_eq!(
            Flavor::of_version("10.11.19-MariaDB-0+deb12u1-log"),
            Flavor::MariaDb
        );
        assert_eq!(Flavor::of_version("8.0.36"), Flavor::MySql);
        assert_eq!(Flavor::MariaDb.fence_var(), "read_only");
        assert_eq!(Flavor::MySql.fence_var(), "super_read_only");
        assert!(Flavor::MariaDb.drain_mode().contains("no super_read_only"));
        assert_eq!(Flavor::MySql.fence_bypass_privilege(), None);
    }

    #[test]
    fn mariadb_positions_compare_per_domain() {
        let have = MariaPos::parse("0-1-8,1-2-5").unwrap();
        assert!(have.contains(&MariaPos::parse("0-1-8").unwrap()));
        assert!(have.contains(&MariaPos::parse("0-2-7, 1-1-5").unwrap()));
        assert!(!have.contains(&MariaPos::parse("0-2-9").unwrap()));
        assert!(!have.contains(&MariaPos::parse("2-1-1").unwrap()));
        assert!(have.contains(&MariaPos::parse("").unwrap()));
        assert_eq!(
            have.behind(&MariaPos::parse("0-2-12,1-1-5,3-1-2").unwrap()),
            6
        );
        let fed = MariaPos::parse("0-1-9").unwrap();
        assert!(fed.continues(&MariaPos::parse("0-1-9").unwrap()));
        assert!(
            !MariaPos::parse("0-2-9").unwrap().continues(&fed),
            "the same numbers under another server id: applied as its own"
        );
        assert!(!fed.continues(&MariaPos::parse("0-1-10").unwrap()));
        assert!(!fed.continues(&MariaPos::default()));
        assert!(MariaPos::parse("0-1").is_err());
        assert!(MariaPos::parse("a-b-c").unwrap_err().contains("a-b-c"));
    }

    #[test]
    fn replication_statements_per_flavor_quote_their_values() {
        let mut from = Side::new("10.0.0.5", 3306, "repl'x", "shop");
        from.password = Some(Secret::new("pa'ss\\w"));
        let m = Flavor::MariaDb.change_source_sql("wd_rev_shop", &from);
        assert!(
            m.starts_with("CHANGE MASTER 'wd_rev_shop' TO MASTER_HOST='10.0.0.5'"),
            "{m}"
        );
        assert!(m.contains("MASTER_USER='repl\\'x'"), "{m}");
        assert!(m.contains("MASTER_PASSWORD='pa\\'ss\\\\w'"), "{m}");
        assert!(m.contains("MASTER_USE_GTID=slave_pos"), "{m}");
        let y = Flavor::MySql.change_source_sql("wd_rev_shop", &from);
        assert!(y.contains("SOURCE_AUTO_POSITION=1"), "{y}");
        assert!(y.ends_with("FOR CHANNEL 'wd_rev_shop'"), "{y}");
        assert_eq!(
            Flavor::MariaDb.remove_replica_sql("a"),
            [
                "STOP SLAVE 'a'".to_string(),
                "RESET SLAVE 'a' ALL".to_string()
            ]
        );
        assert_eq!(
            Flavor::MySql.start_replica_sql("a"),
            "START REPLICA FOR CHANNEL 'a'"
        );
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }

    #[test]
    fn grantees_name_their_user() {
        assert_eq!(grantee_user("'root'@'localhost'"), "root");
        assert_eq!(grantee_user("'app'@'%'"), "app");
        assert_eq!(grantee_user("'we@ird'@'%'"), "we@ird");
    }
}
