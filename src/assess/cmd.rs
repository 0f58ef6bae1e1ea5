//! `wavedeck assess INVENTORY...`: probe every source and write the assessment files.

use super::probe::{self, ProbeOptions};
use super::report::{self, AssessmentFile};
use super::Outcome;
use crate::config::Config;
use crate::inventory::load::load_files_or_report;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
#[command(
    after_help = "Reads every source (read-only session, no DDL) and writes DIR/assessment.{csv,json,md}.\nExample:\n  wavedeck assess inventory/factory-2000.csv --concurrency 32 --out assessment\n  wavedeck plan --inventory inventory/factory-2000.csv --assessment assessment"
)]
pub struct AssessArgs {
    /// Inventory file(s), YAML or CSV.
    #[arg(required = true)]
    pub inventory: Vec<PathBuf>,
    /// Sources probed at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Directory for assessment.csv, assessment.json and assessment.md.
    #[arg(long, default_value = "assessment")]
    pub out: PathBuf,
    /// Seconds for the TCP connect and for the login, each.
    #[arg(long, default_value_t = 5.0)]
    pub connect_timeout_s: f64,
    /// Seconds one database may take in all; what was read by then is kept.
    #[arg(long, default_value_t = 30.0)]
    pub timeout_s: f64,
    /// Seconds between the two write-counter samples.
    #[arg(long, default_value_t = 2.0)]
    pub sample_s: f64,
}

fn seconds(v: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("{flag} must be a positive number of seconds, e.g. 5"))
}

pub async fn run(args: AssessArgs, _cfg: Config) -> anyhow::Result<ExitCode> {
    let Some(specs) = load_files_or_report(
        &args.inventory,
        " in the inventory: fix them (wavedeck inventory check) before assessing",
    ) else {
        return Ok(ExitCode::from(1));
    };
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1, e.g. 16");
    }
    let opts = ProbeOptions {
        connect_timeout: seconds(args.connect_timeout_s, "--connect-timeout-s")?,
        deadline: seconds(args.timeout_s, "--timeout-s")?,
        sample: seconds(args.sample_s, "--sample-s")?,
        concurrency: args.concurrency,
    };
    eprintln!(
        "assessing {} databases, {} at a time, at most {:.0} s each (worst case {:.0} s)",
        specs.len(),
        opts.concurrency,
        opts.deadline.as_secs_f64(),
        probe::worst_case(specs.len(), &opts).as_secs_f64()
    );
    let t0 = Instant::now();
    let rows = probe::assess_all(&specs, &opts).await;
    let file = AssessmentFile {
        format: report::FORMAT.into(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        inventory: args
            .inventory
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        elapsed_s: t0.elapsed().as_secs_f64(),
        databases: rows,
    };
    report::write_all(&args.out, &file).map_err(|e| {
        anyhow::anyhow!(
            "cannot write the assessment into {}: {e} (check the directory is writable)",
            args.out.display()
        )
    })?;
    let rows = &file.databases;
    let n = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count();
    let blocked = rows
        .iter()
        .filter(|r| r.blockers().next().is_some())
        .count();
    for r in rows.iter().filter(|r| r.outcome == Outcome::Unreachable) {
        println!("unreachable {}: {}", r.db_id, r.problems.join("; "));
    }
    for r in rows {
        for f in r.blockers() {
            println!("blocker {} {}: {}", r.db_id, f.rule, f.detail);
        }
    }
    println!(
        "{} databases in {:.1} s: {} assessed, {} partial, {} unreachable, {} with blockers; wrote {}/assessment.{{csv,json,md}}",
        rows.len(),
        file.elapsed_s,
        n(Outcome::Assessed),
        n(Outcome::Partial),
        n(Outcome::Unreachable),
        blocked,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
