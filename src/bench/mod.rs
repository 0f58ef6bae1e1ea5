//! `wavedeck bench`: performance figures printed by the real code paths. One file per bench,
//! all here so that measuring code stays out of the product folders.
pub mod checksum;
pub mod checksum_live;
pub mod checksum_mysql;
pub mod cutover;
pub mod drs;
pub mod engine;
pub mod evidence;
pub mod inventory;
pub mod meter;
pub mod native;
pub mod store;
pub mod tui;

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Cockpit frame render time (2000 databases, 200x60) and idle terminal output.
    Tui(crate::bench::tui::TuiBenchArgs),
    /// Write unavailability seen by a workload client over N lab cutovers: p50 and max.
    #[command(
        after_help = "Examples:\n  wavedeck bench cutover --runs 10\n  wavedeck bench cutover --runs 10 --engine   # asked of the engine, DRS emulator for the job\n  wavedeck bench cutover --runs 10 --mysql    # a MariaDB pair, GTID replication, reset between runs\n  wavedeck bench cutover --runs 5 --engine --mysql   # MySQL through the engine, native DRS jobs"
    )]
    Cutover {
        /// Number of cutovers (one lab database each).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Rows seeded into each database's orders table.
        #[arg(long, default_value_t = 2000)]
        seed_rows: u32,
        /// Each cutover asked of the engine (engine.source_drain: sql) instead of run by the
        /// lab's driver.
        #[arg(long)]
        engine: bool,
        /// MySQL: cutovers of a MariaDB pair (GTID binlog replication) by the lab's driver,
        /// the pair reset between runs; with `--engine`, a MariaDB pair per run, moved by the
        /// emulator's native MySQL DRS job and cut over by the engine.
        #[arg(long)]
        mysql: bool,
    },
    /// DRS emulator throughput (signed requests/s on loopback) and the calls one polling round
    /// of many jobs needs through the batch API.
    Drs(crate::bench::drs::DrsBenchArgs),
    /// Time to load and check an inventory file and to plan its waves.
    Inventory(crate::bench::inventory::InventoryBenchArgs),
    /// Validation checksum vs the raw read limit (binary COPY) and an in-database MD5
    /// aggregate, on one generated PostgreSQL table (build with --release).
    Checksum(crate::bench::checksum::ChecksumArgs),
    /// Event appends per second on SQLite (hash chain, batched) and state rebuild time for
    /// 2000 databases.
    Store(crate::bench::store::StoreBenchArgs),
    /// Evidence pack build, write and verify time for one database with a long history.
    Evidence(crate::bench::evidence::EvidenceBenchArgs),
    /// An emulated factory (2000 databases) run by the engine to `ready`, then the cutover of
    /// one wave: wall time, engine CPU per database per stage, peak memory, DRS calls, events/s.
    Engine(crate::bench::engine::EngineBenchArgs),
    /// The DRS emulator's native mode on the pilot data: start to incremental per job, and the
    /// CDC delay DRS reports under the lab workload.
    Native(crate::bench::native::NativeBenchArgs),
}

pub async fn run(cmd: BenchCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Tui(a) => {
            crate::bench::tui::run(a)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Cutover {
            runs,
            seed_rows,
            engine,
            mysql,
        } => {
            if engine {
                crate::bench::cutover::run_through_engine(&cfg, runs, seed_rows, mysql).await?;
            } else if mysql {
                crate::bench::cutover::run_mysql(&cfg, runs, seed_rows).await?;
            } else {
                crate::bench::cutover::run(&cfg, runs, seed_rows).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Drs(a) => crate::bench::drs::run(a, cfg).await,
        BenchCommand::Inventory(a) => crate::bench::inventory::run(a, &cfg),
        BenchCommand::Checksum(a) => checksum(a).await,
        BenchCommand::Store(a) => crate::bench::store::run(a).await,
        BenchCommand::Evidence(a) => crate::bench::evidence::run(a),
        BenchCommand::Engine(a) => crate::bench::engine::run(a, cfg).await,
        BenchCommand::Native(a) => crate::bench::native::run(a, &cfg).await,
    }
}

/// `wavedeck bench checksum`: one engine's bench, or the live one. Here rather than in
/// checksum.rs, which the live and MySQL benches import for the arguments and shared helpers.
async fn checksum(a: checksum::ChecksumArgs) -> anyhow::Result<ExitCode> {
    use checksum::BenchEngine;
    if a.rows == 0 || a.parallel == 0 {
        anyhow::bail!("--rows and --parallel must be at least 1");
    }
    match (a.engine, a.live_writes) {
        (BenchEngine::Postgres, Some(w)) => checksum_live::run(a, w).await,
        (BenchEngine::Mysql, Some(_)) => {
            anyhow::bail!("--live-writes runs on the PostgreSQL lab only; drop --engine mysql")
        }
        (BenchEngine::Postgres, None) => checksum::run_pg(a).await,
        (BenchEngine::Mysql, None) => checksum_mysql::run(a).await,
    }
}
