//! Opening a store by URL, its schema, and the helpers every query module shares.
//!
//! One `Store` type over `sqlx::AnyPool`: the SQL is written once, with `$n` placeholders
//! (which SQLite accepts too) and only portable types (BIGINT, TEXT, floating point), so the
//! SQLite and PostgreSQL stores have the same tables and run the same test suite.

use super::error::{Ctx, Result, StoreError};
use super::fold::Derived;
use super::hash::{GENESIS_HASH, TIME_FORMAT};
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor, Row};
use std::str::FromStr;
use std::time::Duration;

/// Which database holds the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The event store: events, derived state, commands, lease and lag samples. Cheap to clone
/// (a pool handle); share one per process.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// The URL with any password replaced by `***`, for messages.
    url: String,
    /// Unix time of this process's last lag compaction (see `lag.rs`).
    pub(crate) last_lag_compaction: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Derived state as of this process's last append (see [`StateCache`]). The lock
    /// also queues this process's writers before they queue on the database.
    pub(crate) cache: std::sync::Arc<tokio::sync::Mutex<Option<StateCache>>>,
    /// Which appended events are notifications, and for whom (see `outbox.rs`).
    pub(crate) outbox: super::router::RouterSlot,
}

/// Derived state kept by a writing process between appends, so that a batch does not read
/// back the rows it touches. Valid only at the chain head it was computed for.
pub(crate) struct StateCache {
    pub(super) seq: i64,
    pub(super) hash: String,
    pub(super) derived: Derived,
}

impl std::fmt::Debug for StateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StateCache(seq {}, {} databases)",
            self.seq,
            self.derived.dbs.len()
        )
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let user = match userinfo.split_once(':') {
        Some((u, _)) => format!("{u}:***"),
        None => userinfo.to_string(),
    };
    let tail = redact_query_password(tail);
    format!("{scheme}://{user}@{host}{tail}")
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format(TIME_FORMAT).to_string()
}

pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .map(|n| n.and_utc())
        .map_err(|_| StoreError::Corrupt(format!("time {s:?} is not in the store's format")))
}

/// Now, at the microsecond precision the store keeps (so a value read back equals it).
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    parse_time(&fmt_time(t)).unwrap_or(t)
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).ctx("read a row")
}

/// Placeholders for `rows` rows of `cols` values: `($1,$2),($3,$4)` on PostgreSQL, `(?,?),(?,?)`
/// on SQLite. SQLite gets anonymous `?` because sqlx binds each parameter after asking SQLite
/// for its name, and SQLite finds a `$n` name by walking a list of all of them: quadratic in the
/// parameter count (perf: sqlite3_bind_parameter_name was 50% of an append with 500-row
/// statements, still 10% with 50). Anonymous parameters have no name to look up.
pub(crate) fn values_placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            push_placeholder(&mut s, backend, r * cols + c + 1);
        }
        s.push(')');
    }
    s
}

/// `$start,$start+1,...` (or `?,?,...` on SQLite) for `n` values (an `IN (...)` list). On SQLite
/// the list must hold every parameter of its statement, in order, as `?` numbers by position.
pub(crate) fn list_placeholders(backend: Backend, start: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    for i in start..start + n {
        if i > start {
            s.push(',');
        }
        push_placeholder(&mut s, backend, i);
    }
    s
}

fn push_placeholder(s: &mut String, backend: Backend, n: usize) {
    match backend {
        Backend::Sqlite => s.push('?'),
        Backend::Postgres => {
            s.push('$');
            s.push_str(&n.to_string());
        }
    }
}

impl Backend {
    /// The backend a pooled connection talks to.
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Most rows per multi-row statement: large enough that a 1000-event append is a handful of
/// statements (each one a round trip to sqlx's SQLite worker thread), well under both backends'
/// parameter limits (SQLite 32766, PostgreSQL 65535) at 9 columns.
pub(crate) const CHUNK_ROWS: usize = 128;

/// `rows` split for multi-row statements: chunks of power-of-two lengths, largest first, none
/// longer than [`CHUNK_ROWS`]. Each connection keeps up to 100 prepared statements by SQL text;
/// with one text per row count, the engine's appends of every size from 1 to 200 kept ~25 MB
/// of SQLite programs alive (massif, `bench engine`). Powers of two leave 8 texts per table, at
/// the price of popcount(n) statements for n rows.
pub(crate) fn row_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        let n = rest.len().min(CHUNK_ROWS);
        if n == 0 {
            return None;
        }
        let (head, tail) = rest.split_at(1 << n.ilog2());
        rest = tail;
        Some(head)
    })
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    // One row: the head of the chain. Every append locks it first, which serialises
    // appenders on PostgreSQL (row lock) and on SQLite (write lock), so the chain stays linear.
    "CREATE TABLE IF NOT EXISTS chain_head (id {INT} PRIMARY KEY, last_seq {INT} NOT NULL, last_hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (seq {INT} PRIMARY KEY, time TEXT NOT NULL, db_id TEXT, wave {INT}, \
     kind TEXT NOT NULL, payload TEXT NOT NULL, actor TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_by_db ON events (db_id, seq)",
    // Partial: only wave events carry a wave, and indexing the NULLs of every other event
    // cost each append an index insert for nothing.
    "CREATE INDEX IF NOT EXISTS events_by_wave ON events (wave, seq) WHERE wave IS NOT NULL",
    // Partial: the stage changes the program's pace reads (`Store::stage_marks`) are a few in
    // a hundred events; without it the cockpit's first poll scans the whole log.
    "CREATE INDEX IF NOT EXISTS events_stage_by_seq ON events (seq) WHERE kind = 'db.stage'",
    "CREATE TABLE IF NOT EXISTS db_state (db_id TEXT PRIMARY KEY, wave {INT}, stage TEXT NOT NULL, \
     updated_seq {INT} NOT NULL, state TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS db_state_by_seq ON db_state (updated_seq)",
    "CREATE TABLE IF NOT EXISTS db_spec (db_id TEXT PRIMARY KEY, spec TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wave_state (wave {INT} PRIMARY KEY, state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS commands (id {AUTO_ID}, time TEXT NOT NULL, who TEXT NOT NULL, \
     role TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, args TEXT NOT NULL, \
     status TEXT NOT NULL, reason TEXT, decided_at TEXT)",
    "CREATE INDEX IF NOT EXISTS commands_by_status ON commands (status, id)",
    "CREATE TABLE IF NOT EXISTS lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, \
     acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lag_samples (db_id TEXT NOT NULL, bucket {INT} NOT NULL, time TEXT NOT NULL, \
     lag_s {REAL} NOT NULL, PRIMARY KEY (db_id, bucket, time))",
    // What a validation run remembers between attempts (see `validation.rs`).
    "CREATE TABLE IF NOT EXISTS validation_runs (db_id TEXT NOT NULL, mode TEXT NOT NULL, run {INT} NOT NULL, \
     started_at TEXT NOT NULL, finished_at TEXT, PRIMARY KEY (db_id, mode, run))",
    "CREATE TABLE IF NOT EXISTS validation_chunks (db_id TEXT NOT NULL, mode TEXT NOT NULL, run {INT} NOT NULL, \
     tbl TEXT NOT NULL, lo TEXT NOT NULL, hi TEXT NOT NULL, fingerprint TEXT NOT NULL, rows_n {INT} NOT NULL, \
     digest TEXT NOT NULL, at TEXT, PRIMARY KEY (db_id, mode, run, tbl, lo, hi))",
    "CREATE TABLE IF NOT EXISTS validation_marks (db_id TEXT NOT NULL, mode TEXT NOT NULL, run {INT} NOT NULL, \
     tbl TEXT NOT NULL, marker TEXT NOT NULL, PRIMARY KEY (db_id, mode, run, tbl))",
    "CREATE TABLE IF NOT EXISTS validation_results (db_id TEXT NOT NULL, mode TEXT NOT NULL, tbl TEXT NOT NULL, \
     fingerprint TEXT NOT NULL, marker TEXT NOT NULL, at TEXT NOT NULL, report TEXT NOT NULL, \
     PRIMARY KEY (db_id, mode, tbl))",
    // A running validation's progress and finished validations' rates (see `val_progress.rs`).
    "CREATE TABLE IF NOT EXISTS validation_progress (db_id TEXT NOT NULL, mode TEXT NOT NULL, tbl TEXT NOT NULL, \
     rows_est {INT} NOT NULL, rows_done {INT} NOT NULL, rows_read {INT} NOT NULL, read_ms {INT} NOT NULL, \
     run_ms {INT} NOT NULL, limited_ms {INT} NOT NULL, finished {INT} NOT NULL, updated_at TEXT NOT NULL, \
     PRIMARY KEY (db_id, mode, tbl))",
    // The rate limit of a running validation and how much it holds the reads back, beside
    // its progress. A table of its own so a store made before it gets it without changing
    // validation_progress.
    "CREATE TABLE IF NOT EXISTS validation_limits (db_id TEXT NOT NULL, mode TEXT NOT NULL, \
     max_rows_per_s {INT} NOT NULL, waiting {REAL} NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (db_id, mode))",
    "CREATE TABLE IF NOT EXISTS validation_rates (db_id TEXT NOT NULL, engine TEXT NOT NULL, \
     gb_per_hour {REAL} NOT NULL, rows_per_s {REAL} NOT NULL, at TEXT NOT NULL)",
    // Notifications to post (see `outbox.rs`): written with their event, marked once sent.
    "CREATE TABLE IF NOT EXISTS notify_outbox (seq {INT} NOT NULL, target TEXT NOT NULL, attempts {INT} NOT NULL, \
     next_at TEXT NOT NULL, sent_at TEXT, last_error TEXT, PRIMARY KEY (seq, target))",
    // Notifications given up (refused for good or out of attempts): never posted again. A
    // table of its own so a store made before it gets it without changing notify_outbox.
    "CREATE TABLE IF NOT EXISTS notify_given_up (seq {INT} NOT NULL, target TEXT NOT NULL, at TEXT NOT NULL, \
     reason TEXT NOT NULL, PRIMARY KEY (seq, target))",
];

/// Tables added after schema version 1 was fixed: a store created before them gets them when
/// it is opened (each only if it is missing, so no DDL touches the tables a running engine
/// appends to).
const ADDED_TABLES: &[&str] = &[
    "validation_runs",
    "validation_chunks",
    "validation_marks",
    "validation_results",
    "validation_progress",
    "validation_rates",
    "validation_limits",
    "notify_outbox",
    "notify_given_up",
];

/// Indexes added after schema version 1 was fixed: a store created before them gets them when
/// it is opened, each only after the catalog says it is missing (or, on PostgreSQL, left
/// invalid by an interrupted build), so opening a store that has them runs no DDL.
const ADDED_INDEXES: &[&str] = &["events_stage_by_seq"];

pub const SCHEMA_VERSION: &str = "1";

/// The store's tables, read from [`SCHEMA`] so a new table is granted to viewers without a
/// second list to keep in step.
pub(crate) fn table_names() -> Vec<&'static str> {
    SCHEMA
        .iter()
        .filter_map(|s| s.strip_prefix("CREATE TABLE IF NOT EXISTS "))
        .filter_map(|s| s.split_whitespace().next())
        .collect()
}

/// What the catalog says of an index.
enum IndexState {
    Missing,
    /// Only PostgreSQL: a `CREATE INDEX CONCURRENTLY` that did not finish.
    Invalid,
    Valid,
}

fn ddl(stmt: &str, backend: Backend) -> String {
    let (int, real, auto) = match backend {
        // INTEGER PRIMARY KEY is SQLite's rowid: the fastest key it has.
        Backend::Sqlite => ("INTEGER", "REAL", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        Backend::Postgres => (
            "BIGINT",
            "DOUBLE PRECISION",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        ),
    };
    stmt.replace("{INT}", int)
        .replace("{REAL}", real)
        .replace("{AUTO_ID}", auto)
}

impl Store {
    /// Open (and create if missing) the store at `url`: `sqlite://PATH` or `postgres://...`.
    /// The schema is created on first open.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, true).await
    }

    /// Open a store that must already exist (a SQLite file that is not there is an error that
    /// says to run `wavedeck init`). For read-only commands such as `status`.
    pub async fn open_existing(url: &str) -> Result<Store> {
        Store::open_with(url, false).await
    }

    async fn open_with(url: &str, create: bool) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let open_err = |source| StoreError::Open {
            url: shown.clone(),
            source,
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(shown));
        };
        match backend {
            Backend::Sqlite => prepare_sqlite(url, create, &shown).await?,
            Backend::Postgres => super::reach::reach(url, &shown).await?,
        }
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // FULL: a committed append survives power loss, not only a killed
                        // process. The engine persists "about to call DRS" before calling it;
                        // losing that record on a host crash could make it repeat a step.
                        // Batched appends pay one fsync per transaction, so the cost is small.
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        // A batch of appends dirties ~1700 pages spread over the event index
                        // and db_state. SQLite's default checkpoint (every 1000 WAL pages) then
                        // copies them into the database file after nearly every commit, so
                        // each page went to disk twice per batch. Checkpointing every 16k pages
                        // (64 MiB of WAL) writes a page once however many batches touched it.
                        conn.execute("PRAGMA wal_autocheckpoint = 16384").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(open_err)?;
        let store = Store {
            pool,
            backend,
            url: shown,
            last_lag_compaction: Default::default(),
            cache: Default::default(),
            outbox: Default::default(),
        };
        store.create_schema().await?;
        Ok(store)
    }

    /// Begin a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting up to the busy timeout): a transaction that read first and
    /// wrote second would fail with "database is locked" as soon as another connection wrote.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .ctx("begin a write")
    }

    async fn schema_version(&self) -> Option<String> {
        sqlx::query("SELECT value FROM meta WHERE key = 'schema_version'")
            .fetch_optional(&self.pool)
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get("value").ok())
    }

    async fn create_schema(&self) -> Result<()> {
        // An existing store is only checked: DDL (even IF NOT EXISTS) takes table locks that
        // would collide with a running engine's appends.
        let version = match self.schema_version().await {
            Some(v) => v,
            None => {
                let mut tx = self.begin_write().await?;
                if self.backend == Backend::Postgres {
                    // Two engines opening a fresh database at once would race on CREATE TABLE.
                    tx.execute("SELECT pg_advisory_xact_lock(727165001)")
                        .await
                        .ctx("lock schema")?;
                }
                for stmt in SCHEMA {
                    tx.execute(ddl(stmt, self.backend).as_str())
                        .await
                        .ctx("create schema")?;
                }
                sqlx::query(
                    "INSERT INTO chain_head (id, last_seq, last_hash) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING",
                )
                .bind(GENESIS_HASH)
                .execute(&mut *tx)
                .await
                .ctx("create chain head")?;
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO NOTHING",
                )
                .bind(SCHEMA_VERSION)
                .execute(&mut *tx)
                .await
                .ctx("write schema version")?;
                tx.commit().await.ctx("commit schema")?;
                self.schema_version().await.unwrap_or_default()
            }
        };
        if version != SCHEMA_VERSION {
            return Err(StoreError::Refused(format!(
                "store {} has schema version {version:?}, this wavedeck knows version {SCHEMA_VERSION}: use the wavedeck release that created it",
                self.url
            )));
        }
        self.add_missing_tables().await;
        self.add_missing_indexes().await;
        Ok(())
    }

    /// Build the [`ADDED_INDEXES`] an older store lacks. Best effort like the tables: a viewer
    /// may not create indexes, and every query works without them, only slower. On PostgreSQL
    /// the build is `CONCURRENTLY`, which takes no lock that stops a running engine's appends;
    /// one killed half-way leaves an invalid index, dropped and built again here. On SQLite a
    /// build holds the write lock for its scan of the log (appenders wait, as for any write)
    /// and a killed one rolls back.
    async fn add_missing_indexes(&self) {
        for stmt in SCHEMA {
            let Some(name) = stmt
                .strip_prefix("CREATE INDEX IF NOT EXISTS ")
                .and_then(|s| s.split_whitespace().next())
                .filter(|n| ADDED_INDEXES.contains(n))
            else {
                continue;
            };
            match self.index_state(name).await {
                Ok(IndexState::Valid) => continue,
                Ok(IndexState::Invalid) => {
                    let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {name}");
                    if let Err(e) = self.pool.execute(drop.as_str()).await {
                        tracing::warn!(index = name, error = %e, "cannot drop an invalid store index");
                        continue;
                    }
                }
                Ok(IndexState::Missing) => {}
                Err(e) => {
                    tracing::warn!(index = name, error = %e, "cannot read the store's indexes");
                    continue;
                }
            }
            let sql = match self.backend {
                Backend::Sqlite => stmt.to_string(),
                Backend::Postgres => stmt.replacen("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1),
            };
            match self.pool.execute(sql.as_str()).await {
                Ok(_) => tracing::info!(index = name, "added a store index"),
                Err(e) => tracing::warn!(index = name, error = %e, "cannot add a store index"),
            }
        }
    }

    /// Whether index `name` is there, from the catalog (no DDL).
    async fn index_state(&self, name: &str) -> std::result::Result<IndexState, sqlx::Error> {
        let row = match self.backend {
            Backend::Sqlite => {
                sqlx::query("SELECT 1 AS valid FROM sqlite_master WHERE type = 'index' AND name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::query(
                    "SELECT CAST(CASE WHEN indisvalid THEN 1 ELSE 0 END AS BIGINT) AS valid FROM pg_index \
                     WHERE indexrelid = to_regclass($1)",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        Ok(match row {
            None => IndexState::Missing,
            Some(r) if r.try_get::<i64, _>("valid")? == 1 => IndexState::Valid,
            Some(_) => IndexState::Invalid,
        })
    }

    /// Create the [`ADDED_TABLES`] an older store lacks. Best effort: a viewer's role may not
    /// create tables, and what needs them says so when it finds them missing.
    async fn add_missing_tables(&self) {
        for stmt in SCHEMA {
            let Some(name) = stmt
                .strip_prefix("CREATE TABLE IF NOT EXISTS ")
                .and_then(|s| s.split_whitespace().next())
                .filter(|n| ADDED_TABLES.contains(n))
            else {
                continue;
            };
            let probe = format!("SELECT 1 FROM {name} WHERE 1 = 0");
            if sqlx::query(&probe).fetch_optional(&self.pool).await.is_ok() {
                continue;
            }
            if let Err(e) = self.pool.execute(ddl(stmt, self.backend).as_str()).await {
                tracing::warn!(table = name, error = %e, "cannot add a store table");
            }
        }
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The store URL with any password hidden, for messages and the status header.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Close the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Create the file if asked and switch it to WAL once. WAL is a property of the file, so it is
/// set here with a native connection rather than on every pooled one: changing the journal mode
/// needs an exclusive lock that would fail while another process reads.
async fn prepare_sqlite(url: &str, create: bool, shown: &str) -> Result<()> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|_| StoreError::BadUrl(shown.to_string()))?
        .create_if_missing(create)
        .busy_timeout(Duration::from_secs(30));
    let path = opts.get_filename().to_path_buf();
    if !create && !path.exists() {
        return Err(StoreError::Missing(shown.to_string()));
    }
    if create {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Refused(format!(
                    "cannot create directory {} for store {shown}: {e}",
                    dir.display()
                ))
            })?;
        }
    }
    let mut conn = opts.connect().await.map_err(|source| StoreError::Open {
        url: shown.to_string(),
        source,
    })?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .ctx("read journal mode")?;
    if !mode.eq_ignore_ascii_case("wal") {
        let opts = opts.journal_mode(SqliteJournalMode::Wal);
        conn.close().await.ctx("close")?;
        opts.connect()
            .await
            .map_err(|source| StoreError::Open {
                url: shown.to_string(),
                source,
            })?
            .close()
            .await
            .ctx("close")?;
    } else {
        conn.close().await.ctx("close")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_passwords() {
        assert_eq!(
            redact_url("postgres://wd:s3cret@db.example:5432/wd"),
            "postgres://wd:***@db.example:5432/wd"
        );
        assert_eq!(
            redact_url("postgres://wd@h/db?password=s3cret&sslmode=require"),
            "postgres://wd@h/db?password=***&sslmode=require"
        );
        assert_eq!(redact_url("sqlite://wavedeck.db"), "sqlite://wavedeck.db");
        assert_eq!(redact_url("postgres://p:a@b@h/db"), "postgres://p:***@h/db");
    }

    #[test]
    fn table_names_come_from_the_schema() {
        let t = table_names();
        assert_eq!(
            t.len(),
            SCHEMA.iter().filter(|s| s.contains("CREATE TABLE")).count()
        );
        for name in ["events", "commands", "db_state", "lease", "chain_head"] {
            assert!(t.contains(&name), "{t:?}");
        }
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            values_placeholders(Backend::Postgres, 2, 2),
            "($1,$2),($3,$4)"
        );
        assert_eq!(values_placeholders(Backend::Sqlite, 2, 2), "(?,?),(?,?)");
        assert_eq!(list_placeholders(Backend::Postgres, 3, 2), "$3,$4");
        assert_eq!(list_placeholders(Backend::Sqlite, 1, 3), "?,?,?");
    }

    #[test]
    fn row_chunks_are_powers_of_two_in_order() {
        let lens = |n: usize| {
            let v: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = row_chunks(&v).collect();
            assert_eq!(chunks.concat(), v, "every row once, in order");
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        assert!(lens(0).is_empty());
        assert_eq!(lens(1), vec![1]);
        assert_eq!(lens(37), vec![32, 4, 1]);
        assert_eq!(lens(128), vec![128]);
        assert_eq!(lens(300), vec![128, 128, 32, 8, 4]);
        for n in 0..1000 {
            assert!(lens(n)
                .iter()
                .all(|l| l.is_power_of_two() && *l <= CHUNK_ROWS));
        }
    }

    #[test]
    fn time_round_trips_at_microseconds() {
        let t = now();
        assert_eq!(parse_time(&fmt_time(t)).unwrap(), t);
        assert!(parse_time("yesterday").is_err());
    }
}
