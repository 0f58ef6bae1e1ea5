//! Command-line entry points of this module.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  wavedeck emulator --listen 127.0.0.1:8443")]
pub struct EmulatorArgs {
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: std::net::SocketAddr,
}

pub async fn run(_args: EmulatorArgs, _cfg: Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the emulator is not built yet")
}
