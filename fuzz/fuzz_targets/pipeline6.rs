#![no_main]
//! The whole pipeline with IPv6: an in-memory router (one VLAN uplink with subnet6
//! 2001:db8:90::/64, three guests with their EUI-64 addresses, one with a routed /48)
//! fed random frames on random ports, with time moving and ports going down and up.
//! After every pass, what the router sent must hold the IPv6 invariants:
//! - every frame leaves with the router's own source MAC (nothing bridged);
//! - an IPv6 packet toward the VLAN has a source a guest owns (an address, a routed
//!   prefix) or the router's own VLAN link-local address (its NDP, its errors);
//! - a Neighbor Advertisement on the uplink advertises only a hosted guest's address or
//!   the router's own link-local address: NDP on the uplink answers only for guests;
//! - no Router Advertisement or Redirect ever leaves on the uplink;
//! - a Neighbor Advertisement to a guest never claims that guest's own address.
//!
//! Input: records `[ctl, offset, len, bytes...]` as in `pipeline`: `ctl & 3` the port,
//! `ctl >> 4` a template (0: the bytes are the frame), `ctl & 4` refreshes the ICMPv6 /
//! TCP / UDP checksum after the overwrite, `ctl & 8` advances time by 1.5 s; a `len` of
//! 255 toggles the port.

use std::net::Ipv6Addr;

use hvrouter_core::ipv6::{Guest6Spec, Network6Spec, RaSettings};
use libfuzzer_sys::fuzz_target;
use wire::ipv6_addr::{eui64_address, link_local_from_mac, solicited_node};
use wire::{EthernetAddress, NextHeader};

mod pipeline_lab;
use pipeline_lab::{GUESTS, GUEST_SIDE_MAC, GW_MAC, UPLINK_MAC};

fn a6(s: &str) -> Ipv6Addr {
    s.parse().expect("address")
}

fn gw6() -> Ipv6Addr {
    a6("2001:db8:90::1")
}

fn remote6() -> Ipv6Addr {
    a6("2001:db8:1::7")
}

fn guest_addr(i: usize) -> Ipv6Addr {
    eui64_address(a6("2001:db8:90::"), EthernetAddress(GUESTS[i % 3].1))
}

fn in_routed(a: &Ipv6Addr) -> bool {
    a.segments()[..3] == [0x2001, 0xdb8, 0xff]
}

/// The IPv6 side of the network and of guest 3 (a routed /48), set before the guests.
fn setup6(
    router: &mut hvrouter_core::router::Router,
    net: hvrouter_core::NetworkId,
    now: hvrouter_core::Instant,
) {
    let (t, v6) = router.ipv6_mut();
    let spec = Network6Spec {
        subnet6: "2001:db8:90::/64".parse().expect("prefix"),
        gateway6: gw6(),
        ra: RaSettings::default(),
        source6: None,
    };
    v6.set_network6(t, net, spec, now).expect("ipv6");
    v6.set_guest6_override(
        "tap3",
        Some(Guest6Spec {
            addrs: vec![],
            eui64: true,
            prefixes: vec!["2001:db8:ff::/48".parse().expect("prefix")],
        }),
    );
}

fn ip6(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    nh: u8,
    hlim: u8,
    l4: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(64 + l4.len());
    f.extend(dst_mac);
    f.extend(src_mac);
    f.extend([0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend((l4.len() as u16).to_be_bytes());
    f.extend([nh, hlim]);
    f.extend(src.octets());
    f.extend(dst.octets());
    f.extend(l4);
    fix_l4(&mut f);
    f
}

/// Recompute the ICMPv6 / TCP / UDP checksum of an IPv6 frame whose upper layer follows
/// the fixed header.
fn fix_l4(f: &mut [u8]) {
    if f.len() < 54 || f[12..14] != [0x86, 0xdd] {
        return;
    }
    let plen = usize::from(u16::from_be_bytes([f[18], f[19]]));
    let end = (54 + plen).min(f.len());
    let at = match f[20] {
        58 => 2,
        6 => 16,
        17 => 6,
        _ => return,
    };
    if end < 54 + at + 2 {
        return;
    }
    f[54 + at..54 + at + 2].fill(0);
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&f[22..38]);
    dst.copy_from_slice(&f[38..54]);
    let nh = NextHeader::from(f[20]);
    let seg = &f[54..end];
    let ph = wire::ipv6::pseudo_header(&src.into(), &dst.into(), nh, seg.len() as u32);
    let c = !wire::checksum::combine(&[ph, wire::checksum::data(seg)]);
    f[54 + at..54 + at + 2].copy_from_slice(&c.to_be_bytes());
}

fn ns_body(target: Ipv6Addr, sll: [u8; 6]) -> Vec<u8> {
    let mut b = vec![135, 0, 0, 0, 0, 0, 0, 0];
    b.extend(target.octets());
    b.extend([1, 1]);
    b.extend(sll);
    b
}

fn na_body(flags: u8, target: Ipv6Addr, tll: [u8; 6]) -> Vec<u8> {
    let mut b = vec![136, 0, 0, 0, flags, 0, 0, 0];
    b.extend(target.octets());
    b.extend([2, 1]);
    b.extend(tll);
    b
}

fn mcast_mac(a: Ipv6Addr) -> [u8; 6] {
    let o = a.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// A valid frame for `port` of kind `t` (1..=9, 10 a guest's DHCPv6 Information-request),
/// or an empty one.
fn template(port: u16, t: u8) -> Vec<u8> {
    let echo = [128, 0, 0, 0, 0, 1, 0, 1, b'f', b'u', b'z', b'z'];
    let udp = [0x9c, 0x40, 0, 9, 0, 12, 0, 0, b'f', b'u', b'z', b'z'];
    let tcp = [
        0x9c, 0x41, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];
    let gw_ll = link_local_from_mac(EthernetAddress(GW_MAC));
    if port == 0 {
        let g = guest_addr(usize::from(t));
        let stranger = a6("2001:db8:90::4242");
        return match t {
            1 | 2 => ip6(
                mcast_mac(solicited_node(&g)),
                GW_MAC,
                gw6(),
                solicited_node(&g),
                58,
                255,
                &ns_body(g, GW_MAC),
            ),
            3 => ip6(
                mcast_mac(solicited_node(&stranger)),
                GW_MAC,
                gw6(),
                solicited_node(&stranger),
                58,
                255,
                &ns_body(stranger, GW_MAC),
            ),
            4 => ip6(
                mcast_mac(solicited_node(&g)),
                GW_MAC,
                Ipv6Addr::UNSPECIFIED,
                solicited_node(&g),
                58,
                255,
                &ns_body(g, GW_MAC)[..24],
            ),
            5 => ip6(
                UPLINK_MAC,
                GW_MAC,
                gw6(),
                link_local_from_mac(EthernetAddress(UPLINK_MAC)),
                58,
                255,
                &na_body(0x60, gw6(), GW_MAC),
            ),
            6 => ip6(UPLINK_MAC, GW_MAC, remote6(), g, 58, 64, &echo),
            7 => ip6(
                UPLINK_MAC,
                GW_MAC,
                remote6(),
                a6("2001:db8:ff:1::5"),
                6,
                64,
                &tcp,
            ),
            8 => ip6(UPLINK_MAC, GW_MAC, remote6(), g, 17, 1, &udp),
            9 => ip6(
                [0x33, 0x33, 0, 0, 0, 1],
                GW_MAC,
                gw_ll,
                a6("ff02::1"),
                58,
                255,
                &[134, 0, 0, 0, 64, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
            _ => vec![],
        };
    }
    let i = usize::from(port - 1) % 3;
    let (mac, me) = (GUESTS[i].1, guest_addr(i));
    let ll = link_local_from_mac(EthernetAddress(mac));
    let other = guest_addr(i + 1);
    match t {
        1 => ip6(
            [0x33, 0x33, 0, 0, 0, 2],
            mac,
            ll,
            a6("ff02::2"),
            58,
            255,
            &[
                133, 0, 0, 0, 0, 0, 0, 0, 1, 1, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
            ],
        ),
        2 => ip6(
            mcast_mac(solicited_node(&gw6())),
            mac,
            me,
            solicited_node(&gw6()),
            58,
            255,
            &ns_body(gw6(), mac),
        ),
        3 => ip6(GUEST_SIDE_MAC, mac, me, remote6(), 17, 64, &udp),
        4 => ip6(GUEST_SIDE_MAC, mac, me, other, 6, 64, &tcp),
        5 => ip6(GUEST_SIDE_MAC, mac, me, gw6(), 58, 64, &echo),
        6 => ip6(
            [0x33, 0x33, 0, 0, 0, 1],
            mac,
            ll,
            a6("ff02::1"),
            58,
            255,
            &na_body(0x20, other, mac),
        ),
        7 => ip6(
            [0x33, 0x33, 0, 0, 0, 1],
            mac,
            ll,
            a6("ff02::1"),
            58,
            255,
            &[134, 0, 0, 0, 64, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        8 => ip6(
            GUEST_SIDE_MAC,
            mac,
            a6("2001:db8:ff:2::1"),
            remote6(),
            17,
            64,
            &udp,
        ),
        10 => ip6(
            [0x33, 0x33, 0, 1, 0, 2],
            mac,
            ll,
            a6("ff02::1:2"),
            17,
            1,
            &[
                2, 34, 2, 35, 0, 26, 0, 0, 11, 1, 2, 3, 0, 1, 0, 10, 0, 3, 0, 1, mac[0], mac[1],
                mac[2], mac[3], mac[4], mac[5],
            ],
        ),
        9 => ip6(
            mcast_mac(solicited_node(&me)),
            mac,
            Ipv6Addr::UNSPECIFIED,
            solicited_node(&me),
            58,
            255,
            &ns_body(me, mac)[..24],
        ),
        _ => vec![],
    }
}

fn addr_at(f: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&f[at..at + 16]);
    Ipv6Addr::from(o)
}

fn check(port: u16, f: &[u8]) {
    pipeline_lab::check_source_mac(port, f);
    if f[12..14] != [0x86, 0xdd] || f.len() < 54 {
        return;
    }
    let src = addr_at(f, 22);
    let icmp_type = (f[20] == 58).then(|| f.get(54).copied()).flatten();
    let uplink_ll = link_local_from_mac(EthernetAddress(UPLINK_MAC));
    let guests: Vec<Ipv6Addr> = (0..3).map(guest_addr).collect();
    if port == 0 {
        assert!(
            guests.contains(&src) || in_routed(&src) || src == uplink_ll,
            "toward the VLAN with source {src}, owned by no guest: {f:02x?}"
        );
        assert!(
            !matches!(icmp_type, Some(134 | 137)),
            "RA or redirect on the uplink: {f:02x?}"
        );
        if icmp_type == Some(136) && f.len() >= 78 {
            let target = addr_at(f, 62);
            assert!(
                guests.contains(&target) || target == uplink_ll,
                "NA on the uplink for {target}, not a guest's: {f:02x?}"
            );
        }
    } else if icmp_type == Some(136) && f.len() >= 78 {
        let target = addr_at(f, 62);
        let i = usize::from(port - 1) % 3;
        let own_ll = link_local_from_mac(EthernetAddress(GUESTS[i].1));
        assert!(
            target != guest_addr(i) && target != own_ll,
            "a guest was answered for its own address"
        );
    }
}

fuzz_target!(|input: &[u8]| {
    let lab = pipeline_lab::router(None, &[], setup6);
    pipeline_lab::run_records(input, lab, template, |f| fix_l4(f), check);
});
