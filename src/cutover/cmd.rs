//! Command-line entry points of this module.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum LabCommand {
    /// Start the source and target clusters.
    #[command(after_help = "Example:\n  wavedeck lab up")]
    Up,
}

pub async fn run(_cmd: LabCommand, _cfg: Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the lab is not built yet")
}
