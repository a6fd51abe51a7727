//! The IPv6 tables: per network its [`Network6`] and route table (an [`Lpm6`]), per guest
//! its [`Guest6`], and the (network, address) -> guest index proxy NDP answers from.
//!
//! They extend [`Tables`], which stays the source of truth for which guests exist, their
//! port, MAC and whether they are up: every decision looks the guest up there too, so a
//! guest removed from [`Tables`] is never answered for, even before [`Tables6::prune`]
//! drops its IPv6 side. Guest ids are never reused, so a stale entry cannot be mistaken
//! for a new guest.

use std::collections::HashMap;

use ipnet::Ipv6Net;
use wire::Ipv6Addr;

use crate::guests::Guest;
use crate::ids::{GuestId, NetworkId};
use crate::ipv6::guest6::{Guest6, Guest6Error, Guest6Spec};
use crate::ipv6::net6::{Network6, Network6Error, Network6Spec};
use crate::lpm::FastBuildHasher;
use crate::lpm::Lpm6;
use crate::tables::Tables;

/// ::/0.
const DEFAULT_ROUTE: Ipv6Net = match Ipv6Net::new(Ipv6Addr::UNSPECIFIED, 0) {
    Ok(n) => n,
    Err(_) => panic!("::/0 is a valid prefix"),
};

/// Where a destination goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHop6 {
    /// Through the VLAN's router (the default route).
    Gateway,
    /// Directly to a host on the VLAN (subnet6 on-link): resolve the destination itself.
    OnLink,
    /// To a guest (its address /128 or a prefix routed to it).
    Guest(GuestId),
}

/// One network's IPv6 state.
#[derive(Clone, Debug)]
pub struct Net6State {
    /// Its configuration.
    pub net: Network6,
    /// Its routes: ::/0 via the gateway, subnet6 on-link, guests' /128s and prefixes.
    pub routes: Lpm6<NextHop6>,
}

/// Why a change to the IPv6 tables was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Tables6Error {
    /// No such network in [`Tables`].
    #[error("no network with id {0}")]
    UnknownNetwork(NetworkId),
    /// The network has no IPv6 side.
    #[error("network {0} has no subnet6")]
    NoIpv6(String),
    /// No such guest in [`Tables`].
    #[error("no guest with id {0}")]
    UnknownGuest(GuestId),
    /// Invalid network spec.
    #[error(transparent)]
    Network(#[from] Network6Error),
    /// Invalid guest spec.
    #[error(transparent)]
    Guest(#[from] Guest6Error),
    /// The address is the router's own (the network's source6).
    #[error("{0} is the router's own address on the network (source6)")]
    RouterAddress(Ipv6Addr),
    /// Another guest owns the address or prefix.
    #[error("{what} is already used by guest {owner}")]
    InUse {
        /// The address or prefix.
        what: String,
        /// The other guest's name.
        owner: String,
    },
}

/// The IPv6 tables of all networks.
#[derive(Clone, Debug, Default)]
pub struct Tables6 {
    nets: HashMap<NetworkId, Net6State, FastBuildHasher>,
    guests: HashMap<GuestId, Guest6, FastBuildHasher>,
    owners: HashMap<(NetworkId, u128), GuestId, FastBuildHasher>,
}

impl Tables6 {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Give network `id` an IPv6 side, or replace it. Guests already on it keep their
    /// IPv6 side only if it still resolves (same subnet6); otherwise it is dropped and
    /// their ids are returned, for the control plane to report.
    pub fn set_network6(
        &mut self,
        tables: &Tables,
        id: NetworkId,
        spec: Network6Spec,
    ) -> Result<Vec<GuestId>, Tables6Error> {
        let network = tables.network(id).ok_or(Tables6Error::UnknownNetwork(id))?;
        spec.validate(network)?;
        let net = Network6::new(spec, network);
        let mut routes = Lpm6::new();
        routes.insert(DEFAULT_ROUTE, NextHop6::Gateway);
        routes.insert(net.spec.subnet6, NextHop6::OnLink);
        self.nets.insert(id, Net6State { net, routes });
        let on_net: Vec<(GuestId, Guest6Spec)> = self
            .guests
            .values()
            .filter(|g| g.network == id)
            .map(|g| (g.guest, g.spec.clone()))
            .collect();
        let mut dropped = Vec::new();
        for (gid, spec) in on_net {
            if let Some(g6) = self.guests.remove(&gid) {
                self.unindex(&g6);
            }
            if self.set_guest6(tables, gid, spec).is_err() {
                dropped.push(gid);
            }
        }
        Ok(dropped)
    }

    /// Remove network `id`'s IPv6 side and every guest's IPv6 side on it.
    pub fn remove_network6(&mut self, id: NetworkId) -> Option<Network6> {
        let st = self.nets.remove(&id)?;
        let gone: Vec<GuestId> = self
            .guests
            .values()
            .filter(|g| g.network == id)
            .map(|g| g.guest)
            .collect();
        for g in gone {
            self.remove_guest6(g);
        }
        Some(st.net)
    }

    /// Network `id`'s IPv6 state.
    pub fn network6(&self, id: NetworkId) -> Option<&Net6State> {
        self.nets.get(&id)
    }

    /// Every network with an IPv6 side.
    pub fn networks6(&self) -> impl Iterator<Item = (NetworkId, &Net6State)> + '_ {
        self.nets.iter().map(|(&id, st)| (id, st))
    }

    /// Give guest `id` (already in `tables`) an IPv6 side, or replace it.
    pub fn set_guest6(
        &mut self,
        tables: &Tables,
        id: GuestId,
        spec: Guest6Spec,
    ) -> Result<&Guest6, Tables6Error> {
        let guest = tables.guest(id).ok_or(Tables6Error::UnknownGuest(id))?;
        let st = self.nets.get(&guest.network).ok_or_else(|| {
            let name = tables
                .network(guest.network)
                .map_or_else(|| guest.network.to_string(), |n| n.name.clone());
            Tables6Error::NoIpv6(name)
        })?;
        let g6 = Guest6::resolve(id, guest.network, guest.mac, &st.net, spec)?;
        // The router's own source6, then other guests (the guest's own old entries do
        // not count).
        if let Some(a) = g6.addrs.iter().find(|a| Some(**a) == st.net.spec.source6) {
            return Err(Tables6Error::RouterAddress(*a));
        }
        for a in &g6.addrs {
            if let Some(&o) = self.owners.get(&(guest.network, u128::from(*a))) {
                if o != id {
                    return Err(in_use(tables, a.to_string(), o));
                }
            }
        }
        for p in &g6.prefixes {
            if let Some(NextHop6::Guest(o)) = st.routes.get(*p) {
                if o != id {
                    return Err(in_use(tables, p.to_string(), o));
                }
            }
        }
        if let Some(old) = self.guests.remove(&id) {
            self.unindex(&old);
        }
        let net = guest.network;
        let st = self
            .nets
            .get_mut(&net)
            .ok_or_else(|| Tables6Error::NoIpv6(net.to_string()))?;
        for a in &g6.addrs {
            self.owners.insert((net, u128::from(*a)), id);
            st.routes.insert(Ipv6Net::from(*a), NextHop6::Guest(id));
        }
        for p in &g6.prefixes {
            st.routes.insert(*p, NextHop6::Guest(id));
        }
        Ok(self.guests.entry(id).or_insert(g6))
    }

    /// Remove guest `id`'s IPv6 side.
    pub fn remove_guest6(&mut self, id: GuestId) -> Option<Guest6> {
        let g6 = self.guests.remove(&id)?;
        self.unindex(&g6);
        Some(g6)
    }

    /// Drop the IPv6 side of guests that are no longer in `tables`.
    pub fn prune(&mut self, tables: &Tables) -> usize {
        let gone: Vec<GuestId> = self
            .guests
            .keys()
            .copied()
            .filter(|&g| tables.guest(g).is_none())
            .collect();
        for &g in &gone {
            self.remove_guest6(g);
        }
        gone.len()
    }

    fn unindex(&mut self, g6: &Guest6) {
        for a in &g6.addrs {
            let key = (g6.network, u128::from(*a));
            if self.owners.get(&key) == Some(&g6.guest) {
                self.owners.remove(&key);
            }
        }
        if let Some(st) = self.nets.get_mut(&g6.network) {
            for a in &g6.addrs {
                if st.routes.get(Ipv6Net::from(*a)) == Some(NextHop6::Guest(g6.guest)) {
                    st.routes.remove(Ipv6Net::from(*a));
                }
            }
            for p in &g6.prefixes {
                if st.routes.get(*p) == Some(NextHop6::Guest(g6.guest)) {
                    st.routes.remove(*p);
                }
            }
        }
    }

    /// Guest `id`'s IPv6 side.
    pub fn guest6(&self, id: GuestId) -> Option<&Guest6> {
        self.guests.get(&id)
    }

    /// Every guest's IPv6 side.
    pub fn guests6(&self) -> impl Iterator<Item = &Guest6> + '_ {
        self.guests.values()
    }

    /// The guest whose own address `addr` is on `network`, from the guest list only (never
    /// from routes: a routed prefix is not an on-link address). Checks `tables` too, so a
    /// guest removed there is not returned.
    pub fn owner_of<'t>(
        &self,
        tables: &'t Tables,
        network: NetworkId,
        addr: &Ipv6Addr,
    ) -> Option<&'t Guest> {
        let id = *self.owners.get(&(network, u128::from(*addr)))?;
        tables.guest(id).filter(|g| g.network == network)
    }

    /// Where `dst` goes on `network`.
    pub fn next_hop(&self, network: NetworkId, dst: Ipv6Addr) -> Option<NextHop6> {
        self.nets.get(&network)?.routes.lookup_value(dst)
    }
}

fn in_use(tables: &Tables, what: String, owner: GuestId) -> Tables6Error {
    Tables6Error::InUse {
        what,
        owner: tables
            .guest(owner)
            .map_or_else(|| owner.to_string(), |g| g.name.clone()),
    }
}
