//! `wavedeck bench checksum --live-writes N`: the validation gate's rows/s while the source
//! takes N writes per second (live: every range compared at a position the replication
//! confirmed) against the final gate on the same table with writes stopped (as at cutover).
//! The replication is real: a temporary lab (two local PostgreSQL clusters, logical decoding,
//! a subscription), since the live gate waits on the slot's confirmed position.

use super::checksum::ChecksumArgs;
use crate::inventory::Engine;
use crate::rehearsal::lab::postgres::{self as lab, TempLab};
use crate::validate::{run_validation, Mode, Runbook, ValidateOptions, ValidationReport};
use rand::Rng;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DB: &str = "wd_bench_live";
const TABLE: &str = "public.orders";

pub async fn run(a: ChecksumArgs, writes_per_s: u64) -> anyhow::Result<ExitCode> {
    let rows = u32::try_from(a.rows)
        .map_err(|_| anyhow::anyhow!("--rows must be below 2^32 with --live-writes"))?;
    eprintln!("starting a lab (two clusters, logical replication) with {rows} orders rows ...");
    let t = Instant::now();
    let lab = TempLab::new(&[DB.to_string()], rows).await?;
    lab::wait_cdc(&lab.state, DB, Duration::from_secs(3600)).await?;
    eprintln!("replicating after {:.1} s", t.elapsed().as_secs_f64());
    let spec = lab.state.spec(DB);
    let mut rb = Runbook::builtin(Engine::Postgres);
    rb.validation.chunk_rows = a.chunk_rows;
    rb.validation.parallelism = a.parallel;
    let gate = |mode| ValidateOptions {
        mode,
        tables: Some(vec![TABLE.to_string()]),
        parallelism: Some(a.parallel),
        memory: None,
    };
    let source = lab.state.side(&lab.state.source, DB);

    // Warm both servers' caches so the first measured pass is not the one reading the disk.
    let _ = run_validation(&spec, &rb, &gate(Mode::Final)).await;
    let mut final_rates = Vec::new();
    let mut live_rates = Vec::new();
    for round in 0..2 {
        let (rate, r) = timed(run_validation(&spec, &rb, &gate(Mode::Final))).await;
        println!(
            "final, writes stopped        round {round}: {}",
            line(rate, &r)
        );
        final_rates.push(rate);

        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let writer = tokio::spawn(write(
            source.clone(),
            rows,
            writes_per_s,
            stop.clone(),
            done.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t0 = Instant::now();
        let (rate, r) = timed(run_validation(&spec, &rb, &gate(Mode::Live))).await;
        let secs = t0.elapsed().as_secs_f64();
        stop.store(true, Ordering::SeqCst);
        writer.await??;
        println!(
            "live, {:>6.0} writes/s source round {round}: {}",
            done.load(Ordering::SeqCst) as f64 / (secs + 0.5),
            line(rate, &r)
        );
        if !r.passed() {
            println!("  live gate did not pass: {}", r.failures().join("; "));
        }
        live_rates.push(rate);
        // Let the target apply the last writes before the next final pass.
        lab::wait_cdc(&lab.state, DB, Duration::from_secs(600)).await?;
    }
    let best = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    println!(
        "live / final: {:.2}x (best of {} each: {:.0} vs {:.0} rows/s; {} parallel, {} rows per chunk)",
        best(&live_rates) / best(&final_rates).max(1.0),
        final_rates.len(),
        best(&live_rates),
        best(&final_rates),
        a.parallel,
        a.chunk_rows
    );
    drop(lab);
    Ok(ExitCode::SUCCESS)
}

async fn timed(f: impl std::future::Future<Output = ValidationReport>) -> (f64, ValidationReport) {
    let t = Instant::now();
    let r = f.await;
    let rows = r.rows_source() as f64;
    (rows / t.elapsed().as_secs_f64().max(1e-9), r)
}

fn line(rate: f64, r: &ValidationReport) -> String {
    let t = r.tables.iter().find(|t| t.table == TABLE);
    format!(
        "{:>9.0} rows/s, {} rows, {} ranges, {} re-read{}",
        rate,
        r.rows_source(),
        t.map_or(0, |t| t.chunks),
        t.map_or(0, |t| t.chunks_resolved_by_recheck),
        t.and_then(|t| t.compared_at.as_deref())
            .map(|p| format!(", at {p}"))
            .unwrap_or_default()
    )
}

/// Updates of random rows of the measured table, paced to `per_s`.
async fn write(
    side: crate::cutover::side::Side,
    rows: u32,
    per_s: u64,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let mut c = side.connect_admin("bench writer").await?;
    let t0 = Instant::now();
    let mut n: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let id = rand::thread_rng().gen_range(1..=rows.max(1)) as i64;
        sqlx::query("UPDATE orders SET note = md5(clock_timestamp()::text) WHERE id = $1")
            .bind(id)
            .execute(&mut c)
            .await?;
        n += 1;
        done.store(n, Ordering::SeqCst);
        let due = Duration::from_secs_f64(n as f64 / per_s.max(1) as f64);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    Ok(())
}
