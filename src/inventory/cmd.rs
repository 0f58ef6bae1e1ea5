//! Command-line entry points of this module.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum InventoryCommand {
    /// Report every problem in inventory files, with file:line.
    #[command(
        after_help = "Example:\n  wavedeck inventory check inventory/pilot.yaml inventory/factory-2000.csv"
    )]
    Check { files: Vec<std::path::PathBuf> },
}

pub async fn run(_cmd: InventoryCommand, _cfg: Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("inventory commands are not built yet")
}
