//! `wavedeck bench`: performance figures printed by the real code paths. Each owning module adds
//! its subcommand here and keeps the measuring code beside itself.

use crate::config::Config;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum BenchCommand {}

pub async fn run(cmd: BenchCommand, _cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {}
}
