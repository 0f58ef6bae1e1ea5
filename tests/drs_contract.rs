//! Contract tests: the DRS client against the in-process emulator, over real HTTP on loopback
//! with real signing. Every call, the job state machine, injected faults, auth and quota.

use std::time::{Duration, Instant};
use wavedeck::config::{Config, DrsConfig};
use wavedeck::drs::api::{item_result, job_name_for};
use wavedeck::drs::model::*;
use wavedeck::drs::{Auth, DrsClient, DrsError};
use wavedeck::inventory::model::{DatabaseSpec, Endpoint, Engine};
use wavedeck::rehearsal::drs_emulator::{self as emulator, faults::FaultPlan, EmulatorHandle};
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
        // The emulator connects to nothing; DRS's connection test needs a password.
        password: SecretRef::File("/dev/null".into()),
    };
    DatabaseSpec::new(db_id, engine, ep("10.0.0.1"), ep("10.1.0.1"))
        .with_version("15")
        .with_size_gb(size_gb)
        .with_owner("test")
        .with_wave(Some(0))
}

/// The create request of a test database (passwords unresolved), in the emulated network
/// when `drs` names no subnet.
fn create_req(drs: &DrsConfig, db_id: &str, engine: Engine, size_gb: f64) -> CreateJobReq {
    let mut drs = drs.clone();
    emulator::emulated_network(&mut drs);
    wavedeck::drs::api::create_request(&spec(db_id, engine, size_gb), &drs, None, None)
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

/// Test connections, store the endpoints and select the database, as DRS requires before its
/// pre-check.
async fn prepare(client: &DrsClient, cc: &Config, s: &DatabaseSpec, id: &JobId) {
    let r = client
        .prepare_jobs(&[(s.clone(), id.clone())], &cc.drs)
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    r[0].1.as_ref().unwrap();
}

async fn precheck_pass(client: &DrsClient, cc: &Config, s: &DatabaseSpec, id: &JobId) {
    prepare(client, cc, s, id).await;
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

    // DRS refuses the pre-check until the connections are tested and the endpoints saved.
    let r = client
        .precheck(std::slice::from_ref(&id), false)
        .await
        .unwrap();
    let e = item_result("batch-precheck", &id, &r).unwrap_err();
    assert_eq!(e.code(), Some("DRS.M00304"), "{e}");
    assert!(e.to_string().contains("batch-connection"), "{e}");
    precheck_pass(&client, &cc, &s, &id).await;
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
    // DRS refuses the whole batch-detail call for a deleted job; the client gives that job
    // its refusal as its own result.
    let d = client
        .batch_detail(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(d[0].error_code.as_deref(), Some("DRS.M05004"), "{d:?}");
    assert!(wavedeck::drs::codes::is_gone("DRS.M05004"));
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
    let all = client.list_all_jobs(Engine::Postgres).await.unwrap();
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
async fn batch_create_finds_existing_jobs_and_creates_the_rest_in_one_call() {
    let (h, client, cc) = start(10.0, 8).await;
    let specs: Vec<DatabaseSpec> = (0..10)
        .map(|i| spec(&format!("bulk{i:02}"), Engine::Postgres, 1.0))
        .collect();
    let before: Vec<_> =
        futures::future::join_all(specs[..3].iter().map(|s| client.ensure_job(s, &cc.drs))).await;
    let calls0 = client.calls_made();
    let refs: Vec<&DatabaseSpec> = specs.iter().collect();
    let got = client.ensure_jobs(&refs, &cc.drs).await;
    // One lookup per name, then one batch-creation call for the seven missing.
    assert_eq!(client.calls_made() - calls0, 11);
    for (b, g) in before.iter().zip(&got[..3]) {
        let (b, g) = (b.as_ref().unwrap(), g.as_ref().unwrap());
        assert!(!g.created && g.id == b.id, "{g:?}");
    }
    // The quota of 8 lets five of the seven in; the other two fail by DRS's own code.
    let created: Vec<_> = got[3..].iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 5);
    assert!(created.iter().all(|j| j.created));
    for e in got[3..].iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(e.code(), Some("DRS.M05066"), "{e}");
    }
    // Asking again makes nothing new: every job exists once.
    let again = client.ensure_jobs(&refs, &cc.drs).await;
    let all = client.list_all_jobs(Engine::Postgres).await.unwrap();
    for (s, r) in specs.iter().zip(&again) {
        let n = all
            .iter()
            .filter(|j| j.name == job_name_for(&s.db_id))
            .count();
        assert_eq!(n, usize::from(r.is_ok()), "{}", s.db_id);
        if let Ok(j) = r {
            assert!(!j.created);
        }
    }
    h.shutdown().await;
}

#[tokio::test]
async fn wrong_secret_key_is_refused_like_the_gateway() {
    let (h, _client, cc) = start(1.0, 50).await;
    let Auth::AkSk { ak, .. } = h.auth() else {
        panic!("aksk expected")
    };
    let bad = DrsClient::new(&cc, Auth::aksk(ak.expose(), "not-the-secret-key")).unwrap();
    let e = bad.list_all_jobs(Engine::Mysql).await.unwrap_err();
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

/// Create a job and drive it to the incremental phase.
async fn job_in_cdc(client: &DrsClient, cc: &Config, db_id: &str) -> JobId {
    let s = spec(db_id, Engine::Postgres, 0.5);
    let id = client.ensure_job(&s, &cc.drs).await.unwrap().id;
    wait_status(
        client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(5),
    )
    .await;
    precheck_pass(client, cc, &s, &id).await;
    let r = client.start(std::slice::from_ref(&id)).await.unwrap();
    item_result("batch-starting", &id, &r).unwrap();
    wait_status(
        client,
        &id,
        JobStatus::IncreTransferStarted,
        Duration::from_secs(10),
    )
    .await;
    id
}

fn api_code(e: &DrsError) -> (u16, String) {
    match e {
        DrsError::Api { status, code, .. } => (*status, code.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn injected_http_faults_are_reported_with_their_codes_and_classified() {
    let (h, client, _cc) = start(1.0, 50).await;
    for (fault, status, code) in [
        ("500", 500, "DRS.M00004"),
        ("503", 503, "DRS.M00004"),
        ("429", 429, "APIG.0308"),
    ] {
        let e = client
            .with_header(wavedeck::drs::client::FAULT_HEADER, fault)
            .list_all_jobs(Engine::Mysql)
            .await
            .unwrap_err();
        assert_eq!(api_code(&e), (status, code.to_string()), "{e}");
        assert!(e.is_retryable(), "{e}");
        assert!(e.to_string().contains(code), "{e}");
    }
    // The plan: every 2nd batch-status call is throttled, only the first 4 calls count.
    let plan = FaultPlan::parse(
        std::path::Path::new("plan.yaml"),
        "requests:\n  - path: jobs\n    fault: throttle_429\n    every: 2\n    first: 4\n",
    )
    .unwrap();
    h.set_faults(plan);
    let outcomes: Vec<bool> = {
        let mut v = Vec::new();
        for _ in 0..6 {
            v.push(client.list_all_jobs(Engine::Mysql).await.is_ok());
        }
        v
    };
    assert_eq!(outcomes, vec![true, false, true, false, true, true]);
    h.shutdown().await;
}

#[tokio::test]
async fn slow_answer_becomes_a_retryable_timeout() {
    let (h, _client, mut cc) = start(1.0, 50).await;
    cc.drs.timeout_s = 1;
    let client = DrsClient::new(&cc, h.auth()).unwrap();
    let t = Instant::now();
    let e = client
        .with_header(wavedeck::drs::client::FAULT_HEADER, "slow=3000")
        .list_all_jobs(Engine::Mysql)
        .await
        .unwrap_err();
    assert!(matches!(e, DrsError::Timeout { after_s: 1, .. }), "{e}");
    assert!(e.is_retryable());
    assert!(
        t.elapsed() < Duration::from_millis(2900),
        "the timeout fired, not the answer"
    );
    // A slow answer within the timeout still succeeds.
    client
        .with_header(wavedeck::drs::client::FAULT_HEADER, "slow=100")
        .list_all_jobs(Engine::Mysql)
        .await
        .unwrap();
    h.shutdown().await;
}

#[tokio::test]
async fn full_load_failure_is_reported_and_retry_completes() {
    let (h, client, cc) = start(1000.0, 50).await;
    let faulty = client.with_header(wavedeck::drs::client::FAULT_HEADER, "full_load_fail@40");
    let fullfail = spec("fullfail01", Engine::Mysql, 2.0);
    let id = faulty.ensure_job(&fullfail, &cc.drs).await.unwrap().id;
    wait_status(
        &client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(5),
    )
    .await;
    precheck_pass(&client, &cc, &fullfail, &id).await;
    item_result(
        "start",
        &id,
        &client.start(std::slice::from_ref(&id)).await.unwrap(),
    )
    .unwrap();
    wait_status(
        &client,
        &id,
        JobStatus::FullTransferFailed,
        Duration::from_secs(10),
    )
    .await;
    let snap = client
        .poll(std::slice::from_ref(&id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(snap.full_pct, Some(40.0), "{snap:?}");
    let d = client
        .batch_detail(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert!(d[0]
        .failed_reason
        .as_deref()
        .unwrap_or("")
        .contains("Full migration failed"));
    item_result(
        "retry",
        &id,
        &client.resume(std::slice::from_ref(&id)).await.unwrap(),
    )
    .unwrap();
    wait_status(
        &client,
        &id,
        JobStatus::IncreTransferStarted,
        Duration::from_secs(10),
    )
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn stuck_lag_never_catches_up_even_after_writes_stop() {
    let (h, client, cc) = start(1000.0, 50).await;
    let plan = FaultPlan::parse(
        std::path::Path::new("plan.yaml"),
        "jobs:\n  - name: \"wd-stuck*\"\n    fault: lag_stuck\n",
    )
    .unwrap();
    h.set_faults(plan);
    let id = job_in_cdc(&client, &cc, "stuck01").await;
    client.emulator_source_writes(&id, false).await.unwrap();
    let a = client.poll(std::slice::from_ref(&id)).await.unwrap()[0]
        .lag_s
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = client.poll(std::slice::from_ref(&id)).await.unwrap()[0]
        .lag_s
        .unwrap();
    assert!(b > a && a > 0.0, "lag grows: {a} -> {b}");
    // A job without the fault settles to 0 in the same emulator.
    let ok = job_in_cdc(&client, &cc, "fine01").await;
    client.emulator_source_writes(&ok, false).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.poll(std::slice::from_ref(&ok)).await.unwrap()[0].lag_s != Some(0.0) {
        assert!(Instant::now() < deadline, "healthy job never settled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.shutdown().await;
}

#[tokio::test]
async fn failed_terminate_is_visible_and_can_be_retried() {
    let (h, client, cc) = start(1000.0, 50).await;
    let plan = FaultPlan::parse(
        std::path::Path::new("plan.yaml"),
        "jobs:\n  - name: \"wd-cut*\"\n    fault: terminate_fail\n",
    )
    .unwrap();
    h.set_faults(plan);
    let id = job_in_cdc(&client, &cc, "cut01").await;
    item_result(
        "stop",
        &id,
        &client
            .terminate(std::slice::from_ref(&id), false)
            .await
            .unwrap(),
    )
    .unwrap();
    wait_status(
        &client,
        &id,
        JobStatus::ReleaseResourceFailed,
        Duration::from_secs(5),
    )
    .await;
    // Still read-only: the cutover must not switch DNS now.
    let d = client
        .batch_detail(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(d[0].is_target_readonly, Some(true));
    // Delete is refused per item while the job is not stopped.
    let r = client.delete(std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(
        item_result("delete", &id, &r).unwrap_err().code(),
        Some("DRS.M01504")
    );
    item_result(
        "stop",
        &id,
        &client
            .terminate(std::slice::from_ref(&id), false)
            .await
            .unwrap(),
    )
    .unwrap();
    wait_status(
        &client,
        &id,
        JobStatus::ReleaseResourceComplete,
        Duration::from_secs(5),
    )
    .await;
    // Switchover is for disaster-recovery jobs only: refused per item for a migration.
    let s = client.switchover(std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(s[0].error_code.as_deref(), Some("DRS.M00304"));
    h.shutdown().await;
}

#[tokio::test]
async fn quota_is_enforced_with_drs_error_and_freed_by_stopping() {
    let (h, client, cc) = start(1000.0, 2).await;
    let a = client
        .ensure_job(&spec("quota01", Engine::Mysql, 1.0), &cc.drs)
        .await
        .unwrap();
    client
        .ensure_job(&spec("quota02", Engine::Mysql, 1.0), &cc.drs)
        .await
        .unwrap();
    let e = client
        .ensure_job(&spec("quota03", Engine::Mysql, 1.0), &cc.drs)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("DRS.M05066"), "{e}");
    // Retried by the engine: the quota frees as other jobs end (one table of codes, drs::codes).
    assert!(e.is_retryable());
    assert!(e.to_string().contains("quota"), "{e}");
    let q = client.quotas().await.unwrap();
    assert_eq!(
        (q.quotas.resources[0].used, q.quotas.resources[0].quota),
        (2, 2)
    );
    client
        .terminate(std::slice::from_ref(&a.id), false)
        .await
        .unwrap();
    wait_status(
        &client,
        &a.id,
        JobStatus::ReleaseResourceComplete,
        Duration::from_secs(5),
    )
    .await;
    let c = client
        .ensure_job(&spec("quota03", Engine::Mysql, 1.0), &cc.drs)
        .await
        .unwrap();
    assert!(c.created);
    assert_eq!(h.active_jobs(), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn batch_queries_of_2000_jobs_cost_ceil_n_over_10_calls() {
    let (h, client, cc) = start(100.0, 2100).await;
    let reqs: Vec<CreateJobReq> = (0..2000)
        .map(|i| {
            let engine = if i % 2 == 0 {
                Engine::Postgres
            } else {
                Engine::Mysql
            };
            create_req(&cc.drs, &format!("many{i:04}"), engine, 1.0)
        })
        .collect();
    let before = client.calls_made();
    let created = client.create_jobs(&reqs).await.unwrap();
    assert_eq!(client.calls_made() - before, 200);
    assert!(created
        .iter()
        .all(|r| r.error_code.is_none() && !r.id.is_empty()));
    let ids: Vec<JobId> = created.iter().map(|r| JobId(r.id.clone())).collect();

    let before = client.calls_made();
    let snaps = client.poll(&ids).await.unwrap();
    assert_eq!(client.calls_made() - before, 200);
    assert_eq!(snaps.len(), 2000);
    assert!(snaps
        .iter()
        .zip(&ids)
        .all(|(s, id)| &s.job_id == id && s.error.is_none()));

    let before = client.calls_made();
    let st = client.batch_status(&ids).await.unwrap();
    assert_eq!(client.calls_made() - before, 200);
    assert_eq!(
        st.len(),
        2000,
        "page_req per_page 0 returns every job of each batch"
    );

    let before = client.calls_made();
    let pg = client.list_all_jobs(Engine::Postgres).await.unwrap();
    let my = client.list_all_jobs(Engine::Mysql).await.unwrap();
    assert_eq!((pg.len(), my.len()), (1000, 1000));
    assert_eq!(client.calls_made() - before, 20);
    h.shutdown().await;
}

#[tokio::test]
async fn emulator_refuses_batches_over_10_and_unknown_jobs() {
    let (h, client, _cc) = start(1.0, 50).await;
    let ghost = JobId("00000000-0000-0000-0000-0000000jb000".into());
    // On the wire, as DRS: the whole call is a 400 naming the job in results[0].
    for call in ["batch-status", "batch-detail", "batch-progress"] {
        let (status, body) = raw(
            &h,
            "POST",
            &format!("/v3/{}/jobs/{call}", h.project_id),
            &format!(r#"{{"jobs":["{ghost}"],"page_req":{{"cur_page":1,"per_page":0}}}}"#),
            &wavedeck::drs::sign::date_header_value(chrono::Utc::now()),
        )
        .await;
        assert_eq!(status, 400, "{call}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["results"][0]["error_code"], "DRS.M00289",
            "{call}: {body}"
        );
    }
    // Through the client, the one job gets the refusal as its result.
    let st = client
        .batch_status(std::slice::from_ref(&ghost))
        .await
        .unwrap();
    assert_eq!(st[0].error_code.as_deref(), Some("DRS.M00289"));
    let d = client
        .batch_detail(std::slice::from_ref(&ghost))
        .await
        .unwrap();
    assert_eq!(d[0].error_code.as_deref(), Some("DRS.M00289"));
    let snap = client.poll(std::slice::from_ref(&ghost)).await.unwrap();
    assert_eq!(snap[0].error.as_ref().unwrap().0, "DRS.M00289");
    h.shutdown().await;
}

#[tokio::test]
async fn comparisons_object_rows_and_contents() {
    let (h, client, cc) = start(1000.0, 50).await;
    let id = job_in_cdc(&client, &cc, "cmp01").await;
    client.create_object_compare(&id).await.unwrap();
    let lines = client
        .create_table_compare(
            &id,
            &CreateTableCompareReq {
                kind: "lines".into(),
                start_time: None,
                compare_mode: None,
                compare_object: vec![CompareObject {
                    db_name: "app".into(),
                    table_name: vec!["orders".into(), "customers".into()],
                }],
            },
        )
        .await
        .unwrap();
    let list = client.list_table_compares(&id).await.unwrap();
    assert_eq!(list.count, 1);
    // Wait until it finishes (30 s emulated).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = client.list_table_compares(&id).await.unwrap();
        if l.compare_jobs.iter().all(|c| c.status == "SUCCESSFUL") {
            break;
        }
        assert!(Instant::now() < deadline, "{l:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let contents = client
        .create_table_compare(
            &id,
            &CreateTableCompareReq {
                kind: "contents".into(),
                compare_mode: Some("quick_comparison".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = client.list_table_compares(&id).await.unwrap();
        if l.compare_jobs.iter().all(|c| c.status == "SUCCESSFUL") {
            break;
        }
        assert!(Instant::now() < deadline, "{l:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let obj = client.object_compare(&id).await.unwrap();
    assert!(
        obj.compare_result
            .iter()
            .all(|r| r.status == compare_status::CONSISTENT),
        "{obj:?}"
    );
    let lo = client.line_overview(&id, &lines).await.unwrap();
    assert_eq!(
        lo.data_compare_overview_infos[0].status,
        compare_status::CONSISTENT
    );
    let ld = client.line_detail(&id, &lines).await.unwrap();
    assert_eq!(ld.table_line_compare_result_infos.len(), 2);
    assert!(ld
        .table_line_compare_result_infos
        .iter()
        .all(|t| t.difference_row_num == 0 && t.source_row_num > 0));
    let co = client.content_overview(&id, &contents).await.unwrap();
    assert_eq!(co.content_compare_result_infos[0].data_inconsistent_num, 0);
    let cd = client.content_detail(&id, &contents).await.unwrap();
    assert!(cd
        .content_compare_result_infos
        .iter()
        .all(|t| t.content_compare_result));
    // Asking a row-count view of a contents comparison is a parameter error.
    let e = client.line_overview(&id, &contents).await.unwrap_err();
    assert_eq!(api_code(&e).1, "DRS.M00202");
    // Cancel on a finished comparison is accepted and changes nothing.
    client.cancel_compare(&id, &lines).await.unwrap();
    h.shutdown().await;
}

#[tokio::test]
async fn compare_mismatch_fault_shows_differences_and_compare_needs_cdc() {
    let (h, client, cc) = start(1000.0, 50).await;
    // Comparing before the incremental phase is refused.
    let early = client
        .ensure_job(&spec("cmpearly", Engine::Mysql, 1.0), &cc.drs)
        .await
        .unwrap()
        .id;
    let e = client.create_object_compare(&early).await.unwrap_err();
    assert_eq!(api_code(&e), (400, "DRS.M00304".into()));

    let faulty = client.with_header(wavedeck::drs::client::FAULT_HEADER, "compare_mismatch");
    let cmpbad = spec("cmpbad", Engine::Postgres, 0.5);
    let id = faulty.ensure_job(&cmpbad, &cc.drs).await.unwrap().id;
    wait_status(
        &client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(5),
    )
    .await;
    precheck_pass(&client, &cc, &cmpbad, &id).await;
    client.start(std::slice::from_ref(&id)).await.unwrap();
    wait_status(
        &client,
        &id,
        JobStatus::IncreTransferStarted,
        Duration::from_secs(10),
    )
    .await;
    let cid = client
        .create_table_compare(
            &id,
            &CreateTableCompareReq {
                kind: "lines".into(),
                compare_mode: Some("quick_comparison".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ld = client.line_detail(&id, &cid).await.unwrap();
        let diffs: i64 = ld
            .table_line_compare_result_infos
            .iter()
            .map(|t| t.difference_row_num)
            .sum();
        if ld
            .table_line_compare_result_infos
            .iter()
            .all(|t| t.status != compare_status::COMPARING)
        {
            assert_eq!(diffs, 3, "{ld:?}");
            assert!(ld
                .table_line_compare_result_infos
                .iter()
                .any(|t| t.status == compare_status::INCONSISTENT));
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.shutdown().await;
}

#[tokio::test]
async fn precheck_failure_is_reported_item_by_item() {
    let (h, client, cc) = start(1000.0, 50).await;
    let pcfail = spec("pcfail", Engine::Mysql, 1.0);
    let id = client
        .with_header(wavedeck::drs::client::FAULT_HEADER, "precheck_fail")
        .ensure_job(&pcfail, &cc.drs)
        .await
        .unwrap()
        .id;
    wait_status(
        &client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(5),
    )
    .await;
    prepare(&client, &cc, &pcfail, &id).await;
    let r = client
        .precheck(std::slice::from_ref(&id), false)
        .await
        .unwrap();
    item_result("batch-precheck", &id, &r).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let r = loop {
        let r = client
            .precheck_results(std::slice::from_ref(&id))
            .await
            .unwrap()
            .remove(0);
        if r.finished() {
            break r;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(!r.passed() && !r.result);
    let failed: Vec<_> = r
        .precheck_result
        .iter()
        .filter(|i| i.result == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].failed_reason.is_some());
    let s = client.start(std::slice::from_ref(&id)).await.unwrap();
    assert!(item_result("start", &id, &s).is_err());
    h.shutdown().await;
}

#[tokio::test]
async fn iam_token_auth_works_and_a_bad_token_is_refused() {
    let (h, _client, cc) = start(1.0, 50).await;
    let ok = DrsClient::new(&cc, h.token_auth()).unwrap();
    ok.list_all_jobs(Engine::Postgres).await.unwrap();
    let bad = DrsClient::new(
        &cc,
        Auth::Token(wavedeck::secret::Secret::new("expired-token")),
    )
    .unwrap();
    let e = bad.list_all_jobs(Engine::Postgres).await.unwrap_err();
    assert_eq!(api_code(&e), (401, "APIG.0301".into()));
    h.shutdown().await;
}

#[tokio::test]
async fn five_bad_signatures_lock_the_access_key() {
    let (h, client, cc) = start(1.0, 50).await;
    let Auth::AkSk { ak, .. } = h.auth() else {
        panic!()
    };
    let bad = DrsClient::new(&cc, Auth::aksk(ak.expose(), "wrong")).unwrap();
    for _ in 0..5 {
        bad.list_all_jobs(Engine::Postgres).await.unwrap_err();
    }
    // Now even the right key is refused for a while, with the gateway's lock message.
    let e = client.list_all_jobs(Engine::Postgres).await.unwrap_err();
    match e {
        DrsError::Api { code, message, .. } => {
            assert_eq!(code, "APIG.0301");
            assert!(
                message.contains("AK access failed to reach the limit"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    h.shutdown().await;
}

#[tokio::test]
async fn wrong_project_id_is_refused() {
    let (h, _client, mut cc) = start(1.0, 50).await;
    cc.drs.project_id = "ffffffffffffffffffffffffffffffff".into();
    let c = DrsClient::new(&cc, h.auth()).unwrap();
    let e = c.list_all_jobs(Engine::Postgres).await.unwrap_err();
    assert_eq!(api_code(&e), (403, "DRS.M00261".into()));
    h.shutdown().await;
}

#[tokio::test]
async fn gateway_rate_limit_answers_429_apig_0308() {
    let mut c = cfg(1.0, 50);
    c.emulator.rate_limit_rps = 2.0;
    let h = emulator::spawn(&c, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = h.client(&c).unwrap();
    let mut codes = Vec::new();
    for _ in 0..6 {
        if let Err(e) = client.list_all_jobs(Engine::Postgres).await {
            codes.push(api_code(&e));
        }
    }
    assert!(codes.contains(&(429, "APIG.0308".into())), "{codes:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn a_new_data_comparison_cancels_the_running_one() {
    // Slow enough (x20) that a 30 s comparison is still running when the next one arrives.
    let (h, client, cc) = start(20.0, 50).await;
    let id = job_in_cdc(&client, &cc, "cmpcancel").await;
    let first = client
        .create_table_compare(
            &id,
            &CreateTableCompareReq {
                kind: "lines".into(),
                compare_mode: Some("quick_comparison".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let second = client
        .create_table_compare(
            &id,
            &CreateTableCompareReq {
                kind: "contents".into(),
                compare_mode: Some("quick_comparison".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let l = client.list_table_compares(&id).await.unwrap();
    let status = |cid: &str| {
        l.compare_jobs
            .iter()
            .find(|c| c.id == cid)
            .unwrap()
            .status
            .clone()
    };
    assert_eq!(status(&first), "CANCELLED");
    assert_eq!(status(&second), "RUNNING");
    client.cancel_compare(&id, &second).await.unwrap();
    let l = client.list_table_compares(&id).await.unwrap();
    assert!(
        l.compare_jobs.iter().all(|c| c.status == "CANCELLED"),
        "{l:?}"
    );
    h.shutdown().await;
}

/// Send a hand-made signed request (what the client would never send) and return status and body.
async fn raw(
    h: &EmulatorHandle,
    method: &str,
    path: &str,
    body: &str,
    date: &str,
) -> (u16, String) {
    use wavedeck::drs::sign;
    let Auth::AkSk { ak, sk } = h.auth() else {
        panic!()
    };
    let host = h.addr.to_string();
    let headers = vec![
        ("Host".to_string(), host),
        ("X-Sdk-Date".to_string(), date.to_string()),
    ];
    let input = sign::SignInput {
        method,
        path,
        query: &[],
        headers: &headers,
        body: body.as_bytes(),
    };
    let authz = sign::sign(&input, &ak, &sk).unwrap();
    let resp = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", h.base_url()))
        .header("X-Sdk-Date", date)
        .header("Authorization", authz)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn raw_requests_batch_limit_bad_body_unknown_path_and_clock_skew() {
    let (h, _, _) = start(1.0, 50).await;
    let now = wavedeck::drs::sign::date_header_value(chrono::Utc::now());
    let path = format!("/v3/{}/jobs/batch-status", h.project_id);
    let eleven: Vec<String> = (0..11).map(|i| format!("\"job{i}\"")).collect();
    let (st, body) = raw(
        &h,
        "POST",
        &path,
        &format!("{{\"jobs\":[{}]}}", eleven.join(",")),
        &now,
    )
    .await;
    assert_eq!(st, 400);
    assert!(body.contains("DRS.M00300"), "{body}");
    let (st, body) = raw(&h, "POST", &path, "{\"jobs\":[]}", &now).await;
    assert_eq!((st, body.contains("DRS.M00201")), (400, true), "{body}");
    let (st, body) = raw(&h, "POST", &path, "{not json", &now).await;
    assert_eq!((st, body.contains("DRS.M00007")), (400, true), "{body}");
    let (st, body) = raw(
        &h,
        "GET",
        &format!("/v3/{}/nothing-here", h.project_id),
        "",
        &now,
    )
    .await;
    assert_eq!((st, body.contains("APIG.0101")), (404, true), "{body}");
    // Without page_req DRS shows 5 results per page.
    let client = h.client(&cfg(1.0, 50)).unwrap();
    let drs = Config::default().drs;
    let reqs: Vec<CreateJobReq> = (0..7)
        .map(|i| create_req(&drs, &format!("page{i}"), Engine::Mysql, 1.0))
        .collect();
    let ids: Vec<String> = client
        .create_jobs(&reqs)
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("\"{}\"", r.id))
        .collect();
    let (st, body) = raw(
        &h,
        "POST",
        &path,
        &format!("{{\"jobs\":[{}]}}", ids.join(",")),
        &now,
    )
    .await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["results"].as_array().unwrap().len(), v["count"].as_u64()),
        (5, Some(7)),
        "{body}"
    );
    // A correct signature 20 minutes old is refused.
    let old =
        wavedeck::drs::sign::date_header_value(chrono::Utc::now() - chrono::Duration::minutes(20));
    let (st, body) = raw(&h, "POST", &path, "{\"jobs\":[\"x\"]}", &old).await;
    assert_eq!((st, body.contains("APIG.0301")), (401, true), "{body}");
    h.shutdown().await;
}

#[tokio::test]
async fn connection_test_failure_stops_preparation_for_that_job_only() {
    // x20: CREATING lasts a real second, long enough to try the tests too early.
    let (h, client, cc) = start(20.0, 50).await;
    let good = spec("conngood", Engine::Mysql, 1.0);
    let bad = spec("connbad", Engine::Mysql, 1.0);
    let g = client.ensure_job(&good, &cc.drs).await.unwrap().id;
    let b = client
        .with_header(wavedeck::drs::client::FAULT_HEADER, "connection_fail")
        .ensure_job(&bad, &cc.drs)
        .await
        .unwrap()
        .id;
    // Too early: the jobs are still CREATING, tests are refused per item.
    let early = client
        .prepare_jobs(&[(good.clone(), g.clone())], &cc.drs)
        .await
        .unwrap();
    assert_eq!(early[0].1.as_ref().unwrap_err().code(), Some("DRS.M00304"));
    wait_status(
        &client,
        &g,
        JobStatus::Configuration,
        Duration::from_secs(5),
    )
    .await;
    wait_status(
        &client,
        &b,
        JobStatus::Configuration,
        Duration::from_secs(5),
    )
    .await;
    let r = client
        .prepare_jobs(&[(good, g.clone()), (bad, b.clone())], &cc.drs)
        .await
        .unwrap();
    assert!(r[0].1.is_ok(), "{:?}", r[0]);
    let e = r[1].1.as_ref().unwrap_err();
    assert_eq!(e.code(), Some("DRS.KE0002"), "{e}");
    let p = client
        .precheck(&[g.clone(), b.clone()], false)
        .await
        .unwrap();
    item_result("precheck", &g, &p).unwrap();
    assert!(item_result("precheck", &b, &p).is_err());
    h.shutdown().await;
}

#[tokio::test]
async fn cutover_dns_switch_runs_against_the_emulator_with_drs_signing() {
    use wavedeck::cutover::dns_provider::{Dns, HuaweiDns};
    let (h, _client, _cc) = start(100.0, 50).await;
    let zone = "2c9eb155587194ec01587224c9f90149";
    h.dns_create(zone, "orders.corp.internal.", "A", &["10.0.0.5"], 60)
        .unwrap();
    let dns = Dns::Huawei(HuaweiDns {
        base_url: h.base_url(),
        zone_id: zone.into(),
        project_id: h.project_id.clone(),
        record_type: "A".into(),
        http: reqwest::Client::new(),
        signer: h.auth(),
        poll_every: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
        one_at_a_time: Default::default(),
    });
    let before = dns.current("orders.corp.internal").await.unwrap().unwrap();
    assert_eq!(before.value, "10.0.0.5");
    let change = dns
        .set("orders.corp.internal", "10.1.0.7", 30)
        .await
        .unwrap();
    assert_eq!(change.status, "ACTIVE", "{change:?}");
    let after = dns.current("orders.corp.internal").await.unwrap().unwrap();
    assert_eq!((after.value.as_str(), after.ttl_s), ("10.1.0.7", 30));
    // A name with no record set is an error that says what to do.
    let e = dns
        .set("missing.corp.internal", "10.1.0.7", 30)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("create it before"), "{e}");
    // The wrong key is refused on the DNS paths too.
    let bad = Dns::Huawei(HuaweiDns {
        base_url: h.base_url(),
        zone_id: zone.into(),
        project_id: h.project_id.clone(),
        record_type: "A".into(),
        http: reqwest::Client::new(),
        signer: Auth::aksk("AKNOPE", "nope"),
        poll_every: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
        one_at_a_time: Default::default(),
    });
    let e = bad.current("orders.corp.internal").await.unwrap_err();
    assert!(e.to_string().contains("APIG.0301"), "{e}");
    h.shutdown().await;
}

/// The emulator's Cloud DNS answers (list, update, show) against the DNS API reference's
/// examples (`tests/fixtures/drs/dns-*.json`): the keys both carry have the same JSON types,
/// and every key of the documented record set is there.
#[tokio::test]
async fn dns_answers_have_the_documented_record_set() {
    let (h, _client, _cc) = start(100.0, 50).await;
    let zone = "2c9eb155587194ec01587224c9f90149";
    let id = h
        .dns_create(zone, "www.example.com.", "A", &["192.168.10.1"], 300)
        .unwrap();
    let date = || wavedeck::drs::sign::date_header_value(chrono::Utc::now());
    let base = format!("/v2/zones/{zone}/recordsets");
    let documented = fixture("dns-show.response");
    let keys: Vec<&str> = documented
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let (st, list) = raw(&h, "GET", &base, "", &date()).await;
    assert_eq!(st, 200, "{list}");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_shape("dns-find", &list, &fixture("dns-find.response"));
    let update = fixture("dns-update.request").to_string();
    let (st, updated) = raw(&h, "PUT", &format!("{base}/{id}"), &update, &date()).await;
    assert_eq!(st, 202, "{updated}");
    let updated: serde_json::Value = serde_json::from_str(&updated).unwrap();
    assert_shape("dns-update", &updated, &fixture("dns-update.response"));
    let (st, shown) = raw(&h, "GET", &format!("{base}/{id}"), "", &date()).await;
    assert_eq!(st, 200, "{shown}");
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_shape("dns-show", &shown, &documented);
    for (call, r) in [
        ("dns-find", &list["recordsets"][0]),
        ("dns-update", &updated),
        ("dns-show", &shown),
    ] {
        assert!(
            missing_keys(r, &keys).is_empty(),
            "{call}: {r} lacks some of {keys:?}"
        );
        assert_eq!(r["zone_name"], "example.com.", "{call}: {r}");
        assert_eq!(
            r["links"]["self"],
            format!("{}{base}/{id}", h.base_url()).as_str(),
            "{call}: {r}"
        );
    }
    h.shutdown().await;
}

#[tokio::test]
async fn fault_plan_file_from_config_is_loaded_and_a_bad_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("faults.yaml");
    std::fs::write(
        &plan,
        "requests:\n  - path: batch-progress\n    fault: error_503\n",
    )
    .unwrap();
    let mut c = cfg(1.0, 50);
    c.emulator.faults_file = Some(plan.clone());
    let h = emulator::spawn(&c, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = h.client(&c).unwrap();
    let e = client.poll(&[JobId("x".into())]).await.unwrap_err();
    assert_eq!(api_code(&e), (503, "DRS.M00004".into()));
    client.list_all_jobs(Engine::Postgres).await.unwrap();
    h.shutdown().await;

    std::fs::write(&plan, "requests:\n  - path: x\n    fault: explode\n").unwrap();
    let e = emulator::spawn(&c, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("faults.yaml:3"), "{e}");
    // Not loopback: refused.
    let e = emulator::spawn(&cfg(1.0, 50), "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("loopback"), "{e}");
}

#[tokio::test]
async fn poll_keeps_going_when_one_batch_call_fails() {
    let (h, client, _cc) = start(1.0, 50).await;
    let drs = Config::default().drs;
    let reqs: Vec<CreateJobReq> = (0..15)
        .map(|i| create_req(&drs, &format!("part{i:02}"), Engine::Mysql, 1.0))
        .collect();
    let ids: Vec<JobId> = client
        .create_jobs(&reqs)
        .await
        .unwrap()
        .into_iter()
        .map(|r| JobId(r.id))
        .collect();
    // Every 2nd batch-progress call is throttled: of a round's two calls, one fails.
    h.set_faults(
        FaultPlan::parse(
            std::path::Path::new("p.yaml"),
            "requests:\n  - path: batch-progress\n    fault: throttle_429\n    every: 2\n",
        )
        .unwrap(),
    );
    let snaps = client.poll(&ids).await.unwrap();
    let throttled = snaps
        .iter()
        .filter(|s| s.error.as_ref().is_some_and(|e| e.0 == "APIG.0308"))
        .count();
    let fine = snaps
        .iter()
        .filter(|s| s.status == Some(JobStatus::Creating))
        .count();
    assert_eq!(throttled + fine, 15, "{snaps:?}");
    assert!(throttled == 5 || throttled == 10, "{throttled}");
    // When every call fails, the round fails with the throttling error.
    let e = client.poll(&ids[..5]).await;
    let e2 = client.poll(&ids[..5]).await;
    let errs: Vec<_> = [e, e2].into_iter().filter_map(|r| r.err()).collect();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].code(), Some("APIG.0308"));
    assert!(errs[0].is_retryable());
    h.shutdown().await;
}

// ---------- day one on the real DRS (issue 12): what the SDK requires and how DRS refuses ----------

/// A password for a connection test (mandatory in the SDK's `test_end_point.py`); the
/// emulator connects to nothing.
fn test_pw() -> Option<wavedeck::secret::Secret> {
    Some(wavedeck::secret::Secret::new("emulator-connects-nowhere"))
}

/// A job through create and both connection tests, ready for its modify.
async fn tested_job(client: &DrsClient, cc: &Config, s: &DatabaseSpec) -> JobId {
    let id = client.ensure_job(s, &cc.drs).await.unwrap().id;
    wait_status(
        client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(10),
    )
    .await;
    let tests = wavedeck::drs::api::connection_tests(s, &id, &cc.drs, test_pw(), test_pw());
    let r = client.test_connections(&tests).await.unwrap();
    assert!(r.iter().all(|r| r.ok()), "{r:?}");
    id
}

#[tokio::test]
async fn modify_after_the_connection_test_needs_node_type_and_replace_definer() {
    let (h, client, cc) = start(100.0, 50).await;
    let s = spec("oldmod01", Engine::Mysql, 1.0);
    let id = tested_job(&client, &cc, &s).await;
    // The request the client sent before issue 12 (fixture, printed by `modify_request` at
    // 6bb7d08 for this spec): no node_type, no replace_definer. Answered: HTTP 400
    // {"error_code":"DRS.M00201","error_msg":"The parameter node_type is empty."}.
    let old = std::fs::read_to_string("tests/fixtures/drs/old-client-modify.json")
        .unwrap()
        .replace("JOB_ID", &id.0);
    let (status, body) = raw(
        &h,
        "PUT",
        &format!("/v3/{}/jobs/batch-modification", h.project_id),
        &old,
        &wavedeck::drs::sign::date_header_value(chrono::Utc::now()),
    )
    .await;
    println!("old client's modify answered: HTTP {status} {body}");
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"error_code": "DRS.M00201", "error_msg": "The parameter node_type is empty."}),
        "{body}"
    );
    // Without replace_definer a MySQL job is refused too.
    let mut m = wavedeck::drs::api::modify_request(&s, &id, &cc.drs, None, None);
    m.replace_definer = None;
    let e = client.modify_jobs(&[m]).await.unwrap_err();
    assert_eq!(api_code(&e), (400, "DRS.M00201".into()));
    assert!(e.to_string().contains("replace_definer"), "{e}");
    // The request as built now is taken.
    let m = wavedeck::drs::api::modify_request(&s, &id, &cc.drs, None, None);
    assert_eq!(
        (m.node_type.as_deref(), m.replace_definer, m.is_recreate),
        (Some(cc.drs.node_type.as_str()), Some(true), Some(false))
    );
    let r = client.modify_jobs(&[m]).await.unwrap();
    item_result("batch-modification", &id, &r).unwrap();
    h.shutdown().await;
}

#[tokio::test]
async fn postgres_jobs_are_listed_only_with_their_engine_type() {
    let (h, client, cc) = start(100.0, 50).await;
    let s = spec("pglist01", Engine::Postgres, 1.0);
    let a = client.ensure_job(&s, &cc.drs).await.unwrap();
    // A list without engine_type is a MySQL list, as DRS's default says.
    let bare = client
        .list_jobs(&ListJobsReq {
            cur_page: 1,
            per_page: 100,
            db_use_type: "sync".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(bare.jobs.is_empty(), "{bare:?}");
    let found = client
        .find_job_by_name(Engine::Postgres, &job_name_for("pglist01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, a.id.0);
    // Names are case-insensitive in DRS.
    let upper = client
        .find_job_by_name(Engine::Postgres, &job_name_for("pglist01").to_uppercase())
        .await
        .unwrap();
    assert_eq!(upper.map(|j| j.id), Some(a.id.0.clone()));
    h.shutdown().await;
}

#[tokio::test]
async fn a_name_lookup_reads_every_page() {
    let (h, client, cc) = start(100.0, 500).await;
    // 105 jobs whose names contain the one looked for, created before it: it is on page 2.
    let reqs: Vec<CreateJobReq> = (0..105)
        .map(|i| {
            let mut r = create_req(&cc.drs, &format!("paged-{i:03}"), Engine::Mysql, 0.1);
            r.name = format!("wd-paged-x{i:03}");
            r
        })
        .collect();
    let r = client.create_jobs(&reqs).await.unwrap();
    assert!(r.iter().all(|r| r.error_code.is_none()), "{r:?}");
    let target = client
        .ensure_job(&spec("paged", Engine::Mysql, 0.1), &cc.drs)
        .await
        .unwrap();
    assert!(target.created);
    let again = client
        .ensure_job(&spec("paged", Engine::Mysql, 0.1), &cc.drs)
        .await
        .unwrap();
    assert!(!again.created, "found again, not created twice");
    assert_eq!(again.id, target.id);
    h.shutdown().await;
}

#[tokio::test]
async fn one_unknown_job_in_a_batch_leaves_the_others_alone() {
    let (h, client, cc) = start(100.0, 50).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let s = spec(&format!("mixed{i}"), Engine::Mysql, 1.0);
        ids.push(client.ensure_job(&s, &cc.drs).await.unwrap().id);
    }
    let ghost = JobId("00000000-0000-4000-8000-00000000jb00".into());
    let asked = vec![
        ids[0].clone(),
        ghost.clone(),
        ids[1].clone(),
        ids[2].clone(),
    ];
    let st = client.batch_status(&asked).await.unwrap();
    for s in &st {
        if s.id == ghost.0 {
            assert_eq!(s.error_code.as_deref(), Some("DRS.M00289"), "{s:?}");
        } else {
            assert!(s.error_code.is_none() && s.status.is_some(), "{s:?}");
        }
    }
    assert_eq!(st.len(), 4);
    let snaps = client.poll(&asked).await.unwrap();
    assert_eq!(
        snaps[1].error.as_ref().map(|e| e.0.as_str()),
        Some("DRS.M00289")
    );
    for k in [0, 2, 3] {
        assert!(
            snaps[k].error.is_none() && snaps[k].status.is_some(),
            "{:?}",
            snaps[k]
        );
    }
    // An action too: the live jobs get their own answers.
    let r = client.pause(&asked, false).await.unwrap();
    let e = item_result("batch-pause-task", &ghost, &r).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    for id in &ids {
        let e = item_result("batch-pause-task", id, &r).unwrap_err();
        assert!(!e.is_not_found(), "a live job is never taken as gone: {e}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn a_taken_name_refuses_the_whole_create_and_the_client_finds_which() {
    let (h, client, cc) = start(100.0, 50).await;
    let taken = spec("dupname01", Engine::Mysql, 1.0);
    let first = client.ensure_job(&taken, &cc.drs).await.unwrap();
    let mut dup = wavedeck::drs::api::create_request(&taken, &cc.drs, None, None);
    // Case does not make a name new.
    dup.name = dup.name.to_uppercase();
    let fresh = create_req(&cc.drs, "dupname02", Engine::Mysql, 1.0);
    let body = serde_json::to_string(&Jobs::of(vec![dup.clone(), fresh.clone()])).unwrap();
    let (status, answer) = raw(
        &h,
        "POST",
        &format!("/v3/{}/jobs/batch-creation", h.project_id),
        &body,
        &wavedeck::drs::sign::date_header_value(chrono::Utc::now()),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("DRS.M00277"), "{answer}");
    // The client asks job by job: the fresh one is created, the taken one refused alone.
    let r = client.create_jobs(&[dup, fresh]).await.unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].error_code.as_deref(), Some("DRS.M00277"), "{r:?}");
    assert!(r[1].error_code.is_none() && !r[1].id.is_empty(), "{r:?}");
    // And ensure_job takes the existing job.
    let again = client.ensure_job(&taken, &cc.drs).await.unwrap();
    assert_eq!((again.id, again.created), (first.id, false));
    h.shutdown().await;
}

#[tokio::test]
async fn a_create_without_a_subnet_is_refused_and_the_client_says_what_to_set() {
    let (h, client, cc) = start(100.0, 50).await;
    // customize_sutnet_id is mandatory (create_job_req.py): empty is refused for the call.
    let mut req = create_req(&cc.drs, "nosubnet01", Engine::Mysql, 1.0);
    req.customize_sutnet_id = String::new();
    let e = client.create_jobs(&[req]).await.unwrap_err();
    assert_eq!(api_code(&e), (400, "DRS.M00201".into()));
    assert!(e.to_string().contains("customize_sutnet_id"), "{e}");
    // The client does not ask: it names the config key to set.
    let mut drs = cc.drs.clone();
    drs.subnet_id = " ".into();
    let e = client
        .ensure_job(&spec("nosubnet01", Engine::Mysql, 1.0), &drs)
        .await
        .unwrap_err();
    assert!(
        matches!(e, DrsError::Config(_)) && e.to_string().contains("drs.subnet_id"),
        "{e}"
    );
    assert!(client
        .find_job_by_name(Engine::Mysql, &job_name_for("nosubnet01"))
        .await
        .unwrap()
        .is_none());
    h.shutdown().await;
}

#[tokio::test]
async fn a_connection_test_without_a_password_is_refused_and_never_sent() {
    let (h, client, cc) = start(100.0, 50).await;
    let s = spec("nopw01", Engine::Postgres, 1.0);
    let id = client.ensure_job(&s, &cc.drs).await.unwrap().id;
    wait_status(
        &client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(10),
    )
    .await;
    // db_password is mandatory (test_end_point.py): a test without it fails the whole call.
    let tests = wavedeck::drs::api::connection_tests(&s, &id, &cc.drs, None, test_pw());
    let e = client.test_connections(&tests).await.unwrap_err();
    assert_eq!(api_code(&e), (400, "DRS.M00201".into()));
    assert!(e.to_string().contains("db_password"), "{e}");
    // The client prepares the database whose password it can read, and fails the other
    // alone, naming it and the variable, without sending it.
    let mut unset = spec("nopw02", Engine::Postgres, 1.0);
    unset.target.password = SecretRef::Env("WAVEDECK_TEST_SURELY_UNSET_TARGET_PW".into());
    let id2 = client.ensure_job(&unset, &cc.drs).await.unwrap().id;
    wait_status(
        &client,
        &id2,
        JobStatus::Configuration,
        Duration::from_secs(10),
    )
    .await;
    let r = client
        .prepare_jobs(&[(s, id.clone()), (unset, id2.clone())], &cc.drs)
        .await
        .unwrap();
    assert!(r[0].1.is_ok(), "{r:?}");
    let e = r[1].1.as_ref().unwrap_err();
    assert!(matches!(e, DrsError::Config(_)), "{e}");
    let words = e.to_string();
    assert!(
        words.contains("nopw02")
            && words.contains("target password")
            && words.contains("WAVEDECK_TEST_SURELY_UNSET_TARGET_PW"),
        "{words}"
    );
    // Never tested: the job is still waiting for its connection test.
    let e = client
        .precheck(std::slice::from_ref(&id2), false)
        .await
        .unwrap();
    assert!(item_result("batch-precheck", &id2, &e).is_err(), "{e:?}");
    h.shutdown().await;
}

/// Every call's mandatory fields (the SDK's request models): one left out is DRS's 400
/// DRS.M00201 naming it, for the whole call, before any job is looked up.
#[tokio::test]
async fn each_calls_mandatory_fields_are_refused_when_left_out() {
    let (h, _, _) = start(1.0, 50).await;
    let pid = h.project_id.clone();
    let now = wavedeck::drs::sign::date_header_value(chrono::Utc::now());
    let job = "00000000-0000-0000-0000-00000000beef";
    let cases: [(&str, String, String, &str); 9] = [
        (
            "POST",
            format!("/v3/{pid}/jobs"),
            r#"{"cur_page":1,"per_page":10}"#.into(),
            "db_use_type",
        ),
        (
            "POST",
            format!("/v3/{pid}/jobs/batch-status"),
            "{}".into(),
            "jobs",
        ),
        (
            "POST",
            format!("/v3/{pid}/jobs/batch-progress"),
            r#"{"jobs":null}"#.into(),
            "jobs",
        ),
        (
            "POST",
            format!("/v3/{pid}/jobs/batch-precheck"),
            format!(r#"{{"jobs":[{{"job_id":"{job}"}}]}}"#),
            "precheck_mode",
        ),
        (
            "POST",
            format!("/v3/{pid}/jobs/batch-starting"),
            r#"{"jobs":[{}]}"#.into(),
            "job_id",
        ),
        (
            "POST",
            format!("/v3/{pid}/jobs/batch-pause-task"),
            format!(r#"{{"jobs":[{{"job_id":"{job}"}}]}}"#),
            "pause_mode",
        ),
        (
            "POST",
            format!("/v3/{pid}/jobs/batch-retry-task"),
            r#"{"jobs":[{"job_id":""}]}"#.into(),
            "job_id",
        ),
        (
            "DELETE",
            format!("/v3/{pid}/jobs/batch-jobs"),
            format!(r#"{{"jobs":[{{"job_id":"{job}"}}]}}"#),
            "delete_type",
        ),
        (
            "POST",
            format!("/v3/{pid}/jobs/{job}/table/compare"),
            r#"{"compare_mode":"quick_comparison"}"#.into(),
            "type",
        ),
    ];
    for (method, path, body, field) in cases {
        let (st, answer) = raw(&h, method, &path, &body, &now).await;
        assert_eq!(st, 400, "{method} {path} {body}: {answer}");
        assert!(
            answer.contains("DRS.M00201") && answer.contains(&format!("parameter {field} ")),
            "{method} {path} {body}: {answer}"
        );
    }
    h.shutdown().await;
}

#[tokio::test]
async fn temporary_credentials_sign_with_their_security_token() {
    let (h, _client, cc) = start(100.0, 50).await;
    let key = h.issue_temporary(None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("securitykey.json");
    // As the ECS metadata service (and IAM's securitytokens call) gives them.
    std::fs::write(
        &file,
        serde_json::json!({"credential": {
            "access": key.ak.expose(),
            "secret": key.sk.expose(),
            "securitytoken": key.token.expose(),
            "expires_at": "2999-01-01T00:00:00.000000Z"
        }})
        .to_string(),
    )
    .unwrap();
    let mut c = h.client_config(&cc);
    c.drs.temporary_credentials_file = Some(file);
    let temp = DrsClient::from_config(&c).unwrap();
    let j = temp
        .ensure_job(&spec("tempcred01", Engine::Mysql, 1.0), &c.drs)
        .await
        .unwrap();
    assert!(j.created);
    // The same pair without its token, or with another one, is refused by the gateway.
    let bare = DrsClient::new(
        &c,
        Auth::AkSk {
            ak: key.ak.clone(),
            sk: key.sk.clone(),
        },
    )
    .unwrap();
    let e = bare.list_all_jobs(Engine::Mysql).await.unwrap_err();
    assert!(e.is_auth(), "{e}");
    let wrong = wavedeck::drs::auth::TemporaryKey {
        token: wavedeck::secret::Secret::new("not-the-token"),
        ..key.clone()
    };
    let other = DrsClient::new(
        &c,
        Auth::Temporary(std::sync::Arc::new(wavedeck::drs::auth::Temporary::fixed(
            wrong,
        ))),
    )
    .unwrap();
    let e = other.list_all_jobs(Engine::Mysql).await.unwrap_err();
    assert!(e.is_auth(), "{e}");
    for shown in [e.to_string(), format!("{e:?}"), format!("{temp:?}")] {
        assert!(!shown.contains(key.token.expose()), "{shown}");
        assert!(!shown.contains(key.sk.expose()), "{shown}");
    }
    h.shutdown().await;
}

// ---------- the API reference's examples (tests/fixtures/drs/) ----------

fn fixture(name: &str) -> serde_json::Value {
    let p = format!("tests/fixtures/drs/{name}.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Where `ours` and the documented example share a key, the JSON types agree (objects
/// field by field, arrays by their first items). Differences go to `out` as paths.
fn shape_diff(
    path: &str,
    ours: &serde_json::Value,
    doc: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value::*;
    match (ours, doc) {
        (Object(a), Object(b)) => {
            for (k, v) in a {
                if let Some(d) = b.get(k) {
                    shape_diff(&format!("{path}.{k}"), v, d, out);
                }
            }
        }
        (Array(a), Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                shape_diff(&format!("{path}[0]"), x, y, out);
            }
        }
        (Null, _) | (_, Null) => {}
        (a, b) if kind(a) != kind(b) => out.push(format!(
            "{path}: {} here, {} in the example",
            kind(a),
            kind(b)
        )),
        _ => {}
    }
}

fn missing_keys(v: &serde_json::Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .filter(|k| v.get(**k).is_none_or(|x| x.is_null()))
        .map(|k| k.to_string())
        .collect()
}

/// Differences the SDK decides against the example (named with the SDK file).
const SDK_OVER_EXAMPLE: &[(&str, &str)] = &[
    // model_endpoint.go / endpoint.py: db_port is an integer; the modify example shows "3306".
    ("batch-modification", ".jobs[0].source_endpoint.db_port"),
];

fn assert_shape(call: &str, ours: &serde_json::Value, doc: &serde_json::Value) {
    let mut d = Vec::new();
    shape_diff("", ours, doc, &mut d);
    d.retain(|p| {
        !SDK_OVER_EXAMPLE
            .iter()
            .any(|(c, at)| *c == call && p.starts_with(at))
    });
    assert!(
        d.is_empty(),
        "{call}: shape differs from the documented example: {d:?}\nours: {ours}"
    );
}

#[tokio::test]
async fn requests_have_the_documented_shape_and_the_sdks_mandatory_keys() {
    // The check itself sees a type change and a nested one.
    let mut d = Vec::new();
    shape_diff(
        "",
        &serde_json::json!({"a": {"b": 1}, "c": [{"d": true}]}),
        &serde_json::json!({"a": {"b": "1"}, "c": [{"d": "true"}]}),
        &mut d,
    );
    assert_eq!(d.len(), 2, "{d:?}");
    let (h, client, cc) = start(100.0, 50).await;
    let s = spec("docshape01", Engine::Mysql, 1.0);
    let pw = Some(wavedeck::secret::Secret::new("pw-docshape"));
    let json = |v: &dyn erased::Ser| v.value();
    // batch-creation (create_job_req.py mandatory keys)
    let create = wavedeck::drs::api::create_request(&s, &cc.drs, pw.clone(), pw.clone());
    let ours = serde_json::json!({ "jobs": [json(&create)] });
    assert_shape("batch-creation", &ours, &fixture("batch-creation.request"));
    let m = missing_keys(
        &ours["jobs"][0],
        &[
            "db_use_type",
            "name",
            "engine_type",
            "job_direction",
            "net_type",
            "node_type",
            "source_endpoint",
            "target_endpoint",
            "task_type",
            "customize_sutnet_id",
        ],
    );
    assert!(m.is_empty(), "batch-creation lacks {m:?}");
    let id = client.ensure_job(&s, &cc.drs).await.unwrap().id;
    wait_status(
        &client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(10),
    )
    .await;
    // list-jobs (query_jobs_req.py: db_use_type; DRS's default engine_type is mysql)
    let list = wavedeck::drs::job_kind::list_request(
        Engine::Mysql,
        1,
        100,
        Some(job_name_for("docshape01")),
    );
    let ours = json(&list);
    assert_shape("list-jobs", &ours, &fixture("list-jobs.request"));
    assert!(missing_keys(
        &ours,
        &["db_use_type", "engine_type", "cur_page", "per_page"]
    )
    .is_empty());
    // batch-connection (test_end_point.py mandatory keys)
    let tests = wavedeck::drs::api::connection_tests(&s, &id, &cc.drs, pw.clone(), pw.clone());
    let ours = serde_json::json!({ "jobs": tests.iter().map(|t| json(t)).collect::<Vec<_>>() });
    assert_shape(
        "batch-connection",
        &ours,
        &fixture("batch-connection.request"),
    );
    for t in ours["jobs"].as_array().unwrap() {
        let m = missing_keys(
            t,
            &[
                "id",
                "net_type",
                "db_type",
                "ip",
                "db_user",
                "db_password",
                "end_point_type",
            ],
        );
        assert!(m.is_empty(), "batch-connection lacks {m:?}");
    }
    let r = client.test_connections(&tests).await.unwrap();
    assert!(r.iter().all(|r| r.ok()), "{r:?}");
    // batch-modification after the connection test (modify_job_req.py "测试连接之后…必填")
    let modify = wavedeck::drs::api::modify_request(&s, &id, &cc.drs, pw.clone(), pw.clone());
    let ours = serde_json::json!({ "jobs": [json(&modify)] });
    assert_shape(
        "batch-modification",
        &ours,
        &fixture("batch-modification.request"),
    );
    let m = missing_keys(
        &ours["jobs"][0],
        &[
            "job_id",
            "node_type",
            "engine_type",
            "net_type",
            "store_db_info",
            "job_direction",
            "replace_definer",
        ],
    );
    assert!(m.is_empty(), "batch-modification lacks {m:?}");
    // The example itself, which leaves job_direction out although the SDK marks it mandatory
    // after the connection test: the emulator follows the SDK (modify_job_req.py).
    let mut doc = fixture("batch-modification.request");
    doc["jobs"][0]["job_id"] = serde_json::json!(id.0);
    let (status, body) = raw(
        &h,
        "PUT",
        &format!("/v3/{}/jobs/batch-modification", h.project_id),
        &doc.to_string(),
        &wavedeck::drs::sign::date_header_value(chrono::Utc::now()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("job_direction"), "{body}");
    // batch-status / batch-progress / batch-precheck-result: lists of ids
    for call in ["batch-status", "batch-progress", "batch-precheck-result"] {
        let ours = serde_json::json!({ "jobs": [id.0] });
        assert_shape(call, &ours, &fixture(&format!("{call}.request")));
    }
    h.shutdown().await;
}

/// Serialising any request model to a JSON value (the builders return different types).
mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}

#[tokio::test]
async fn documented_responses_read_through_the_models_and_the_emulator_answers_alike() {
    // Each documented answer reads through wavedeck's model, with the fields the engine uses.
    let c: Results<CreateJobResult> =
        serde_json::from_value(fixture("batch-creation.response")).unwrap();
    assert_eq!(
        (c.results[0].name.as_str(), c.results[0].status.clone()),
        ("DRS-9228", Some(JobStatus::Creating))
    );
    let l: ListJobsResp = serde_json::from_value(fixture("list-jobs.response")).unwrap();
    assert!(l.total_record >= 1 && l.jobs[0].status == JobStatus::IncreTransferFailed);
    let t: Results<ConnectionResult> =
        serde_json::from_value(fixture("batch-connection.response")).unwrap();
    assert!(t.results[0].ok());
    let m: Results<ActionResult> =
        serde_json::from_value(fixture("batch-modification.response")).unwrap();
    assert!(m.results[0].ok());
    let st: Results<JobStatusResult> =
        serde_json::from_value(fixture("batch-status.response")).unwrap();
    assert_eq!(st.results[1].status, Some(JobStatus::IncreTransferFailed));
    let p: Results<ProgressResult> =
        serde_json::from_value(fixture("batch-progress.response")).unwrap();
    let snap = wavedeck::drs::api::JobSnapshot::from_progress(p.results[0].clone());
    assert_eq!((snap.full_pct, snap.lag_s), (Some(100.0), Some(0.0)));
    let pr: Results<PrecheckResult> =
        serde_json::from_value(fixture("batch-precheck-result.response")).unwrap();
    assert!(pr.results[0].passed());
    let s: Results<ActionResult> =
        serde_json::from_value(fixture("batch-starting.response")).unwrap();
    assert!(s.results[0].ok());
    let d: Results<JobDetail> = serde_json::from_value(fixture("batch-detail.response")).unwrap();
    assert!(d.results[0].source_endpoint.is_some());
    for call in [
        "batch-precheck",
        "batch-pause-task",
        "batch-retry-task",
        "batch-jobs-delete",
    ] {
        let a: Results<ActionResult> = serde_json::from_value(fixture(&format!("{call}.response")))
            .unwrap_or_else(|e| panic!("{call}: {e}"));
        assert!(a.results[0].ok(), "{call}: {a:?}");
    }
    let pc: Results<ActionResult> =
        serde_json::from_value(fixture("batch-precheck.response")).unwrap();
    assert_eq!(
        pc.results[0].precheck_id.as_deref(),
        Some(pc.results[0].id.as_str())
    );
    // A per-item failure inside the 202 is read as that job's error, the other job's success kept.
    let term: Results<ActionResult> =
        serde_json::from_value(fixture("batch-jobs-terminate.response")).unwrap();
    let errs = wavedeck::drs::api::item_errors("batch-jobs", &term.results);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].code(), Some("DRS.M01504"));
    assert!(errs[0].is_retryable(), "{}", errs[0]);
    let sel: SelectObjectsResp =
        serde_json::from_value(fixture("batch-select-objects.response")).unwrap();
    assert!(sel.results[0].status);
    let q: QuotasResp = serde_json::from_value(fixture("quotas.response")).unwrap();
    assert_eq!(
        (q.quotas.resources[0].quota, q.quotas.resources[0].used),
        (9999, 41)
    );

    // The emulator's answers to the same calls have the documented shapes.
    let (h, client, cc) = start(100.0, 50).await;
    let sp = spec("docanswer01", Engine::Mysql, 1.0);
    let date = || wavedeck::drs::sign::date_header_value(chrono::Utc::now());
    let pid = h.project_id.clone();
    let create = wavedeck::drs::api::create_request(&sp, &cc.drs, None, None);
    let (code, body) = raw(
        &h,
        "POST",
        &format!("/v3/{pid}/jobs/batch-creation"),
        &serde_json::json!({ "jobs": [create] }).to_string(),
        &date(),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let got: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_shape("batch-creation", &got, &fixture("batch-creation.response"));
    let id = JobId(got["results"][0]["id"].as_str().unwrap().to_string());
    wait_status(
        &client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(10),
    )
    .await;
    let list = serde_json::json!({"cur_page": 1, "per_page": 5, "db_use_type": "migration", "engine_type": "mysql"});
    let calls: Vec<(&str, String, String)> = vec![
        ("list-jobs", format!("/v3/{pid}/jobs"), list.to_string()),
        (
            "batch-connection",
            format!("/v3/{pid}/jobs/batch-connection"),
            serde_json::json!({
                "jobs": wavedeck::drs::api::connection_tests(&sp, &id, &cc.drs, test_pw(), test_pw())
            })
            .to_string(),
        ),
        (
            "batch-modification",
            format!("/v3/{pid}/jobs/batch-modification"),
            serde_json::json!({
                "jobs": [wavedeck::drs::api::modify_request(&sp, &id, &cc.drs, None, None)]
            })
            .to_string(),
        ),
        (
            "batch-status",
            format!("/v3/{pid}/jobs/batch-status"),
            serde_json::json!({"jobs": [id.0]}).to_string(),
        ),
        (
            "batch-progress",
            format!("/v3/{pid}/jobs/batch-progress"),
            serde_json::json!({"jobs": [id.0]}).to_string(),
        ),
        (
            "batch-detail",
            format!("/v3/{pid}/jobs/batch-detail"),
            serde_json::json!({"jobs": [id.0], "page_req": {"cur_page": 1, "per_page": 0}})
                .to_string(),
        ),
        (
            "batch-select-objects",
            format!("/v3/{pid}/jobs/batch-select-objects"),
            serde_json::json!({"jobs": [wavedeck::drs::api::select_request(&sp, &id)]})
                .to_string(),
        ),
        (
            "batch-precheck",
            format!("/v3/{pid}/jobs/batch-precheck"),
            serde_json::json!({"jobs": [{"job_id": id.0, "precheck_mode": "forStartJob"}]})
                .to_string(),
        ),
        // In CONFIGURATION these are refused per job (inside the 2xx, as DRS answers them):
        // a refused item has the documented item's keys and types too.
        (
            "batch-starting",
            format!("/v3/{pid}/jobs/batch-starting"),
            serde_json::json!({"jobs": [{"job_id": id.0}]}).to_string(),
        ),
        (
            "batch-pause-task",
            format!("/v3/{pid}/jobs/batch-pause-task"),
            serde_json::json!({"jobs": [{"job_id": id.0, "pause_mode": "target"}]}).to_string(),
        ),
        (
            "batch-retry-task",
            format!("/v3/{pid}/jobs/batch-retry-task"),
            serde_json::json!({"jobs": [{"job_id": id.0}]}).to_string(),
        ),
        (
            "batch-jobs-terminate",
            format!("/v3/{pid}/jobs/batch-jobs"),
            serde_json::json!({"jobs": [{"job_id": id.0, "delete_type": "terminate"}]})
                .to_string(),
        ),
        (
            "batch-jobs-delete",
            format!("/v3/{pid}/jobs/batch-jobs"),
            serde_json::json!({"jobs": [{"job_id": id.0, "delete_type": "delete"}]}).to_string(),
        ),
    ];
    // quotas: one object under `resource` (HW drs_03_0144), not a list.
    let (code, body) = raw(&h, "GET", &format!("/v3/{pid}/quotas"), "", &date()).await;
    assert_eq!(code, 200, "{body}");
    let got: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_shape("quotas", &got, &fixture("quotas.response"));
    assert!(got["quotas"]["resource"].is_object(), "{body}");
    for (call, path, req) in calls {
        let method = match call {
            "batch-modification" | "batch-select-objects" => "PUT",
            "batch-jobs-terminate" | "batch-jobs-delete" => "DELETE",
            _ => "POST",
        };
        let (code, body) = raw(&h, method, &path, &req, &date()).await;
        assert!((200..300).contains(&code), "{call}: HTTP {code} {body}");
        let got: serde_json::Value = serde_json::from_str(&body).unwrap();
        let doc = fixture(&format!("{call}.response"));
        assert_shape(call, &got, &doc);
        // The envelope keys the example has.
        let top: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            missing_keys(&got, &top).is_empty(),
            "{call}: {body} lacks some of {top:?}"
        );
    }
    h.shutdown().await;
}

/// The comparison calls whose whole examples Huawei's pages give (HW drs_03_0255, drs_03_0244;
/// `tests/fixtures/drs/README.md`): the documented request goes through the emulator, whose
/// answers have the documented statuses and bodies, and a refused object comparison has the
/// documented error's keys and types.
#[tokio::test]
async fn comparison_answers_are_the_documented_examples() {
    let (h, client, cc) = start(1000.0, 50).await;
    let pid = h.project_id.clone();
    let date = || wavedeck::drs::sign::date_header_value(chrono::Utc::now());
    let doc_req = fixture("object-compare.request").to_string();
    // Before the incremental phase DRS refuses it: the documented 400 body's shape.
    let early = client
        .ensure_job(&spec("cmpdoc00", Engine::Mysql, 1.0), &cc.drs)
        .await
        .unwrap()
        .id;
    let path = format!("/v3/{pid}/jobs/{early}/object/compare");
    let (code, body) = raw(&h, "POST", &path, &doc_req, &date()).await;
    assert_eq!(code, 400, "{body}");
    let got: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_shape(
        "object-compare.error",
        &got,
        &fixture("object-compare.error"),
    );
    let m = missing_keys(&got, &["error_code", "error_msg"]);
    assert!(m.is_empty(), "{body} lacks {m:?}");

    let id = job_in_cdc(&client, &cc, "cmpdoc01").await;
    let path = format!("/v3/{pid}/jobs/{id}/object/compare");
    let (code, body) = raw(&h, "POST", &path, &doc_req, &date()).await;
    assert_eq!(code, 202, "{body}");
    let got: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
    assert_eq!(got, fixture("object-compare.response"), "{body}");

    let cid = client
        .create_table_compare(&id, &wavedeck::drs::api::row_compare_request())
        .await
        .unwrap();
    let path = format!("/v3/{pid}/jobs/{id}/compare/{cid}");
    let (code, body) = raw(&h, "DELETE", &path, "", &date()).await;
    assert_eq!(code, 200, "{body}");
    let got: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
    assert_eq!(got, fixture("compare-cancel.response"), "{body}");
    h.shutdown().await;
}

/// `wavedeck emulator` as a user starts it, with a short stall limit and its own log folder.
/// Killed when dropped.
struct CliEmulator {
    child: std::process::Child,
    port: u16,
    logs: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

const WIRE_AK: &str = "AKWIRETEST";
const WIRE_SK: &str = "SKWIRETEST";
const WIRE_PROJECT: &str = "0123456789abcdef0123456789abcdef";

impl CliEmulator {
    fn start(stall_s: u32) -> CliEmulator {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::write(
            dir.path().join("wavedeck.yaml"),
            format!("emulator:\n  client_stall_s: {stall_s}\ndrs:\n  project_id: {WIRE_PROJECT}\n"),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"))
            .args(["emulator", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .env("HUAWEICLOUD_SDK_AK", WIRE_AK)
            .env("HUAWEICLOUD_SDK_SK", WIRE_SK)
            .env("WAVEDECK_LOG_DIR", &logs)
            .env_remove("WAVEDECK_CONFIG")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("DRS emulator on"), "{first}");
        CliEmulator {
            child,
            port,
            logs,
            _dir: dir,
        }
    }

    /// The emulator's log so far.
    fn log(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(&self.logs)
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
        out
    }

    /// Wait (bounded) until the log holds `needle`; the log is written by a background thread.
    fn log_with(&self, needle: &str) -> String {
        for _ in 0..100 {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.log()
    }

    fn connect(&self) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        // A bound on every test read: a server that never cuts a stalled client fails the
        // test instead of hanging it.
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }
}

impl Drop for CliEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed POST to the tenant job list, as (head, body), dated `date`.
fn signed_request(port: u16, date: chrono::DateTime<chrono::Utc>) -> (Vec<u8>, Vec<u8>) {
    use wavedeck::drs::sign;
    use wavedeck::secret::Secret;
    let path = format!("/v3/{WIRE_PROJECT}/jobs");
    let body = br#"{"cur_page":1,"per_page":10,"db_use_type":"migration","engine_type":"mysql"}"#;
    let host = format!("127.0.0.1:{port}");
    let headers = vec![
        ("Host".to_string(), host.clone()),
        ("Content-Type".to_string(), "application/json".to_string()),
        ("X-Sdk-Date".to_string(), sign::date_header_value(date)),
    ];
    let auth = sign::sign(
        &sign::SignInput {
            method: "POST",
            path: &path,
            query: &[],
            headers: &headers,
            body,
        },
        &Secret::new(WIRE_AK),
        &Secret::new(WIRE_SK),
    )
    .unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\n");
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Authorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    (head.into_bytes(), body.to_vec())
}

/// Everything the server sends until it closes (or the read bound passes: then an error).
fn read_all(s: &mut std::net::TcpStream) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// A client that sends the headers, pauses, then the body is served (the signature over the
/// late body verifies); one that stops sending is cut off after the stall limit, in the
/// headers or in the body.
#[test]
fn a_slow_client_is_served_and_a_stalled_one_is_cut_off() {
    use std::io::Write;
    let emu = CliEmulator::start(2);
    let (head, body) = signed_request(emu.port, chrono::Utc::now());

    let mut s = emu.connect();
    s.write_all(&head).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    s.write_all(&body).unwrap();
    let answer = read_all(&mut s).expect("the slow client got no answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"jobs\""), "{answer}");

    // Stalled in the headers: the connection is closed without an answer.
    let mut s = emu.connect();
    s.write_all(&head[..head.len() / 2]).unwrap();
    let answer = read_all(&mut s).expect("a client stalled in its headers was never cut off");
    assert!(!answer.contains("200 OK"), "{answer}");

    // Stalled in the body: 408, and the log says why.
    let mut s = emu.connect();
    s.write_all(&head).unwrap();
    s.write_all(&body[..5]).unwrap();
    let answer = read_all(&mut s).expect("a client stalled in its body was never cut off");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let log = emu.log_with("no byte of the request body");
    assert!(log.contains("no byte of the request body for 2 s"), "{log}");
}

/// A signature refused for the clock gets DRS's own code and generic message on the wire; the
/// emulator's log says it was the clock, and by how much.
#[test]
fn a_clock_refusal_keeps_drs_words_and_logs_the_skew() {
    use std::io::Write;
    let emu = CliEmulator::start(30);
    let (head, body) = signed_request(
        emu.port,
        chrono::Utc::now() - chrono::Duration::seconds(1200),
    );
    let mut s = emu.connect();
    s.write_all(&head).unwrap();
    s.write_all(&body).unwrap();
    let answer = read_all(&mut s).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.contains("APIG.0301")
            && answer
                .contains("Incorrect IAM authentication information: verify aksk signature fail"),
        "{answer}"
    );
    assert!(
        !answer.to_lowercase().contains("clock"),
        "DRS does not say it: {answer}"
    );
    let log = emu.log_with("because of the clock");
    assert!(
        log.contains("signature refused because of the clock")
            && log.contains("behind the emulator's clock"),
        "{log}"
    );
    // 1200 s, give or take the second the request took.
    assert!(
        ["1199 s", "1200 s", "1201 s"]
            .iter()
            .any(|n| log.contains(n)),
        "{log}"
    );
}

/// An offline migration's job (issue #17): `task_type: FULL_TRANS` loads the data once and
/// stays at FULL_TRANSFER_COMPLETE with no incremental phase after it; a task type DRS does
/// not know is refused for the whole call, naming the field.
#[tokio::test]
async fn a_full_trans_job_loads_once_and_never_replicates() {
    let (h, client, cc) = start(1000.0, 50).await;
    let mut bad = create_req(&cc.drs, "offline00", Engine::Postgres, 1.0);
    bad.task_type = "FULL".into();
    let e = client.create_jobs(&[bad]).await.unwrap_err();
    assert_eq!(api_code(&e), (400, "DRS.M00202".into()));
    assert!(e.to_string().contains("task_type"), "{e}");

    let s = spec("offline01", Engine::Postgres, 1.0);
    let mut req = create_req(&cc.drs, "offline01", Engine::Postgres, 1.0);
    req.task_type = "FULL_TRANS".into();
    let created = client.create_jobs(&[req]).await.unwrap();
    let id = JobId(created[0].id.clone());
    wait_status(
        &client,
        &id,
        JobStatus::Configuration,
        Duration::from_secs(5),
    )
    .await;
    precheck_pass(&client, &cc, &s, &id).await;
    let r = client.start(std::slice::from_ref(&id)).await.unwrap();
    item_result("batch-starting", &id, &r).unwrap();
    wait_status(
        &client,
        &id,
        JobStatus::FullTransferComplete,
        Duration::from_secs(10),
    )
    .await;
    // An online job turns incremental 10 emulated seconds after its full load (10 ms here):
    // a FULL_TRANS job never does.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let snap = client
        .poll(std::slice::from_ref(&id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        snap.status,
        Some(JobStatus::FullTransferComplete),
        "{snap:?}"
    );
    assert_eq!(snap.full_pct, Some(100.0), "{snap:?}");
    assert!(snap.lag_s.is_none(), "no replication, so no lag: {snap:?}");
    // Resting there it can be compared (the offline cutover's exact validation), though a
    // comparison is refused outside the incremental phase otherwise.
    let exact = wavedeck::drs::api::compare_request(wavedeck::inventory::Mode::Offline);
    assert_eq!(exact.kind, "contents");
    client.create_table_compare(&id, &exact).await.unwrap();
    h.shutdown().await;
}
