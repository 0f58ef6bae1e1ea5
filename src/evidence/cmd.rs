//! Command-line entry points of this module.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum EvidenceCommand {
    /// Check an exported evidence pack against its manifest and hash chain.
    #[command(after_help = "Example:\n  wavedeck evidence verify evidence/pay-ledger-01")]
    Verify { dir: std::path::PathBuf },
}

pub async fn run(_cmd: EvidenceCommand, _cfg: Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("evidence commands are not built yet")
}
