//! `wavedeck plan`: waves from an inventory, printed as a table and written as importable YAML.

use super::{output, plan, PlanLimits};
use crate::config::Config;
use crate::inventory::load::load_files_or_report;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  wavedeck plan --inventory inventory/factory-2000.csv --out waves.yaml\n  wavedeck init --inventory waves.yaml"
)]
pub struct PlanArgs {
    /// Inventory file(s), YAML or CSV (repeat the flag for several).
    #[arg(long, required = true)]
    pub inventory: Vec<PathBuf>,
    /// Network budget for full loads, Gbit/s (default: limits.bandwidth_gbps).
    #[arg(long)]
    pub bandwidth_gbps: Option<f64>,
    /// DRS concurrent-job limit (default: limits.drs_concurrency).
    #[arg(long)]
    pub drs_concurrency: Option<u32>,
    /// Validations at once (default: limits.validation_capacity).
    #[arg(long)]
    pub validation_capacity: Option<u32>,
    /// Most databases in one low-criticality wave (default: plan.max_wave_size).
    #[arg(long)]
    pub max_wave_size: Option<u32>,
    /// Databases in the pilot wave 0, 5 to 10 (default: plan.pilot_size).
    #[arg(long)]
    pub pilot_size: Option<u32>,
    /// Keep the `wave` already set on databases; plan only the others, after them.
    #[arg(long)]
    pub keep_waves: bool,
    /// Directory written by `wavedeck assess`: plan with measured sizes and write rates, and
    /// keep databases with blockers in no wave.
    #[arg(long)]
    pub assessment: Option<PathBuf>,
    /// Write the plan here (YAML: waves summary + inventory with `wave` filled in).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn run(args: PlanArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let Some(specs) = load_files_or_report(
        &args.inventory,
        " in the inventory: fix them (wavedeck inventory check) before planning",
    ) else {
        return Ok(ExitCode::from(1));
    };
    let mut limits = PlanLimits::from_config(&cfg);
    if let Some(v) = args.bandwidth_gbps {
        limits.bandwidth_gbps = v;
    }
    if let Some(v) = args.drs_concurrency {
        limits.drs_concurrency = v;
    }
    if let Some(v) = args.validation_capacity {
        limits.validation_capacity = v;
    }
    if let Some(v) = args.max_wave_size {
        limits.max_wave_size = v;
    }
    if let Some(v) = args.pilot_size {
        limits.pilot_size = v;
    }
    limits.measured_validation = measured_rates(&cfg.store).await;
    let plan = match &args.assessment {
        None if args.keep_waves => super::plan_keeping_waves(&specs, &limits),
        None => plan(&specs, &limits),
        Some(dir) => {
            let file = crate::assess::report::read(dir)?;
            let applied = super::assessed::apply(&specs, &file);
            super::plan_measured(
                &applied.specs,
                &limits,
                args.keep_waves,
                &applied.write_rows_s,
            )
            .map(|mut p| {
                // Said before the planner's own warnings: these databases are not in any wave.
                let mut first: Vec<String> = applied
                    .held_back
                    .iter()
                    .map(|(id, why)| format!("{id} is in no wave: {why}"))
                    .collect();
                first.extend(applied.notes.iter().cloned());
                first.append(&mut p.warnings);
                p.warnings = first;
                p
            })
        }
    }
    .map_err(anyhow::Error::msg)?;
    print!("{}", output::table(&plan));
    print!("{}", output::validation_rates(&specs, &limits));
    let offline = super::offline::suggestions(&specs, &limits.rates());
    print!("{}", super::offline::report(&offline, 10));
    for w in &plan.warnings {
        println!("warning: {w}");
    }
    if let Some(out) = &args.out {
        let source: Vec<String> = args
            .inventory
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut text = output::waves_yaml(&plan, &specs, &limits, &source.join(" --inventory "));
        for s in &offline {
            text.push_str(&format!("# offline suggested: {}\n", s.why()));
        }
        std::fs::write(out, text).map_err(|e| {
            anyhow::anyhow!(
                "cannot write {}: {e} (check the directory exists and is writable)",
                out.display()
            )
        })?;
        println!(
            "wrote {} (import it with: wavedeck init --inventory {})",
            out.display(),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The validation rates kept in the store (`store` in the config, or --store), if there is
/// one: a plan made where no validation ran yet uses the configured constant.
async fn measured_rates(store: &str) -> Vec<crate::store::val_progress::MeasuredRate> {
    let Ok(s) = crate::store::Store::open_existing(store).await else {
        return vec![];
    };
    s.validation_rates().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "plan: cannot read the measured validation rates");
        vec![]
    })
}
