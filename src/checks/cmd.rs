//! `wavedeck precheck`: run the pre-checks of one database of an inventory, outside the engine
//! (rehearsals, investigations).

use super::{CheckOptions, Status};
use crate::config::Config;
use crate::validate::cmd::{find, runbook};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  wavedeck precheck inventory/pilot.yaml --db pilot-01")]
pub struct PrecheckArgs {
    /// Inventory files (YAML or CSV).
    #[arg(required = true)]
    pub inventory: Vec<PathBuf>,
    /// The database (db_id) to check.
    #[arg(long)]
    pub db: String,
    /// Runbook file (default: the bundled one for the database's engine).
    #[arg(long)]
    pub runbook: Option<PathBuf>,
    /// Target storage capacity in GB (default: extra.target_capacity_gb of the inventory entry).
    #[arg(long)]
    pub capacity_gb: Option<f64>,
    /// SNTP server to compare the jump host's clock against.
    #[arg(long)]
    pub ntp: Option<String>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn precheck(a: PrecheckArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let spec = find(&a.inventory, &a.db)?;
    let rb = runbook(a.runbook.as_deref(), &spec)?;
    let opts = CheckOptions {
        target_capacity_gb: a.capacity_gb,
        ntp_server: a.ntp,
        exposure: Some(super::exposure::Probe::from_config(&cfg)),
    };
    let results = super::run_prechecks(&spec, &rb, &opts).await;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        println!(
            "pre-checks for {}: {}",
            spec.db_id,
            super::summary(&results)
        );
        for r in &results {
            println!("  {:<4}  {:<30} {}", r.status.as_str(), r.name, r.evidence);
            if let (Some(fix), true) = (&r.fix, r.status != Status::Pass) {
                println!("        fix: {fix}");
            }
        }
    }
    Ok(if super::passed(&results) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
