//! The control CLI: turn command-line arguments into one request on the control socket
//! and print the answer (human tables, or JSON with `--json`).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use hvrouter_control::client::Client;
use hvrouter_control::protocol::{GuestIpv6, GuestSpec, Request};
use hvrouter_control::render;
use ipnet::Ipv4Net;
use wire::EthernetAddress;

/// Default control socket; `HVROUTER_SOCKET` or `--socket` override it.
pub const DEFAULT_SOCKET: &str = "/run/hvrouter/control.sock";

/// `guest ...`
#[derive(Subcommand, Debug)]
pub enum GuestCmd {
    /// Add a guest NIC (idempotent: the same data again succeeds).
    Add {
        /// The guest's tap (or veth) interface.
        #[arg(long)]
        tap: String,
        /// The guest's MAC.
        #[arg(long)]
        mac: EthernetAddress,
        /// The network (VLAN) name, e.g. public_90.
        #[arg(long)]
        network: String,
        /// The guest's IPv4 address (repeat for several). None: an IPv6-only guest
        /// (then --ip6 or --eui64 is required).
        #[arg(long = "ip")]
        ips: Vec<Ipv4Addr>,
        /// An extra prefix routed to the guest (repeat for several).
        #[arg(long = "routed-prefix")]
        routed_prefixes: Vec<Ipv4Net>,
        /// The host name the router's DHCP server gives the guest (option 12), e.g.
        /// Ganeti's instance name.
        #[arg(long)]
        hostname: Option<String>,
        /// An IPv6 address of the guest, inside its network's subnet6 (repeat for
        /// several). Without any IPv6 option the guest gets its network's default: the
        /// EUI-64 address of its MAC on a /64 subnet6.
        #[arg(long = "ip6")]
        ips6: Vec<std::net::Ipv6Addr>,
        /// Also the EUI-64 address of its MAC in subnet6 (implied when no --ip6 is given).
        #[arg(long)]
        eui64: bool,
        /// An IPv6 prefix routed to the guest (repeat for several).
        #[arg(long = "routed-prefix6", value_parser = hvrouter_control::protocol::parse_prefix6)]
        routed_prefixes6: Vec<ipnet::Ipv6Net>,
    },
    /// Remove a guest NIC: from now on nothing is answered for it.
    Del {
        /// Its tap.
        #[arg(long)]
        tap: String,
    },
    /// List guests.
    List(JsonFlag),
}

/// `show ...`
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ShowWhat {
    /// Networks (VLANs).
    Networks,
    /// Route tables.
    Routes,
    /// Neighbor (ARP) caches.
    Neighbors,
    /// Ports (uplinks and guest taps).
    Ports,
    /// All counters, drops by reason.
    Counters,
    /// The DHCP server: per guest its last request and what it got.
    Dhcp,
    /// IPv6: per network its subnet6, guests' addresses, neighbors; what was sent.
    Ipv6,
}

/// `--json`
#[derive(Args, Debug, Clone, Copy)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `explain ...`
#[derive(Subcommand, Debug)]
pub enum ExplainCmd {
    /// Would the router answer who-has for this address, on each side, and why?
    Arp {
        /// The address.
        ip: Ipv4Addr,
        /// Only this network.
        #[arg(long)]
        network: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Would the router answer neighbor solicitations for this IPv6 address, on each
    /// side, and why?
    Ndp {
        /// The address.
        addr: std::net::Ipv6Addr,
        /// Only this network.
        #[arg(long)]
        network: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// What would the guest's DHCP client get, and what did it get last?
    Dhcp {
        /// The guest's tap.
        tap: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// The socket: `--socket`, else `HVROUTER_SOCKET`, else the default.
pub fn socket_path(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("HVROUTER_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Send one request and print the answer. Exit code 0 on success, 1 on an error answer
/// or when the router cannot be reached.
pub fn call(socket: &Path, request: Request, json: bool) -> ExitCode {
    let mut client = match Client::connect(socket) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hvrouter: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.request(&request) {
        Ok(response) => {
            let ok = response.is_ok();
            let text = if json && ok {
                render::json(&response)
            } else {
                render::human(&response)
            };
            if ok {
                print!("{text}");
                if !text.ends_with('\n') && !text.is_empty() {
                    println!();
                }
                ExitCode::SUCCESS
            } else {
                eprintln!("hvrouter: {}", text.trim_end());
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("hvrouter: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The request for `guest ...`, and whether to print JSON.
pub fn guest_request(cmd: GuestCmd) -> (Request, bool) {
    match cmd {
        GuestCmd::Add {
            tap,
            mac,
            network,
            ips,
            routed_prefixes,
            hostname,
            ips6,
            eui64,
            routed_prefixes6,
        } => (
            Request::GuestAdd(GuestSpec {
                tap,
                mac,
                ips,
                network,
                routed_prefixes,
                hostname,
                ipv6: guest_ipv6(ips6, eui64, routed_prefixes6),
            }),
            false,
        ),
        GuestCmd::Del { tap } => (Request::GuestDel { tap }, false),
        GuestCmd::List(j) => (Request::GuestList, j.json),
    }
}

/// The IPv6 side `guest add` asks for: none without IPv6 options (the network's
/// default); the EUI-64 address is included with `--eui64` or when no `--ip6` is given.
fn guest_ipv6(
    addrs: Vec<std::net::Ipv6Addr>,
    eui64: bool,
    routed_prefixes: Vec<ipnet::Ipv6Net>,
) -> Option<GuestIpv6> {
    if addrs.is_empty() && !eui64 && routed_prefixes.is_empty() {
        return None;
    }
    Some(GuestIpv6 {
        eui64: eui64 || addrs.is_empty(),
        addrs,
        routed_prefixes,
    })
}

/// The request for `show WHAT`.
pub fn show_request(what: ShowWhat, network: Option<String>) -> Request {
    match what {
        ShowWhat::Networks => Request::ShowNetworks,
        ShowWhat::Routes => Request::ShowRoutes { network },
        ShowWhat::Neighbors => Request::ShowNeighbors { network },
        ShowWhat::Ports => Request::ShowPorts,
        ShowWhat::Counters => Request::ShowCounters,
        ShowWhat::Dhcp => Request::ShowDhcp,
        ShowWhat::Ipv6 => Request::ShowIpv6 { network },
    }
}
