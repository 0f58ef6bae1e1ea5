//! `wavedeck config check [FILE]`: the merged config (defaults < file < environment), or
//! every problem in it with its file line.

use super::Config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Load a config (FILE, else --config, else ./wavedeck.yaml) with the environment, check
    /// every value, and print the merged result or every problem.
    #[command(
        after_help = "Examples:\n  wavedeck config check\n  wavedeck config check /etc/wavedeck/night.yaml"
    )]
    Check {
        /// The config file (default: --config, WAVEDECK_CONFIG or ./wavedeck.yaml).
        file: Option<PathBuf>,
    },
}

/// Runs before the usual config load, since checking a broken config is the point.
pub fn run(c: ConfigCommand, global: Option<PathBuf>) -> ExitCode {
    let ConfigCommand::Check { file } = c;
    // Named as load will choose it, so the header says which file was checked.
    let path = Config::file_to_load(file.or(global).as_deref());
    match Config::load(path.as_deref()) {
        Ok(cfg) => match serde_yaml::to_string(&cfg) {
            Ok(text) => {
                println!(
                    "# {}: every value in range; merged with defaults and WAVEDECK_* variables",
                    path.as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "no config file (defaults)".into())
                );
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot print the config: {e}");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
