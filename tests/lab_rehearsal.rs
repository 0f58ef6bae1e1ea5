//! The rehearsal as a new user runs it, with the real binaries and the lab's default write
//! workload: `wavedeck lab up` (databases waiting for DRS, the emulator in native mode, the
//! workload writing, the rehearsal config and store), then `wavedeck --config <lab>/wavedeck.yaml
//! run`; the operator's approve, start and cutover are the command-line commands. The live
//! validation gate, tied to the replication's position, lets the database reach `ready` while
//! the workload writes; every write the workload saw acknowledged is on the target once. A
//! target row changed behind replication's back is found, named and keeps the database from
//! `ready`. `wavedeck lab down` then leaves no process behind.

mod common;

use common::*;
use sqlx::Executor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wavedeck::config::Config;
use wavedeck::lifecycle::Stage;
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
    st: LabState,
    lab_dir: PathBuf,
    cfg_path: PathBuf,
    tmp: tempfile::TempDir,
}

impl Rehearsal {
    async fn up(db: &str) -> Rehearsal {
        let tmp = tempfile::tempdir().unwrap();
        let lab_dir = tmp.path().join("lab");
        let out = bin(tmp.path())
            .args(["lab", "up", "--seed-rows", "20000", "--db", db, "--dir"])
            .arg(&lab_dir)
            .output()
            .unwrap();
        let down = Down(lab_dir.clone());
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "lab up failed:\n{text}");
        assert!(text.contains("rehearse: wavedeck --config"), "{text}");
        let st = LabState::load(&lab_dir).unwrap();
        assert_eq!(st.workload_pids.len(), 1, "lab up starts its workload");
        let cfg_path = lab_dir.join("wavedeck.yaml");
        let mut cfg = Config::load(Some(&cfg_path)).unwrap();
        cfg.engine.lag_stable_s = 5.0;
        cfg.thresholds.drain_grace_s = 1;
        cfg.cutover.checksum_tables = vec!["public.customers".into(), "public.orders".into()];
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
        let pid = self.st.workload_pids[0].1;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehearsal_under_the_default_workload_reaches_ready_and_cuts_over_by_command() {
    let db = "rehearse";
    let mut r = Rehearsal::up(db).await;
    let emulator_pid = r.st.emulator.as_ref().unwrap().pid;
    let source = r.st.side(&r.st.source, db);
    let target = r.st.side(&r.st.target, db);

    let (code, out) = r.act(&["approve", "wave-0"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("accepted: approve wave-0"), "{out}");
    let (code, out) = r.act(&["start", "wave-0"]);
    assert_eq!(code, 0, "{out}");
    wait_for(&r.store, "ready", Duration::from_secs(240), |s| {
        assert!(
            s.iter().all(|d| d.stage != Stage::Failed),
            "a database failed: {s:#?}"
        );
        s.iter().all(|d| d.stage == Stage::Ready)
    })
    .await;
    let events = all_events(&r.store).await;
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
    let wl = gate["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "public.wd_workload")
        .expect("the workload's table is compared");
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

    let mut accepted = false;
    for _ in 0..50 {
        let (code, out) = r.act(&["cutover", db, "--confirm", db]);
        if code == 0 {
            accepted = true;
            break;
        }
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("lag"), "cutover refused: {out}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(accepted, "cutover refused 50 times");
    wait_for(&r.store, "hypercare", Duration::from_secs(180), |s| {
        s.iter().all(|d| d.stage == Stage::Hypercare)
    })
    .await;
    // The workload follows the service name to the target and writes there.
    let t0 = Instant::now();
    while r.workload_figures(db)["endpoint"] != target.endpoint().as_str() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the workload never reached the target"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
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
    let (lab_dir, tmp_path) = (r.lab_dir.clone(), r.tmp.path().to_path_buf());
    let out = bin(&tmp_path)
        .args(["lab", "down", "--dir"])
        .arg(&lab_dir)
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
    assert!(!lab_dir.exists());
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_row_changed_under_the_workload_is_found_and_keeps_the_database_from_ready() {
    let db = "seeded";
    let r = Rehearsal::up(db).await;
    let target = r.st.side(&r.st.target, db);
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
    let events = all_events(&r.store).await;
    let reports = sql_reports(&events, db);
    let gate = reports.last().expect("a validation report");
    assert_eq!(gate["mode"], "live", "{gate:#}");
    let orders = gate["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "public.orders")
        .unwrap();
    let diffs = orders["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{orders:#}");
    assert_eq!(diffs[0]["key"], "id=777", "{orders:#}");
    assert_eq!(
        diffs[0]["columns"],
        serde_json::json!(["amount"]),
        "{orders:#}"
    );
    assert!(orders["compared_at"].as_str().is_some(), "{orders:#}");
    let others: Vec<&serde_json::Value> = gate["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["table"] != "public.orders" && t["passed"] != true)
        .collect();
    assert!(
        others.is_empty(),
        "false alarms beside the seeded row: {others:#?}"
    );
    r.stop_workload(db);
    r.finish().await;
}
