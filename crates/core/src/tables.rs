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

/// Why a network could not be added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkConflict {
    /// The spec itself is invalid.
    #[error("{0}")]
    Invalid(NetworkError),
    /// Another network has this name.
    #[error("a network with this name already exists ({0})")]
    NameTaken(NetworkId),
    /// The uplink port is already in use.
    #[error("uplink {port} is already {user}")]
    UplinkInUse {
        /// The port.
        port: PortId,
        /// Who uses it, e.g. "the port of guest tap3".
        user: String,
    },
    /// All network ids are in use.
    #[error("too many networks")]
    TooMany,
}

/// Why a guest could not be added or replaced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuestConflict {
    /// Empty name or one with whitespace or control characters.
    #[error("invalid guest name: it must be non-empty, without spaces or control characters")]
    InvalidName,
    /// A guest with this name exists with different data.
    #[error("a guest with this name already exists with a different {differs}; remove or replace it first")]
    Exists {
        /// The fields that differ, e.g. "port, ips".
        differs: String,
    },
    /// `replace_guest` for a name that does not exist.
    #[error("no such guest")]
    UnknownGuest,
    /// The guest's network does not exist.
    #[error("network {0} does not exist")]
    UnknownNetwork(NetworkId),
    /// The guest has no addresses.
    #[error("no IP addresses given")]
    NoIps,
    /// The guest's MAC is multicast, broadcast or zero.
    #[error("{0} is not a unicast MAC address")]
    MacNotUnicast(EthernetAddress),
    /// The port is used by another guest or an uplink.
    #[error("{port} is already {user}")]
    PortInUse {
        /// The port.
        port: PortId,
        /// Who uses it, e.g. "the uplink of network public_90".
        user: String,
    },
    /// An address that cannot belong to a host (0.0.0.0, loopback, multicast, ...).
    #[error("{0} is not a unicast host address")]
    IpNotUnicast(Ipv4Addr),
    /// Another guest of the network owns the address.
    #[error("{ip} is already used by guest {other} in network {network}")]
    IpOwned {
        /// The address.
        ip: Ipv4Addr,
        /// The other guest's name.
        other: String,
        /// The network's name.
        network: String,
    },
    /// The address is outside the subnet and outside the guest's extra prefixes.
    #[error("{ip} is not inside network {network} ({subnet})")]
    IpOutsideSubnet {
        /// The address.
        ip: Ipv4Addr,
        /// The network's name.
        network: String,
        /// The network's subnet.
        subnet: Ipv4Net,
    },
    /// The address is the network's gateway.
    #[error("{ip} is the gateway of network {network}")]
    IpIsGateway {
        /// The address.
        ip: Ipv4Addr,
        /// The network's name.
        network: String,
    },
    /// The address is the subnet's network address.
    #[error("{ip} is the network address of {subnet}")]
    IpIsNetworkAddr {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Net,
    },
    /// The address is the subnet's broadcast address.
    #[error("{ip} is the broadcast address of {subnet}")]
    IpIsBroadcast {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Net,
    },
    /// The address is the network's ARP source address.
    #[error("{ip} is the ARP source address of network {network}")]
    IpIsArpSource {
        /// The address.
        ip: Ipv4Addr,
        /// The network's name.
        network: String,
    },
    /// An extra prefix was given with host bits set.
    #[error("extra prefix {given} has host bits set (did you mean {normalized}?)")]
    PrefixHostBits {
        /// As given.
        given: Ipv4Net,
        /// With host bits cleared.
        normalized: Ipv4Net,
    },
    /// An extra prefix overlaps 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3 (RFC 1122 3.2.1.3,
    /// RFC 5771, RFC 1112 4).
    #[error("extra prefix {0} overlaps non-unicast address space (0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3)")]
    PrefixNotUnicast(Ipv4Net),
    /// An extra prefix contains the network's gateway.
    #[error("extra prefix {prefix} contains the gateway {gateway} of network {network}")]
    PrefixContainsGateway {
        /// The prefix.
        prefix: Ipv4Net,
        /// The gateway.
        gateway: Ipv4Addr,
        /// The network's name.
        network: String,
    },
    /// An extra prefix overlaps the network's on-link subnet.
    #[error("extra prefix {prefix} overlaps the on-link subnet {subnet} of network {network}")]
    PrefixOverlapsSubnet {
        /// The prefix.
        prefix: Ipv4Net,
        /// The subnet.
        subnet: Ipv4Net,
        /// The network's name.
        network: String,
    },
    /// An extra prefix overlaps another guest's extra prefix.
    #[error("extra prefix {prefix} overlaps {other_prefix} of guest {other}")]
    PrefixOverlapsGuest {
        /// The prefix.
        prefix: Ipv4Net,
        /// The other guest's prefix.
        other_prefix: Ipv4Net,
        /// The other guest's name.
        other: String,
    },
    /// A route that is not the guest's already exists for one of its prefixes.
    #[error("a route already exists for {}: {route}; delete it first", route.prefix)]
    RouteExists {
        /// The existing route.
        route: Route,
    },
    /// All guest ids are in use.
    #[error("too many guests")]
    TooMany,
}

/// A failed [`Tables`] operation: which one, on what, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TablesError {
    /// [`Tables::add_network`] failed.
    #[error("network {name}: {reason}")]
    AddNetwork {
        /// The network's name as given.
        name: String,
        /// Why.
        reason: NetworkConflict,
    },
    /// [`Tables::add_guest`] failed.
    #[error("guest {name}: {reason}")]
    AddGuest {
        /// The guest's name as given.
        name: String,
        /// Why.
        reason: GuestConflict,
    },
    /// [`Tables::replace_guest`] failed.
    #[error("replacing guest {name}: {reason}")]
    ReplaceGuest {
        /// The guest's name as given.
        name: String,
        /// Why.
        reason: GuestConflict,
    },
    /// [`Tables::remove_guest`] found no such guest.
    #[error("cannot remove guest {guest}: no such guest")]
    RemoveGuest {
        /// The id or name as given.
        guest: String,
    },
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

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Address space that is never unicast host space: "this network" (RFC 1122 3.2.1.3),
/// loopback (RFC 1122 3.2.1.3), multicast and reserved class E (RFC 1112 4, RFC 5771).
const NON_UNICAST: [Ipv4Net; 3] = [
    Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 3),
];

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

    /// Every check of a new guest (or of the new data of guest `replacing`), without
    /// changing anything. Conflicts with `replacing` itself are ignored.
    fn check_guest(
        &self,
        spec: &GuestSpec,
        replacing: Option<GuestId>,
    ) -> Result<(), GuestConflict> {
        let is_other = |id: GuestId| Some(id) != replacing;
        if !valid_name(&spec.name) {
            return Err(GuestConflict::InvalidName);
        }
        let Some(net) = self.network(spec.network) else {
            return Err(GuestConflict::UnknownNetwork(spec.network));
        };
        if !spec.mac.is_unicast() {
            return Err(GuestConflict::MacNotUnicast(spec.mac));
        }
        if spec.ips.is_empty() {
            return Err(GuestConflict::NoIps);
        }
        match self.port_role(spec.port) {
            Some(PortRole::Guest(g)) if !is_other(g) => {}
            Some(role) => {
                return Err(GuestConflict::PortInUse {
                    port: spec.port,
                    user: self.describe_role(role),
                })
            }
            None => {}
        }
        for &prefix in &spec.extra_prefixes {
            self.check_extra_prefix(net, prefix, &is_other)?;
        }
        for &ip in &spec.ips {
            self.check_ip(net, spec, ip, &is_other)?;
        }
        // Exact-prefix collisions with routes that are not this guest's (e.g. static).
        if let Some(table) = self.routes(spec.network) {
            for r in guest_routes(GuestId(u32::MAX), spec) {
                if let Some(existing) = table.get(r.prefix) {
                    let ours = matches!(existing.next_hop, NextHop::Guest(g) if !is_other(g))
                        && matches!(
                            existing.origin,
                            RouteOrigin::Guest | RouteOrigin::GuestPrefix
                        );
                    if !ours {
                        return Err(GuestConflict::RouteExists { route: existing });
                    }
                }
            }
        }
        Ok(())
    }

    fn check_extra_prefix(
        &self,
        net: &Network,
        prefix: Ipv4Net,
        is_other: &dyn Fn(GuestId) -> bool,
    ) -> Result<(), GuestConflict> {
        if prefix.trunc() != prefix {
            return Err(GuestConflict::PrefixHostBits {
                given: prefix,
                normalized: prefix.trunc(),
            });
        }
        if NON_UNICAST.iter().any(|&s| overlaps(s, prefix)) {
            return Err(GuestConflict::PrefixNotUnicast(prefix));
        }
        if prefix.contains(&net.gateway) {
            return Err(GuestConflict::PrefixContainsGateway {
                prefix,
                gateway: net.gateway,
                network: net.name.clone(),
            });
        }
        if overlaps(prefix, net.subnet) {
            return Err(GuestConflict::PrefixOverlapsSubnet {
                prefix,
                subnet: net.subnet,
                network: net.name.clone(),
            });
        }
        for other in self.guests.iter() {
            if other.network != net.id || !is_other(other.id) {
                continue;
            }
            if let Some(&op) = other
                .extra_prefixes
                .iter()
                .find(|&&op| overlaps(op, prefix))
            {
                return Err(GuestConflict::PrefixOverlapsGuest {
                    prefix,
                    other_prefix: op,
                    other: other.name.clone(),
                });
            }
        }
        Ok(())
    }

    fn check_ip(
        &self,
        net: &Network,
        spec: &GuestSpec,
        ip: Ipv4Addr,
        is_other: &dyn Fn(GuestId) -> bool,
    ) -> Result<(), GuestConflict> {
        if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || ip.is_broadcast() {
            return Err(GuestConflict::IpNotUnicast(ip));
        }
        if ip == net.gateway {
            return Err(GuestConflict::IpIsGateway {
                ip,
                network: net.name.clone(),
            });
        }
        if net.is_network_addr(ip) {
            return Err(GuestConflict::IpIsNetworkAddr {
                ip,
                subnet: net.subnet,
            });
        }
        if net.is_subnet_broadcast(ip) {
            return Err(GuestConflict::IpIsBroadcast {
                ip,
                subnet: net.subnet,
            });
        }
        if net.arp_source == Some(ip) {
            return Err(GuestConflict::IpIsArpSource {
                ip,
                network: net.name.clone(),
            });
        }
        if !net.contains(ip) && !spec.extra_prefixes.iter().any(|p| p.contains(&ip)) {
            return Err(GuestConflict::IpOutsideSubnet {
                ip,
                network: net.name.clone(),
                subnet: net.subnet,
            });
        }
        if let Some(owner) = self.guests.owner_of(net.id, ip) {
            if is_other(owner.id) {
                return Err(GuestConflict::IpOwned {
                    ip,
                    other: owner.name.clone(),
                    network: net.name.clone(),
                });
            }
        }
        Ok(())
    }
}
