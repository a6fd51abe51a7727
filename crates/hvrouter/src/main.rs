//! hvrouter: a userspace virtual router for hypervisors with routed guest NICs.
//! A thin main: parse the command line, call into the libraries.

mod capture;
mod cli;
mod ganeti;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hvrouter_node::{log, run};

#[derive(Parser, Debug)]
#[command(name = "hvrouter", version, about)]
struct Cli {
    /// Control socket of the running router (default: $HVROUTER_SOCKET, else
    /// /run/hvrouter/control.sock).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
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
    /// Add, remove or list guests of the running router.
    #[command(subcommand)]
    Guest(cli::GuestCmd),
    /// Show the running router's networks, routes, neighbors, ports or counters.
    Show {
        /// What to show.
        what: cli::ShowWhat,
        /// Only this network (routes, neighbors).
        #[arg(long)]
        network: Option<String>,
        #[command(flatten)]
        json: cli::JsonFlag,
    },
    /// Explain the router's decisions.
    #[command(subcommand)]
    Explain(cli::ExplainCmd),
    /// Show the next COUNT packets' path through the pipeline, with each decision.
    Trace {
        /// How many packets.
        count: u32,
        #[command(flatten)]
        json: cli::JsonFlag,
    },
    /// Re-read the configuration file and apply the difference (like SIGHUP).
    Reload,
    /// Check that the router's dataplane loop answers.
    Ping,
    /// Write what ports receive and send, with the router's decisions, as pcapng
    /// (`hvrouter capture -w - | tcpdump -n -r -`).
    Capture(capture::cli::CaptureArgs),
    /// Ganeti integration: the NIC hooks' logic (`ganeti nic up|down`), `sync-guests`.
    #[command(subcommand)]
    Ganeti(ganeti::GanetiCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = cli::socket_path(cli.socket.clone());
    match cli.command {
        Command::Ganeti(cmd) => ganeti::main(cmd, cli.socket),
        Command::Guest(cmd) => {
            let (request, json) = cli::guest_request(cmd);
            cli::call(&socket, request, json)
        }
        Command::Show {
            what,
            network,
            json,
        } => cli::call(&socket, cli::show_request(what, network), json.json),
        Command::Explain(cli::ExplainCmd::Arp { ip, network, json }) => cli::call(
            &socket,
            hvrouter_control::protocol::Request::ExplainArp { ip, network },
            json.json,
        ),
        Command::Explain(cli::ExplainCmd::Ndp {
            addr,
            network,
            json,
        }) => cli::call(
            &socket,
            hvrouter_control::protocol::Request::ExplainNdp { addr, network },
            json.json,
        ),
        Command::Explain(cli::ExplainCmd::Dhcp { tap, json }) => cli::call(
            &socket,
            hvrouter_control::protocol::Request::ExplainDhcp { tap },
            json.json,
        ),
        Command::Trace { count, json } => cli::call(
            &socket,
            hvrouter_control::protocol::Request::Trace { count },
            json.json,
        ),
        Command::Reload => cli::call(&socket, hvrouter_control::protocol::Request::Reload, false),
        Command::Ping => cli::call(&socket, hvrouter_control::protocol::Request::Ping, false),
        Command::Capture(args) => capture::cli::run(&socket, &args),
        Command::Run { config } => match run::run(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                log::error("fatal", &[("error", &log::chain(&e))]);
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig { config } => match hvrouter_config::Config::load(&config)
            .map_err(|e| e.to_string())
            .and_then(|c| run::machine_check(&config, &c).map(|()| c))
        {
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
                log::error_text(&e);
                ExitCode::FAILURE
            }
        },
    }
}
