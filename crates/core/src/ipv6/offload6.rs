//! Guest offloads for IPv6, as [`crate::offload`] does for IPv4: complete the partial
//! TCP/UDP checksum of guest datagrams (the checksum field holds only the pseudo-header
//! sum, RFC 8200 8.1 pseudo-header), and cut TCP super-frames (TSO6) into MTU-sized
//! segments, as Linux's software GSO (`tcp_gso_segment`, `ipv6_gso_segment`) would.
//!
//! Only datagrams whose TCP/UDP header follows the fixed header directly are handled;
//! ones with extension headers are forwarded unchanged (stacks checksum those in
//! software) and never segmented (dropped when too big). No allocation: segments are
//! written straight into the caller's buffers.

use wire::checksum;
use wire::ipv6::pseudo_header;
use wire::NextHeader;

use crate::drop::DropReason;
use crate::outbox::Outbox;

const ETH: usize = 14;
const IP6: usize = 40;

fn l4_sum(ip: &[u8], nh: NextHeader) -> u16 {
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&ip[8..24]);
    dst.copy_from_slice(&ip[24..40]);
    let seg = &ip[IP6..];
    let ph = pseudo_header(&src.into(), &dst.into(), nh, seg.len() as u32);
    checksum::combine(&[ph, checksum::data(seg)])
}

/// Recompute the TCP or UDP checksum of the IPv6 datagram `ip` (fixed header first,
/// exactly the datagram) in place, if its upper layer follows the fixed header. UDP over
/// IPv6 has no "no checksum" (RFC 8200 8.1): a computed 0 is sent as 0xffff.
pub fn complete_checksum(ip: &mut [u8]) -> Result<(), DropReason> {
    let Some(&nh) = ip.get(6) else {
        return Err(DropReason::Truncated);
    };
    let nh = NextHeader::from(nh);
    let at = match nh {
        NextHeader::Tcp if ip.len() >= IP6 + 20 => IP6 + 16,
        NextHeader::Udp if ip.len() >= IP6 + 8 => IP6 + 6,
        NextHeader::Tcp | NextHeader::Udp => return Err(DropReason::L4Malformed),
        _ => return Ok(()),
    };
    ip[at..at + 2].fill(0);
    let mut c = !l4_sum(ip, nh);
    if c == 0 && nh == NextHeader::Udp {
        c = 0xffff;
    }
    ip[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Cut the TCP/IPv6 super-frame `frame` (Ethernet header first, MACs and hop limit
/// already rewritten, exactly the frame) into segments of at most `mtu` bytes of IPv6
/// datagram, queued on `out` for `port` with complete checksums. Returns the count.
pub fn segment(
    frame: &[u8],
    mtu: u16,
    port: crate::ids::PortId,
    out: &mut Outbox,
) -> Result<usize, DropReason> {
    let ip = frame.get(ETH..).ok_or(DropReason::Truncated)?;
    if ip.len() < IP6 + 20 || NextHeader::from(ip[6]) != NextHeader::Tcp {
        return Err(DropReason::PacketTooBig);
    }
    let doff = usize::from(ip[IP6 + 12] >> 4) * 4;
    if doff < 20 || ip.len() < IP6 + doff {
        return Err(DropReason::GsoInvalid);
    }
    let hdr = ETH + IP6 + doff;
    let mss = usize::from(mtu).saturating_sub(IP6 + doff);
    if mss == 0 {
        return Err(DropReason::GsoInvalid);
    }
    let payload = &frame[hdr..];
    let seq0 = u32::from_be_bytes([
        frame[hdr - doff + 4],
        frame[hdr - doff + 5],
        frame[hdr - doff + 6],
        frame[hdr - doff + 7],
    ]);
    let flags0 = frame[ETH + IP6 + 13];
    let count = payload.len().div_ceil(mss).max(1);
    for i in 0..count {
        let start = i * mss;
        let chunk = &payload[start..(start + mss).min(payload.len())];
        let last = i + 1 == count;
        out.push_with(port, hdr + chunk.len(), |buf| {
            buf[..hdr].copy_from_slice(&frame[..hdr]);
            buf[hdr..].copy_from_slice(chunk);
            let plen = (doff + chunk.len()) as u16;
            buf[ETH + 4..ETH + 6].copy_from_slice(&plen.to_be_bytes());
            let t = ETH + IP6;
            let seq = seq0.wrapping_add(start as u32);
            buf[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
            // As tcp_gso_segment: FIN and PSH only on the last segment, CWR only on the
            // first.
            let mut flags = flags0;
            if !last {
                flags &= !(0x01 | 0x08);
            }
            if i != 0 {
                flags &= !0x80;
            }
            buf[t + 13] = flags;
            let _ = complete_checksum(&mut buf[ETH..]);
        });
    }
    Ok(count)
}
