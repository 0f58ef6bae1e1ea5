//! `wavedeck bench inventory`: how long checking and planning an inventory take.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  wavedeck bench inventory --file inventory/factory-2000.csv --runs 5"
)]
pub struct InventoryBenchArgs {
    /// Inventory to load, check and plan.
    #[arg(long, default_value = "inventory/factory-2000.csv")]
    pub file: PathBuf,
    /// Repetitions (the best and the median are printed).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (ms[0], ms[ms.len() / 2])
}

pub fn run(args: InventoryBenchArgs, cfg: &crate::config::Config) -> anyhow::Result<ExitCode> {
    let bytes = crate::input::read_bytes(&args.file, crate::input::INVENTORY.max_bytes)?;
    let runs = args.runs.max(1);
    let mut check_ms = Vec::new();
    let mut specs = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let (s, problems) = crate::inventory::load::parse_bytes(&args.file, &bytes);
        check_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if !problems.is_empty() {
            anyhow::bail!(
                "{} has {} problem(s): run wavedeck inventory check {} first",
                args.file.display(),
                problems.len(),
                args.file.display()
            );
        }
        specs = s.into_iter().map(|(_, d)| d).collect();
    }
    let limits = crate::plan::PlanLimits::from_config(cfg);
    let mut plan_ms = Vec::new();
    let mut waves = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let p = crate::plan::plan(&specs, &limits).map_err(anyhow::Error::msg)?;
        plan_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        waves = p.waves.len();
    }
    let (cb, cm) = stats(check_ms);
    let (pb, pm) = stats(plan_ms);
    println!(
        "inventory {} ({} databases, {} KB), {runs} runs",
        args.file.display(),
        specs.len(),
        bytes.len() / 1024
    );
    println!(
        "  parse + check: best {cb:.1} ms, median {cm:.1} ms ({:.0} databases/s)",
        specs.len() as f64 / (cm / 1000.0)
    );
    println!("  plan:          best {pb:.1} ms, median {pm:.1} ms ({waves} waves)");
    Ok(ExitCode::SUCCESS)
}
