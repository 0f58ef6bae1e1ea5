//! The engine's cutover (`engine.source_drain: sql`) on the replication lab: two real PostgreSQL
//! clusters replicating with native logical replication under a write workload, the DRS
//! emulator for the job's lifecycle, a real SQLite store. An operator's `cutover` goes through
//! the engine's guards and the cutover module's steps; `kill -9` of the real `wavedeck run`
//! after each step never repeats or loses one; a rollback brings the target's writes back.

mod common;

use common::*;
use std::time::{Duration, Instant};
use wavedeck::config::{ChecksMode, Config};
use wavedeck::cutover::lab::{LabState, TempLab};
use wavedeck::cutover::workload;
use wavedeck::cutover::Step as CutStep;
use wavedeck::drs::{Auth, DrsClient};
use wavedeck::inventory::DatabaseSpec;
use wavedeck::lifecycle::Stage;
use wavedeck::store::{kind, Action, CommandStatus, Event, Role, Store, Target};

const SPEED: f64 = 400.0;

/// The steps a SQL-mode cutover records, in order (the DRS job's termination among them).
fn cutover_steps() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = CutStep::ALL.iter().map(|s| s.as_str()).collect();
    let at = v.iter().position(|s| *s == "cutover.final_sync").unwrap() + 1;
    v.insert(at, "terminate_job");
    v
}

fn config(dir: &std::path::Path, dns_file: std::path::PathBuf) -> Config {
    let mut cfg = Config {
        store: format!("sqlite://{}", dir.join("store.db").display()),
        log_dir: dir.join("logs"),
        ..Config::default()
    };
    cfg.emulator.speed = SPEED;
    cfg.engine.checks = ChecksMode::Drs;
    cfg.engine.time_scale = SPEED;
    cfg.engine.source_drain = "sql".into();
    cfg.engine.retry_base_s = 2.0;
    cfg.engine.lag_stable_s = 5.0;
    cfg.engine.dns_domain = "lab.internal".into();
    cfg.thresholds.drain_grace_s = 1;
    cfg.cutover.dns_provider = "file".into();
    cfg.cutover.dns_file = dns_file;
    cfg.cutover.dns_ttl_s = 5;
    cfg.cutover.checksum_tables = vec!["public.customers".into(), "public.orders".into()];
    cfg
}

fn lab_spec(lab: &LabState, db: &str) -> DatabaseSpec {
    let mut spec = lab.spec(db);
    spec.business_window = "daily 00:00-24:00 UTC".into();
    spec
}

/// A lab with one database, the DRS emulator (in this process, accepting the test AK/SK), the
/// store with the database registered. `native`: the emulator's jobs replicate the database
/// themselves (publication and subscription, lag measured from the servers, terminate drops the
/// subscription), as DRS does; otherwise the lab replicates it and the emulator's jobs only
/// play DRS's statuses, so the engine finds and releases the lab's subscription at writes-on.
struct LabRig {
    dir: tempfile::TempDir,
    cfg: Config,
    store: Store,
    drs: DrsClient,
    _emu: wavedeck::drs::emulator::EmulatorHandle,
    // Last: the clusters stop after everything that talks to them.
    lab: TempLab,
}

async fn lab_rig(db: &str, rows: u32, native: bool) -> LabRig {
    let dbs = [db.to_string()];
    let lab = if native {
        TempLab::unreplicated(&dbs, rows).await.unwrap()
    } else {
        TempLab::new(&dbs, rows).await.unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut base = config(dir.path(), lab.state.dns_file().path);
    base.emulator.native = native;
    let emu = wavedeck::drs::emulator::spawn_with(
        &base,
        "127.0.0.1:0".parse().unwrap(),
        Auth::aksk(TEST_AK, TEST_SK),
    )
    .await
    .unwrap();
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    register(&store, &[lab_spec(&lab.state, db)]).await;
    LabRig {
        dir,
        cfg,
        store,
        drs,
        _emu: emu,
        lab,
    }
}

/// Start wave 0 and approve its window; returns once the database is ready.
async fn to_ready(store: &Store) {
    let start = command(store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(store, start).await.0);
    wait_for(store, "the database ready", Duration::from_secs(120), |s| {
        s.iter().all(|d| d.stage == Stage::Ready)
    })
    .await;
    let approve = command(
        store,
        Role::Operator,
        Action::ApproveWindow,
        Target::Wave(0),
    )
    .await;
    assert!(decided(store, approve).await.0);
}

/// Ask for the cutover until the engine accepts it; the emulated DRS lag may be above the
/// threshold at that instant, which is the one refusal allowed (the operator asks again).
async fn cutover(store: &Store, db: &str) {
    for _ in 0..100 {
        let c = command(
            store,
            Role::Operator,
            Action::Cutover,
            Target::Db(db.into()),
        )
        .await;
        let (ok, why) = decided(store, c).await;
        if ok {
            return;
        }
        let why = why.unwrap_or_default();
        assert!(why.contains("lag"), "cutover refused: {why}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cutover of {db} refused 100 times");
}

fn ok_outcomes(events: &[Event], db: &str, step: &str) -> usize {
    outcomes(events, db, step)
        .into_iter()
        .filter(|e| e.payload["ok"] == true)
        .count()
}

fn stage_entries(events: &[Event], db: &str, to: &str) -> usize {
    events
        .iter()
        .filter(|e| e.kind == kind::DB_STAGE && e.db_id.as_deref() == Some(db))
        .filter(|e| e.payload["to"] == to)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cutover_through_the_engine_keeps_every_acknowledged_write_once() {
    let db = "engcut";
    let r = lab_rig(db, 2000, true).await;
    let st = &r.lab.state;
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    let w = start_workload(st, db);
    wait_acks(&w, &source.endpoint(), 200).await;

    cutover(&r.store, db).await;
    wait_for(&r.store, "hypercare", Duration::from_secs(120), |s| {
        s.iter().all(|d| d.stage == Stage::Hypercare)
    })
    .await;
    wait_acks(&w, &target.endpoint(), 200).await;
    let stats = w.stop().await;
    engine.shutdown().await.unwrap();

    assert_all_acked_once(&target, &stats).await;
    assert!(
        read_only(&source).await,
        "the source stays read-only in hypercare"
    );
    assert!(!read_only(&target).await, "the target takes writes");
    let dns = st.dns_file().current(&LabState::dns_name(db)).unwrap();
    assert_eq!(dns.map(|e| e.value), Some(target.endpoint()));

    let events = all_events(&r.store).await;
    check_intents(&events);
    for step in cutover_steps() {
        assert_eq!(ok_outcomes(&events, db, step), 1, "{step}");
    }
    assert_eq!(stage_entries(&events, db, "cutover"), 1);
    assert_eq!(stage_entries(&events, db, "hypercare"), 1);
    assert!(r.store.verify_chain().await.unwrap().is_ok());
    // What the steps report is evidence: the WAL positions compared, the tables checked, the
    // smoke test through the switched name. None of it is filed as a pre-check.
    let detail = |step: &str| {
        outcomes(&events, db, step)
            .into_iter()
            .find(|e| e.payload["ok"] == true)
            .map(|e| e.payload["detail"].clone())
            .unwrap()
    };
    let sync = detail("cutover.final_sync");
    assert_eq!(
        sync["slot"],
        wavedeck::cutover::run::NativeMover::for_db(db).subscription
    );
    assert!(sync["sync"]["confirmed_lsn"].is_string(), "{sync}");
    let quick = detail("cutover.quick_validation");
    assert_eq!(quick["tables"], 3, "{quick}");
    assert_eq!(quick["checksummed"], 2, "{quick}");
    let on = detail("cutover.target_writes_on");
    assert_eq!(on["smoke"]["endpoint"], target.endpoint(), "{on}");
    assert!(
        on.get("replication_released").is_none(),
        "terminating the DRS job released the replication: {on}"
    );
    let states = r.store.db_states().await.unwrap();
    let prechecks = states[0].precheck.as_ref().map(|p| p.summary.clone());
    assert!(
        prechecks
            .as_deref()
            .is_some_and(|p| p.contains("DRS pre-check")),
        "{prechecks:?}"
    );
    let unavailable =
        workload::unavailability_ms(&stats.acks, &source.endpoint(), &target.endpoint());
    eprintln!(
        "write unavailability through the engine: {:.0} ms ({} writes acknowledged)",
        unavailable.unwrap_or(f64::NAN),
        stats.acks.len()
    );
    let _ = &r.dir;
}

/// Wait until the engine process says it stalled at `step` (its effect done, its outcome not
/// recorded), asking for the cutover again if the engine refused it for lag meanwhile.
async fn wait_stalled(
    child: &mut Reap,
    lines: &std::sync::mpsc::Receiver<String>,
    step: &str,
    store: &Store,
    db: &str,
    pending: &mut Option<i64>,
    log: &std::path::Path,
) {
    let t0 = Instant::now();
    loop {
        while let Ok(line) = lines.try_recv() {
            if line.trim() == format!("stalled at {step}") {
                return;
            }
        }
        if let Some(id) = *pending {
            let c = store.command(id).await.unwrap().unwrap();
            match c.status {
                CommandStatus::Accepted => *pending = None,
                CommandStatus::Rejected => {
                    let why = c.reason.unwrap_or_default();
                    assert!(why.contains("lag"), "cutover refused: {why}");
                    *pending = Some(
                        command(
                            store,
                            Role::Operator,
                            Action::Cutover,
                            Target::Db(db.into()),
                        )
                        .await,
                    );
                }
                CommandStatus::Pending => {}
            }
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!(
                "engine exited ({status}) before stalling at {step}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "engine never reached {step}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_each_cutover_step_then_restart_finishes_it_exactly_once() {
    use std::io::BufRead;
    let db = "engkill";
    let r = lab_rig(db, 1000, true).await;
    let st = &r.lab.state;
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);
    // To ready with an engine in this process, stopped cleanly.
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    engine.shutdown().await.unwrap();
    let w = start_workload(st, db);
    wait_acks(&w, &source.endpoint(), 100).await;

    let mut cfg = r.cfg.clone();
    cfg.engine.lease_ttl_s = 1;
    let cfg_path = r.dir.path().join("wavedeck.yaml");
    std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    let log = r.dir.path().join("processes.log");
    let mut pending = Some(
        command(
            &r.store,
            Role::Operator,
            Action::Cutover,
            Target::Db(db.into()),
        )
        .await,
    );
    for step in cutover_steps() {
        let t0 = Instant::now();
        while r.store.lease_holder().await.unwrap().is_some() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "lease never expired"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Reap(
            wavedeck_command(&cfg_path, &["run"], &[("WAVEDECK_FAULT_STALL_AT", step)])
                .stdout(out)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let stderr = child.0.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        wait_stalled(&mut child, &lines, step, &r.store, db, &mut pending, &log).await;
        signal(&child.0, libc::SIGKILL);
        child.0.wait().unwrap();
    }
    assert!(pending.is_none(), "the cutover was never accepted");

    // A last engine finishes the cutover, then stops cleanly on SIGTERM.
    while r.store.lease_holder().await.unwrap().is_some() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut engine = Reap(wavedeck(&cfg_path, &["run"], &log));
    wait_for(
        &r.store,
        "hypercare after the kills",
        Duration::from_secs(120),
        |s| s.iter().all(|d| d.stage == Stage::Hypercare),
    )
    .await;
    wait_acks(&w, &target.endpoint(), 100).await;
    let t0 = Instant::now();
    while r.store.lease_holder().await.unwrap().is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "last engine holds no lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&engine.0, libc::SIGTERM);
    assert!(engine.0.wait().unwrap().success(), "engine exit on SIGTERM");
    let stats = w.stop().await;

    assert_all_acked_once(&target, &stats).await;
    assert!(read_only(&source).await);
    assert!(!read_only(&target).await);
    let dns = st.dns_file().current(&LabState::dns_name(db)).unwrap();
    assert_eq!(dns.map(|e| e.value), Some(target.endpoint()));
    let events = all_events(&r.store).await;
    check_intents(&events);
    assert!(r.store.verify_chain().await.unwrap().is_ok());
    assert_eq!(stage_entries(&events, db, "cutover"), 1, "one cutover");
    assert_eq!(stage_entries(&events, db, "hypercare"), 1);
    for step in cutover_steps() {
        let intents = events
            .iter()
            .filter(|e| e.kind == kind::STEP_INTENT && e.payload["step"] == step)
            .count();
        let done: Vec<&Event> = outcomes(&events, db, step)
            .into_iter()
            .filter(|e| e.payload["ok"] == true)
            .collect();
        assert_eq!((intents, done.len()), (1, 1), "{step}: intents, outcomes");
        // Killed after its effect: the next engine finished the same intent.
        assert_eq!(
            done[0].payload["recovered"], true,
            "{step}: {}",
            done[0].payload
        );
    }
    // Steps whose effect the servers show were found in place, not done again.
    for step in ["cutover.drain_source", "cutover.dns_switch"] {
        let o = outcomes(&events, db, step)[0];
        assert_eq!(
            o.payload["detail"]["already_in_place"], true,
            "{step}: {}",
            o.payload
        );
    }
    // One DRS job, terminated once.
    let jobs = r.drs.list_all_jobs("sync").await.unwrap().len()
        + r.drs.list_all_jobs("migration").await.unwrap().len();
    assert_eq!(jobs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_through_the_engine_after_target_writes_loses_nothing() {
    let db = "engroll";
    let r = lab_rig(db, 1000, false).await;
    let st = &r.lab.state;
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    let w = start_workload(st, db);
    wait_acks(&w, &source.endpoint(), 100).await;
    cutover(&r.store, db).await;
    wait_for(&r.store, "hypercare", Duration::from_secs(120), |s| {
        s.iter().all(|d| d.stage == Stage::Hypercare)
    })
    .await;
    wait_acks(&w, &target.endpoint(), 200).await;
    // A row written only at the target, through a sequence, must come back too.
    let mut t = target.connect_app("check").await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 42.00)")
        .execute(&mut t)
        .await
        .unwrap();
    drop(t);
    // The lab's own subscription (not the emulated job's) was found by its slot and released
    // before the target took writes.
    let events = all_events(&r.store).await;
    let on = outcomes(&events, db, "cutover.target_writes_on")[0].payload["detail"].clone();
    assert_eq!(
        on["replication_released"],
        wavedeck::cutover::run::NativeMover::for_db(db).subscription,
        "{on}"
    );

    let rb = command(
        &r.store,
        Role::Operator,
        Action::Rollback,
        Target::Db(db.into()),
    )
    .await;
    assert!(decided(&r.store, rb).await.0);
    let undo = [
        "rollback.drain_target",
        "rollback.reverse_sync",
        "rollback.dns_back",
        "rollback.source_writes_on",
    ];
    let t0 = Instant::now();
    loop {
        let ev = all_events(&r.store).await;
        if undo.iter().all(|s| ok_outcomes(&ev, db, s) == 1) {
            break;
        }
        let failed: Vec<_> = ev
            .iter()
            .filter(|e| e.kind == kind::STEP_OUTCOME && e.payload["ok"] == false)
            .map(|e| e.payload.to_string())
            .collect();
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "rollback never finished; failed steps: {failed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after_rollback = w
        .snapshot()
        .acks
        .iter()
        .filter(|a| a.endpoint == source.endpoint())
        .count();
    wait_acks(&w, &source.endpoint(), after_rollback + 100).await;
    let stats = w.stop().await;
    engine.shutdown().await.unwrap();

    assert_all_acked_once(&source, &stats).await;
    assert!(!read_only(&source).await, "source writable again");
    assert!(read_only(&target).await, "target drained");
    let dns = st.dns_file().current(&LabState::dns_name(db)).unwrap();
    assert_eq!(dns.map(|e| e.value), Some(source.endpoint()));
    let count = |side: wavedeck::cutover::pg::PgSide| async move {
        let mut c = side.connect_admin("check").await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM orders")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    assert_eq!(count(source.clone()).await, count(target.clone()).await);
    // Sequences came back too: a new order at the source does not collide.
    let mut s = source.connect_app("check").await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 1.00)")
        .execute(&mut s)
        .await
        .unwrap();
    let events = all_events(&r.store).await;
    check_intents(&events);
    assert_eq!(stage_entries(&events, db, "rolled_back"), 1);
    assert!(r.store.verify_chain().await.unwrap().is_ok());
    let states = r.store.db_states().await.unwrap();
    assert_eq!(states[0].stage, Stage::RolledBack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_database_is_refused_at_the_first_step_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let base = config(dir.path(), dir.path().join("dns.yaml"));
    let emu = wavedeck::drs::emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    let spec: DatabaseSpec = serde_json::from_value(serde_json::json!({
        "db_id": "my-orders", "engine": "mysql", "engine_version": "8.0", "size_gb": 0.1,
        "owner": "a", "criticality": "low", "business_window": "daily 00:00-24:00 UTC",
        "wave": 0, "tags": [], "overrides": {},
        "source": {"host": "10.0.0.1", "port": 3306, "database": "orders", "user": "u", "password": {"env": "WD_TEST_UNSET_PASSWORD"}},
        "target": {"host": "10.1.0.1", "port": 3306, "database": "orders", "user": "u", "password": {"env": "WD_TEST_UNSET_PASSWORD"}}
    }))
    .unwrap();
    register(&store, &[spec]).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs)
        .await
        .unwrap();
    to_ready(&store).await;
    cutover(&store, "my-orders").await;
    let states = wait_for(
        &store,
        "the cutover refused",
        Duration::from_secs(60),
        |s| s.iter().all(|d| d.stage == Stage::Failed),
    )
    .await;
    let words = states[0].last_error.clone().unwrap_or_default();
    assert!(
        words.contains("MySQL") && words.contains("nothing was changed"),
        "{words}"
    );
    // Nothing began but the guard step, so a rollback has nothing to undo.
    let rb = command(
        &store,
        Role::Operator,
        Action::Rollback,
        Target::Db("my-orders".into()),
    )
    .await;
    assert!(decided(&store, rb).await.0);
    wait_for(&store, "rolled back", Duration::from_secs(20), |s| {
        s.iter().all(|d| d.stage == Stage::RolledBack)
    })
    .await;
    engine.shutdown().await.unwrap();
    let events = all_events(&store).await;
    check_intents(&events);
    let steps: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == kind::STEP_INTENT)
        .filter_map(|e| e.payload["step"].as_str())
        .filter(|s| s.starts_with("cutover.") || s.starts_with("rollback."))
        .collect();
    assert_eq!(steps, ["cutover.guards"]);
}
