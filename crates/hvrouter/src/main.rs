//! hvrouter: a userspace virtual router for hypervisors with routed guest NICs.
//! A thin main: parse the command line, call into the libraries.

mod log;
mod ports;
mod report;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "hvrouter", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the router on the configured uplinks and guest taps until SIGTERM/SIGINT.
    Run {
        /// Configuration file (TOML).
        #[arg(short, long, default_value = "/etc/hvrouter/hvrouter.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file without starting anything.
    CheckConfig {
        /// Configuration file (TOML).
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => match run::run(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                log::error("fatal", &[("error", &log::chain(&e))]);
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig { config } => match hvrouter_config::Config::load(&config) {
            Ok(c) => {
                println!(
                    "{}: ok ({} networks, {} guests)",
                    config.display(),
                    c.networks.len(),
                    c.guests.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}
