//! Command-line entry points of this module.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  wavedeck plan --inventory inventory/factory-2000.csv --out waves.yaml"
)]
pub struct PlanArgs {
    #[arg(long)]
    pub inventory: std::path::PathBuf,
}

pub async fn run(_args: PlanArgs, _cfg: Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the planner is not built yet")
}
