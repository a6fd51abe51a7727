//! Hand-built frames for tests that write to sockets or run an XDP program directly, and
//! the Internet checksum they need.

/// A MAC address written `aa:bb:cc:dd:ee:ff`; fails the test if it is not one.
pub fn parse_mac(s: &str) -> [u8; 6] {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for m in mac.iter_mut() {
        let part = parts.next().unwrap_or_else(|| panic!("bad MAC {s:?}"));
        *m = u8::from_str_radix(part, 16).unwrap_or_else(|_| panic!("bad MAC {s:?}"));
    }
    assert!(parts.next().is_none(), "bad MAC {s:?}");
    mac
}

/// An Ethernet + ARP (IPv4 over Ethernet) frame: operation `op`, sender `sha`/`spa`,
/// target `tha`/`tpa`, Ethernet destination `dst`.
pub fn arp_frame(
    op: u16,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
    dst: [u8; 6],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f
}

/// An Ethernet + IPv4 + ICMP echo request frame with `payload_len` bytes of payload.
pub fn icmp_echo_frame(src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = u16::try_from(20 + 8 + payload_len).unwrap_or(u16::MAX);
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 1, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend((0..payload_len).map(|i| i as u8));
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&icmp);
    f
}

/// RFC 1071 Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from(*a) << 8,
            _ => 0,
        };
        sum += u32::from(w);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_header_with_its_checksum_is_zero() {
        let f = icmp_echo_frame([192, 0, 2, 10], [192, 0, 2, 1], 7);
        assert_eq!(checksum(&f[14..34]), 0, "IPv4 header");
        assert_eq!(checksum(&f[34..]), 0, "ICMP message, odd length");
        assert_eq!(f.len(), 14 + 20 + 8 + 7);
    }

    #[test]
    fn arp_frame_layout() {
        let mac = parse_mac("02:00:00:00:00:0a");
        let f = arp_frame(1, mac, [192, 0, 2, 10], [0; 6], [192, 0, 2, 1], [0xff; 6]);
        assert_eq!(f.len(), 42);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[22..28], &mac);
        assert_eq!(&f[38..42], &[192, 0, 2, 1]);
    }

    #[test]
    #[should_panic(expected = "bad MAC")]
    fn short_mac_is_refused() {
        parse_mac("02:00:00");
    }
}
