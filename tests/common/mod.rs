//! Helpers shared by the integration tests: the store and operator commands as the engine sees
//! them, real processes (spawn, signal, reap), and the lab workload's checks. Each test binary
//! uses a part of them.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use wavedeck::config::{ChecksMode, Config, DnsProvider, SourceDrain};
use wavedeck::cutover::postgres::ops as pg;
use wavedeck::inventory::DatabaseSpec;
use wavedeck::rehearsal::lab::postgres::LabState;
use wavedeck::rehearsal::lab::workload::{self, Workload, WorkloadStats};
use wavedeck::store::{
    kind, Action, CommandStatus, DbState, Event, NewCommand, NewEvent, Role, Store, Target,
};

/// The engine's settings for a test against the in-process DRS emulator: a store and logs in
/// `dir`, emulator and engine time scaled by `speed`, DRS-side checks, the emulator's drain, the
/// file DNS provider on `dir/dns.yaml`, and limits wide enough that a test's wave is not queued.
/// A test changes only what it is about.
pub fn engine_config(dir: &std::path::Path, speed: f64) -> Config {
    let mut cfg = Config {
        store: format!("sqlite://{}", dir.join("store.db").display()),
        log_dir: dir.join("logs"),
        ..Config::default()
    };
    cfg.emulator.speed = speed;
    cfg.emulator.quota = 100;
    cfg.engine.checks = ChecksMode::Drs;
    cfg.engine.time_scale = speed;
    cfg.engine.source_drain = SourceDrain::Emulator;
    cfg.engine.retry_base_s = 2.0;
    cfg.engine.lag_stable_s = 10.0;
    cfg.limits.drs_concurrency = 100;
    cfg.limits.wave_concurrency = 50;
    cfg.limits.bandwidth_gbps = 100.0;
    cfg.cutover.dns_provider = DnsProvider::File;
    cfg.cutover.dns_file = dir.join("dns.yaml");
    cfg
}

/// A PostgreSQL database of wave 0 whose endpoints only the DRS emulator answers (its checks
/// are DRS-side): what the engine tests on the emulator register.
pub fn emulated_spec(id: &str, size_gb: f64) -> DatabaseSpec {
    use wavedeck::inventory::{Endpoint, Engine};
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: 5432,
        database: id.replace('-', "_"),
        user: "migrator".into(),
        password: wavedeck::secret::SecretRef::File("/dev/null".into()),
    };
    DatabaseSpec::new(id, Engine::Postgres, ep("10.0.0.1"), ep("10.1.0.1"))
        .with_version("15")
        .with_size_gb(size_gb)
        .with_owner("team")
        .with_window("daily 00:00-24:00 UTC")
        .with_wave(Some(0))
}

pub async fn register(store: &Store, specs: &[DatabaseSpec]) {
    let events: Vec<NewEvent> = specs
        .iter()
        .map(|s| NewEvent {
            db_id: Some(s.db_id.clone()),
            wave: s.wave,
            kind: kind::DB_REGISTERED.into(),
            payload: json!({ "spec": s }),
            actor: "init".into(),
        })
        .collect();
    store.append(&events).await.unwrap();
}

pub async fn command(store: &Store, role: Role, action: Action, target: Target) -> i64 {
    store
        .submit_command(&NewCommand {
            who: "alice".into(),
            role,
            action,
            target,
            args: Value::Null,
        })
        .await
        .unwrap()
        .id
}

/// Wait for the engine to decide a command; returns (accepted, reason).
pub async fn decided(store: &Store, id: i64) -> (bool, Option<String>) {
    let t0 = Instant::now();
    loop {
        let c = store.command(id).await.unwrap().unwrap();
        match c.status {
            CommandStatus::Pending => {}
            CommandStatus::Accepted => return (true, c.reason),
            CommandStatus::Rejected => return (false, c.reason),
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "command {id} never decided"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_for(
    store: &Store,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[DbState]) -> bool,
) -> Vec<DbState> {
    let t0 = Instant::now();
    loop {
        let states = store.db_states().await.unwrap();
        if done(&states) {
            return states;
        }
        if t0.elapsed() > timeout {
            let summary: Vec<String> = states
                .iter()
                .map(|s| format!("{} {} {:?}", s.db_id, s.stage, s.last_error))
                .collect();
            panic!("timed out waiting for {what}: {summary:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn all_events(store: &Store) -> Vec<Event> {
    store.events_after(0, 1_000_000).await.unwrap()
}

/// Every intent has exactly one outcome (same step and attempt), and no (db, step, attempt)
/// was started twice: nothing was done twice except recorded retries.
pub fn check_intents(events: &[Event]) {
    let mut open: BTreeMap<(String, String, u64), usize> = BTreeMap::new();
    let mut seen_intents: BTreeSet<(String, String, u64, i64)> = BTreeSet::new();
    let mut stage_visit: BTreeMap<String, i64> = BTreeMap::new();
    for e in events {
        let Some(db) = e.db_id.clone() else { continue };
        if e.kind == kind::DB_STAGE {
            stage_visit.insert(db.clone(), e.seq);
        }
        let step = e.payload["step"].as_str().unwrap_or_default().to_string();
        let attempt = e.payload["attempt"].as_u64().unwrap_or(0);
        let visit = stage_visit.get(&db).copied().unwrap_or(0);
        if e.kind == kind::STEP_INTENT {
            assert!(
                seen_intents.insert((db.clone(), step.clone(), attempt, visit)),
                "{db}: intent {step} attempt {attempt} written twice (seq {})",
                e.seq
            );
            *open.entry((db, step, attempt)).or_default() += 1;
        } else if e.kind == kind::STEP_OUTCOME {
            let n = open.get_mut(&(db.clone(), step.clone(), attempt));
            match n {
                Some(n) if *n > 0 => *n -= 1,
                _ => panic!(
                    "{db}: outcome of {step} attempt {attempt} without intent (seq {})",
                    e.seq
                ),
            }
        }
    }
    let left: Vec<_> = open.iter().filter(|(_, n)| **n > 0).collect();
    assert!(left.is_empty(), "intents without outcome: {left:?}");
}

pub fn outcomes<'a>(events: &'a [Event], db: &str, step: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| {
            e.kind == kind::STEP_OUTCOME
                && e.db_id.as_deref() == Some(db)
                && e.payload["step"] == step
        })
        .collect()
}

/// Kills the child when dropped, so a failing test leaves no process behind.
pub struct Reap(pub std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            signal(&self.0, libc::SIGKILL);
            let _ = self.0.wait();
        }
    }
}

/// A child process killed (SIGKILL) or stopped (SIGTERM) by pid.
pub fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub const TEST_AK: &str = "WDTESTAK0000000000001";
pub const TEST_SK: &str = "wdtestsk00000000000000000000000000000001";

pub fn wavedeck(
    cfg_path: &std::path::Path,
    args: &[&str],
    log: &std::path::Path,
) -> std::process::Child {
    wavedeck_env(cfg_path, args, log, &[])
}

pub fn wavedeck_env(
    cfg_path: &std::path::Path,
    args: &[&str],
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    wavedeck_command(cfg_path, args, env)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

/// The real binary with the test's config, the emulator's AK/SK and `env`, not yet started.
pub fn wavedeck_command(
    cfg_path: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"));
    c.arg("--config")
        .arg(cfg_path)
        .args(args)
        .env("HUAWEICLOUD_SDK_AK", TEST_AK)
        .env("HUAWEICLOUD_SDK_SK", TEST_SK)
        .env_remove("WAVEDECK_STORE")
        .env_remove("WAVEDECK_FAULT_STALL_AT")
        .envs(env.iter().copied());
    c
}

pub fn start_workload(lab: &LabState, db: &str) -> workload::Running {
    Workload {
        engine: wavedeck::inventory::Engine::Postgres,
        client: format!("test-{db}"),
        dns: lab.dns_file(),
        dns_name: LabState::dns_name(db),
        side: lab.side(&lab.source, db),
        pause: Duration::from_millis(5),
    }
    .start()
}

/// Wait until the workload has `n` acknowledgements from `endpoint`.
pub async fn wait_acks(w: &workload::Running, endpoint: &str, n: usize) {
    let started = Instant::now();
    loop {
        let s = w.snapshot();
        if s.acks.iter().filter(|a| a.endpoint == endpoint).count() >= n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "workload got no {n} acks from {endpoint} in 60 s; last error: {:?}",
            s.last_error
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn assert_all_acked_once(side: &wavedeck::cutover::side::Side, stats: &WorkloadStats) {
    let mut c = side.connect_admin("check").await.unwrap();
    assert_audit_clean(&workload::audit(&mut c, stats).await.unwrap());
}

/// Enough acknowledged writes to prove something, none lost, none applied twice.
pub fn assert_audit_clean(a: &workload::Audit) {
    assert!(a.acked > 100, "too few writes to prove anything: {a:?}");
    assert!(
        a.missing.is_empty(),
        "acknowledged writes lost: {:?}",
        a.missing
    );
    assert!(
        a.duplicated.is_empty(),
        "writes applied twice: {:?}",
        a.duplicated
    );
}

pub async fn read_only(side: &wavedeck::cutover::side::Side) -> bool {
    let mut c = side.connect_admin("check").await.unwrap();
    pg::db_read_only(&mut c, &side.database).await.unwrap()
}

/// Wait until the store's engine lease is held (`held`) or free (a killed engine's lease
/// expires after `engine.lease_ttl_s`).
pub async fn wait_lease(store: &Store, held: bool, within: Duration) {
    let t0 = Instant::now();
    while store.lease_holder().await.unwrap().is_some() != held {
        assert!(
            t0.elapsed() < within,
            "the engine lease was never {} within {within:?}",
            if held { "taken" } else { "free" }
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stop an engine process cleanly (SIGTERM once it holds the lease) and check its exit.
pub async fn stop_engine(store: &Store, mut engine: Reap) {
    wait_lease(store, true, Duration::from_secs(20)).await;
    signal(&engine.0, libc::SIGTERM);
    let status = engine.0.wait().unwrap();
    assert!(status.success(), "engine exit on SIGTERM: {status}");
}

pub mod cutover_rig;
pub mod lab_driver;
pub mod mysql;
pub mod native;
pub mod receiver;
pub mod validation;
