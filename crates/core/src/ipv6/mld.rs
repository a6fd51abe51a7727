//! MLDv2 reports on the VLAN for the hosted guests' solicited-node groups (RFC 3810).
//!
//! A VLAN switch that snoops MLD forwards a solicited-node multicast group only to the
//! ports that reported it. The router answers neighbor solicitations for its guests, so
//! it reports their groups (and those of its own link-local address and source6),
//! unsolicited, when a guest appears and periodically (well inside the default Multicast
//! Address Listening Interval, RFC 3810 9.4: 260 s), and in answer to the VLAN's
//! queries ([`parse_query`]): a general query, or a specific query for one of its
//! groups, brings the reports within the query's Maximum Response Delay (RFC 3810 6.2).
//! When a guest is removed, the groups nothing else needs are left ([`push_leaves`]).
//! The reports are MLDv2 whatever the query's version (no MLDv1 compatibility mode).
//!
//! A report (RFC 3810 5.2): hop limit 1, from a link-local address to ff02::16, with a
//! Hop-by-Hop Options header carrying Router Alert (RFC 2711), ICMPv6 type 143 and one
//! MODE_IS_EXCLUDE record with no sources per group ("I listen to this group").

use std::time::Duration;

use wire::icmpv6::Icmpv6Packet;
use wire::ipv6_addr::{is_link_local, multicast_mac, solicited_node, ALL_MLDV2_ROUTERS};
use wire::{Ipv6Addr, Ipv6Packet, Ipv6Repr, NextHeader};

use crate::network::Network;
use crate::outbox::Outbox;

/// Seconds between periodic reports (well inside the 260 s listening interval).
pub const REPORT_INTERVAL_SECS: u64 = 60;
/// MODE_IS_EXCLUDE (RFC 3810 5.2.12): listening to every source.
const MODE_IS_EXCLUDE: u8 = 2;
/// CHANGE_TO_INCLUDE_MODE with no sources (RFC 3810 5.2.12, 6.1): no longer listening.
const CHANGE_TO_INCLUDE_MODE: u8 = 3;
/// Groups per report: 20 bytes each, within a 1280-byte IPv6 packet.
pub const MAX_RECORDS: usize = (1280 - 40 - 8 - 8) / 20;

const ETH: usize = 14;
const IP6: usize = 40;
const HBH: usize = 8;
const ICMP: usize = 8;

/// Queue the reports for the solicited-node groups of `addrs` (duplicates reported
/// once) on `network`'s uplink, from `src` (the router's VLAN link-local address).
/// Returns the number of reports.
pub fn push_reports(
    out: &mut Outbox,
    network: &Network,
    src: Ipv6Addr,
    addrs: &[Ipv6Addr],
) -> usize {
    let groups: Vec<Ipv6Addr> = addrs.iter().map(solicited_node).collect();
    push_records(out, network, src, groups, MODE_IS_EXCLUDE)
}

/// Queue a State Change Report saying the router stopped listening to `groups` (RFC 3810
/// 6.1: a CHANGE_TO_INCLUDE_MODE record with no sources per group), so that a snooping
/// switch stops forwarding them to the node at once. Returns the number of reports.
pub fn push_leaves(
    out: &mut Outbox,
    network: &Network,
    src: Ipv6Addr,
    groups: Vec<Ipv6Addr>,
) -> usize {
    push_records(out, network, src, groups, CHANGE_TO_INCLUDE_MODE)
}

fn push_records(
    out: &mut Outbox,
    network: &Network,
    src: Ipv6Addr,
    mut groups: Vec<Ipv6Addr>,
    record_type: u8,
) -> usize {
    groups.sort_unstable();
    groups.dedup();
    let mut sent = 0;
    for chunk in groups.chunks(MAX_RECORDS) {
        let icmp_len = ICMP + 20 * chunk.len();
        out.push_with(network.uplink, ETH + IP6 + HBH + icmp_len, |buf| {
            buf[0..6].copy_from_slice(&multicast_mac(&ALL_MLDV2_ROUTERS).0);
            buf[6..12].copy_from_slice(&network.uplink_mac.0);
            buf[12..14].copy_from_slice(&[0x86, 0xdd]);
            Ipv6Repr {
                src_addr: src,
                dst_addr: ALL_MLDV2_ROUTERS,
                next_header: NextHeader::HopByHop,
                payload_len: (HBH + icmp_len) as u16,
                hop_limit: 1,
            }
            .emit(&mut Ipv6Packet::new_unchecked(&mut buf[ETH..]));
            // Hop-by-Hop: next header ICMPv6, length 0 (8 bytes), Router Alert (type 5,
            // length 2, value 0: MLD), PadN of 0 bytes.
            buf[ETH + IP6..ETH + IP6 + HBH].copy_from_slice(&[58, 0, 5, 2, 0, 0, 1, 0]);
            let icmp = &mut buf[ETH + IP6 + HBH..];
            icmp[0] = 143;
            icmp[4..6].fill(0);
            icmp[6..8].copy_from_slice(&(chunk.len() as u16).to_be_bytes());
            for (i, g) in chunk.iter().enumerate() {
                let r = &mut icmp[ICMP + 20 * i..ICMP + 20 * (i + 1)];
                r[0] = record_type;
                r[1] = 0;
                r[2..4].fill(0);
                r[4..20].copy_from_slice(&g.octets());
            }
            Icmpv6Packet::new_unchecked(&mut icmp[..icmp_len])
                .fill_checksum(&src, &ALL_MLDV2_ROUTERS);
        });
        sent += 1;
    }
    sent
}

/// A Multicast Listener Query heard on the VLAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MldQuery {
    /// The group asked about; `::` for a General Query.
    pub group: Ipv6Addr,
    /// How long a listener may wait before it answers.
    pub max_delay: Duration,
}

/// Longest wait before answering a query, whatever it allows: switches age a group on
/// a specific query after about 2 s (RFC 3810 9.14: Last Listener Query Time).
const MAX_RESPONSE_CAP: Duration = Duration::from_millis(1000);

/// A query from the ICMPv6 message `icmp` of packet `ip`, or `None` when it is not a
/// valid one: RFC 3810 5.1.14 ("Queries ... MUST be discarded" unless the source is
/// link-local; hop limit 1 as every MLD message, RFC 2710 3), a body of 24 bytes
/// (MLDv1, RFC 2710 3) or at least 28 (MLDv2, RFC 3810 5.1), a valid checksum, and a
/// group that is multicast or unspecified.
pub fn parse_query(ip: &Ipv6Repr, icmp: &[u8]) -> Option<MldQuery> {
    if icmp.first() != Some(&130) || !is_link_local(&ip.src_addr) || ip.hop_limit != 1 {
        return None;
    }
    let v1 = icmp.len() == 24;
    if !v1 && icmp.len() < 28 {
        return None;
    }
    let p = Icmpv6Packet::new_checked(icmp).ok()?;
    if !p.verify_checksum(&ip.src_addr, &ip.dst_addr) {
        return None;
    }
    let mut g = [0u8; 16];
    g.copy_from_slice(icmp.get(8..24)?);
    let group = Ipv6Addr::from(g);
    if !group.is_unspecified() && !group.is_multicast() {
        return None;
    }
    let code = u16::from_be_bytes([icmp[4], icmp[5]]);
    let max_delay = if v1 {
        Duration::from_millis(u64::from(code))
    } else {
        max_response(code)
    };
    Some(MldQuery { group, max_delay })
}

/// RFC 3810 5.1.3: a Maximum Response Code below 32768 is milliseconds; above, a
/// floating-point value `(mant | 0x1000) << (exp + 3)`.
pub fn max_response(code: u16) -> Duration {
    if code < 0x8000 {
        return Duration::from_millis(u64::from(code));
    }
    let exp = u32::from((code >> 12) & 0x7);
    let mant = u64::from(code & 0x0fff);
    Duration::from_millis((mant | 0x1000) << (exp + 3))
}

/// When to answer a query with `max_delay`, from a `seed` (RFC 3810 6.2: "a random value
/// ... [0, Maximum Response Delay]", so that nodes do not all answer at once); at most
/// one second (`MAX_RESPONSE_CAP`).
pub fn response_delay(max_delay: Duration, seed: u64) -> Duration {
    let bound = max_delay.min(MAX_RESPONSE_CAP).as_millis() as u64;
    let mut x = seed | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    Duration::from_millis(x % bound.max(1))
}

/// Whether a query for `group` is about one of the solicited-node groups of `addrs`
/// (a General Query is about all).
pub fn queries_us(group: Ipv6Addr, addrs: &[Ipv6Addr]) -> bool {
    group.is_unspecified() || addrs.iter().any(|a| solicited_node(a) == group)
}
