//! The MariaDB half of the replication lab: for each MySQL lab database a pair of throwaway
//! MariaDB servers on free loopback ports. The source writes a ROW/FULL binary log with GTIDs
//! (strict mode); the target is its GTID replica (replication connection
//! `NativeMover::subscription`, `read_only` on, as DRS keeps a target during migration) and logs
//! what it applies, so a rollback can replicate the target's writes back.
//!
//! One pair per database, not one pair for all: write fencing (`read_only`) is server-wide in
//! MySQL, so the cutover unit is the server; a shared pair would drain every lab database at once.
//!
//! Data directories come from one `mariadb-install-db` template per lab (copied, so a pair is
//! up in a couple of seconds and `lab reset` is cheap). State lives in `<dir>/lab-mysql.json`
//! next to the PostgreSQL lab's `lab.json`; both share the DNS file and the journals.

use super::postgres::{
    free_port, inventory_entry, is_root, run_tool, setup, LabEmulator, LabError, LabMover,
    LabState, DNS_FILE,
};
use crate::config::Config;
use crate::cutover::context::{CutoverCtx, NativeMover};
use crate::cutover::dns_provider::{write_atomic, Dns, FileDns};
use crate::cutover::mysql::ops::{self as my, My};
use crate::cutover::side::Side;
use crate::inventory::{DatabaseSpec, Endpoint, Engine};
use crate::secret::SecretRef;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const STATE_FILE: &str = "lab-mysql.json";
/// wavedeck's admin user: the lab trusts loopback, so no password.
pub const ADMIN_USER: &str = "root";
/// The applications' user: no READ_ONLY ADMIN, so `read_only` stops it as it stops a real
/// application. No password (loopback lab).
pub const APP_USER: &str = "app";
const OS_USER: &str = "mysql";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Instance {
    pub name: String,
    pub port: u16,
    pub server_id: u32,
    pub data_dir: PathBuf,
    /// A target standing in for one a real DRS job feeds ([`TempMyLab::playing_drs`]). DRS
    /// applies the source's changes as the target's own transactions, so the target's binary
    /// log never continues the source's GTIDs; MariaDB replication keeps the source's GTID on
    /// what it applies and cannot re-tag it, so this target keeps applied transactions out of
    /// its binary log (`log_slave_updates` off) and writes its own in GTID domain `server_id`.
    /// What wavedeck reads (`gtid_binlog_pos`) then shows no trace of the source's GTIDs, as
    /// under real DRS.
    #[serde(default)]
    pub drs_target: bool,
}

impl Instance {
    fn pid_file(&self) -> PathBuf {
        self.data_dir.join("mariadbd.pid")
    }

    pub fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// The source and target servers of one MySQL lab database.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MyPair {
    pub db: String,
    pub source: Instance,
    pub target: Instance,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MyLabState {
    pub dir: PathBuf,
    pub mariadbd: PathBuf,
    pub pairs: Vec<MyPair>,
    /// Workload processes started by `lab up` (pid per database).
    #[serde(default)]
    pub workload_pids: Vec<(String, u32)>,
    /// Who moves the data: the lab's own GTID replication, or DRS jobs of the emulator in
    /// native mode (the targets then start empty).
    #[serde(default)]
    pub mover: LabMover,
    /// The rehearsal's DRS emulator, when this half started it (a lab without PostgreSQL
    /// databases; otherwise `lab.json` holds it, so `lab down` stops it once).
    #[serde(default)]
    pub emulator: Option<LabEmulator>,
}

impl MyLabState {
    pub fn load(dir: &Path) -> Result<MyLabState, LabError> {
        let p = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            setup(
                dir,
                format!(
                    "no MySQL lab here ({}: {e}); run `wavedeck lab up --engine mysql` first",
                    p.display()
                ),
            )
        })?;
        serde_json::from_str(&text).map_err(|e| setup(dir, format!("{}: {e}", p.display())))
    }

    /// The state when `dir` holds a MySQL lab, `None` when it does not.
    pub fn load_if_any(dir: &Path) -> Result<Option<MyLabState>, LabError> {
        if dir.join(STATE_FILE).exists() {
            Self::load(dir).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn save(&self) -> Result<(), LabError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| setup(&self.dir, e))?;
        write_atomic(&self.dir.join(STATE_FILE), &text).map_err(|e| setup(&self.dir, e))
    }

    pub fn pair(&self, db: &str) -> Option<&MyPair> {
        self.pairs.iter().find(|p| p.db == db)
    }

    pub fn databases(&self) -> Vec<String> {
        self.pairs.iter().map(|p| p.db.clone()).collect()
    }

    fn pair_or_err(&self, db: &str) -> Result<&MyPair, LabError> {
        self.pair(db).ok_or_else(|| {
            setup(
                &self.dir,
                format!(
                    "{db} is not a MySQL lab database (the lab has: {})",
                    self.databases().join(", ")
                ),
            )
        })
    }

    /// wavedeck's admin view of one server of `db`.
    pub fn side(&self, inst: &Instance, db: &str) -> Side {
        Side::new("127.0.0.1", inst.port, ADMIN_USER, db)
    }

    /// The application's view (the workload's user): `read_only` applies to it.
    pub fn app_side(&self, inst: &Instance, db: &str) -> Side {
        Side::new("127.0.0.1", inst.port, APP_USER, db)
    }

    pub fn dns_file(&self) -> FileDns {
        FileDns::new(self.dir.join(DNS_FILE))
    }

    pub fn journal_path(&self, db: &str) -> PathBuf {
        self.dir.join(format!("cutover-{db}.jsonl"))
    }

    /// The lab database as an inventory entry (what the validation gate reads).
    pub fn spec(&self, db: &str) -> Option<DatabaseSpec> {
        let pair = self.pair(db)?;
        let ep = |i: &Instance| Endpoint {
            host: "127.0.0.1".into(),
            port: i.port,
            database: db.into(),
            user: ADMIN_USER.into(),
            password: SecretRef::File("/dev/null".into()),
        };
        Some(
            DatabaseSpec::new(db, Engine::Mysql, ep(&pair.source), ep(&pair.target))
                .with_version("10.11")
                .with_size_gb(0.1)
                .with_owner("lab")
                .with_window(super::LAB_WINDOW)
                .with_wave(Some(0))
                .with_tags(["lab", "mysql"]),
        )
    }

    /// The MySQL lab databases as inventory entries (see [`inventory_entry`]).
    pub fn inventory_entries(
        &self,
        from: &[(String, DatabaseSpec)],
        pw_file: &Path,
    ) -> Vec<serde_json::Value> {
        self.pairs
            .iter()
            .filter_map(|p| {
                let spec = self.spec(&p.db)?;
                Some(inventory_entry(
                    spec,
                    from,
                    &p.db,
                    pw_file,
                    &["customers", "orders"],
                ))
            })
            .collect()
    }

    /// The cutover context for one MySQL lab database, with thresholds from `cfg`.
    pub fn ctx(
        &self,
        db: &str,
        cfg: &Config,
        drain_grace: Duration,
    ) -> Result<CutoverCtx, LabError> {
        let pair = self.pair_or_err(db)?;
        let source = self.side(&pair.source, db);
        let target = self.side(&pair.target, db);
        let spec = self.spec(db).ok_or_else(|| setup(&self.dir, db))?;
        Ok(CutoverCtx {
            db_id: db.to_string(),
            engine: Engine::Mysql,
            dns_source_value: source.endpoint(),
            dns_target_value: target.endpoint(),
            source,
            target,
            mover: NativeMover::for_db(db).into(),
            dns: std::sync::Arc::new(Dns::File(self.dns_file())),
            dns_name: LabState::dns_name(db),
            dns_ttl_s: 5,
            drain_grace,
            sync_timeout: Duration::from_secs(cfg.cutover.final_sync_timeout_s),
            max_lag_s: cfg.thresholds.max_cutover_lag_s,
            checksum_tables: if cfg.cutover.checksum_tables.is_empty() {
                vec!["customers".into(), "orders".into()]
            } else {
                cfg.cutover.checksum_tables.clone()
            },
            validation: Some((spec, crate::validate::Runbook::builtin(Engine::Mysql))),
            blockers: vec![],
            hypercare_hours: cfg.thresholds.hypercare_hours,
            offline: false,
        })
    }
}

/// `mariadbd` (or `mysqld` from MariaDB) and `mariadb-install-db`.
pub fn find_binaries() -> Result<(PathBuf, PathBuf), String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = path
        .split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"].map(PathBuf::from))
        .collect();
    let find = |names: &[&str]| {
        dirs.iter()
            .flat_map(|d| names.iter().map(move |n| d.join(n)))
            .find(|p| p.exists())
    };
    let server = find(&["mariadbd"])
        .ok_or("mariadbd not found: install the MariaDB server (apt-get install mariadb-server)")?;
    let install = find(&["mariadb-install-db", "mysql_install_db"])
        .ok_or("mariadb-install-db not found: install the MariaDB server package")?;
    Ok((server, install))
}

fn chown_to_server_user(dir: &Path) -> Result<(), LabError> {
    if !is_root() {
        return Ok(());
    }
    let mut c = Command::new("chown");
    c.args(["-R", OS_USER]).arg(dir);
    run_tool(
        dir,
        c,
        &format!("giving {} to the {OS_USER} OS user (chown)", dir.display()),
    )?;
    Ok(())
}

/// A temporary directory of one server's own under `root`. Servers bootstrapped side by side
/// (parallel tests, several labs) sharing /tmp have been seen to delete each other's temporary
/// tables ("Error on delete of '/tmp/#sql-temptable-…'").
fn private_tmp(root: &Path, name: &str) -> Result<PathBuf, LabError> {
    let dir = root.join(format!("{name}.tmp"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| setup(root, format!("cannot create {}: {e}", dir.display())))?;
    chown_to_server_user(&dir)?;
    Ok(dir)
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(n).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Run `mariadb-install-db` once into `<dir>/mysql/template`; pairs start from copies.
fn install_template(install: &Path, root: &Path) -> Result<PathBuf, LabError> {
    let template = root.join("template");
    if template.join("mysql").exists() {
        return Ok(template);
    }
    let tmp = private_tmp(root, "install")?;
    let mut c = Command::new(install);
    c.arg("--no-defaults")
        .arg(format!("--datadir={}", template.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .args([
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--innodb-log-file-size=8M",
        ])
        .stdin(Stdio::null());
    if is_root() {
        c.arg(format!("--user={OS_USER}"));
    }
    run_tool(root, c, "mariadb-install-db")?;
    Ok(template)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), LabError> {
    let mut c = Command::new("cp");
    c.arg("-a").arg(from).arg(to);
    run_tool(to, c, "cp -a")
}

fn socket_path(port: u16) -> PathBuf {
    // Unix socket paths are limited to ~100 bytes; the lab directory may be deeper than that.
    std::env::temp_dir().join(format!("wavedeck-my-{port}.sock"))
}

/// Start `inst` and wait until it answers.
pub async fn start_instance(mariadbd: &Path, root: &Path, inst: &Instance) -> Result<(), LabError> {
    let log = root.join(format!("{}.err", inst.name));
    let tmp = private_tmp(root, &inst.name)?;
    let mut c = Command::new(mariadbd);
    c.arg("--no-defaults")
        .arg(format!("--datadir={}", inst.data_dir.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--port={}", inst.port))
        .arg(format!("--socket={}", socket_path(inst.port).display()))
        .arg(format!("--pid-file={}", inst.pid_file().display()))
        .arg(format!("--log-error={}", log.display()))
        .arg(format!("--server-id={}", inst.server_id))
        .args(match inst.drs_target {
            false => vec!["--log-slave-updates=ON".to_string()],
            true => vec![
                "--log-slave-updates=OFF".to_string(),
                format!("--gtid-domain-id={}", inst.server_id),
            ],
        })
        .args([
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--log-bin=binlog",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--gtid-strict-mode=ON",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0",
            "--performance-schema=OFF",
            "--max-connections=300",
            "--skip-slave-start",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if is_root() {
        c.arg(format!("--user={OS_USER}"));
    }
    // Its own process group: a Ctrl-C in the terminal that ran `lab up` must not stop it.
    use std::os::unix::process::CommandExt;
    c.process_group(0);
    let mut child = c
        .spawn()
        .map_err(|e| setup(root, format!("{}: cannot start: {e}", mariadbd.display())))?;
    let pid = child.id();
    // Reap it when it exits, so a stopped server does not linger as a zombie of this process.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    let side = Side::new("127.0.0.1", inst.port, ADMIN_USER, "mysql");
    let started = Instant::now();
    loop {
        if my::admin(&side, &inst.name).await.is_ok() {
            return Ok(());
        }
        if !alive(pid as i32) {
            return Err(setup(
                root,
                format!("mariadbd {} exited at start: {}", inst.name, tail(&log, 5)),
            ));
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(setup(
                root,
                format!(
                    "mariadbd {} not answering on port {} after 60 s: {}",
                    inst.name,
                    inst.port,
                    tail(&log, 5)
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0): look at its state too.
    // SAFETY: kill with signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    exists
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
}

/// Stop `inst` (SIGTERM to the pid it wrote, SIGKILL after 30 s) and wait until it is gone.
pub fn stop_instance(inst: &Instance) {
    let Some(pid) = inst.pid() else { return };
    if pid <= 1 || !alive(pid) {
        return;
    }
    // SAFETY: signalling the pid our server wrote into its own pid file.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > Duration::from_secs(30) {
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(inst.pid_file());
}

/// Schema of a MySQL lab database (created at the source; replication brings it to the target).
const SCHEMA: &[&str] = &[
    "CREATE TABLE customers (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL, \
     created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
    "CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL, \
     amount DECIMAL(12,2) NOT NULL, note VARCHAR(64), \
     created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
     FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB",
    "CREATE TABLE wd_workload (id BIGINT AUTO_INCREMENT PRIMARY KEY, client VARCHAR(64) NOT NULL, \
     seq BIGINT NOT NULL, written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
     KEY wd_workload_client_seq (client, seq)) ENGINE=InnoDB",
];

fn db_err(side: &Side, label: &str, e: impl std::fmt::Display) -> LabError {
    LabError::Pg(side.err(label, e))
}

/// Seed `db` at the source; with the lab's own mover, make the target a read-only GTID replica
/// of it and wait until it applied everything. With DRS as the mover the target only gets the
/// application's user (out of its binary log, so its GTIDs stay the source's once a DRS job
/// replicates) and an empty database; the job copies the tables.
async fn seed_and_replicate(
    state: &MyLabState,
    pair: &MyPair,
    seed_rows: u32,
) -> Result<(), LabError> {
    let db = &pair.db;
    let src = Side::new("127.0.0.1", pair.source.port, ADMIN_USER, "mysql");
    let mut s = my::admin(&src, "source").await?;
    let e = |e: sqlx::Error| db_err(&src, "source", e);
    let q = my::quote_ident(db);
    for stmt in [
        format!("CREATE DATABASE IF NOT EXISTS {q}"),
        format!("CREATE USER IF NOT EXISTS '{APP_USER}'@'%'"),
        format!("GRANT ALL PRIVILEGES ON {q}.* TO '{APP_USER}'@'%'"),
    ] {
        my::exec(&mut s.c, &stmt).await.map_err(e)?;
    }
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'orders'",
    )
    .bind(db)
    .fetch_one(&mut s.c)
    .await
    .map_err(e)?;
    if exists == 0 {
        my::exec(&mut s.c, &format!("USE {}", my::quote_ident(db)))
            .await
            .map_err(e)?;
        for stmt in SCHEMA {
            my::exec(&mut s.c, stmt).await.map_err(e)?;
        }
        let customers = (seed_rows / 10).max(1);
        my::exec(&mut s.c, "SET SESSION max_recursive_iterations = 100000000")
            .await
            .map_err(e)?;
        sqlx::query(
            "INSERT INTO customers (name) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL \
             SELECT n + 1 FROM g WHERE n < ?) SELECT CONCAT('customer ', n) FROM g",
        )
        .bind(customers)
        .execute(&mut s.c)
        .await
        .map_err(e)?;
        sqlx::query(
            "INSERT INTO orders (customer_id, amount, note) WITH RECURSIVE g(n) AS (SELECT 1 \
             UNION ALL SELECT n + 1 FROM g WHERE n < ?) SELECT 1 + n % ?, (n % 997) * 1.25, \
             MD5(n) FROM g",
        )
        .bind(seed_rows.max(1))
        .bind(customers)
        .execute(&mut s.c)
        .await
        .map_err(e)?;
    }
    let pos = s.gtid_pos().await.map_err(e)?;
    let tgt = Side::new("127.0.0.1", pair.target.port, ADMIN_USER, "mysql");
    let mut t = my::admin(&tgt, "target").await?;
    let dns = state.dns_file();
    let name = LabState::dns_name(db);
    if state.mover == LabMover::Drs {
        // The database itself exists empty, as on an RDS instance prepared for the job (the
        // pre-checks log in to it; the job's copy creates the tables).
        for stmt in [
            "SET SESSION sql_log_bin = 0".to_string(),
            format!("CREATE DATABASE IF NOT EXISTS {q}"),
            format!("CREATE USER IF NOT EXISTS '{APP_USER}'@'%'"),
            format!("GRANT ALL PRIVILEGES ON {q}.* TO '{APP_USER}'@'%'"),
        ] {
            my::exec(&mut t.c, &stmt)
                .await
                .map_err(|e| db_err(&tgt, "target", e))?;
        }
        dns.set(&name, &format!("127.0.0.1:{}", pair.source.port), 5)
            .map_err(|e| setup(&state.dir, e))?;
        return Ok(());
    }
    t.set_fence(true)
        .await
        .map_err(|e| db_err(&tgt, "target", e))?;
    let mover = NativeMover::for_db(db);
    // The replica starts from the beginning of the source's binary log: the servers come from
    // the same template, so everything since is in that log. A target standing in for a DRS
    // one reaches the source as `127.1` (the same address written short): wavedeck, looking for
    // a replication connection at the source's host and port, finds none, as under real DRS.
    let from = match pair.target.drs_target {
        false => src.clone(),
        true => Side::new("127.1", pair.source.port, ADMIN_USER, "mysql"),
    };
    t.replicate_from(&mover.subscription, &from, Some(""))
        .await
        .map_err(|e| db_err(&tgt, "target", e))?;
    t.wait_applied(&pos, &mover.subscription, Duration::from_secs(120))
        .await
        .map_err(|e| db_err(&tgt, "target", e))?;
    dns.set(&name, &format!("127.0.0.1:{}", pair.source.port), 5)
        .map_err(|e| setup(&state.dir, e))?;
    Ok(())
}

fn mysql_root(dir: &Path) -> PathBuf {
    dir.join("mysql")
}

/// Fresh data directories for `pair` from the template, servers started, seeded, replicating.
async fn build_pair(
    state: &MyLabState,
    template: &Path,
    pair: &MyPair,
    seed_rows: u32,
) -> Result<(), LabError> {
    let root = mysql_root(&state.dir);
    for inst in [&pair.source, &pair.target] {
        let _ = std::fs::remove_dir_all(&inst.data_dir);
        copy_dir(template, &inst.data_dir)?;
        start_instance(&state.mariadbd, &root, inst).await?;
    }
    seed_and_replicate(state, pair, seed_rows).await
}

fn new_pair(root: &Path, db: &str, drs_target: bool) -> Result<MyPair, LabError> {
    let inst = |role: &str, server_id: u32| -> Result<Instance, LabError> {
        Ok(Instance {
            name: format!("{db}-{role}"),
            port: free_port().map_err(|e| setup(root, e))?,
            server_id,
            data_dir: root.join(format!("{db}-{role}")),
            drs_target: false,
        })
    };
    let source = inst("source", 1)?;
    let mut target = inst("target", 2)?;
    target.drs_target = drs_target;
    // free_port gives the port back before the server binds it: do not hand out the same twice.
    while target.port == source.port {
        target.port = free_port().map_err(|e| setup(root, e))?;
    }
    Ok(MyPair {
        db: db.into(),
        source,
        target,
    })
}

/// Create a MariaDB pair per database under `<dir>/mysql` and replicate each. Fails if a MySQL
/// lab already lives in `dir`. On failure, whatever started is stopped again.
pub async fn up(dir: &Path, databases: &[String], seed_rows: u32) -> Result<MyLabState, LabError> {
    up_with(dir, databases, seed_rows, LabMover::Direct).await
}

/// Like [`up`], with the data moved by `mover` (with [`LabMover::Drs`] the targets stay empty
/// until a DRS job copies and replicates them).
pub async fn up_with(
    dir: &Path,
    databases: &[String],
    seed_rows: u32,
    mover: LabMover,
) -> Result<MyLabState, LabError> {
    up_inner(dir, databases, seed_rows, mover, false).await
}

async fn up_inner(
    dir: &Path,
    databases: &[String],
    seed_rows: u32,
    mover: LabMover,
    drs_targets: bool,
) -> Result<MyLabState, LabError> {
    if dir.join(STATE_FILE).exists() {
        return Err(setup(
            dir,
            "a MySQL lab already runs here; `wavedeck lab status` shows it, `wavedeck lab down` removes it",
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
    let (mariadbd, install) = find_binaries().map_err(|e| setup(dir, e))?;
    std::fs::create_dir_all(dir).map_err(|e| setup(dir, e))?;
    let dir = dir.canonicalize().map_err(|e| setup(dir, e))?;
    let root = mysql_root(&dir);
    std::fs::create_dir_all(&root).map_err(|e| setup(&root, e))?;
    chown_to_server_user(&root)?;
    let template = install_template(&install, &root)?;
    let mut state = MyLabState {
        dir: dir.clone(),
        mariadbd,
        pairs: vec![],
        workload_pids: vec![],
        mover,
        emulator: None,
    };
    for db in databases {
        state.pairs.push(new_pair(&root, db, drs_targets)?);
    }
    // Saved before anything starts, so `lab down` (and a failed `up`) can find every server.
    state.save()?;
    for pair in &state.pairs {
        if let Err(e) = build_pair(&state, &template, pair, seed_rows).await {
            stop_all(&state);
            return Err(e);
        }
    }
    Ok(state)
}

fn stop_all(state: &MyLabState) {
    for p in &state.pairs {
        stop_instance(&p.target);
        stop_instance(&p.source);
    }
}

/// Back to a fresh replicating pair for `db`: both servers stopped, their data replaced by the
/// template, seeded and replicating again, the service name at the source, the cutover journal
/// moved aside (`.jsonl.reset-<time>`). Other databases of the lab are not touched.
pub async fn reset(state: &MyLabState, db: &str, seed_rows: u32) -> Result<(), LabError> {
    if state.mover == LabMover::Drs {
        // The rehearsal's engine and DRS jobs own these servers; rebuilding one under them
        // would contradict the store.
        return Err(setup(
            &state.dir,
            "this lab rehearses with DRS jobs and the engine: reset it with `wavedeck lab down` \
             and `wavedeck lab up` (lab reset works on `lab up --direct`)",
        ));
    }
    let pair = state.pair_or_err(db)?.clone();
    stop_instance(&pair.target);
    stop_instance(&pair.source);
    let template = mysql_root(&state.dir).join("template");
    build_pair(state, &template, &pair, seed_rows).await?;
    super::journal_driver::Journal::new(state.journal_path(db))
        .move_aside()
        .map_err(|e| setup(&state.dir, e))?;
    Ok(())
}

/// Stop the workloads `lab up` started and every server, remove `<dir>/mysql` and the state
/// file (the directory itself stays: the PostgreSQL lab may live there too).
pub fn down(state: &MyLabState) -> Result<(), LabError> {
    let emulator = state.emulator.iter().map(|e| e.pid);
    for pid in state.workload_pids.iter().map(|(_, p)| *p).chain(emulator) {
        // Only the pids `lab up` recorded, one by one.
        // SAFETY: kill with a pid we spawned and SIGTERM has no memory-safety preconditions.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    stop_all(state);
    let root = mysql_root(&state.dir);
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| setup(&root, e))?;
    }
    let _ = std::fs::remove_file(state.dir.join(STATE_FILE));
    Ok(())
}

/// Replication of one lab database as `lab status` shows it.
pub async fn lag(state: &MyLabState, db: &str) -> Result<my::MyLag, String> {
    let pair = state
        .pair(db)
        .ok_or_else(|| format!("{db}: no such MySQL lab database"))?;
    let mut s = my::admin(&state.side(&pair.source, db), "source")
        .await
        .map_err(|e| e.to_string())?;
    let mut t = my::admin(&state.side(&pair.target, db), "target")
        .await
        .map_err(|e| e.to_string())?;
    my::measure_lag(&mut s, &mut t, &NativeMover::for_db(db).subscription).await
}

/// An admin session on a lab server (tests, status).
pub async fn admin(state: &MyLabState, inst: &Instance, db: &str) -> Result<My, LabError> {
    Ok(my::admin(&state.side(inst, db), &inst.name).await?)
}

/// A MySQL lab in a fresh temporary directory that stops its servers and removes itself when
/// dropped, also when a test fails half-way.
pub struct TempMyLab {
    pub state: MyLabState,
    root: PathBuf,
}

impl TempMyLab {
    pub async fn new(databases: &[String], seed_rows: u32) -> Result<TempMyLab, LabError> {
        TempMyLab::with_mover(databases, seed_rows, LabMover::Direct).await
    }

    /// A lab whose targets wait for DRS jobs to copy and replicate them (native emulator tests).
    pub async fn unreplicated(databases: &[String], seed_rows: u32) -> Result<TempMyLab, LabError> {
        TempMyLab::with_mover(databases, seed_rows, LabMover::Drs).await
    }

    /// A lab whose replication stands in for real DRS jobs as the servers show them: hidden
    /// from wavedeck (the source reached as `127.1`), the targets' binary logs holding only
    /// their own transactions under their own GTID domain ([`Instance::drs_target`]).
    pub async fn playing_drs(databases: &[String], seed_rows: u32) -> Result<TempMyLab, LabError> {
        TempMyLab::build(databases, seed_rows, LabMover::Direct, true).await
    }

    async fn with_mover(
        databases: &[String],
        seed_rows: u32,
        mover: LabMover,
    ) -> Result<TempMyLab, LabError> {
        TempMyLab::build(databases, seed_rows, mover, false).await
    }

    async fn build(
        databases: &[String],
        seed_rows: u32,
        mover: LabMover,
        drs_targets: bool,
    ) -> Result<TempMyLab, LabError> {
        let root = std::env::temp_dir().join(format!(
            "wavedeck-mylab-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let dir = root.join("lab");
        match up_inner(&dir, databases, seed_rows, mover, drs_targets).await {
            Ok(state) => Ok(TempMyLab { state, root }),
            Err(e) => {
                if let Ok(st) = MyLabState::load(&dir) {
                    stop_all(&st);
                }
                let _ = std::fs::remove_dir_all(&root);
                Err(e)
            }
        }
    }
}

impl Drop for TempMyLab {
    fn drop(&mut self) {
        stop_all(&self.state);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_names_sides() {
        let st = MyLabState {
            dir: "/x".into(),
            mariadbd: "/usr/sbin/mariadbd".into(),
            pairs: vec![MyPair {
                db: "shop".into(),
                source: Instance {
                    name: "shop-source".into(),
                    port: 1,
                    server_id: 1,
                    data_dir: "/x/mysql/shop-source".into(),
                    drs_target: false,
                },
                target: Instance {
                    name: "shop-target".into(),
                    port: 2,
                    server_id: 2,
                    data_dir: "/x/mysql/shop-target".into(),
                    drs_target: true,
                },
            }],
            workload_pids: vec![],
            mover: LabMover::Direct,
            emulator: None,
        };
        let j = serde_json::to_string(&st).unwrap();
        assert_eq!(serde_json::from_str::<MyLabState>(&j).unwrap(), st);
        let p = st.pair("shop").unwrap();
        assert_eq!(st.side(&p.target, "shop").endpoint(), "127.0.0.1:2");
        assert_eq!(st.app_side(&p.source, "shop").user, APP_USER);
        let ctx = st
            .ctx("shop", &Config::default(), Duration::from_secs(1))
            .unwrap();
        assert_eq!(ctx.engine, Engine::Mysql);
        assert_eq!(ctx.mover.reverse(), "wd_rev_shop");
        assert_eq!(ctx.checksum_tables, vec!["customers", "orders"]);
        assert!(st
            .ctx("nope", &Config::default(), Duration::from_secs(1))
            .is_err());
        assert_eq!(st.spec("shop").unwrap().engine, Engine::Mysql);
    }

    #[test]
    fn sockets_stay_short() {
        assert!(socket_path(65535).as_os_str().len() < 100);
    }
}
