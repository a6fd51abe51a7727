//! Guest offloads on the forwarding path. Frames from veth and tap guests carry partial
//! TCP/UDP checksums, and tap guests send TCP super-frames up to 64 KB (see
//! [`crate::offload`] for why and how). Every guest TCP/UDP datagram that is forwarded
//! gets its checksum completed; a TCP datagram larger than the egress MTU leaves whole
//! toward a port that takes GSO (its device segments it and completes the checksum,
//! [`crate::offload::gso`]), and is cut into segments that leave as originated frames
//! toward any other.

use crate::drop::DropReason;
use crate::ids::PortId;
use crate::offload::{complete_l4_checksum, TcpSegmenter};
use crate::outbox::Outbox;

const ETH_HEADER: usize = 14;

/// Complete the TCP/UDP checksum of the guest datagram in `frame` (IPv4 datagram of
/// `ip_len` bytes after the Ethernet header), in place.
#[inline]
pub(super) fn complete_checksum(frame: &mut [u8], ip_len: usize) -> Result<(), DropReason> {
    let end = (ETH_HEADER + ip_len).min(frame.len());
    match frame.get_mut(ETH_HEADER..end) {
        Some(ip) => complete_l4_checksum(ip)
            .map(|_| ())
            .map_err(|_| DropReason::L4Malformed),
        None => Err(DropReason::Truncated),
    }
}

/// Whether `port` takes GSO sends ([`super::Router::set_port_gso`]).
#[inline]
pub(super) fn takes_gso(gso_ports: &[bool], port: PortId) -> bool {
    gso_ports.get(port.index()).copied().unwrap_or(false)
}

/// The checks [`complete_checksum`] makes on a TCP datagram (header inside the datagram,
/// data offset at least 5 words), without computing the checksum: for a segment whose
/// checksum the dataplane or the device completes.
#[inline]
pub(super) fn check_tcp_header(frame: &[u8], ip_len: usize) -> Result<(), DropReason> {
    let end = (ETH_HEADER + ip_len).min(frame.len());
    let ip = frame.get(ETH_HEADER..end).ok_or(DropReason::Truncated)?;
    let ihl = usize::from(ip.first().ok_or(DropReason::Truncated)? & 0x0f) * 4;
    let tcp = ip.get(ihl..).ok_or(DropReason::L4Malformed)?;
    match tcp.get(12) {
        Some(&b) if (20..=tcp.len()).contains(&(usize::from(b >> 4) * 4)) => Ok(()),
        _ => Err(DropReason::L4Malformed),
    }
}

/// Whether the TCP super-frame in `frame` leaves whole through `port`: the port takes
/// GSO sends (`gso_ports`, see [`super::Router::set_port_gso`]) and the frame is one the
/// segmenter accepts, so the dataplane's [`crate::offload::gso::prepare_tcp`] will too.
/// Otherwise it is segmented here ([`segment`]).
pub(super) fn forward_whole(
    gso_ports: &[bool],
    frame: &[u8],
    ip_len: usize,
    mtu: u16,
    port: PortId,
) -> bool {
    if !takes_gso(gso_ports, port) {
        return false;
    }
    let end = (ETH_HEADER + ip_len).min(frame.len());
    TcpSegmenter::new(&frame[..end], mtu).is_ok()
}

/// Segment the TCP super-frame in `frame` (MACs and TTL already rewritten for the next
/// hop) into datagrams of at most `mtu` bytes, queued on `out` for `port`.
pub(super) fn segment(
    frame: &[u8],
    ip_len: usize,
    mtu: u16,
    port: PortId,
    out: &mut Outbox,
) -> Result<usize, DropReason> {
    let end = (ETH_HEADER + ip_len).min(frame.len());
    let seg = TcpSegmenter::new(&frame[..end], mtu).map_err(|_| DropReason::GsoInvalid)?;
    let count = seg.count();
    for i in 0..count {
        let Some(len) = seg.segment_len(i) else {
            return Err(DropReason::GsoInvalid);
        };
        let mut ok = true;
        out.push_with(port, len, |buf| ok = seg.write_segment(i, buf).is_ok());
        if !ok {
            return Err(DropReason::GsoInvalid);
        }
    }
    Ok(count)
}
