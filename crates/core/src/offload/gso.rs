//! Handing a TCP super-frame to a device that segments it (GSO), instead of segmenting
//! in software: the virtio-net header that goes in front of the frame, and the one change
//! the frame needs (its TCP checksum field set to the pseudo-header sum).
//!
//! A device reached through an `AF_PACKET` socket with `PACKET_VNET_HDR` (veth, tap, a
//! VLAN device over a NIC with TSO) takes a frame of up to 64 KB with a
//! `struct virtio_net_hdr` (virtio 1.x section 5.1.6, "legacy" 10-byte form):
//! - `gso_type` TCPV4 (plus the ECN bit when the frame carries CWR) and `gso_size`, the
//!   TCP payload per segment: the kernel, or the NIC's TSO, cuts the frame as Linux's
//!   `tcp_gso_segment` does (sequence numbers advanced, IPv4 identification incremented,
//!   FIN/PSH on the last segment only, CWR on the first only, checksums computed);
//! - `NEEDS_CSUM` with `csum_start` (the TCP header's offset) and `csum_offset` (16, the
//!   checksum field within it): the TCP checksum is completed on the way out, so nobody
//!   reads the payload here. The field must then hold the pseudo-header sum over the
//!   frame's whole TCP length (folded, not inverted: what Linux's `__tcp_v4_send_check`
//!   leaves for `CHECKSUM_PARTIAL`). [`prepare_tcp`] writes it, whatever the guest put
//!   there (a Linux guest's partial checksum is that same value; Windows LSO leaves the
//!   length out; a complete checksum is neither).
//!
//! `gso_size` comes from the egress MTU: `mtu - ip_header_len - tcp_header_len`, the
//! same MSS [`super::TcpSegmenter`] uses, so every segment is a datagram of at most
//! `mtu` bytes, toward the VLAN as toward a guest. The guest's own `gso_size` is not
//! visible through AF_XDP (see [`super`]).
//!
//! Header fields are in the host's byte order: `PACKET_VNET_HDR` reads them as legacy
//! virtio, whose endianness is the host's.

use super::{OffloadError, TcpSegmenter};
use wire::checksum;
use wire::tcp::flags;

/// Bytes of the virtio-net header in front of each frame.
pub const VNET_HDR_LEN: usize = 10;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: complete the checksum at `csum_start + csum_offset`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_ECN`: the TCP stream uses ECN (the frame has CWR set).
pub const GSO_ECN: u8 = 0x80;
/// Offset of the checksum field in a TCP header (RFC 9293 section 3.1).
pub const TCP_CSUM_OFFSET: u16 = 16;

/// A `struct virtio_net_hdr` (without `num_buffers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHeader {
    /// `F_NEEDS_CSUM` or 0.
    pub flags: u8,
    /// `GSO_NONE`, or `GSO_TCPV4` with optionally `GSO_ECN`.
    pub gso_type: u8,
    /// Length of the headers (Ethernet to TCP): a hint for the skb's linear part.
    pub hdr_len: u16,
    /// TCP payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts (the TCP header's offset in the frame).
    pub csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHeader {
    /// The header's bytes, fields in the host's byte order.
    pub fn to_bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// Parses the bytes [`Self::to_bytes`] writes (and a tap hands out).
    pub fn from_bytes(b: &[u8; VNET_HDR_LEN]) -> VnetHeader {
        let field = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        VnetHeader {
            flags: b[0],
            gso_type: b[1],
            hdr_len: field(2),
            gso_size: field(4),
            csum_start: field(6),
            csum_offset: field(8),
        }
    }

    /// The header for a TCP frame whose headers end at `hdr_len`, TCP header at
    /// `tcp_at`, cut into `gso_size`-byte segments if `segments > 1`.
    pub fn tcp(tcp_at: usize, hdr_len: usize, gso_size: usize, segments: usize, cwr: bool) -> Self {
        let gso = segments > 1;
        VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: match (gso, cwr) {
                (false, _) => GSO_NONE,
                (true, false) => GSO_TCPV4,
                (true, true) => GSO_TCPV4 | GSO_ECN,
            },
            // All below 64 KB: the frame's IPv4 total length bounds them.
            hdr_len: hdr_len as u16,
            gso_size: if gso { gso_size as u16 } else { 0 },
            csum_start: tcp_at as u16,
            csum_offset: TCP_CSUM_OFFSET,
        }
    }
}

/// A super-frame ready for one GSO send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GsoFrame {
    /// The virtio-net header to send in front of it.
    pub header: VnetHeader,
    /// Bytes to send: the frame up to the end of its IPv4 datagram (padding dropped).
    pub len: usize,
    /// Segments the device will make of it.
    pub segments: usize,
}

/// Prepares the TCP super-frame `frame` (a whole Ethernet frame, MACs and TTL already
/// rewritten, IPv4 header checksum valid) for a GSO send toward a link whose MTU is
/// `mtu`: validates it as [`TcpSegmenter::new`] does, stores the pseudo-header sum in its
/// TCP checksum field, and returns the header. Errors as `TcpSegmenter::new`; on error
/// the frame is unchanged (segment it in software instead, or drop it).
pub fn prepare_tcp(frame: &mut [u8], mtu: u16) -> Result<GsoFrame, OffloadError> {
    let seg = TcpSegmenter::new(frame, mtu)?;
    let (l, mss, count) = (seg.layout(), seg.mss(), seg.count());
    let tcp_len = l.ip_total_len - l.ip_header_len;
    let sum = checksum::pseudo_header(l.src, l.dst, 6, tcp_len as u32);
    let at = l.tcp_at + usize::from(TCP_CSUM_OFFSET);
    // In bounds: the segmenter checked that the TCP header lies inside the frame.
    let field = frame.get_mut(at..at + 2).ok_or(OffloadError::Truncated)?;
    field.copy_from_slice(&sum.to_be_bytes());
    Ok(GsoFrame {
        header: VnetHeader::tcp(
            l.tcp_at,
            l.headers_len,
            mss,
            count,
            l.flags & flags::CWR != 0,
        ),
        len: l.l2_len + l.ip_total_len,
        segments: count,
    })
}

#[cfg(test)]
mod tests;
