//! The rehearsal as an operator runs it, with the real binaries: `wavedeck lab up` (databases
//! waiting for DRS, the emulator in native mode, the rehearsal config and store), then
//! `wavedeck --config <lab>/wavedeck.yaml run`: the production engine creates the DRS jobs,
//! the emulator replicates for real, the operator starts the wave, approves and cuts over, and
//! every write the workload saw acknowledged is on the target once. `wavedeck lab down` then
//! leaves no process behind.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;
use wavedeck::config::Config;
use wavedeck::cutover::lab::{self, LabState};
use wavedeck::lifecycle::Stage;
use wavedeck::store::{Action, Role, Store, Target};

/// The real binary, without the caller's DRS keys: the lab's credentials file must be enough.
fn bin(dir: &std::path::Path) -> Command {
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
struct Down(std::path::PathBuf);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_up_then_the_engine_migrates_and_cuts_over_through_the_native_emulator() {
    let tmp = tempfile::tempdir().unwrap();
    let lab_dir = tmp.path().join("lab");
    let db = "rehearse";
    let out = bin(tmp.path())
        .args([
            "lab",
            "up",
            "--no-workload",
            "--seed-rows",
            "20000",
            "--db",
            db,
            "--dir",
        ])
        .arg(&lab_dir)
        .output()
        .unwrap();
    let _down = Down(lab_dir.clone());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "lab up failed:\n{text}");
    assert!(text.contains("rehearse: wavedeck --config"), "{text}");
    let st = LabState::load(&lab_dir).unwrap();
    let emulator_pid = st.emulator.as_ref().unwrap().pid;
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);
    let cfg_path = lab_dir.join("wavedeck.yaml");
    let mut cfg = Config::load(Some(&cfg_path)).unwrap();
    // Quicker than an operator's defaults, same steps.
    cfg.engine.lag_stable_s = 5.0;
    cfg.thresholds.drain_grace_s = 1;
    cfg.cutover.checksum_tables = vec!["public.customers".into(), "public.orders".into()];
    std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    let store = Store::open_existing(&cfg.store).await.unwrap();
    assert_eq!(
        store.db_states().await.unwrap().len(),
        1,
        "lab up registered the database"
    );

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
    let start = command(&store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&store, start).await.0);
    wait_for(&store, "ready", Duration::from_secs(240), |s| {
        s.iter().all(|d| d.stage == Stage::Ready)
    })
    .await;
    // The engine's DRS job replicates for real: the rows are on the target.
    let mut t = target.connect_admin("check").await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut t)
        .await
        .unwrap();
    assert_eq!(n, 20_000);
    // `lab status` shows the job as DRS reports it to the production client.
    let status = bin(tmp.path())
        .args(["lab", "status", "--json", "--dir"])
        .arg(&lab_dir)
        .output()
        .unwrap();
    assert!(status.status.success());
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let job = &v["databases"][0]["drs_job"];
    assert_eq!(job["job_name"], "wd-rehearse", "{v}");
    assert_eq!(
        job["progress"]["transfer_status"], "INCRE_TRANSFER_STARTED",
        "{v}"
    );
    assert_eq!(job["progress"]["progress"], "100", "{v}");

    let approve = command(
        &store,
        Role::Operator,
        Action::ApproveWindow,
        Target::Wave(0),
    )
    .await;
    assert!(decided(&store, approve).await.0);
    let w = start_workload(&st, db);
    wait_acks(&w, &source.endpoint(), 200).await;
    let mut accepted = false;
    for _ in 0..100 {
        let c = command(
            &store,
            Role::Operator,
            Action::Cutover,
            Target::Db(db.into()),
        )
        .await;
        let (ok, why) = decided(&store, c).await;
        if ok {
            accepted = true;
            break;
        }
        let why = why.unwrap_or_default();
        assert!(why.contains("lag"), "cutover refused: {why}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(accepted, "cutover refused 100 times");
    wait_for(&store, "hypercare", Duration::from_secs(180), |s| {
        s.iter().all(|d| d.stage == Stage::Hypercare)
    })
    .await;
    wait_acks(&w, &target.endpoint(), 100).await;
    let stats = w.stop().await;
    assert_all_acked_once(&target, &stats).await;
    assert!(
        read_only(&source).await,
        "the source stays read-only in hypercare"
    );
    assert!(!read_only(&target).await, "the target takes writes");
    // The DRS job was terminated by the cutover: no replication left on the servers.
    let mut s = source.connect_admin("check").await.unwrap();
    assert!(
        pg_slots(&mut s).await.is_empty(),
        "slots left on the source"
    );
    eprintln!(
        "rehearsal: write unavailability {:.0} ms ({} writes acknowledged)",
        wavedeck::cutover::workload::unavailability_ms(
            &stats.acks,
            &source.endpoint(),
            &target.endpoint()
        )
        .unwrap_or(f64::NAN),
        stats.acks.len()
    );

    signal(&engine.0, libc::SIGTERM);
    drop(engine);
    store.close().await;
    let out = bin(tmp.path())
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
}

async fn pg_slots(c: &mut sqlx::PgConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT slot_name::text FROM pg_replication_slots")
        .fetch_all(c)
        .await
        .unwrap()
}
