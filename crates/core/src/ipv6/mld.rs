//! MLDv2 reports on the VLAN for the hosted guests' solicited-node groups (RFC 3810).
//!
//! A VLAN switch that snoops MLD forwards a solicited-node multicast group only to the
//! ports that reported it. The router answers neighbor solicitations for its guests, so
//! it reports their groups (and its own link-local address's), unsolicited, when a guest
//! appears and periodically: a snooping switch then keeps sending the solicitations to
//! this node. (It does not answer queries: the reports are repeated well inside the
//! default Multicast Address Listening Interval, RFC 3810 9.4: 260 s.)
//!
//! A report (RFC 3810 5.2): hop limit 1, from a link-local address to ff02::16, with a
//! Hop-by-Hop Options header carrying Router Alert (RFC 2711), ICMPv6 type 143 and one
//! MODE_IS_EXCLUDE record with no sources per group ("I listen to this group").

use wire::icmpv6::Icmpv6Packet;
use wire::ipv6_addr::{multicast_mac, solicited_node, ALL_MLDV2_ROUTERS};
use wire::{Ipv6Addr, Ipv6Packet, Ipv6Repr, NextHeader};

use crate::network::Network;
use crate::outbox::Outbox;

/// Seconds between periodic reports (well inside the 260 s listening interval).
pub const REPORT_INTERVAL_SECS: u64 = 60;
/// MODE_IS_EXCLUDE (RFC 3810 5.2.12): listening to every source.
const MODE_IS_EXCLUDE: u8 = 2;
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
    let mut groups: Vec<Ipv6Addr> = addrs.iter().map(solicited_node).collect();
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
                r[0] = MODE_IS_EXCLUDE;
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
