//! `wavedeck bench store`: event appends per second on the real append path (hash chain,
//! derived state updated in the same transaction), and the time to rebuild the derived state
//! of a factory from its events.

use crate::inventory::{Criticality, DatabaseSpec, Endpoint, Engine};
use crate::secret::SecretRef;
use crate::store::{kind, NewEvent, Store};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  wavedeck bench store\n  wavedeck bench store --events 500000 --batch 2000\n  wavedeck bench store --url postgres://postgres@127.0.0.1/wd_bench"
)]
pub struct StoreBenchArgs {
    /// Events to append after registering the databases.
    #[arg(long, default_value_t = 200_000)]
    pub events: u64,
    /// Events per append call (one transaction each).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Databases in the factory.
    #[arg(long, default_value_t = 2000)]
    pub dbs: usize,
    /// Store to use instead of a fresh SQLite file in a temporary directory. It should be
    /// empty: the bench adds databases named bench-NNNN.
    #[arg(long)]
    pub url: Option<String>,
}

fn spec(i: usize) -> DatabaseSpec {
    let id = format!("bench-{i:04}");
    let engine = if i.is_multiple_of(3) {
        Engine::Mysql
    } else {
        Engine::Postgres
    };
    let ep = |host: String| Endpoint {
        host,
        port: if engine == Engine::Mysql { 3306 } else { 5432 },
        database: id.replace('-', "_"),
        user: "migrator".into(),
        password: SecretRef::Env("BENCH_DB_PASSWORD".into()),
    };
    DatabaseSpec::new(
        id.clone(),
        engine,
        ep(format!("src-{i}.corp.example")),
        ep(format!("rds-{i}.huaweicloud.example")),
    )
    .with_version(if engine == Engine::Mysql { "8.0" } else { "15" })
    .with_size_gb((i % 500) as f64 * 1.7 + 0.1)
    .with_owner(format!("team-{}", i % 40))
    .with_criticality([Criticality::Low, Criticality::Medium, Criticality::High][i % 3])
    .with_window("Sat,Sun 01:00-05:00 Europe/Paris")
    .with_wave(Some((i / 100) as u32))
    .with_tags(["bench"])
}

/// The n-th event of the workload: databases in turn, going through the kinds the engine
/// writes most (step intents and outcomes, progress, lag, some stage changes).
fn workload_event(n: u64, dbs: usize) -> NewEvent {
    let db = (n % dbs as u64) as usize;
    let round = n / dbs as u64;
    let (k, payload) = match round % 6 {
        0 => (
            kind::STEP_INTENT,
            json!({"step": "poll_progress", "attempt": 1, "drs_job_id": format!("job-{db}")}),
        ),
        1 => (
            kind::STEP_OUTCOME,
            json!({"step": "poll_progress", "attempt": 1, "ok": true}),
        ),
        2 => (
            kind::DB_PROGRESS,
            json!({"pct": (round % 100) as f64, "mbps": 118.5}),
        ),
        3 => (kind::DB_LAG, json!({"lag_s": (round % 17) as f64 * 0.4})),
        4 => (
            kind::DB_STAGE,
            json!({"from": "registered", "to": "full_load", "reason": "bench"}),
        ),
        _ => (
            kind::DB_STAGE,
            json!({"from": "full_load", "to": "cdc", "reason": "bench"}),
        ),
    };
    NewEvent {
        db_id: Some(format!("bench-{db:04}")),
        wave: None,
        kind: k.into(),
        payload,
        actor: "bench".into(),
    }
}

/// CPU time of the whole process (all threads, SQLite's worker included). On a shared,
/// loaded machine the wall-clock rate understates what the code does; CPU time does not.
fn process_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub async fn run(args: StoreBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.batch > 0 && args.dbs > 0,
        "--batch and --dbs must be at least 1"
    );
    let tmp: Option<PathBuf> = match &args.url {
        Some(_) => None,
        None => {
            let dir = std::env::temp_dir().join(format!(
                "wavedeck-bench-{}-{}",
                std::process::id(),
                rand::random::<u32>()
            ));
            std::fs::create_dir_all(&dir)?;
            Some(dir)
        }
    };
    let url = match (&args.url, &tmp) {
        (Some(u), _) => u.clone(),
        (None, Some(dir)) => format!("sqlite://{}", dir.join("bench.db").display()),
        (None, None) => unreachable!("a temp dir exists when no URL is given"),
    };
    let result = measure(&url, &args).await;
    if let Some(dir) = tmp {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

async fn measure(url: &str, args: &StoreBenchArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(url).await?;
    println!("store: {} ({:?})", store.url(), store.backend());
    let specs: Vec<DatabaseSpec> = (0..args.dbs).map(spec).collect();
    let t = Instant::now();
    let rep = store.register_inventory(&specs, "bench", false).await?;
    println!(
        "registered {} databases in {:.1} ms ({} events, one transaction)",
        rep.added.len(),
        t.elapsed().as_secs_f64() * 1e3,
        rep.events.len()
    );

    // Single-event appends: what an engine pays when it does not batch.
    let singles = 500u64.min(args.events);
    let t = Instant::now();
    for n in 0..singles {
        store.append(&[workload_event(n, args.dbs)]).await?;
    }
    let single_rate = singles as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let cpu = process_cpu();
    let mut n = singles;
    let mut batch = Vec::with_capacity(args.batch);
    while n < args.events {
        batch.clear();
        while batch.len() < args.batch && n < args.events {
            batch.push(workload_event(n, args.dbs));
            n += 1;
        }
        store.append(&batch).await?;
    }
    let batched = args.events - singles;
    let secs = t.elapsed().as_secs_f64();
    let cpu_secs = (process_cpu() - cpu).as_secs_f64();
    println!(
        "append, 1 event per transaction: {:>9.0} events/s ({singles} events)",
        single_rate
    );
    println!(
        "append, {} events per transaction: {:>9.0} events/s ({batched} events in {:.2} s, hash chain + derived state)",
        args.batch,
        batched as f64 / secs,
        secs
    );
    if cpu_secs > 0.0 {
        println!(
            "  CPU time: {:.1} us per event, {:.0} events per CPU-second (wall rate is lower when the machine is busy)",
            cpu_secs * 1e6 / batched as f64,
            batched as f64 / cpu_secs
        );
    }

    let total = store.last_seq().await?;
    let before = store.db_states().await?;
    let t = Instant::now();
    let folded = store.rebuild_state().await?;
    let rebuild = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        store.db_states().await? == before,
        "rebuilt state differs from the incremental state"
    );
    println!(
        "rebuild state of {} databases from {folded} events: {:.2} s ({:.0} events/s)",
        before.len(),
        rebuild,
        folded as f64 / rebuild
    );
    let t = Instant::now();
    let report = store.verify_chain().await?;
    println!(
        "verify chain of {total} events: {:.2} s ({})",
        t.elapsed().as_secs_f64(),
        if report.is_ok() { "ok" } else { "BROKEN" }
    );
    let t = Instant::now();
    let states = store.db_states().await?;
    println!(
        "read all {} database states (cockpit refresh): {:.1} ms",
        states.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    store.close().await;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
