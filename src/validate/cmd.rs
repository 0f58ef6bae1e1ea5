//! `wavedeck validate`: run the validation gate for one database of an inventory, outside the
//! engine (rehearsals, investigations). [`find`] and [`runbook`] also serve `wavedeck precheck`
//! (`checks::cmd`).

use super::{run_validation, Mode, Runbook, ValidateOptions};
use crate::config::Config;
use crate::inventory::DatabaseSpec;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  wavedeck validate inventory/pilot.yaml --db pilot-01 --tables public.orders"
)]
pub struct ValidateArgs {
    /// Inventory files (YAML or CSV).
    #[arg(required = true)]
    pub inventory: Vec<PathBuf>,
    /// The database (db_id) to validate.
    #[arg(long)]
    pub db: String,
    /// Runbook file (default: the bundled one for the database's engine).
    #[arg(long)]
    pub runbook: Option<PathBuf>,
    /// Compare only these tables (comma-separated; `schema.table` for PostgreSQL).
    #[arg(long, value_delimiter = ',')]
    pub tables: Option<Vec<String>>,
    /// Chunks hashed at once (overrides the runbook).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Compare while replication runs: every range at a position of the change stream the
    /// target confirmed (default: final, for a drained source).
    #[arg(long)]
    pub live: bool,
    /// Keep each matched chunk in the store (--store, WAVEDECK_STORE or config `store`), and
    /// go on with a run an earlier attempt left unfinished (killed, interrupted, undecided)
    /// at the first chunk it did not finish.
    #[arg(long)]
    pub resume: bool,
    /// Print the full report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The inventory entry `db` of these files, or what is wrong with them.
pub(crate) fn find(inventory: &[PathBuf], db: &str) -> anyhow::Result<DatabaseSpec> {
    let specs = crate::inventory::load_files(inventory).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow::anyhow!("the inventory has problems:\n{}", lines.join("\n"))
    })?;
    let known: Vec<&str> = specs.iter().map(|s| s.db_id.as_str()).collect();
    specs
        .iter()
        .find(|s| s.db_id == db)
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no database {db:?} in {} ({} databases; e.g. {})",
                inventory
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                known.len(),
                known.iter().take(3).copied().collect::<Vec<_>>().join(", ")
            )
        })
}

/// The runbook for `spec` (a file, or the bundled one for its engine), refused when its engine
/// is not the database's.
pub(crate) fn runbook(path: Option<&Path>, spec: &DatabaseSpec) -> anyhow::Result<Runbook> {
    let rb = match path {
        Some(p) => Runbook::load(p)?,
        None => Runbook::builtin(spec.engine),
    };
    if rb.engine != spec.engine {
        anyhow::bail!(
            "the runbook is for {} but {} is {}",
            rb.engine.as_str(),
            spec.db_id,
            spec.engine.as_str()
        );
    }
    Ok(rb)
}

pub async fn validate(a: ValidateArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let spec = find(&a.inventory, &a.db)?;
    let rb = runbook(a.runbook.as_deref(), &spec)?;
    let memory = match a.resume {
        true => Some(crate::store::Store::open(&cfg.store).await?),
        false => None,
    };
    let opts = ValidateOptions {
        mode: if a.live { Mode::Live } else { Mode::Final },
        tables: a.tables,
        parallelism: a.parallel,
        memory,
    };
    let report = run_validation(&spec, &rb, &opts).await;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let secs = (report.finished_at - report.started_at).num_milliseconds() as f64 / 1e3;
        println!(
            "validation of {}: {} — {} ({secs:.1} s)",
            spec.db_id,
            if report.passed() { "PASSED" } else { "FAILED" },
            report.summary()
        );
        let (read, resumed) = report
            .tables
            .iter()
            .fold((0, 0), |(r, c), t| (r + t.rows_read, c + t.chunks_resumed));
        if resumed > 0 {
            println!("  resumed: {resumed} chunks kept from the attempt before; {read} source rows read now");
        }
        for line in report.failures() {
            println!("  {line}");
        }
        let context = report.context();
        if !context.is_empty() {
            println!("  database-wide, shown as context (not counted with --tables):");
            for line in context {
                println!("    {line}");
            }
        }
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
