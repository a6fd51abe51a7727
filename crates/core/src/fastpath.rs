//! What an in-kernel fast path in front of the router may forward on its own: the
//! plain IPv4 case, derived from the router's tables and neighbor caches so that the
//! fast path decides exactly as [`crate::router`] would, or leaves the frame to it.
//!
//! The fast path (an XDP program, `sys::xdp`) forwards a frame only if every check the
//! userspace stages would make passes and none of their side effects is needed:
//! - ingress: a port listed here. From the uplink, the destination MAC is the uplink's
//!   (RFC 1812 5.3.4); from a guest, the source MAC is the guest's, the destination MAC
//!   is not multicast, and the source address is one of the guest's or inside a prefix
//!   routed to it ([`crate::spoof`]);
//! - IPv4 with a 20-byte header, a valid header checksum (RFC 1812 5.2.2), not a
//!   fragment, no martian source or destination (RFC 1812 5.3.7), TTL above 1
//!   (RFC 1812 5.3.1), no larger than the egress MTU (RFC 1812 5.2.6);
//! - the longest-prefix match in the ingress network's table ([`FastRoute`]) has a
//!   hop: a guest that is up (from the uplink or another guest), or the uplink toward a
//!   neighbor confirmed recently ([`crate::neighbor::NeighborCache::confirmed`]). A
//!   route without a hop (unresolved next hop, connected subnet, guest down) is still
//!   listed, so that a shorter prefix cannot match in its place;
//! - from a guest, TCP and UDP only with a complete checksum (a guest's partial
//!   checksum is completed by the router: `crate::offload`), and no DHCP.
//!
//! Everything else reaches the router as before: ARP, unresolved next hops, ICMP
//! errors, fragmentation, offload super-frames, DHCP, IPv6, traces.

use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr};

use crate::guests::Guest;
use crate::ids::{NetworkId, PortId};
use crate::network::Network;
use crate::router::Router;
use crate::routes::NextHop;
use crate::time::Instant;

/// Which side a fast-path ingress port is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FastRole {
    /// A network's uplink: frames must be addressed to `mac` (the uplink's).
    Uplink,
    /// A guest's port: frames must come from `mac` (the guest's).
    Guest,
}

/// A port the fast path takes frames from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FastPort {
    /// The port.
    pub port: PortId,
    /// Its network (whose route table is looked up).
    pub network: NetworkId,
    /// Uplink or guest.
    pub role: FastRole,
    /// The uplink's MAC (destination check) or the guest's (source check).
    pub mac: EthernetAddress,
}

/// Where a fast-path route sends frames: MACs already chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FastHop {
    /// Egress port.
    pub port: PortId,
    /// New destination MAC (the guest's, or the next hop's on the VLAN).
    pub dst_mac: EthernetAddress,
    /// New source MAC (the network's guest-side or uplink MAC).
    pub src_mac: EthernetAddress,
    /// Largest IPv4 datagram forwarded (the network's MTU).
    pub mtu: u16,
    /// The hop is a guest: frames from the uplink may take it (toward the VLAN they
    /// may not: the router never hairpins).
    pub to_guest: bool,
    /// The egress takes GSO sends ([`Router::port_gso`]): TCP segments carrying data go
    /// to the router, which coalesces runs of them into one send, where the fast path
    /// would send them one by one (a tap's reader then takes each alone). Pure ACKs and
    /// everything else still take the fast path.
    pub coalesce_tcp: bool,
}

/// One entry of a network's fast-path route table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FastRoute {
    /// The network whose table this is.
    pub network: NetworkId,
    /// Destination prefix.
    pub prefix: Ipv4Net,
    /// `None`: frames matching it go to the router.
    pub hop: Option<FastHop>,
}

/// A source prefix a guest port may send from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FastSource {
    /// The guest's port.
    pub port: PortId,
    /// One of its addresses (/32) or a prefix routed to it.
    pub prefix: Ipv4Net,
}

/// Everything the fast path needs, as of one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FastState {
    /// Ingress ports.
    pub ports: Vec<FastPort>,
    /// Route tables, all networks. A later entry for the same network and prefix
    /// replaces an earlier one (the router's own addresses come last).
    pub routes: Vec<FastRoute>,
    /// Guests' source prefixes.
    pub sources: Vec<FastSource>,
    /// The earliest instant an entry here stops being valid (a neighbor's
    /// confirmation running out): derive the state again by then.
    pub valid_until: Option<Instant>,
    /// The neighbors the routes here forward to: pass them to
    /// [`Router::fast_path_used`] when deriving the state again.
    pub neighbors: Vec<(NetworkId, Ipv4Addr)>,
}

fn host(ip: Ipv4Addr) -> Ipv4Net {
    // A /32 is always a valid prefix.
    Ipv4Net::new(ip, 32).unwrap_or_default()
}

fn guest_hop(network: &Network, guest: &Guest, gso: bool) -> Option<FastHop> {
    guest.up.then_some(FastHop {
        port: guest.port,
        dst_mac: guest.mac,
        src_mac: network.guest_mac,
        mtu: network.mtu,
        to_guest: true,
        coalesce_tcp: gso,
    })
}

fn uplink_hop(network: &Network, mac: EthernetAddress, gso: bool) -> FastHop {
    FastHop {
        port: network.uplink,
        dst_mac: mac,
        src_mac: network.uplink_mac,
        mtu: network.mtu,
        to_guest: false,
        coalesce_tcp: gso,
    }
}

impl Router {
    /// What the fast path may forward now ([`crate::fastpath`]).
    pub fn fast_path_state(&self, now: Instant) -> FastState {
        let tables = self.tables();
        let mut st = FastState::default();
        let mut used = Vec::new();
        for network in tables.networks() {
            let Some(routes) = tables.routes(network.id) else {
                continue;
            };
            st.ports.push(FastPort {
                port: network.uplink,
                network: network.id,
                role: FastRole::Uplink,
                mac: network.uplink_mac,
            });
            let uplink_gso = self.port_gso(network.uplink);
            let confirmed: Vec<_> = self
                .neighbors(network.id)
                .map(|c| c.confirmed(now).collect())
                .unwrap_or_default();
            let mac_of = |ip: Ipv4Addr| {
                confirmed
                    .iter()
                    .find(|&&(n, _, _)| n == ip)
                    .map(|&(_, mac, until)| (mac, until))
            };
            let mut until = |t: Instant| {
                st.valid_until = Some(st.valid_until.map_or(t, |u| u.min(t)));
            };
            for route in routes.iter() {
                let hop = match route.next_hop {
                    NextHop::Guest(gid) => tables
                        .guests()
                        .by_id(gid)
                        .and_then(|g| guest_hop(network, g, self.port_gso(g.port))),
                    NextHop::Gateway(gw) => mac_of(gw).map(|(mac, t)| {
                        until(t);
                        used.push((network.id, gw));
                        uplink_hop(network, mac, uplink_gso)
                    }),
                    NextHop::Connected => None,
                };
                st.routes.push(FastRoute {
                    network: network.id,
                    prefix: route.prefix,
                    hop,
                });
            }
            // On-link neighbors: a /32 each, where the table says "connected".
            for &(ip, mac, t) in &confirmed {
                if routes.next_hop(ip) == Some(NextHop::Connected)
                    && !network.is_subnet_broadcast(ip)
                {
                    until(t);
                    used.push((network.id, ip));
                    st.routes.push(FastRoute {
                        network: network.id,
                        prefix: host(ip),
                        hop: Some(uplink_hop(network, mac, uplink_gso)),
                    });
                }
            }
            // Addresses the router handles itself, whatever route covers them.
            let subnet_bcast = network.subnet.broadcast();
            for ip in std::iter::once(subnet_bcast).chain(network.arp_source) {
                st.routes.push(FastRoute {
                    network: network.id,
                    prefix: host(ip),
                    hop: None,
                });
            }
        }
        for guest in tables.guests().iter().filter(|g| g.up) {
            st.ports.push(FastPort {
                port: guest.port,
                network: guest.network,
                role: FastRole::Guest,
                mac: guest.mac,
            });
            let own = guest.ips.iter().map(|&ip| host(ip));
            for prefix in own.chain(guest.extra_prefixes.iter().copied()) {
                st.sources.push(FastSource {
                    port: guest.port,
                    prefix,
                });
            }
        }
        used.sort_unstable();
        used.dedup();
        st.neighbors = used;
        st
    }

    /// Treats the neighbors a previous [`FastState`] forwarded to as used (the router
    /// does not see the frames the fast path forwards): one whose confirmation ran out
    /// moves to DELAY, then PROBE, as it would if the router had forwarded to it
    /// ([`crate::neighbor::NeighborCache::mark_used`]), and the fast path keeps using it
    /// meanwhile, as Linux's forwarding does. Without this, every `reachable_time` a
    /// one-way flow to the VLAN would fall to the router for `delay_first_probe_time`.
    /// Returns how many entries moved.
    pub fn fast_path_used(&mut self, neighbors: &[(NetworkId, Ipv4Addr)], now: Instant) -> usize {
        let mut moved = 0;
        for &(network, ip) in neighbors {
            if let Some(cache) = self.neighbors_mut(network) {
                moved += usize::from(cache.mark_used(ip, now));
            }
        }
        moved
    }

    /// A number that grows whenever a neighbor cache learned from ARP (a new or
    /// refreshed entry, maybe with another MAC), failed or evicted an entry: the fast
    /// path's neighbor entries are derived again when it moved. (Entries that only age
    /// out are covered by [`FastState::valid_until`].)
    pub fn neighbor_changes(&self) -> u64 {
        self.tables()
            .networks()
            .filter_map(|n| self.neighbors(n.id))
            .map(|c| {
                let k = c.counters();
                k.replies_learned + k.requests_learned + k.entries_failed + k.entries_evicted
            })
            .sum()
    }

    /// Whether a trace is running: the fast path stands aside meanwhile, so that every
    /// frame is traced.
    pub fn tracing(&self) -> bool {
        self.trace_remaining() > 0
    }
}

#[cfg(test)]
mod tests;
