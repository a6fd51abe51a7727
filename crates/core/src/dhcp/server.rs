//! The server's decisions: which messages from a guest are DHCP for us, what each gets
//! (RFC 2131 section 4.3), and which are refused and why.

use wire::dhcp::{self, BootpOp, ClientRepr, DhcpPacket, MessageType};
use wire::{Ipv4Addr, Ipv4Packet, UdpPacket};

use super::reply::{self, ReplyContent};
use super::state::{GuestDhcp, LastRequest, Lease, NakReason, Outcome, RequestState};
use super::DhcpServer;
use crate::drop::DropReason;
use crate::guests::Guest;
use crate::ids::PortId;
use crate::network::Network;
use crate::outbox::Outbox;
use crate::router::Action;
use crate::time::Instant;

const ETH_HEADER: usize = 14;
const PROTO_UDP: u8 = 17;

/// The UDP ports of an IPv4 frame (Ethernet header first, EtherType already checked),
/// read at the offset the header length gives; `None` if it is not UDP or too short.
/// Cheap enough for every guest frame: one compare for anything but UDP.
#[inline(always)]
pub(crate) fn udp_ports(frame: &[u8]) -> Option<(u16, u16)> {
    if *frame.get(ETH_HEADER + 9)? != PROTO_UDP {
        return None;
    }
    let ihl = usize::from(frame.get(ETH_HEADER)? & 0x0f) * 4;
    let p = frame.get(ETH_HEADER + ihl..ETH_HEADER + ihl + 4)?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

/// Whether a guest frame is for the DHCP stage: UDP to the server port (a client
/// message) or from it to the client port (a server message a guest must not send).
#[inline(always)]
pub(crate) fn is_dhcp(frame: &[u8]) -> bool {
    matches!(
        udp_ports(frame),
        Some((_, dhcp::SERVER_PORT)) | Some((dhcp::SERVER_PORT, dhcp::CLIENT_PORT))
    )
}

/// The DHCP stage for a frame from `guest` on `port` that [`is_dhcp`]. `None`: not
/// ours (DHCP is off on the guest's network, or the frame is a later fragment whose
/// bytes only look like ports): the frame goes on through the forwarding path, which
/// drops DHCP as martian as it always did. Otherwise the action: `Consumed` with the
/// reply on `out`, or `Drop(reason)`; either way the guest's record says what happened.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn from_guest(
    server: &mut DhcpServer,
    guest: &Guest,
    network: &Network,
    port: PortId,
    frame: &[u8],
    now: Instant,
    out: &mut Outbox,
) -> Option<Action> {
    if !server.settings(network.id).enabled {
        return None;
    }
    let ip = Ipv4Packet::new_checked(frame.get(ETH_HEADER..)?).ok();
    if ip.as_ref().is_some_and(|ip| ip.frag_offset() != 0) {
        return None;
    }
    let state = server
        .guests
        .entry(guest.id)
        .or_insert_with(|| GuestDhcp::new(now));
    let mut last = LastRequest {
        at: now,
        message: None,
        xid: 0,
        outcome: Outcome::Dropped(DropReason::DhcpMalformed),
    };
    let outcome = decide(
        &mut server.counters,
        state,
        &server.hostnames,
        server
            .by_network
            .get(usize::from(network.id.0))
            .unwrap_or(&server.config.default),
        guest,
        network,
        port,
        ip,
        &mut last,
        now,
        out,
    );
    last.outcome = outcome;
    state.last = Some(last);
    if let Outcome::Declined(address) = outcome {
        state.declines += 1;
        if server.declines.len() < super::MAX_PENDING_DECLINES {
            server.declines.push((guest.name.clone(), address));
        }
    }
    Some(match outcome {
        Outcome::Dropped(reason) => Action::Drop(reason),
        _ => Action::Consumed,
    })
}

/// Everything after "it is DHCP and DHCP is on": validation, then the answer.
#[allow(clippy::too_many_arguments)]
fn decide(
    counters: &mut super::DhcpCounters,
    state: &mut GuestDhcp,
    hostnames: &std::collections::HashMap<String, String>,
    settings: &super::DhcpSettings,
    guest: &Guest,
    network: &Network,
    port: PortId,
    ip: Option<Ipv4Packet<&[u8]>>,
    last: &mut LastRequest,
    now: Instant,
    out: &mut Outbox,
) -> Outcome {
    use DropReason::*;
    let drop = Outcome::Dropped;
    // RFC 1812 5.2.2 checks, as for every datagram (the martian rules do not apply: a
    // client without an address sends from 0.0.0.0 to 255.255.255.255).
    let Some(ip) = ip else {
        return drop(Ipv4Malformed);
    };
    if ip.version() != 4 {
        return drop(Ipv4Malformed);
    }
    if !ip.verify_checksum() {
        return drop(Ipv4BadChecksum);
    }
    if ip.more_frags() {
        return drop(DhcpMalformed);
    }
    // The source is the guest's own address, or none yet.
    let src = ip.src_addr();
    if !src.is_unspecified() && !guest.has_ip(src) {
        return drop(SpoofedSourceIp);
    }
    // The UDP checksum is not verified: a guest's kernel leaves it partial (offloads,
    // see crate::offload) for renewals sent through its UDP socket.
    let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
        return drop(DhcpMalformed);
    };
    if udp.src_port() == dhcp::SERVER_PORT && udp.dst_port() == dhcp::CLIENT_PORT {
        // RFC 2131 4.1: server to client. A guest is never a server here.
        return drop(DhcpRogueServer);
    }
    let Ok(msg) = DhcpPacket::new_checked(udp.payload()) else {
        return drop(DhcpMalformed);
    };
    let Ok(req) = ClientRepr::parse(&msg) else {
        return drop(DhcpMalformed);
    };
    last.message = Some(req.message_type);
    last.xid = req.xid;
    counters.received(req.message_type);
    if req.op != BootpOp::Request || req.message_type.is_from_server() {
        return drop(DhcpRogueServer);
    }
    // nfdhcpd: "Received spoofed request from %s" when chaddr is not the binding's MAC.
    if req.htype != dhcp::HTYPE_ETHERNET || req.hlen != 6 || req.client_mac() != guest.mac {
        return drop(DhcpSpoofedChaddr);
    }
    // A guest is no relay agent (RFC 2131 4.1 "giaddr" is set by relays only).
    if !req.giaddr.is_unspecified() {
        return drop(DhcpMalformed);
    }
    if !state.limit.try_take(now) {
        return drop(DhcpRateLimited);
    }
    let server_id = network.gateway;
    // An IPv6-only guest has no IPv4 address to give: it gets nothing.
    let Some(&address) = guest.ips.first() else {
        return drop(DhcpNoAddress);
    };
    let hostname = hostnames.get(&guest.name).map(String::as_str);
    let mut send = |content: ReplyContent<'_>| {
        reply::queue(out, port, network, settings, guest, &req, &content);
        counters.sent(content.kind);
    };
    let offer = |kind| ReplyContent {
        kind,
        yiaddr: address,
        lease: true,
        options: true,
        hostname,
        message: None,
    };
    match req.message_type {
        // RFC 2131 4.3.1: the server chooses "the client's current address as recorded
        // in the client's current binding" — a guest has exactly one: its own.
        MessageType::Discover => {
            send(offer(MessageType::Offer));
            Outcome::Offered(address)
        }
        MessageType::Request => {
            let (state_name, asked) = match request_state(&req, ip.dst_addr()) {
                Ok(v) => v,
                Err(reason) => return drop(reason),
            };
            // RFC 2131 4.3.2, SELECTING: "If the DHCPREQUEST message contains a 'server
            // identifier' option, the message is in response to a DHCPOFFER message.
            // Otherwise, the message is a request to verify or extend an existing
            // lease." A client that selected another server is not answered.
            if state_name == RequestState::Selecting && req.server_id != Some(server_id) {
                return drop(DhcpOtherServer);
            }
            if asked != address {
                // INIT-REBOOT: "Server SHOULD send a DHCPNAK message to the client if
                // the 'requested IP address' is incorrect"; the same for any state here:
                // a guest may only ever have its own address.
                send(ReplyContent {
                    kind: MessageType::Nak,
                    yiaddr: Ipv4Addr::UNSPECIFIED,
                    lease: false,
                    options: false,
                    hostname: None,
                    message: Some("requested address is not this guest's"),
                });
                state.lease = None;
                return Outcome::Refused {
                    requested: asked,
                    state: state_name,
                    why: NakReason::NotYourAddress,
                };
            }
            send(offer(MessageType::Ack));
            let secs = settings.lease_times().lease;
            state.lease = Some(Lease {
                address,
                acked_at: now,
                expires: now + std::time::Duration::from_secs(u64::from(secs)),
            });
            Outcome::Acked(address, state_name)
        }
        // RFC 2131 4.3.5: "The server responds to a DHCPINFORM message by sending a
        // DHCPACK message directly to the address given in the 'ciaddr' field ... The
        // server MUST NOT send a lease expiration time to the client and SHOULD NOT fill
        // in 'yiaddr'." Only from the guest's own address.
        MessageType::Inform => {
            if !req.ciaddr.is_unspecified() && !guest.has_ip(req.ciaddr) {
                return drop(SpoofedSourceIp);
            }
            send(ReplyContent {
                kind: MessageType::Ack,
                yiaddr: Ipv4Addr::UNSPECIFIED,
                lease: false,
                options: true,
                hostname,
                message: None,
            });
            Outcome::Informed
        }
        // RFC 2131 4.3.4: "Upon receipt of a DHCPRELEASE message, the server marks the
        // network address as not allocated." Nothing is sent back.
        MessageType::Release => {
            state.lease = None;
            Outcome::Released
        }
        // RFC 2131 4.3.3: "the client has discovered through some other means that the
        // suggested network address is already in use. The server MUST mark the network
        // address as not available and SHOULD notify the local system administrator of
        // a possible configuration problem." The address is the guest's by
        // configuration, so nothing can be reallocated: it is counted and shown.
        MessageType::Decline => {
            state.lease = None;
            Outcome::Declined(req.requested_ip.unwrap_or(address))
        }
        _ => drop(DhcpMalformed),
    }
}

/// The client state of a DHCPREQUEST and the address it asks for (RFC 2131 4.3.2).
fn request_state(
    req: &ClientRepr<'_>,
    dst: Ipv4Addr,
) -> Result<(RequestState, Ipv4Addr), DropReason> {
    match (req.server_id, req.requested_ip, req.ciaddr.is_unspecified()) {
        // SELECTING: "'ciaddr' MUST be zero, 'requested IP address' MUST be filled in".
        (Some(_), Some(asked), true) => Ok((RequestState::Selecting, asked)),
        // INIT-REBOOT: "'server identifier' MUST NOT be filled in, 'requested IP
        // address' option MUST be filled in with client's notion of its previously
        // assigned address. 'ciaddr' MUST be zero."
        (None, Some(asked), true) => Ok((RequestState::InitReboot, asked)),
        // RENEWING / REBINDING: "'server identifier' MUST NOT be filled in, 'requested
        // IP address' option MUST NOT be filled in, 'ciaddr' MUST be filled in"; sent
        // unicast when renewing, broadcast when rebinding. Clients that also fill in
        // option 50 (when it agrees with 'ciaddr') or option 54 are accepted: the
        // address asked for is 'ciaddr' either way.
        (_, asked, false) if asked.is_none_or(|a| a == req.ciaddr) => {
            let s = if dst.is_broadcast() {
                RequestState::Rebinding
            } else {
                RequestState::Renewing
            };
            Ok((s, req.ciaddr))
        }
        _ => Err(DropReason::DhcpMalformed),
    }
}
