//! `wavedeck report --wave N [--format md|html] [--out DIR]`: read the wave's events from the
//! store, build the report, write it.

use crate::config::Config;
use crate::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Md,
    Html,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  wavedeck report --wave 0                        # wave-0-report.html here\n  wavedeck report --wave 3 --format md --out reports/\nHTML: one file, charts inline, opens offline. Markdown: the charts as wave-N-*.svg beside it."
)]
pub struct ReportArgs {
    /// The wave to report on.
    #[arg(long)]
    pub wave: u32,
    #[arg(long, value_enum, default_value_t = Format::Html)]
    pub format: Format,
    /// Folder to write into (made if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

pub async fn run(a: ReportArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&cfg.store).await?;
    let members: Vec<String> = store
        .db_states()
        .await?
        .into_iter()
        .filter(|d| d.wave == Some(a.wave))
        .map(|d| d.db_id)
        .collect();
    if members.is_empty() && !store.wave_states().await?.iter().any(|w| w.wave == a.wave) {
        eprintln!(
            "error: wave {} is not in store {} (see `wavedeck status` for its waves)",
            a.wave,
            crate::store::redact_url(&cfg.store)
        );
        return Ok(ExitCode::from(2));
    }
    let mut events = store.events_for_wave(a.wave).await?;
    for id in &members {
        events.extend(store.events_for_db(id).await?);
    }
    events.sort_by_key(|e| e.seq);
    let report = super::build(a.wave, &events, chrono::Utc::now());
    std::fs::create_dir_all(&a.out)
        .map_err(|e| anyhow::anyhow!("cannot make {}: {e}", a.out.display()))?;
    let write = |name: String, text: &str| -> anyhow::Result<PathBuf> {
        let p = a.out.join(name);
        std::fs::write(&p, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
        Ok(p)
    };
    let path = match a.format {
        Format::Html => write(
            format!("wave-{}-report.html", a.wave),
            &super::render::html(&report),
        )?,
        Format::Md => {
            for (stem, _, svg) in super::render::charts(&report) {
                if let Some(Ok(svg)) = svg {
                    write(format!("wave-{}-{stem}.svg", a.wave), &svg)?;
                }
            }
            write(
                format!("wave-{}-report.md", a.wave),
                &super::render::markdown(&report),
            )?
        }
    };
    println!(
        "wrote {} ({} databases, {} events)",
        path.display(),
        report.dbs.len(),
        events.len()
    );
    Ok(ExitCode::SUCCESS)
}
