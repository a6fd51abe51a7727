//! A network's route table: the userspace `public_NN`.
//!
//! Unlike the kernel setup, a lookup that finds nothing is final: the caller drops the
//! packet with a counted reason. There is no other table to fall through to.

use core::fmt;

use ipnet::Ipv4Net;
use wire::Ipv4Addr;

use crate::ids::GuestId;
use crate::lpm::Lpm;
use crate::network::Network;

/// Where a matching packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// Leave through the network's uplink toward this on-link router.
    Gateway(Ipv4Addr),
    /// On-link on the uplink: the next hop is the destination itself.
    Connected,
    /// Deliver to this guest's port.
    Guest(GuestId),
}

/// Why a route exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteOrigin {
    /// The network's default route via its gateway.
    Default,
    /// The network's on-link subnet.
    Connected,
    /// A guest's own address (/32).
    Guest,
    /// An extra prefix routed to a guest.
    GuestPrefix,
    /// Added by an operator.
    Static,
}

/// One route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// Destination prefix (host bits clear).
    pub prefix: Ipv4Net,
    /// Where matching packets go.
    pub next_hop: NextHop,
    /// Why the route exists.
    pub origin: RouteOrigin,
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHop::Gateway(gw) => write!(f, "via {gw}"),
            NextHop::Connected => f.write_str("connected"),
            NextHop::Guest(id) => write!(f, "to {id}"),
        }
    }
}

impl fmt::Display for RouteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteOrigin::Default => "default",
            RouteOrigin::Connected => "connected",
            RouteOrigin::Guest => "guest",
            RouteOrigin::GuestPrefix => "guest-prefix",
            RouteOrigin::Static => "static",
        })
    }
}

impl fmt::Display for Route {
    /// e.g. `0.0.0.0/0 via 192.0.2.1 (default)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.prefix, self.next_hop, self.origin)
    }
}

/// What the LPM stores per prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    next_hop: NextHop,
    origin: RouteOrigin,
}

impl Entry {
    fn into_route(self, prefix: Ipv4Net) -> Route {
        Route {
            prefix,
            next_hop: self.next_hop,
            origin: self.origin,
        }
    }
}

/// The routes of one network.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    lpm: Lpm<Entry>,
}

impl RouteTable {
    /// An empty table: every lookup misses.
    pub fn new() -> Self {
        Self::default()
    }

    /// The two base routes of `network`: 0.0.0.0/0 via its gateway (origin `Default`) and
    /// its subnet on-link (origin `Connected`).
    pub fn base_routes(network: &Network) -> [Route; 2] {
        [
            Route {
                prefix: Ipv4Net::new_assert(Ipv4Addr::UNSPECIFIED, 0),
                next_hop: NextHop::Gateway(network.gateway),
                origin: RouteOrigin::Default,
            },
            Route {
                prefix: network.subnet.trunc(),
                next_hop: NextHop::Connected,
                origin: RouteOrigin::Connected,
            },
        ]
    }

    /// A table holding the base routes of `network` (see [`RouteTable::base_routes`]).
    pub fn for_network(network: &Network) -> Self {
        let mut t = Self::new();
        for r in Self::base_routes(network) {
            t.add(r);
        }
        t
    }

    /// Add or replace the route for `route.prefix` (normalised). Returns the route it
    /// replaced.
    pub fn add(&mut self, route: Route) -> Option<Route> {
        let prefix = route.prefix.trunc();
        let entry = Entry {
            next_hop: route.next_hop,
            origin: route.origin,
        };
        self.lpm
            .insert(prefix, entry)
            .map(|old| old.into_route(prefix))
    }

    /// Remove the route for exactly `prefix`. Returns it.
    pub fn remove(&mut self, prefix: Ipv4Net) -> Option<Route> {
        let prefix = prefix.trunc();
        self.lpm.remove(prefix).map(|e| e.into_route(prefix))
    }

    /// The route for exactly `prefix`.
    pub fn get(&self, prefix: Ipv4Net) -> Option<Route> {
        let prefix = prefix.trunc();
        self.lpm.get(prefix).map(|e| e.into_route(prefix))
    }

    /// Longest-prefix match for `dst`. `None` means: drop, there is no fall-through.
    #[inline]
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<Route> {
        self.lpm.lookup(dst).map(|(p, e)| e.into_route(p))
    }

    /// The next hop of the longest-prefix match for `dst`: [`RouteTable::lookup`] without
    /// building the route. This is the per-packet call.
    #[inline(always)]
    pub fn next_hop(&self, dst: Ipv4Addr) -> Option<NextHop> {
        self.lpm.lookup_value(dst).map(|e| e.next_hop)
    }

    /// All routes, longest prefix first, then by address.
    pub fn iter(&self) -> impl Iterator<Item = Route> + '_ {
        self.lpm.iter().map(|(p, e)| e.into_route(p))
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.lpm.len()
    }

    /// No routes.
    pub fn is_empty(&self) -> bool {
        self.lpm.is_empty()
    }

    /// Remove every route.
    pub fn clear(&mut self) {
        self.lpm.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{NetworkId, PortId};
    use crate::network::NetworkSpec;
    use wire::EthernetAddress;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn network() -> Network {
        NetworkSpec {
            name: "public_90".into(),
            subnet: net("192.0.2.0/24"),
            gateway: ip("192.0.2.1"),
            uplink: PortId(0),
            mtu: 1500,
            uplink_mac: EthernetAddress([0x02, 0, 0, 0, 0, 1]),
            guest_mac: EthernetAddress([0x02, 0, 0, 0, 0, 2]),
            arp_source: None,
        }
        .into_network(NetworkId(0))
        .unwrap()
    }

    #[test]
    fn base_routes() {
        let t = RouteTable::for_network(&network());
        assert_eq!(t.len(), 2);
        let r = t.lookup(ip("198.51.100.7")).unwrap();
        assert_eq!(r.next_hop, NextHop::Gateway(ip("192.0.2.1")));
        assert_eq!(r.origin, RouteOrigin::Default);
        assert_eq!(r.to_string(), "0.0.0.0/0 via 192.0.2.1 (default)");
        let r = t.lookup(ip("192.0.2.77")).unwrap();
        assert_eq!(r.prefix, net("192.0.2.0/24"));
        assert_eq!(r.next_hop, NextHop::Connected);
        assert_eq!(r.origin, RouteOrigin::Connected);
        assert_eq!(r.to_string(), "192.0.2.0/24 connected (connected)");
    }

    #[test]
    fn add_remove_and_no_fallthrough() {
        let mut t = RouteTable::for_network(&network());
        let g = Route {
            prefix: net("192.0.2.10/32"),
            next_hop: NextHop::Guest(GuestId(7)),
            origin: RouteOrigin::Guest,
        };
        assert_eq!(t.add(g), None);
        assert_eq!(t.lookup(ip("192.0.2.10")), Some(g));
        assert_eq!(t.get(net("192.0.2.10/32")), Some(g));
        assert_eq!(g.to_string(), "192.0.2.10/32 to guest7 (guest)");
        let s = Route {
            prefix: net("203.0.113.9/29"),
            next_hop: NextHop::Gateway(ip("192.0.2.254")),
            origin: RouteOrigin::Static,
        };
        t.add(s);
        let got = t.lookup(ip("203.0.113.12")).unwrap();
        assert_eq!(got.prefix, net("203.0.113.8/29"));
        assert_eq!(got.origin, RouteOrigin::Static);
        let order: Vec<_> = t.iter().map(|r| r.prefix.prefix_len()).collect();
        assert_eq!(order, vec![32, 29, 24, 0]);
        // The incident: the base routes vanish. Lookups must miss, not fall through.
        assert!(t.remove(net("0.0.0.0/0")).is_some());
        assert!(t.remove(net("192.0.2.0/24")).is_some());
        assert_eq!(t.lookup(ip("192.0.2.77")), None);
        assert_eq!(t.lookup(ip("198.51.100.7")), None);
        assert_eq!(t.lookup(ip("192.0.2.10")), Some(g));
        assert_eq!(
            t.next_hop(ip("192.0.2.10")),
            Some(NextHop::Guest(GuestId(7)))
        );
        assert_eq!(t.next_hop(ip("198.51.100.7")), None);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.lookup(ip("192.0.2.10")), None);
    }
}
