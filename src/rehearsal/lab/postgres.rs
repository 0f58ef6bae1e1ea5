//! The replication lab: two local PostgreSQL clusters (source and target, `wal_level=logical`)
//! on free loopback ports, the pilot databases seeded at the source, native logical replication
//! (publication + subscription) moving them to the target, and a DNS file naming each database's
//! service endpoint. The rehearsal then runs the same cutover code production runs.

use crate::config::Config;
use crate::cutover::context::{CutoverCtx, NativeMover};
use crate::cutover::dns_provider::{write_atomic, Dns, FileDns};
use crate::cutover::postgres::ops::{self as pg, SubscriptionStart};
use crate::cutover::side::Side;
use crate::inventory::{DatabaseSpec, Endpoint, Engine};
use crate::secret::SecretRef;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const STATE_FILE: &str = "lab.json";
/// The lab's DNS file (both halves): the service name of every lab database.
pub const DNS_FILE: &str = "dns.yaml";
/// The lab's inventory (both halves), as `lab up` writes it.
pub const INVENTORY_FILE: &str = "inventory.yaml";
const OS_USER: &str = "postgres";
const DB_USER: &str = "postgres";

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("lab {dir}: {msg}")]
    Setup { dir: PathBuf, msg: String },
    #[error(transparent)]
    Pg(#[from] crate::cutover::side::SideError),
}

pub(super) fn setup(dir: &Path, msg: impl std::fmt::Display) -> LabError {
    LabError::Setup {
        dir: dir.to_path_buf(),
        msg: msg.to_string(),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterState {
    pub name: String,
    pub port: u16,
    pub data_dir: PathBuf,
}

/// What `lab up` built, kept in `<dir>/lab.json` for `status`, `down` and the drivers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LabState {
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
    pub source: ClusterState,
    pub target: ClusterState,
    pub databases: Vec<String>,
    /// Workload processes started by `lab up` (pid per database).
    #[serde(default)]
    pub workload_pids: Vec<(String, u32)>,
    /// Who moves the data: the lab itself, or DRS jobs of the emulator in native mode.
    #[serde(default)]
    pub mover: LabMover,
    /// The native-mode DRS emulator `lab up` started, if any.
    #[serde(default)]
    pub emulator: Option<LabEmulator>,
}

/// Who replicates the lab databases.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LabMover {
    /// The lab creates the publication and subscription itself (`lab cutover` drives them).
    #[default]
    Direct,
    /// The databases are left unreplicated: DRS jobs (the emulator's native mode, created by
    /// the engine) set up the same publication and subscription.
    Drs,
}

/// The DRS emulator process of a lab.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LabEmulator {
    pub pid: u32,
    pub listen: String,
}

impl LabState {
    pub fn load(dir: &Path) -> Result<LabState, LabError> {
        let p = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            setup(
                dir,
                format!(
                    "no lab here ({}: {e}); run `wavedeck lab up` first",
                    p.display()
                ),
            )
        })?;
        serde_json::from_str(&text).map_err(|e| setup(dir, format!("{}: {e}", p.display())))
    }

    pub fn save(&self) -> Result<(), LabError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| setup(&self.dir, e))?;
        write_atomic(&self.dir.join(STATE_FILE), &text).map_err(|e| setup(&self.dir, e))
    }

    pub fn side(&self, cluster: &ClusterState, db: &str) -> Side {
        Side::new("127.0.0.1", cluster.port, DB_USER, db)
    }

    pub fn dns_file(&self) -> FileDns {
        FileDns::new(self.dir.join(DNS_FILE))
    }

    pub fn dns_name(db: &str) -> String {
        format!("{db}.lab.internal")
    }

    pub fn journal_path(&self, db: &str) -> PathBuf {
        self.dir.join(format!("cutover-{db}.jsonl"))
    }

    /// The lab database as an inventory entry (what the validation gate and the engine read).
    /// The lab trusts loopback connections, so the password reference reads an empty file.
    pub fn spec(&self, db: &str) -> DatabaseSpec {
        let ep = |c: &ClusterState| Endpoint {
            host: "127.0.0.1".into(),
            port: c.port,
            database: db.into(),
            user: DB_USER.into(),
            password: SecretRef::File("/dev/null".into()),
        };
        DatabaseSpec::new(db, Engine::Postgres, ep(&self.source), ep(&self.target))
            .with_version("15")
            .with_size_gb(0.1)
            .with_owner("lab")
            .with_window(super::LAB_WINDOW)
            .with_wave(Some(0))
            .with_tags(["lab"])
    }

    /// The cutover context for one lab database, with thresholds from `cfg`.
    pub fn ctx(&self, db: &str, cfg: &Config, drain_grace: Duration) -> CutoverCtx {
        let source = self.side(&self.source, db);
        let target = self.side(&self.target, db);
        CutoverCtx {
            db_id: db.to_string(),
            engine: Engine::Postgres,
            dns_source_value: source.endpoint(),
            dns_target_value: target.endpoint(),
            source,
            target,
            mover: NativeMover::for_db(db).into(),
            dns: Dns::File(self.dns_file()).into(),
            dns_name: Self::dns_name(db),
            dns_ttl_s: 5,
            drain_grace,
            sync_timeout: Duration::from_secs(cfg.cutover.final_sync_timeout_s),
            max_lag_s: cfg.thresholds.max_cutover_lag_s,
            checksum_tables: if cfg.cutover.checksum_tables.is_empty() {
                vec!["public.customers".into(), "public.orders".into()]
            } else {
                cfg.cutover.checksum_tables.clone()
            },
            validation: Some((
                self.spec(db),
                crate::validate::Runbook::builtin(Engine::Postgres),
            )),
            blockers: vec![],
            hypercare_hours: cfg.thresholds.hypercare_hours,
            offline: false,
        }
    }
}

/// A lab database name for an inventory db_id: lowercase letters, digits and `_`.
pub fn lab_db_name(db_id: &str) -> String {
    db_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The empty password file of the lab's inventory: the lab trusts loopback (both engines), so
/// it resolves without any environment.
pub fn password_file(dir: &Path) -> Result<PathBuf, LabError> {
    let pw_file = dir.join("pg-password");
    if !pw_file.exists() {
        write_atomic(&pw_file, b"").map_err(|e| setup(dir, e))?;
    }
    Ok(pw_file)
}

/// One lab database as an inventory entry: `spec` (pointing at the lab's ports) with owner,
/// criticality, window, wave, overrides and size of the entry it came from, if any. `extra`
/// names the service the lab's workload resolves (the engine switches it) and the tables the
/// final quick validation checksums, in the engine's spelling.
pub(super) fn inventory_entry(
    mut spec: DatabaseSpec,
    from: &[(String, DatabaseSpec)],
    lab_name: &str,
    pw_file: &Path,
    critical: &[&str],
) -> serde_json::Value {
    if let Some((_, orig)) = from
        .iter()
        .find(|(n, o)| n == lab_name && o.engine == spec.engine)
    {
        spec.db_id = orig.db_id.clone();
        spec.owner = orig.owner.clone();
        spec.criticality = orig.criticality;
        spec.business_window = orig.business_window.clone();
        spec.wave = orig.wave;
        spec.overrides = orig.overrides.clone();
        spec.size_gb = orig.size_gb;
        spec.mode = orig.mode;
    }
    let ep = |e: &Endpoint| {
        serde_json::json!({
            "host": e.host, "port": e.port, "database": e.database, "user": e.user,
            "password_file": pw_file,
        })
    };
    serde_json::json!({
        "db_id": spec.db_id,
        "engine": spec.engine.as_str(),
        "engine_version": spec.engine_version,
        "size_gb": spec.size_gb,
        "owner": spec.owner,
        "criticality": spec.criticality.as_str(),
        "business_window": spec.business_window,
        "wave": spec.wave,
        "source": ep(&spec.source),
        "target": ep(&spec.target),
        "tags": spec.tags,
        "overrides": spec.overrides,
        "mode": spec.mode,
        "extra": {"dns_name": LabState::dns_name(lab_name), "critical_tables": critical},
    })
}

/// The PostgreSQL lab databases as inventory entries (see [`inventory_entry`]).
pub fn inventory_entries(
    state: &LabState,
    from: &[(String, DatabaseSpec)],
    pw_file: &Path,
) -> Vec<serde_json::Value> {
    state
        .databases
        .iter()
        .map(|db| {
            inventory_entry(
                state.spec(db),
                from,
                db,
                pw_file,
                &["public.customers", "public.orders"],
            )
        })
        .collect()
}

/// Write `<dir>/inventory.yaml`: the lab databases of both halves as one inventory pointing at
/// the lab ports. The engine, the checks and the cockpit then run against the lab like against
/// production.
pub fn write_inventory(dir: &Path, entries: Vec<serde_json::Value>) -> Result<PathBuf, LabError> {
    let doc = serde_json::json!({ "databases": entries });
    let text = format!(
        "# Generated by `wavedeck lab up`: the lab databases at the lab's ports. Passwords: the lab\n\
         # trusts loopback, so the password file is empty.\n{}",
        serde_yaml::to_string(&doc).map_err(|e| setup(dir, e))?
    );
    let path = dir.join(INVENTORY_FILE);
    write_atomic(&path, text.as_bytes()).map_err(|e| setup(dir, e))?;
    Ok(path)
}

/// Where `initdb` and `pg_ctl` live.
pub fn find_bin_dir(configured: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(d) = configured {
        if d.join("initdb").exists() {
            return Ok(d.to_path_buf());
        }
        return Err(format!("lab.pg_bin_dir {} has no initdb", d.display()));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, b)) = versions.pop() {
        return Ok(b);
    }
    for d in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(d);
        if p.join("initdb").exists() && p.join("pg_ctl").exists() {
            return Ok(p.to_path_buf());
        }
    }
    Err("initdb not found: install PostgreSQL server binaries or set lab.pg_bin_dir".into())
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

pub(super) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// PostgreSQL refuses to run as root: as root, run its tools as the `postgres` OS user.
fn pg_command(bin: &Path, tool: &str) -> Command {
    let exe = bin.join(tool);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", OS_USER, "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    }
}

/// Run a set-up tool; a failure names the tool and the last lines it printed.
pub(super) fn run_tool(dir: &Path, mut c: Command, what: &str) -> Result<(), LabError> {
    let out = c
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| setup(dir, format!("{what}: cannot run: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        return Err(setup(dir, format!("{what} failed: {tail}")));
    }
    Ok(())
}

/// Give the lab directory to the `postgres` OS user (when we are root) and make its parents
/// traversable, since a temporary directory is created private to root.
fn prepare_dir(dir: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(dir).map_err(|e| setup(dir, e))?;
    if !is_root() {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    let mut c = Command::new("chown");
    c.args(["-R", OS_USER]).arg(dir);
    run_tool(
        dir,
        c,
        &format!("giving the lab directory to the {OS_USER} OS user (chown)"),
    )?;
    Ok(())
}

fn init_cluster(bin: &Path, dir: &Path, name: &str) -> Result<ClusterState, LabError> {
    let data_dir = dir.join(name);
    let port = free_port().map_err(|e| setup(dir, e))?;
    let mut c = pg_command(bin, "initdb");
    c.arg("-D").arg(&data_dir).args([
        "-A",
        "trust",
        "-U",
        DB_USER,
        "-E",
        "UTF8",
        "--no-sync",
        "--locale=C",
    ]);
    run_tool(dir, c, &format!("initdb {name}"))?;
    let cluster = ClusterState {
        name: name.into(),
        port,
        data_dir,
    };
    start_cluster(bin, dir, &cluster)?;
    Ok(cluster)
}

/// Start (or restart) a cluster on its port, loopback only, logical decoding on.
pub fn start_cluster(bin: &Path, dir: &Path, c: &ClusterState) -> Result<(), LabError> {
    let opts = format!(
        "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c wal_level=logical \
         -c max_wal_senders=40 -c max_replication_slots=40 -c max_worker_processes=60 \
         -c max_logical_replication_workers=40 -c max_sync_workers_per_subscription=2 \
         -c wal_receiver_status_interval=1 -c wal_retrieve_retry_interval=200ms -c fsync=off -c full_page_writes=off \
         -c shared_buffers=32MB -c max_connections=200",
        c.port,
        dir.display()
    );
    let mut cmd = pg_command(bin, "pg_ctl");
    cmd.arg("-D")
        .arg(&c.data_dir)
        .args(["-o", &opts, "-l"])
        .arg(dir.join(format!("{}.log", c.name)))
        .args(["-w", "-t", "60", "start"]);
    run_tool(dir, cmd, &format!("pg_ctl start {}", c.name))
}

pub fn stop_cluster(bin: &Path, dir: &Path, c: &ClusterState) -> Result<(), LabError> {
    if !c.data_dir.join("postmaster.pid").exists() {
        return Ok(());
    }
    let mut cmd = pg_command(bin, "pg_ctl");
    cmd.arg("-D")
        .arg(&c.data_dir)
        .args(["-m", "fast", "-w", "-t", "60", "stop"]);
    run_tool(dir, cmd, &format!("pg_ctl stop {}", c.name))
}

/// Schema of every lab database. The target gets the same schema empty: logical replication
/// moves rows, not DDL (DRS does the schema itself; the lab does it here).
const SCHEMA: &str = "
CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
    amount numeric(12,2) NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE wd_workload (id bigserial PRIMARY KEY, client text NOT NULL, seq bigint NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX wd_workload_client_seq ON wd_workload (client, seq);
";

async fn exec_script(c: &mut sqlx::PgConnection, script: &str) -> Result<(), sqlx::Error> {
    for stmt in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(stmt).execute(&mut *c).await?;
    }
    Ok(())
}

/// Create `db` on both clusters, seed it at the source, make the target read-only for
/// applications (as DRS does during migration) and start replicating it.
pub async fn add_database(state: &LabState, db: &str, seed_rows: u32) -> Result<(), LabError> {
    prepare_database(state, db, seed_rows).await?;
    replicate(state, db).await
}

/// Create `db` on both clusters with its schema (the target's empty: DRS moves the structure
/// before the data; the lab does it here), seed the source, and name its service in the DNS
/// file. No replication yet.
pub async fn prepare_database(state: &LabState, db: &str, seed_rows: u32) -> Result<(), LabError> {
    let src = state.side(&state.source, "postgres");
    let tgt = state.side(&state.target, "postgres");
    for (side, name) in [(&src, "source"), (&tgt, "target")] {
        let mut c = side.connect_admin(name).await?;
        let exists: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(db)
            .fetch_one(&mut c)
            .await
            .map_err(|e| side.err(name, e))?;
        if exists == 0 {
            sqlx::query(&format!("CREATE DATABASE {}", pg::quote_ident(db)))
                .execute(&mut c)
                .await
                .map_err(|e| side.err(name, e))?;
        }
    }
    let src = state.side(&state.source, db);
    let tgt = state.side(&state.target, db);
    let mut s = src.connect_admin("source").await?;
    let fresh: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'orders'",
    )
    .fetch_one(&mut s)
    .await
    .map_err(|e| src.err("source", e))?;
    if fresh == 0 {
        exec_script(&mut s, SCHEMA)
            .await
            .map_err(|e| src.err("source", e))?;
        let customers = (seed_rows / 10).max(1);
        sqlx::query(
            "INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, $1) g",
        )
        .bind(customers as i32)
        .execute(&mut s)
        .await
        .map_err(|e| src.err("source", e))?;
        sqlx::query(
            "INSERT INTO orders (customer_id, amount, note) SELECT 1 + g % $2, (g % 997) * 1.25, \
             md5(g::text) FROM generate_series(1, $1) g",
        )
        .bind(seed_rows as i32)
        .bind(customers as i32)
        .execute(&mut s)
        .await
        .map_err(|e| src.err("source", e))?;
        let mut t = tgt.connect_admin("target").await?;
        exec_script(&mut t, SCHEMA)
            .await
            .map_err(|e| tgt.err("target", e))?;
    }
    let dns = state.dns_file();
    if dns
        .current(&LabState::dns_name(db))
        .map_err(|e| setup(&state.dir, e))?
        .is_none()
    {
        dns.set(&LabState::dns_name(db), &src.endpoint(), 5)
            .map_err(|e| setup(&state.dir, e))?;
    }
    Ok(())
}

/// Replicate `db` the lab's own way: target read-only for applications (as DRS does during
/// migration), publication on the source, subscription copying then streaming on the target.
pub async fn replicate(state: &LabState, db: &str) -> Result<(), LabError> {
    let src = state.side(&state.source, db);
    let tgt = state.side(&state.target, db);
    let mover = NativeMover::for_db(db);
    let mut s = src.connect_admin("source").await?;
    pg::create_publication(&mut s, &mover.publication)
        .await
        .map_err(|e| src.err("source", e))?;
    let mut t = tgt.connect_admin("target").await?;
    pg::set_db_read_only(&mut t, db, true)
        .await
        .map_err(|e| tgt.err("target", e))?;
    pg::create_subscription(
        &mut t,
        &mover.subscription,
        &src,
        &mover.publication,
        SubscriptionStart::CopyData,
    )
    .await
    .map_err(|e| tgt.err("target", e))?;
    Ok(())
}

/// Wait until every lab database streams changes (initial copy over, lag measured).
pub async fn wait_cdc(state: &LabState, db: &str, timeout: Duration) -> Result<pg::Lag, LabError> {
    let started = Instant::now();
    let src = state.side(&state.source, db);
    let tgt = state.side(&state.target, db);
    let mover = NativeMover::for_db(db);
    let mut s = src.connect_admin("source").await?;
    let mut t = tgt.connect_admin("target").await?;
    loop {
        let lag = pg::measure_lag(&mut s, &mut t, &mover.subscription, &mover.subscription)
            .await
            .map_err(|e| src.err("source", e))?;
        if lag.in_cdc() && lag.bytes == 0 {
            return Ok(lag);
        }
        if started.elapsed() > timeout {
            return Err(setup(
                &state.dir,
                format!(
                    "{db}: replication not streaming after {}s ({} of {} tables copied); see target.log",
                    timeout.as_secs(),
                    lag.subscriber.tables_total - lag.subscriber.tables_not_ready,
                    lag.subscriber.tables_total
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Create the clusters and the databases under `dir`, replicated by the lab itself. Fails if a
/// lab already lives there.
pub async fn up(
    dir: &Path,
    databases: &[String],
    seed_rows: u32,
    bin_dir: Option<&Path>,
) -> Result<LabState, LabError> {
    up_with(dir, databases, seed_rows, bin_dir, LabMover::Direct).await
}

/// Like [`up`], with the data moved by `mover` (with [`LabMover::Drs`] nothing replicates
/// until a DRS job starts).
pub async fn up_with(
    dir: &Path,
    databases: &[String],
    seed_rows: u32,
    bin_dir: Option<&Path>,
    mover: LabMover,
) -> Result<LabState, LabError> {
    if dir.join(STATE_FILE).exists() {
        return Err(setup(
            dir,
            "a lab already runs here; `wavedeck lab status` shows it, `wavedeck lab down` removes it",
        ));
    }
    for db in databases {
        if db.is_empty() || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(setup(
                dir,
                format!("database name {db:?}: use letters, digits and _ only"),
            ));
        }
    }
    let bin = find_bin_dir(bin_dir).map_err(|e| setup(dir, e))?;
    prepare_dir(dir)?;
    let dir = dir.canonicalize().map_err(|e| setup(dir, e))?;
    let source = init_cluster(&bin, &dir, "source")?;
    let target = match init_cluster(&bin, &dir, "target") {
        Ok(t) => t,
        Err(e) => {
            let _ = stop_cluster(&bin, &dir, &source);
            return Err(e);
        }
    };
    let state = LabState {
        dir: dir.clone(),
        bin_dir: bin,
        source,
        target,
        databases: databases.to_vec(),
        workload_pids: vec![],
        mover,
        emulator: None,
    };
    state.save()?;
    for db in databases {
        prepare_database(&state, db, seed_rows).await?;
    }
    if mover == LabMover::Direct {
        for db in databases {
            replicate(&state, db).await?;
        }
        for db in databases {
            wait_cdc(&state, db, Duration::from_secs(120)).await?;
        }
    }
    Ok(state)
}

/// Stop workloads and the emulator this lab started, stop both clusters, remove the directory.
pub fn down(state: &LabState) -> Result<(), LabError> {
    let emulator = state.emulator.iter().map(|e| e.pid);
    for pid in state.workload_pids.iter().map(|(_, p)| *p).chain(emulator) {
        // Only the pids `lab up` recorded, one by one.
        // SAFETY: kill with a pid we spawned and SIGTERM has no memory-safety preconditions.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    let a = stop_cluster(&state.bin_dir, &state.dir, &state.target);
    let b = stop_cluster(&state.bin_dir, &state.dir, &state.source);
    a?;
    b?;
    std::fs::remove_dir_all(&state.dir).map_err(|e| setup(&state.dir, e))
}

/// Back to a fresh replicating database `db` (after a cutover or a rollback) without a full
/// down/up: every replication object of it removed (forward and reverse), the database
/// dropped on both clusters and created, seeded and replicated again, the service name at the
/// source, the cutover journal moved aside. Other lab databases are not touched.
pub async fn reset(state: &LabState, db: &str, seed_rows: u32) -> Result<(), LabError> {
    if state.mover == LabMover::Drs {
        // The rehearsal's engine and DRS jobs own these databases; recreating one under them
        // would contradict the store.
        return Err(setup(
            &state.dir,
            "this lab rehearses with DRS jobs and the engine: reset it with `wavedeck lab down` \
             and `wavedeck lab up` (lab reset works on `lab up --direct` and MySQL labs)",
        ));
    }
    let mover = NativeMover::for_db(db);
    for (cluster, label) in [(&state.target, "target"), (&state.source, "source")] {
        let side = state.side(cluster, db);
        let Ok(mut c) = side.connect_admin(label).await else {
            continue; // the database is gone already
        };
        for sub in [&mover.subscription, &mover.reverse] {
            pg::drop_subscription(&mut c, sub)
                .await
                .map_err(|e| side.err(label, e))?;
        }
    }
    for (cluster, label) in [(&state.source, "source"), (&state.target, "target")] {
        let side = state.side(cluster, "postgres");
        let mut c = side.connect_admin(label).await?;
        // Slots of this database (a subscription dropped while its publisher was unreachable
        // leaves its slot behind).
        sqlx::query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE database = $1 AND NOT active",
        )
        .bind(db)
        .execute(&mut c)
        .await
        .map_err(|e| side.err(label, e))?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            pg::quote_ident(db)
        ))
        .execute(&mut c)
        .await
        .map_err(|e| side.err(label, e))?;
    }
    add_database(state, db, seed_rows).await?;
    state
        .dns_file()
        .set(
            &LabState::dns_name(db),
            &state.side(&state.source, db).endpoint(),
            5,
        )
        .map_err(|e| setup(&state.dir, e))?;
    wait_cdc(state, db, Duration::from_secs(120)).await?;
    super::journal_driver::Journal::new(state.journal_path(db))
        .move_aside()
        .map_err(|e| setup(&state.dir, e))?;
    Ok(())
}

/// A lab in a fresh temporary directory that tears itself down when dropped (tests, bench).
pub struct TempLab {
    pub state: LabState,
    root: PathBuf,
}

impl TempLab {
    pub async fn new(databases: &[String], seed_rows: u32) -> Result<TempLab, LabError> {
        TempLab::with_mover(databases, seed_rows, LabMover::Direct).await
    }

    /// A lab whose databases wait for DRS jobs to replicate them (native emulator tests).
    pub async fn unreplicated(databases: &[String], seed_rows: u32) -> Result<TempLab, LabError> {
        TempLab::with_mover(databases, seed_rows, LabMover::Drs).await
    }

    async fn with_mover(
        databases: &[String],
        seed_rows: u32,
        mover: LabMover,
    ) -> Result<TempLab, LabError> {
        let root = std::env::temp_dir().join(format!(
            "wavedeck-lab-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let dir = root.join("lab");
        match up_with(&dir, databases, seed_rows, None, mover).await {
            Ok(state) => Ok(TempLab { state, root }),
            Err(e) => {
                // Stop whatever half-built cluster is there before removing it.
                if let Ok(st) = LabState::load(&dir) {
                    let _ = stop_cluster(&st.bin_dir, &st.dir, &st.target);
                    let _ = stop_cluster(&st.bin_dir, &st.dir, &st.source);
                }
                let _ = std::fs::remove_dir_all(&root);
                Err(e)
            }
        }
    }
}

impl Drop for TempLab {
    fn drop(&mut self) {
        let _ = stop_cluster(&self.state.bin_dir, &self.state.dir, &self.state.target);
        let _ = stop_cluster(&self.state.bin_dir, &self.state.dir, &self.state.source);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_inventory_loads_and_points_at_the_lab() {
        let dir = std::env::temp_dir().join(format!("wd-labinv-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut st = state_for_test();
        st.dir = dir.clone();
        st.databases = vec!["pilot_pg_hr".into(), "extra_db".into()];
        let mut orig = st.spec("x");
        orig.db_id = "pilot-pg-hr".into();
        orig.owner = "team-hr".into();
        orig.overrides.max_cutover_lag_s = Some(3.0);
        let pw = password_file(&dir).unwrap();
        let entries = inventory_entries(&st, &[("pilot_pg_hr".into(), orig)], &pw);
        let path = write_inventory(&dir, entries).unwrap();
        let specs = crate::inventory::load_file(&path).unwrap_or_else(|p| {
            panic!(
                "{}",
                p.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].db_id, "pilot-pg-hr");
        assert_eq!(specs[0].owner, "team-hr");
        assert_eq!(specs[0].source.port, 1);
        assert_eq!(specs[0].target.port, 2);
        assert_eq!(specs[0].target.database, "pilot_pg_hr");
        assert_eq!(
            specs[0].extra.get("dns_name").and_then(|v| v.as_str()),
            Some("pilot_pg_hr.lab.internal")
        );
        assert_eq!(
            specs[0].source.password,
            SecretRef::File(dir.join("pg-password"))
        );
        assert_eq!(specs[0].overrides.max_cutover_lag_s, Some(3.0));
        assert_eq!(
            specs[0].extra["critical_tables"],
            serde_json::json!(["public.customers", "public.orders"])
        );
        assert_eq!(specs[1].db_id, "extra_db");
    }

    #[test]
    fn db_ids_become_lab_names() {
        assert_eq!(lab_db_name("pilot-pg-billing"), "pilot_pg_billing");
        assert_eq!(lab_db_name("Pay.Ledger-01"), "pay_ledger_01");
    }

    #[test]
    fn free_ports_are_loopback_and_nonzero() {
        let p = free_port().unwrap();
        assert!(p > 0);
    }

    fn state_for_test() -> LabState {
        LabState {
            dir: "/x".into(),
            bin_dir: "/b".into(),
            source: ClusterState {
                name: "source".into(),
                port: 1,
                data_dir: "/x/source".into(),
            },
            target: ClusterState {
                name: "target".into(),
                port: 2,
                data_dir: "/x/target".into(),
            },
            databases: vec!["a".into()],
            workload_pids: vec![("a".into(), 7)],
            mover: LabMover::Drs,
            emulator: Some(LabEmulator {
                pid: 9,
                listen: "127.0.0.1:1".into(),
            }),
        }
    }

    #[test]
    fn lab_state_round_trips() {
        let s = state_for_test();
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<LabState>(&j).unwrap(), s);
        assert_eq!(LabState::dns_name("a"), "a.lab.internal");
        assert_eq!(s.side(&s.target, "a").endpoint(), "127.0.0.1:2");
    }
}
