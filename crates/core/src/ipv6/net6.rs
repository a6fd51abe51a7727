//! A network's IPv6 side: the counterpart of Ganeti's `NETWORK_SUBNET6` and
//! `NETWORK_GATEWAY6`, plus what the router advertises to its guests.
//!
//! [`Network6Spec`] is what the operator or cluster manager asks for;
//! [`Network6Spec::validate`] checks it against the IPv4 [`Network`] it extends and
//! [`Network6::new`] derives the router's own link-local addresses.

use std::time::Duration;

use ipnet::Ipv6Net;
use wire::ipv6_addr::{is_link_local, link_local_from_mac};
use wire::Ipv6Addr;

use crate::network::Network;

/// What the router puts in its Router Advertisements toward guests (RFC 4861 6.2.1
/// names in brackets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaSettings {
    /// Send advertisements at all (RFC 4861 `AdvSendAdvertisements`).
    pub enabled: bool,
    /// Longest time between unsolicited advertisements (RFC 4861 `MaxRtrAdvInterval`); RFC 4861
    /// 6.2.1: 4..=1800 s, default 600 s.
    pub max_interval: Duration,
    /// Router lifetime (RFC 4861 `AdvDefaultLifetime`); default 3 * max_interval (1800 s); 0 means
    /// "not a default router".
    pub router_lifetime: Duration,
    /// Valid lifetime of the prefix (RFC 4861 `AdvValidLifetime`); default 30 days.
    pub valid_lifetime: Duration,
    /// Preferred lifetime of the prefix (RFC 4861 `AdvPreferredLifetime`); default 7 days.
    pub preferred_lifetime: Duration,
    /// Recursive DNS servers (RFC 8106), at most three are sent.
    pub dns_servers: Vec<Ipv6Addr>,
}

impl Default for RaSettings {
    fn default() -> Self {
        RaSettings {
            enabled: true,
            max_interval: Duration::from_secs(600),
            router_lifetime: Duration::from_secs(1800),
            valid_lifetime: Duration::from_secs(30 * 86400),
            preferred_lifetime: Duration::from_secs(7 * 86400),
            dns_servers: Vec::new(),
        }
    }
}

/// The IPv6 side of a network, as asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network6Spec {
    /// The on-link prefix of the VLAN and of the guests' SLAAC addresses (host bits
    /// clear). A /64 is advertised as autonomous (RFC 4862 5.5.3 needs a prefix plus a
    /// 64-bit interface identifier to make 128 bits).
    pub subnet6: Ipv6Net,
    /// The VLAN's IPv6 router: a global address inside `subnet6` or a link-local one.
    pub gateway6: Ipv6Addr,
    /// Router Advertisement contents.
    pub ra: RaSettings,
    /// An unused host address of subnet6 for the router itself (like `arp_source`): it
    /// answers neighbor solicitations and echo requests for it on the VLAN and sends
    /// its ICMPv6 errors toward the VLAN and beyond from it. Without it, errors go only
    /// to on-link senders, from the router's link-local address (which does not leave
    /// the VLAN, RFC 4291 2.5.6).
    pub source6: Option<Ipv6Addr>,
}

/// Why a [`Network6Spec`] is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Network6Error {
    /// Host bits set in subnet6.
    #[error("subnet6 {given} has host bits set (did you mean {normalized}?)")]
    SubnetHostBits {
        /// As given.
        given: Ipv6Net,
        /// With the host bits cleared.
        normalized: Ipv6Net,
    },
    /// subnet6 longer than /64: guests could not form SLAAC addresses.
    #[error("subnet6 {0} is too small: the prefix length must be at most /64 (RFC 4862 5.5.3)")]
    SubnetTooSmall(Ipv6Net),
    /// subnet6 is not a global unicast prefix.
    #[error("subnet6 {0} is not a global unicast prefix (link-local, multicast, loopback or unspecified)")]
    SubnetNotGlobal(Ipv6Net),
    /// gateway6 is neither link-local nor inside subnet6, or is not unicast.
    #[error("gateway6 {gateway6} must be a link-local address or a host address inside subnet6 {subnet6}")]
    BadGateway {
        /// The gateway.
        gateway6: Ipv6Addr,
        /// The subnet.
        subnet6: Ipv6Net,
    },
    /// The gateway is the router's own link-local address toward guests or the VLAN.
    #[error("gateway6 {0} is the router's own link-local address")]
    GatewayIsRouter(Ipv6Addr),
    /// RA interval outside RFC 4861 6.2.1's range.
    #[error(
        "ra interval {0:?} is out of range: it must be between 4 s and 1800 s (RFC 4861 6.2.1)"
    )]
    RaInterval(Duration),
    /// Router lifetime longer than 9000 s (RFC 4861 6.2.1).
    #[error("ra router lifetime {0:?} is out of range: at most 9000 s (RFC 4861 6.2.1)")]
    RouterLifetime(Duration),
    /// Preferred lifetime longer than valid lifetime (RFC 4861 6.2.1, 4.6.2).
    #[error("ra preferred lifetime {preferred:?} is longer than the valid lifetime {valid:?}")]
    PreferredOverValid {
        /// Preferred lifetime.
        preferred: Duration,
        /// Valid lifetime.
        valid: Duration,
    },
    /// source6 outside subnet6, or the gateway, or not a host address.
    #[error("source6 {source6} must be an unused host address inside subnet6 {subnet6}, other than gateway6")]
    BadSource {
        /// The address.
        source6: Ipv6Addr,
        /// The subnet.
        subnet6: Ipv6Net,
    },
    /// A DNS server that is not unicast.
    #[error("dns server {0} is not a unicast address")]
    BadDnsServer(Ipv6Addr),
}

/// Largest router lifetime (RFC 4861 6.2.1: "MUST be either zero or between
/// MaxRtrAdvInterval and 9000 seconds").
pub const MAX_ROUTER_LIFETIME: Duration = Duration::from_secs(9000);

impl Network6Spec {
    /// Check the spec against the network it extends. Returns the first problem.
    pub fn validate(&self, network: &Network) -> Result<(), Network6Error> {
        let s = self.subnet6;
        if s.trunc() != s {
            return Err(Network6Error::SubnetHostBits {
                given: s,
                normalized: s.trunc(),
            });
        }
        if s.prefix_len() > 64 {
            return Err(Network6Error::SubnetTooSmall(s));
        }
        let a = s.addr();
        if a.is_multicast() || a.is_loopback() || a.is_unspecified() || is_link_local(&a) {
            return Err(Network6Error::SubnetNotGlobal(s));
        }
        let g = self.gateway6;
        let usable = !g.is_multicast()
            && !g.is_unspecified()
            && !g.is_loopback()
            && (is_link_local(&g) || (s.contains(&g) && g != s.network()));
        if !usable {
            return Err(Network6Error::BadGateway {
                gateway6: g,
                subnet6: s,
            });
        }
        if g == link_local_from_mac(network.guest_mac)
            || g == link_local_from_mac(network.uplink_mac)
        {
            return Err(Network6Error::GatewayIsRouter(g));
        }
        if let Some(a) = self.source6 {
            if !s.contains(&a) || a == s.network() || a == g || a.is_multicast() {
                return Err(Network6Error::BadSource {
                    source6: a,
                    subnet6: s,
                });
            }
        }
        let ra = &self.ra;
        if ra.max_interval < Duration::from_secs(4) || ra.max_interval > Duration::from_secs(1800) {
            return Err(Network6Error::RaInterval(ra.max_interval));
        }
        if ra.router_lifetime > MAX_ROUTER_LIFETIME {
            return Err(Network6Error::RouterLifetime(ra.router_lifetime));
        }
        if ra.preferred_lifetime > ra.valid_lifetime {
            return Err(Network6Error::PreferredOverValid {
                preferred: ra.preferred_lifetime,
                valid: ra.valid_lifetime,
            });
        }
        if let Some(d) = ra
            .dns_servers
            .iter()
            .find(|d| d.is_multicast() || d.is_unspecified())
        {
            return Err(Network6Error::BadDnsServer(*d));
        }
        Ok(())
    }
}

/// The IPv6 side of a network, ready for the packet path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network6 {
    /// As asked for.
    pub spec: Network6Spec,
    /// The router's link-local address toward guests: fe80::EUI-64 of the network's
    /// `guest_mac` (the source of its RAs and the guests' default router).
    pub guest_ll: Ipv6Addr,
}

/// The router's link-local address on `network`'s VLAN: fe80::EUI-64 of its current
/// `uplink_mac` (which follows the uplink device when it is re-created), the source of
/// its neighbor solicitations there; it answers for it.
pub fn uplink_ll(network: &Network) -> Ipv6Addr {
    link_local_from_mac(network.uplink_mac)
}

impl Network6 {
    /// Derive the router's addresses; the spec must have passed
    /// [`Network6Spec::validate`] for `network`.
    pub fn new(spec: Network6Spec, network: &Network) -> Network6 {
        Network6 {
            guest_ll: link_local_from_mac(network.guest_mac),
            spec,
        }
    }

    /// True if the subnet is a /64, so guests can form SLAAC addresses in it.
    pub fn slaac(&self) -> bool {
        self.spec.subnet6.prefix_len() == 64
    }
}
