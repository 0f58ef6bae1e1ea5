//! `/metrics` (`engine.metrics_listen`) scraped while the real engine runs a wave against the
//! DRS emulator and a real SQLite store, read back with a Prometheus text parser (not the
//! writer's code), and its values checked against the store.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::Duration;
use wavedeck::config::{ChecksMode, Config};
use wavedeck::inventory::{DatabaseSpec, Endpoint, Engine};
use wavedeck::lifecycle::Stage;
use wavedeck::rehearsal::drs_emulator::faults::FaultPlan;
use wavedeck::secret::SecretRef;
use wavedeck::store::{kind, Action, Role, Store, Target};

fn spec(id: &str, wave: u32) -> DatabaseSpec {
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: 5432,
        database: id.replace('-', "_"),
        user: "migrator".into(),
        password: SecretRef::File("/dev/null".into()),
    };
    DatabaseSpec::new(id, Engine::Postgres, ep("10.0.0.1"), ep("10.1.0.1"))
        .with_version("15")
        .with_size_gb(1.0)
        .with_owner("team")
        .with_window("daily 00:00-24:00 UTC")
        .with_wave(Some(wave))
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    match &s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        other => panic!("{}: not a scalar: {other:?}", s.metric),
    }
}

async fn scrape(addr: std::net::SocketAddr) -> prometheus_parse::Scrape {
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines = body.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scraped_while_a_wave_runs_match_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = Config {
        store: format!("sqlite://{}", dir.path().join("store.db").display()),
        log_dir: dir.path().join("logs"),
        ..Config::default()
    };
    base.emulator.speed = 800.0;
    base.engine.checks = ChecksMode::Drs;
    base.engine.time_scale = 800.0;
    base.engine.metrics_listen = "127.0.0.1:0".into();
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    emu.set_faults(FaultPlan::default());
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    // Wave 0 runs; wave 1 stays registered.
    register(
        &store,
        &[
            spec("db-00", 0),
            spec("db-01", 0),
            spec("db-02", 0),
            spec("db-10", 1),
        ],
    )
    .await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    let addr = engine.metrics_addr.expect("metrics endpoint bound");
    let start = command(&store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&store, start).await.0);
    wait_for(&store, "wave 0 ready", Duration::from_secs(90), |s| {
        s.iter()
            .filter(|d| d.wave == Some(0))
            .all(|d| d.stage == Stage::Ready)
    })
    .await;
    // Let a round pass so every stored event has been seen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let m = scrape(addr).await;
    let by_name = |n: &str| -> Vec<&prometheus_parse::Sample> {
        m.samples.iter().filter(|s| s.metric == n).collect()
    };

    // Databases per stage and wave: the store's counts.
    let mut got: BTreeMap<(String, String), f64> = BTreeMap::new();
    for s in by_name("wavedeck_databases") {
        got.insert(
            (s.labels["stage"].to_string(), s.labels["wave"].to_string()),
            value(s),
        );
    }
    for w in [0u32, 1] {
        for (stage, n) in store.stage_counts(Some(w)).await.unwrap() {
            assert_eq!(
                got.get(&(stage.clone(), w.to_string())).copied(),
                Some(n as f64),
                "stage {stage} wave {w}: {got:?}"
            );
        }
    }
    // CDC lag per database: one gauge each for the ready databases (db_id the only label).
    let lag = by_name("wavedeck_cdc_lag_seconds");
    let mut lag_dbs: Vec<&str> = lag
        .iter()
        .map(|s| s.labels["db_id"].as_ref())
        .collect::<Vec<_>>();
    lag_dbs.sort();
    assert_eq!(lag_dbs, ["db-00", "db-01", "db-02"], "{lag:?}");
    for s in &lag {
        assert_eq!(s.labels.len(), 1, "{s:?}");
        assert!(value(s) >= 0.0);
    }
    // Step durations: one observation per outcome of a step the store has an intent for.
    let events = all_events(&store).await;
    let outcomes = |step: &str| {
        events
            .iter()
            .filter(|e| e.kind == kind::STEP_OUTCOME && e.payload["step"] == step)
            .count()
    };
    for step in ["create_job", "start_job"] {
        let count = m
            .samples
            .iter()
            .find(|s| {
                s.metric == "wavedeck_step_duration_seconds_count"
                    && s.labels.get("step") == Some(step)
            })
            .map(value_of_count)
            .unwrap_or(0.0);
        assert_eq!(count, outcomes(step) as f64, "{step}");
        assert!(count > 0.0, "{step}");
    }
    // DRS latency by call: one observation per answered call (a poll may be in flight: the
    // client counts a call as it sends it, the histogram when it is answered).
    let calls: f64 = m
        .samples
        .iter()
        .filter(|s| s.metric == "wavedeck_drs_request_duration_seconds_count")
        .map(value_of_count)
        .sum();
    let made = drs.calls_made();
    assert!(
        calls > 0.0 && calls as u64 <= made && made - calls as u64 <= 16,
        "latency observations {calls} vs calls made {made}"
    );
    // Errors by code sum to the client's count; alerts active sum to the standing alerts.
    let errors: f64 = by_name("wavedeck_drs_errors_total")
        .iter()
        .map(|s| value(s))
        .sum();
    assert_eq!(errors as u64, drs.call_log().errors());
    let standing = {
        let mut n = 0i64;
        for e in &events {
            if e.kind == kind::ALERT_RAISED {
                n += 1;
            } else if e.kind == kind::ALERT_CLEARED {
                n -= 1;
            }
        }
        n
    };
    let active: f64 = by_name("wavedeck_alerts_active")
        .iter()
        .map(|s| value(s))
        .sum();
    assert_eq!(active as i64, standing);
    assert_eq!(by_name("wavedeck_alerts_active").len(), 9);
    engine.shutdown().await.unwrap();
}

fn value_of_count(s: &prometheus_parse::Sample) -> f64 {
    match &s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        prometheus_parse::Value::Histogram(_) | prometheus_parse::Value::Summary(_) => {
            panic!("{}: a whole histogram where a count was expected", s.metric)
        }
    }
}
