//! The rehearsal as a new user runs it, with the real binaries and the lab's default write
//! workload: `wavedeck lab up` (databases waiting for DRS, the emulator in native mode, the
//! workload writing, the rehearsal config and store), then `wavedeck --config <lab>/wavedeck.yaml
//! run`; the operator's approve, start and cutover are the command-line commands. The live
//! validation gate, tied to the replication's position, lets the database reach `ready` while
//! the workload writes; every write the workload saw acknowledged is on the target once. A
//! target row changed behind replication's back is found, named and keeps the database from
//! `ready`. `wavedeck lab down` then leaves no process behind. A MySQL database (a MariaDB
//! pair, its DRS job the emulator's native MySQL job) is rehearsed the same way, and the whole
//! pilot wave (both engines from one `lab.inventory`) comes up in one store, `lab status`
//! showing every DRS job.

mod common;

use common::cutover_rig::ok_detail;
use common::*;
use sqlx::Executor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wavedeck::config::Config;
use wavedeck::cutover::mysql::ops as my;
use wavedeck::cutover::side::Side;
use wavedeck::lifecycle::Stage;
use wavedeck::rehearsal::lab::mariadb::{self as mylab, MyLabState};
use wavedeck::rehearsal::lab::postgres::{self as lab, LabState};
use wavedeck::rehearsal::lab::workload::{self, WorkloadStats};
use wavedeck::store::{kind, Event, Store};

/// The real binary, without the caller's DRS keys: the lab's credentials file must be enough.
fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wavedeck"));
    c.current_dir(dir)
        .env_remove("HUAWEICLOUD_SDK_AK")
        .env_remove("HUAWEICLOUD_SDK_SK")
        .env_remove("WAVEDECK_STORE")
        .env_remove("WAVEDECK_FAULT_STALL_AT")
        .stdin(Stdio::null());
    c
}

/// Takes the lab down even when an assertion failed half-way.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        if let Ok(Some(st)) = MyLabState::load_if_any(&self.0) {
            let _ = mylab::down(&st);
        }
        if let Ok(st) = LabState::load(&self.0) {
            let _ = lab::down(&st);
        }
    }
}

/// The process exists and is not a zombie (the emulator's parent, `lab up`, exited long ago).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// A lab brought up as the README says (the workload on), its config made quicker than an
/// operator's defaults (same steps), its store and the engine (`wavedeck run`) started.
struct Rehearsal {
    // Fields drop in this order: the engine stops, then the lab goes down (it reads the lab's
    // state file for the emulator's and workload's pids), and only then is the directory
    // holding that file removed. With `tmp` first, `lab down` found no state and the emulator
    // of every rehearsal outlived the test.
    engine: Option<Reap>,
    _down: Down,
    store: Store,
    /// The PostgreSQL half (clusters) and the MySQL half (MariaDB pairs), as `lab up` built them.
    st: Option<LabState>,
    my: Option<MyLabState>,
    lab_dir: PathBuf,
    cfg_path: PathBuf,
    tmp: tempfile::TempDir,
}

impl Rehearsal {
    /// `wavedeck lab up --seed-rows 20000 <args>` in a fresh directory.
    async fn up(args: &[&str]) -> Rehearsal {
        Rehearsal::up_in(tempfile::tempdir().unwrap(), &[], args).await
    }

    /// `wavedeck <global> lab up --seed-rows 20000 <args>` in `tmp`.
    async fn up_in(tmp: tempfile::TempDir, global: &[&str], args: &[&str]) -> Rehearsal {
        let lab_dir = tmp.path().join("lab");
        let out = bin(tmp.path())
            .args(global)
            .args(["lab", "up", "--seed-rows", "20000"])
            .args(args)
            .arg("--dir")
            .arg(&lab_dir)
            .output()
            .unwrap();
        let down = Down(lab_dir.clone());
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "lab up failed:\n{text}");
        assert!(text.contains("rehearse: wavedeck --config"), "{text}");
        let st = lab_dir
            .join(lab::STATE_FILE)
            .exists()
            .then(|| LabState::load(&lab_dir).unwrap());
        let my = MyLabState::load_if_any(&lab_dir).unwrap();
        let dbs =
            st.as_ref().map_or(0, |s| s.databases.len()) + my.as_ref().map_or(0, |s| s.pairs.len());
        let workloads = st.as_ref().map_or(0, |s| s.workload_pids.len())
            + my.as_ref().map_or(0, |s| s.workload_pids.len());
        assert_eq!(workloads, dbs, "lab up starts a workload per database");
        // The tables the final quick validation checksums come from the lab inventory, each
        // database's in its engine's spelling: nothing to set here for a lab of both engines.
        let cfg_path = lab_dir.join("wavedeck.yaml");
        let mut cfg = Config::load(Some(&cfg_path)).unwrap();
        cfg.engine.lag_stable_s = 5.0;
        cfg.thresholds.drain_grace_s = 1;
        std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
        let store = Store::open_existing(&cfg.store).await.unwrap();
        let log = std::fs::File::create(tmp.path().join("engine.log")).unwrap();
        let engine = Reap(
            bin(tmp.path())
                .arg("--config")
                .arg(&cfg_path)
                .arg("run")
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        wait_lease(&store, true, Duration::from_secs(30)).await;
        Rehearsal {
            engine: Some(engine),
            _down: down,
            store,
            st,
            my,
            lab_dir,
            cfg_path,
            tmp,
        }
    }

    /// An operator command through the command line: (exit code, what it printed).
    fn act(&self, args: &[&str]) -> (i32, String) {
        let out = bin(self.tmp.path())
            .arg("--config")
            .arg(&self.cfg_path)
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }

    /// Stop the lab's workload process and read every write it saw acknowledged.
    fn stop_workload(&self, db: &str) -> WorkloadStats {
        let pid = self
            .st
            .iter()
            .flat_map(|s| s.workload_pids.iter())
            .chain(self.my.iter().flat_map(|s| s.workload_pids.iter()))
            .find(|(d, _)| d == db)
            .expect("a workload for the database")
            .1;
        // SAFETY: kill(2) on the pid `lab up` recorded for the workload it spawned.
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
        let file = workload::acks_file(&self.lab_dir, db);
        let t0 = Instant::now();
        while alive(pid) || !file.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "the workload did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap()
    }

    /// The workload's figures as `lab workload` writes them every half second.
    fn workload_figures(&self, db: &str) -> serde_json::Value {
        std::fs::read(workload::figures_file(&self.lab_dir, db))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// wavedeck's (admin) view of a MySQL database's source and target.
    fn my_sides(&self, db: &str) -> (Side, Side) {
        let my = self.my.as_ref().unwrap();
        let pair = my.pair(db).unwrap();
        (my.side(&pair.source, db), my.side(&pair.target, db))
    }

    /// The emulator `lab up` started, from whichever half recorded it.
    fn emulator_pid(&self) -> u32 {
        self.st
            .as_ref()
            .and_then(|s| s.emulator.as_ref())
            .or(self.my.as_ref().and_then(|s| s.emulator.as_ref()))
            .expect("lab up records its emulator")
            .pid
    }

    /// `approve wave-0` and `start wave-0` by command, then every database `ready`; a
    /// database that fails instead fails the test with its pre-check and validation reports.
    async fn start_to_ready(&self) -> Vec<Event> {
        self.start_to(Stage::Ready).await
    }

    /// `approve wave-0` and `start wave-0`, then every database at `stage` (`ready`, or
    /// `ready_offline` for databases that move offline).
    async fn start_to(&self, stage: Stage) -> Vec<Event> {
        let (code, out) = self.act(&["approve", "wave-0"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("accepted: approve wave-0"), "{out}");
        let (code, out) = self.act(&["start", "wave-0"]);
        assert_eq!(code, 0, "{out}");
        let states = wait_for(&self.store, stage.as_str(), Duration::from_secs(240), |s| {
            s.iter()
                .all(|d| d.stage == stage || d.stage == Stage::Failed)
        })
        .await;
        let events = all_events(&self.store).await;
        if states.iter().any(|d| d.stage == Stage::Failed) {
            let why: Vec<&serde_json::Value> = events
                .iter()
                .filter(|e| e.kind == kind::DB_PRECHECK || e.kind == kind::DB_VALIDATION)
                .map(|e| &e.payload)
                .collect();
            panic!("a database failed: {states:#?}\n{why:#?}");
        }
        events
    }

    /// `cutover <db> --confirm <db>` by command until the lag allows it, then hypercare, and
    /// the workload writing at `target`.
    async fn cut_over_by_command(&self, db: &str, target: &Side) {
        let mut accepted = false;
        for _ in 0..50 {
            let (code, out) = self.act(&["cutover", db, "--confirm", db]);
            if code == 0 {
                accepted = true;
                break;
            }
            assert_eq!(code, 3, "{out}");
            assert!(out.contains("lag"), "cutover refused: {out}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(accepted, "cutover refused 50 times");
        wait_for(&self.store, "hypercare", Duration::from_secs(180), |s| {
            s.iter().all(|d| d.stage == Stage::Hypercare)
        })
        .await;
        self.wait_workload_at(db, target).await;
    }

    /// The workload follows the service name to `side` and has written there for a second.
    async fn wait_workload_at(&self, db: &str, side: &Side) {
        let t0 = Instant::now();
        while self.workload_figures(db)["endpoint"] != side.endpoint().as_str() {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the workload never reached {}",
                side.endpoint()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    /// The engine stopped, then `wavedeck lab down`: the emulator is gone, and so is the lab.
    async fn down_by_command(mut self) {
        let emulator_pid = self.emulator_pid();
        self.stop_engine().await;
        let out = bin(self.tmp.path())
            .args(["lab", "down", "--dir"])
            .arg(&self.lab_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            !alive(emulator_pid)
        });
        assert!(gone, "lab down left the emulator running");
        assert!(!self.lab_dir.exists());
        self.finish().await;
    }

    async fn stop_engine(&mut self) {
        if let Some(e) = self.engine.take() {
            stop_engine(&self.store, e).await;
        }
    }

    async fn finish(mut self) {
        self.stop_engine().await;
        self.store.close().await;
    }
}

fn stage_entries<'a>(events: &'a [Event], db: &str, to: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| {
            e.kind == kind::DB_STAGE && e.db_id.as_deref() == Some(db) && e.payload["to"] == to
        })
        .collect()
}

fn sql_reports(events: &[Event], db: &str) -> Vec<serde_json::Value> {
    events
        .iter()
        .filter(|e| e.kind == kind::DB_VALIDATION && e.db_id.as_deref() == Some(db))
        .map(|e| e.payload["detail"]["sql"].clone())
        .collect()
}

/// The report of `table` in a validation report.
fn table_report<'a>(gate: &'a serde_json::Value, table: &str) -> &'a serde_json::Value {
    gate["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("{table} is not compared: {gate:#}"))
}

/// `db`'s last live validation found the row the test changed behind replication's back
/// (`table`'s id 777, its amount), at a named position, and nothing else.
fn assert_only_the_seeded_row_differs(events: &[Event], db: &str, table: &str) {
    let reports = sql_reports(events, db);
    let gate = reports.last().expect("a validation report");
    assert_eq!(gate["mode"], "live", "{gate:#}");
    let seeded = table_report(gate, table);
    let diffs = seeded["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{seeded:#}");
    assert_eq!(diffs[0]["key"], "id=777", "{seeded:#}");
    assert_eq!(
        diffs[0]["columns"],
        serde_json::json!(["amount"]),
        "{seeded:#}"
    );
    assert!(seeded["compared_at"].as_str().is_some(), "{seeded:#}");
    let others: Vec<&serde_json::Value> = gate["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["table"] != table && t["passed"] != true)
        .collect();
    assert!(
        others.is_empty(),
        "false alarms beside the seeded row: {others:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehearsal_under_the_default_workload_reaches_ready_and_cuts_over_by_command() {
    let db = "rehearse";
    let mut r = Rehearsal::up(&["--db", db]).await;
    let st = r.st.clone().unwrap();
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);

    let events = r.start_to_ready().await;
    // Ready on the first validation, with the workload writing: no failure, no retry.
    assert!(stage_entries(&events, db, "failed").is_empty());
    let retried: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == kind::STEP_OUTCOME && e.payload["ok"] == false)
        .collect();
    assert!(
        retried.is_empty(),
        "steps failed and were retried: {retried:#?}"
    );
    let reports = sql_reports(&events, db);
    assert_eq!(reports.len(), 1, "one validation: {reports:#?}");
    let gate = &reports[0];
    assert_eq!(gate["mode"], "live", "{gate:#}");
    let wl = table_report(gate, "public.wd_workload");
    assert!(wl["rows_source"].as_u64().unwrap() > 0, "{wl:#}");
    assert!(
        wl["compared_at"].as_str().unwrap_or("").starts_with("lsn "),
        "the position is named: {wl:#}"
    );
    let moving = r.workload_figures(db)["acked"].as_u64().unwrap_or(0);
    assert!(moving > 100, "the workload writes during the rehearsal");

    // The typed confirmation is required, as in the cockpit; nothing is written without it.
    let before = r.store.recent_commands(1).await.unwrap()[0].id;
    let (code, out) = r.act(&["cutover", db]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("--confirm {db}")), "{out}");
    assert_eq!(r.store.recent_commands(1).await.unwrap()[0].id, before);
    // A command the guards refuse exits 3 with the engine's reason.
    let (code, out) = r.act(&["close", db]);
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with(&format!("rejected: close {db}")), "{out}");

    r.cut_over_by_command(db, &target).await;
    let stats = r.stop_workload(db);
    assert!(stats.acks.iter().any(|a| a.endpoint == target.endpoint()));
    assert_all_acked_once(&target, &stats).await;
    assert!(
        read_only(&source).await,
        "the source stays read-only in hypercare"
    );
    assert!(!read_only(&target).await, "the target takes writes");
    let mut s = source.connect_admin("check").await.unwrap();
    let slots: Vec<String> = sqlx::query_scalar("SELECT slot_name::text FROM pg_replication_slots")
        .fetch_all(&mut s)
        .await
        .unwrap();
    assert!(slots.is_empty(), "slots left on the source: {slots:?}");
    eprintln!(
        "rehearsal: write unavailability {:.0} ms ({} writes acknowledged)",
        workload::unavailability_ms(&stats.acks, &source.endpoint(), &target.endpoint())
            .unwrap_or(f64::NAN),
        stats.acks.len()
    );

    // No engine to decide: the command stays pending and the command line says so (exit 4).
    r.stop_engine().await;
    let (code, out) = r.act(&["close", db, "--timeout", "1", "--json"]);
    assert_eq!(code, 4, "{out}");
    let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["status"], "pending", "{v}");
    assert_eq!(v["action"], "close_hypercare", "{v}");
    r.down_by_command().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_row_changed_under_the_workload_is_found_and_keeps_the_database_from_ready() {
    let db = "seeded";
    let r = Rehearsal::up(&["--db", db]).await;
    let st = r.st.as_ref().unwrap();
    let target = st.side(&st.target, db);
    let (code, out) = r.act(&["start", "wave-0"]);
    assert_eq!(code, 0, "{out}");
    // As soon as replication has copied the row, change it on the target behind its back.
    let mut t = target.connect_admin("seed").await.unwrap();
    let t0 = Instant::now();
    loop {
        let there: Option<i64> = sqlx::query_scalar("SELECT id FROM orders WHERE id = 777")
            .fetch_optional(&mut t)
            .await
            .unwrap_or(None);
        if there.is_some() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "orders never copied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.execute("BEGIN READ WRITE; UPDATE orders SET amount = amount + 1 WHERE id = 777; COMMIT")
        .await
        .unwrap();
    let states = wait_for(&r.store, "failed", Duration::from_secs(240), |s| {
        assert!(
            s.iter().all(|d| d.stage != Stage::Ready),
            "reached ready with a difference: {s:#?}"
        );
        s.iter().all(|d| d.stage == Stage::Failed)
    })
    .await;
    assert_eq!(states[0].held_stage, Some(Stage::Validation), "{states:#?}");
    assert_only_the_seeded_row_differs(&all_events(&r.store).await, db, "public.orders");
    r.stop_workload(db);
    r.finish().await;
}

/// `wavedeck lab status --json` of the rehearsal's lab.
fn lab_status(r: &Rehearsal) -> serde_json::Value {
    let (code, out) = r.act(&["lab", "status", "--json"]);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The transfer status DRS reports for a database in `lab status --json` (`None`: no job yet).
fn drs_status(item: &serde_json::Value) -> Option<String> {
    item["drs_job"]["progress"]["transfer_status"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_database_rehearses_under_its_workload_cuts_over_and_rolls_back_by_command() {
    let db = "myrehearse";
    let r = Rehearsal::up(&["--engine", "mysql", "--db", db]).await;
    assert!(
        r.st.is_none(),
        "--engine mysql builds no PostgreSQL clusters"
    );
    let (source, target) = r.my_sides(db);

    let events = r.start_to_ready().await;
    assert!(stage_entries(&events, db, "failed").is_empty());
    let reports = sql_reports(&events, db);
    assert_eq!(reports.len(), 1, "one validation: {reports:#?}");
    let gate = &reports[0];
    assert_eq!(gate["mode"], "live", "{gate:#}");
    let wl = table_report(gate, "wd_workload");
    assert!(wl["rows_source"].as_u64().unwrap() > 0, "{wl:#}");
    assert!(
        wl["compared_at"]
            .as_str()
            .unwrap_or("")
            .starts_with("gtid "),
        "the GTID position is named: {wl:#}"
    );
    // `lab status`: the servers' replication (the job's, on the target) and DRS's report of it.
    let status = lab_status(&r);
    let item = &status["mysql"][0];
    assert_eq!(item["db"], db, "{status:#}");
    assert_eq!(
        drs_status(item).as_deref(),
        Some("INCRE_TRANSFER_STARTED"),
        "{status:#}"
    );
    assert_eq!(
        item["transfer_status"], "INCRE_TRANSFER_STARTED",
        "{status:#}"
    );
    let (code, text) = r.act(&["lab", "status"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("DRS job") && l.contains("INCRE_TRANSFER_STARTED")),
        "{text}"
    );

    r.cut_over_by_command(db, &target).await;
    let mut s = my::admin(&source, "check").await.unwrap();
    let mut t = my::admin(&target, "check").await.unwrap();
    assert!(
        s.fenced().await.unwrap(),
        "the source stays fenced in hypercare"
    );
    assert!(!t.fenced().await.unwrap(), "the target takes writes");
    assert!(
        t.replicas().await.unwrap().is_empty(),
        "the terminated job left replication on the target"
    );
    // Beside the workload's, a write of the application's own at the target, through
    // AUTO_INCREMENT: it must come back too.
    let lab = r.my.as_ref().unwrap();
    let pair = lab.pair(db).unwrap();
    let mut app = my::app(&lab.app_side(&pair.target, db)).await.unwrap();
    sqlx::query(
        "INSERT INTO orders (customer_id, amount, note) VALUES (1, 42.00, 'at the target')",
    )
    .execute(&mut app)
    .await
    .unwrap();
    drop(app);
    let at_target = "SELECT COUNT(*) FROM orders WHERE note = 'at the target'";

    let (code, out) = r.act(&["rollback", db, "--confirm", db]);
    assert_eq!(code, 0, "{out}");
    wait_for(&r.store, "rolled back", Duration::from_secs(180), |s| {
        assert!(
            s.iter().all(|d| d.stage != Stage::Failed),
            "the rollback failed: {s:#?}"
        );
        s.iter().all(|d| d.stage == Stage::RolledBack)
    })
    .await;
    r.wait_workload_at(db, &source).await;
    let stats = r.stop_workload(db);
    // The workload wrote at the source, then at the target, then at the source again.
    let target_acks = || stats.acks.iter().map(|a| a.endpoint == target.endpoint());
    let first_t = target_acks().position(|t| t).expect("writes at the target");
    let last_t = target_acks().rposition(|t| t).unwrap();
    let source_acks = |r: &[workload::Ack]| r.iter().any(|a| a.endpoint == source.endpoint());
    assert!(
        source_acks(&stats.acks[..first_t]),
        "no write before the cutover"
    );
    assert!(
        source_acks(&stats.acks[last_t..]),
        "no write after the rollback"
    );
    assert!(
        last_t - first_t > 50,
        "too few writes at the target: {}",
        last_t - first_t
    );
    // Every acknowledged write, the target's among them, is on the source once; the drained
    // target holds each one it had acknowledged by then once too.
    assert_audit_clean(&workload::audit_my(&mut s.c, &stats).await.unwrap());
    let until_rollback = WorkloadStats {
        acks: stats.acks[..=last_t].to_vec(),
        ..stats.clone()
    };
    assert_audit_clean(&workload::audit_my(&mut t.c, &until_rollback).await.unwrap());
    for c in [&mut s, &mut t] {
        let n: i64 = sqlx::query_scalar(at_target)
            .fetch_one(&mut c.c)
            .await
            .unwrap();
        assert_eq!(n, 1, "the target's own order on each side once");
    }
    assert!(!s.fenced().await.unwrap(), "the source takes writes again");
    assert!(t.fenced().await.unwrap(), "the target stays drained");
    assert!(
        s.replicas().await.unwrap().is_empty(),
        "the reverse connection is gone"
    );
    drop((s, t));
    // AUTO_INCREMENT came back too: a new order at the source does not collide.
    let mut app = my::app(&lab.app_side(&pair.source, db)).await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 1.00)")
        .execute(&mut app)
        .await
        .unwrap();
    drop(app);
    let events = all_events(&r.store).await;
    assert_eq!(stage_entries(&events, db, "rolled_back").len(), 1);
    let back = ok_detail(&events, db, "rollback.reverse_sync");
    assert!(
        back["reverse_sync"]["target_gtid_pos"].is_string(),
        "reverse GTID replication brought the target's writes back: {back}"
    );
    eprintln!(
        "MySQL rehearsal: write unavailability {:.0} ms at the cutover, {:.0} ms at the rollback ({} writes acknowledged)",
        workload::unavailability_ms(&stats.acks, &source.endpoint(), &target.endpoint())
            .unwrap_or(f64::NAN),
        workload::unavailability_ms(&stats.acks[first_t..], &target.endpoint(), &source.endpoint())
            .unwrap_or(f64::NAN),
        stats.acks.len()
    );
    r.down_by_command().await;
}

/// An operator config whose `lab.inventory` holds one database per `(db_id, engine, mode)`,
/// written in `dir`: the lab builds what it names.
fn lab_config(dir: &Path, dbs: &[(&str, &str, &str)]) -> PathBuf {
    let entries: Vec<serde_json::Value> = dbs
        .iter()
        .map(|(id, engine, mode)| {
            let port = if *engine == "mysql" { 3306 } else { 5432 };
            let side = |host: &str| {
                serde_json::json!({"host": host, "port": port, "database": "x", "user": "u",
                                   "password_env": "WD_UNUSED"})
            };
            serde_json::json!({
                "db_id": id, "engine": engine, "engine_version": "1", "size_gb": 0.1,
                "owner": format!("team-{engine}"), "criticality": "medium", "mode": mode,
                "business_window": wavedeck::rehearsal::lab::LAB_WINDOW, "wave": 0,
                "source": side("10.0.0.1"), "target": side("10.0.0.2"),
            })
        })
        .collect();
    let inventory = dir.join("lab-inventory.yaml");
    let doc = serde_json::json!({ "databases": entries });
    std::fs::write(&inventory, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let cfg = dir.join("operator.yaml");
    std::fs::write(
        &cfg,
        format!("lab:\n  inventory: {}\n", inventory.display()),
    )
    .unwrap();
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pilot_wave_of_both_engines_shares_one_store_and_a_seeded_mysql_fault_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = lab_config(
        tmp.path(),
        &[
            ("pilot-pg-mixed", "postgres", "online"),
            ("pilot-my-mixed", "mysql", "online"),
        ],
    );
    let (pg_db, my_db) = ("pilot_pg_mixed", "pilot_my_mixed");
    let r = Rehearsal::up_in(tmp, &["--config", cfg.to_str().unwrap()], &[]).await;
    let st = r.st.clone().expect("the PostgreSQL half");
    assert_eq!(st.databases, vec![pg_db.to_string()]);
    assert_eq!(
        r.my.as_ref().expect("the MySQL half").databases(),
        vec![my_db.to_string()]
    );
    // One store holds both, with the inventory's owners and ids.
    let states = r.store.db_states().await.unwrap();
    let mut ids: Vec<&str> = states.iter().map(|d| d.db_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["pilot-my-mixed", "pilot-pg-mixed"], "{states:#?}");
    // Before the wave starts, `lab status` finds no DRS job for either.
    let status = lab_status(&r);
    assert_eq!(status["databases"][0]["db"], pg_db, "{status:#}");
    assert_eq!(status["mysql"][0]["db"], my_db, "{status:#}");
    assert_eq!(drs_status(&status["databases"][0]), None, "{status:#}");
    assert_eq!(drs_status(&status["mysql"][0]), None, "{status:#}");

    let (code, out) = r.act(&["start", "wave-0"]);
    assert_eq!(code, 0, "{out}");
    // As soon as the MySQL job's copy has written the row, change it on the target behind the
    // job's back (out of the binary log: a strict-GTID replica stops on a local GTID).
    let (_, target) = r.my_sides(my_db);
    let t0 = Instant::now();
    loop {
        let there = match my::admin(&target, "seed").await {
            Ok(mut t) => sqlx::query_scalar::<_, i64>("SELECT id FROM orders WHERE id = 777")
                .fetch_optional(&mut t.c)
                .await
                .unwrap_or(None)
                .is_some(),
            Err(_) => false,
        };
        if there {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "orders never copied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut t = my::admin(&target, "seed").await.unwrap();
    t.c.execute(
        "SET SESSION sql_log_bin = 0; UPDATE orders SET amount = amount + 1 WHERE id = 777",
    )
    .await
    .unwrap();
    drop(t);
    let states = wait_for(
        &r.store,
        "pg ready, mysql failed",
        Duration::from_secs(300),
        |s| {
            let of = |id: &str| s.iter().find(|d| d.db_id == id).map(|d| d.stage);
            assert_ne!(
                of("pilot-my-mixed"),
                Some(Stage::Ready),
                "reached ready with a difference: {s:#?}"
            );
            assert_ne!(
                of("pilot-pg-mixed"),
                Some(Stage::Failed),
                "the PostgreSQL database failed: {s:#?}"
            );
            of("pilot-pg-mixed") == Some(Stage::Ready)
                && of("pilot-my-mixed") == Some(Stage::Failed)
        },
    )
    .await;
    let failed = states.iter().find(|d| d.db_id == "pilot-my-mixed").unwrap();
    assert_eq!(failed.held_stage, Some(Stage::Validation), "{states:#?}");
    assert_only_the_seeded_row_differs(&all_events(&r.store).await, "pilot-my-mixed", "orders");
    // Both DRS jobs as `lab status` reads them from the emulator: both stream.
    let status = lab_status(&r);
    for item in [&status["databases"][0], &status["mysql"][0]] {
        assert_eq!(
            drs_status(item).as_deref(),
            Some("INCRE_TRANSFER_STARTED"),
            "{status:#}"
        );
    }
    r.stop_workload(pg_db);
    r.stop_workload(my_db);
    r.finish().await;
}

/// Issue #17's offline path as a user rehearses it, the lab's workload on: the database waits
/// in `ready_offline` with nothing copied; at the cutover the engine drains the source, the
/// emulator's native FULL_TRANS job copies it once, the exact validation passes, the name is
/// switched, and the workload's every acknowledged write is on the target once. The write
/// outage the engine measured is set against the estimate the cockpit showed before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_postgres_database_moves_with_writes_stopped_and_nothing_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let id = "pilot-pg-offline";
    let db = "pilot_pg_offline";
    let cfg = lab_config(tmp.path(), &[(id, "postgres", "offline")]);
    let r = Rehearsal::up_in(tmp, &["--config", cfg.to_str().unwrap()], &[]).await;
    let st = r.st.clone().expect("the PostgreSQL half");
    assert_eq!(st.databases, vec![db.to_string()]);
    assert!(r.my.is_none(), "no MySQL database in this inventory");
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);

    let events = r.start_to(Stage::ReadyOffline).await;
    assert!(stage_entries(&events, id, "failed").is_empty());
    // Nothing moves before the window: no DRS job, nothing on the target.
    let status = lab_status(&r);
    assert_eq!(drs_status(&status["databases"][0]), None, "{status:#}");
    let mut t = target.connect_admin("check").await.unwrap();
    let copied: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut t)
        .await
        .unwrap();
    assert_eq!(copied, 0, "rows reached the target before the cutover");
    let t0 = Instant::now();
    while r.workload_figures(db)["acked"].as_u64().unwrap_or(0) < 100 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the workload does not write while the database waits"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (code, out) = r.act(&["cutover", id, "--confirm", id]);
    assert_eq!(code, 0, "{out}");
    let expected = out
        .lines()
        .find(|l| l.contains("writes stop for about"))
        .unwrap_or_else(|| panic!("the cutover names no expected outage: {out}"))
        .to_string();
    wait_for(&r.store, "hypercare", Duration::from_secs(240), |s| {
        assert!(
            s.iter().all(|d| d.stage != Stage::Failed),
            "the offline cutover failed: {s:#?}"
        );
        s.iter().all(|d| d.stage == Stage::Hypercare)
    })
    .await;
    r.wait_workload_at(db, &target).await;
    let stats = r.stop_workload(db);
    assert!(stats.acks.iter().any(|a| a.endpoint == target.endpoint()));
    assert_all_acked_once(&target, &stats).await;
    assert!(read_only(&source).await, "the source stays read-only");
    assert!(!read_only(&target).await, "the target takes writes");
    // One copy, nothing streaming after it: no subscription left on the target, no slot on
    // the source; the sequences came along, so a new order at the target does not collide.
    let subs: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_subscription")
        .fetch_one(&mut t)
        .await
        .unwrap();
    assert_eq!(subs, 0, "a subscription outlived the offline job");
    let mut s = source.connect_admin("check").await.unwrap();
    let slots: Vec<String> = sqlx::query_scalar("SELECT slot_name::text FROM pg_replication_slots")
        .fetch_all(&mut s)
        .await
        .unwrap();
    assert!(slots.is_empty(), "slots left on the source: {slots:?}");
    t.execute(
        "BEGIN READ WRITE; INSERT INTO orders (customer_id, amount) VALUES (1, 1.00); COMMIT",
    )
    .await
    .unwrap();

    // The job was a FULL_TRANS one, and the outage the engine measured is on record.
    let events = all_events(&r.store).await;
    let hyper = stage_entries(&events, id, "hypercare");
    assert_eq!(hyper.len(), 1, "{hyper:#?}");
    let outage_s = hyper[0].payload["outage_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("no outage on {:#}", hyper[0].payload));
    let gap_ms = workload::unavailability_ms(&stats.acks, &source.endpoint(), &target.endpoint())
        .expect("writes before and after the cutover");
    assert!(outage_s > 0.0 && gap_ms > 0.0);
    eprintln!(
        "offline rehearsal: write outage {outage_s:.1} s measured by the engine, {:.1} s without an acknowledged write at the workload ({} writes acknowledged); before the cutover: {expected}",
        gap_ms / 1000.0,
        stats.acks.len()
    );
    drop((s, t));
    r.down_by_command().await;
}
