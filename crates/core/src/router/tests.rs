//! [`Router::process_burst`] decides exactly as [`Router::process`] frame by frame: same
//! actions, same rewritten frames, same counters, same originated frames, for bursts that
//! mix forwarded, dropped, resolved-later and non-IPv4 frames, on both port kinds.

use wire::{EthernetAddress, Ipv4Addr, Ipv4Packet};

use super::*;
use crate::testkit::*;

/// The fixture's two guests (ports not marked up, no routed prefixes).
pub(super) fn router() -> Router {
    two_guests(vec![], false)
}

/// A UDP frame from the fixture (8-byte payload, valid header checksum).
pub(super) fn ipv4(
    dst_mac: EthernetAddress,
    src_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
) -> Vec<u8> {
    crate::testkit::ipv4(dst_mac, src_mac, src, dst, ttl, wire::Protocol::Udp)
}

/// A gratuitous-ARP-shaped frame (EtherType ARP), as a non-IPv4 frame in the burst.
fn arp(src_mac: EthernetAddress, ip: Ipv4Addr) -> Vec<u8> {
    let none = EthernetAddress([0; 6]);
    crate::testkit::arp(
        EthernetAddress::BROADCAST,
        src_mac,
        1,
        src_mac,
        ip,
        none,
        GW,
    )
}

fn from_guest1() -> Vec<Vec<u8>> {
    let ok = ipv4(GUEST_SIDE_MAC, MAC1, GUEST1, REMOTE, 64);
    let mut bad_sum = ok.clone();
    bad_sum[14 + 10] ^= 0xff;
    vec![
        ok.clone(),
        ipv4(GUEST_SIDE_MAC, MAC1, GUEST1, GUEST2, 64),
        ipv4(
            GUEST_SIDE_MAC,
            MAC1,
            Ipv4Addr::new(192, 0, 2, 77),
            REMOTE,
            64,
        ),
        ipv4(GUEST_SIDE_MAC, MAC2, GUEST1, REMOTE, 64),
        ipv4(GUEST_SIDE_MAC, MAC1, GUEST1, REMOTE, 1),
        ipv4(GUEST_SIDE_MAC, MAC1, GUEST1, VLAN_HOST, 64),
        ipv4(
            GUEST_SIDE_MAC,
            MAC1,
            GUEST1,
            Ipv4Addr::new(224, 0, 0, 5),
            64,
        ),
        bad_sum,
        ok[..30].to_vec(),
        arp(MAC1, GUEST1),
        ok.clone(),
        vec![0u8; 10],
        ok,
    ]
}

fn from_uplink() -> Vec<Vec<u8>> {
    let ok = ipv4(UPLINK_MAC, GW_MAC, REMOTE, GUEST1, 64);
    vec![
        ok.clone(),
        ipv4(UPLINK_MAC, GW_MAC, REMOTE, GUEST2, 2),
        ipv4(UPLINK_MAC, GW_MAC, REMOTE, VLAN_HOST, 64),
        ipv4(
            UPLINK_MAC,
            GW_MAC,
            REMOTE,
            Ipv4Addr::new(192, 0, 2, 200),
            64,
        ),
        ipv4(EthernetAddress::BROADCAST, GW_MAC, REMOTE, GUEST1, 64),
        ipv4(UPLINK_MAC, GW_MAC, REMOTE, GUEST1, 1),
        arp(GW_MAC, Ipv4Addr::new(192, 0, 2, 1)),
        ok,
    ]
}

/// Run `frames` through `process` one by one on one router and through
/// `process_burst` on another, and compare everything observable.
fn same_decisions(port: PortId, frames: Vec<Vec<u8>>) {
    let now = Instant::ZERO;
    let (mut a, mut b) = (router(), router());
    let (mut out_a, mut out_b) = (Outbox::new(), Outbox::new());
    let mut frames_a = frames.clone();
    let want: Vec<Action> = frames_a
        .iter_mut()
        .map(|f| a.process(port, f, now, &mut out_a))
        .collect();
    let mut frames_b = frames;
    let mut got = Vec::new();
    b.process_burst(
        port,
        &mut frames_b,
        |f| &mut f[..],
        now,
        &mut out_b,
        &mut got,
    );
    assert_eq!(got, want);
    assert_eq!(frames_b, frames_a, "frames rewritten differently");
    let counters = |r: &Router| format!("{:?}", r.counters().iter().collect::<Vec<_>>());
    assert_eq!(counters(&b), counters(&a));
    let sent = |o: &Outbox| {
        o.frames()
            .iter()
            .map(|f| (f.port, f.data.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(sent(&out_b), sent(&out_a));
    assert!(want.iter().any(|a| matches!(a, Action::Forward(_))));
    assert!(want.iter().any(|a| matches!(a, Action::Drop(_))));
}

#[test]
fn burst_from_guest_decides_as_frame_by_frame() {
    same_decisions(TAP1, from_guest1());
}

#[test]
fn burst_from_uplink_decides_as_frame_by_frame() {
    same_decisions(UPLINK, from_uplink());
}

#[test]
fn burst_on_unknown_port_or_down_guest() {
    let now = Instant::ZERO;
    let mut r = router();
    let mut out = Outbox::new();
    let mut actions = Vec::new();
    let mut frames = from_guest1();
    r.process_burst(
        PortId(9),
        &mut frames,
        |f| &mut f[..],
        now,
        &mut out,
        &mut actions,
    );
    assert!(actions
        .iter()
        .all(|a| *a == Action::Drop(DropReason::UnknownPort)));
    assert_eq!(actions.len(), frames.len());
    r.set_port_up(TAP1, false);
    same_decisions_on(r, TAP1, from_guest1());
}

fn same_decisions_on(mut b: Router, port: PortId, frames: Vec<Vec<u8>>) {
    let now = Instant::ZERO;
    let mut out = Outbox::new();
    let mut got = Vec::new();
    let mut frames_b = frames.clone();
    b.process_burst(port, &mut frames_b, |f| &mut f[..], now, &mut out, &mut got);
    let mut a = router();
    a.set_port_up(port, false);
    let mut out_a = Outbox::new();
    let mut frames_a = frames;
    let want: Vec<Action> = frames_a
        .iter_mut()
        .map(|f| a.process(port, f, now, &mut out_a))
        .collect();
    assert_eq!(got, want);
    assert!(want.contains(&Action::Drop(DropReason::GuestDown)));
}

/// The inline TCP/UDP checksum completion on the forwarding path agrees with
/// `guest_offload::complete_checksum` (the general one) on random guest datagrams:
/// valid and invalid UDP lengths and TCP data offsets, UDP without checksum, fragments,
/// headers with options, other protocols and Ethernet padding.
#[test]
fn inline_l4_checksum_matches_general() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut completed = 0;
    for _ in 0..20_000 {
        let options = if next() % 8 == 0 { 4 } else { 0 };
        let l4_len = (next() % 80) as usize;
        let ip_len = 20 + options + l4_len;
        let pad = (next() % 4) as usize;
        let mut f = vec![0u8; 14 + ip_len + pad];
        for b in f.iter_mut() {
            *b = next() as u8;
        }
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let protocol = [6u8, 17, 17, 6, 1][(next() % 5) as usize];
        {
            let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
            ip.set_version(4);
            ip.set_header_len((20 + options) as u8);
            ip.set_total_len(ip_len as u16);
            ip.set_src_addr(Ipv4Addr::new(192, 0, 2, 10));
            ip.set_dst_addr(Ipv4Addr::new(198, 51, 100, 7));
            ip.set_protocol(protocol.into());
            ip.set_ttl(64);
            // Mostly unfragmented; sometimes MF or an offset.
            let flags: u16 = [0x4000, 0, 0x4000, 0x2000, 0x0010][(next() % 5) as usize];
            f[14 + 6..14 + 8].copy_from_slice(&flags.to_be_bytes());
        }
        let l4 = 14 + 20 + options;
        if l4_len >= 8 && protocol == 17 {
            // A plausible UDP length most of the time, checksum 0 sometimes.
            let len = match next() % 4 {
                0 => (next() % (l4_len as u64 + 4)) as u16,
                _ => l4_len as u16,
            };
            f[l4 + 4..l4 + 6].copy_from_slice(&len.to_be_bytes());
            if next() % 6 == 0 {
                f[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
            }
        }
        if l4_len >= 20 && protocol == 6 && next() % 4 != 0 {
            let words = 5 + (next() % ((l4_len as u64 - 20) / 4 + 1)) as u8;
            f[l4 + 12] = (words << 4) | (f[l4 + 12] & 0x0f);
        }
        Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
        let mut general = f.clone();
        let mut inline = f;
        let Some(got) = ip_forward::validate_and_complete_l4(&mut inline) else {
            continue;
        };
        let want = guest_offload::complete_checksum(&mut general, ip_len);
        assert_eq!(got, want);
        assert_eq!(inline, general);
        if got.is_ok() && protocol != 1 {
            completed += 1;
        }
    }
    assert!(completed > 5_000, "only {completed} datagrams completed");
}
