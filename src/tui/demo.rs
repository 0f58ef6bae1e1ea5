//! `wavedeck demo`: a rehearsal of the pilot wave on a fresh temporary store, with the bundled
//! pilot inventory, the DRS emulator in process and the engine at a speed factor, under the
//! cockpit. Nothing outside the temporary directory is touched.

use super::cmd::DemoArgs;
use super::theme::{no_color_from_env, Theme};
use crate::config::Config;
use crate::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

/// The pilot inventory, inside the binary so the demo runs from any directory.
pub const PILOT_YAML: &str = include_str!("../../inventory/pilot.yaml");

/// A fresh directory under the system temp dir, unique per run.
fn temp_dir() -> anyhow::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let dir = std::env::temp_dir().join(format!("wavedeck-demo-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create the demo directory {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Register the pilot databases and plan their waves, as `wavedeck init` does for a real
/// inventory.
pub async fn register_pilot(store: &Store, dir: &std::path::Path) -> anyhow::Result<usize> {
    let path = dir.join("pilot.yaml");
    std::fs::write(&path, PILOT_YAML)?;
    let specs = crate::inventory::load_file(&path).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow::anyhow!(
            "the bundled pilot inventory does not load:\n{}",
            lines.join("\n")
        )
    })?;
    store.register_inventory(&specs, "demo", false).await?;
    Ok(specs.len())
}

pub async fn run(args: DemoArgs, mut cfg: Config) -> anyhow::Result<ExitCode> {
    let theme = Theme::load(&args.look.theme, args.look.ascii, no_color_from_env())?;
    let dir = temp_dir()?;
    cfg.log_dir = dir.join("logs");
    cfg.evidence_dir = dir.join("evidence");
    let db_path = args
        .store_file
        .clone()
        .unwrap_or_else(|| dir.join("demo.db"));
    cfg.store = format!("sqlite://{}", db_path.display());
    cfg.emulator.speed = args.speed;
    let _log = crate::logging::init(&cfg.log_dir)?;
    tracing::info!("demo in {}", dir.display());
    let store = Store::open(&cfg.store).await?;
    let n = register_pilot(&store, &dir).await?;
    tracing::info!("demo: {n} pilot databases registered");
    super::cmd::cockpit(store, &cfg, theme, false).await?;
    println!("demo store and logs kept in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
