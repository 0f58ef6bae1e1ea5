//! Command-line entry points of this module: `wavedeck init` and `wavedeck status`.

use super::status;
use super::{RegisterReport, Store};
use crate::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  wavedeck init --inventory inventory/pilot.yaml\n  wavedeck --store postgres://wavedeck@db.internal/wavedeck init --inventory a.yaml --inventory b.csv\n  wavedeck init --inventory inventory/pilot.yaml --remove-missing"
)]
pub struct InitArgs {
    /// Inventory file (YAML or CSV); repeat for several files forming one inventory.
    #[arg(long, required = true)]
    pub inventory: Vec<PathBuf>,
    /// Remove databases that are in the store but no longer in the inventory. Only databases
    /// still `registered` can be removed; any other is refused and nothing is changed.
    #[arg(long)]
    pub remove_missing: bool,
    /// Who is importing (recorded as the events' actor). Default: $USER.
    #[arg(long)]
    pub actor: Option<String>,
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  wavedeck status\n  wavedeck status --program\n  wavedeck status --wave 0 --dbs\n  wavedeck status --json | jq '.failures'"
)]
pub struct StatusArgs {
    /// Only this wave.
    #[arg(long)]
    pub wave: Option<u32>,
    /// Machine-readable output (JSON).
    #[arg(long)]
    pub json: bool,
    /// One row per database.
    #[arg(long)]
    pub dbs: bool,
    /// Also check the event hash chain; exit 1 if it is broken.
    #[arg(long)]
    pub verify: bool,
    /// The whole program instead: progress by stage, data moved and validated, the last
    /// day's failures, the measured pace and ETA, the calendar of the next 14 days.
    #[arg(long, conflicts_with_all = ["wave", "dbs", "verify"])]
    pub program: bool,
}

/// `wavedeck store ...`: administration of the store itself.
#[derive(clap::Subcommand)]
pub enum StoreCommand {
    /// PostgreSQL store: let an existing database ROLE read everything the cockpit reads and
    /// write nothing (no command rows, no events). Run it as the store's owner.
    #[command(
        after_help = "Examples:\n  psql -c \"CREATE ROLE lead LOGIN PASSWORD '...'\"\n  wavedeck --store postgres://wavedeck@db.internal/wavedeck store grant-viewer lead\n  WAVEDECK_STORE=postgres://lead@db.internal/wavedeck wavedeck tui --read-only"
    )]
    GrantViewer {
        /// The PostgreSQL role (it must exist).
        role: String,
    },
}

pub async fn store_command(cmd: StoreCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        StoreCommand::GrantViewer { role } => {
            if cfg.store.starts_with("sqlite:") {
                eprintln!(
                    "store {}: a SQLite store is a file; database roles do not apply. Who may \
                     read or write it is set by the file's permissions; for a team with viewers, \
                     use a PostgreSQL store",
                    super::redact_url(&cfg.store)
                );
                return Ok(ExitCode::from(2));
            }
            let store = Store::open_existing(&cfg.store).await?;
            let result = super::grant::grant_viewer(&store, &role).await;
            store.close().await;
            match result {
                Ok(g) => {
                    println!(
                        "role {} may now read the {} store tables of {} (schema {}) and write none: \
                         its command rows and events are refused by PostgreSQL",
                        g.role, g.tables, g.database, g.schema
                    );
                    println!(
                        "the viewer opens the cockpit with its own URL: WAVEDECK_STORE=postgres://{}@HOST/{} wavedeck tui --read-only",
                        g.role, g.database
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(super::StoreError::Refused(why)) => {
                    eprintln!("{why}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Who runs this command, for the actor of events and the `who` of command rows.
pub fn whoami() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "operator".into())
}

/// Human summary of an import.
pub fn describe_import(r: &RegisterReport) -> String {
    let mut out = String::new();
    if !r.changed() {
        out.push_str(&format!(
            "nothing changed: {} databases already registered as in the inventory\n",
            r.unchanged
        ));
    } else {
        out.push_str(&format!(
            "registered {} new, updated {}, removed {}, unchanged {} ({} events)\n",
            r.added.len(),
            r.updated.len(),
            r.removed.len(),
            r.unchanged,
            r.events.len()
        ));
    }
    for (id, changes) in &r.updated {
        for c in changes {
            out.push_str(&format!("  {id}: {} {} -> {}\n", c.field, c.from, c.to));
        }
    }
    for id in &r.removed {
        out.push_str(&format!("  {id}: removed (not in the inventory)\n"));
    }
    for w in &r.waves_planned {
        out.push_str(&format!(
            "  wave {w}: window set from its databases' business window\n"
        ));
    }
    if !r.kept_missing.is_empty() {
        out.push_str(&format!(
            "kept {} databases that are not in the inventory: {} (pass --remove-missing to remove those still registered)\n",
            r.kept_missing.len(),
            r.kept_missing.join(", ")
        ));
    }
    out
}

pub async fn init(args: InitArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let Some(specs) = crate::inventory::load::load_files_or_report(
        &args.inventory,
        ": the inventory was not imported; fix them (see `wavedeck inventory check`) and run init again",
    ) else {
        return Ok(ExitCode::from(1));
    };
    let store = Store::open(&cfg.store).await?;
    let actor = args.actor.unwrap_or_else(whoami);
    let result = store
        .register_inventory(&specs, &actor, args.remove_missing)
        .await;
    store.close().await;
    match result {
        Ok(report) => {
            print!("{}", describe_import(&report));
            println!("store: {}", store.url());
            Ok(ExitCode::SUCCESS)
        }
        Err(super::StoreError::Refused(why)) => {
            eprintln!("{why}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn status(args: StatusArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&cfg.store).await?;
    if args.program {
        return program_status(&store, args.json).await;
    }
    let dbs = store.db_states().await?;
    let waves = store.wave_states().await?;
    let last_seq = store.last_seq().await?;
    let engine = store.lease_holder().await?;
    let chain = if args.verify {
        Some(store.verify_chain().await?)
    } else {
        None
    };
    store.close().await;
    let report = match status::build(
        store.url(),
        last_seq,
        engine,
        &dbs,
        &waves,
        args.wave,
        args.dbs,
    ) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(ExitCode::from(1));
        }
    };
    let broken = chain.as_ref().is_some_and(|c| !c.is_ok());
    if args.json {
        let out = status::StatusJson {
            report,
            limits: crate::engine::limits_summary(&cfg).1,
            chain,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", status::render_text(&report));
        println!("{}", crate::engine::limits_summary(&cfg).0);
        if let Some(c) = &chain {
            match &c.first_break {
                None => println!("\nchain: ok ({} events verified)", c.checked),
                Some(b) => println!(
                    "\nchain: BROKEN at event {}: {} ({} events before it verified)",
                    b.seq, b.reason, c.checked
                ),
            }
        }
    }
    Ok(if broken {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `wavedeck status --program [--json]`: the figures of the cockpit's Program view.
async fn program_status(store: &Store, json: bool) -> anyhow::Result<ExitCode> {
    let dbs = store.db_states().await?;
    let waves = store.wave_states().await?;
    let marks = store.stage_marks(0).await?;
    store.close().await;
    let p = crate::program::build(&dbs, &waves, &marks, chrono::Utc::now());
    if json {
        let mut v = serde_json::to_value(&p)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("store".into(), store.url().into());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", crate::program::report::render_text(store.url(), &p));
    }
    Ok(ExitCode::SUCCESS)
}
