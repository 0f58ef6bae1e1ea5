//! `wavedeck run`: the engine alone, headless, for tmux or systemd.

use crate::config::Config;
use crate::drs::DrsClient;
use crate::store::Store;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  wavedeck run --store sqlite://factory.db\n  wavedeck run --config rehearsal.yaml      # with drs.endpoint pointing at `wavedeck emulator`\n\nStops cleanly on SIGTERM or Ctrl-C: in-flight steps finish (up to 5 s), the lease is released.\nA step interrupted harder (kill -9, power loss) is resumed by the next engine, never repeated blindly."
)]
pub struct RunArgs {}

pub async fn run(_args: RunArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    // Handlers first: a SIGTERM during start-up must also stop cleanly, not kill.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let _guard = crate::logging::init(&cfg.log_dir)?;
    let store = Store::open_existing(&cfg.store).await?;
    let drs = DrsClient::from_config(&cfg)?;
    let engine = super::spawn(cfg, store.clone(), drs).await?;
    eprintln!(
        "wavedeck engine running as {} (logs in the log directory); Ctrl-C or SIGTERM stops it",
        engine.holder
    );
    let stopped_by_itself = tokio::select! {
        _ = tokio::signal::ctrl_c() => false,
        _ = term.recv() => false,
        _ = wait_finished(&engine) => true,
    };
    let result = engine.shutdown().await;
    store.close().await;
    match result {
        Ok(()) if !stopped_by_itself => {
            eprintln!("wavedeck engine stopped");
            Ok(ExitCode::SUCCESS)
        }
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e),
    }
}

async fn wait_finished(engine: &super::EngineHandle) {
    while !engine.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
