//! `hvrouter ganeti ...`: the logic of Ganeti's NIC hooks. The hook files in
//! `scripts/ganeti/` are a few lines of shell that run `hvrouter ganeti nic up|down`
//! with Ganeti's environment; everything else (parsing, validation, decisions, talking
//! to the router, messages) is here.
//!
//! Exit status of `ganeti nic up`:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done, or nothing to do (not a routed NIC, instance-communication tap, `MIGRATION_PHASE=pre`) |
//! | 1 | the router refused the guest or could not be reached: Ganeti fails the NIC set-up and reports the message |
//! | 2 | the environment is invalid for a routed NIC (a variable missing or malformed, no IPv4 address) |
//!
//! `ganeti nic down` always exits 0: down hooks are best effort, and the router removes
//! a guest by itself when its tap disappears.

mod env;
mod nic;
mod plan;
mod report;
mod router;
mod settings;
mod sync;
mod tap;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

pub use env::Direction;

/// `ganeti ...`
#[derive(Subcommand, Debug)]
pub enum GanetiCmd {
    /// Ganeti NIC hook: reads Ganeti's NIC environment (MODE, INTERFACE, MAC, IP, LINK,
    /// TAGS, MIGRATION_PHASE, ...) and adds or removes the routed NIC's guest.
    /// Exit 0: done or nothing to do; 1: the router refused or is unreachable (up);
    /// 2: invalid environment (up). Down always exits 0.
    Nic {
        /// up: the tap was created or configured; down: it goes away.
        #[arg(value_enum)]
        direction: Direction,
    },
    /// Tell the router about the routed NICs running on this node, as the up hook would
    /// (for the cut-over from the kernel setup). Reads the output of, on the master,
    /// `gnt-instance list --no-headers --separator='|'
    /// -o name,pnode,nic.modes,nic.links,nic.ips,nic.macs,tags` on stdin.
    /// Exit 1 if any NIC failed.
    SyncGuests {
        /// This node's name in Ganeti (default: `hostname --fqdn`).
        #[arg(long)]
        node: Option<String>,
        /// Only print what would be added.
        #[arg(long)]
        dry_run: bool,
        /// Ganeti's KVM runtime directory (the tap of NIC I of instance X is in
        /// nic/X/I).
        #[arg(long, default_value = "/var/run/ganeti/kvm-hypervisor")]
        ganeti_run_dir: PathBuf,
    },
}

/// Run a `ganeti` subcommand. `socket_flag` is the global `--socket`, if given.
pub fn main(cmd: GanetiCmd, socket_flag: Option<PathBuf>) -> ExitCode {
    let vars = match env::Vars::from_os(std::env::vars_os()) {
        Ok(v) => v,
        Err(e) => {
            report::Reporter::new(None).error(&e.to_string());
            return ExitCode::from(2);
        }
    };
    let settings = settings::Settings::load(&vars, socket_flag);
    let rep = report::Reporter::new(settings.syslog.clone());
    for w in &settings.warnings {
        rep.warn(w);
    }
    let code = match cmd {
        GanetiCmd::Nic {
            direction: Direction::Up,
        } => nic::up(&vars, &settings, &rep),
        GanetiCmd::Nic {
            direction: Direction::Down,
        } => nic::down(&vars, &settings, &rep),
        GanetiCmd::SyncGuests {
            node,
            dry_run,
            ganeti_run_dir,
        } => sync::run(
            &sync::Options {
                node,
                dry_run,
                run_dir: ganeti_run_dir,
            },
            &settings,
            &rep,
        ),
    };
    ExitCode::from(code)
}
