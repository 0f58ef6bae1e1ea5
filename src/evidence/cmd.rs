//! Command-line entry points of this module.

use super::against;
use super::export::{self, Selection};
use super::verify;
use crate::config::Config;
use crate::store::Store;
use chrono::Utc;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum EvidenceCommand {
    /// Export evidence packs: one folder per database with its events, artefacts, a summary and
    /// a SHA-256 manifest.
    #[command(
        after_help = "Examples:\n  wavedeck evidence export pay-ledger-01 --out evidence\n  wavedeck evidence export --wave 2 --out evidence/wave-2"
    )]
    Export {
        /// The database to export (or use --wave).
        #[arg(required_unless_present = "wave", conflicts_with = "wave")]
        db_id: Option<String>,
        /// Export every database of this wave.
        #[arg(long)]
        wave: Option<u32>,
        /// Folder to write the packs into (default: config `evidence_dir`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Who exports, recorded in the pack (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Check an exported evidence pack (or a folder of packs) against its manifest and hash
    /// chain; exits 1 naming the file and line of every problem.
    #[command(
        after_help = "Examples:\n  wavedeck evidence verify evidence/pay-ledger-01\n  wavedeck evidence verify evidence/wave-2\n  wavedeck --store sqlite://wavedeck.db evidence verify evidence/wave-2 --against-store"
    )]
    Verify {
        dir: PathBuf,
        /// Also compare every event line with the store (config `store` / --store): catches a
        /// pack rewritten together with its manifest, which the file checks alone cannot.
        #[arg(long)]
        against_store: bool,
    },
}

pub async fn run(cmd: EvidenceCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        EvidenceCommand::Verify { dir, against_store } => {
            let mut report = verify::verify_dir(&dir)?;
            if against_store {
                let store = Store::open_existing(&cfg.store).await?;
                for pack in verify::pack_dirs(&dir)? {
                    let found = against::check_pack(&pack, &store).await;
                    match found {
                        Ok(problems) => report
                            .problems
                            .extend(problems.into_iter().map(|p| (pack.clone(), p))),
                        Err(e) => {
                            store.close().await;
                            return Err(e);
                        }
                    }
                }
                if !verify::is_pack(&dir) {
                    match against::check_indexes(&dir, &store).await {
                        Ok(problems) => report
                            .problems
                            .extend(problems.into_iter().map(|p| (dir.clone(), p))),
                        Err(e) => {
                            store.close().await;
                            return Err(e);
                        }
                    }
                }
                store.close().await;
                report.store_checked = true;
            }
            for (pack, p) in &report.problems {
                if p.file.is_empty() {
                    println!("{}: {p}", pack.display());
                } else {
                    println!("{}/{p}", pack.display());
                }
            }
            if report.is_ok() {
                println!("{}", report.ok_line());
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "TAMPERED: {} problem(s) in {} pack(s)",
                    report.problems.len(),
                    report.packs
                );
                Ok(ExitCode::from(1))
            }
        }
        EvidenceCommand::Export {
            db_id,
            wave,
            out,
            by,
        } => {
            let sel = match (db_id, wave) {
                (Some(id), _) => Selection::Db(id),
                (None, Some(w)) => Selection::Wave(w),
                (None, None) => anyhow::bail!("give a database id or --wave N"),
            };
            let out = out.unwrap_or_else(|| cfg.evidence_dir.clone());
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".to_string());
            let store = Store::open_existing(&cfg.store).await?;
            let result = export::export(&store, &sel, &out, &by, Utc::now()).await;
            store.close().await;
            let written = result?;
            for dir in &written {
                println!("{}", dir.display());
            }
            println!(
                "exported {} pack(s); check them with `wavedeck evidence verify {}`",
                written.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
