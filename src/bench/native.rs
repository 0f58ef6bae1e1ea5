//! `wavedeck bench native`: the emulator's native mode on the pilot data, through the production
//! DRS client. How long each job takes from start to `INCRE_TRANSFER_STARTED` (all started at
//! once, as a wave starts them), and the CDC delay DRS reports under the lab write workload.
//! `--engine mysql`: the MySQL databases, each in a MariaDB pair whose target the job copies
//! and replicates by GTID.

use crate::config::Config;
use crate::drs::model::{JobId, JobStatus};
use crate::inventory::{DatabaseSpec, Engine};
use crate::rehearsal::lab::mariadb::TempMyLab;
use crate::rehearsal::lab::postgres::{LabState, TempLab};
use crate::rehearsal::lab::workload::Workload;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  wavedeck bench native --lag-s 30\n  wavedeck bench native --engine mysql"
)]
pub struct NativeBenchArgs {
    /// Database to create (repeat; default: the databases of the engine in lab.inventory).
    #[arg(long = "db")]
    pub dbs: Vec<String>,
    /// Which engine's databases: postgres (two PostgreSQL clusters) or mysql (a MariaDB pair
    /// per database).
    #[arg(long, value_parser = ["postgres", "mysql"], default_value = "postgres")]
    pub engine: String,
    /// Rows seeded into each database's orders table (default: lab.seed_rows).
    #[arg(long)]
    pub seed_rows: Option<u32>,
    /// Seconds of workload during which the reported delay is sampled.
    #[arg(long, default_value_t = 20)]
    pub lag_s: u64,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The lab the bench runs on: its databases wait for their DRS jobs.
enum BenchLab {
    Pg(TempLab),
    My(TempMyLab),
}

impl BenchLab {
    fn spec(&self, db: &str) -> anyhow::Result<DatabaseSpec> {
        match self {
            BenchLab::Pg(l) => Ok(l.state.spec(db)),
            BenchLab::My(l) => l
                .state
                .spec(db)
                .ok_or_else(|| anyhow::anyhow!("{db}: not a database of the MySQL lab")),
        }
    }

    /// The lab's write workload on `db`, through its service name.
    fn workload(&self, db: &str, pause: Duration) -> anyhow::Result<Workload> {
        let (engine, dns, side) = match self {
            BenchLab::Pg(l) => (
                Engine::Postgres,
                l.state.dns_file(),
                l.state.side(&l.state.source, db),
            ),
            BenchLab::My(l) => {
                let pair = l
                    .state
                    .pair(db)
                    .ok_or_else(|| anyhow::anyhow!("{db}: not a database of the MySQL lab"))?;
                (
                    Engine::Mysql,
                    l.state.dns_file(),
                    l.state.app_side(&pair.source, db),
                )
            }
        };
        Ok(Workload {
            engine,
            client: format!("bench-{db}"),
            dns,
            dns_name: LabState::dns_name(db),
            side,
            pause,
        })
    }
}

pub async fn run(a: NativeBenchArgs, base: &Config) -> anyhow::Result<std::process::ExitCode> {
    let mysql = a.engine == "mysql";
    let engine = if mysql {
        Engine::Mysql
    } else {
        Engine::Postgres
    };
    let dbs = crate::rehearsal::lab::cmd::lab_databases(&a.dbs, base, engine)?.0;
    if dbs.is_empty() {
        anyhow::bail!(
            "lab.inventory {} has no {} database; pass --db NAME",
            base.lab.inventory.display(),
            a.engine
        );
    }
    let seed = a.seed_rows.unwrap_or(base.lab.seed_rows);
    println!(
        "lab: {} {} databases, {seed} orders rows each ...",
        dbs.len(),
        a.engine
    );
    let lab = if mysql {
        BenchLab::My(TempMyLab::unreplicated(&dbs, seed).await?)
    } else {
        BenchLab::Pg(TempLab::unreplicated(&dbs, seed).await?)
    };
    let mut cfg = base.clone();
    cfg.emulator.native = true;
    // Only creating and the pre-check are emulated steps; compress them out of the figure.
    cfg.emulator.speed = 200.0;
    let emu = crate::rehearsal::drs_emulator::spawn(&cfg, "127.0.0.1:0".parse()?).await?;
    let cfg = emu.client_config(&cfg);
    let drs = emu.client(&cfg)?;
    let mut jobs: Vec<(String, JobId)> = Vec::new();
    let mut specs = Vec::new();
    for db in &dbs {
        let spec = lab.spec(db)?;
        let id = drs.ensure_job(&spec, &cfg.drs).await?.id;
        jobs.push((db.clone(), id.clone()));
        specs.push((spec, id));
    }
    let ids: Vec<JobId> = jobs.iter().map(|(_, j)| j.clone()).collect();
    let wait = |want: JobStatus| {
        let drs = drs.clone();
        let ids = ids.clone();
        async move {
            let t = Instant::now();
            loop {
                let p = drs.batch_progress(&ids).await?;
                if p.iter().all(|r| r.transfer_status.as_ref() == Some(&want)) {
                    return anyhow::Ok(());
                }
                if let Some(r) = p.iter().find(|r| r.error_code.is_some()) {
                    anyhow::bail!(
                        "job {} failed: {:?} {:?}",
                        r.job_id,
                        r.error_code,
                        r.error_msg
                    );
                }
                anyhow::ensure!(t.elapsed() < Duration::from_secs(300), "no {want} in 300 s");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait(JobStatus::Configuration).await?;
    for (id, r) in drs.prepare_jobs(&specs, &cfg.drs).await? {
        r.map_err(|e| anyhow::anyhow!("preparing {id}: {e}"))?;
    }
    drs.precheck(&ids, false).await?;
    loop {
        let r = drs.precheck_results(&ids).await?;
        if r.iter().all(|p| p.passed()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t0 = Instant::now();
    if let Some(e) = crate::drs::api::item_errors("batch-starting", &drs.start(&ids).await?)
        .into_iter()
        .next()
    {
        anyhow::bail!("{e}");
    }
    let mut reached: Vec<Option<f64>> = vec![None; ids.len()];
    while reached.iter().any(Option::is_none) {
        for (i, p) in drs.batch_progress(&ids).await?.iter().enumerate() {
            if let Some(code) = &p.error_code {
                anyhow::bail!("job {} failed: {code} {:?}", p.job_id, p.error_msg);
            }
            if reached[i].is_none() && p.transfer_status == Some(JobStatus::IncreTransferStarted) {
                reached[i] = Some(t0.elapsed().as_secs_f64());
            }
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(600),
            "jobs not incremental in 600 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "start -> INCRE_TRANSFER_STARTED (DRS status through the client, all started at once):"
    );
    for ((db, _), t) in jobs.iter().zip(&reached) {
        println!("  {db:<22} {:.2} s", t.unwrap_or(f64::NAN));
    }
    let pause = Duration::from_millis(base.lab.workload_pause_ms);
    let mut running = Vec::new();
    for db in &dbs {
        running.push(lab.workload(db, pause)?.start());
    }
    let mut delays: Vec<f64> = Vec::new();
    let until = Instant::now() + Duration::from_secs(a.lag_s);
    while Instant::now() < until {
        for p in drs.batch_progress(&ids).await? {
            if let Some(ms) = p
                .incre_trans_delay_millis
                .as_deref()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v >= 0.0)
            {
                delays.push(ms);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut acked = 0;
    for w in running {
        acked += w.stop().await.acked();
    }
    delays.sort_by(|a, b| a.total_cmp(b));
    println!(
        "DRS incre_trans_delay_millis under the lab workload ({} writes/s over {} databases, {} samples in {} s): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        (acked as f64 / a.lag_s.max(1) as f64).round(),
        dbs.len(),
        delays.len(),
        a.lag_s,
        pct(&delays, 0.5),
        pct(&delays, 0.95),
        delays.last().copied().unwrap_or(f64::NAN)
    );
    drop(drs);
    emu.shutdown().await;
    drop(lab);
    Ok(std::process::ExitCode::SUCCESS)
}
