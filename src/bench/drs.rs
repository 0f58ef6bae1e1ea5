//! `wavedeck bench drs`: emulator throughput through the real client (signing, HTTP on
//! loopback, JSON) and the cost of one polling round over many jobs.

use crate::config::Config;
use crate::drs::api::create_request;
use crate::drs::model::JobId;
use crate::inventory::model::{DatabaseSpec, Endpoint, Engine};
use crate::rehearsal::drs_emulator as emulator;
use crate::secret::SecretRef;
use futures::StreamExt;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct DrsBenchArgs {
    /// Jobs to create and poll.
    #[arg(long, default_value_t = 2000)]
    pub jobs: usize,
    /// Seconds to hammer the emulator with batch-progress calls.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Requests in flight at once during the throughput run.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

fn bench_spec(i: usize) -> DatabaseSpec {
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: 5432,
        database: "app".into(),
        user: "migrator".into(),
        password: SecretRef::Env("WAVEDECK_BENCH_UNSET_PASSWORD".into()),
    };
    let engine = if i.is_multiple_of(2) {
        Engine::Postgres
    } else {
        Engine::Mysql
    };
    DatabaseSpec::new(
        format!("bench{i:05}"),
        engine,
        ep("10.0.0.1"),
        ep("10.1.0.1"),
    )
    .with_version("15")
    .with_size_gb(1.0 + (i % 50) as f64)
    .with_owner("bench")
}

pub async fn run(args: DrsBenchArgs, cfg: Config) -> anyhow::Result<std::process::ExitCode> {
    let mut cfg = cfg;
    cfg.emulator.quota = args.jobs as u32 + 10;
    cfg.emulator.speed = 60.0;
    cfg.emulator.faults_file = None;
    cfg.emulator.rate_limit_rps = 0.0;
    let handle = emulator::spawn(&cfg, "127.0.0.1:0".parse()?).await?;
    let client = handle.client(&cfg)?;
    let cfg = handle.client_config(&cfg);

    // Create the jobs, 10 per batch-creation call.
    let t0 = Instant::now();
    let reqs: Vec<_> = (0..args.jobs)
        .map(|i| create_request(&bench_spec(i), &cfg.drs, None, None))
        .collect();
    let created = client.create_jobs(&reqs).await?;
    let ids: Vec<JobId> = created.iter().map(|r| JobId(r.id.clone())).collect();
    if ids.iter().any(|i| i.0.is_empty()) {
        anyhow::bail!(
            "some creates failed: {:?}",
            created.iter().find(|r| r.id.is_empty())
        );
    }
    let create_calls = client.calls_made();
    println!(
        "created {} jobs in {:.2} s with {} batch-creation calls",
        ids.len(),
        t0.elapsed().as_secs_f64(),
        create_calls
    );

    // One polling round over every job through batch-progress.
    let before = client.calls_made();
    let t1 = Instant::now();
    let snaps = client.poll(&ids).await?;
    let round_s = t1.elapsed().as_secs_f64();
    let round_calls = client.calls_made() - before;
    println!(
        "one polling round of {} jobs: {} batch-progress calls ({} jobs per call), {:.1} ms",
        snaps.len(),
        round_calls,
        crate::drs::client::BATCH_MAX,
        round_s * 1000.0
    );
    let before = client.calls_made();
    let t2 = Instant::now();
    let pg = client
        .list_all_jobs(crate::inventory::model::Engine::Postgres)
        .await?;
    let my = client
        .list_all_jobs(crate::inventory::model::Engine::Mysql)
        .await?;
    println!(
        "status of all {} jobs via the tenant job list: {} calls (100 per page), {:.1} ms",
        pg.len() + my.len(),
        client.calls_made() - before,
        t2.elapsed().as_secs_f64() * 1000.0
    );

    // Throughput: signed batch-progress calls of 10 jobs, `concurrency` in flight.
    let chunks: Vec<Vec<JobId>> = ids.chunks(10).map(|c| c.to_vec()).collect();
    let deadline = Instant::now() + Duration::from_secs(args.seconds.max(1));
    let before = client.calls_made();
    let served_before = handle.requests_served();
    let t3 = Instant::now();
    let errors = futures::stream::iter((0..).take_while(|_| Instant::now() < deadline))
        .map(|i: usize| {
            let c = &client;
            let chunk = &chunks[i % chunks.len()];
            async move { c.batch_progress(chunk).await.is_err() }
        })
        .buffer_unordered(args.concurrency.max(1))
        .filter(|e| futures::future::ready(*e))
        .count()
        .await;
    let secs = t3.elapsed().as_secs_f64();
    let n = client.calls_made() - before;
    println!(
        "throughput: {} signed batch-progress calls (10 jobs each) in {:.2} s = {:.0} requests/s, {} errors, concurrency {} (emulator saw {})",
        n,
        secs,
        n as f64 / secs,
        errors,
        args.concurrency,
        handle.requests_served() - served_before
    );
    handle.shutdown().await;
    Ok(std::process::ExitCode::SUCCESS)
}
