//! What a NIC hook should do, decided from the parsed environment alone: no I/O, so every
//! rule is a unit test.
//!
//! - Not routed, or Ganeti's instance-communication tap: nothing (Ganeti's own set-up,
//!   or the `kvm-vif-bridge` shell for bridged and openvswitch NICs, does it).
//! - Routed, up: the guest `tap, MAC, network, IPv4 [, prefixes from tags]`, validated
//!   with the router's own rules, with Ganeti's instance name as its DHCP host name;
//!   with `NETWORK_SUBNET6` also the EUI-64 address of its MAC in it (and `IP` when that
//!   is IPv6), after checking that the router's network has the same subnet6 and
//!   gateway6. `MIGRATION_PHASE=pre` only prepares the tap (the guest still runs on the
//!   source node, which owns the address). A routed NIC with neither an IPv4 address
//!   nor `NETWORK_SUBNET6` is an error: it would be up with no network; one with only
//!   `NETWORK_SUBNET6` is an IPv6-only guest.
//! - Routed, down: remove the guest on this tap, if it is still this NIC's (same MAC).

use std::net::{IpAddr, Ipv6Addr};

use hvrouter_control::protocol::dhcp::validate_hostname;
use hvrouter_control::protocol::{
    validate_guest, validate_network_name, GuestInfo, GuestIpv6, GuestSpec,
};
use ipnet::Ipv6Net;
use wire::EthernetAddress;

use super::env::{tag_prefixes, Direction, EnvError, MigrationPhase, Mode, NicEnv};

/// What the up hook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpPlan {
    /// Nothing: the reason, for the log.
    Skip(String),
    /// Prepare the tap, do not add the guest yet.
    PrepareOnly {
        /// The tap.
        tap: String,
        /// Why, for the log.
        reason: String,
    },
    /// Prepare the tap and add the guest.
    Add {
        /// The guest.
        spec: GuestSpec,
        /// Ganeti's `NETWORK_SUBNET6` and `NETWORK_GATEWAY6`, to check against the
        /// router's network before adding: the guest's IPv6 address is derived from
        /// subnet6, so Ganeti and the router must agree on it.
        ganeti6: Option<(Ipv6Net, Option<Ipv6Addr>)>,
        /// Mismatches with Ganeti's view of the network, for the log (not fatal: the
        /// router's configuration owns the network).
        warnings: Vec<String>,
    },
}

/// What the down hook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownPlan {
    /// Nothing: the reason, for the log.
    Skip(String),
    /// Remove the guest on `tap` if it is still this NIC's.
    Remove {
        /// The tap.
        tap: String,
        /// The NIC's MAC, when Ganeti gave a valid one.
        mac: Option<EthernetAddress>,
    },
}

fn skip_reason(nic: &NicEnv) -> Option<String> {
    if nic.is_instance_communication() {
        return Some(format!(
            "{}: instance-communication tap: left to Ganeti",
            nic.interface
        ));
    }
    match &nic.mode {
        Mode::Routed => None,
        Mode::Bridged => Some(format!("{}: bridged NIC: not hvrouter's", nic.interface)),
        Mode::OpenVswitch => Some(format!(
            "{}: openvswitch NIC: not hvrouter's",
            nic.interface
        )),
        Mode::Other(m) => Some(format!(
            "{}: MODE {}: not hvrouter's",
            nic.interface,
            super::env::shown(m)
        )),
    }
}

/// The up hook's plan. `network_setting` is `HVROUTER_NETWORK` (default: `LINK`).
pub fn plan_up(nic: &NicEnv, network_setting: Option<&str>) -> Result<UpPlan, EnvError> {
    if let Some(reason) = skip_reason(nic) {
        return Ok(UpPlan::Skip(reason));
    }
    let tap = &nic.interface;
    if nic.action == Some(Direction::Down) {
        return Err(EnvError::invalid(
            "ACTION",
            "down",
            "this is the up hook (network/routed/up or kvm-ifup); refusing to act",
        ));
    }
    // IPv4 from IP; IPv6 from NETWORK_SUBNET6: the EUI-64 address of the MAC in it (what
    // gnt-networking's mac2eui64 gives every routed NIC), plus IP when Ganeti gave an
    // IPv6 one. No IPv4 and no subnet6: no network at all, refused.
    let subnet6 = nic.network.subnet6;
    let (ip, ip6) = match (nic.ip, subnet6) {
        (Some(IpAddr::V4(ip)), _) => (Some(ip), None),
        (Some(IpAddr::V6(a)), Some(_)) => (None, Some(a)),
        (None, Some(_)) => (None, None),
        (Some(IpAddr::V6(a)), None) => {
            return Err(EnvError::NoIpv4 {
                tap: tap.clone(),
                ipv6: Some(a.to_string()),
            })
        }
        (None, None) => {
            return Err(EnvError::NoIpv4 {
                tap: tap.clone(),
                ipv6: None,
            })
        }
    };
    let shown_ip = ip.map_or_else(
        || {
            format!(
                "IPv6 in {}",
                subnet6.map(|s| s.to_string()).unwrap_or_default()
            )
        },
        |ip| ip.to_string(),
    );
    let mac = nic.mac.ok_or(EnvError::Missing { var: "MAC" })?;
    if !mac.is_unicast() {
        return Err(EnvError::invalid(
            "MAC",
            &mac.to_string(),
            "not a unicast address",
        ));
    }
    let (network, var) = match (network_setting, nic.link.as_deref()) {
        (Some(n), _) => (n, "HVROUTER_NETWORK"),
        (None, Some(l)) => (l, "LINK"),
        (None, None) => {
            return Err(EnvError::invalid(
                "LINK",
                "",
                "a routed NIC needs LINK (its hvrouter network) unless HVROUTER_NETWORK is set",
            ))
        }
    };
    validate_network_name(network).map_err(|why| EnvError::invalid(var, network, why))?;
    let tagged = tag_prefixes(&nic.tags, network)?;
    if let (Some(p), None) = (tagged.v6.first(), subnet6) {
        return Err(EnvError::invalid(
            "TAGS",
            &p.to_string(),
            "an IPv6 prefix tag needs a Ganeti network with NETWORK_SUBNET6",
        ));
    }
    let ipv6 = subnet6.map(|_| GuestIpv6 {
        addrs: ip6.into_iter().collect(),
        eui64: true,
        routed_prefixes: tagged.v6,
    });
    if ip.is_some() && nic.network.gateway == ip {
        return Err(EnvError::invalid(
            "IP",
            &shown_ip,
            "it is Ganeti's NETWORK_GATEWAY: refusing to answer for the gateway",
        ));
    }
    let spec = GuestSpec {
        tap: tap.clone(),
        mac,
        ips: ip.into_iter().collect(),
        network: network.to_string(),
        routed_prefixes: tagged.v4,
        hostname: None,
        ipv6,
    };
    validate_guest(&spec).map_err(|why| EnvError::invalid("IP", &shown_ip, why))?;
    let mut warnings = Vec::new();
    // nfdhcpd gave the instance name as the host name (option 12); so does the router.
    // A name DHCP cannot carry only costs the guest its host name.
    let spec = match nic.instance.as_deref().map(|i| (i, validate_hostname(i))) {
        Some((i, Ok(()))) => GuestSpec {
            hostname: Some(i.to_string()),
            ..spec
        },
        Some((_, Err(why))) => {
            warnings.push(format!(
                "{tap}: INSTANCE: {why}: DHCP gives the guest no host name"
            ));
            spec
        }
        None => spec,
    };
    if let (Some(subnet), Some(ip)) = (nic.network.subnet, ip) {
        if !subnet.contains(&ip) {
            warnings.push(format!(
                "{tap}: {ip} is not inside Ganeti's NETWORK_SUBNET {subnet} (network {})",
                nic.network.name.as_deref().unwrap_or("?")
            ));
        }
    }
    if nic.phase == Some(MigrationPhase::Pre) {
        return Ok(UpPlan::PrepareOnly {
            tap: tap.clone(),
            reason: format!(
                "{tap}: MIGRATION_PHASE=pre: not adding {shown_ip} yet (the guest still runs on \
                 the source node, which owns the address)"
            ),
        });
    }
    Ok(UpPlan::Add {
        spec,
        ganeti6: subnet6.map(|s| (s, nic.network.gateway6)),
        warnings,
    })
}

/// The down hook's plan.
pub fn plan_down(nic: &NicEnv) -> DownPlan {
    match skip_reason(nic) {
        Some(reason) => DownPlan::Skip(reason),
        None => DownPlan::Remove {
            tap: nic.interface.clone(),
            mac: nic.mac,
        },
    }
}

/// Whether the router's `entry` for a tap is the NIC a down hook is about: same MAC, or
/// no MAC to compare. A tap name is reused by the next VM the kernel gives it to; a late
/// down hook must not remove that VM's guest.
pub fn entry_is_this_nic(entry: &GuestInfo, mac: Option<EthernetAddress>) -> bool {
    mac.is_none_or(|m| m == entry.mac)
}
