//! Test frames for the packet generator: Ethernet + IPv4 + UDP with valid checksums,
//! written by `wire`'s reprs.

use std::net::Ipv4Addr;
use wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Ipv4Packet, Ipv4Repr, Protocol,
    UdpPacket, UdpRepr,
};

const ETH: usize = 14;
const IP: usize = 20;
const UDP: usize = 8;
/// The shortest frame a generator may send: Ethernet + IPv4 + UDP headers.
pub const MIN_FRAME: usize = ETH + IP + UDP;

/// What every generated frame of one stream shares.
#[derive(Debug, Clone, Copy)]
pub struct UdpStream {
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// IPv4 source.
    pub src_ip: Ipv4Addr,
    /// IPv4 destination.
    pub dst_ip: Ipv4Addr,
    /// UDP destination port.
    pub dst_port: u16,
    /// Frame length without the FCS (RFC 2544's 64-byte frame is 60 here); at least
    /// [`MIN_FRAME`].
    pub frame_len: usize,
}

impl UdpStream {
    /// One frame from source port `src_port`: TTL 64, DF clear, zero payload, IPv4 and
    /// UDP checksums filled in. `None` if `frame_len` is below [`MIN_FRAME`] or above
    /// 65535 bytes of IPv4.
    pub fn frame(&self, src_port: u16) -> Option<Vec<u8>> {
        if self.frame_len < MIN_FRAME || self.frame_len - ETH > usize::from(u16::MAX) {
            return None;
        }
        let payload_len = self.frame_len - MIN_FRAME;
        let mut buf = vec![0u8; self.frame_len];
        let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
        EthernetRepr {
            src_addr: EthernetAddress(self.src_mac),
            dst_addr: EthernetAddress(self.dst_mac),
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut eth);
        let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
        Ipv4Repr {
            src_addr: self.src_ip,
            dst_addr: self.dst_ip,
            protocol: Protocol::Udp,
            payload_len: UDP + payload_len,
            ttl: 64,
            dont_frag: false,
            ident: 0,
        }
        .emit(&mut ip);
        let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
        UdpRepr {
            src_port,
            dst_port: self.dst_port,
        }
        .emit(&mut udp, self.src_ip, self.dst_ip, payload_len, |_| {});
        Some(buf)
    }

    /// `flows` frames, source ports `first_port`, `first_port + 1`, ... (wrapping).
    pub fn frames(&self, first_port: u16, flows: u16) -> Option<Vec<Vec<u8>>> {
        (0..flows.max(1))
            .map(|i| self.frame(first_port.wrapping_add(i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(frame_len: usize) -> UdpStream {
        UdpStream {
            dst_mac: [2, 0, 0, 0, 0, 1],
            src_mac: [2, 0, 0, 0, 0, 2],
            src_ip: Ipv4Addr::new(198, 51, 100, 1),
            dst_ip: Ipv4Addr::new(192, 0, 2, 10),
            dst_port: 9,
            frame_len,
        }
    }

    #[test]
    fn frames_parse_with_valid_checksums() {
        for len in [MIN_FRAME, 60, 508, 1496, 1514] {
            let s = stream(len);
            let frames = s.frames(1024, 3).expect("frames");
            assert_eq!(frames.len(), 3);
            for (i, f) in frames.iter().enumerate() {
                assert_eq!(f.len(), len);
                let ip = Ipv4Packet::new_checked(&f[ETH..]).expect("ipv4");
                assert!(ip.verify_checksum(), "len {len}");
                assert_eq!(usize::from(ip.total_len()), len - ETH);
                let udp = UdpPacket::new_checked(&f[ETH + IP..]).expect("udp");
                assert!(udp.verify_checksum(s.src_ip, s.dst_ip), "len {len}");
                assert_eq!(udp.src_port(), 1024 + i as u16);
                assert_eq!(udp.dst_port(), 9);
            }
        }
    }

    #[test]
    fn too_short_or_too_long_is_refused() {
        assert!(stream(MIN_FRAME - 1).frame(1).is_none());
        assert!(stream(ETH + 65536).frame(1).is_none());
    }
}
