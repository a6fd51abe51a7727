//! The IPv4 templates and invariants of the `pipeline` target, shared with
//! `pipeline_workers` (see `pipeline.rs` for what they check).

#![allow(dead_code)]

use crate::pipeline_lab::{self, eth, GATEWAY, GUESTS, GUEST_SIDE_MAC, GW_MAC, UPLINK_MAC};

pub const ROUTER_SRC: [u8; 4] = [192, 0, 2, 254];
pub const REMOTE: [u8; 4] = [198, 51, 100, 7];
/// Guest 3 also owns 203.0.113.0/28.
pub const THIRD_OWNS: &str = "203.0.113.0/28";

fn owned_by_a_guest(ip: [u8; 4]) -> bool {
    GUESTS.iter().any(|g| g.2 == ip) || (ip[..3] == [203, 0, 113] && ip[3] < 16)
}

fn ipv4_checksum(h: &mut [u8]) {
    h[10] = 0;
    h[11] = 0;
    let mut sum = 0u32;
    for c in h.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// `ctl & 4`: refresh the IPv4 header checksum after the overwrite.
pub fn fix(frame: &mut Vec<u8>) {
    if frame.len() >= 34 && frame[12..14] == [8, 0] {
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        if ihl >= 20 && frame.len() >= 14 + ihl {
            ipv4_checksum(&mut frame[14..14 + ihl]);
        }
    }
}

fn arp(dst: [u8; 6], op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = eth(dst, sha, 0x0806);
    f.extend([0, 1, 0x08, 0, 6, 4]);
    f.extend(op.to_be_bytes());
    f.extend(sha);
    f.extend(spa);
    f.extend(tha);
    f.extend(tpa);
    f
}

fn ipv4(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    l4: &[u8],
) -> Vec<u8> {
    let mut f = eth(dst_mac, src_mac, 0x0800);
    let total = (20 + l4.len()) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    ipv4_checksum(&mut h);
    f.extend(h);
    f.extend(l4);
    f
}

/// A valid frame for `port` of kind `t` (1..=8), or an empty one.
pub fn template(port: u16, t: u8) -> Vec<u8> {
    let bc = [0xff; 6];
    let udp = [0x9c, 0x40, 0, 9, 0, 12, 0, 0, b'f', b'u', b'z', b'z'];
    let tcp = [
        0x9c, 0x41, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];
    let echo = [8, 0, 0xf7, 0xff, 0, 0, 0, 0];
    if port == 0 {
        let g = GUESTS[usize::from(t) % 3].2;
        return match t {
            1 | 2 => arp(bc, 1, GW_MAC, GATEWAY, [0; 6], g),
            3 => arp(UPLINK_MAC, 2, GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC),
            4 => arp(bc, 1, GW_MAC, GATEWAY, [0; 6], [192, 0, 2, 77]),
            5 => ipv4(UPLINK_MAC, GW_MAC, REMOTE, g, 17, &udp),
            6 => ipv4(UPLINK_MAC, GW_MAC, REMOTE, [203, 0, 113, 5], 6, &tcp),
            7 => ipv4(UPLINK_MAC, GW_MAC, REMOTE, g, 1, &echo),
            8 => arp(bc, 2, GW_MAC, g, bc, g),
            _ => vec![],
        };
    }
    let (_, mac, ip) = GUESTS[usize::from(port - 1) % 3];
    let other = GUESTS[usize::from(port) % 3].2;
    match t {
        1 => arp(bc, 1, mac, ip, [0; 6], GATEWAY),
        2 => arp(bc, 1, mac, ip, [0; 6], other),
        3 => ipv4(GUEST_SIDE_MAC, mac, ip, REMOTE, 17, &udp),
        4 => ipv4(GUEST_SIDE_MAC, mac, ip, other, 6, &tcp),
        5 => ipv4(GUEST_SIDE_MAC, mac, ip, GATEWAY, 1, &echo),
        6 => arp(bc, 2, mac, ip, bc, ip),
        7 => ipv4(GUEST_SIDE_MAC, mac, [203, 0, 113, 1], REMOTE, 17, &udp),
        8 => arp(GUEST_SIDE_MAC, 2, mac, GATEWAY, GUEST_SIDE_MAC, ip),
        _ => vec![],
    }
}

pub fn check(port: u16, f: &[u8]) {
    pipeline_lab::check_source_mac(port, f);
    let ty = u16::from_be_bytes([f[12], f[13]]);
    if ty == 0x0800 && port == 0 && f.len() >= 34 {
        let src = [f[26], f[27], f[28], f[29]];
        assert!(
            owned_by_a_guest(src) || src == ROUTER_SRC,
            "toward the VLAN with source {src:?}, owned by no guest: {f:02x?}"
        );
    }
    if ty == 0x0806 && f.len() >= 42 {
        let op = u16::from_be_bytes([f[20], f[21]]);
        let spa = [f[28], f[29], f[30], f[31]];
        if port == 0 {
            assert!(
                GUESTS.iter().any(|g| g.2 == spa) || (op == 1 && spa == ROUTER_SRC),
                "ARP op {op} on the uplink for {spa:?}, not a guest's: {f:02x?}"
            );
        } else if op == 2 {
            let guest = GUESTS[usize::from(port - 1) % 3].2;
            assert_ne!(spa, guest, "a guest was answered for its own address");
        }
    }
}
