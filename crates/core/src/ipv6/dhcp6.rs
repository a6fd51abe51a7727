//! Stateless DHCPv6 toward guests (RFC 8415 6.1): an Information-request from a guest
//! gets a Reply with the network's DNS servers (`dns_servers6`, option 23, RFC 3646),
//! what nfdhcpd answered. Addresses come by SLAAC from the router's advertisements; a
//! stateful request (Solicit, Request, ...) is not served, and the advertisements say
//! so (M flag clear, O flag set when there are DNS servers to give).
//!
//! The server's DUID is DUID-LL of the network's `guest_mac` (RFC 8415 11.4): stable
//! across restarts and the same on every node (a migrated guest sees the same server).

use wire::ipv6::pseudo_header;
use wire::ipv6_dhcp::{
    emit_header, emit_option, msg, opt, Dhcpv6Options, Dhcpv6Packet, CLIENT_PORT, HEADER_LEN,
    SERVER_PORT,
};
use wire::{checksum, EthernetAddress, Ipv6Addr, Ipv6Repr, NextHeader};

use crate::drop::DropReason;
use crate::ids::PortId;
use crate::ipv6::frames6::DEFAULT_HOP_LIMIT;
use crate::ipv6::net6::Network6;
use crate::network::Network;
use crate::outbox::Outbox;

/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 7.1).
pub const ALL_DHCP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

const ETH: usize = 14;
const IP6: usize = 40;
const UDP: usize = 8;

/// DUID-LL (type 3) of `mac`, hardware type 1 (Ethernet).
pub fn server_duid(mac: EthernetAddress) -> [u8; 10] {
    let m = mac.0;
    [0, 3, 0, 1, m[0], m[1], m[2], m[3], m[4], m[5]]
}

/// True if `ip` with UDP payload `udp` is addressed to a DHCPv6 server here: to
/// All_DHCP_Relay_Agents_and_Servers or the router's guest-side link-local address,
/// destination port 547.
pub fn is_for_server(ip: &Ipv6Repr, net6: &Network6, udp: &[u8]) -> bool {
    (ip.dst_addr == ALL_DHCP || ip.dst_addr == net6.guest_ll)
        && udp.len() >= UDP
        && u16::from_be_bytes([udp[2], udp[3]]) == SERVER_PORT
}

/// True if `udp` (UDP header first) is DHCPv6 from a server (source port 547 to the
/// client port 546): from a guest, a rogue server.
pub fn is_from_server(udp: &[u8]) -> bool {
    udp.len() >= UDP
        && u16::from_be_bytes([udp[0], udp[1]]) == SERVER_PORT
        && u16::from_be_bytes([udp[2], udp[3]]) == CLIENT_PORT
}

/// Answer the DHCPv6 message in `udp` (UDP header first) from the guest at `guest_mac`
/// on `port`: queue a Reply to an Information-request, or say why not.
///
/// RFC 8415 16.12: "Servers MUST discard any received Information-request message that
/// meets any of the following conditions: the message includes a Server Identifier
/// option, and the DUID in the option does not match the server's DUID; the message
/// includes an IA option." 18.3.6: the Reply copies the transaction id and the Client
/// Identifier, carries the Server Identifier and the configuration options.
pub fn answer(
    out: &mut Outbox,
    port: PortId,
    network: &Network,
    net6: &Network6,
    guest_mac: EthernetAddress,
    ip: &Ipv6Repr,
    udp: &[u8],
) -> Result<(), DropReason> {
    let len = udp
        .get(4..6)
        .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        .ok_or(DropReason::Dhcp6Malformed)?;
    let body = udp
        .get(UDP..len.max(UDP))
        .filter(|_| len >= UDP)
        .ok_or(DropReason::Dhcp6Malformed)?;
    let client_port = u16::from_be_bytes([udp[0], udp[1]]);
    let p = Dhcpv6Packet::new_checked(body).map_err(|_| DropReason::Dhcp6Malformed)?;
    Dhcpv6Options::validate(p.options()).map_err(|_| DropReason::Dhcp6Malformed)?;
    match p.msg_type() {
        msg::INFORMATION_REQUEST => {}
        // Advertise, Reply, Reconfigure, Relay-forw/repl and later server messages.
        msg::ADVERTISE | msg::REPLY | 10 | 12 | 13 => return Err(DropReason::Dhcp6RogueServer),
        _ => return Err(DropReason::Dhcp6NotServed),
    }
    let duid = server_duid(network.guest_mac);
    if p.option(opt::SERVERID).is_some_and(|d| d != duid) {
        return Err(DropReason::Dhcp6NotServed);
    }
    let has_ia = Dhcpv6Options::new(p.options())
        .flatten()
        .any(|(c, _)| matches!(c, opt::IA_NA | opt::IA_TA | opt::IA_PD));
    if has_ia {
        return Err(DropReason::Dhcp6Malformed);
    }
    let client_id = p.option(opt::CLIENTID).filter(|c| c.len() <= 130);
    let dns = &net6.spec.ra.dns_servers;
    let dns_len = if dns.is_empty() {
        0
    } else {
        4 + 16 * dns.len().min(3)
    };
    let reply_len = HEADER_LEN + 4 + duid.len() + client_id.map_or(0, |c| 4 + c.len()) + dns_len;
    let src = net6.guest_ll;
    let dst = ip.src_addr;
    let xid = p.transaction_id();
    let dst_port = if client_port == 0 {
        CLIENT_PORT
    } else {
        client_port
    };
    out.push_with(port, ETH + IP6 + UDP + reply_len, |buf| {
        buf[0..6].copy_from_slice(&guest_mac.0);
        buf[6..12].copy_from_slice(&network.guest_mac.0);
        buf[12..14].copy_from_slice(&[0x86, 0xdd]);
        Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: NextHeader::Udp,
            payload_len: (UDP + reply_len) as u16,
            hop_limit: DEFAULT_HOP_LIMIT,
        }
        .emit(&mut wire::Ipv6Packet::new_unchecked(&mut buf[ETH..]));
        let u = &mut buf[ETH + IP6..];
        u[0..2].copy_from_slice(&SERVER_PORT.to_be_bytes());
        u[2..4].copy_from_slice(&dst_port.to_be_bytes());
        u[4..6].copy_from_slice(&((UDP + reply_len) as u16).to_be_bytes());
        let m = &mut u[UDP..];
        emit_header(m, msg::REPLY, xid);
        let mut at = HEADER_LEN;
        at += emit_option(&mut m[at..], opt::SERVERID, &duid);
        if let Some(c) = client_id {
            at += emit_option(&mut m[at..], opt::CLIENTID, c);
        }
        if !dns.is_empty() {
            let mut raw = [0u8; 48];
            let n = dns.len().min(3);
            for (i, a) in dns.iter().take(n).enumerate() {
                raw[16 * i..16 * i + 16].copy_from_slice(&a.octets());
            }
            emit_option(&mut m[at..], opt::DNS_SERVERS, &raw[..16 * n]);
        }
        let seg = &u[..UDP + reply_len];
        let ph = pseudo_header(&src, &dst, NextHeader::Udp, seg.len() as u32);
        let mut c = !checksum::combine(&[ph, checksum::data(seg)]);
        if c == 0 {
            c = 0xffff;
        }
        u[6..8].copy_from_slice(&c.to_be_bytes());
    });
    Ok(())
}
