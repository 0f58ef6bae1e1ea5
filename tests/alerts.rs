//! Alert rules, evaluated by the real engine against the DRS emulator's faults and a real
//! SQLite store: each default rule that a fault maps to is raised (with its value and
//! threshold) and, where the fault goes away, cleared; no (rule, database) is raised twice
//! without a clear between; a restart keeps standing alerts instead of raising them again.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wavedeck::config::Config;
use wavedeck::rehearsal::drs_emulator::faults::{
    FaultPlan, JobFaultKind, JobFaultRule, RequestFault, RequestFaultKind,
};
use wavedeck::store::event::Body;
use wavedeck::store::{kind, Action, Event, Role, Store, Target};

const SPEED: f64 = 800.0;

fn config(dir: &std::path::Path) -> Config {
    let mut cfg = engine_config(dir, SPEED);
    // DRS errors count per wall-clock minute (API limits are real time): a test cannot
    // wait out the default 5-minute window, so it looks at the last 5 s.
    cfg.alerts.drs_errors.threshold = 2.0;
    cfg.alerts.drs_errors.clear = 1.0;
    cfg.alerts.drs_errors.for_s = 0.0;
    cfg.alerts.drs_errors.clear_for_s = 0.0;
    cfg.alerts.drs_errors.window_s = 5.0;
    // At 800x, a 0.4 s pause of this shared machine is 300 engine seconds without a lag
    // sample: the stale limit is set to 3 real seconds, which only the throttling reaches.
    cfg.alerts.lag_stale.threshold = 2400.0;
    cfg.alerts.lag_stale.clear = 800.0;
    cfg
}

fn job(name: &str, fault: JobFaultKind, at_pct: Option<f64>) -> JobFaultRule {
    JobFaultRule {
        name: name.into(),
        fault,
        at_pct,
    }
}

/// (rule, db) -> the alert events about it, in order: true raised, false cleared.
fn alert_history(events: &[Event]) -> BTreeMap<(String, Option<String>), Vec<bool>> {
    let mut h: BTreeMap<_, Vec<bool>> = BTreeMap::new();
    for e in events {
        match e.body() {
            Body::AlertRaised(a) => h.entry((a.rule, e.db_id.clone())).or_default().push(true),
            Body::AlertCleared(a) => h.entry((a.rule, e.db_id.clone())).or_default().push(false),
            _ => {}
        }
    }
    h
}

fn raised<'a>(events: &'a [Event], rule: &str, db: Option<&str>) -> Vec<(&'a Event, f64, f64)> {
    events
        .iter()
        .filter_map(|e| match e.body() {
            Body::AlertRaised(a) if a.rule == rule && e.db_id.as_deref() == db => {
                Some((e, a.value, a.threshold))
            }
            _ => None,
        })
        .collect()
}

async fn until_events(
    store: &Store,
    what: &str,
    within: Duration,
    done: impl Fn(&[Event]) -> bool,
) -> Vec<Event> {
    let t0 = Instant::now();
    loop {
        let ev = all_events(store).await;
        if done(&ev) {
            return ev;
        }
        if t0.elapsed() > within {
            let alerts: Vec<String> = ev
                .iter()
                .filter(|e| e.kind.starts_with("alert."))
                .map(|e| format!("{} {:?} {}", e.kind, e.db_id, e.payload))
                .collect();
            let states: Vec<String> = store
                .db_states()
                .await
                .unwrap()
                .iter()
                .map(|s| format!("{} {} lag {:?}", s.db_id, s.stage, s.lag_s))
                .collect();
            panic!("timed out waiting for {what}: alerts {alerts:#?} states {states:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn has(ev: &[Event], kind_: &str, rule: &str, db: Option<&str>) -> bool {
    ev.iter()
        .any(|e| e.kind == kind_ && e.payload["rule"] == rule && e.db_id.as_deref() == db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_raises_its_rule_and_clears_it_once_gone_without_flapping() {
    let dir = tempfile::tempdir().unwrap();
    let base = config(dir.path());
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let jobs = vec![
        job("wd-db-00", JobFaultKind::FullLoadFail, Some(40.0)),
        job("wd-db-01", JobFaultKind::LagStuck, None),
        job("wd-db-02", JobFaultKind::CompareMismatch, None),
    ];
    emu.set_faults(FaultPlan {
        rds: vec![],
        requests: vec![],
        jobs: jobs.clone(),
        ..Default::default()
    });
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    let specs = vec![
        emulated_spec("db-00", 2.0),
        emulated_spec("db-01", 1.0),
        emulated_spec("db-02", 1.0),
        emulated_spec("db-03", 1.0),
    ];
    register(&store, &specs).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    let start = command(&store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&store, start).await.0);

    // full_load_fail@40: the failed job counts as a failed step: over 1% of the window.
    // lag_stuck: CDC lag grows past 30 s and stays there.
    // compare_mismatch: the validation fails.
    let ev = until_events(
        &store,
        "step_errors, lag_high and validation_failed",
        Duration::from_secs(90),
        |ev| {
            has(ev, kind::ALERT_RAISED, "step_errors", None)
                && has(ev, kind::ALERT_RAISED, "lag_high", Some("db-01"))
                && has(ev, kind::ALERT_RAISED, "validation_failed", Some("db-02"))
        },
    )
    .await;
    let (_, v, t) = raised(&ev, "lag_high", Some("db-01"))[0];
    assert!(v > t && t == 30.0, "lag_high value {v} threshold {t}");
    let (_, v, t) = raised(&ev, "step_errors", None)[0];
    assert!(v > t && t == 0.01, "step_errors value {v} threshold {t}");
    // Only the faulty databases: db-03 ran clean.
    assert!(
        !ev.iter()
            .any(|e| e.kind == kind::ALERT_RAISED && e.db_id.as_deref() == Some("db-03")),
        "an alert about the healthy db-03"
    );
    assert!(!has(&ev, kind::ALERT_RAISED, "lag_high", Some("db-00")));

    acknowledge_through_the_engine(&store).await;

    // 429 on every progress call: DRS errors climb and db-01's lag samples stop.
    emu.set_faults(FaultPlan {
        rds: vec![],
        requests: vec![RequestFault {
            path: "batch-progress".into(),
            fault: RequestFaultKind::Throttle429,
            every: None,
            first: None,
            delay_ms: 0,
        }],
        jobs: jobs.clone(),
        ..Default::default()
    });
    until_events(
        &store,
        "drs_errors and lag_stale raised",
        Duration::from_secs(60),
        |ev| {
            has(ev, kind::ALERT_RAISED, "drs_errors", None)
                && has(ev, kind::ALERT_RAISED, "lag_stale", Some("db-01"))
        },
    )
    .await;
    // The throttling ends: both clear.
    emu.set_faults(FaultPlan {
        rds: vec![],
        requests: vec![],
        jobs: jobs.clone(),
        ..Default::default()
    });
    let ev = until_events(
        &store,
        "drs_errors and lag_stale cleared, stage_overdue raised",
        Duration::from_secs(60),
        |ev| {
            has(ev, kind::ALERT_CLEARED, "drs_errors", None)
                && has(ev, kind::ALERT_CLEARED, "lag_stale", Some("db-01"))
                && has(ev, kind::ALERT_RAISED, "stage_overdue", Some("db-01"))
        },
    )
    .await;
    let cleared = ev
        .iter()
        .find(|e| e.kind == kind::ALERT_CLEARED && e.payload["rule"] == "drs_errors")
        .unwrap();
    let first = raised(&ev, "drs_errors", None)[0].0;
    assert_eq!(
        cleared.payload["raised_seq"], first.seq,
        "{}",
        cleared.payload
    );
    engine.shutdown().await.unwrap();

    // A restart keeps the standing alerts: lag_high of db-01 is not raised a second time.
    let standing = alert_history(&all_events(&store).await);
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    engine.shutdown().await.unwrap();
    let ev = all_events(&store).await;
    let after = alert_history(&ev);
    assert_eq!(
        after[&("lag_high".to_string(), Some("db-01".to_string()))],
        standing[&("lag_high".to_string(), Some("db-01".to_string()))],
        "lag_high of db-01 changed across the restart"
    );
    // No flapping: for every (rule, db), raised and cleared alternate, starting raised.
    for (key, h) in &after {
        for (i, r) in h.iter().enumerate() {
            assert_eq!(*r, i % 2 == 0, "{key:?}: {h:?}");
        }
    }
    check_intents(&ev);
}

async fn ack(store: &Store, who: &str, role: Role, rule: &str, target: Target) -> (bool, String) {
    let id = store
        .submit_command(&wavedeck::store::NewCommand {
            who: who.into(),
            role,
            action: Action::AckAlert,
            target,
            args: serde_json::json!({ "rule": rule }),
        })
        .await
        .unwrap()
        .id;
    let (ok, why) = decided(store, id).await;
    (ok, why.unwrap_or_default())
}

/// The operator acknowledges db-01's lag_high through the store's command path: the engine
/// writes `alert.acked` (who, which command) with its acceptance; a viewer, a second ack and
/// an alert that does not stand are refused, saying why. The cockpit's board, fed as its feed
/// reads the store, shows it acknowledged, and so does the Alerts view.
async fn acknowledge_through_the_engine(store: &Store) {
    let db01 = || Target::Db("db-01".into());
    let (ok, why) = ack(store, "lead", Role::Viewer, "lag_high", db01()).await;
    assert!(!ok && why.contains("viewer"), "{why}");
    let (ok, why) = ack(store, "bob", Role::Operator, "lag_high", db01()).await;
    assert!(ok, "{why}");
    let (ok, why) = ack(store, "carol", Role::Operator, "lag_high", db01()).await;
    assert!(!ok && why.contains("already, by bob"), "{why}");
    let (ok, why) = ack(
        store,
        "bob",
        Role::Operator,
        "lag_high",
        Target::Db("db-03".into()),
    )
    .await;
    assert!(
        !ok && why.contains("no lag_high alert stands for db-03"),
        "{why}"
    );
    let ev = all_events(store).await;
    let acked: Vec<&Event> = ev.iter().filter(|e| e.kind == kind::ALERT_ACKED).collect();
    assert_eq!(acked.len(), 1, "{acked:?}");
    assert_eq!(acked[0].db_id.as_deref(), Some("db-01"));
    assert_eq!(acked[0].payload["by"], "bob");
    assert_eq!(acked[0].actor, "bob");

    // The cockpit: the first poll's alert events, folded and drawn.
    let mut data = wavedeck::tui::data::Data::default();
    data.apply(wavedeck::tui::data::FeedUpdate {
        dbs: Some(store.db_states().await.unwrap()),
        alerts: store.alert_events().await.unwrap(),
        ..Default::default()
    });
    let key = ("lag_high".to_string(), Some("db-01".to_string()));
    assert_eq!(
        data.alerts.standing[&key].acked_by.as_deref(),
        Some("bob"),
        "{:?}",
        data.alerts.standing
    );
    let th = wavedeck::tui::theme::Theme::load("dark", false, false).unwrap();
    let mut app = wavedeck::tui::app::App::new(data, th, false, chrono::Utc::now());
    app.size = (120, 40);
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
    wavedeck::tui::app::handle_key(
        &mut app,
        crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char('5')),
    );
    t.draw(|f| wavedeck::tui::views::render(&app, f)).unwrap();
    let screen: String = t
        .backend()
        .buffer()
        .content()
        .chunks(120)
        .map(|l| l.iter().map(|c| c.symbol()).collect::<String>() + "\n")
        .collect();
    let row = screen
        .lines()
        .find(|l| l.contains("lag_high") && l.contains("db-01"))
        .unwrap_or_else(|| panic!("no lag_high row for db-01:\n{screen}"));
    assert!(row.contains("✓ bob") && row.contains("> 30.0 s"), "{row}");
}

/// An engine that finds a lease its holder never released (here: a holder that stopped
/// renewing and let it expire) raises `lease_lost`, naming it, and clears it after holding
/// the lease for `clear_for_s`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreleased_lease_taken_over_raises_lease_lost() {
    let dir = tempfile::tempdir().unwrap();
    let base = config(dir.path());
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    register(&store, &[emulated_spec("db-00", 1.0)]).await;
    // A clean start and stop first: a released lease is no loss.
    let e = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    e.shutdown().await.unwrap();
    assert!(!has(
        &all_events(&store).await,
        kind::ALERT_RAISED,
        "lease_lost",
        None
    ));
    assert!(store
        .try_acquire_lease("otherhost:4242:deadbeef", Duration::from_millis(300))
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    let ev = until_events(
        &store,
        "lease_lost raised and cleared",
        Duration::from_secs(20),
        |ev| {
            has(ev, kind::ALERT_RAISED, "lease_lost", None)
                && has(ev, kind::ALERT_CLEARED, "lease_lost", None)
        },
    )
    .await;
    e.shutdown().await.unwrap();
    let r = ev.iter().find(|e| e.kind == kind::ALERT_RAISED).unwrap();
    assert!(
        r.payload["what"]
            .as_str()
            .unwrap()
            .contains("otherhost:4242:deadbeef"),
        "{}",
        r.payload
    );
}

/// A cutover step that runs longer than `alerts.cutover_step.threshold` (900 engine seconds,
/// 1.1 s at this speed) raises `cutover_step` naming the step, and clears once the step is
/// done: the emulator holds every terminate call (batch-jobs) for 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_step_that_hangs_raises_cutover_step_and_clears_when_done() {
    let dir = tempfile::tempdir().unwrap();
    let base = config(dir.path());
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    register(&store, &[emulated_spec("db-00", 0.5)]).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    for a in [Action::ApproveWindow, Action::StartWave] {
        let c = command(&store, Role::Operator, a, Target::Wave(0)).await;
        let (ok, why) = decided(&store, c).await;
        assert!(ok, "{a:?}: {why:?}");
    }
    wait_for(&store, "db-00 ready", Duration::from_secs(60), |s| {
        s.iter()
            .any(|d| d.stage == wavedeck::lifecycle::Stage::Ready)
    })
    .await;
    emu.set_faults(FaultPlan {
        rds: vec![],
        requests: vec![RequestFault {
            path: "batch-jobs".into(),
            fault: RequestFaultKind::Slow,
            every: None,
            first: None,
            delay_ms: 3000,
        }],
        jobs: vec![],
        ..Default::default()
    });
    // The lag may spike past the cutover limit at the instant asked: ask until accepted.
    let t0 = Instant::now();
    loop {
        let c = command(
            &store,
            Role::Operator,
            Action::Cutover,
            Target::Db("db-00".into()),
        )
        .await;
        let (ok, why) = decided(&store, c).await;
        if ok {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "cutover refused: {why:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ev = until_events(
        &store,
        "cutover_step raised and cleared",
        Duration::from_secs(60),
        |ev| {
            has(ev, kind::ALERT_RAISED, "cutover_step", Some("db-00"))
                && has(ev, kind::ALERT_CLEARED, "cutover_step", Some("db-00"))
        },
    )
    .await;
    engine.shutdown().await.unwrap();
    let (e, v, t) = raised(&ev, "cutover_step", Some("db-00"))[0];
    assert!(v > t && t == 900.0, "cutover_step value {v} threshold {t}");
    let what = e.payload["what"].as_str().unwrap();
    assert!(what.contains("running for"), "{what}");
    // Raised while a step of the cutover was open, and not raised twice.
    let history = alert_history(&ev);
    assert_eq!(
        history[&("cutover_step".to_string(), Some("db-00".to_string()))],
        [true, false]
    );
    // Read again after the shutdown: the alert clears when the hung step ends, which can be a
    // moment before that step's outcome is written, so the events read above may still hold its
    // intent alone.
    check_intents(&all_events(&store).await);
}
