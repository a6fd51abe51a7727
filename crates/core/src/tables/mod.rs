//! The router's whole control-side state: networks, their route tables, the guest
//! registry and the port map, kept consistent with each other.
//!
//! Every mutation validates first and changes nothing when it fails. Guests are added
//! idempotently: adding a guest that exists with the same data succeeds and returns its id
//! (and reinstalls any of its routes that an operator deleted and left free); adding one
//! whose name exists with different data fails until it is removed or replaced with
//! [`Tables::replace_guest`].
//!
//! Decisions:
//! - Different networks may have overlapping or identical subnets: each network (VLAN) has
//!   its own route table and its own address index, so they never see each other.
//! - A port is used by at most one network (as uplink) or one guest.
//! - A guest starts up ([`Guest::up`] = true): it is added when its tap exists, and the
//!   dataplane marks it down on link events ([`Tables::set_port_up`]).

use core::fmt;
use std::collections::HashMap;

use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr};

use crate::guests::{Guest, GuestRegistry, GuestSpec};
use crate::ids::{GuestId, NetworkId, PortId};
use crate::network::{Network, NetworkError, NetworkSpec};
use crate::routes::{NextHop, Route, RouteOrigin, RouteTable};

mod checks;
mod errors;
#[cfg(test)]
mod tests;

pub use errors::{GuestConflict, NetworkConflict, TablesError};

/// What a port is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortRole {
    /// The VLAN uplink of this network.
    Uplink(NetworkId),
    /// This guest's tap.
    Guest(GuestId),
}

/// A guest named by id or by (tap) name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestRef<'a> {
    /// By id.
    Id(GuestId),
    /// By name.
    Name(&'a str),
}

impl From<GuestId> for GuestRef<'_> {
    fn from(id: GuestId) -> Self {
        GuestRef::Id(id)
    }
}

impl<'a> From<&'a str> for GuestRef<'a> {
    fn from(name: &'a str) -> Self {
        GuestRef::Name(name)
    }
}

impl<'a> From<&'a String> for GuestRef<'a> {
    fn from(name: &'a String) -> Self {
        GuestRef::Name(name)
    }
}

impl fmt::Display for GuestRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestRef::Id(id) => write!(f, "{id}"),
            GuestRef::Name(n) => f.write_str(n),
        }
    }
}

/// One network and its routes.
#[derive(Clone, Debug)]
struct NetSlot {
    network: Network,
    routes: RouteTable,
}

/// The control-side state: networks, route tables, guests and ports.
#[derive(Clone, Debug, Default)]
pub struct Tables {
    /// Indexed by `NetworkId.0`; ids are dense and never reused.
    networks: Vec<NetSlot>,
    network_names: HashMap<String, NetworkId>,
    guests: GuestRegistry,
    /// Indexed by `PortId.0`.
    ports: Vec<Option<PortRole>>,
    next_guest: u32,
}

/// The routes a guest owns: extra prefixes first, then its /32s, so that a /32 that is
/// also listed as an extra prefix keeps origin `Guest`.
fn guest_routes(id: GuestId, spec: &GuestSpec) -> Vec<Route> {
    let prefixes = spec.extra_prefixes.iter().map(|&p| Route {
        prefix: p,
        next_hop: NextHop::Guest(id),
        origin: RouteOrigin::GuestPrefix,
    });
    let hosts = spec.ips.iter().map(|&ip| Route {
        prefix: Ipv4Net::new_assert(ip, 32),
        next_hop: NextHop::Guest(id),
        origin: RouteOrigin::Guest,
    });
    prefixes.chain(hosts).collect()
}

/// The names of the fields in which two specs of the same name differ.
fn spec_differences(a: &GuestSpec, b: &GuestSpec) -> String {
    let mut d = Vec::new();
    if a.port != b.port {
        d.push("port");
    }
    if a.mac != b.mac {
        d.push("mac");
    }
    if a.ips != b.ips {
        d.push("ips");
    }
    if a.network != b.network {
        d.push("network");
    }
    if a.extra_prefixes != b.extra_prefixes {
        d.push("extra_prefixes");
    }
    d.join(", ")
}

impl Tables {
    /// Empty state: no networks, no guests.
    pub fn new() -> Self {
        Self::default()
    }

    // ----- networks -----

    /// Add a network with its base routes (default via the gateway, connected subnet).
    /// Rejects an invalid spec, a duplicate name and an uplink port already in use.
    pub fn add_network(&mut self, spec: NetworkSpec) -> Result<NetworkId, TablesError> {
        let fail = |reason| TablesError::AddNetwork {
            name: spec.name.clone(),
            reason,
        };
        spec.validate()
            .map_err(|e| fail(NetworkConflict::Invalid(e)))?;
        if let Some(&other) = self.network_names.get(&spec.name) {
            return Err(fail(NetworkConflict::NameTaken(other)));
        }
        if let Some(role) = self.port_role(spec.uplink) {
            return Err(fail(NetworkConflict::UplinkInUse {
                port: spec.uplink,
                user: self.describe_role(role),
            }));
        }
        let id = u16::try_from(self.networks.len())
            .map(NetworkId)
            .map_err(|_| fail(NetworkConflict::TooMany))?;
        let network = spec
            .clone()
            .into_network(id)
            .map_err(|e| fail(NetworkConflict::Invalid(e)))?;
        let routes = RouteTable::for_network(&network);
        self.network_names.insert(network.name.clone(), id);
        self.set_port(network.uplink, Some(PortRole::Uplink(id)));
        self.networks.push(NetSlot { network, routes });
        Ok(id)
    }

    /// The network with this id.
    #[inline]
    pub fn network(&self, id: NetworkId) -> Option<&Network> {
        self.networks.get(usize::from(id.0)).map(|s| &s.network)
    }

    /// The network with this name.
    pub fn network_by_name(&self, name: &str) -> Option<&Network> {
        self.network_names
            .get(name)
            .and_then(|&id| self.network(id))
    }

    /// All networks, in id order.
    pub fn networks(&self) -> impl Iterator<Item = &Network> + '_ {
        self.networks.iter().map(|s| &s.network)
    }

    /// The route table of a network.
    #[inline]
    pub fn routes(&self, id: NetworkId) -> Option<&RouteTable> {
        self.networks.get(usize::from(id.0)).map(|s| &s.routes)
    }

    /// A network and its route table, in one lookup (the forwarding stages need both).
    #[inline(always)]
    pub fn network_and_routes(&self, id: NetworkId) -> Option<(&Network, &RouteTable)> {
        self.networks
            .get(usize::from(id.0))
            .map(|s| (&s.network, &s.routes))
    }

    /// The route table of a network, for operators (static routes, deletions) and tests.
    pub fn routes_mut(&mut self, id: NetworkId) -> Option<&mut RouteTable> {
        self.networks
            .get_mut(usize::from(id.0))
            .map(|s| &mut s.routes)
    }

    /// Longest-prefix match in a network's table. `None` (unknown network or no route)
    /// means drop: there is no fall-through to another table.
    #[inline]
    pub fn lookup_route(&self, network: NetworkId, dst: Ipv4Addr) -> Option<Route> {
        self.routes(network).and_then(|t| t.lookup(dst))
    }

    /// The next hop of the longest-prefix match in a network's table, as
    /// [`Tables::lookup_route`] without building the route. (The forwarding stages take
    /// the network and its table together with [`Tables::network_and_routes`] and call
    /// [`RouteTable::next_hop`].)
    #[inline(always)]
    pub fn next_hop(&self, network: NetworkId, dst: Ipv4Addr) -> Option<NextHop> {
        self.routes(network).and_then(|t| t.next_hop(dst))
    }

    // ----- ports -----

    /// What a port is for.
    #[inline]
    pub fn port_role(&self, port: PortId) -> Option<PortRole> {
        self.ports.get(port.index()).copied().flatten()
    }

    /// The guest attached to a port.
    #[inline]
    pub fn guest_by_port(&self, port: PortId) -> Option<&Guest> {
        match self.port_role(port)? {
            PortRole::Guest(id) => self.guests.by_id(id),
            PortRole::Uplink(_) => None,
        }
    }

    /// Mark a guest port up or down. Returns whether something changed (false for a port
    /// that is not a guest's, or when the state is already `up`).
    pub fn set_port_up(&mut self, port: PortId, up: bool) -> bool {
        match self.port_role(port) {
            Some(PortRole::Guest(id)) => self.guests.set_up(id, up),
            _ => false,
        }
    }

    /// Set the MAC of a network's uplink (the device's own, read when it is attached:
    /// a VLAN device created after the router started, or recreated, may have another
    /// one). Returns whether it changed; a MAC that is not unicast is refused.
    pub fn set_uplink_mac(
        &mut self,
        id: NetworkId,
        mac: EthernetAddress,
    ) -> Result<bool, NetworkError> {
        if !mac.is_unicast() {
            return Err(NetworkError::MacNotUnicast {
                which: "uplink_mac",
                mac,
            });
        }
        let Some(slot) = self.networks.get_mut(usize::from(id.0)) else {
            return Ok(false);
        };
        let changed = slot.network.uplink_mac != mac;
        slot.network.uplink_mac = mac;
        Ok(changed)
    }

    fn set_port(&mut self, port: PortId, role: Option<PortRole>) {
        let i = port.index();
        if self.ports.len() <= i {
            self.ports.resize(i + 1, None);
        }
        self.ports[i] = role;
    }

    fn describe_role(&self, role: PortRole) -> String {
        match role {
            PortRole::Uplink(n) => match self.network(n) {
                Some(net) => format!("the uplink of network {}", net.name),
                None => format!("the uplink of network {n}"),
            },
            PortRole::Guest(g) => match self.guests.by_id(g) {
                Some(guest) => format!("used by guest {}", guest.name),
                None => format!("used by guest {g}"),
            },
        }
    }

    // ----- guests -----

    /// The guest registry (read-only; mutate through `Tables`).
    #[inline]
    pub fn guests(&self) -> &GuestRegistry {
        &self.guests
    }

    /// A guest by id or name.
    pub fn guest<'a>(&self, guest: impl Into<GuestRef<'a>>) -> Option<&Guest> {
        match guest.into() {
            GuestRef::Id(id) => self.guests.by_id(id),
            GuestRef::Name(name) => self.guests.by_name(name),
        }
    }

    /// The guest of `network` that owns exactly `ip`, if it is up. This is the proxy-ARP
    /// question: "is this address hosted here right now?".
    #[inline]
    pub fn is_hosted_guest_ip(&self, network: NetworkId, ip: Ipv4Addr) -> Option<&Guest> {
        self.guests.owner_of(network, ip).filter(|g| g.up)
    }

    /// Add a guest and its routes (its /32s with origin `Guest`, its extra prefixes with
    /// origin `GuestPrefix`). Idempotent: an existing guest with the same name and the same
    /// (normalised) data returns its id, after reinstalling any of its routes whose prefix
    /// has no route at all. The guest starts up. On error nothing changes.
    pub fn add_guest(&mut self, spec: GuestSpec) -> Result<GuestId, TablesError> {
        let spec = spec.normalized();
        let fail = |reason| TablesError::AddGuest {
            name: spec.name.clone(),
            reason,
        };
        if let Some(existing) = self.guests.by_name(&spec.name) {
            let existing_spec = existing.spec();
            if existing_spec != spec {
                return Err(fail(GuestConflict::Exists {
                    differs: spec_differences(&existing_spec, &spec),
                }));
            }
            let id = existing.id;
            self.reinstall_routes(id, &spec);
            return Ok(id);
        }
        self.check_guest(&spec, None).map_err(fail)?;
        let id = self.alloc_guest_id().map_err(fail)?;
        self.install_guest(id, spec);
        Ok(id)
    }

    /// Replace an existing guest (same name) with new data, keeping its id. The new data
    /// is validated as if the old guest were gone; on error nothing changes. The guest's
    /// old routes are removed, the new ones installed, and it starts up.
    pub fn replace_guest(&mut self, spec: GuestSpec) -> Result<GuestId, TablesError> {
        let spec = spec.normalized();
        let fail = |reason| TablesError::ReplaceGuest {
            name: spec.name.clone(),
            reason,
        };
        let Some(old) = self.guests.by_name(&spec.name) else {
            return Err(fail(GuestConflict::UnknownGuest));
        };
        let id = old.id;
        if old.spec() == spec {
            self.reinstall_routes(id, &spec);
            return Ok(id);
        }
        self.check_guest(&spec, Some(id)).map_err(fail)?;
        self.uninstall_guest(id);
        self.install_guest(id, spec);
        Ok(id)
    }

    /// Remove a guest, its index entries, its port mapping and those of its routes that
    /// still point at it. Returns the removed guest.
    pub fn remove_guest<'a>(
        &mut self,
        guest: impl Into<GuestRef<'a>>,
    ) -> Result<Guest, TablesError> {
        let guest = guest.into();
        let id = self.guest(guest).map(|g| g.id);
        id.and_then(|id| self.uninstall_guest(id))
            .ok_or_else(|| TablesError::RemoveGuest {
                guest: guest.to_string(),
            })
    }

    fn alloc_guest_id(&mut self) -> Result<GuestId, GuestConflict> {
        let id = GuestId(self.next_guest);
        self.next_guest = self
            .next_guest
            .checked_add(1)
            .ok_or(GuestConflict::TooMany)?;
        Ok(id)
    }

    /// Insert a validated guest: registry, port map, routes.
    fn install_guest(&mut self, id: GuestId, spec: GuestSpec) {
        let routes = guest_routes(id, &spec);
        if let Some(table) = self.routes_mut(spec.network) {
            for r in routes {
                table.add(r);
            }
        }
        self.set_port(spec.port, Some(PortRole::Guest(id)));
        self.guests.insert(Guest {
            id,
            name: spec.name,
            port: spec.port,
            mac: spec.mac,
            ips: spec.ips,
            network: spec.network,
            extra_prefixes: spec.extra_prefixes,
            up: true,
        });
    }

    /// Remove a guest: registry, port map (if still its), routes (if still its).
    fn uninstall_guest(&mut self, id: GuestId) -> Option<Guest> {
        let guest = self.guests.remove(id)?;
        if self.port_role(guest.port) == Some(PortRole::Guest(id)) {
            self.set_port(guest.port, None);
        }
        if let Some(table) = self.routes_mut(guest.network) {
            for r in guest_routes(id, &guest.spec()) {
                if table.get(r.prefix).map(|e| e.next_hop) == Some(NextHop::Guest(id)) {
                    table.remove(r.prefix);
                }
            }
        }
        Some(guest)
    }

    /// Put back those of a guest's routes whose prefix has no route at all.
    fn reinstall_routes(&mut self, id: GuestId, spec: &GuestSpec) {
        if let Some(table) = self.routes_mut(spec.network) {
            for r in guest_routes(id, spec) {
                if table.get(r.prefix).is_none() {
                    table.add(r);
                }
            }
        }
    }
}
