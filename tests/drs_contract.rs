//! Contract tests: the DRS client against the in-process emulator, over real HTTP on loopback
//! with real signing. Every call, the job state machine, injected faults, auth and quota.

use std::time::{Duration, Instant};
use wavedeck::config::Config;
use wavedeck::drs::api::{item_result, job_name_for};
use wavedeck::drs::emulator::{self, EmulatorHandle};
use wavedeck::drs::model::*;
use wavedeck::drs::{Auth, DrsClient, DrsError};
use wavedeck::inventory::model::{Criticality, DatabaseSpec, Endpoint, Engine, Overrides};
use wavedeck::secret::SecretRef;

/// A unique prefix per test run keeps job names apart even if emulators were shared.
fn spec(db_id: &str, engine: Engine, size_gb: f64) -> DatabaseSpec {
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: if engine == Engine::Postgres {
            5432
        } else {
            3306
        },
        database: "app".into(),
        user: "migrator".into(),
        password: SecretRef::Env("WAVEDECK_TEST_DRS_UNSET_PW".into()),
    };
    DatabaseSpec {
        db_id: db_id.into(),
        engine,
        engine_version: "15".into(),
        size_gb,
        owner: "test".into(),
        criticality: Criticality::Low,
        business_window: String::new(),
        wave: Some(0),
        source: ep("10.0.0.1"),
        target: ep("10.1.0.1"),
        tags: vec![],
        overrides: Overrides::default(),
        extra: Default::default(),
    }
}

fn cfg(speed: f64, quota: u32) -> Config {
    let mut c = Config::default();
    c.emulator.speed = speed;
    c.emulator.quota = quota;
    c.emulator.job_bandwidth_mbps = 100.0;
    c.drs.timeout_s = 5;
    // Never pick up keys from the developer's environment.
    c.drs.ak_env = "WAVEDECK_TEST_DRS_UNSET_AK".into();
    c.drs.sk_env = "WAVEDECK_TEST_DRS_UNSET_SK".into();
    c
}

async fn start(speed: f64, quota: u32) -> (EmulatorHandle, DrsClient, Config) {
    let c = cfg(speed, quota);
    let h = emulator::spawn(&c, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = h.client(&c).unwrap();
    let cc = h.client_config(&c);
    (h, client, cc)
}

/// Poll until the job reaches `want` (or fail with the last status seen).
async fn wait_status(client: &DrsClient, id: &JobId, want: JobStatus, within: Duration) {
    let deadline = Instant::now() + within;
    let mut last = None;
    while Instant::now() < deadline {
        let s = client.batch_status(std::slice::from_ref(id)).await.unwrap();
        last = s[0].status.clone();
        if last.as_ref() == Some(&want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} did not reach {want} (last: {last:?})");
}

async fn precheck_pass(client: &DrsClient, id: &JobId) {
    let r = client
        .precheck(std::slice::from_ref(id), false)
        .await
        .unwrap();
    item_result("batch-precheck", id, &r).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = client
            .precheck_results(std::slice::from_ref(id))
            .await
            .unwrap();
        if p[0].finished() {
            assert!(p[0].passed(), "{:?}", p[0]);
            return;
        }
        assert!(Instant::now() < deadline, "pre-check never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn full_job_state_machine_through_the_client() {
    // speed 1000: 20 s creating = 20 ms; 1 GB at 100 MB/s = ~10 s emulated = 10 ms real.
    let (h, client, cc) = start(1000.0, 50).await;
    let s = spec("lifecycle01", Engine::Mysql, 1.0);
    let job = client.ensure_job(&s, &cc.drs).await.unwrap();
    assert!(job.created);
    assert_eq!(job.status, JobStatus::Creating);
    assert_eq!(job.name, "wd-lifecycle01");
    let id = job.id.clone();

    wait_status(
        &client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(5),
    )
    .await;
    // Start before the pre-check is refused per item, inside a 2xx.
    let r = client.start(std::slice::from_ref(&id)).await.unwrap();
    let e = item_result("batch-starting", &id, &r).unwrap_err();
    assert_eq!(e.code(), Some("DRS.M00304"), "{e}");

    precheck_pass(&client, &id).await;
    let r = client.start(std::slice::from_ref(&id)).await.unwrap();
    item_result("batch-starting", &id, &r).unwrap();

    // Progress climbs through the full load, then the job is incremental with a lag.
    let mut saw_full = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snap = client
            .poll(std::slice::from_ref(&id))
            .await
            .unwrap()
            .remove(0);
        if snap.status == Some(JobStatus::FullTransferStarted) {
            saw_full = true;
            assert!(snap.lag_s.is_none(), "no lag before CDC: {snap:?}");
            assert!(snap.full_pct.unwrap() <= 100.0);
        }
        if snap.status == Some(JobStatus::IncreTransferStarted) {
            assert_eq!(snap.full_pct, Some(100.0));
            assert!(snap.lag_s.is_some(), "{snap:?}");
            break;
        }
        assert!(Instant::now() < deadline, "never reached CDC: {snap:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = saw_full; // at this speed the full phase may be shorter than one poll

    // Pause and resume.
    let r = client.pause(std::slice::from_ref(&id), true).await.unwrap();
    item_result("batch-pause-task", &id, &r).unwrap();
    wait_status(&client, &id, JobStatus::Pausing, Duration::from_secs(2)).await;
    let r = client.resume(std::slice::from_ref(&id)).await.unwrap();
    item_result("batch-retry-task", &id, &r).unwrap();
    wait_status(
        &client,
        &id,
        JobStatus::IncreTransferStarted,
        Duration::from_secs(5),
    )
    .await;

    // Drain: writes stop at the source, lag settles to exactly 0.
    client.emulator_source_writes(&id, false).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snap = client
            .poll(std::slice::from_ref(&id))
            .await
            .unwrap()
            .remove(0);
        if snap.lag_s == Some(0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "lag never settled: {snap:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Detail shows the target read-only until the job is stopped.
    let d = client
        .batch_detail(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(d[0].is_target_readonly, Some(true));
    assert_eq!(d[0].db_use_type, "migration");
    assert!(d[0].source_endpoint.as_ref().unwrap().db_password.is_none());

    // Cutover: terminate, then delete.
    let r = client
        .terminate(std::slice::from_ref(&id), false)
        .await
        .unwrap();
    item_result("batch-jobs", &id, &r).unwrap();
    wait_status(
        &client,
        &id,
        JobStatus::ReleaseResourceComplete,
        Duration::from_secs(5),
    )
    .await;
    let d = client
        .batch_detail(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(d[0].is_target_readonly, Some(false));
    let r = client.delete(std::slice::from_ref(&id)).await.unwrap();
    item_result("batch-jobs", &id, &r).unwrap();
    let e = client
        .batch_detail(std::slice::from_ref(&id))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("DRS.M05004"), "{e}");
    assert!(e.is_not_found());
    assert!(client.calls_made() > 10);
    h.shutdown().await;
}

#[tokio::test]
async fn idempotent_create_finds_the_job_again() {
    let (h, client, cc) = start(10.0, 50).await;
    let s = spec("idem01", Engine::Postgres, 2.0);
    let a = client.ensure_job(&s, &cc.drs).await.unwrap();
    let b = client.ensure_job(&s, &cc.drs).await.unwrap();
    assert!(a.created && !b.created);
    assert_eq!(a.id, b.id);
    let all = client.list_all_jobs("sync").await.unwrap();
    assert_eq!(
        all.iter()
            .filter(|j| j.name == job_name_for("idem01"))
            .count(),
        1
    );
    assert_eq!(all[0].engine_type, "postgresql");
    // A raw second create with the same name is refused with DRS's own code.
    let req = wavedeck::drs::api::create_request(&s, &cc.drs, None, None);
    let r = client.create_jobs(&[req]).await.unwrap();
    assert_eq!(r[0].error_code.as_deref(), Some("DRS.M00277"));
    h.shutdown().await;
}

#[tokio::test]
async fn wrong_secret_key_is_refused_like_the_gateway() {
    let (h, _client, cc) = start(1.0, 50).await;
    let Auth::AkSk { ak, .. } = h.auth() else {
        panic!("aksk expected")
    };
    let bad = DrsClient::new(&cc, Auth::aksk(ak.expose(), "not-the-secret-key")).unwrap();
    let e = bad.list_all_jobs("migration").await.unwrap_err();
    match &e {
        DrsError::Api {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!((*status, code.as_str()), (401, "APIG.0301"));
            assert!(message.contains("verify aksk signature fail"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(e.is_auth() && !e.is_retryable());
    assert!(!e.to_string().contains("not-the-secret-key"));
    h.shutdown().await;
}
