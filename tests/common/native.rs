//! The production DRS client against the emulator in native mode: start it, drive a job through
//! its configuration as the engine does, and read DRS's figures.

use std::time::{Duration, Instant};
use wavedeck::config::Config;
use wavedeck::drs::client::DrsClient;
use wavedeck::drs::error::DrsError;
use wavedeck::drs::model::{JobId, JobStatus, ProgressResult};
use wavedeck::inventory::DatabaseSpec;
use wavedeck::rehearsal::drs_emulator::{self as emulator, EmulatorHandle};

pub fn native_cfg() -> Config {
    let mut c = Config::default();
    c.emulator.native = true;
    // Creating and pre-check are still emulated steps (20 s and 30 s): compress them.
    c.emulator.speed = 200.0;
    c.thresholds.drain_grace_s = 1;
    emulator::emulated_network(&mut c.drs);
    c
}

pub async fn start_emulator(cfg: &Config) -> (EmulatorHandle, DrsClient) {
    let h = emulator::spawn(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert!(h.is_native());
    let c = h.client(cfg).unwrap();
    (h, c)
}

pub async fn wait_until<F, Fut, T>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "{what}: not reached in {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn progress(drs: &DrsClient, job: &JobId) -> ProgressResult {
    drs.batch_progress(std::slice::from_ref(job))
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
}

pub async fn status(drs: &DrsClient, job: &JobId) -> JobStatus {
    progress(drs, job).await.transfer_status.unwrap()
}

/// The reported delay in milliseconds (DRS's string number).
pub fn delay_ms(p: &ProgressResult) -> i64 {
    p.incre_trans_delay_millis
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// Create the job of `spec` and wait until DRS has it in CONFIGURATION.
pub async fn created_job(drs: &DrsClient, cfg: &Config, spec: &DatabaseSpec) -> JobId {
    let job = drs.ensure_job(spec, &cfg.drs).await.unwrap().id;
    wait_until("CONFIGURATION", 30, || async {
        (status(drs, &job).await == JobStatus::Configuration).then_some(())
    })
    .await;
    job
}

/// Create, configure and pre-check the job of `spec` as the engine does; returns its id.
pub async fn configured_job(drs: &DrsClient, cfg: &Config, spec: &DatabaseSpec) -> JobId {
    let job = created_job(drs, cfg, spec).await;
    let prepared = drs
        .prepare_jobs(&[(spec.clone(), job.clone())], &cfg.drs)
        .await
        .unwrap();
    assert!(prepared[0].1.is_ok(), "{:?}", prepared[0].1);
    let r = drs
        .precheck(std::slice::from_ref(&job), false)
        .await
        .unwrap();
    wavedeck::drs::api::item_result("batch-precheck", &job, &r).unwrap();
    wait_until("pre-check passed", 30, || async {
        let r = drs
            .precheck_results(std::slice::from_ref(&job))
            .await
            .unwrap();
        r[0].passed().then_some(())
    })
    .await;
    job
}

/// Start the job and follow it to INCRE_TRANSFER_STARTED; returns the statuses seen on the way
/// and the first incremental progress item. A job error fails the test.
pub async fn start_to_incremental(
    drs: &DrsClient,
    job: &JobId,
    secs: u64,
) -> (Vec<JobStatus>, ProgressResult) {
    start_until(drs, job, JobStatus::IncreTransferStarted, secs).await
}

/// Start a full-load-only job (FULL_TRANS) and follow it to FULL_TRANSFER_COMPLETE, as
/// [`start_to_incremental`]; it never streams on the way.
pub async fn start_to_full_complete(
    drs: &DrsClient,
    job: &JobId,
    secs: u64,
) -> (Vec<JobStatus>, ProgressResult) {
    let (seen, p) = start_until(drs, job, JobStatus::FullTransferComplete, secs).await;
    assert!(
        !seen.contains(&JobStatus::IncreTransferStarted),
        "a FULL_TRANS job streamed: {seen:?}"
    );
    (seen, p)
}

async fn start_until(
    drs: &DrsClient,
    job: &JobId,
    until: JobStatus,
    secs: u64,
) -> (Vec<JobStatus>, ProgressResult) {
    let r = drs.start(std::slice::from_ref(job)).await.unwrap();
    wavedeck::drs::api::item_result("batch-starting", job, &r).unwrap();
    let mut seen: Vec<JobStatus> = Vec::new();
    let started = Instant::now();
    loop {
        let p = progress(drs, job).await;
        let s = p.transfer_status.clone().unwrap();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        assert!(
            p.error_code.is_none() && p.error_msg.is_none(),
            "job failed: {:?} {:?}",
            p.error_code,
            p.error_msg
        );
        if s == until {
            return (seen, p);
        }
        assert!(
            s != JobStatus::IncreTransferStarted,
            "streaming before {until}: {seen:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "no {until} in {secs} s: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The delay DRS reports, sampled for three seconds while the caller holds the target's apply
/// (a table lock), must grow like DRS's: the first second may still show the backlog from
/// before the lock draining to 0, then it only grows, to 1.5 s and more.
pub async fn assert_delay_grows_while_stalled(drs: &DrsClient, job: &JobId) {
    let mut stalled = Vec::new();
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stalled.push(delay_ms(&progress(drs, job).await));
    }
    assert!(
        stalled.last().is_some_and(|&ms| ms >= 1_500)
            && stalled[5..].windows(2).all(|w| w[1] >= w[0]),
        "the delay grows while the apply is stalled: {stalled:?}"
    );
}

/// Pause: once DRS answers, a row written at the source (`write_source`) does not reach the
/// target (`count_target` of the query counting it); resume brings it, and the job streams
/// again.
pub async fn assert_pause_holds_and_resume_applies(
    drs: &DrsClient,
    job: &JobId,
    write_source: impl AsyncFn(&str),
    count_target: impl AsyncFn(&str) -> i64,
) {
    let r = drs.pause(std::slice::from_ref(job), false).await.unwrap();
    wavedeck::drs::api::item_result("batch-pause-task", job, &r).unwrap();
    assert_eq!(status(drs, job).await, JobStatus::Pausing);
    write_source("INSERT INTO customers (name) VALUES ('written while paused')").await;
    let paused = "SELECT COUNT(*) FROM customers WHERE name = 'written while paused'";
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count_target(paused).await,
        0,
        "a paused job applied a change"
    );
    assert_eq!(status(drs, job).await, JobStatus::Pausing);
    let r = drs.resume(std::slice::from_ref(job)).await.unwrap();
    wavedeck::drs::api::item_result("batch-retry-task", job, &r).unwrap();
    wait_until("change applied after resume", 60, || async {
        (count_target(paused).await == 1).then_some(())
    })
    .await;
    wait_until("INCRE after resume", 60, || async {
        (status(drs, job).await == JobStatus::IncreTransferStarted).then_some(())
    })
    .await;
}

/// With the source stopped, the job fails with DRS's failed status and network error, naming
/// the source's port.
pub async fn assert_fails_naming_the_stopped_source(drs: &DrsClient, job: &JobId, port: u16) {
    let failed = wait_until("INCRE_TRANSFER_FAILED", 60, || async {
        let p = progress(drs, job).await;
        (p.transfer_status == Some(JobStatus::IncreTransferFailed)).then_some(p)
    })
    .await;
    assert_eq!(failed.error_code.as_deref(), Some("DRS.KE0001"));
    let msg = failed.error_msg.unwrap();
    assert!(
        msg.contains("source") && msg.contains(&port.to_string()),
        "{msg}"
    );
}

/// Terminate the job and wait until DRS has released it.
pub async fn terminate(drs: &DrsClient, job: &JobId) {
    let r = drs
        .terminate(std::slice::from_ref(job), false)
        .await
        .unwrap();
    wavedeck::drs::api::item_result("batch-jobs terminate", job, &r).unwrap();
    wait_until("RELEASE_RESOURCE_COMPLETE", 60, || async {
        (status(drs, job).await == JobStatus::ReleaseResourceComplete).then_some(())
    })
    .await;
}

/// Delete the (released) job: DRS reports it deleted.
pub async fn delete(drs: &DrsClient, job: &JobId) {
    let r = drs.delete(std::slice::from_ref(job)).await.unwrap();
    wavedeck::drs::api::item_result("batch-jobs delete", job, &r).unwrap();
    assert_eq!(status(drs, job).await, JobStatus::Deleted);
}

/// The connection test of `spec`'s job, whose source password file `pw_file` holds the wrong
/// password `wrong`: DRS.KE0002 with DRS's message, the password nowhere in the error or the
/// job's detail, the pre-check refused; with `right` written to the file the same test passes.
pub async fn assert_bad_login_then_right(
    drs: &DrsClient,
    cfg: &Config,
    spec: &DatabaseSpec,
    pw_file: &std::path::Path,
    (wrong, right): (&str, &str),
) {
    std::fs::write(pw_file, wrong).unwrap();
    let job = created_job(drs, cfg, spec).await;
    let r = drs
        .prepare_jobs(&[(spec.clone(), job.clone())], &cfg.drs)
        .await
        .unwrap();
    let e = r[0].1.clone().unwrap_err();
    let DrsError::Item { code, message, .. } = &e else {
        panic!("not a per-job DRS error: {e:?}")
    };
    assert_eq!(code, "DRS.KE0002");
    assert!(
        message.contains("username or password is incorrect"),
        "{message}"
    );
    let detail = drs.batch_detail(std::slice::from_ref(&job)).await.unwrap();
    let everything = format!(
        "{e} {e:?} {detail:?} {}",
        serde_json::to_string(&detail).unwrap()
    );
    assert!(!everything.contains(wrong), "{everything}");
    // DRS refuses the pre-check of a job whose connection test failed.
    let r = drs
        .precheck(std::slice::from_ref(&job), false)
        .await
        .unwrap();
    assert!(wavedeck::drs::api::item_result("batch-precheck", &job, &r).is_err());

    std::fs::write(pw_file, right).unwrap();
    let r = drs
        .prepare_jobs(&[(spec.clone(), job.clone())], &cfg.drs)
        .await
        .unwrap();
    assert!(r[0].1.is_ok(), "{:?}", r[0].1);
}

/// The connection test of `spec`'s job, whose source nobody listens on: DRS's network error,
/// naming the endpoint.
pub async fn assert_unreachable_source(drs: &DrsClient, cfg: &Config, spec: &DatabaseSpec) {
    let job = created_job(drs, cfg, spec).await;
    let r = drs
        .prepare_jobs(&[(spec.clone(), job.clone())], &cfg.drs)
        .await
        .unwrap();
    let DrsError::Item { code, message, .. } = r[0].1.clone().unwrap_err() else {
        panic!("not a per-job DRS error")
    };
    assert_eq!(code, "DRS.KE0001");
    assert!(message.contains(&spec.source.port.to_string()), "{message}");
}
