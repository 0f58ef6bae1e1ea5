//! `wavedeck bench`: performance figures printed by the real code paths. Each owning module adds
//! its subcommand here and keeps the measuring code beside itself.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Cockpit frame render time (2000 databases, 200x60) and idle terminal output.
    Tui(crate::tui::bench::TuiBenchArgs),
}

pub async fn run(cmd: BenchCommand, _cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Tui(a) => {
            crate::tui::bench::run(a)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
