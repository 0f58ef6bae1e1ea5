//! `wavedeck demo`: a rehearsal of the pilot wave on a fresh temporary store, with the bundled
//! pilot inventory, the DRS emulator in process and the engine at a speed factor, under the
//! cockpit. Nothing outside the temporary directory is touched.

use crate::config::Config;
use crate::store::Store;
use crate::tui::cmd::LookArgs;
use crate::tui::theme::{no_color_from_env, Theme};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Default)]
#[command(after_help = "Example:\n  wavedeck demo")]
pub struct DemoArgs {
    #[command(flatten)]
    pub look: LookArgs,
    /// Time compression of the emulated DRS and the engine. The default (3) takes the pilot wave
    /// to ready in about a minute; 300 is near instant.
    #[arg(long, default_value_t = 3.0)]
    pub speed: f64,
    /// Keep the demo store in this file instead of a temporary one.
    #[arg(long)]
    pub store_file: Option<std::path::PathBuf>,
}

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
    let mut specs = crate::inventory::load_file(&path).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow::anyhow!(
            "the bundled pilot inventory does not load:\n{}",
            lines.join("\n")
        )
    })?;
    // The demo's emulator connects to none of the pilot's servers, but DRS's connection test
    // needs a password: one the demo cannot read (the pilot's variables are usually unset)
    // is an empty one, as the lab's are.
    for ep in specs
        .iter_mut()
        .flat_map(|s| [&mut s.source, &mut s.target])
    {
        if ep.password.resolve().is_err() {
            ep.password = crate::secret::SecretRef::File("/dev/null".into());
        }
    }
    store.register_inventory(&specs, "demo", false).await?;
    Ok(specs.len())
}

/// The rehearsal settings: emulator and engine share the speed factor, DRS's own checks stand in
/// for the SQL ones (the pilot's endpoints need not exist), the emulator drains the source, DNS
/// goes to a file in the demo directory.
pub fn demo_config(mut cfg: Config, dir: &std::path::Path, speed: f64) -> Config {
    cfg.log_dir = dir.join("logs");
    cfg.evidence_dir = dir.join("evidence");
    cfg.emulator.speed = speed;
    cfg.emulator.quota = cfg.emulator.quota.max(20);
    cfg.engine.checks = crate::config::ChecksMode::Drs;
    cfg.engine.time_scale = speed;
    cfg.engine.source_drain = crate::config::SourceDrain::Emulator;
    cfg.engine.retry_base_s = cfg.engine.retry_base_s.min(5.0);
    cfg.cutover.dns_provider = crate::config::DnsProvider::File;
    cfg.cutover.dns_file = dir.join("dns.yaml");
    cfg
}

pub async fn run(args: DemoArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        anyhow::bail!("--speed must be a positive number, e.g. 60");
    }
    let theme = Theme::load(&args.look.theme, args.look.ascii, no_color_from_env())?;
    let dir = temp_dir()?;
    let mut cfg = demo_config(cfg, &dir, args.speed);
    let db_path = args
        .store_file
        .clone()
        .unwrap_or_else(|| dir.join("demo.db"));
    cfg.store = format!("sqlite://{}", db_path.display());
    let _log = crate::logging::init(&cfg.log_dir)?;
    tracing::info!("demo in {} at speed {}", dir.display(), args.speed);
    let store = Store::open(&cfg.store).await?;
    let n = register_pilot(&store, &dir).await?;
    tracing::info!("demo: {n} pilot databases registered");

    // The DRS emulator on a free loopback port, and the engine talking to it.
    let emu = crate::rehearsal::drs_emulator::spawn(
        &cfg,
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await?;
    let cfg = emu.client_config(&cfg);
    let drs = emu.client(&cfg)?;
    let engine = crate::engine::spawn(cfg.clone(), store.clone(), drs).await?;
    tracing::info!(
        "demo: emulator on {}, engine {}",
        emu.base_url(),
        engine.holder
    );

    let r = crate::tui::cmd::cockpit(store.clone(), &cfg, theme, false, None).await;
    if let Err(e) = engine.shutdown().await {
        tracing::warn!("demo: engine stopped with: {e}");
    }
    emu.shutdown().await;
    store.close().await;
    r?;
    println!("demo store and logs kept in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
