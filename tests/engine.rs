//! The engine against the DRS emulator (the one stand-in allowed: it speaks the real DRS API)
//! and a real SQLite store: a wave runs to `ready`, operator commands are accepted or refused
//! with reasons, an injected fault is retried, and `kill -9` of the real `wavedeck run` binary
//! at random moments never loses or repeats a step.

mod common;

use chrono::Utc;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use wavedeck::config::{ChecksMode, Config};
use wavedeck::drs::DrsClient;
use wavedeck::inventory::{Criticality, DatabaseSpec, Endpoint, Engine};
use wavedeck::lifecycle::Stage;
use wavedeck::rehearsal::drs_emulator::faults::{FaultPlan, JobFaultKind, JobFaultRule};
use wavedeck::secret::SecretRef;
use wavedeck::store::{kind, Action, Role, Store, Target};

const SPEED: f64 = 800.0;

fn spec(id: &str, wave: u32, size_gb: f64, i: usize) -> DatabaseSpec {
    let ep = |host: &str, port: u16| Endpoint {
        host: host.into(),
        port,
        database: id.replace('-', "_"),
        user: "migrator".into(),
        // The emulator connects to nothing; DRS's connection test needs a password.
        password: SecretRef::File("/dev/null".into()),
    };
    let engine = if i.is_multiple_of(2) {
        Engine::Postgres
    } else {
        Engine::Mysql
    };
    DatabaseSpec::new(id, engine, ep("10.0.0.1", 5432), ep("10.1.0.1", 5432))
        .with_version("15")
        .with_size_gb(size_gb)
        .with_owner(format!("team-{}", i % 3))
        .with_criticality([Criticality::Low, Criticality::Medium, Criticality::High][i % 3])
        .with_window("daily 00:00-24:00 UTC")
        .with_wave(Some(wave))
}

struct Rig {
    _dir: tempfile::TempDir,
    cfg: Config,
    store: Store,
    _emu: wavedeck::rehearsal::drs_emulator::EmulatorHandle,
    drs: DrsClient,
}

async fn rig(n: usize, faults: FaultPlan) -> (Rig, Vec<DatabaseSpec>) {
    let dir = tempfile::tempdir().unwrap();
    let base = engine_config(dir.path(), SPEED);
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    emu.set_faults(faults);
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    let specs: Vec<DatabaseSpec> = (0..n)
        .map(|i| spec(&format!("db-{i:02}"), 0, 0.5 + i as f64 * 0.7, i))
        .collect();
    register(&store, &specs).await;
    (
        Rig {
            _dir: dir,
            cfg,
            store,
            _emu: emu,
            drs,
        },
        specs,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_runs_to_ready_and_commands_are_judged() {
    let (r, specs) = rig(6, FaultPlan::default()).await;
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    // A second engine on the same store is refused, naming the holder.
    let second = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone()).await;
    let err = second.err().expect("second engine refused").to_string();
    assert!(err.contains("already runs the engine"), "{err}");

    let viewer = command(&r.store, Role::Viewer, Action::StartWave, Target::Wave(0)).await;
    let (ok, why) = decided(&r.store, viewer).await;
    assert!(
        !ok && why.as_deref().unwrap_or("").contains("viewer"),
        "{why:?}"
    );
    let nowave = command(&r.store, Role::Operator, Action::StartWave, Target::Wave(7)).await;
    let (ok, why) = decided(&r.store, nowave).await;
    assert!(!ok && why.unwrap_or_default().contains("wave 7"));

    let start = command(&r.store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&r.store, start).await.0);
    // Cutover before the window is approved: refused, with the guards in words.
    let early = command(
        &r.store,
        Role::Operator,
        Action::Cutover,
        Target::Db("db-00".into()),
    )
    .await;
    let (ok, why) = decided(&r.store, early).await;
    assert!(!ok, "cutover accepted too early");
    assert!(why.unwrap_or_default().contains("cutover"));

    let states = wait_for(
        &r.store,
        "every database ready",
        Duration::from_secs(90),
        |s| s.iter().all(|d| d.stage == Stage::Ready),
    )
    .await;
    for s in &states {
        assert!(s.drs_job_id.is_some(), "{} has no job id", s.db_id);
        assert!(s.validation.as_ref().is_some_and(|v| v.passed));
        assert!(s.precheck.as_ref().is_some_and(|v| v.passed));
        assert!(s.lag_s.is_some());
    }
    let events = all_events(&r.store).await;
    check_intents(&events);
    for s in &specs {
        assert_eq!(outcomes(&events, &s.db_id, "create_job").len(), 1);
        assert_eq!(outcomes(&events, &s.db_id, "start_job").len(), 1);
    }
    let lag = r.store.lag_series("db-00").await.unwrap();
    assert!(!lag.is_empty(), "lag samples recorded");

    // Pause then resume one database: its DRS job is paused, then resumed.
    let pause = command(
        &r.store,
        Role::Operator,
        Action::Pause,
        Target::Db("db-01".into()),
    )
    .await;
    assert!(decided(&r.store, pause).await.0);
    wait_for(&r.store, "db-01 paused", Duration::from_secs(20), |s| {
        s.iter()
            .any(|d| d.db_id == "db-01" && d.stage == Stage::Paused)
    })
    .await;
    let t0 = Instant::now();
    while outcomes(&all_events(&r.store).await, "db-01", "pause_job").is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(20), "job never paused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resume = command(
        &r.store,
        Role::Operator,
        Action::Resume,
        Target::Db("db-01".into()),
    )
    .await;
    assert!(decided(&r.store, resume).await.0);
    let t0 = Instant::now();
    while outcomes(&all_events(&r.store).await, "db-01", "resume_job").is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(20), "job never resumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Retry of a database that did not fail: refused with the reason.
    let retry = command(
        &r.store,
        Role::Operator,
        Action::Retry,
        Target::Db("db-02".into()),
    )
    .await;
    let (ok, why) = decided(&r.store, retry).await;
    assert!(!ok && why.unwrap_or_default().contains("retry"));

    // Abort one: its DRS job is terminated and deleted; the others keep theirs.
    let abort = command(
        &r.store,
        Role::Operator,
        Action::Abort,
        Target::Db("db-03".into()),
    )
    .await;
    assert!(decided(&r.store, abort).await.0);
    let t0 = Instant::now();
    while outcomes(&all_events(&r.store).await, "db-03", "delete_job").is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "aborted job never deleted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The cutover window: approved once, not twice; then the whole wave is cut over.
    let approve = command(
        &r.store,
        Role::Operator,
        Action::ApproveWindow,
        Target::Wave(0),
    )
    .await;
    assert!(decided(&r.store, approve).await.0);
    let again = command(
        &r.store,
        Role::Operator,
        Action::ApproveWindow,
        Target::Wave(0),
    )
    .await;
    let (ok, why) = decided(&r.store, again).await;
    assert!(!ok && why.unwrap_or_default().contains("already approved"));
    wait_for(
        &r.store,
        "db-01 ready again",
        Duration::from_secs(30),
        |s| {
            s.iter()
                .any(|d| d.db_id == "db-01" && d.stage == Stage::Ready)
        },
    )
    .await;
    let cut = command(&r.store, Role::Operator, Action::Cutover, Target::Wave(0)).await;
    let (ok, why) = decided(&r.store, cut).await;
    assert!(ok, "{why:?}");
    eprintln!("wave cutover: {why:?}");
    // A database whose lag spiked above the threshold at that instant was refused with the
    // reason; the operator asks again for it, as they would at night.
    for _ in 0..100 {
        let states = r.store.db_states().await.unwrap();
        let waiting: Vec<String> = states
            .iter()
            .filter(|d| d.stage == Stage::Ready)
            .map(|d| d.db_id.clone())
            .collect();
        if waiting.is_empty() {
            break;
        }
        for id in waiting {
            let c = command(&r.store, Role::Operator, Action::Cutover, Target::Db(id)).await;
            let (ok, why) = decided(&r.store, c).await;
            if !ok {
                let why = why.unwrap_or_default();
                assert!(why.contains("lag"), "{why}");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let states = wait_for(
        &r.store,
        "the wave in hypercare",
        Duration::from_secs(60),
        |s| {
            s.iter()
                .filter(|d| d.db_id != "db-03")
                .all(|d| d.stage == Stage::Hypercare)
        },
    )
    .await;
    assert_eq!(
        states
            .iter()
            .filter(|d| d.stage == Stage::Hypercare)
            .count(),
        5
    );
    let dns = std::fs::read_to_string(&r.cfg.cutover.dns_file).unwrap();
    assert!(
        dns.contains("db-00.db.internal") && dns.contains("10.1.0.1:5432"),
        "{dns}"
    );
    let events = all_events(&r.store).await;
    for id in ["db-00", "db-05"] {
        for step in ["drain_source", "terminate_job", "dns_switch"] {
            assert_eq!(outcomes(&events, id, step).len(), 1, "{id} {step}");
        }
    }
    // Roll one back (DNS back to the source, source writes on); close hypercare of another.
    let rb = command(
        &r.store,
        Role::Operator,
        Action::Rollback,
        Target::Db("db-00".into()),
    )
    .await;
    assert!(decided(&r.store, rb).await.0);
    // Without a restore test, hypercare closes with the operator's reason.
    let close = r
        .store
        .submit_command(&wavedeck::store::NewCommand {
            who: "tester".into(),
            role: Role::Operator,
            action: Action::CloseHypercare,
            target: Target::Db("db-02".into()),
            args: serde_json::json!({"reason": "restore tested by the DBA team on 2026-12-01"}),
        })
        .await
        .unwrap()
        .id;
    assert!(decided(&r.store, close).await.0);
    let t0 = Instant::now();
    loop {
        let ev = all_events(&r.store).await;
        if !outcomes(&ev, "db-00", "dns_switch_back").is_empty()
            && !outcomes(&ev, "db-00", "source_writes_on").is_empty()
            && !outcomes(&ev, "db-02", "delete_job").is_empty()
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "rollback / close never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dns: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&r.cfg.cutover.dns_file).unwrap()).unwrap();
    assert_eq!(
        dns["records"]["db-00.db.internal"]["value"],
        "10.0.0.1:5432"
    );
    engine.shutdown().await.unwrap();
    let events = all_events(&r.store).await;
    check_intents(&events);
    assert!(r.store.verify_chain().await.unwrap().is_ok());
    assert!(
        r.store.lease_holder().await.unwrap().is_none(),
        "lease released"
    );
    let _ = specs;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_are_retried_or_fail_in_plain_words() {
    let plan = FaultPlan {
        rds: vec![],
        requests: vec![],
        jobs: vec![
            JobFaultRule {
                name: "wd-db-00".into(),
                fault: JobFaultKind::FullLoadFail,
                at_pct: Some(40.0),
            },
            JobFaultRule {
                name: "wd-db-01".into(),
                fault: JobFaultKind::PrecheckFail,
                at_pct: None,
            },
        ],
        ..Default::default()
    };
    let (r, _) = rig(3, plan).await;
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    let start = command(&r.store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&r.store, start).await.0);
    let states = wait_for(
        &r.store,
        "db-00 ready and db-01 failed",
        Duration::from_secs(90),
        |s| {
            let st = |id: &str| s.iter().find(|d| d.db_id == id).map(|d| d.stage);
            st("db-00") == Some(Stage::Ready)
                && st("db-01") == Some(Stage::Failed)
                && st("db-02") == Some(Stage::Ready)
        },
    )
    .await;
    let failed = states.iter().find(|d| d.db_id == "db-01").unwrap();
    assert_eq!(failed.held_stage, Some(Stage::Prechecks));
    let words = failed.last_error.clone().unwrap_or_default();
    assert!(words.contains("pre-check"), "{words}");
    let events = all_events(&r.store).await;
    check_intents(&events);
    // The full-load failure was resumed as a recorded retry (attempt 1).
    let resumes = outcomes(&events, "db-00", "resume_job");
    assert!(
        resumes
            .iter()
            .any(|e| e.payload["ok"] == true && e.payload["attempt"] == 1),
        "{resumes:?}"
    );
    // Operator retry of the failed database: accepted, goes back to pre-checks.
    let retry = command(
        &r.store,
        Role::Operator,
        Action::Retry,
        Target::Db("db-01".into()),
    )
    .await;
    assert!(decided(&r.store, retry).await.0);
    wait_for(
        &r.store,
        "db-01 failed again",
        Duration::from_secs(60),
        |s| {
            s.iter()
                .any(|d| d.db_id == "db-01" && d.stage == Stage::Failed)
        },
    )
    .await;
    engine.shutdown().await.unwrap();
    check_intents(&all_events(&r.store).await);
    status_json_reads_what_the_engine_left(&r);
}

/// `wavedeck status --json --dbs --verify`, run as a script would on the store the engine
/// left (db-00 and db-02 ready, db-01 failed in pre-checks), read as the typed shape README
/// documents.
fn status_json_reads_what_the_engine_left(r: &Rig) {
    use wavedeck::store::status::StatusJson;
    let cfg_path = r._dir.path().join("status.yaml");
    std::fs::write(&cfg_path, serde_yaml::to_string(&r.cfg).unwrap()).unwrap();
    let out = wavedeck_command(&cfg_path, &["status", "--json", "--dbs", "--verify"], &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let s: StatusJson = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let r_ = &s.report;
    assert_eq!((r_.databases, r_.engine.as_ref()), (3, None), "{text}");
    assert_eq!(r_.stages.get("ready"), Some(&2), "{text}");
    assert_eq!(r_.stages.get("failed"), Some(&1), "{text}");
    assert_eq!(r_.waves.len(), 1, "{text}");
    assert_eq!((r_.waves[0].wave, r_.waves[0].databases), (Some(0), 3));
    assert!(r_.waves[0].started_at.is_some(), "{text}");
    assert_eq!(r_.failures.len(), 1, "{text}");
    let f = &r_.failures[0];
    assert_eq!(
        (f.db_id.as_str(), f.failed_in),
        ("db-01", Some(Stage::Prechecks))
    );
    assert!(f.error.contains("pre-check"), "{text}");
    let dbs = r_.dbs.as_ref().expect("--dbs rows");
    assert_eq!(dbs.len(), 3, "{text}");
    assert!(dbs.iter().all(|d| d.drs_job_id.is_some()), "{text}");
    assert_eq!(s.limits.drs_concurrency, r.cfg.limits.drs_concurrency);
    assert_eq!(s.limits.checks, ChecksMode::Drs);
    let chain = s.chain.as_ref().expect("--verify adds the chain");
    assert!(chain.is_ok() && chain.checked == r_.last_seq, "{text}");
    // The names README documents stay at the top level (scripts `jq` them).
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for k in [
        "store",
        "last_seq",
        "engine",
        "databases",
        "stages",
        "waves",
        "failures",
        "limits",
        "dbs",
        "chain",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {text}");
    }
}

/// kill -9 of the real engine binary at random moments, at least 20 times, while a wave of 20
/// databases runs against an emulator in its own process (its jobs outlive the engine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_never_loses_or_repeats_a_step() {
    use rand::Rng;
    let dir = tempfile::tempdir().unwrap();
    let speed = 20.0;
    let port = free_port();
    let mut cfg = engine_config(dir.path(), speed);
    cfg.engine.lease_ttl_s = 1;
    cfg.drs.endpoint = format!("http://127.0.0.1:{port}");
    cfg.drs.project_id = "0123456789abcdef0123456789abcdef".into();
    wavedeck::rehearsal::drs_emulator::emulated_network(&mut cfg.drs);
    let cfg_path = dir.path().join("wavedeck.yaml");
    std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    let log = dir.path().join("processes.log");

    let listen = format!("127.0.0.1:{port}");
    let emulator = Reap(wavedeck(
        &cfg_path,
        &["emulator", "--listen", &listen],
        &log,
    ));
    let t0 = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "emulator did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let store = Store::open(&cfg.store).await.unwrap();
    let specs: Vec<DatabaseSpec> = (0..20)
        .map(|i| spec(&format!("db-{i:02}"), 0, 2.0 + (i % 7) as f64 * 4.0, i))
        .collect();
    register(&store, &specs).await;
    let start = command(&store, Role::Operator, Action::StartWave, Target::Wave(0)).await;

    let mut rng = rand::thread_rng();
    let mut kills = 0;
    let mut ready_at_kill = Vec::new();
    let mut stages_hit = BTreeSet::new();
    while kills < 22 {
        wait_lease(&store, false, Duration::from_secs(10)).await;
        let mut engine = Reap(wavedeck_env(
            &cfg_path,
            &["run"],
            &log,
            &[("WAVEDECK_ENGINE_STEP_DELAY_MS", "150")],
        ));
        let t0 = Instant::now();
        while store.lease_holder().await.unwrap().is_none() {
            if let Some(status) = engine.0.try_wait().unwrap() {
                panic!(
                    "engine exited early ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "engine never took the lease"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Kill after the engine has made some progress (a random number of new events), not
        // after a fixed time: on a busy machine a timer alone may never get past pre-checks,
        // and the kills must land across the stages.
        let seq0 = store.last_seq().await.unwrap();
        let wanted = rng.gen_range(2..30);
        let t0 = Instant::now();
        while store.last_seq().await.unwrap() < seq0 + wanted
            && t0.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..200))).await;
        signal(&engine.0, libc::SIGKILL);
        engine.0.wait().unwrap();
        kills += 1;
        let states = store.db_states().await.unwrap();
        ready_at_kill.push(states.iter().filter(|s| s.stage == Stage::Ready).count());
        for s in &states {
            stages_hit.insert(s.stage);
        }
    }
    assert!(decided(&store, start).await.0, "start_wave accepted");
    // Most kills must have hit a running wave, not a finished one.
    let mid_wave = ready_at_kill.iter().filter(|n| **n < 20).count();
    assert!(
        mid_wave >= 15,
        "only {mid_wave} kills hit the running wave: {ready_at_kill:?}"
    );

    // A last engine finishes the wave, then stops cleanly on SIGTERM.
    wait_lease(&store, false, Duration::from_secs(10)).await;
    let engine = Reap(wavedeck(&cfg_path, &["run"], &log));
    let states = wait_for(
        &store,
        "the wave to finish after the kills",
        Duration::from_secs(180),
        |s| s.iter().all(|d| d.stage == Stage::Ready),
    )
    .await;
    // It holds the lease (it is running), then SIGTERM stops it cleanly.
    stop_engine(&store, engine).await;
    assert!(
        store.lease_holder().await.unwrap().is_none(),
        "lease released on SIGTERM"
    );

    assert!(
        store.verify_chain().await.unwrap().is_ok(),
        "event chain verifies"
    );
    let events = all_events(&store).await;
    check_intents(&events);
    for s in &specs {
        for step in [
            "create_job",
            "prepare_job",
            "drs_precheck",
            "start_job",
            "compare",
        ] {
            let ok: Vec<_> = outcomes(&events, &s.db_id, step)
                .into_iter()
                .filter(|e| e.payload["ok"] == true)
                .collect();
            assert_eq!(
                ok.len(),
                1,
                "{}: {step} succeeded {} times",
                s.db_id,
                ok.len()
            );
        }
    }
    // Exactly one DRS job per database, as the emulator (a separate process) knows them.
    let client = DrsClient::new(&cfg, wavedeck::drs::Auth::aksk(TEST_AK, TEST_SK)).unwrap();
    let mut jobs = client.list_all_jobs(Engine::Postgres).await.unwrap();
    jobs.extend(client.list_all_jobs(Engine::Mysql).await.unwrap());
    let mut per_name: BTreeMap<String, usize> = BTreeMap::new();
    for j in &jobs {
        *per_name.entry(j.name.clone()).or_default() += 1;
    }
    assert_eq!(per_name.len(), 20, "{per_name:?}");
    assert!(per_name.values().all(|n| *n == 1), "{per_name:?}");
    for s in &states {
        let name = wavedeck::drs::api::job_name_for(&s.db_id);
        let job = jobs.iter().find(|j| j.name == name).unwrap();
        assert_eq!(
            s.drs_job_id.as_deref(),
            Some(job.id.as_str()),
            "{}",
            s.db_id
        );
    }
    let recovered = events
        .iter()
        .filter(|e| e.kind == kind::STEP_OUTCOME && e.payload["recovered"] == true)
        .count();
    eprintln!("{kills} kills; ready after each: {ready_at_kill:?}; stages seen at kills: {stages_hit:?}; {recovered} steps resumed after a kill");
    let working = [
        Stage::Prechecks,
        Stage::Provisioning,
        Stage::FullLoad,
        Stage::Cdc,
        Stage::Validation,
    ];
    let hit = working.iter().filter(|s| stages_hit.contains(s)).count();
    assert!(hit >= 3, "kills hit too few stages: {stages_hit:?}");
    assert!(
        recovered > 0,
        "no kill landed between a step and its record"
    );
    drop(emulator);
}

/// Wait until every job has left `from` (pre-check results or statuses), polling in batches.
async fn until_all<F>(what: &str, within: Duration, mut done: F)
where
    F: AsyncFnMut() -> bool,
{
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_round_over_2000_in_flight_jobs_costs_a_few_dozen_calls() {
    use wavedeck::drs::model::{CreateJobReq, JobId, JobStatus};
    use wavedeck::engine::brain::{Look, LookKind, Seen};
    use wavedeck::engine::classify::ErrorClass;

    // 2000 started jobs: 200 small ones reach CDC at once, 1800 big ones stay in full load
    // (500 GB at 100 MB/s is ~85 emulated minutes: 51 s at x100, longer than the test).
    let dir = tempfile::tempdir().unwrap();
    let mut base = engine_config(dir.path(), SPEED);
    base.emulator.speed = 100.0;
    base.emulator.quota = 2100;
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let specs: Vec<DatabaseSpec> = (0..2000)
        .map(|i| {
            let size = if i < 200 { 0.01 } else { 500.0 };
            spec(&format!("round-{i:04}"), 0, size, i)
        })
        .collect();
    let reqs: Vec<CreateJobReq> = specs
        .iter()
        .map(|s| wavedeck::drs::api::create_request(s, &cfg.drs, None, None))
        .collect();
    let created = drs.create_jobs(&reqs).await.unwrap();
    let ids: Vec<JobId> = created.iter().map(|r| JobId(r.id.clone())).collect();
    assert!(created.iter().all(|r| r.error_code.is_none()));
    until_all("CONFIGURATION", Duration::from_secs(30), async || {
        let st = drs.batch_status(&ids).await.unwrap();
        st.iter()
            .all(|s| s.status == Some(JobStatus::Configuration))
    })
    .await;
    let pairs: Vec<(DatabaseSpec, JobId)> = specs.iter().cloned().zip(ids.clone()).collect();
    let prepared = drs.prepare_jobs(&pairs, &cfg.drs).await.unwrap();
    assert!(prepared.iter().all(|(_, r)| r.is_ok()));
    drs.precheck(&ids, false).await.unwrap();
    until_all("pre-checks", Duration::from_secs(30), async || {
        let r = drs.precheck_results(&ids).await.unwrap();
        r.len() == ids.len() && r.iter().all(|p| p.finished() && p.passed())
    })
    .await;
    let started = drs.start(&ids).await.unwrap();
    assert!(wavedeck::drs::api::item_errors("batch-starting", &started).is_empty());
    until_all(
        "CDC of the small jobs",
        Duration::from_secs(30),
        async || {
            let st = drs.batch_status(&ids).await.unwrap();
            st.iter().enumerate().all(|(i, s)| {
                s.status
                    == Some(if i < 200 {
                        JobStatus::IncreTransferStarted
                    } else {
                        JobStatus::FullTransferStarted
                    })
            })
        },
    )
    .await;
    // And one id DRS never had (a job deleted outside wavedeck).
    let gone = JobId("00000000-0000-4000-8000-00000000jb00".into());
    let all: Vec<(Look, Engine)> = specs
        .iter()
        .zip(&ids)
        .chain(std::iter::once((&specs[1999], &gone)))
        .enumerate()
        .map(|(i, (s, id))| {
            let cdc = i < 200;
            let look = Look {
                db: s.db_id.clone(),
                job: id.0.clone(),
                kind: LookKind::Job,
                // Worst case: every look wants its progress or lag in the same round.
                progress: true,
                urgency: if cdc { 4 } else { 1 },
                overdue_s: 0.0,
            };
            (look, s.engine)
        })
        .collect();

    let before = emu.requests_served();
    let seen = wavedeck::engine::effects::poll_round::round(&drs, &all, 20).await;
    let calls = emu.requests_served() - before;
    // 20 batch-progress calls (200 jobs), 19 job-list calls for the other 1801 (900 sync and
    // 901 migration jobs, 100 per call) and one batch-status for the id the list did not return.
    assert_eq!(calls, 40, "calls counted at the emulator");
    assert_eq!(seen.len(), 2001);
    for (i, s) in seen.iter().enumerate() {
        match (i, s) {
            (2000, Seen::Gone) => {}
            (
                0..200,
                Seen::Job {
                    status,
                    progress_pct: Some(p),
                    lag_s: Some(_),
                },
            ) => assert_eq!((status.as_str(), *p), ("INCRE_TRANSFER_STARTED", 100.0)),
            (
                200..2000,
                Seen::Job {
                    status,
                    progress_pct: None,
                    lag_s: None,
                },
            ) => assert_eq!(status.as_str(), "FULL_TRANSFER_STARTED"),
            other => panic!("look {i}: {other:?}"),
        }
    }

    // The full loads' progress comes in the next rounds (the CDC ones are looked at less now).
    let later: Vec<(Look, Engine)> = all[200..2000].to_vec();
    let before = emu.requests_served();
    let seen = wavedeck::engine::effects::poll_round::round(&drs, &later, 20).await;
    assert_eq!(emu.requests_served() - before, 20 + 16);
    let with_pct = seen
        .iter()
        .filter(|s| matches!(s, Seen::Job { progress_pct: Some(p), .. } if *p < 100.0))
        .count();
    assert_eq!(with_pct, 200);

    // Throttled: every look reports it, and the brain backs off the whole client.
    let throttled = drs.with_header(wavedeck::drs::client::FAULT_HEADER, "429");
    let seen = wavedeck::engine::effects::poll_round::round(&throttled, &all[..300], 20).await;
    assert!(seen
        .iter()
        .all(|s| matches!(s, Seen::Err(f) if f.class == ErrorClass::Throttled)));
    emu.shutdown().await;
}

/// A command row written behind wavedeck's back (a time in milliseconds) is rejected with an
/// event saying why, and the engine goes on: it starts with the row there, and decides the next
/// good command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_command_row_is_rejected_and_the_engine_goes_on() {
    use sqlx::Connection;
    let (r, _specs) = rig(1, FaultPlan::default()).await;
    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(&r.cfg.store).await.unwrap();
    let poison = "INSERT INTO commands (time, who, role, action, target, args, status) VALUES \
        ('1764669600000', 'script', 'operator', 'start_wave', '{\"wave\":0}', 'null', 'pending')";
    sqlx::query(poison).execute(&mut raw).await.unwrap();
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    let good = command(&r.store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&r.store, good).await.0);
    // A second poisoned row while it runs.
    sqlx::query(poison).execute(&mut raw).await.unwrap();
    let pause = command(
        &r.store,
        Role::Operator,
        Action::ApproveWindow,
        Target::Wave(0),
    )
    .await;
    decided(&r.store, pause).await;
    raw.close().await.unwrap();
    let rejected: Vec<_> = all_events(&r.store)
        .await
        .into_iter()
        .filter(|e| e.kind == kind::COMMAND_REJECTED && e.payload["malformed"] == true)
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    let why = rejected[0].payload["reason"].as_str().unwrap();
    assert!(
        why.contains("time \"1764669600000\" is not in the store's format"),
        "{why}"
    );
    assert_eq!(rejected[0].wave, Some(0));
    engine.shutdown().await.unwrap();
}

/// After a crash on the same host (the holder's pid is gone) a new engine takes the lease at
/// once; a holder on another host keeps it until its TTL runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_engine_of_this_host_is_taken_over_at_once() {
    use sqlx::Connection;
    let (r, _specs) = rig(1, FaultPlan::default()).await;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    // A pid that existed and is gone: a child we ran and reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id();
    child.wait().unwrap();
    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(&r.cfg.store).await.unwrap();
    let until = (Utc::now() + chrono::Duration::seconds(600))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let put = |holder: String| {
        format!("INSERT INTO lease (name, holder, acquired_at, expires_at) VALUES ('engine', '{holder}', '{until}', '{until}') \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at")
    };
    sqlx::query(&put("far-away-host:1:0000abcd".into()))
        .execute(&mut raw)
        .await
        .unwrap();
    let err = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .err()
        .expect("another host's lease is kept");
    assert!(
        err.to_string().contains("far-away-host:1:0000abcd"),
        "{err}"
    );
    sqlx::query(&put(format!("{host}:{gone}:0000abcd")))
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    let t0 = Instant::now();
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .expect("the dead engine's lease is taken over");
    assert!(t0.elapsed() < Duration::from_secs(5));
    let holder = r.store.lease_holder().await.unwrap().unwrap().holder;
    assert!(
        holder.starts_with(&format!("{host}:{}:", std::process::id())),
        "{holder}"
    );
    let start = command(&r.store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&r.store, start).await.0, "the new engine acts");
    engine.shutdown().await.unwrap();
}

/// Temporary credentials from a file without `expires_at`, rotated on disk while a wave runs
/// (a new key written and moved over the file, the old key then refused by the emulator's
/// IAM): the real `wavedeck run` binary picks the new key up by itself and the wave reaches
/// `ready`. Neither key's secret nor its security token is in the engine's logs (at trace
/// level), its output, the store's events, an exported evidence pack, `wavedeck status` or the
/// cockpit's screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_temporary_credentials_are_picked_up_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let base = engine_config(dir.path(), SPEED);
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut cfg = emu.client_config(&base);
    let creds = dir.path().join("securitykey");
    let write_key = |k: &wavedeck::drs::auth::TemporaryKey| {
        // As a renewer does it: a whole new file moved over the old one.
        let next = dir.path().join("securitykey.next");
        std::fs::write(
            &next,
            format!(
                "ak={}\nsk={}\nsecurity_token={}\n",
                k.ak.expose(),
                k.sk.expose(),
                k.token.expose()
            ),
        )
        .unwrap();
        std::fs::rename(&next, &creds).unwrap();
    };
    let first = emu.issue_temporary(None);
    write_key(&first);
    cfg.drs.temporary_credentials_file = Some(creds.clone());
    let cfg_path = dir.path().join("wavedeck.yaml");
    std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    let out = dir.path().join("processes.log");

    let store = Store::open(&cfg.store).await.unwrap();
    let specs: Vec<DatabaseSpec> = (0..4)
        .map(|i| spec(&format!("tmpcred-{i:02}"), 0, 1.0 + i as f64, i))
        .collect();
    register(&store, &specs).await;
    command(&store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    let engine = Reap(wavedeck_env(
        &cfg_path,
        &["run"],
        &out,
        &[("RUST_LOG", "trace")],
    ));
    // The first key at work: the jobs are made.
    wait_for(
        &store,
        "the jobs to be created",
        Duration::from_secs(60),
        |s| s.iter().all(|d| d.stage >= Stage::Provisioning),
    )
    .await;
    assert!(emu.requests_signed_by(first.ak.expose()) > 0);
    let second = emu.issue_temporary(None);
    write_key(&second);
    // Once the new key is in use, the old one is refused: every later call must carry the new.
    let t0 = Instant::now();
    while emu.requests_signed_by(second.ak.expose()) < 20 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the rotated key was never used: {}",
            std::fs::read_to_string(&out).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    emu.revoke_temporary(first.ak.expose());
    wait_for(
        &store,
        "the wave to be ready",
        Duration::from_secs(180),
        |s| s.iter().all(|d| d.stage == Stage::Ready),
    )
    .await;
    stop_engine(&store, engine).await;

    // Everything wavedeck wrote or showed.
    let mut shown: Vec<(String, String)> = Vec::new();
    let read_tree = |root: &std::path::Path, shown: &mut Vec<(String, String)>| {
        for e in walk(root) {
            if let Ok(text) = std::fs::read(&e) {
                shown.push((
                    e.display().to_string(),
                    String::from_utf8_lossy(&text).into_owned(),
                ));
            }
        }
    };
    read_tree(&cfg.log_dir, &mut shown);
    assert!(
        shown.iter().any(|(_, t)| t.contains("TRACE")),
        "no trace-level log was written under {}",
        cfg.log_dir.display()
    );
    shown.push((
        "engine output".into(),
        std::fs::read_to_string(&out).unwrap_or_default(),
    ));
    let events = all_events(&store).await;
    assert!(events.len() > 20);
    shown.push(("events".into(), format!("{events:?}")));
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec![
            "evidence",
            "export",
            "--wave",
            "0",
            "--out",
            dir.path().join("evidence").to_str().unwrap(),
        ],
    ] {
        let o = wavedeck_command(&cfg_path, &args, &[]).output().unwrap();
        assert!(o.status.success(), "{args:?}: {o:?}");
        shown.push((
            format!("wavedeck {}", args.join(" ")),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        ));
    }
    read_tree(&dir.path().join("evidence"), &mut shown);
    assert!(
        shown.iter().any(|(p, _)| p.contains("evidence")),
        "no evidence pack was written"
    );
    if let Some(screen) = cockpit_screen(&cfg_path, &cfg.store) {
        assert!(
            screen.contains("tmpcred-00") && screen.contains("DRS status"),
            "{screen}"
        );
        shown.push(("cockpit".into(), screen));
    }
    for k in [&first, &second] {
        for secret in [k.sk.expose(), k.token.expose()] {
            for (what, text) in &shown {
                assert!(
                    !text.contains(secret),
                    "a temporary credential secret is shown in {what}"
                );
            }
        }
    }
    emu.shutdown().await;
}

/// Every file under `root`.
fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The cockpit's screen (a read-only session in a real terminal, tmux), or `None` without tmux.
fn cockpit_screen(cfg_path: &std::path::Path, store: &str) -> Option<String> {
    let tmux = |args: &[&str]| std::process::Command::new("tmux").args(args).output();
    tmux(&["-V"]).ok().filter(|o| o.status.success())?;
    let session = format!("wd-tmpcred-{}", std::process::id());
    let cmd = format!(
        "{} --config {} --read-only tui --store {store}; sleep 30",
        env!("CARGO_BIN_EXE_wavedeck"),
        cfg_path.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "160",
        "-y",
        "48",
        &cmd,
    ])
    .unwrap();
    let capture_until = |want: &str| {
        let t0 = Instant::now();
        loop {
            let o = tmux(&["capture-pane", "-p", "-t", &session]).unwrap();
            let screen = String::from_utf8_lossy(&o.stdout).into_owned();
            if screen.contains(want) || t0.elapsed() > Duration::from_secs(30) {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The waves view, then the databases view (key 2), then the first database's detail.
    let mut screens = capture_until("Waves (1)");
    tmux(&["send-keys", "-t", &session, "2"]).unwrap();
    screens += &capture_until("tmpcred-00");
    tmux(&["send-keys", "-t", &session, "Enter"]).unwrap();
    screens += &capture_until("DRS status");
    let _ = tmux(&["kill-session", "-t", &session]);
    Some(screens)
}
