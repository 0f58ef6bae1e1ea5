//! `wavedeck bench cutover`: write unavailability as the workload client sees it (last write
//! acknowledged by the source to first write acknowledged by the target) over N full cutovers
//! in a fresh lab, each under a steady write workload.

use super::driver::{drive_cutover, Journal};
use super::lab::{LabState, TempLab};
use super::workload::{self, Workload};
use crate::config::Config;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunFigure {
    pub db: String,
    pub unavailable_ms: f64,
    pub cutover_ms: u64,
    pub acked: usize,
    pub missing: usize,
    pub duplicated: usize,
    /// Milliseconds per cutover step, in step order.
    pub steps_ms: Vec<(String, u64)>,
}

/// Nearest-rank percentile of `v` (sorted copy), `p` in 0..=100.
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    Some(s[rank.min(s.len()) - 1])
}

/// One cutover of `db` under a workload; figures from the client's acknowledgements.
pub async fn one_cutover(
    lab: &LabState,
    cfg: &Config,
    db: &str,
    warmup: Duration,
) -> anyhow::Result<RunFigure> {
    let ctx = lab.ctx(
        db,
        cfg,
        Duration::from_secs(cfg.thresholds.drain_grace_s.into()),
    );
    let w = Workload {
        client: format!("bench-{db}"),
        dns: lab.dns_file(),
        dns_name: LabState::dns_name(db),
        side: lab.side(&lab.source, db),
        pause: Duration::from_millis(cfg.lab.workload_pause_ms),
    }
    .start();
    tokio::time::sleep(warmup).await;
    let started = Instant::now();
    let journal = Journal::new(lab.journal_path(db));
    let result = drive_cutover(&ctx, &journal, |_, _, _| {}).await;
    let cutover_ms = started.elapsed().as_millis() as u64;
    let outcomes = match result {
        Ok(o) => o,
        Err(e) => {
            let _ = w.stop().await;
            anyhow::bail!("cutover of {db} failed: {e}");
        }
    };
    let steps_ms = outcomes.iter().map(|o| (o.step.clone(), o.ms)).collect();
    let target = ctx.target.endpoint();
    let waited = Instant::now();
    while !w.snapshot().acks.iter().any(|a| a.endpoint == target) {
        if waited.elapsed() > Duration::from_secs(30) {
            let s = w.stop().await;
            anyhow::bail!(
                "{db}: no write reached the target 30 s after the cutover (last error: {})",
                s.last_error.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = w.stop().await;
    let unavailable_ms = workload::unavailability_ms(&stats.acks, &ctx.source.endpoint(), &target)
        .ok_or_else(|| anyhow::anyhow!("{db}: the workload saw no source-to-target switch"))?;
    let mut t = ctx.target.connect_admin("target").await?;
    let audit = workload::audit(&mut t, &stats).await?;
    Ok(RunFigure {
        db: db.into(),
        unavailable_ms,
        cutover_ms,
        acked: audit.acked,
        missing: audit.missing.len(),
        duplicated: audit.duplicated.len(),
        steps_ms,
    })
}

pub async fn run(cfg: &Config, runs: usize, seed_rows: u32) -> anyhow::Result<Vec<RunFigure>> {
    let dbs: Vec<String> = (0..runs).map(|i| format!("bench_{i}")).collect();
    println!(
        "bench cutover: {runs} cutovers in a fresh lab ({seed_rows} seeded rows each, workload pause {} ms, drain grace {} s)",
        cfg.lab.workload_pause_ms, cfg.thresholds.drain_grace_s
    );
    let lab = TempLab::new(&dbs, seed_rows).await?;
    let mut figures = Vec::new();
    for db in &dbs {
        let f = one_cutover(&lab.state, cfg, db, Duration::from_millis(1000)).await?;
        println!(
            "  {:<10} unavailable {:>7.0} ms   cutover {:>6} ms   acked {:>6}   missing {}   duplicated {}",
            f.db, f.unavailable_ms, f.cutover_ms, f.acked, f.missing, f.duplicated
        );
        figures.push(f);
    }
    let u: Vec<f64> = figures.iter().map(|f| f.unavailable_ms).collect();
    let p50 = percentile(&u, 50.0).unwrap_or(f64::NAN);
    let max = percentile(&u, 100.0).unwrap_or(f64::NAN);
    let lost: usize = figures.iter().map(|f| f.missing + f.duplicated).sum();
    println!(
        "write unavailability over {} cutovers: p50 {:.0} ms, max {:.0} ms (aim: p50 < 3000 ms); acknowledged writes lost or doubled: {lost}",
        figures.len(),
        p50,
        max
    );
    println!("median per step (ms):");
    for step in super::step::Step::ALL {
        let v: Vec<f64> = figures
            .iter()
            .flat_map(|f| f.steps_ms.iter())
            .filter(|(s, _)| s == step.as_str())
            .map(|(_, ms)| *ms as f64)
            .collect();
        if let Some(m) = percentile(&v, 50.0) {
            println!("  {:<28} {m:>6.0}", step.as_str());
        }
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&v, 50.0), Some(3.0));
        assert_eq!(percentile(&v, 100.0), Some(5.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
