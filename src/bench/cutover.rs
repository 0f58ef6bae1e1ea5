//! `wavedeck bench cutover`: write unavailability as the workload client sees it (last write
//! acknowledged by the source to first write acknowledged by the target) over N full cutovers
//! in a fresh lab, each under a steady write workload.

use crate::config::Config;
use crate::cutover::context::CutoverCtx;
use crate::cutover::side::Side;
use crate::inventory::Engine;
use crate::rehearsal::lab::journal_driver::{drive_cutover, Journal};
use crate::rehearsal::lab::mariadb::TempMyLab;
use crate::rehearsal::lab::postgres::{LabState, TempLab};
use crate::rehearsal::lab::workload::{self, Workload};
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
        engine: Engine::Postgres,
        client: format!("bench-{db}"),
        dns: lab.dns_file(),
        dns_name: LabState::dns_name(db),
        side: lab.side(&lab.source, db),
        pause: Duration::from_millis(cfg.lab.workload_pause_ms),
    };
    cutover_under_workload(&ctx, w, &Journal::new(lab.journal_path(db)), warmup).await
}

/// Drive the cutover of `ctx` from `journal` while `w` writes, and read the figures from the
/// workload's acknowledgements and the target's rows.
async fn cutover_under_workload(
    ctx: &CutoverCtx,
    w: Workload,
    journal: &Journal,
    warmup: Duration,
) -> anyhow::Result<RunFigure> {
    let db = &ctx.db_id;
    let w = w.start();
    tokio::time::sleep(warmup).await;
    let started = Instant::now();
    let result = drive_cutover(ctx, journal, |_, _, _| {}).await;
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
    let audit = match ctx.engine {
        Engine::Postgres => {
            let mut t = ctx.target.connect_admin("target").await?;
            workload::audit(&mut t, &stats).await?
        }
        Engine::Mysql => {
            let mut t = crate::cutover::mysql::ops::admin(&ctx.target, "target").await?;
            workload::audit_my(&mut t.c, &stats).await?
        }
    };
    Ok(RunFigure {
        db: db.clone(),
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
    summarize(&figures);
    Ok(figures)
}

/// `--mysql`: N cutovers of one MariaDB pair under a workload, `lab reset` between them (a
/// fresh replicating pair each time: a MySQL cutover takes the whole server).
pub async fn run_mysql(
    cfg: &Config,
    runs: usize,
    seed_rows: u32,
) -> anyhow::Result<Vec<RunFigure>> {
    println!(
        "bench cutover --mysql: {runs} cutovers of a MariaDB pair (GTID replication, {seed_rows} seeded rows, reset between runs, workload pause {} ms, drain grace {} s)",
        cfg.lab.workload_pause_ms, cfg.thresholds.drain_grace_s
    );
    let db = "bench_my";
    let lab = TempMyLab::new(&[db.to_string()], seed_rows).await?;
    let st = &lab.state;
    let grace = Duration::from_secs(cfg.thresholds.drain_grace_s.into());
    let mut figures = Vec::new();
    for i in 0..runs {
        if i > 0 {
            crate::rehearsal::lab::mariadb::reset(st, db, seed_rows).await?;
        }
        let ctx = st.ctx(db, cfg, grace)?;
        let pair = st
            .pair(db)
            .ok_or_else(|| anyhow::anyhow!("{db}: no pair"))?;
        let w = Workload {
            engine: Engine::Mysql,
            client: format!("bench-{db}-{i}"),
            dns: st.dns_file(),
            dns_name: LabState::dns_name(db),
            side: st.app_side(&pair.source, db),
            pause: Duration::from_millis(cfg.lab.workload_pause_ms),
        };
        let journal = Journal::new(st.journal_path(db));
        let mut f = cutover_under_workload(&ctx, w, &journal, Duration::from_millis(1000)).await?;
        f.db = format!("run {}", i + 1);
        println!(
            "  {:<10} unavailable {:>7.0} ms   cutover {:>6} ms   acked {:>6}   missing {}   duplicated {}",
            f.db, f.unavailable_ms, f.cutover_ms, f.acked, f.missing, f.duplicated
        );
        figures.push(f);
    }
    summarize(&figures);
    Ok(figures)
}

/// p50 and max of the write unavailability, losses, and the median time of each step.
fn summarize(figures: &[RunFigure]) {
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
    let mut steps: Vec<&str> = Vec::new();
    for (s, _) in figures.iter().flat_map(|f| f.steps_ms.iter()) {
        if !steps.contains(&s.as_str()) {
            steps.push(s);
        }
    }
    for step in steps {
        let v: Vec<f64> = figures
            .iter()
            .flat_map(|f| f.steps_ms.iter())
            .filter(|(s, _)| s == step)
            .map(|(_, ms)| *ms as f64)
            .collect();
        if let Some(m) = percentile(&v, 50.0) {
            println!("  {step:<28} {m:>6.0}");
        }
    }
}

/// `--engine`: the same figure with each cutover asked of the engine (`engine.source_drain:
/// sql`) as an operator would, so it includes the engine's rounds, its store writes and the DRS
/// job's part (lag 0 after the final sync, terminated and released) on the emulator.
/// The lab `run_through_engine` cuts over: PostgreSQL clusters, or a MariaDB pair per database
/// (`--mysql`), its databases waiting for their DRS jobs.
enum EngineLab {
    Pg(TempLab),
    My(TempMyLab),
}

impl EngineLab {
    fn dns_path(&self) -> std::path::PathBuf {
        match self {
            EngineLab::Pg(l) => l.state.dns_file().path,
            EngineLab::My(l) => l.state.dns_file().path,
        }
    }

    fn dir(&self) -> &std::path::Path {
        match self {
            EngineLab::Pg(l) => &l.state.dir,
            EngineLab::My(l) => &l.state.dir,
        }
    }

    fn spec(&self, db: &str) -> anyhow::Result<crate::inventory::DatabaseSpec> {
        match self {
            EngineLab::Pg(l) => Ok(l.state.spec(db)),
            EngineLab::My(l) => l
                .state
                .spec(db)
                .ok_or_else(|| anyhow::anyhow!("{db}: not a database of the MySQL lab")),
        }
    }

    /// wavedeck's (admin) sides of `db` and the application's side of its source.
    fn sides(&self, db: &str) -> anyhow::Result<(Side, Side, Side)> {
        match self {
            EngineLab::Pg(l) => {
                let s = l.state.side(&l.state.source, db);
                Ok((s.clone(), l.state.side(&l.state.target, db), s))
            }
            EngineLab::My(l) => {
                let p = l
                    .state
                    .pair(db)
                    .ok_or_else(|| anyhow::anyhow!("{db}: not a database of the MySQL lab"))?;
                Ok((
                    l.state.side(&p.source, db),
                    l.state.side(&p.target, db),
                    l.state.app_side(&p.source, db),
                ))
            }
        }
    }

    fn engine(&self) -> Engine {
        match self {
            EngineLab::Pg(_) => Engine::Postgres,
            EngineLab::My(_) => Engine::Mysql,
        }
    }

    async fn audit(
        &self,
        target: &Side,
        stats: &workload::WorkloadStats,
    ) -> anyhow::Result<workload::Audit> {
        Ok(match self {
            EngineLab::Pg(_) => {
                let mut t = target.connect_admin("target").await?;
                workload::audit(&mut t, stats).await?
            }
            EngineLab::My(_) => {
                let mut t = crate::cutover::mysql::ops::admin(target, "target").await?;
                workload::audit_my(&mut t.c, stats).await?
            }
        })
    }
}

pub async fn run_through_engine(
    cfg: &Config,
    runs: usize,
    seed_rows: u32,
    mysql: bool,
) -> anyhow::Result<Vec<RunFigure>> {
    use crate::lifecycle::Stage;
    use crate::store::{Action, CommandStatus, NewCommand, Role, Store, Target};
    let speed = 100.0;
    let dbs: Vec<String> = (0..runs).map(|i| format!("bench_{i}")).collect();
    println!(
        "bench cutover --engine{}: {runs} cutovers through the engine in a fresh lab ({seed_rows} seeded rows each, workload pause {} ms, drain grace {} s, DRS emulator in native mode at speed {speed}, lag stable {} s emulated)",
        if mysql { " --mysql (a MariaDB pair per database)" } else { "" },
        cfg.lab.workload_pause_ms, cfg.thresholds.drain_grace_s, cfg.engine.lag_stable_s
    );
    // DRS jobs replicate the databases (the emulator's native mode), as in production.
    let lab = if mysql {
        EngineLab::My(TempMyLab::unreplicated(&dbs, seed_rows).await?)
    } else {
        EngineLab::Pg(TempLab::unreplicated(&dbs, seed_rows).await?)
    };
    let work = lab.dir().join("engine");
    std::fs::create_dir_all(&work)?;
    let mut c = cfg.clone();
    c.store = format!("sqlite://{}", work.join("store.db").display());
    c.log_dir = work.join("logs");
    c.emulator.speed = speed;
    c.emulator.native = true;
    c.emulator.quota = c.emulator.quota.max(runs as u32);
    c.engine.time_scale = speed;
    c.engine.checks = crate::config::ChecksMode::Drs;
    c.engine.source_drain = crate::config::SourceDrain::Sql;
    c.engine.dns_domain = "lab.internal".into();
    c.limits.drs_concurrency = c.limits.drs_concurrency.max(runs as u32);
    c.limits.wave_concurrency = c.limits.wave_concurrency.max(runs as u32);
    c.cutover.dns_provider = crate::config::DnsProvider::File;
    c.cutover.dns_file = lab.dns_path();
    c.cutover.dns_ttl_s = 5;
    if c.cutover.checksum_tables.is_empty() {
        c.cutover.checksum_tables = match lab.engine() {
            Engine::Postgres => vec!["public.customers".into(), "public.orders".into()],
            Engine::Mysql => vec!["customers".into(), "orders".into()],
        };
    }
    let emu = crate::rehearsal::drs_emulator::spawn(&c, "127.0.0.1:0".parse()?).await?;
    let c = emu.client_config(&c);
    let drs = emu.client(&c)?;
    let store = Store::open(&c.store).await?;
    let mut specs = Vec::new();
    for db in &dbs {
        let mut s = lab.spec(db)?;
        s.business_window = "daily 00:00-24:00 UTC".into();
        specs.push(s);
    }
    store.register_inventory(&specs, "bench", false).await?;
    let engine = crate::engine::spawn(c.clone(), store.clone(), drs).await?;
    let ask = |action: Action, target: Target| {
        let store = store.clone();
        async move {
            let id = store
                .submit_command(&NewCommand {
                    who: "bench".into(),
                    role: Role::Operator,
                    action,
                    target,
                    args: serde_json::Value::Null,
                })
                .await?
                .id;
            loop {
                let row = store
                    .command(id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("command {id} vanished"))?;
                match row.status {
                    CommandStatus::Pending => tokio::time::sleep(Duration::from_millis(20)).await,
                    CommandStatus::Accepted => return Ok::<_, anyhow::Error>(None),
                    CommandStatus::Rejected => return Ok(Some(row.reason.unwrap_or_default())),
                }
            }
        }
    };
    let wait_stage = |db: Option<String>, stage: Stage, limit: Duration| {
        let store = store.clone();
        async move {
            let t0 = Instant::now();
            loop {
                let states = store.db_states().await?;
                let mine: Vec<_> = states
                    .iter()
                    .filter(|s| db.as_ref().is_none_or(|d| &s.db_id == d))
                    .collect();
                if let Some(f) = mine.iter().find(|s| s.stage == Stage::Failed) {
                    anyhow::bail!(
                        "{} failed: {}",
                        f.db_id,
                        f.last_error.clone().unwrap_or_default()
                    );
                }
                if mine.iter().all(|s| s.stage == stage) {
                    return Ok(());
                }
                if t0.elapsed() > limit {
                    anyhow::bail!("not {stage} after {} s", limit.as_secs());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let result: anyhow::Result<Vec<RunFigure>> = async {
        if let Some(why) = ask(Action::StartWave, Target::Wave(0)).await? {
            anyhow::bail!("start_wave refused: {why}");
        }
        wait_stage(None, Stage::Ready, Duration::from_secs(600)).await?;
        if let Some(why) = ask(Action::ApproveWindow, Target::Wave(0)).await? {
            anyhow::bail!("approve_window refused: {why}");
        }
        let mut figures = Vec::new();
        for db in &dbs {
            let (source, target, app) = lab.sides(db)?;
            let w = Workload {
                engine: lab.engine(),
                client: format!("bench-{db}"),
                dns: crate::cutover::dns_provider::FileDns::new(lab.dns_path()),
                dns_name: LabState::dns_name(db),
                side: app,
                pause: Duration::from_millis(cfg.lab.workload_pause_ms),
            }
            .start();
            tokio::time::sleep(Duration::from_millis(1000)).await;
            let started = Instant::now();
            // The emulated DRS lag can be above the threshold at that instant: ask again, as
            // an operator would.
            let mut tries = 0;
            while let Some(why) = ask(Action::Cutover, Target::Db(db.clone())).await? {
                tries += 1;
                if tries >= 100 || !why.contains("lag") {
                    let _ = w.stop().await;
                    anyhow::bail!("cutover of {db} refused: {why}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Err(e) = wait_stage(Some(db.clone()), Stage::Hypercare, Duration::from_secs(300)).await {
                let _ = w.stop().await;
                return Err(e);
            }
            let cutover_ms = started.elapsed().as_millis() as u64;
            let waited = Instant::now();
            while !w.snapshot().acks.iter().any(|a| a.endpoint == target.endpoint()) {
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
            let unavailable_ms =
                workload::unavailability_ms(&stats.acks, &source.endpoint(), &target.endpoint())
                    .ok_or_else(|| anyhow::anyhow!("{db}: the workload saw no source-to-target switch"))?;
            let audit = lab.audit(&target, &stats).await?;
            let f = RunFigure {
                db: db.clone(),
                unavailable_ms,
                cutover_ms,
                acked: audit.acked,
                missing: audit.missing.len(),
                duplicated: audit.duplicated.len(),
                steps_ms: step_times(&store.events_after(0, 1_000_000).await?, db),
            };
            println!(
                "  {:<10} unavailable {:>7.0} ms   cutover {:>6} ms   acked {:>6}   missing {}   duplicated {}",
                f.db, f.unavailable_ms, f.cutover_ms, f.acked, f.missing, f.duplicated
            );
            figures.push(f);
        }
        Ok(figures)
    }
    .await;
    engine.shutdown().await?;
    let figures = result?;
    summarize(&figures);
    Ok(figures)
}

/// Milliseconds from each step's intent to its outcome, as the store recorded them.
fn step_times(events: &[crate::store::Event], db: &str) -> Vec<(String, u64)> {
    use crate::store::kind;
    let mut open: Vec<(String, chrono::DateTime<chrono::Utc>)> = Vec::new();
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.db_id.as_deref() == Some(db)) {
        let Some(step) = e
            .payload
            .get("step")
            .and_then(|s| s.as_str())
            .filter(|s| s.starts_with("cutover.") || *s == "terminate_job")
        else {
            continue;
        };
        if e.kind == kind::STEP_INTENT {
            open.push((step.to_string(), e.time));
        } else if e.kind == kind::STEP_OUTCOME {
            if let Some(i) = open.iter().position(|(s, _)| s == step) {
                let (s, t) = open.remove(i);
                out.push((s, (e.time - t).num_milliseconds().max(0) as u64));
            }
        }
    }
    out
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
