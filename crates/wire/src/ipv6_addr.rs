//! IPv6 address helpers: modified EUI-64 interface identifiers (RFC 4291 appendix A, as
//! gnt-networking's `mac2eui64` computes them), link-local addresses (RFC 4862 5.3),
//! solicited-node multicast groups (RFC 4291 2.7.1) and their Ethernet mapping (RFC 2464
//! section 7).

use crate::ethernet::EthernetAddress;
use crate::ipv6::Ipv6Addr;

/// All-nodes link-local multicast (RFC 4291 2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All-routers link-local multicast (RFC 4291 2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// All MLDv2-capable routers (RFC 3810 section 11).
pub const ALL_MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

/// Modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 appendix A): insert
/// `ff:fe` in the middle and invert the universal/local bit.
#[inline]
pub fn eui64_interface_id(mac: EthernetAddress) -> [u8; 8] {
    let m = mac.0;
    [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]
}

/// The address made of the first 64 bits of `prefix` and the modified EUI-64 identifier of
/// `mac` (RFC 4862 5.5.3 with a /64 prefix; gnt-networking's `mac2eui64`).
#[inline]
pub fn eui64_address(prefix: Ipv6Addr, mac: EthernetAddress) -> Ipv6Addr {
    let mut o = prefix.octets();
    o[8..].copy_from_slice(&eui64_interface_id(mac));
    Ipv6Addr::from(o)
}

/// The link-local address `fe80::/64` + EUI-64 of `mac` (RFC 4862 5.3).
#[inline]
pub fn link_local_from_mac(mac: EthernetAddress) -> Ipv6Addr {
    eui64_address(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), mac)
}

/// True for `fe80::/10` (RFC 4291 2.5.6).
#[inline]
pub fn is_link_local(addr: &Ipv6Addr) -> bool {
    (addr.segments()[0] & 0xffc0) == 0xfe80
}

/// The solicited-node multicast address of `addr`: `ff02::1:ff00:0/104` plus its low 24
/// bits (RFC 4291 2.7.1).
#[inline]
pub fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, o[13], o[14], o[15],
    ])
}

/// True if `addr` is a solicited-node multicast address (any target).
#[inline]
pub fn is_solicited_node(addr: &Ipv6Addr) -> bool {
    let o = addr.octets();
    o[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff]
}

/// The Ethernet destination of an IPv6 multicast address: `33:33` followed by its last four
/// bytes (RFC 2464 section 7).
#[inline]
pub fn multicast_mac(addr: &Ipv6Addr) -> EthernetAddress {
    let o = addr.octets();
    EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// True if the first `len` bits of `a` and `b` are equal (`len` is clamped to 128).
#[inline]
pub fn prefix_matches(a: &Ipv6Addr, b: &Ipv6Addr, len: u8) -> bool {
    let len = u32::from(len.min(128));
    if len == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - len);
    (u128::from(*a) & mask) == (u128::from(*b) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui64_matches_mac2eui64() {
        // gnt-networking: mac2eui64 2001:db8:1::/64 aa:00:00:12:34:56 -> 2001:db8:1::a800:ff:fe12:3456
        let mac = EthernetAddress([0xaa, 0, 0, 0x12, 0x34, 0x56]);
        let a = eui64_address("2001:db8:1::".parse().unwrap(), mac);
        assert_eq!(
            a,
            "2001:db8:1::a800:ff:fe12:3456".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            link_local_from_mac(mac),
            "fe80::a800:ff:fe12:3456".parse::<Ipv6Addr>().unwrap()
        );
        assert!(is_link_local(&link_local_from_mac(mac)));
        assert!(!is_link_local(&a));
    }

    #[test]
    fn solicited_node_and_mac() {
        let a: Ipv6Addr = "2001:db8::a800:ff:fe12:3456".parse().unwrap();
        let s = solicited_node(&a);
        assert_eq!(s, "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap());
        assert!(is_solicited_node(&s));
        assert!(!is_solicited_node(&ALL_NODES));
        assert_eq!(
            multicast_mac(&s),
            EthernetAddress([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
    }

    #[test]
    fn prefix_match_edges() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8::8000:0:0:1".parse().unwrap();
        assert!(prefix_matches(&a, &b, 64));
        assert!(!prefix_matches(&a, &b, 65));
        assert!(prefix_matches(&a, &b, 0));
        assert!(prefix_matches(&a, &a, 200));
    }
}
