//! Validation of guests before [`Tables`] changes anything: names, addresses, extra
//! prefixes, ports and route collisions.

use ipnet::Ipv4Net;
use wire::Ipv4Addr;

use super::{guest_routes, GuestConflict, PortRole, Tables};
use crate::guests::GuestSpec;
use crate::ids::GuestId;
use crate::network::Network;
use crate::routes::{NextHop, RouteOrigin};

/// A guest (tap) name: non-empty, no whitespace, no control characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// One prefix contains the other.
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

impl Tables {
    /// Every check of a new guest (or of the new data of guest `replacing`), without
    /// changing anything. Conflicts with `replacing` itself are ignored.
    pub(super) fn check_guest(
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

    pub(super) fn check_extra_prefix(
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

    pub(super) fn check_ip(
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
