//! Logs go to a daily rolling file: the terminal belongs to the TUI.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;

/// Start file logging under `dir`. Keep the returned guard alive for the life of the process so
/// buffered lines are flushed on exit. `RUST_LOG` overrides the default level.
pub fn init(dir: &Path) -> anyhow::Result<WorkerGuard> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create log directory {}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::daily(dir, "wavedeck.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests, demo inside the TUI) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(guard)
}
