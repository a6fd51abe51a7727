//! IPv4 input and forwarding (RFC 1812 section 5): header validation, martian
//! filtering, longest-prefix match in the ingress network's table only, TTL, MTU, MAC
//! rewrite, next-hop resolution on the VLAN, and ICMP errors.

use wire::{checksum, EthernetAddress, Ipv4Addr, Ipv4Packet};

use super::arp_output::send_request;
use super::ip_output::rewrite;
use super::{guest_offload, ip_fragment};
use super::{Action, NextHopAddr, Parts, Router};
use crate::dhcp;
use crate::drop::DropReason;
use crate::guests::Guest;
use crate::icmp_error::{self, ErrorRoute, IcmpError};
use crate::ids::{GuestId, NetworkId, PortId};
use crate::neighbor::{EnqueueDrop, EnqueueOutcome};
use crate::network::Network;
use crate::outbox::Outbox;
use crate::routes::{NextHop, RouteTable};
use crate::spoof;
use crate::tables::{PortRole, Tables};
use crate::time::Instant;

const ETH_HEADER: usize = 14;
/// Ethernet plus an IPv4 header without options.
const HEADERS: usize = ETH_HEADER + Ipv4Packet::HEADER_LEN;

/// What validation learned about the IPv4 header.
#[derive(Clone, Copy, Debug)]
struct IpMeta {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    total_len: usize,
    dont_frag: bool,
    /// IPv4 protocol number.
    protocol: u8,
}

/// IPv4 protocol numbers the guest offloads care about.
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// Addresses that define no single reachable host (RFC 1812 5.3.7, 4.2.2.11): "this"
/// network (0/8), loopback (127/8), multicast and class E / limited broadcast.
/// `first` is the address's first octet.
#[inline(always)]
fn is_martian(first: u8) -> bool {
    MARTIAN_FIRST_OCTET[usize::from(first)]
}

/// [`is_martian`] by first octet: 0, 127 and 224..=255.
const MARTIAN_FIRST_OCTET: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i == 0 || i == 127 || i >= 224;
        i += 1;
    }
    t
};

/// RFC 1812 5.2.2: a router MUST verify the version, header length, total length and
/// header checksum of every datagram it forwards; then RFC 1812 5.3.7 martian filters.
#[inline(always)]
fn validate(frame: &[u8]) -> Result<IpMeta, DropReason> {
    let payload = frame.get(ETH_HEADER..).ok_or(DropReason::Truncated)?;
    match payload.first_chunk::<{ Ipv4Packet::HEADER_LEN }>() {
        // Version 4 without options, nearly every datagram: the same checks on a
        // fixed-size header (IHL is 5, so only the total length is left to check).
        Some(h) if h[0] == 0x45 => {
            let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            if total_len < Ipv4Packet::HEADER_LEN || payload.len() < total_len {
                return Err(DropReason::Ipv4Malformed);
            }
            if checksum::header20(h) != 0xffff {
                return Err(DropReason::Ipv4BadChecksum);
            }
            // One branch for both addresses in the common case.
            if is_martian(h[12]) | is_martian(h[16]) {
                return Err(if is_martian(h[12]) {
                    DropReason::MartianSource
                } else {
                    DropReason::MartianDestination
                });
            }
            Ok(IpMeta {
                src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
                dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
                ttl: h[8],
                total_len,
                dont_frag: h[6] & 0x40 != 0,
                protocol: h[9],
            })
        }
        _ => validate_general(payload),
    }
}

/// [`validate`] for headers with options or a wrong version.
#[cold]
#[inline(never)]
fn validate_general(payload: &[u8]) -> Result<IpMeta, DropReason> {
    let ip = Ipv4Packet::new_checked(payload).map_err(|_| DropReason::Ipv4Malformed)?;
    if ip.version() != 4 {
        return Err(DropReason::Ipv4Malformed);
    }
    if !ip.verify_checksum() {
        return Err(DropReason::Ipv4BadChecksum);
    }
    let meta = IpMeta {
        src: ip.src_addr(),
        dst: ip.dst_addr(),
        ttl: ip.ttl(),
        total_len: ip.total_len() as usize,
        dont_frag: ip.dont_frag(),
        protocol: u8::from(ip.protocol()),
    };
    if is_martian(meta.src.octets()[0]) {
        return Err(DropReason::MartianSource);
    }
    if is_martian(meta.dst.octets()[0]) {
        return Err(DropReason::MartianDestination);
    }
    Ok(meta)
}

/// Egress checks shared by every forwarded datagram: TTL (RFC 1812 5.3.1) then MTU
/// (RFC 1812 5.2.6, RFC 1191): larger than the MTU with DF set is an error; with DF
/// clear it passes, to be fragmented. Returns the error to send, if any, with the drop
/// reason.
#[inline]
fn egress_check(meta: &IpMeta, gso: bool, mtu: u16) -> Result<(), (DropReason, Option<IcmpError>)> {
    if meta.ttl <= 1 {
        return Err((DropReason::TtlExceeded, Some(IcmpError::TtlExceeded)));
    }
    // A guest's TCP super-frame is segmented, not fragmented: no MTU error for it. With
    // DF clear a larger datagram is fragmented after the rewrite ([`oversized_out`]).
    if meta.total_len > mtu as usize && !gso && meta.dont_frag {
        return Err((
            DropReason::FragmentationNeeded,
            Some(IcmpError::FragmentationNeeded { mtu }),
        ));
    }
    Ok(())
}

/// The destination and source MACs of a frame (at least [`ETH_HEADER`] bytes long, as
/// [`super::Router::process`] checked). Copied as whole 6-byte arrays, so that comparing
/// them is two loads and compares, not six.
#[inline(always)]
fn macs(frame: &[u8]) -> (EthernetAddress, EthernetAddress) {
    let Some(h) = frame.first_chunk::<12>() else {
        return (EthernetAddress::ZERO, EthernetAddress::ZERO);
    };
    let dst = h.first_chunk::<6>().copied().unwrap_or_default();
    let src = h.last_chunk::<6>().copied().unwrap_or_default();
    (EthernetAddress(dst), EthernetAddress(src))
}

/// Which side an ICMP error goes back to.
#[derive(Clone, Copy)]
enum Side {
    Uplink,
    Guest,
}

/// Where a datagram came from, for ICMP errors about it.
#[derive(Clone, Copy)]
struct Ingress<'a> {
    network: &'a Network,
    port: PortId,
    side: Side,
    /// The previous hop's MAC: the frame's source MAC as received.
    prev_hop: EthernetAddress,
}

/// Send an ICMP error about the datagram in `frame` back out of the ingress port, if
/// RFC 1812 allows it, the rate limit has a token, and the side has a source address:
/// toward guests the gateway's address (the guest's view of its router); toward the VLAN
/// the network's configured source address, or nothing.
#[cold]
#[inline(never)]
fn icmp_back(
    parts: &mut Parts<'_>,
    ingress: &Ingress<'_>,
    frame: &[u8],
    error: IcmpError,
    now: Instant,
    out: &mut Outbox,
) {
    let ip_bytes = &frame[ETH_HEADER..];
    let ip = Ipv4Packet::new_unchecked(ip_bytes);
    if !icmp_error::may_send_error(&ip, false) {
        return;
    }
    let network = ingress.network;
    let (src_mac, src_ip) = match ingress.side {
        Side::Guest => (network.guest_mac, Some(network.gateway)),
        Side::Uplink => (network.uplink_mac, network.arp_source),
    };
    let counters = parts.counters.port_mut(ingress.port);
    let Some(src_ip) = src_ip else {
        counters.icmp_errors_suppressed += 1;
        return;
    };
    if !parts.icmp_limit.try_take(now) {
        counters.icmp_errors_suppressed += 1;
        return;
    }
    counters.icmp_errors_sent += 1;
    let total = (ip.total_len() as usize).min(ip_bytes.len());
    let route = ErrorRoute {
        port: ingress.port,
        src_mac,
        dst_mac: ingress.prev_hop,
        src_ip,
    };
    icmp_error::emit_error(out, route, &ip_bytes[..total], error);
}

/// IPv4 received on the uplink of `net`: only guests are reachable from here.
#[inline]
pub(super) fn from_uplink(
    router: &mut Router,
    net: NetworkId,
    port: PortId,
    frame: &mut [u8],
    now: Instant,
    out: &mut Outbox,
) -> Action {
    let mut parts = router.parts();
    let Some((network, routes)) = parts.tables.network_and_routes(net) else {
        return Action::Drop(DropReason::UnknownPort);
    };
    from_uplink_in(&mut parts, network, routes, port, frame, now, out)
}

/// [`from_uplink`] with the network and its route table already looked up.
#[inline(always)]
pub(super) fn from_uplink_in(
    parts: &mut Parts<'_>,
    network: &Network,
    routes: &RouteTable,
    port: PortId,
    frame: &mut [u8],
    now: Instant,
    out: &mut Outbox,
) -> Action {
    let tables = parts.tables;
    let (dst_mac, prev_hop) = macs(frame);
    if dst_mac != network.uplink_mac {
        // RFC 1812 5.3.4: unicast IP received as link-layer broadcast is discarded.
        return Action::Drop(DropReason::NotForUs);
    }
    let meta = match validate(frame) {
        Ok(m) => m,
        Err(reason) => return Action::Drop(reason),
    };
    // Built only on the error paths that need it.
    let ingress = move || Ingress {
        network,
        port,
        side: Side::Uplink,
        prev_hop,
    };
    if Some(meta.dst) == network.arp_source {
        return Action::Drop(DropReason::LocalDelivery);
    }
    let Some(next_hop) = routes.next_hop(meta.dst) else {
        return drop_with_error(
            parts,
            &ingress(),
            frame,
            DropReason::NoRoute,
            IcmpError::NetUnreachable,
            now,
            out,
        );
    };
    let NextHop::Guest(gid) = next_hop else {
        return Action::Drop(DropReason::Hairpin);
    };
    let Some(guest) = tables.guests().by_id(gid).filter(|g| g.up) else {
        return drop_with_error(
            parts,
            &ingress(),
            frame,
            DropReason::DestinationGuestDown,
            IcmpError::HostUnreachable,
            now,
            out,
        );
    };
    if let Err((reason, error)) = egress_check(&meta, false, network.mtu) {
        return egress_drop(parts, &ingress(), frame, reason, error, now, out);
    }
    rewrite(frame, network.guest_mac, guest.mac);
    if meta.total_len > usize::from(network.mtu) {
        return oversized_out(parts, frame, meta, false, network.mtu, guest.port, out);
    }
    Action::Forward(guest.port)
}

/// What IPv4 from one guest port needs from the tables: looked up once per frame by
/// [`from_guest`], or once per burst by [`super::Router::process_burst`].
#[derive(Clone, Copy)]
pub(super) struct GuestIngress<'a> {
    guest: &'a Guest,
    network: &'a Network,
    routes: &'a RouteTable,
}

impl<'a> GuestIngress<'a> {
    /// The guest `gid` if it is up, with its network and route table.
    #[inline(always)]
    pub(super) fn new(tables: &'a Tables, gid: GuestId) -> Result<Self, DropReason> {
        let Some(guest) = tables.guests().by_id(gid).filter(|g| g.up) else {
            return Err(DropReason::GuestDown);
        };
        let Some((network, routes)) = tables.network_and_routes(guest.network) else {
            return Err(DropReason::GuestDown);
        };
        Ok(GuestIngress {
            guest,
            network,
            routes,
        })
    }
}

/// IPv4 received from a guest: anti-spoofing, then routed in the guest's network only.
#[inline]
pub(super) fn from_guest(
    router: &mut Router,
    gid: GuestId,
    port: PortId,
    frame: &mut [u8],
    now: Instant,
    out: &mut Outbox,
) -> Action {
    let mut parts = router.parts();
    match GuestIngress::new(parts.tables, gid) {
        Ok(ctx) => from_guest_in(&mut parts, ctx, port, frame, now, out),
        Err(reason) => Action::Drop(reason),
    }
}

/// [`from_guest`] with the guest's context already looked up.
#[inline(always)]
pub(super) fn from_guest_in(
    parts: &mut Parts<'_>,
    ctx: GuestIngress<'_>,
    port: PortId,
    frame: &mut [u8],
    now: Instant,
    out: &mut Outbox,
) -> Action {
    let GuestIngress {
        guest,
        network,
        routes,
    } = ctx;
    let (dst_mac, src_mac) = macs(frame);
    if let Err(reason) = spoof::check_source_mac(guest, src_mac) {
        return Action::Drop(reason);
    }
    // DHCP to or from port 67 is the DHCP server's when it is on (crate::dhcp).
    if dhcp::is_dhcp(frame) {
        if let Some(action) = dhcp::from_guest(parts.dhcp, guest, network, port, frame, now, out) {
            return action;
        }
    }
    // A guest's port is point-to-point: every unicast frame it sends is for the router,
    // whatever destination MAC the guest put on it. A guest that cached another gateway
    // MAC (the kernel setup's tap MAC, another node's before a live migration) keeps its
    // traffic flowing while our gratuitous ARP moves its cache. Link-layer broadcast or
    // multicast carrying unicast IP is discarded (RFC 1812 5.3.4).
    if dst_mac.is_multicast() {
        return Action::Drop(DropReason::MartianDestination);
    }
    let meta = match validate(frame) {
        Ok(m) => m,
        Err(reason) => return Action::Drop(reason),
    };
    // The guest's own address is the common case; the full rule (extra prefixes too)
    // is spoof::check_source_ip.
    if !guest.has_ip(meta.src) {
        if let Err(reason) = spoof::check_source_ip(guest, meta.src) {
            return Action::Drop(reason);
        }
    }
    // Built only on the error paths that need it.
    let ingress = move || Ingress {
        network,
        port,
        side: Side::Guest,
        prev_hop: guest.mac,
    };
    let Some(next_hop) = routes.next_hop(meta.dst) else {
        return drop_with_error(
            parts,
            &ingress(),
            frame,
            DropReason::NoRoute,
            IcmpError::NetUnreachable,
            now,
            out,
        );
    };
    // Guest offloads: a TCP datagram larger than the MTU is a GSO super-frame, cut into
    // segments below; every other TCP/UDP datagram carries a partial checksum that is
    // completed here (crate::offload explains why).
    let gso = meta.protocol == PROTO_TCP && meta.total_len > usize::from(network.mtu);
    // Toward an uplink that takes GSO sends, a TCP segment keeps its partial checksum
    // here: coalesced with others it leaves with NEEDS_CSUM (the device completes it),
    // alone the dataplane completes it before AF_XDP (dataplane gso_tx).
    // A follower completes it always: the home may queue the frame or send it
    // through an uplink without GSO sends.
    let defer = meta.protocol == PROTO_TCP
        && !parts.follower
        && !matches!(next_hop, NextHop::Guest(_))
        && guest_offload::takes_gso(parts.gso_ports, network.uplink);
    if !gso && (meta.protocol == PROTO_TCP || meta.protocol == PROTO_UDP) {
        let checked = if defer {
            guest_offload::check_tcp_header(frame, meta.total_len)
        } else {
            complete_l4_checksum(frame, &meta)
        };
        if let Err(reason) = checked {
            return Action::Drop(reason);
        }
    }
    let next_hop = match next_hop {
        NextHop::Guest(other) => {
            return to_other_guest(parts, &ingress(), guest, other, meta, gso, frame, now, out)
        }
        NextHop::Gateway(gw) => gw,
        NextHop::Connected => meta.dst,
    };
    if network.is_subnet_broadcast(meta.dst) {
        // Directed broadcast: not forwarded (RFC 1812 5.3.5.2 default).
        return Action::Drop(DropReason::MartianDestination);
    }
    if let Err((reason, error)) = egress_check(&meta, gso, network.mtu) {
        return egress_drop(parts, &ingress(), frame, reason, error, now, out);
    }
    if parts.follower {
        // The home worker resolves next hops on the VLAN and rewrites the frame
        // (Router::set_follower).
        return Action::Resolve {
            port: network.uplink,
            next_hop: NextHopAddr::V4(next_hop),
        };
    }
    let Some(Some(cache)) = parts.neighbors.get_mut(network.id.0 as usize) else {
        return Action::Drop(DropReason::NoRoute);
    };
    if let Some(mac) = cache.lookup(next_hop, now) {
        rewrite(frame, network.uplink_mac, mac);
        if meta.total_len > usize::from(network.mtu) {
            return oversized_out(parts, frame, meta, gso, network.mtu, network.uplink, out);
        }
        return Action::Forward(network.uplink);
    }
    // Queued whole; a super-frame is segmented, a larger datagram fragmented, when it is
    // released, and it then leaves through AF_XDP: complete a deferred checksum now.
    if defer && !gso {
        if let Err(reason) = complete_l4_checksum(frame, &meta) {
            return Action::Drop(reason);
        }
    }
    resolve_next_hop(parts, &ingress(), next_hop, meta, frame, now, out)
}

/// The home worker's half of [`Action::Resolve`] for IPv4 ([`Router::output_resolved`]):
/// a datagram a follower received on `ingress` and decided to send out of `net`'s
/// uplink toward `next_hop`, as received and with its checksum complete. From here on
/// as in [`from_guest_in`]: neighbor lookup, MAC rewrite and TTL decrement, or a copy
/// queued while ARP resolves the next hop (rewritten when released); super-frames and
/// larger datagrams segmented or fragmented; an unresolvable next hop answered with
/// host unreachable toward `ingress`. The datagram is validated again (RFC 1812 5.2.2)
/// as any frame crossing a boundary: a bad one is dropped, never trusted.
pub(super) fn output_resolved(
    parts: &mut Parts<'_>,
    net: NetworkId,
    ingress: PortId,
    next_hop: Ipv4Addr,
    frame: &mut [u8],
    now: Instant,
    out: &mut Outbox,
) -> Action {
    let tables = parts.tables;
    let Some(network) = tables.network(net) else {
        return Action::Drop(DropReason::UnknownPort);
    };
    let meta = match validate(frame) {
        Ok(m) => m,
        Err(reason) => return Action::Drop(reason),
    };
    let (_, prev_hop) = macs(frame);
    let side = match tables.port_role(ingress) {
        Some(PortRole::Uplink(_)) => Side::Uplink,
        _ => Side::Guest,
    };
    let ingress = Ingress {
        network,
        port: ingress,
        side,
        prev_hop,
    };
    let gso = meta.protocol == PROTO_TCP && meta.total_len > usize::from(network.mtu);
    let Some(Some(cache)) = parts.neighbors.get_mut(network.id.0 as usize) else {
        return Action::Drop(DropReason::NoRoute);
    };
    if let Some(mac) = cache.lookup(next_hop, now) {
        rewrite(frame, network.uplink_mac, mac);
        if meta.total_len > usize::from(network.mtu) {
            return oversized_out(parts, frame, meta, gso, network.mtu, network.uplink, out);
        }
        return Action::Forward(network.uplink);
    }
    resolve_next_hop(parts, &ingress, next_hop, meta, frame, now, out)
}

/// Complete the TCP/UDP checksum of a guest datagram that [`validate`] accepted:
/// exactly what [`guest_offload::complete_checksum`] (that is,
/// [`crate::offload::complete_l4_checksum`]) does, computed inline for the common
/// case (a 20-byte IPv4 header, not a fragment) without parsing the IPv4 header again.
/// Anything else takes the general function. `router::tests` checks both agree on
/// random segments, valid and not.
#[inline(always)]
fn complete_l4_checksum(frame: &mut [u8], meta: &IpMeta) -> Result<(), DropReason> {
    let end = ETH_HEADER + meta.total_len;
    let plain = match frame.get(..HEADERS) {
        // IHL 5, and neither MF nor a fragment offset.
        Some(h) => h[ETH_HEADER] == 0x45 && u16::from_be_bytes([h[20], h[21]]) & 0x3fff == 0,
        None => false,
    };
    let l4 = match frame.get_mut(HEADERS..end) {
        Some(l4) if plain => l4,
        _ => return guest_offload::complete_checksum(frame, meta.total_len),
    };
    let (src, dst) = (meta.src, meta.dst);
    match meta.protocol {
        PROTO_UDP => {
            // As UdpPacket::check_len: header present, 8 <= UDP length <= segment.
            let Some(&h) = l4.first_chunk::<8>() else {
                return Err(DropReason::L4Malformed);
            };
            let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            if len < 8 || len > l4.len() {
                return Err(DropReason::L4Malformed);
            }
            // RFC 768: 0 means the sender computed no checksum; it stays 0.
            if h[6] == 0 && h[7] == 0 {
                return Ok(());
            }
            // A computed 0 is sent as 0xffff (RFC 768).
            let ck = l4_checksum(src, dst, PROTO_UDP, &mut l4[..len], 6);
            let ck = if ck == 0 { 0xffff } else { ck };
            l4[6..8].copy_from_slice(&ck.to_be_bytes());
            Ok(())
        }
        PROTO_TCP => {
            // As TcpPacket::check_len: 20 <= data offset <= segment.
            let Some(h) = l4.first_chunk::<20>() else {
                return Err(DropReason::L4Malformed);
            };
            let header_len = usize::from(h[12] >> 4) * 4;
            if header_len < 20 || header_len > l4.len() {
                return Err(DropReason::L4Malformed);
            }
            let ck = l4_checksum(src, dst, PROTO_TCP, l4, 16);
            l4[16..18].copy_from_slice(&ck.to_be_bytes());
            Ok(())
        }
        _ => guest_offload::complete_checksum(frame, meta.total_len),
    }
}

/// [`validate`] then [`complete_l4_checksum`], for tests: `None` if validation fails.
#[cfg(test)]
pub(super) fn validate_and_complete_l4(frame: &mut [u8]) -> Option<Result<(), DropReason>> {
    let meta = validate(frame).ok()?;
    Some(complete_l4_checksum(frame, &meta))
}

/// The TCP/UDP checksum of `segment` (RFC 768, RFC 793 3.1: pseudo-header, then the
/// segment with its checksum field, at `at`, taken as 0), not yet stored.
#[inline(always)]
fn l4_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &mut [u8], at: usize) -> u16 {
    if let Some(field) = segment.get_mut(at..at + 2) {
        field.fill(0);
    }
    let len = segment.len() as u32;
    !checksum::combine(&[
        checksum::pseudo_header(src, dst, protocol, len),
        checksum::data(segment),
    ])
}

/// Send a rewritten datagram larger than `mtu` out of `port`: a guest's TCP super-frame
/// (`gso`) as MTU-sized segments, anything else with DF clear as fragments (RFC 1812
/// 5.2.6, RFC 791 3.2). Consumed: the pieces are on `out`.
#[cold]
#[inline(never)]
fn oversized_out(
    parts: &mut Parts<'_>,
    frame: &[u8],
    meta: IpMeta,
    gso: bool,
    mtu: u16,
    port: PortId,
    out: &mut Outbox,
) -> Action {
    if gso {
        // An egress that takes GSO gets the super-frame whole, cut by its device.
        if guest_offload::forward_whole(parts.gso_ports, frame, meta.total_len, mtu, port) {
            return Action::Forward(port);
        }
        match guest_offload::segment(frame, meta.total_len, mtu, port, out) {
            Ok(_) => return Action::Consumed,
            // Not a segmentable super-frame (a TCP fragment, say): with DF clear it can
            // still be fragmented.
            Err(reason) if meta.dont_frag => return Action::Drop(reason),
            Err(_) => {}
        }
    }
    match ip_fragment::fragment(frame, meta.total_len, mtu, port, parts.counters, out) {
        Ok(_) => Action::Consumed,
        Err(reason) => Action::Drop(reason),
    }
}

/// Drop a datagram and send `error` about it back to where it came from.
#[cold]
#[inline(never)]
fn drop_with_error(
    parts: &mut Parts<'_>,
    ingress: &Ingress<'_>,
    frame: &[u8],
    reason: DropReason,
    error: IcmpError,
    now: Instant,
    out: &mut Outbox,
) -> Action {
    icmp_back(parts, ingress, frame, error, now, out);
    Action::Drop(reason)
}

/// Drop a datagram that failed [`egress_check`], with its ICMP error if it has one.
#[cold]
#[inline(never)]
fn egress_drop(
    parts: &mut Parts<'_>,
    ingress: &Ingress<'_>,
    frame: &[u8],
    reason: DropReason,
    error: Option<IcmpError>,
    now: Instant,
    out: &mut Outbox,
) -> Action {
    if let Some(error) = error {
        icmp_back(parts, ingress, frame, error, now, out);
    }
    Action::Drop(reason)
}

/// The next hop on the VLAN has no usable MAC yet: keep a copy of the datagram as
/// received in the neighbor's bounded queue (RFC 1122 2.3.2.2) and ask; it is rewritten
/// when released.
#[inline(never)]
fn resolve_next_hop(
    parts: &mut Parts<'_>,
    ingress: &Ingress<'_>,
    next_hop: Ipv4Addr,
    meta: IpMeta,
    frame: &mut [u8],
    now: Instant,
    out: &mut Outbox,
) -> Action {
    let network = ingress.network;
    let Some(Some(cache)) = parts.neighbors.get_mut(network.id.0 as usize) else {
        return Action::Drop(DropReason::NoRoute);
    };
    let len = (ETH_HEADER + meta.total_len).min(frame.len());
    match cache.enqueue(next_hop, &frame[..len], now) {
        EnqueueOutcome::Queued { dropped, solicit } => {
            if dropped > 0 {
                parts.counters.port_mut(ingress.port).drops
                    [DropReason::NeighborQueueFull.index()] += u64::from(dropped);
            }
            if let Some(solicit) = solicit {
                send_request(network, solicit, parts.counters, out);
            }
            Action::Consumed
        }
        EnqueueOutcome::Resolved(mac) => {
            rewrite(frame, network.uplink_mac, mac);
            if meta.total_len > usize::from(network.mtu) {
                let gso = meta.protocol == PROTO_TCP;
                return oversized_out(parts, frame, meta, gso, network.mtu, network.uplink, out);
            }
            Action::Forward(network.uplink)
        }
        EnqueueOutcome::Dropped(EnqueueDrop::ResolutionFailed) => drop_with_error(
            parts,
            ingress,
            frame,
            DropReason::NeighborUnresolved,
            IcmpError::HostUnreachable,
            now,
            out,
        ),
        EnqueueOutcome::Dropped(_) => Action::Drop(DropReason::NeighborTableFull),
    }
}

/// Guest to guest, routed at layer 3 through the router (never bridged).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn to_other_guest(
    parts: &mut Parts<'_>,
    ingress: &Ingress<'_>,
    guest: &Guest,
    other: GuestId,
    meta: IpMeta,
    gso: bool,
    frame: &mut [u8],
    now: Instant,
    out: &mut Outbox,
) -> Action {
    if other == guest.id {
        return Action::Drop(DropReason::Hairpin);
    }
    let Some(dest) = parts.tables.guests().by_id(other).filter(|g| g.up) else {
        return drop_with_error(
            parts,
            ingress,
            frame,
            DropReason::DestinationGuestDown,
            IcmpError::HostUnreachable,
            now,
            out,
        );
    };
    if let Err((reason, error)) = egress_check(&meta, gso, ingress.network.mtu) {
        return egress_drop(parts, ingress, frame, reason, error, now, out);
    }
    rewrite(frame, ingress.network.guest_mac, dest.mac);
    let mtu = ingress.network.mtu;
    if meta.total_len > usize::from(mtu) {
        return oversized_out(parts, frame, meta, gso, mtu, dest.port, out);
    }
    Action::Forward(dest.port)
}
