//! Command-line entry points of this module.

use super::load::load_files;
use crate::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum InventoryCommand {
    /// Report every problem in inventory files, with file:line and what to do; exit 1 if any.
    #[command(
        after_help = "Example:\n  wavedeck inventory check inventory/pilot.yaml inventory/factory-2000.csv"
    )]
    Check {
        /// Inventory files (.yaml/.yml or .csv); db_id must be unique across all of them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub async fn run(cmd: InventoryCommand, _cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        InventoryCommand::Check { files } => Ok(check(&files)),
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let started = std::time::Instant::now();
    match load_files(files) {
        Ok(specs) => {
            println!(
                "ok: {} databases in {} file(s), checked in {:.0} ms",
                specs.len(),
                files.len(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            eprintln!("{} problem(s) found", problems.len());
            ExitCode::from(1)
        }
    }
}
