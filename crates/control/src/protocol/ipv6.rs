//! IPv6 views: `show ipv6` and `explain ndp ADDRESS`.

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;
use serde::{Deserialize, Serialize};

use super::{fields, Decision, MAX_GUEST_ADDRESSES};

/// A guest's IPv6 side as `guest add` asks for it (and the state file keeps it). A guest
/// spec without one gets the default on a network with a /64 subnet6: the EUI-64 address
/// of its MAC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestIpv6 {
    /// Explicit addresses, inside the network's subnet6.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addrs: Vec<Ipv6Addr>,
    /// Also the EUI-64 address of the guest's MAC in subnet6 (a /64), the one it takes
    /// by SLAAC (gnt-networking's `mac2eui64`).
    #[serde(default)]
    pub eui64: bool,
    /// Prefixes routed to the guest, outside subnet6 (host bits clear).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "fields::prefixes6"
    )]
    pub routed_prefixes: Vec<Ipv6Net>,
}

impl GuestIpv6 {
    /// Sorted and deduplicated, so sides that mean the same thing compare equal.
    pub fn normalized(mut self) -> GuestIpv6 {
        self.addrs.sort_unstable();
        self.addrs.dedup();
        self.routed_prefixes.sort_unstable();
        self.routed_prefixes.dedup();
        self
    }

    /// Only the EUI-64 address: what a guest gets when it asks for nothing explicit.
    pub fn is_default(&self) -> bool {
        self.eui64 && self.addrs.is_empty() && self.routed_prefixes.is_empty()
    }

    /// Checks that need no network (the router checks the rest against subnet6).
    pub fn validate(&self) -> Result<(), String> {
        if self.addrs.is_empty() && !self.eui64 {
            return Err("no IPv6 address: give one or ask for the EUI-64 address".into());
        }
        if self.addrs.len() > MAX_GUEST_ADDRESSES
            || self.routed_prefixes.len() > MAX_GUEST_ADDRESSES
        {
            return Err(format!(
                "too many IPv6 addresses or prefixes (at most {MAX_GUEST_ADDRESSES} each)"
            ));
        }
        for a in &self.addrs {
            let seg = a.segments()[0];
            if a.is_unspecified() || a.is_loopback() || a.is_multicast() || seg & 0xffc0 == 0xfe80 {
                return Err(format!(
                    "{a} is not a global unicast address (a guest's link-local address is \
                     derived from its MAC)"
                ));
            }
        }
        for p in &self.routed_prefixes {
            if p.prefix_len() == 0 || p.addr().is_multicast() {
                return Err(format!("IPv6 prefix {p} cannot be routed to a guest"));
            }
        }
        Ok(())
    }
}

/// The answer to `show ipv6`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Report {
    /// Networks with an IPv6 side.
    pub networks: Vec<Ipv6NetworkInfo>,
    /// What the router sent on its own (all networks).
    pub sent: Ipv6Sent,
}

/// One network's IPv6 side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6NetworkInfo {
    /// The network.
    pub network: String,
    /// Its subnet6.
    pub subnet6: String,
    /// Its gateway6.
    pub gateway6: Ipv6Addr,
    /// The router's link-local address toward guests (their default router).
    pub guest_ll: Ipv6Addr,
    /// The router's link-local address on the VLAN.
    pub uplink_ll: Ipv6Addr,
    /// The router's own address in subnet6 (`source6`), if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source6: Option<Ipv6Addr>,
    /// Whether Router Advertisements are sent.
    pub router_advertisements: bool,
    /// Guests and their IPv6 side.
    pub guests: Vec<Guest6Info>,
    /// The uplink's IPv6 neighbor cache.
    pub neighbors: Vec<Neighbor6Row>,
}

/// A guest's IPv6 side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest6Info {
    /// The guest's tap.
    pub tap: String,
    /// Its addresses (answered for on the VLAN while its port is up).
    pub addrs: Vec<Ipv6Addr>,
    /// Its link-local address.
    pub link_local: Option<Ipv6Addr>,
    /// Prefixes routed to it.
    pub prefixes: Vec<String>,
    /// Why its IPv6 side was refused when it was added, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// One IPv6 neighbor cache entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbor6Row {
    /// The neighbor.
    pub addr: Ipv6Addr,
    /// NUD state (`REACHABLE`, ...).
    pub state: String,
    /// Its MAC, if known.
    pub mac: Option<String>,
    /// Frames waiting for it.
    pub queued: u32,
}

/// Counts of what the IPv6 side sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Sent {
    /// Neighbor Advertisements answering solicitations.
    pub na_answered: u64,
    /// Unsolicited Neighbor Advertisements (guest added, attached, migrated in).
    pub na_unsolicited: u64,
    /// Neighbor Solicitations on uplinks.
    pub ns_sent: u64,
    /// Router Advertisements to guests.
    pub ra_sent: u64,
    /// ICMPv6 errors sent.
    pub errors_sent: u64,
    /// ICMPv6 errors held back by the rate limit.
    pub errors_limited: u64,
    /// Echo replies from the router's link-local addresses.
    pub echo_replies: u64,
    /// Stateless DHCPv6 Replies (DNS servers) to guests.
    #[serde(default)]
    pub dhcp6_replies: u64,
}

/// The answer to `explain ndp ADDRESS` for one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NdpExplanation {
    /// The network.
    pub network: String,
    /// The address asked about.
    pub addr: Ipv6Addr,
    /// Whether it is inside subnet6.
    pub in_subnet6: bool,
    /// The guest that owns it here, if any (`(down)` when its port is down).
    pub owner: Option<String>,
    /// A Neighbor Solicitation from the VLAN (the gateway).
    pub uplink: Decision,
    /// A duplicate-address-detection probe from the VLAN.
    pub uplink_dad: Decision,
    /// A solicitation from another guest of the network, if there is one.
    pub toward_guests: Option<Decision>,
    /// A solicitation from the owner itself, if there is one.
    pub from_owner: Option<Decision>,
}

#[cfg(test)]
mod tests {
    use crate::protocol::Request;

    #[test]
    fn requests_parse_and_are_checked() {
        let r = Request::parse_line(br#"{"version":1,"op":"explain_ndp","addr":"2001:db8::1"}"#)
            .expect("valid");
        assert_eq!(
            r,
            Request::ExplainNdp {
                addr: "2001:db8::1".parse().expect("addr"),
                network: None
            }
        );
        assert_eq!(r.op(), "explain_ndp");
        assert_eq!(
            Request::parse_line(r.to_line().trim_end().as_bytes()).ok(),
            Some(r)
        );
        let r = Request::parse_line(br#"{"version":1,"op":"show_ipv6","network":"public_90"}"#)
            .expect("valid");
        assert_eq!(r.op(), "show_ipv6");
        assert!(
            Request::parse_line(br#"{"version":1,"op":"explain_ndp","addr":"192.0.2.1"}"#).is_err()
        );
        assert!(Request::parse_line(br#"{"version":1,"op":"show_ipv6","network":"a b"}"#).is_err());
    }
}
