//! Command-line entry points of this module.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  wavedeck run --store sqlite://factory.db")]
pub struct RunArgs {}

pub async fn run(_args: RunArgs, _cfg: Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the engine is not built yet")
}
