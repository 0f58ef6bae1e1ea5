//! The `wavedeck` command line. Each command's flags and behaviour live in the module that owns
//! it (`<module>::cmd`); this file only wires them together.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use wavedeck::config::Config;

#[derive(Parser)]
#[command(
    name = "wavedeck",
    version,
    about = "Terminal cockpit for a DRS-based database-migration factory",
    after_help = "Examples:\n  wavedeck demo                      # the pilot wave against the built-in DRS emulator\n  wavedeck inventory check inventory/pilot.yaml\n  wavedeck status --wave 0"
)]
struct Cli {
    /// Config file (default: ./wavedeck.yaml when present).
    #[arg(long, global = true, env = "WAVEDECK_CONFIG")]
    config: Option<PathBuf>,
    /// Store URL, overriding config and WAVEDECK_STORE (sqlite://PATH or postgres://...).
    #[arg(long, global = true)]
    store: Option<String>,
    /// With no command: the cockpit's own flags (`wavedeck --read-only` = `wavedeck tui
    /// --read-only`), parsed by clap so WAVEDECK_THEME applies here too.
    #[command(flatten)]
    tui: wavedeck::tui::cmd::TuiArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The cockpit (the default when no command is given).
    Tui(wavedeck::tui::cmd::TuiArgs),
    /// Rehearse the pilot wave: fresh store, bundled inventory, in-process DRS emulator.
    Demo(wavedeck::tui::cmd::DemoArgs),
    /// The engine alone, headless (for tmux or systemd).
    Run(wavedeck::engine::cmd::RunArgs),
    /// Register the databases of an inventory in the store.
    Init(wavedeck::store::cmd::InitArgs),
    /// Waves, stage counts and failures, for people and scripts.
    Status(wavedeck::store::cmd::StatusArgs),
    /// Plan waves from an inventory.
    Plan(wavedeck::plan::cmd::PlanArgs),
    /// Check or generate inventory files.
    #[command(subcommand)]
    Inventory(wavedeck::inventory::cmd::InventoryCommand),
    /// Export or verify evidence packs.
    #[command(subcommand)]
    Evidence(wavedeck::evidence::cmd::EvidenceCommand),
    /// Serve the DRS REST API emulator on a loopback address.
    Emulator(wavedeck::drs::cmd::EmulatorArgs),
    /// Local replication lab: source and target PostgreSQL clusters.
    #[command(subcommand)]
    Lab(wavedeck::cutover::cmd::LabCommand),
    /// Run the pre-checks of one database (reachability, DNS, clock, DRS settings, rights...).
    Precheck(wavedeck::validate::cmd::PrecheckArgs),
    /// Run the validation gate of one database (schema, counts, checksums, smoke tests, rules).
    Validate(wavedeck::validate::cmd::ValidateArgs),
    /// Print performance figures.
    #[command(subcommand)]
    Bench(wavedeck::bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(store) = cli.store {
        cfg.store = store;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Tui(cli.tui));
    let result = runtime.block_on(async move {
        match command {
            Command::Tui(a) => wavedeck::tui::cmd::run_tui(a, cfg).await,
            Command::Demo(a) => wavedeck::tui::cmd::run_demo(a, cfg).await,
            Command::Run(a) => wavedeck::engine::cmd::run(a, cfg).await,
            Command::Init(a) => wavedeck::store::cmd::init(a, cfg).await,
            Command::Status(a) => wavedeck::store::cmd::status(a, cfg).await,
            Command::Plan(a) => wavedeck::plan::cmd::run(a, cfg).await,
            Command::Inventory(c) => wavedeck::inventory::cmd::run(c, cfg).await,
            Command::Evidence(c) => wavedeck::evidence::cmd::run(c, cfg).await,
            Command::Emulator(a) => wavedeck::drs::cmd::run(a, cfg).await,
            Command::Lab(c) => wavedeck::cutover::cmd::run(c, cfg).await,
            Command::Bench(c) => wavedeck::bench::run(c, cfg).await,
            Command::Precheck(a) => wavedeck::validate::cmd::precheck(a, cfg).await,
            Command::Validate(a) => wavedeck::validate::cmd::validate(a, cfg).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_takes_the_cockpit_flags() {
        let cli = Cli::try_parse_from(["wavedeck", "--theme", "light", "--read-only", "--ascii"])
            .expect("cockpit flags without a command");
        assert!(cli.command.is_none());
        assert_eq!(cli.tui.look.theme, "light");
        assert!(cli.tui.read_only && cli.tui.look.ascii);
        let cli = Cli::try_parse_from(["wavedeck", "demo", "--theme", "16color"]).expect("demo");
        assert!(matches!(cli.command, Some(Command::Demo(a)) if a.look.theme == "16color"));
    }
}
