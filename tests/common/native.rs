//! The production DRS client against the emulator in native mode: start it, drive a job through
//! its configuration as the engine does, and read DRS's figures.

use std::time::{Duration, Instant};
use wavedeck::config::Config;
use wavedeck::drs::client::DrsClient;
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
        if s == JobStatus::IncreTransferStarted {
            return (seen, p);
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "no INCRE_TRANSFER_STARTED in {secs} s: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
