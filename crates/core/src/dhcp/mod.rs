//! A DHCPv4 server for guests (RFC 2131, RFC 2132), as GRNET's nfdhcpd gives routed
//! Ganeti guests: each guest is offered exactly its own address, with the network's
//! mask, gateway, MTU, DNS servers, domain and search list, and its host name.
//!
//! It runs on guest ports only, as a stage of the guest ingress
//! (`router::ip_forward::from_guest_in`): UDP to port 67 from a guest is answered here
//! when DHCP is on for the guest's network ([`DhcpSettings::enabled`]); DHCP arriving on
//! an uplink never reaches it (the uplink's XDP program does not steer it, and the
//! uplink stage drops it as before). With DHCP off the frame takes the path it always
//! took (dropped as martian, or forwarded if it is unicast to a real server).
//!
//! What differs from nfdhcpd, and why:
//! - Server identifier: the gateway's address (nfdhcpd's `dhcp_server_on_link` mode),
//!   not its default dummy 1.2.3.4: renewals are then unicast to an on-link address the
//!   router already answers ARP for.
//! - A DHCPREQUEST that selected another server is ignored (RFC 2131 4.3.2), where
//!   nfdhcpd would ACK or NAK it; DECLINE is recorded and counted (nfdhcpd fails on it).
//! - Replies go to the destination RFC 2131 4.1 gives (broadcast flag, `ciaddr`), where
//!   nfdhcpd always unicasts to the binding's address.
//! - Rebinding time (option 59, 7/8 of the lease) is sent too.
//!
//! Files: [`settings`] (per-network options, validated), [`state`] (per guest: rate
//! limiter, lease, last request), `server` (decisions), `reply` (frames).

mod reply;
mod server;
pub mod settings;
pub mod state;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use settings::{check_hostname, DhcpConfig, DhcpSettings, HostnameError, SettingsError};
pub use state::{DhcpCounters, GuestDhcp, LastRequest, Lease, Outcome, RequestState};

pub(crate) use server::{from_guest, is_dhcp};

use crate::guests::Guest;
use crate::ids::{GuestId, NetworkId, PortId};
use crate::tables::{PortRole, Tables};
use crate::time::Instant;

/// The server's state: settings resolved per network, host names per guest, and each
/// guest's record. Owned by the router (one per worker), changed between bursts.
#[derive(Clone, Debug, Default)]
pub struct DhcpServer {
    config: DhcpConfig,
    /// `config` resolved per network id.
    by_network: Vec<DhcpSettings>,
    /// Option 12 per guest name (the tap's name).
    hostnames: HashMap<String, String>,
    guests: HashMap<GuestId, GuestDhcp>,
    counters: DhcpCounters,
    /// DHCPDECLINEs not yet taken by the control side (guest name, address), at most
    /// [`MAX_PENDING_DECLINES`]: RFC 2131 4.3.3 "SHOULD notify the local system
    /// administrator".
    declines: Vec<(String, wire::Ipv4Addr)>,
}

/// DHCPDECLINEs kept for the log between two control ticks (more are only counted).
pub const MAX_PENDING_DECLINES: usize = 16;

impl DhcpServer {
    /// A server with these settings and no networks yet.
    pub fn new(config: DhcpConfig) -> DhcpServer {
        DhcpServer {
            config,
            ..DhcpServer::default()
        }
    }

    /// Replace the settings (a reload), for the networks in `tables`. Leases and records
    /// stay: a guest renewing after a reload gets the new options.
    pub fn set_config(&mut self, config: DhcpConfig, tables: &Tables) {
        self.config = config;
        self.by_network.clear();
        for n in tables.networks() {
            self.network_added(n.id, &n.name);
        }
    }

    /// The settings in force, by network name.
    pub fn config(&self) -> &DhcpConfig {
        &self.config
    }

    /// A network was added: resolve its settings.
    pub(crate) fn network_added(&mut self, id: NetworkId, name: &str) {
        let idx = usize::from(id.0);
        if self.by_network.len() <= idx {
            self.by_network
                .resize_with(idx + 1, || self.config.default.clone());
        }
        self.by_network[idx] = self.config.for_network(name).clone();
    }

    /// The settings of a network.
    pub fn settings(&self, id: NetworkId) -> &DhcpSettings {
        self.by_network
            .get(usize::from(id.0))
            .unwrap_or(&self.config.default)
    }

    /// Set (or with `None` clear) the host name sent to guest `name`. A name that
    /// [`check_hostname`] refuses is not stored, and the error is returned.
    pub fn set_hostname(
        &mut self,
        guest: &str,
        hostname: Option<&str>,
    ) -> Result<(), HostnameError> {
        match hostname {
            Some(h) => {
                check_hostname(h)?;
                if self.hostnames.get(guest).map(String::as_str) != Some(h) {
                    self.hostnames.insert(guest.to_string(), h.to_string());
                }
            }
            None => {
                self.hostnames.remove(guest);
            }
        }
        Ok(())
    }

    /// The host name sent to guest `name`.
    pub fn hostname(&self, guest: &str) -> Option<&str> {
        self.hostnames.get(guest).map(String::as_str)
    }

    /// A guest was removed: forget its host name and record.
    pub(crate) fn forget_guest(&mut self, guest: &Guest) {
        self.hostnames.remove(&guest.name);
        self.guests.remove(&guest.id);
    }

    /// A guest's record, if it has sent anything.
    pub fn guest(&self, id: GuestId) -> Option<&GuestDhcp> {
        self.guests.get(&id)
    }

    /// Messages received and sent, all guests together.
    pub fn counters(&self) -> DhcpCounters {
        self.counters
    }

    /// Take the DHCPDECLINEs received since the last call, for the log (empty, and
    /// nothing allocated, when there are none).
    pub fn take_declines(&mut self) -> Vec<(String, wire::Ipv4Addr)> {
        std::mem::take(&mut self.declines)
    }
}

/// The trace line for a frame the DHCP stage saw at `now` (`hvrouter trace`): what the
/// server did with it, or that DHCP is off on the guest's network. `None` for other
/// frames.
pub(crate) fn trace_step(
    tables: &Tables,
    server: &DhcpServer,
    port: PortId,
    frame: &[u8],
    now: Instant,
) -> Option<String> {
    let Some(PortRole::Guest(gid)) = tables.port_role(port) else {
        return None;
    };
    if !is_dhcp(frame) {
        return None;
    }
    let guest = tables.guests().by_id(gid)?;
    if !server.settings(guest.network).enabled {
        let name = tables
            .network(guest.network)
            .map_or("?", |n| n.name.as_str());
        return Some(format!(
            "dhcp: off on network {name} (dhcp = false): left to forwarding"
        ));
    }
    let last = server.guest(gid)?.last.filter(|l| l.at == now)?;
    let what = last
        .message
        .map_or("unparsed message".to_string(), |m| m.to_string());
    Some(format!(
        "dhcp: {what} xid {:#010x}: {}",
        last.xid, last.outcome
    ))
}
