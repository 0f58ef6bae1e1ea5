//! Command-line entry points of this module.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Args, Default)]
#[command(after_help = "Example:\n  wavedeck tui --read-only")]
pub struct TuiArgs {
    /// Watch only: no actions are offered, and the engine refuses them anyway.
    #[arg(long)]
    pub read_only: bool,
}

#[derive(clap::Args, Default)]
#[command(after_help = "Example:\n  wavedeck demo")]
pub struct DemoArgs {}

pub async fn run_tui(_args: TuiArgs, _cfg: Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the cockpit is not built yet")
}

pub async fn run_demo(_args: DemoArgs, _cfg: Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the demo is not built yet")
}
