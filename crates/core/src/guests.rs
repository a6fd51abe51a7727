//! The guest registry: which guest NICs this node hosts, on which port, with which
//! addresses.
//!
//! Proxy ARP answers from this registry, never from a route lookup
//! ([`GuestRegistry::owner_of`] is one hash probe). The registry is only mutated through
//! [`crate::tables::Tables`], which keeps the route tables in sync and validates first.

use core::fmt;
use std::collections::HashMap;

use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr};

use crate::ids::{GuestId, NetworkId, PortId};
use crate::lpm::FastBuildHasher;

/// A guest NIC hosted on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guest {
    /// Assigned by [`crate::tables::Tables::add_guest`].
    pub id: GuestId,
    /// The tap's name, e.g. `tap3`. Unique.
    pub name: String,
    /// The dataplane port attached to the tap.
    pub port: PortId,
    /// The guest's MAC (anti-spoofing source check, destination of frames to it).
    pub mac: EthernetAddress,
    /// The guest's own addresses, sorted, without duplicates. Never empty.
    pub ips: Vec<Ipv4Addr>,
    /// The network (VLAN) the guest belongs to.
    pub network: NetworkId,
    /// Extra prefixes routed to the guest, sorted, without duplicates.
    pub extra_prefixes: Vec<Ipv4Net>,
    /// Whether the guest's port is up. A guest starts up when added: the cluster manager
    /// adds it once its tap exists; the dataplane marks it down on link events
    /// ([`crate::tables::Tables::set_port_up`]).
    pub up: bool,
}

/// What the cluster manager or operator asks for: a [`Guest`] without id and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestSpec {
    /// See [`Guest::name`].
    pub name: String,
    /// See [`Guest::port`].
    pub port: PortId,
    /// See [`Guest::mac`].
    pub mac: EthernetAddress,
    /// See [`Guest::ips`]. Order and duplicates do not matter.
    pub ips: Vec<Ipv4Addr>,
    /// See [`Guest::network`].
    pub network: NetworkId,
    /// See [`Guest::extra_prefixes`]. Order and duplicates do not matter.
    pub extra_prefixes: Vec<Ipv4Net>,
}

impl GuestSpec {
    /// The same spec with `ips` and `extra_prefixes` sorted and deduplicated, so that
    /// specs that mean the same thing compare equal.
    pub fn normalized(mut self) -> GuestSpec {
        self.ips.sort_unstable();
        self.ips.dedup();
        self.extra_prefixes.sort_unstable();
        self.extra_prefixes.dedup();
        self
    }
}

impl Guest {
    /// The spec this guest was created from (normalised).
    pub fn spec(&self) -> GuestSpec {
        GuestSpec {
            name: self.name.clone(),
            port: self.port,
            mac: self.mac,
            ips: self.ips.clone(),
            network: self.network,
            extra_prefixes: self.extra_prefixes.clone(),
        }
    }

    /// `ip` is one of the guest's own addresses.
    #[inline]
    pub fn has_ip(&self, ip: Ipv4Addr) -> bool {
        self.ips.contains(&ip)
    }
}

impl fmt::Display for Guest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {}, {})",
            self.name, self.id, self.port, self.mac
        )
    }
}

/// Key of the per-network address index: network id in the high half, address low.
#[inline(always)]
fn ip_key(network: NetworkId, ip: Ipv4Addr) -> u64 {
    (u64::from(network.0) << 32) | u64::from(u32::from(ip))
}

/// `slot_of` value of an id that has no guest (removed, or never inserted).
const NO_SLOT: u32 = u32::MAX;

/// All guests, indexed by id, port, name and (network, address).
///
/// Guest ids are dense and never reused ([`crate::tables::Tables`] assigns them in
/// order), so the id index is a vector, not a hash map: [`GuestRegistry::by_id`], which
/// the forwarding path calls for every frame from or to a guest, is two indexed loads.
/// `slot_of` costs 4 bytes per id ever assigned; the guests themselves are packed in
/// `slots` (removal moves the last one into the hole).
#[derive(Clone, Debug, Default)]
pub struct GuestRegistry {
    /// Index into `slots` of each id, `NO_SLOT` if the id has no guest.
    slot_of: Vec<u32>,
    /// The guests, in no particular order.
    slots: Vec<Guest>,
    by_port: HashMap<PortId, GuestId, FastBuildHasher>,
    by_name: HashMap<String, GuestId>,
    by_ip: HashMap<u64, GuestId, FastBuildHasher>,
}

impl GuestRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Slot of guest `id`, if it exists.
    #[inline]
    fn slot(&self, id: GuestId) -> Option<usize> {
        let slot = *self.slot_of.get(id.0 as usize)?;
        (slot != NO_SLOT).then_some(slot as usize)
    }

    /// The guest with this id.
    #[inline]
    pub fn by_id(&self, id: GuestId) -> Option<&Guest> {
        // NO_SLOT is never a valid index: the `get` fails for it.
        let slot = *self.slot_of.get(id.0 as usize)?;
        self.slots.get(slot as usize)
    }

    /// The guest attached to this port.
    #[inline]
    pub fn by_port(&self, port: PortId) -> Option<&Guest> {
        self.by_port.get(&port).and_then(|&id| self.by_id(id))
    }

    /// The guest with this (tap) name.
    pub fn by_name(&self, name: &str) -> Option<&Guest> {
        self.by_name.get(name).and_then(|&id| self.by_id(id))
    }

    /// The guest of `network` that owns exactly `ip` as one of its own addresses (extra
    /// prefixes do not count), up or down.
    #[inline]
    pub fn owner_of(&self, network: NetworkId, ip: Ipv4Addr) -> Option<&Guest> {
        self.by_ip
            .get(&ip_key(network, ip))
            .and_then(|&id| self.by_id(id))
    }

    /// All guests, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Guest> + '_ {
        self.slot_of
            .iter()
            .filter_map(|&slot| self.slots.get(slot as usize))
    }

    /// Number of guests.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No guests.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Insert a guest. The caller ([`crate::tables::Tables`]) has checked that its id,
    /// name, port and addresses are free. A guest with the same id is replaced.
    pub(crate) fn insert(&mut self, guest: Guest) {
        let id = guest.id;
        self.by_port.insert(guest.port, id);
        self.by_name.insert(guest.name.clone(), id);
        for &ip in &guest.ips {
            self.by_ip.insert(ip_key(guest.network, ip), id);
        }
        if let Some(slot) = self.slot(id) {
            self.slots[slot] = guest;
            return;
        }
        let idx = id.0 as usize;
        if self.slot_of.len() <= idx {
            self.slot_of.resize(idx + 1, NO_SLOT);
        }
        // Fewer guests than ids, and ids are u32: the slot fits (NO_SLOT excepted, which
        // would need u32::MAX live guests).
        self.slot_of[idx] = self.slots.len() as u32;
        self.slots.push(guest);
    }

    /// Remove a guest and its index entries (only those that still point at it).
    pub(crate) fn remove(&mut self, id: GuestId) -> Option<Guest> {
        let slot = self.slot(id)?;
        self.slot_of[id.0 as usize] = NO_SLOT;
        let guest = self.slots.swap_remove(slot);
        if let Some(moved) = self.slots.get(slot) {
            self.slot_of[moved.id.0 as usize] = slot as u32;
        }
        if self.by_port.get(&guest.port) == Some(&id) {
            self.by_port.remove(&guest.port);
        }
        if self.by_name.get(&guest.name) == Some(&id) {
            self.by_name.remove(&guest.name);
        }
        for &ip in &guest.ips {
            let key = ip_key(guest.network, ip);
            if self.by_ip.get(&key) == Some(&id) {
                self.by_ip.remove(&key);
            }
        }
        Some(guest)
    }

    /// Set a guest's `up` flag. Returns whether it changed.
    pub(crate) fn set_up(&mut self, id: GuestId, up: bool) -> bool {
        match self.slot(id).map(|s| &mut self.slots[s]) {
            Some(g) if g.up != up => {
                g.up = up;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(id: u32, name: &str, port: u16, ips: &[&str]) -> Guest {
        Guest {
            id: GuestId(id),
            name: name.into(),
            port: PortId(port),
            mac: EthernetAddress([0x52, 0x54, 0, 0, 0, id as u8]),
            ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
            network: NetworkId(0),
            extra_prefixes: vec![],
            up: true,
        }
    }

    #[test]
    fn indexes() {
        let mut r = GuestRegistry::new();
        assert!(r.is_empty());
        r.insert(guest(2, "tap3", 3, &["192.0.2.10", "192.0.2.11"]));
        r.insert(guest(1, "tap4", 4, &["192.0.2.20"]));
        assert_eq!(r.len(), 2);
        assert_eq!(r.by_id(GuestId(2)).unwrap().name, "tap3");
        assert_eq!(r.by_port(PortId(4)).unwrap().id, GuestId(1));
        assert_eq!(r.by_name("tap3").unwrap().port, PortId(3));
        assert!(r.by_name("tap5").is_none());
        let ip11: Ipv4Addr = "192.0.2.11".parse().unwrap();
        assert_eq!(r.owner_of(NetworkId(0), ip11).unwrap().id, GuestId(2));
        assert!(r.owner_of(NetworkId(1), ip11).is_none());
        assert!(r.by_id(GuestId(2)).unwrap().has_ip(ip11));
        let ids: Vec<_> = r.iter().map(|g| g.id.0).collect();
        assert_eq!(ids, vec![1, 2]);
        assert!(r.set_up(GuestId(2), false));
        assert!(!r.set_up(GuestId(2), false));
        assert!(!r.set_up(GuestId(9), false));
        assert!(!r.by_id(GuestId(2)).unwrap().up);
        let g = r.remove(GuestId(2)).unwrap();
        assert_eq!(g.name, "tap3");
        assert!(r.by_port(PortId(3)).is_none());
        assert!(r.by_name("tap3").is_none());
        assert!(r.owner_of(NetworkId(0), ip11).is_none());
        assert!(r.remove(GuestId(2)).is_none());
        assert_eq!(r.len(), 1);
        assert_eq!(r.by_id(GuestId(1)).unwrap().name, "tap4");
        assert!(r.by_id(GuestId(7)).is_none());
    }

    #[test]
    fn normalized_spec() {
        let s = GuestSpec {
            name: "tap3".into(),
            port: PortId(3),
            mac: EthernetAddress([0x52, 0x54, 0, 0, 0, 1]),
            ips: vec![
                "192.0.2.11".parse().unwrap(),
                "192.0.2.10".parse().unwrap(),
                "192.0.2.11".parse().unwrap(),
            ],
            network: NetworkId(0),
            extra_prefixes: vec![
                "203.0.113.8/29".parse().unwrap(),
                "203.0.113.0/29".parse().unwrap(),
            ],
        }
        .normalized();
        assert_eq!(
            s.ips,
            vec![
                "192.0.2.10".parse::<Ipv4Addr>().unwrap(),
                "192.0.2.11".parse().unwrap()
            ]
        );
        assert_eq!(
            s.extra_prefixes[0],
            "203.0.113.0/29".parse::<Ipv4Net>().unwrap()
        );
    }
}
