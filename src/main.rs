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
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Flags that mean the same before or after the command (`wavedeck --read-only tui` =
/// `wavedeck tui --read-only`).
#[derive(clap::Args, Debug)]
struct Global {
    /// Config file (default: ./wavedeck.yaml when present).
    #[arg(long, global = true, env = "WAVEDECK_CONFIG")]
    config: Option<PathBuf>,
    /// Store URL, overriding config and WAVEDECK_STORE (sqlite://PATH or postgres://...).
    #[arg(long, global = true)]
    store: Option<String>,
    /// Watch only: the cockpit offers no action and the engine refuses any; commands that act
    /// (run, init, demo, lab changes) refuse to start.
    #[arg(long, global = true)]
    read_only: bool,
    /// Colour theme of the cockpit: dark, light, high-contrast, 16color, or a theme YAML file.
    #[arg(long, global = true, env = "WAVEDECK_THEME", default_value = "dark")]
    theme: String,
    /// ASCII only: borders, gauges and marks for terminals without Unicode.
    #[arg(long, global = true)]
    ascii: bool,
}

#[derive(Subcommand)]
enum Command {
    /// The cockpit (the default when no command is given).
    Tui(wavedeck::tui::cmd::TuiArgs),
    /// Rehearse the pilot wave: fresh store, bundled inventory, in-process DRS emulator.
    Demo(wavedeck::rehearsal::demo::DemoArgs),
    /// The engine alone, headless (for tmux or systemd).
    Run(wavedeck::engine::cmd::RunArgs),
    /// Register the databases of an inventory in the store.
    Init(wavedeck::store::cmd::InitArgs),
    /// Waves, stage counts and failures, for people and scripts.
    Status(wavedeck::store::cmd::StatusArgs),
    /// Administer the store (PostgreSQL roles for viewers).
    #[command(subcommand)]
    Store(wavedeck::store::cmd::StoreCommand),
    /// Plan waves from an inventory.
    Plan(wavedeck::plan::cmd::PlanArgs),
    /// Check or generate inventory files.
    #[command(subcommand)]
    Inventory(wavedeck::inventory::cmd::InventoryCommand),
    /// Export or verify evidence packs.
    #[command(subcommand)]
    Evidence(wavedeck::evidence::cmd::EvidenceCommand),
    /// Serve the DRS REST API emulator on a loopback address.
    Emulator(wavedeck::rehearsal::drs_emulator::cmd::EmulatorArgs),
    /// Local replication lab: source and target PostgreSQL clusters.
    #[command(subcommand)]
    Lab(wavedeck::rehearsal::lab::cmd::LabCommand),
    /// Run the pre-checks of one database (reachability, DNS, clock, DRS settings, rights...).
    Precheck(wavedeck::checks::cmd::PrecheckArgs),
    /// Run the validation gate of one database (schema, counts, checksums, smoke tests, rules).
    Validate(wavedeck::validate::cmd::ValidateArgs),
    /// Assess every source of an inventory: size, objects, DRS blockers, write rate.
    Assess(wavedeck::assess::cmd::AssessArgs),
    /// The wave report for stakeholders (HTML with charts, or Markdown).
    Report(wavedeck::report::cmd::ReportArgs),
    /// Restore a database's newest backup (or a point in time) to a temporary instance, run the
    /// smoke tests and row counts on it, delete it (through the engine).
    RestoreTest(wavedeck::restore::cmd::RestoreTestArgs),
    /// Sign off a database's (or a wave's) cutover in a role you hold.
    Signoff(wavedeck::signoff::cmd::SignoffArgs),
    /// Print performance figures.
    #[command(subcommand)]
    Bench(wavedeck::bench::BenchCommand),
    #[command(flatten)]
    Operate(wavedeck::store::operate::OperatorCommand),
    /// Check a config file: the merged config, or every problem in it.
    #[command(subcommand)]
    Config(wavedeck::config::cmd::ConfigCommand),
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Some(Command::Config(c)) = cli.command.take_if(|c| matches!(c, Command::Config(_))) {
        end_quietly_on_a_closed_pipe();
        return wavedeck::config::cmd::run(c, cli.global.config);
    }
    let mut cfg = match Config::load(cli.global.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(store) = cli.global.store.clone() {
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
    let command = match resolve(cli.command, &cli.global) {
        Ok(c) => c,
        Err(refusal) => {
            eprintln!("error: {refusal}");
            return ExitCode::from(2);
        }
    };
    if prints_and_ends(&command) {
        end_quietly_on_a_closed_pipe();
    }
    let result = runtime.block_on(async move {
        match command {
            Command::Tui(a) => wavedeck::tui::cmd::run_tui(a, cfg).await,
            Command::Demo(a) => wavedeck::rehearsal::demo::run(a, cfg).await,
            Command::Run(a) => wavedeck::engine::cmd::run(a, cfg).await,
            Command::Init(a) => wavedeck::store::cmd::init(a, cfg).await,
            Command::Status(a) => wavedeck::store::cmd::status(a, cfg).await,
            Command::Store(c) => wavedeck::store::cmd::store_command(c, cfg).await,
            Command::Plan(a) => wavedeck::plan::cmd::run(a, cfg).await,
            Command::Inventory(c) => wavedeck::inventory::cmd::run(c, cfg).await,
            Command::Evidence(c) => wavedeck::evidence::cmd::run(c, cfg).await,
            Command::Emulator(a) => wavedeck::rehearsal::drs_emulator::cmd::run(a, cfg).await,
            Command::RestoreTest(a) => wavedeck::restore::cmd::run(a, cfg).await,
            Command::Lab(c) => wavedeck::rehearsal::lab::cmd::run(c, cfg).await,
            Command::Assess(a) => wavedeck::assess::cmd::run(a, cfg).await,
            Command::Signoff(a) => wavedeck::signoff::cmd::run(a, cfg).await,
            Command::Report(a) => wavedeck::report::cmd::run(a, cfg).await,
            Command::Bench(c) => wavedeck::bench::run(c, cfg).await,
            Command::Precheck(a) => wavedeck::checks::cmd::precheck(a, cfg).await,
            Command::Validate(a) => wavedeck::validate::cmd::validate(a, cfg).await,
            Command::Operate(c) => wavedeck::store::operate::run(c, cfg).await,
            // Taken out of the command line and answered before the config is loaded.
            Command::Config(_) => unreachable!("config check returns before the config loads"),
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

/// The command to run with the global flags applied, or why a read-only session refuses it.
fn resolve(command: Option<Command>, g: &Global) -> Result<Command, String> {
    let look = || wavedeck::tui::cmd::LookArgs {
        theme: g.theme.clone(),
        ascii: g.ascii,
    };
    let mut command = command.unwrap_or(Command::Tui(Default::default()));
    match &mut command {
        Command::Tui(a) => {
            a.read_only = g.read_only;
            a.look = look();
        }
        Command::Demo(a) => a.look = look(),
        _ => {}
    }
    if g.read_only {
        if let Some(what) = acts(&command) {
            return Err(format!(
                "--read-only: `wavedeck {what}` acts, and a read-only session never acts; watch with `wavedeck tui --read-only` or `wavedeck status`, or drop --read-only"
            ));
        }
    }
    Ok(command)
}

/// The commands that change a factory (its store, its databases, the lab), by name. Every
/// command is listed so a new one must be classified here.
fn acts(c: &Command) -> Option<&'static str> {
    use wavedeck::rehearsal::lab::cmd::LabCommand;
    match c {
        Command::Run(_) => Some("run"),
        Command::Init(_) => Some("init"),
        Command::Demo(_) => Some("demo"),
        Command::Signoff(_) => Some("signoff"),
        Command::RestoreTest(_) => Some("restore-test"),
        Command::Store(_) => Some("store"),
        Command::Lab(LabCommand::Status(_)) => None,
        Command::Lab(_) => Some("lab"),
        Command::Operate(c) => Some(c.name()),
        Command::Tui(_)
        | Command::Status(_)
        | Command::Plan(_)
        | Command::Inventory(_)
        | Command::Evidence(_)
        | Command::Report(_)
        | Command::Emulator(_)
        | Command::Precheck(_)
        | Command::Validate(_)
        | Command::Assess(_)
        | Command::Bench(_)
        | Command::Config(_) => None,
    }
}

/// Commands that print a report and end, so that `wavedeck status | head -3` ends like any
/// Unix filter. The rest run for long (engine, cockpit, emulator, lab servers, benches) and keep
/// Rust's ignored SIGPIPE: a peer that goes away must be an error they handle, not their death.
fn prints_and_ends(c: &Command) -> bool {
    use wavedeck::rehearsal::lab::cmd::LabCommand;
    match c {
        Command::Status(_)
        | Command::Plan(_)
        | Command::Inventory(_)
        | Command::Evidence(_)
        | Command::Init(_)
        | Command::Store(_)
        | Command::Signoff(_)
        | Command::RestoreTest(_)
        | Command::Report(_)
        | Command::Operate(_)
        | Command::Precheck(_)
        | Command::Validate(_)
        | Command::Assess(_)
        | Command::Config(_)
        | Command::Lab(LabCommand::Status(_)) => true,
        Command::Tui(_)
        | Command::Demo(_)
        | Command::Run(_)
        | Command::Emulator(_)
        | Command::Lab(_)
        | Command::Bench(_) => false,
    }
}

/// Rust ignores SIGPIPE, so a reader that closes the pipe early makes `println!` panic
/// ("failed printing to stdout"). The default action ends the process as `cat` would.
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: the disposition is process-wide and set before any command prints; SIG_DFL is
    // always a valid disposition for SIGPIPE, and no handler of ours is replaced.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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

    fn parse(args: &[&str]) -> (Global, Result<Command, String>) {
        let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let r = resolve(cli.command, &cli.global);
        (cli.global, r)
    }

    fn tui(args: &[&str]) -> wavedeck::tui::cmd::TuiArgs {
        match parse(args).1 {
            Ok(Command::Tui(a)) => a,
            _ => panic!("{args:?} is not the cockpit"),
        }
    }

    #[test]
    fn no_command_takes_the_cockpit_flags() {
        let a = tui(&["wavedeck", "--theme", "light", "--read-only", "--ascii"]);
        assert_eq!(a.look.theme, "light");
        assert!(a.read_only && a.look.ascii);
        let a = tui(&["wavedeck"]);
        assert!(!a.read_only && !a.look.ascii && a.look.theme == "dark");
    }

    #[test]
    fn read_only_means_the_same_before_and_after_the_command() {
        assert!(tui(&["wavedeck", "--read-only", "tui"]).read_only);
        assert!(tui(&["wavedeck", "tui", "--read-only"]).read_only);
        assert!(!tui(&["wavedeck", "tui"]).read_only);
    }

    #[test]
    fn theme_means_the_same_before_and_after_the_command() {
        for args in [
            &["wavedeck", "--theme", "16color", "tui"][..],
            &["wavedeck", "tui", "--theme", "16color"],
        ] {
            assert_eq!(tui(args).look.theme, "16color", "{args:?}");
        }
        for args in [
            &["wavedeck", "--theme", "light", "demo"][..],
            &["wavedeck", "demo", "--theme", "light"],
        ] {
            assert!(
                matches!(parse(args).1, Ok(Command::Demo(a)) if a.look.theme == "light"),
                "{args:?}"
            );
        }
    }

    #[test]
    fn ascii_means_the_same_before_and_after_the_command() {
        assert!(tui(&["wavedeck", "--ascii", "tui"]).look.ascii);
        assert!(tui(&["wavedeck", "tui", "--ascii"]).look.ascii);
        assert!(matches!(
            parse(&["wavedeck", "--ascii", "demo"]).1,
            Ok(Command::Demo(a)) if a.look.ascii
        ));
    }

    #[test]
    fn config_and_store_mean_the_same_before_and_after_the_command() {
        for args in [
            &[
                "wavedeck",
                "--config",
                "c.yaml",
                "--store",
                "sqlite://x.db",
                "status",
            ][..],
            &[
                "wavedeck",
                "status",
                "--config",
                "c.yaml",
                "--store",
                "sqlite://x.db",
            ],
            &[
                "wavedeck",
                "--config",
                "c.yaml",
                "status",
                "--store",
                "sqlite://x.db",
            ],
        ] {
            let (g, c) = parse(args);
            assert!(matches!(c, Ok(Command::Status(_))), "{args:?}");
            assert_eq!(g.config.as_deref(), Some(std::path::Path::new("c.yaml")));
            assert_eq!(g.store.as_deref(), Some("sqlite://x.db"));
        }
        for args in [
            &["wavedeck", "--store", "sqlite://y.db", "tui"][..],
            &["wavedeck", "tui", "--store", "sqlite://y.db"],
        ] {
            assert_eq!(parse(args).0.store.as_deref(), Some("sqlite://y.db"));
        }
    }

    #[test]
    fn a_read_only_session_refuses_every_command_that_acts() {
        for args in [
            &["wavedeck", "--read-only", "run"][..],
            &["wavedeck", "run", "--read-only"],
            &[
                "wavedeck",
                "--read-only",
                "init",
                "--inventory",
                "inventory/pilot.yaml",
            ],
            &["wavedeck", "demo", "--read-only"],
            &["wavedeck", "--read-only", "lab", "down"],
            &["wavedeck", "--read-only", "approve", "wave-0"],
            &[
                "wavedeck",
                "cutover",
                "db1",
                "--confirm",
                "db1",
                "--read-only",
            ],
            &["wavedeck", "--read-only", "close", "wave-1"],
            &[
                "wavedeck",
                "--read-only",
                "signoff",
                "wave-1",
                "--role",
                "tech_lead",
            ],
        ] {
            let e = parse(args)
                .1
                .err()
                .unwrap_or_else(|| panic!("{args:?} was accepted"));
            assert!(e.starts_with("--read-only: `wavedeck "), "{e}");
        }
        for args in [
            &["wavedeck", "--read-only", "status"][..],
            &["wavedeck", "--read-only", "lab", "status"],
            &["wavedeck", "--read-only", "evidence", "verify", "x"],
            &["wavedeck", "--read-only", "assess", "inventory/pilot.yaml"],
        ] {
            assert!(parse(args).1.is_ok(), "{args:?}");
        }
    }
}
