//! Building the IPv6 frames the router originates: Ethernet + IPv6 + ICMPv6 (NDP
//! messages, errors, echo replies), written straight into an [`Outbox`] buffer.

use wire::icmpv6::Icmpv6Packet;
use wire::ndp::neighbor_flags;
use wire::ndp_option::NdpOptionRepr;
use wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Icmpv6Repr, Ipv6Addr, Ipv6Packet,
    Ipv6Repr, NdpRepr, NextHeader,
};

use crate::ids::PortId;
use crate::outbox::Outbox;

/// Hop limit of every NDP message (RFC 4861 6.1.2, 7.1.1: receivers discard others).
pub const NDP_HOP_LIMIT: u8 = 255;
/// Hop limit of other messages the router originates.
pub const DEFAULT_HOP_LIMIT: u8 = 64;

const ETH: usize = 14;
const IP6: usize = 40;

/// Layer-2 and layer-3 addressing of an originated message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addressing {
    /// Port to send on.
    pub port: PortId,
    /// Our MAC on that port.
    pub src_mac: EthernetAddress,
    /// Destination MAC.
    pub dst_mac: EthernetAddress,
    /// Source address.
    pub src_ip: Ipv6Addr,
    /// Destination address.
    pub dst_ip: Ipv6Addr,
    /// Hop limit.
    pub hop_limit: u8,
}

/// Write Ethernet and IPv6 headers for an ICMPv6 message of `icmp_len` bytes and return
/// the ICMPv6 part of `buf`.
fn headers<'b>(buf: &'b mut [u8], a: &Addressing, icmp_len: usize) -> &'b mut [u8] {
    EthernetRepr {
        src_addr: a.src_mac,
        dst_addr: a.dst_mac,
        ethertype: EtherType::Ipv6,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
    Ipv6Repr {
        src_addr: a.src_ip,
        dst_addr: a.dst_ip,
        next_header: NextHeader::Icmpv6,
        payload_len: icmp_len as u16,
        hop_limit: a.hop_limit,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut buf[ETH..]));
    &mut buf[ETH + IP6..ETH + IP6 + icmp_len]
}

/// Queue an NDP message.
pub fn push_ndp(out: &mut Outbox, a: &Addressing, ndp: &NdpRepr<'_>) {
    let icmp_len = ndp.buffer_len();
    out.push_with(a.port, ETH + IP6 + icmp_len, |buf| {
        let icmp = headers(buf, a, icmp_len);
        ndp.emit(&a.src_ip, &a.dst_ip, &mut Icmpv6Packet::new_unchecked(icmp));
    });
}

/// Queue an echo reply or error message.
pub fn push_icmpv6(out: &mut Outbox, a: &Addressing, repr: &Icmpv6Repr<'_>) {
    let icmp_len = repr.buffer_len();
    out.push_with(a.port, ETH + IP6 + icmp_len, |buf| {
        let icmp = headers(buf, a, icmp_len);
        repr.emit(&a.src_ip, &a.dst_ip, &mut Icmpv6Packet::new_unchecked(icmp));
    });
}

/// Queue a Neighbor Advertisement for `target` with our `lladdr` as the Target
/// Link-Layer Address option (RFC 4861 4.4, 7.2.4).
pub fn push_na(
    out: &mut Outbox,
    a: &Addressing,
    target: Ipv6Addr,
    flags: u8,
    lladdr: EthernetAddress,
) {
    let mut opt = [0u8; 8];
    NdpOptionRepr::TargetLinkLayerAddr(lladdr).emit(&mut opt);
    push_ndp(
        out,
        a,
        &NdpRepr::NeighborAdvert {
            flags,
            target,
            options: &opt,
        },
    );
}

/// Queue a Neighbor Solicitation for `target` with our `lladdr` as the Source Link-Layer
/// Address option (RFC 4861 4.3, 7.2.2).
pub fn push_ns(out: &mut Outbox, a: &Addressing, target: Ipv6Addr, lladdr: EthernetAddress) {
    let mut opt = [0u8; 8];
    NdpOptionRepr::SourceLinkLayerAddr(lladdr).emit(&mut opt);
    push_ndp(
        out,
        a,
        &NdpRepr::NeighborSolicit {
            target,
            options: &opt,
        },
    );
}

/// Flags of an unsolicited advertisement for an address we took over (a guest added or
/// migrated in): Override set so caches update at once (RFC 4861 7.2.6), Solicited clear.
pub const UNSOLICITED_FLAGS: u8 = neighbor_flags::OVERRIDE;
