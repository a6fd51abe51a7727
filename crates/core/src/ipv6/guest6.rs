//! A guest NIC's IPv6 side: its addresses (explicit, or the modified EUI-64 of its MAC in
//! the network's subnet6, as gnt-networking's `mac2eui64` computes them) and the prefixes
//! routed to it.

use ipnet::Ipv6Net;
use wire::ipv6_addr::{eui64_address, is_link_local, link_local_from_mac};
use wire::{EthernetAddress, Ipv6Addr};

use crate::ids::{GuestId, NetworkId};
use crate::ipv6::net6::Network6;

/// What the cluster manager or operator asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guest6Spec {
    /// Explicit global addresses, inside the network's subnet6.
    pub addrs: Vec<Ipv6Addr>,
    /// Also own the EUI-64 address of the guest's MAC in subnet6 (a /64): the address the
    /// guest takes by SLAAC from the router's advertisement.
    pub eui64: bool,
    /// Prefixes routed to the guest (outside subnet6).
    pub prefixes: Vec<Ipv6Net>,
}

/// Why a [`Guest6Spec`] is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Guest6Error {
    /// No address at all.
    #[error("no IPv6 address: give one or ask for the EUI-64 address")]
    NoAddress,
    /// EUI-64 asked for on a subnet that is not a /64.
    #[error("an EUI-64 address needs a /64 subnet6, the network has {0}")]
    Eui64NeedsSlash64(Ipv6Net),
    /// An explicit address outside subnet6, or not a usable host address.
    #[error("IPv6 address {addr} must be a host address inside subnet6 {subnet6}, other than the gateway and the subnet-router anycast address")]
    BadAddress {
        /// The address.
        addr: Ipv6Addr,
        /// The subnet.
        subnet6: Ipv6Net,
    },
    /// A routed prefix with host bits set, not global, or overlapping subnet6.
    #[error("IPv6 prefix {prefix} must be global unicast with host bits clear and outside subnet6 {subnet6}")]
    BadPrefix {
        /// The prefix.
        prefix: Ipv6Net,
        /// The subnet.
        subnet6: Ipv6Net,
    },
}

/// A guest's IPv6 side, resolved against its network and MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guest6 {
    /// The guest (its entry in [`crate::tables::Tables`] is the source of truth for its
    /// port, MAC and whether it is up).
    pub guest: GuestId,
    /// Its network.
    pub network: NetworkId,
    /// As asked for.
    pub spec: Guest6Spec,
    /// Its global addresses (explicit plus EUI-64), sorted, without duplicates.
    pub addrs: Vec<Ipv6Addr>,
    /// Its link-local address fe80::EUI-64 (RFC 4862 5.3): a source it may use.
    pub link_local: Ipv6Addr,
    /// Routed prefixes, sorted, without duplicates.
    pub prefixes: Vec<Ipv6Net>,
}

impl Guest6 {
    /// Check `spec` for a guest with `mac` on `net` and resolve its addresses.
    pub fn resolve(
        guest: GuestId,
        network: NetworkId,
        mac: EthernetAddress,
        net: &Network6,
        spec: Guest6Spec,
    ) -> Result<Guest6, Guest6Error> {
        let subnet6 = net.spec.subnet6;
        let mut addrs = Vec::with_capacity(spec.addrs.len() + 1);
        for &a in &spec.addrs {
            let ok = subnet6.contains(&a)
                && a != subnet6.network()
                && a != net.spec.gateway6
                && !a.is_multicast();
            if !ok {
                return Err(Guest6Error::BadAddress { addr: a, subnet6 });
            }
            addrs.push(a);
        }
        if spec.eui64 {
            if !net.slaac() {
                return Err(Guest6Error::Eui64NeedsSlash64(subnet6));
            }
            addrs.push(eui64_address(subnet6.network(), mac));
        }
        if addrs.is_empty() {
            return Err(Guest6Error::NoAddress);
        }
        addrs.sort_unstable();
        addrs.dedup();
        let mut prefixes = spec.prefixes.clone();
        for &p in &prefixes {
            let a = p.addr();
            let ok = p.trunc() == p
                && !a.is_multicast()
                && !a.is_loopback()
                && !is_link_local(&a)
                && p.prefix_len() > 0
                && !p.contains(&subnet6.network())
                && !subnet6.contains(&a);
            if !ok {
                return Err(Guest6Error::BadPrefix { prefix: p, subnet6 });
            }
        }
        prefixes.sort_unstable();
        prefixes.dedup();
        Ok(Guest6 {
            guest,
            network,
            addrs,
            link_local: link_local_from_mac(mac),
            prefixes,
            spec,
        })
    }

    /// `addr` is one of the guest's own global addresses.
    #[inline]
    pub fn has_addr(&self, addr: &Ipv6Addr) -> bool {
        self.addrs.contains(addr)
    }

    /// `addr` is a source the guest may use: one of its addresses, its link-local
    /// address, or inside a prefix routed to it.
    #[inline]
    pub fn owns_source(&self, addr: &Ipv6Addr) -> bool {
        *addr == self.link_local
            || self.has_addr(addr)
            || self.prefixes.iter().any(|p| p.contains(addr))
    }
}
