//! The engine's cutover (`engine.source_drain: sql`) on a lab of either engine: the DRS emulator
//! in the test process, a real SQLite store, the operator's commands, and `kill -9` of the real
//! `wavedeck run` after each step. The lab (PostgreSQL or MariaDB) is the caller's.

use super::*;
use std::time::{Duration, Instant};
use wavedeck::config::{ChecksMode, Config};
use wavedeck::cutover::CutoverStep as CutStep;
use wavedeck::drs::{Auth, DrsClient};
use wavedeck::inventory::DatabaseSpec;
use wavedeck::lifecycle::Stage;
use wavedeck::store::{kind, Action, CommandStatus, Event, Role, Store, Target};

pub const SPEED: f64 = 400.0;

/// The steps a SQL-mode cutover records, in order (the DRS job's termination among them).
pub fn cutover_steps() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = CutStep::ALL.iter().map(|s| s.as_str()).collect();
    let at = v.iter().position(|s| *s == "cutover.final_sync").unwrap() + 1;
    v.insert(at, "terminate_job");
    v
}

/// The rollback actions after the target took writes, in order.
pub const UNDO_AFTER_WRITES: [&str; 4] = [
    "rollback.drain_target",
    "rollback.reverse_sync",
    "rollback.dns_back",
    "rollback.source_writes_on",
];

/// Engine settings for a fast lab: emulator and engine time scaled, SQL-mode cutover, the file
/// DNS provider on the lab's file, a one-second drain grace.
pub fn config(dir: &std::path::Path, dns_file: std::path::PathBuf) -> Config {
    let mut cfg = Config {
        store: format!("sqlite://{}", dir.join("store.db").display()),
        log_dir: dir.join("logs"),
        ..Config::default()
    };
    cfg.emulator.speed = SPEED;
    cfg.engine.checks = ChecksMode::Drs;
    cfg.engine.time_scale = SPEED;
    cfg.engine.source_drain = wavedeck::config::SourceDrain::Sql;
    cfg.engine.retry_base_s = 2.0;
    cfg.engine.lag_stable_s = 5.0;
    cfg.engine.dns_domain = "lab.internal".into();
    cfg.thresholds.drain_grace_s = 1;
    cfg.cutover.dns_provider = wavedeck::config::DnsProvider::File;
    cfg.cutover.dns_file = dns_file;
    cfg.cutover.dns_ttl_s = 5;
    cfg
}

/// A lab of type `L`, the DRS emulator (in this process, accepting the test AK/SK) and the store
/// with the lab's databases registered.
pub struct EngineRig<L> {
    pub dir: tempfile::TempDir,
    pub cfg: Config,
    pub store: Store,
    pub drs: DrsClient,
    pub _emu: wavedeck::rehearsal::drs_emulator::EmulatorHandle,
    // Last: the servers stop after everything that talks to them.
    pub lab: L,
}

/// `base` gets the rig's store and log dir; `native`: the emulator's jobs move the data
/// themselves (PostgreSQL only), otherwise they only play DRS's statuses.
pub async fn engine_rig<L>(
    lab: L,
    specs: &[DatabaseSpec],
    native: bool,
    base: impl FnOnce(&std::path::Path) -> Config,
) -> EngineRig<L> {
    let dir = tempfile::tempdir().unwrap();
    let mut base = base(dir.path());
    base.emulator.native = native;
    let emu = wavedeck::rehearsal::drs_emulator::spawn_with(
        &base,
        "127.0.0.1:0".parse().unwrap(),
        Auth::aksk(TEST_AK, TEST_SK),
    )
    .await
    .unwrap();
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    let specs: Vec<DatabaseSpec> = specs
        .iter()
        .cloned()
        .map(|mut s| {
            s.business_window = "daily 00:00-24:00 UTC".into();
            s
        })
        .collect();
    register(&store, &specs).await;
    EngineRig {
        dir,
        cfg,
        store,
        drs,
        _emu: emu,
        lab,
    }
}

/// Start wave 0 and approve its window; returns once every database is ready.
pub async fn to_ready(store: &Store) {
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
pub async fn cutover(store: &Store, db: &str) {
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

pub async fn wait_hypercare(store: &Store) {
    wait_for(store, "hypercare", Duration::from_secs(120), |s| {
        s.iter().all(|d| d.stage == Stage::Hypercare)
    })
    .await;
}

pub fn ok_outcomes(events: &[Event], db: &str, step: &str) -> usize {
    outcomes(events, db, step)
        .into_iter()
        .filter(|e| e.payload["ok"] == true)
        .count()
}

/// The detail of `step`'s successful outcome.
pub fn ok_detail(events: &[Event], db: &str, step: &str) -> serde_json::Value {
    outcomes(events, db, step)
        .into_iter()
        .find(|e| e.payload["ok"] == true)
        .map(|e| e.payload["detail"].clone())
        .unwrap_or_else(|| panic!("{step}: no successful outcome"))
}

pub fn stage_entries(events: &[Event], db: &str, to: &str) -> usize {
    events
        .iter()
        .filter(|e| e.kind == kind::DB_STAGE && e.db_id.as_deref() == Some(db))
        .filter(|e| e.payload["to"] == to)
        .count()
}

/// Every cutover step recorded once with one successful outcome, one cutover, one hypercare,
/// the store's hash chain intact.
pub async fn assert_one_clean_cutover(store: &Store, db: &str) -> Vec<Event> {
    let events = all_events(store).await;
    check_intents(&events);
    for step in cutover_steps() {
        assert_eq!(ok_outcomes(&events, db, step), 1, "{step}");
    }
    assert_eq!(stage_entries(&events, db, "cutover"), 1);
    assert_eq!(stage_entries(&events, db, "hypercare"), 1);
    assert!(store.verify_chain().await.unwrap().is_ok());
    events
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

/// A database at ready, its cutover asked for, then one real `wavedeck run` per cutover step,
/// each killed with SIGKILL right after that step's effect and before its outcome is recorded;
/// then a last engine, returned running, that finishes the cutover. Returns it with the config
/// file and the processes' log.
pub async fn kill_9_after_each_step<L>(
    r: &EngineRig<L>,
    db: &str,
) -> (Reap, std::path::PathBuf, std::path::PathBuf) {
    use std::io::BufRead;
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
        super::wait_lease(&r.store, false, Duration::from_secs(10)).await;
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
    super::wait_lease(&r.store, false, Duration::from_secs(10)).await;
    let engine = Reap(wavedeck(&cfg_path, &["run"], &log));
    wait_for(
        &r.store,
        "hypercare after the kills",
        Duration::from_secs(120),
        |s| s.iter().all(|d| d.stage == Stage::Hypercare),
    )
    .await;
    (engine, cfg_path, log)
}

/// After [`kill_9_after_each_step`]: every step has one intent and one outcome, finished by the
/// next engine (recovered); the drain and the DNS switch were found in place on the servers,
/// not done again; one cutover, one DRS job.
pub async fn assert_each_step_once_after_kills<L>(r: &EngineRig<L>, db: &str) -> Vec<Event> {
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
        assert_eq!(
            done[0].payload["recovered"], true,
            "{step}: {}",
            done[0].payload
        );
    }
    for step in ["cutover.drain_source", "cutover.dns_switch"] {
        let o = outcomes(&events, db, step)[0];
        assert_eq!(
            o.payload["detail"]["already_in_place"], true,
            "{step}: {}",
            o.payload
        );
    }
    let jobs = r
        .drs
        .list_all_jobs(wavedeck::inventory::model::Engine::Postgres)
        .await
        .unwrap()
        .len()
        + r.drs
            .list_all_jobs(wavedeck::inventory::model::Engine::Mysql)
            .await
            .unwrap()
            .len();
    assert_eq!(jobs, 1);
    events
}

/// The operator's rollback of `db`; returns once every action after target writes succeeded.
pub async fn roll_back(store: &Store, db: &str) {
    let rb = command(
        store,
        Role::Operator,
        Action::Rollback,
        Target::Db(db.into()),
    )
    .await;
    assert!(decided(store, rb).await.0);
    let t0 = Instant::now();
    loop {
        let ev = all_events(store).await;
        if UNDO_AFTER_WRITES
            .iter()
            .all(|s| ok_outcomes(&ev, db, s) == 1)
        {
            return;
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
}

/// After [`roll_back`]: intents paired, one entry to rolled back, the chain intact.
pub async fn assert_rolled_back(store: &Store, db: &str) {
    let events = all_events(store).await;
    check_intents(&events);
    assert_eq!(stage_entries(&events, db, "rolled_back"), 1);
    assert!(store.verify_chain().await.unwrap().is_ok());
    let states = store.db_states().await.unwrap();
    assert_eq!(states[0].stage, Stage::RolledBack);
}

/// Acknowledgements the workload got from `endpoint` so far.
pub fn acks_from(w: &wavedeck::rehearsal::lab::workload::Running, endpoint: &str) -> usize {
    w.snapshot()
        .acks
        .iter()
        .filter(|a| a.endpoint == endpoint)
        .count()
}
