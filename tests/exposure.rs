//! The "no public exposure" pre-check (issue #16) from the real producers: the engine's own
//! pre-check step against real PostgreSQL databases, its RDS v3 / VPC v3 reads signed and served
//! by the DRS emulator, whose fault plan exposes one instance at a time (an EIP bound,
//! 0.0.0.0/0 on the database port, 0.0.0.0/0 on everything). The brain files the result, the
//! store keeps it, the evidence pack's `exposure.json` shows it; at cutover the guard step asks
//! again and refuses a target exposed since.

mod common;

use chrono::Utc;
use common::cutover_rig::{self, EngineRig};
use common::validation::{self as shared, Pair};
use futures::future::BoxFuture;
use std::path::Path;
use std::time::Duration;
use wavedeck::checks::{CheckResult, Status};
use wavedeck::config::{ChecksMode, Config, SourceDrain};
use wavedeck::drs::api::EXTRA_RDS_INSTANCE;
use wavedeck::drs::Auth;
use wavedeck::engine::brain::{Brain, EffectStep, LookKind, Seed, Settings, Work, WorkResult};
use wavedeck::inventory::{DatabaseSpec, Engine};
use wavedeck::lifecycle::Stage;
use wavedeck::rehearsal::drs_emulator::cloud::EMULATED_EIP;
use wavedeck::rehearsal::drs_emulator::faults::FaultPlan;
use wavedeck::rehearsal::drs_emulator::{self as emulator, EmulatorHandle};
use wavedeck::store::Store;

const SETUP: &str = "CREATE TABLE accounts (id INT PRIMARY KEY, owner TEXT);
INSERT INTO accounts VALUES (1, 'ada'), (2, 'bob');";

/// The fault plan of these tests: one instance per exposure; any other id is clean.
const PLAN: &str = "rds:
  - instance: rds-eip
    fault: public_ip
  - instance: rds-open-port
    fault: open_port
  - instance: rds-open-all
    fault: open_all
";

async fn with_pg_pair<F, Fut>(tag: &str, body: F)
where
    F: FnOnce(Pair) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let create = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            shared::pg_exec("postgres", &format!("CREATE DATABASE {db}")).await;
            shared::pg_exec(&db, SETUP).await;
        })
    };
    let drop = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            shared::pg_exec(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
            .await;
        })
    };
    shared::with_pair(tag, create, drop, body).await
}

/// The emulator with the plan above, and the engine's settings pointed at it (DRS, RDS, VPC).
async fn emulator_with_plan(dir: &Path) -> (EmulatorHandle, Config) {
    let mut base = Config {
        store: format!("sqlite://{}", dir.join("store.db").display()),
        log_dir: dir.join("logs"),
        ..Config::default()
    };
    base.engine.checks = ChecksMode::Sql;
    let emu = emulator::spawn_with(
        &base,
        "127.0.0.1:0".parse().unwrap(),
        Auth::aksk(common::TEST_AK, common::TEST_SK),
    )
    .await
    .unwrap();
    emu.set_faults(FaultPlan::parse(Path::new("plan.yaml"), PLAN).unwrap());
    let cfg = emu.client_config(&base);
    (emu, cfg)
}

fn with_instance(spec: &DatabaseSpec, id: &str) -> DatabaseSpec {
    let mut s = spec.clone();
    s.extra
        .insert(EXTRA_RDS_INSTANCE.into(), serde_json::json!(id));
    s
}

/// The engine's pre-check step (`EffectStep::SqlPrecheck`) as the runtime calls it, and its
/// report.
async fn precheck_step(
    cfg: &Config,
    store: &Store,
    auth: &Auth,
    spec: &DatabaseSpec,
) -> (WorkResult, Vec<CheckResult>) {
    let result = wavedeck::engine::effects::checks::run(
        cfg,
        store,
        auth,
        Some(spec),
        EffectStep::SqlPrecheck,
    )
    .await;
    let checks = match &result {
        WorkResult::Ok {
            report: Some(r), ..
        } => serde_json::from_value(r.detail.clone()).unwrap(),
        other => panic!("pre-check step returned {other:?}"),
    };
    (result, checks)
}

fn get<'a>(res: &'a [CheckResult], name: &str) -> &'a CheckResult {
    res.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no {name} in {res:#?}"))
}

fn passed(result: &WorkResult) -> bool {
    matches!(result, WorkResult::Ok { report: Some(r), .. } if r.passed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_precheck_step_passes_a_private_target_and_finds_each_seeded_exposure() {
    with_pg_pair("exposure", |p| async move {
        let dir = tempfile::tempdir().unwrap();
        let (emu, cfg) = emulator_with_plan(dir.path()).await;
        let store = Store::open(&cfg.store).await.unwrap();
        let auth = emu.auth();
        let base = shared::spec(Engine::Postgres, &p, "postgres");

        // A private target: both verdicts pass, and no failure of the step is an exposure one.
        let (_, clean) =
            precheck_step(&cfg, &store, &auth, &with_instance(&base, "rds-clean")).await;
        for n in ["target/public_ip", "target/security_group"] {
            assert_eq!(get(&clean, n).status, Status::Pass, "{:?}", get(&clean, n));
        }
        assert!(get(&clean, "target/security_group")
            .evidence
            .contains("sg-rds-clean"));

        // An EIP bound: named with the instance, and the fix says what to unbind.
        let (r, res) = precheck_step(&cfg, &store, &auth, &with_instance(&base, "rds-eip")).await;
        assert!(!passed(&r));
        let ip = get(&res, "target/public_ip");
        assert_eq!(ip.status, Status::Fail, "{ip:?}");
        assert!(
            ip.evidence.contains("rds-eip") && ip.evidence.contains(EMULATED_EIP),
            "{ip:?}"
        );
        assert!(
            ip.fix
                .as_deref()
                .unwrap()
                .contains(&format!("unbind EIP {EMULATED_EIP}")),
            "{ip:?}"
        );
        assert_eq!(get(&res, "target/security_group").status, Status::Pass);

        // 0.0.0.0/0 on the port, and on every port: the rule is named, and what to delete.
        for (inst, rule, words) in [
            (
                "rds-open-port",
                "sg-rds-open-port-world-db",
                "tcp port 5432 from 0.0.0.0/0",
            ),
            (
                "rds-open-all",
                "sg-rds-open-all-world-all",
                "all protocols all ports from 0.0.0.0/0",
            ),
        ] {
            let (r, res) = precheck_step(&cfg, &store, &auth, &with_instance(&base, inst)).await;
            assert!(!passed(&r), "{inst}");
            let sg = get(&res, "target/security_group");
            assert_eq!(sg.status, Status::Fail, "{inst}: {sg:?}");
            assert!(
                sg.evidence.contains(rule) && sg.evidence.contains(words),
                "{inst}: {sg:?}"
            );
            let fix = sg.fix.as_deref().unwrap();
            assert!(
                fix.contains(&format!("delete rule {rule}")) && fix.contains(&format!("sg-{inst}")),
                "{fix}"
            );
            assert_eq!(get(&res, "target/public_ip").status, Status::Pass, "{inst}");
        }

        // The inventory may keep an EIP, with a reason that goes into the evidence.
        let mut ok = with_instance(&base, "rds-eip");
        ok.extra.insert("public_ok".into(), serde_json::json!(true));
        let (_, res) = precheck_step(&cfg, &store, &auth, &ok).await;
        assert_eq!(
            get(&res, "target/public_ip").status,
            Status::Fail,
            "true without a reason is not enough"
        );
        ok.extra.insert(
            "public_ok_reason".into(),
            serde_json::json!("partner SFTP pulls reports"),
        );
        let (_, res) = precheck_step(&cfg, &store, &auth, &ok).await;
        let ip = get(&res, "target/public_ip");
        assert_eq!(ip.status, Status::Pass, "{ip:?}");
        assert!(ip.evidence.contains("partner SFTP pulls reports"), "{ip:?}");

        // An id RDS does not know is named, not passed.
        let (_, res) = precheck_step(&cfg, &store, &auth, &with_instance(&base, "")).await;
        assert_eq!(
            get(&res, "target/exposure").status,
            Status::Warn,
            "no id: not decided"
        );
        emu.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_refusing_api_is_not_decided_and_fails() {
    with_pg_pair("exposure_down", |p| async move {
        let dir = tempfile::tempdir().unwrap();
        let (emu, cfg) = emulator_with_plan(dir.path()).await;
        let store = Store::open(&cfg.store).await.unwrap();
        let spec = with_instance(&shared::spec(Engine::Postgres, &p, "postgres"), "rds-clean");

        // Nothing listens on the RDS endpoint.
        let mut down = cfg.clone();
        down.drs.rds_endpoint = format!("http://127.0.0.1:{}", common::free_port());
        let (r, res) = precheck_step(&down, &store, &emu.auth(), &spec).await;
        assert!(!passed(&r));
        let x = get(&res, "target/exposure");
        assert_eq!(x.status, Status::Fail, "{x:?}");
        assert!(
            x.evidence
                .starts_with("not decided: RDS list-instances: cannot reach"),
            "{x:?}"
        );
        assert!(
            res.iter().all(|c| c.name != "target/public_ip"),
            "nothing decided: {res:#?}"
        );

        // A wrong secret key: the gateway refuses the signature, and that decides nothing either.
        let (_, res) = precheck_step(
            &cfg,
            &store,
            &Auth::aksk(common::TEST_AK, "wrong-secret"),
            &spec,
        )
        .await;
        let x = get(&res, "target/exposure");
        assert_eq!(x.status, Status::Fail, "{x:?}");
        assert!(x.evidence.contains("HTTP 401 APIG.0301"), "{x:?}");
        emu.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evidence_pack_holds_exposure_json_and_summary_says_it() {
    with_pg_pair("exposure_pack", |p| async move {
        let dir = tempfile::tempdir().unwrap();
        let (emu, cfg) = emulator_with_plan(dir.path()).await;
        let store = Store::open(&cfg.store).await.unwrap();
        let spec = with_instance(
            &shared::spec(Engine::Postgres, &p, "postgres"),
            "rds-open-port",
        );
        let (result, _) = precheck_step(&cfg, &store, &emu.auth(), &spec).await;

        // The brain files the step's report as the engine does.
        let mut brain = Brain::new(Settings::from_config(&cfg), 1);
        let seed = Seed {
            db_id: spec.db_id.clone(),
            wave: spec.wave,
            criticality: spec.criticality,
            size_gb: spec.size_gb,
            business_window: spec.business_window.clone(),
            max_lag_s: spec.overrides.max_cutover_lag_s,
            stage: Stage::Prechecks,
            held: None,
            job: Some("job-0001".into()),
            mode: spec.mode,
        };
        brain.load(vec![seed], vec![], &[]);
        let work = Work {
            db: spec.db_id.clone(),
            step: EffectStep::SqlPrecheck,
            attempt: 0,
            job: Some("job-0001".into()),
            resumed: false,
            blockers: vec![],
        };
        brain.on_work(&work, result, 0.0, Utc::now());
        // DRS's own pre-check runs beside wavedeck's: its half, passed, through the engine's
        // reader of DRS's answer; the brain files both as one `db.precheck`.
        let drs = wavedeck::drs::model::PrecheckResult {
            result: true,
            process: "100%".into(),
            total_passed_rate: "100%".into(),
            ..Default::default()
        };
        let seen = wavedeck::engine::precheck_seen(
            &wavedeck::drs::model::JobId("job-0001".into()),
            Some(&drs),
        )
        .unwrap();
        brain.on_seen(&spec.db_id, LookKind::Precheck, seen, 0.0, Utc::now());
        store
            .register_inventory(std::slice::from_ref(&spec), "test", false)
            .await
            .unwrap();
        store.append(&brain.take_events()).await.unwrap();

        let (folder, runs) = exposure_json(&store, &spec.db_id, dir.path()).await;
        assert_eq!(runs.len(), 1, "{runs:#?}");
        assert_eq!(runs[0]["source"], "precheck");
        assert_eq!(runs[0]["passed"], false);
        let names: Vec<&str> = runs[0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["target/public_ip", "target/security_group"],
            "only the exposure results"
        );
        let summary = std::fs::read_to_string(folder.join("summary.md")).unwrap();
        let line = summary
            .lines()
            .find(|l| l.starts_with("- exposure:"))
            .unwrap_or_else(|| panic!("no exposure line:\n{summary}"));
        assert!(
            line.contains("EXPOSED") && line.contains("sg-rds-open-port-world-db"),
            "{line}"
        );
        emu.shutdown().await;
    })
    .await;
}

/// The evidence pack of `db` exported under `dir`: its folder, and the runs its
/// `exposure.json` holds.
async fn exposure_json(
    store: &Store,
    db: &str,
    dir: &Path,
) -> (std::path::PathBuf, Vec<serde_json::Value>) {
    let folders = wavedeck::evidence::export::export(
        store,
        &wavedeck::evidence::export::Selection::Db(db.to_string()),
        &dir.join("packs"),
        "test",
        Utc::now(),
    )
    .await
    .unwrap();
    let folder = folders.into_iter().next().expect("one pack");
    let x: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("exposure.json")).unwrap()).unwrap();
    let runs = x.as_array().expect("exposure.json is a list").clone();
    (folder, runs)
}

/// A PostgreSQL lab with one database whose target is RDS instance `rds-<db>`, and the
/// engine's SQL-mode cutover rig around it.
async fn lab_rig(db: &str) -> EngineRig<wavedeck::rehearsal::lab::postgres::TempLab> {
    lab_rig_draining(db, SourceDrain::Sql).await
}

/// The same with another `engine.source_drain`: `emulator` and `runbook` take the DRS-mode
/// cutover playbook instead of the cutover module's steps.
async fn lab_rig_draining(
    db: &str,
    drain: SourceDrain,
) -> EngineRig<wavedeck::rehearsal::lab::postgres::TempLab> {
    let dbs = [db.to_string()];
    let lab = wavedeck::rehearsal::lab::postgres::TempLab::unreplicated(&dbs, 200)
        .await
        .unwrap();
    let spec = with_instance(&lab.state.spec(db), &format!("rds-{db}"));
    let dns = lab.state.dns_file().path;
    cutover_rig::engine_rig(lab, &[spec], true, |dir| {
        let mut c = cutover_rig::config(dir, dns);
        c.engine.source_drain = drain;
        c
    })
    .await
}

/// The rig's engine started and its database taken to ready; the engine, and `db`'s source
/// side to ask whether it still takes writes.
async fn engine_to_ready(
    r: &EngineRig<wavedeck::rehearsal::lab::postgres::TempLab>,
    db: &str,
) -> (
    wavedeck::engine::EngineHandle,
    wavedeck::cutover::side::Side,
) {
    let st = &r.lab.state;
    let source = st.side(&st.source, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    cutover_rig::to_ready(&r.store).await;
    (engine, source)
}

/// `db`'s target exposed by `fault` (a fault plan's `rds:` rule on `rds-<db>`).
fn exposed(db: &str, fault: &str) -> FaultPlan {
    let plan = format!("rds:\n  - instance: rds-{db}\n    fault: {fault}\n");
    FaultPlan::parse(Path::new("plan.yaml"), &plan).unwrap()
}

/// Ask for the cutover of `db` and wait until the engine refuses it; then stop the engine and
/// return the store's events and the words of the refused guards step.
async fn refused_cutover<L>(
    r: &EngineRig<L>,
    engine: wavedeck::engine::EngineHandle,
    db: &str,
) -> (Vec<wavedeck::store::Event>, String) {
    cutover_rig::cutover(&r.store, db).await;
    common::wait_for(
        &r.store,
        "the cutover refused",
        Duration::from_secs(60),
        |s| {
            s.iter().any(|d| {
                d.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("cutover refused"))
            })
        },
    )
    .await;
    engine.shutdown().await.unwrap();
    let events = common::all_events(&r.store).await;
    let words = common::outcomes(&events, db, "cutover.guards")
        .iter()
        .filter_map(|e| e.payload["error"].as_str())
        .find(|w| w.contains("cutover refused"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no refused guards step for {db}"));
    (events, words)
}

/// Wait until every database of the rig is failed, stop the engine, and check that they
/// failed in `stage`; their states.
async fn failed_in<L>(
    r: &EngineRig<L>,
    engine: wavedeck::engine::EngineHandle,
    stage: Stage,
) -> Vec<wavedeck::store::DbState> {
    let states = common::wait_for(
        &r.store,
        &format!("failed in {stage}"),
        Duration::from_secs(60),
        |s| s.iter().all(|d| d.stage == Stage::Failed),
    )
    .await;
    engine.shutdown().await.unwrap();
    assert!(
        states.iter().all(|d| d.held_stage == Some(stage)),
        "{states:?}"
    );
    states
}

/// With `engine.checks: drs` (the rig's) the engine runs no SQL pre-checks, and DRS's own
/// pre-check does not look at the target's security group: the exposure check runs as its own
/// step, and a rule open to the Internet stops the database in its pre-checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drs_checks_still_stop_an_exposed_target_in_its_prechecks() {
    let db = "expdrsmode";
    let r = lab_rig(db).await;
    assert_eq!(r.cfg.engine.checks, ChecksMode::Drs);
    r._emu.set_faults(exposed(db, "open_port"));
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    let start = common::command(
        &r.store,
        wavedeck::store::Role::Operator,
        wavedeck::store::Action::StartWave,
        wavedeck::store::Target::Wave(0),
    )
    .await;
    assert!(common::decided(&r.store, start).await.0);
    failed_in(&r, engine, Stage::Prechecks).await;

    let events = common::all_events(&r.store).await;
    let steps: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == wavedeck::store::kind::STEP_INTENT)
        .filter_map(|e| e.payload["step"].as_str())
        .collect();
    assert_eq!(steps.first(), Some(&"exposure_check"), "{steps:?}");
    assert!(!steps.contains(&"start_job"), "no job started: {steps:?}");
    let pre = events
        .iter()
        .rev()
        .find_map(|e| match e.body() {
            wavedeck::store::event::Body::Precheck(r) => Some(r),
            _ => None,
        })
        .expect("a db.precheck event");
    assert!(!pre.passed, "{pre:?}");
    let lines = pre.precheck().lines();
    let sg = lines
        .iter()
        .find(|l| l.name == "target/security_group")
        .unwrap_or_else(|| panic!("no exposure finding in {lines:#?}"));
    assert_eq!(sg.status, Status::Fail, "{sg:?}");
    let rule = format!("sg-rds-{db}-world-db");
    assert!(
        sg.detail.contains(&rule) && sg.detail.contains("tcp port 5432 from 0.0.0.0/0"),
        "{sg:?}"
    );
    assert!(
        sg.fix
            .as_deref()
            .is_some_and(|f| f.contains(&format!("delete rule {rule}"))),
        "{sg:?}"
    );
    // Beside DRS's half, which passed.
    assert!(
        pre.summary.starts_with("exposure: ") && pre.summary.contains("; drs: "),
        "{}",
        pre.summary
    );
    // The evidence pack reads the same report.
    let (_, runs) = exposure_json(&r.store, db, r.dir.path()).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(
        (&runs[0]["source"], &runs[0]["passed"]),
        (&serde_json::json!("precheck"), &serde_json::json!(false))
    );
    assert!(
        runs[0]["summary"].as_str().unwrap().contains("1 fail"),
        "{runs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cutover_guard_refuses_a_target_exposed_after_its_prechecks() {
    let db = "expcut";
    let r = lab_rig(db).await;
    let (engine, source) = engine_to_ready(&r, db).await;
    // Someone binds an EIP to the target while it waits for its window.
    r._emu.set_faults(exposed(db, "public_ip"));
    let (events, words) = refused_cutover(&r, engine, db).await;
    assert!(
        words.contains(&format!("rds-{db}")) && words.contains(EMULATED_EIP),
        "{words}"
    );
    assert!(words.contains("unbind EIP"), "the fix: {words}");
    assert_eq!(
        cutover_rig::ok_outcomes(&events, db, "cutover.drain_source"),
        0,
        "nothing after the guards ran"
    );
    assert!(
        !common::read_only(&source).await,
        "the source still takes writes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cutover_guard_refuses_a_drs_instance_with_an_eip_it_was_not_asked_for() {
    let db = "expdrs";
    let r = lab_rig(db).await;
    // DRS gave the job's replication instance an EIP although drs.net_type is vpc.
    r._emu.set_faults(
        FaultPlan::parse(
            Path::new("plan.yaml"),
            &format!("jobs:\n  - name: wd-{db}\n    fault: eip_bound\n"),
        )
        .unwrap(),
    );
    let (engine, source) = engine_to_ready(&r, db).await;
    let (events, words) = refused_cutover(&r, engine, db).await;
    assert!(
        words.contains("drs/public_ip") && words.contains("198.51.100."),
        "{words}"
    );
    assert!(words.contains("drs.net_type is vpc"), "{words}");
    // The RDS side was private: only the DRS verdict failed.
    assert!(
        !words.contains("target/public_ip") && !words.contains("target/security_group"),
        "{words}"
    );
    assert_eq!(
        cutover_rig::ok_outcomes(&events, db, "cutover.drain_source"),
        0
    );
    assert!(
        !common::read_only(&source).await,
        "the source still takes writes"
    );
}

/// The DRS-mode cutover (`engine.source_drain: emulator`, and `runbook` alike) checks the
/// exposure again before it drains anything: an EIP bound to the target since its pre-checks
/// stops the cutover with the source still taking writes, and says what to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drs_mode_cutover_checks_the_exposure_again_before_the_drain() {
    let db = "expcutdrs";
    let r = lab_rig_draining(db, SourceDrain::Emulator).await;
    let (engine, source) = engine_to_ready(&r, db).await;
    r._emu.set_faults(exposed(db, "public_ip"));
    let since = common::all_events(&r.store).await.len();
    cutover_rig::cutover(&r.store, db).await;
    let states = failed_in(&r, engine, Stage::Cutover).await;
    let why = states[0].last_error.clone().unwrap_or_default();
    assert!(
        why.contains("cutover stopped before the drain") && why.contains(EMULATED_EIP),
        "{why}"
    );
    let events = common::all_events(&r.store).await;
    let steps: Vec<&str> = events[since..]
        .iter()
        .filter(|e| e.kind == wavedeck::store::kind::STEP_INTENT)
        .filter_map(|e| e.payload["step"].as_str())
        .collect();
    assert_eq!(steps, ["exposure_check"], "nothing after the re-check ran");
    assert!(
        !common::read_only(&source).await,
        "the source still takes writes"
    );
}
