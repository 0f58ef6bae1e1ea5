//! `wavedeck bench`: performance figures printed by the real code paths. Each owning module adds
//! its subcommand here and keeps the measuring code beside itself.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Cockpit frame render time (2000 databases, 200x60) and idle terminal output.
    Tui(crate::tui::bench::TuiBenchArgs),
    /// Write unavailability seen by a workload client over N lab cutovers: p50 and max.
    #[command(
        after_help = "Examples:\n  wavedeck bench cutover --runs 10\n  wavedeck bench cutover --runs 10 --engine   # asked of the engine, DRS emulator for the job\n  wavedeck bench cutover --runs 10 --mysql    # a MariaDB pair, GTID replication, reset between runs"
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
        /// the pair reset between runs.
        #[arg(long, conflicts_with = "engine")]
        mysql: bool,
    },
    /// DRS emulator throughput (signed requests/s on loopback) and the calls one polling round
    /// of many jobs needs through the batch API.
    Drs(crate::drs::bench::DrsBenchArgs),
    /// Time to load and check an inventory file and to plan its waves.
    Inventory(crate::inventory::bench::InventoryBenchArgs),
    /// Validation checksum vs the raw read limit (binary COPY) and an in-database MD5
    /// aggregate, on one generated PostgreSQL table (build with --release).
    Checksum(crate::validate::bench::ChecksumArgs),
    /// Event appends per second on SQLite (hash chain, batched) and state rebuild time for
    /// 2000 databases.
    Store(crate::store::bench::StoreBenchArgs),
    /// Evidence pack build, write and verify time for one database with a long history.
    Evidence(crate::evidence::bench::EvidenceBenchArgs),
    /// An emulated factory (2000 databases) run by the engine to `ready`, then the cutover of
    /// one wave: wall time, engine CPU per database per stage, peak memory, DRS calls, events/s.
    Engine(crate::engine::bench::EngineBenchArgs),
    /// The DRS emulator's native mode on the pilot data: start to incremental per job, and the
    /// CDC delay DRS reports under the lab workload.
    Native(crate::cutover::native_bench::NativeBenchArgs),
}

pub async fn run(cmd: BenchCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Tui(a) => {
            crate::tui::bench::run(a)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Cutover {
            runs,
            seed_rows,
            engine,
            mysql,
        } => {
            if mysql {
                crate::cutover::bench::run_mysql(&cfg, runs, seed_rows).await?;
            } else if engine {
                crate::cutover::bench::run_through_engine(&cfg, runs, seed_rows).await?;
            } else {
                crate::cutover::bench::run(&cfg, runs, seed_rows).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Drs(a) => crate::drs::bench::run(a, cfg).await,
        BenchCommand::Inventory(a) => crate::inventory::bench::run(a, &cfg),
        BenchCommand::Checksum(a) => crate::validate::bench::run(a).await,
        BenchCommand::Store(a) => crate::store::bench::run(a).await,
        BenchCommand::Evidence(a) => crate::evidence::bench::run(a),
        BenchCommand::Engine(a) => crate::engine::bench::run(a, cfg).await,
        BenchCommand::Native(a) => crate::cutover::native_bench::run(a, &cfg).await,
    }
}
