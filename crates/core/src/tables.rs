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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }
    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }
    fn mac(last: u8) -> EthernetAddress {
        EthernetAddress([0x52, 0x54, 0, 0, 0, last])
    }

    const P90: NetworkId = NetworkId(0);
    const P80: NetworkId = NetworkId(1);

    fn net_spec(name: &str, subnet: &str, gw: &str, uplink: u16) -> NetworkSpec {
        NetworkSpec {
            name: name.into(),
            subnet: net(subnet),
            gateway: ip(gw),
            uplink: PortId(uplink),
            mtu: 1500,
            uplink_mac: EthernetAddress([0x02, 0, 0, 0, 0, 1]),
            guest_mac: EthernetAddress([0x02, 0, 0, 0, 0, 2]),
            arp_source: None,
        }
    }

    /// public_90 = 192.0.2.0/24 gw .1 on port0 (arp_source .2),
    /// public_80 = 198.51.100.0/24 gw .1 on port1.
    fn tables() -> Tables {
        let mut t = Tables::new();
        let mut s = net_spec("public_90", "192.0.2.0/24", "192.0.2.1", 0);
        s.arp_source = Some(ip("192.0.2.2"));
        assert_eq!(t.add_network(s).unwrap(), P90);
        let s = net_spec("public_80", "198.51.100.0/24", "198.51.100.1", 1);
        assert_eq!(t.add_network(s).unwrap(), P80);
        t
    }

    fn gspec(name: &str, port: u16, ips: &[&str], extra: &[&str]) -> GuestSpec {
        GuestSpec {
            name: name.into(),
            port: PortId(port),
            mac: mac(port as u8),
            ips: ips.iter().map(|s| ip(s)).collect(),
            network: P90,
            extra_prefixes: extra.iter().map(|s| net(s)).collect(),
        }
    }

    /// Tables with tap3 (192.0.2.10, 192.0.2.11, extra 203.0.113.8/29) and tap4
    /// (192.0.2.20).
    fn populated() -> Tables {
        let mut t = tables();
        let a = gspec(
            "tap3",
            3,
            &["192.0.2.10", "192.0.2.11"],
            &["203.0.113.8/29"],
        );
        assert_eq!(t.add_guest(a).unwrap(), GuestId(0));
        assert_eq!(
            t.add_guest(gspec("tap4", 4, &["192.0.2.20"], &[])).unwrap(),
            GuestId(1)
        );
        t
    }

    /// A canonical description of everything observable.
    fn snapshot(t: &Tables) -> String {
        let mut s = String::new();
        for n in t.networks() {
            s += &format!("{n:?}\n");
            for r in t.routes(n.id).unwrap().iter() {
                s += &format!("  {r:?}\n");
            }
        }
        for g in t.guests().iter() {
            s += &format!("{g:?}\n");
        }
        for p in 0..32 {
            s += &format!("{:?} ", t.port_role(PortId(p)));
        }
        for n in ["public_90", "public_80", "x"] {
            s += &format!("{:?} ", t.network_by_name(n).map(|n| n.id));
        }
        s + &format!("next={}", t.next_guest)
    }

    fn route(t: &Tables, dst: &str) -> Route {
        t.lookup_route(P90, ip(dst)).unwrap()
    }

    #[test]
    fn network_gets_base_routes() {
        let t = tables();
        assert_eq!(t.network(P90).unwrap().name, "public_90");
        assert_eq!(t.network_by_name("public_80").unwrap().id, P80);
        assert!(t.network(NetworkId(2)).is_none());
        assert_eq!(t.routes(P90).unwrap().len(), 2);
        let r = route(&t, "198.51.100.7");
        assert_eq!(
            (r.next_hop, r.origin),
            (NextHop::Gateway(ip("192.0.2.1")), RouteOrigin::Default)
        );
        let r = route(&t, "192.0.2.77");
        assert_eq!(
            (r.prefix, r.next_hop),
            (net("192.0.2.0/24"), NextHop::Connected)
        );
        assert_eq!(r.origin, RouteOrigin::Connected);
        // public_80 has its own table.
        let r = t.lookup_route(P80, ip("198.51.100.7")).unwrap();
        assert_eq!(r.next_hop, NextHop::Connected);
        assert_eq!(t.lookup_route(NetworkId(9), ip("192.0.2.77")), None);
        assert_eq!(t.port_role(PortId(0)), Some(PortRole::Uplink(P90)));
        assert_eq!(t.port_role(PortId(1)), Some(PortRole::Uplink(P80)));
        assert_eq!(t.port_role(PortId(2)), None);
        assert_eq!(t.port_role(PortId(60000)), None);
        assert!(t.guest_by_port(PortId(0)).is_none());
    }

    #[test]
    fn add_network_rejections_change_nothing() {
        let mut t = populated();
        let before = snapshot(&t);
        let cases: Vec<(NetworkSpec, &str)> = vec![
            (
                net_spec("public_90", "203.0.113.0/24", "203.0.113.1", 9),
                "network public_90: a network with this name already exists (net0)",
            ),
            (
                net_spec("public_70", "203.0.113.0/24", "203.0.113.1", 0),
                "network public_70: uplink port0 is already the uplink of network public_90",
            ),
            (
                net_spec("public_70", "203.0.113.0/24", "203.0.113.1", 3),
                "network public_70: uplink port3 is already used by guest tap3",
            ),
            (
                net_spec("public_70", "203.0.113.0/24", "198.51.100.1", 9),
                "network public_70: gateway 198.51.100.1 is not inside subnet 203.0.113.0/24",
            ),
        ];
        for (spec, msg) in cases {
            let e = t.add_network(spec).unwrap_err();
            assert_eq!(e.to_string(), msg);
            assert!(matches!(e, TablesError::AddNetwork { .. }));
            assert_eq!(snapshot(&t), before);
        }
    }

    #[test]
    fn overlapping_subnets_of_different_networks_are_separate() {
        let mut t = tables();
        let id = t
            .add_network(net_spec("public_91", "192.0.2.0/24", "192.0.2.1", 5))
            .unwrap();
        let mut a = gspec("tap3", 3, &["192.0.2.10"], &[]);
        t.add_guest(a.clone()).unwrap();
        a.name = "tap6".into();
        a.port = PortId(6);
        a.network = id;
        let g6 = t.add_guest(a).unwrap();
        assert_eq!(t.is_hosted_guest_ip(id, ip("192.0.2.10")).unwrap().id, g6);
        assert_eq!(
            t.is_hosted_guest_ip(P90, ip("192.0.2.10")).unwrap().name,
            "tap3"
        );
        assert_eq!(
            t.lookup_route(id, ip("192.0.2.10")).unwrap().next_hop,
            NextHop::Guest(g6)
        );
    }

    #[test]
    fn add_guest_installs_routes_and_maps() {
        let t = populated();
        let g = t.guest("tap3").unwrap();
        assert_eq!(g.id, GuestId(0));
        assert!(g.up, "guests start up");
        assert_eq!(t.guest(GuestId(0)).unwrap().name, "tap3");
        assert_eq!(t.guest_by_port(PortId(3)).unwrap().name, "tap3");
        assert_eq!(t.port_role(PortId(3)), Some(PortRole::Guest(GuestId(0))));
        assert_eq!(t.guests().len(), 2);
        assert_eq!(t.routes(P90).unwrap().len(), 2 + 3 + 1);
        let r = route(&t, "192.0.2.11");
        assert_eq!(r.prefix, net("192.0.2.11/32"));
        assert_eq!(
            (r.next_hop, r.origin),
            (NextHop::Guest(GuestId(0)), RouteOrigin::Guest)
        );
        let r = route(&t, "192.0.2.20");
        assert_eq!(r.next_hop, NextHop::Guest(GuestId(1)));
        let r = route(&t, "203.0.113.14");
        assert_eq!(r.prefix, net("203.0.113.8/29"));
        assert_eq!(
            (r.next_hop, r.origin),
            (NextHop::Guest(GuestId(0)), RouteOrigin::GuestPrefix)
        );
        assert_eq!(route(&t, "203.0.113.16").origin, RouteOrigin::Default);
        assert_eq!(route(&t, "192.0.2.12").origin, RouteOrigin::Connected);
        assert_eq!(
            t.is_hosted_guest_ip(P90, ip("192.0.2.10")).unwrap().name,
            "tap3"
        );
        // Extra prefixes are routed, not hosted: proxy ARP must not answer for them.
        assert!(t.is_hosted_guest_ip(P90, ip("203.0.113.9")).is_none());
        assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.12")).is_none());
        assert!(t.is_hosted_guest_ip(P80, ip("192.0.2.10")).is_none());
    }

    #[test]
    fn add_guest_is_idempotent() {
        let mut t = populated();
        let before = snapshot(&t);
        // Same data, different order and duplicates: same id, nothing changes.
        let same = gspec(
            "tap3",
            3,
            &["192.0.2.11", "192.0.2.10", "192.0.2.11"],
            &["203.0.113.8/29"],
        );
        assert_eq!(t.add_guest(same.clone()).unwrap(), GuestId(0));
        assert_eq!(snapshot(&t), before);
        // The up/down state is the dataplane's: a re-add does not reset it.
        assert!(t.set_port_up(PortId(3), false));
        assert_eq!(t.add_guest(same).unwrap(), GuestId(0));
        assert!(!t.guest("tap3").unwrap().up);
        assert!(t.set_port_up(PortId(3), true));
        // Different data under an existing name: error, nothing changes.
        let mut diff = gspec("tap3", 5, &["192.0.2.12"], &["203.0.113.8/29"]);
        let e = t.add_guest(diff.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "guest tap3: a guest with this name already exists with a different port, mac, ips; \
             remove or replace it first"
        );
        assert_eq!(snapshot(&t), before);
        diff.port = PortId(3);
        diff.mac = mac(3);
        diff.ips = vec![ip("192.0.2.10"), ip("192.0.2.11")];
        diff.extra_prefixes.clear();
        assert!(matches!(
            t.add_guest(diff).unwrap_err(),
            TablesError::AddGuest { reason: GuestConflict::Exists { ref differs }, .. } if differs == "extra_prefixes"
        ));
        assert_eq!(snapshot(&t), before);
    }

    #[test]
    fn readd_reinstalls_deleted_guest_routes() {
        let mut t = populated();
        let before = snapshot(&t);
        let routes = t.routes_mut(P90).unwrap();
        routes.remove(net("192.0.2.10/32")).unwrap();
        routes.remove(net("203.0.113.8/29")).unwrap();
        assert_eq!(route(&t, "192.0.2.10").origin, RouteOrigin::Connected);
        let spec = gspec(
            "tap3",
            3,
            &["192.0.2.10", "192.0.2.11"],
            &["203.0.113.8/29"],
        );
        assert_eq!(t.add_guest(spec).unwrap(), GuestId(0));
        assert_eq!(snapshot(&t), before);
    }

    /// Every rejection: the error, its message, and that nothing changed.
    #[test]
    fn add_guest_rejections_change_nothing() {
        let mut t = populated();
        t.routes_mut(P90).unwrap().add(Route {
            prefix: net("192.0.2.99/32"),
            next_hop: NextHop::Gateway(ip("192.0.2.254")),
            origin: RouteOrigin::Static,
        });
        let before = snapshot(&t);
        let g = |ips: &[&str], extra: &[&str]| gspec("tap5", 5, ips, extra);
        let mut cases: Vec<(GuestSpec, &str)> = vec![
            (g(&["203.0.113.9"], &[]), "203.0.113.9 is not inside network public_90 (192.0.2.0/24)"),
            (g(&[], &[]), "no IP addresses given"),
            (
                g(&["192.0.2.30", "192.0.2.11"], &[]),
                "192.0.2.11 is already used by guest tap3 in network public_90",
            ),
            // Inside another guest's extra prefix is still outside this guest's.
            (g(&["203.0.113.9"], &["203.0.113.32/29"]), "203.0.113.9 is not inside network public_90 (192.0.2.0/24)"),
            (g(&["192.0.2.1"], &[]), "192.0.2.1 is the gateway of network public_90"),
            (g(&["192.0.2.0"], &[]), "192.0.2.0 is the network address of 192.0.2.0/24"),
            (g(&["192.0.2.255"], &[]), "192.0.2.255 is the broadcast address of 192.0.2.0/24"),
            (g(&["192.0.2.2"], &[]), "192.0.2.2 is the ARP source address of network public_90"),
            (g(&["0.0.0.0"], &[]), "0.0.0.0 is not a unicast host address"),
            (g(&["255.255.255.255"], &[]), "255.255.255.255 is not a unicast host address"),
            (
                g(&["192.0.2.30"], &["203.0.113.12/30"]),
                "extra prefix 203.0.113.12/30 overlaps 203.0.113.8/29 of guest tap3",
            ),
            (
                g(&["192.0.2.30"], &["203.0.113.0/24"]),
                "extra prefix 203.0.113.0/24 overlaps 203.0.113.8/29 of guest tap3",
            ),
            (
                g(&["192.0.2.30"], &["192.0.0.0/16"]),
                "extra prefix 192.0.0.0/16 contains the gateway 192.0.2.1 of network public_90",
            ),
            (
                g(&["192.0.2.30"], &["192.0.2.128/28"]),
                "extra prefix 192.0.2.128/28 overlaps the on-link subnet 192.0.2.0/24 of network public_90",
            ),
            (
                g(&["192.0.2.30"], &["203.0.113.33/29"]),
                "extra prefix 203.0.113.33/29 has host bits set (did you mean 203.0.113.32/29?)",
            ),
            (
                g(&["192.0.2.30"], &["224.0.0.0/4"]),
                "extra prefix 224.0.0.0/4 overlaps non-unicast address space (0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3)",
            ),
            (
                g(&["192.0.2.99"], &[]),
                "a route already exists for 192.0.2.99/32: 192.0.2.99/32 via 192.0.2.254 (static); delete it first",
            ),
        ];
        let mut s = g(&["192.0.2.30"], &[]);
        s.port = PortId(4);
        cases.push((s, "port4 is already used by guest tap4"));
        let mut s = g(&["192.0.2.30"], &[]);
        s.port = PortId(1);
        cases.push((s, "port1 is already the uplink of network public_80"));
        let mut s = g(&["192.0.2.30"], &[]);
        s.mac = EthernetAddress([0x33, 0x33, 0, 0, 0, 1]);
        cases.push((s, "33:33:00:00:00:01 is not a unicast MAC address"));
        let mut s = g(&["192.0.2.30"], &[]);
        s.network = NetworkId(7);
        cases.push((s, "network net7 does not exist"));
        let mut s = g(&["192.0.2.30"], &[]);
        s.name = "tap 5".into();
        cases.push((
            s,
            "invalid guest name: it must be non-empty, without spaces or control characters",
        ));

        for (spec, reason) in cases {
            let name = spec.name.clone();
            let e = t.add_guest(spec).unwrap_err();
            assert!(matches!(e, TablesError::AddGuest { .. }), "{e:?}");
            assert_eq!(e.to_string(), format!("guest {name}: {reason}"));
            assert_eq!(snapshot(&t), before, "state changed after: {e}");
        }
        // The same guest with valid data goes in, with the next id.
        let ok = g(&["192.0.2.30", "203.0.113.33"], &["203.0.113.32/29"]);
        assert_eq!(t.add_guest(ok).unwrap(), GuestId(2));
        assert_eq!(route(&t, "203.0.113.33").origin, RouteOrigin::Guest);
        assert_eq!(route(&t, "203.0.113.34").origin, RouteOrigin::GuestPrefix);
        assert_eq!(
            t.is_hosted_guest_ip(P90, ip("203.0.113.33")).unwrap().name,
            "tap5"
        );
    }

    #[test]
    fn remove_guest_restores_routes() {
        let mut t = populated();
        let g = t.remove_guest("tap3").unwrap();
        assert_eq!(g.id, GuestId(0));
        assert_eq!(route(&t, "192.0.2.10").origin, RouteOrigin::Connected);
        assert_eq!(route(&t, "192.0.2.11").origin, RouteOrigin::Connected);
        assert_eq!(route(&t, "203.0.113.9").origin, RouteOrigin::Default);
        assert_eq!(t.routes(P90).unwrap().len(), 3);
        assert!(t.guest("tap3").is_none());
        assert!(t.guest_by_port(PortId(3)).is_none());
        assert_eq!(t.port_role(PortId(3)), None);
        assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.10")).is_none());
        assert!(!t.set_port_up(PortId(3), false));
        // By id, and unknown guests.
        assert_eq!(t.remove_guest(GuestId(1)).unwrap().name, "tap4");
        assert_eq!(t.routes(P90).unwrap().len(), 2);
        assert_eq!(
            t.remove_guest("tap3").unwrap_err().to_string(),
            "cannot remove guest tap3: no such guest"
        );
        assert_eq!(
            t.remove_guest(GuestId(0)).unwrap_err(),
            TablesError::RemoveGuest {
                guest: "guest0".into()
            }
        );
        // Everything is free again; ids are not reused.
        let again = gspec(
            "tap3",
            3,
            &["192.0.2.10", "192.0.2.11"],
            &["203.0.113.8/29"],
        );
        assert_eq!(t.add_guest(again).unwrap(), GuestId(2));
    }

    #[test]
    fn remove_guest_leaves_routes_it_no_longer_owns() {
        let mut t = populated();
        let stat = Route {
            prefix: net("203.0.113.8/29"),
            next_hop: NextHop::Gateway(ip("192.0.2.254")),
            origin: RouteOrigin::Static,
        };
        t.routes_mut(P90).unwrap().add(stat);
        t.remove_guest("tap3").unwrap();
        assert_eq!(route(&t, "203.0.113.9"), stat);
    }

    #[test]
    fn port_up_down() {
        let mut t = populated();
        assert!(t.set_port_up(PortId(3), false));
        assert!(!t.set_port_up(PortId(3), false));
        assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.10")).is_none());
        // Still registered and routed; only proxy ARP stops.
        assert_eq!(
            t.guests().owner_of(P90, ip("192.0.2.10")).unwrap().name,
            "tap3"
        );
        assert_eq!(route(&t, "192.0.2.10").next_hop, NextHop::Guest(GuestId(0)));
        assert!(t.set_port_up(PortId(3), true));
        assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.10")).is_some());
        assert!(
            !t.set_port_up(PortId(0), false),
            "uplinks are not guest ports"
        );
        assert!(!t.set_port_up(PortId(42), false));
    }

    #[test]
    fn replace_guest() {
        let mut t = populated();
        t.set_port_up(PortId(3), false);
        let new = gspec("tap3", 7, &["192.0.2.12"], &["203.0.113.16/29"]);
        assert_eq!(t.replace_guest(new).unwrap(), GuestId(0));
        let g = t.guest("tap3").unwrap();
        assert_eq!((g.port, g.up), (PortId(7), true));
        assert_eq!(t.port_role(PortId(3)), None);
        assert_eq!(t.port_role(PortId(7)), Some(PortRole::Guest(GuestId(0))));
        assert_eq!(route(&t, "192.0.2.10").origin, RouteOrigin::Connected);
        assert_eq!(route(&t, "203.0.113.9").origin, RouteOrigin::Default);
        assert_eq!(route(&t, "192.0.2.12").next_hop, NextHop::Guest(GuestId(0)));
        assert_eq!(route(&t, "203.0.113.17").origin, RouteOrigin::GuestPrefix);
        assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.10")).is_none());
        // Keeping some of its own addresses and prefixes is not a conflict with itself.
        let overlap_self = gspec(
            "tap3",
            7,
            &["192.0.2.12", "192.0.2.13"],
            &["203.0.113.16/28"],
        );
        t.replace_guest(overlap_self).unwrap();
        let before = snapshot(&t);
        let conflict = gspec("tap3", 7, &["192.0.2.20"], &[]);
        assert_eq!(
            t.replace_guest(conflict).unwrap_err().to_string(),
            "replacing guest tap3: 192.0.2.20 is already used by guest tap4 in network public_90"
        );
        let unknown = gspec("tap9", 9, &["192.0.2.90"], &[]);
        assert_eq!(
            t.replace_guest(unknown).unwrap_err().to_string(),
            "replacing guest tap9: no such guest"
        );
        assert_eq!(snapshot(&t), before);
    }

    /// The incident: the default and connected routes vanish. Lookups miss (the caller
    /// drops) instead of falling through, and proxy ARP's question still only answers
    /// for hosted, up guests.
    #[test]
    fn base_routes_deleted_fails_closed() {
        let mut t = populated();
        let routes = t.routes_mut(P90).unwrap();
        assert_eq!(
            routes.remove(net("0.0.0.0/0")).unwrap().origin,
            RouteOrigin::Default
        );
        assert_eq!(
            routes.remove(net("192.0.2.0/24")).unwrap().origin,
            RouteOrigin::Connected
        );
        assert_eq!(t.lookup_route(P90, ip("198.51.100.7")), None);
        assert_eq!(t.lookup_route(P90, ip("192.0.2.77")), None);
        assert_eq!(route(&t, "192.0.2.10").next_hop, NextHop::Guest(GuestId(0)));
        assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.77")).is_none());
        assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.1")).is_none());
        // public_80 is untouched.
        assert!(t.lookup_route(P80, ip("203.0.113.1")).is_some());
    }
}
