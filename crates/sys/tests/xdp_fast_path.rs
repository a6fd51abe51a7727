//! The fast path's decisions, checked with BPF_PROG_TEST_RUN: which frames it redirects
//! (and how it rewrites them) and which it leaves to the router's socket. Needs root
//! (bpf(2)) but no network: the test run's ingress device is the loopback (ifindex 1),
//! which also stands in as the egress device of every hop; hops differ by counter slot.
//! Run: `cargo test -p hvrouter-sys --test xdp_fast_path`.

mod common;

use common::skip_unless_root;
use hvrouter_sys::{FastPathMaps, FpHop, FpPort, Steering, XdpAction, XdpError, XdpProgram};
use std::net::Ipv4Addr;

const LO: u32 = 1;
const UPLINK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const GUEST_SIDE_MAC: [u8; 6] = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff];
const GUEST_MAC: [u8; 6] = [0x02, 0, 0, 0, 1, 0x01];
const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const GUEST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const NET: u32 = 0;
const UPLINK_SLOT: u32 = 0;
const GUEST_SLOT: u32 = 1;

fn sum(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Ethernet + IPv4 (20 bytes) + `l4`, header checksum filled, L4 left as given.
fn frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ttl: u8,
    l4: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + l4.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0x12, 0x34, 0x40, 0, ttl, proto, 0, 0]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    let ck = !fold(sum(&f[14..34]));
    f[24..26].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(l4);
    f
}

fn pseudo(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u32 {
    sum(&src.octets()) + sum(&dst.octets()) + u32::from(proto) + len as u32
}

/// A UDP segment with `payload`, its checksum complete (or, `partial`, only the
/// pseudo-header sum, as a guest with checksum offload leaves it).
fn udp(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
    partial: bool,
) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&(len as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let p = pseudo(src, dst, 17, len);
    let ck = if partial { fold(p) } else { !fold(p + sum(&u)) };
    u[6..8].copy_from_slice(&ck.to_be_bytes());
    u
}

/// A TCP segment (20-byte header) with `payload` and a complete checksum.
fn tcp(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x18;
    t.extend_from_slice(payload);
    let ck = !fold(pseudo(src, dst, 6, t.len()) + sum(&t));
    t[16..18].copy_from_slice(&ck.to_be_bytes());
    t
}

fn header_ok(f: &[u8]) -> bool {
    fold(sum(&f[14..34])) == 0xffff
}

struct Fixture {
    maps: FastPathMaps,
    uplink: XdpProgram,
    guest: XdpProgram,
}

fn fixture() -> Option<Fixture> {
    let maps = match FastPathMaps::create() {
        Ok(m) => m,
        Err(e @ XdpError::CreateMap { .. }) => {
            eprintln!("SKIP: bpf(2) unavailable here: {e}");
            return None;
        }
        Err(e) => panic!("maps: {e}"),
    };
    let uplink = XdpProgram::load_with(Steering::Uplink, Some(&maps)).expect("load uplink");
    let guest = XdpProgram::load_with(Steering::Guest, Some(&maps)).expect("load guest");
    // Frames the fast path leaves go to the uplink program's socket (none: dropped).
    uplink.insert_guest_ip(GUEST).expect("steer guest");
    uplink
        .insert_steered_prefix(REMOTE, 24)
        .expect("steer remote");
    maps.insert_tx(LO).expect("devmap");
    maps.set_enabled(true).expect("on");
    let to_guest = FpHop {
        ifindex: LO,
        dst_mac: GUEST_MAC,
        src_mac: GUEST_SIDE_MAC,
        mtu: 1500,
        to_guest: true,
        coalesce_tcp: false,
        slot: GUEST_SLOT,
    };
    let to_gw = FpHop {
        ifindex: LO,
        dst_mac: GW_MAC,
        src_mac: UPLINK_MAC,
        mtu: 1500,
        to_guest: false,
        coalesce_tcp: false,
        slot: UPLINK_SLOT,
    };
    maps.insert_route(NET, GUEST, 32, Some(&to_guest))
        .expect("route");
    maps.insert_route(NET, Ipv4Addr::UNSPECIFIED, 0, Some(&to_gw))
        .expect("route");
    maps.insert_route(NET, Ipv4Addr::new(192, 0, 2, 0), 24, None)
        .expect("route");
    maps.insert_source(LO, GUEST, 32).expect("source");
    maps.clear_stats(UPLINK_SLOT).expect("clear");
    maps.clear_stats(GUEST_SLOT).expect("clear");
    Some(Fixture {
        maps,
        uplink,
        guest,
    })
}

fn as_uplink(fx: &Fixture) {
    let port = FpPort {
        network: NET,
        slot: UPLINK_SLOT,
        guest: false,
        mac: UPLINK_MAC,
    };
    fx.maps.insert_port(LO, &port).expect("port");
}

fn as_guest(fx: &Fixture) {
    let port = FpPort {
        network: NET,
        slot: GUEST_SLOT,
        guest: true,
        mac: GUEST_MAC,
    };
    fx.maps.insert_port(LO, &port).expect("port");
}

fn run(p: &XdpProgram, f: &[u8]) -> (XdpAction, Vec<u8>) {
    p.test_run_frame(f).expect("test run")
}

#[test]
fn uplink_to_guest_is_redirected_rewritten_and_counted() {
    if skip_unless_root("uplink_to_guest_is_redirected_rewritten_and_counted") {
        return;
    }
    let Some(fx) = fixture() else { return };
    as_uplink(&fx);
    let l4 = udp(REMOTE, GUEST, 5000, 6000, &[7; 18], false);
    let f = frame(UPLINK_MAC, GW_MAC, REMOTE, GUEST, 17, 64, &l4);
    let (action, out) = run(&fx.uplink, &f);
    assert_eq!(action, XdpAction::Redirect);
    assert_eq!(out[0..6], GUEST_MAC);
    assert_eq!(out[6..12], GUEST_SIDE_MAC);
    assert_eq!(out[22], 63, "TTL decremented");
    assert!(header_ok(&out), "incremental checksum is right");
    assert_eq!(out[34..], f[34..], "payload untouched");
    // The header checksum's carry case: a TTL whose word makes the sum wrap.
    for ttl in [2u8, 17, 128, 255] {
        let f = frame(UPLINK_MAC, GW_MAC, REMOTE, GUEST, 17, ttl, &l4);
        let (action, out) = run(&fx.uplink, &f);
        assert_eq!(action, XdpAction::Redirect);
        assert_eq!(out[22], ttl - 1);
        assert!(header_ok(&out), "ttl {ttl}");
    }
    let rx = fx.maps.stats(UPLINK_SLOT).expect("stats");
    let tx = fx.maps.stats(GUEST_SLOT).expect("stats");
    assert_eq!((rx.rx_packets, rx.rx_bytes), (5, 5 * f.len() as u64));
    assert_eq!((tx.tx_packets, tx.tx_bytes), (5, 5 * f.len() as u64));
    assert_eq!((rx.tx_packets, tx.rx_packets), (0, 0));
}

#[test]
fn uplink_leaves_everything_else_to_the_router() {
    if skip_unless_root("uplink_leaves_everything_else_to_the_router") {
        return;
    }
    let Some(fx) = fixture() else { return };
    as_uplink(&fx);
    let l4 = udp(REMOTE, GUEST, 5000, 6000, &[7; 18], false);
    let ok = frame(UPLINK_MAC, GW_MAC, REMOTE, GUEST, 17, 64, &l4);
    assert_eq!(run(&fx.uplink, &ok).0, XdpAction::Redirect);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "ttl 1",
            frame(UPLINK_MAC, GW_MAC, REMOTE, GUEST, 17, 1, &l4),
        ),
        (
            "not our MAC",
            frame([0xff; 6], GW_MAC, REMOTE, GUEST, 17, 64, &l4),
        ),
        (
            "martian source",
            frame(
                UPLINK_MAC,
                GW_MAC,
                Ipv4Addr::new(127, 0, 0, 1),
                GUEST,
                17,
                64,
                &l4,
            ),
        ),
        (
            "no hop (connected)",
            frame(
                UPLINK_MAC,
                GW_MAC,
                REMOTE,
                Ipv4Addr::new(192, 0, 2, 99),
                17,
                64,
                &l4,
            ),
        ),
        (
            "hairpin to the VLAN",
            frame(UPLINK_MAC, GW_MAC, GUEST, REMOTE, 17, 64, &l4),
        ),
        (
            "above the MTU",
            frame(UPLINK_MAC, GW_MAC, REMOTE, GUEST, 17, 64, &vec![0; 1481]),
        ),
    ];
    let mut bad_sum = ok.clone();
    bad_sum[25] ^= 0x5a;
    cases.push(("bad header checksum", bad_sum));
    let mut options = ok.clone();
    options[14] = 0x46;
    cases.push(("IP options", options));
    let mut fragment = ok.clone();
    fragment[20] |= 0x20; // MF
    let ck = !fold(sum(&{
        let mut h = fragment[14..34].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    }));
    fragment[24..26].copy_from_slice(&ck.to_be_bytes());
    cases.push(("fragment", fragment));
    let mut arp = ok.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    cases.push(("not IPv4", arp));
    cases.push(("truncated", ok[..40].to_vec()));
    for (what, f) in &cases {
        let (action, out) = run(&fx.uplink, f);
        // Not redirected, and handed on as received: to the socket (none here:
        // dropped) or, for what the uplink does not steer, to the kernel.
        assert_ne!(action, XdpAction::Redirect, "{what}");
        assert_eq!(&out, f, "{what}: untouched");
    }
    // Off: the same good frame goes to the router.
    fx.maps.set_enabled(false).expect("off");
    assert_eq!(run(&fx.uplink, &ok), (XdpAction::Drop, ok.clone()));
    fx.maps.set_enabled(true).expect("on");
    // A guest removed: its route goes, its frames go to the router.
    fx.maps.remove_route(NET, GUEST, 32).expect("remove");
    assert_eq!(run(&fx.uplink, &ok).0, XdpAction::Drop);
}

#[test]
fn guest_frames_are_checked_like_the_router_does() {
    if skip_unless_root("guest_frames_are_checked_like_the_router_does") {
        return;
    }
    let Some(fx) = fixture() else { return };
    as_guest(&fx);
    let good_udp = udp(GUEST, REMOTE, 5000, 53, &[1, 2, 3, 4, 5], false);
    let ok = frame(GUEST_SIDE_MAC, GUEST_MAC, GUEST, REMOTE, 17, 64, &good_udp);
    let (action, out) = run(&fx.guest, &ok);
    assert_eq!(
        action,
        XdpAction::Redirect,
        "odd-length UDP with a complete checksum"
    );
    assert_eq!(out[0..6], GW_MAC);
    assert_eq!(out[6..12], UPLINK_MAC);
    assert!(header_ok(&out));
    let tcp_ok = frame(
        GUEST_SIDE_MAC,
        GUEST_MAC,
        GUEST,
        REMOTE,
        6,
        64,
        &tcp(GUEST, REMOTE, &[9; 1400]),
    );
    assert_eq!(
        run(&fx.guest, &tcp_ok).0,
        XdpAction::Redirect,
        "TCP with a complete checksum"
    );
    let icmp = frame(
        GUEST_SIDE_MAC,
        GUEST_MAC,
        GUEST,
        REMOTE,
        1,
        64,
        &[8, 0, 0xf7, 0xff, 0, 0, 0, 0],
    );
    assert_eq!(run(&fx.guest, &icmp).0, XdpAction::Redirect, "ICMP");

    let spoofed = Ipv4Addr::new(192, 0, 2, 77);
    let mut bad_tcp = tcp(GUEST, REMOTE, &[9; 100]);
    bad_tcp[30] ^= 1;
    let partial_tcp = {
        let mut t = tcp(GUEST, REMOTE, &[9; 100]);
        let ck = fold(pseudo(GUEST, REMOTE, 6, t.len()));
        t[16..18].copy_from_slice(&ck.to_be_bytes());
        t
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "spoofed source IP",
            frame(
                GUEST_SIDE_MAC,
                GUEST_MAC,
                spoofed,
                REMOTE,
                17,
                64,
                &udp(spoofed, REMOTE, 5000, 53, &[1; 5], false),
            ),
        ),
        (
            "spoofed source MAC",
            frame(
                GUEST_SIDE_MAC,
                [0x02, 0, 0, 0, 9, 9],
                GUEST,
                REMOTE,
                17,
                64,
                &good_udp,
            ),
        ),
        (
            "multicast destination MAC",
            frame(
                [0x01, 0, 0x5e, 0, 0, 1],
                GUEST_MAC,
                GUEST,
                REMOTE,
                17,
                64,
                &good_udp,
            ),
        ),
        (
            "partial UDP checksum",
            frame(
                GUEST_SIDE_MAC,
                GUEST_MAC,
                GUEST,
                REMOTE,
                17,
                64,
                &udp(GUEST, REMOTE, 5000, 53, &[1; 5], true),
            ),
        ),
        (
            "partial TCP checksum",
            frame(
                GUEST_SIDE_MAC,
                GUEST_MAC,
                GUEST,
                REMOTE,
                6,
                64,
                &partial_tcp,
            ),
        ),
        (
            "wrong TCP checksum",
            frame(GUEST_SIDE_MAC, GUEST_MAC, GUEST, REMOTE, 6, 64, &bad_tcp),
        ),
        (
            "UDP without checksum",
            frame(GUEST_SIDE_MAC, GUEST_MAC, GUEST, REMOTE, 17, 64, &{
                let mut u = good_udp.clone();
                u[6] = 0;
                u[7] = 0;
                u
            }),
        ),
        (
            "DHCP",
            frame(
                GUEST_SIDE_MAC,
                GUEST_MAC,
                GUEST,
                REMOTE,
                17,
                64,
                &udp(GUEST, REMOTE, 68, 67, &[0; 20], false),
            ),
        ),
        (
            "to itself",
            frame(
                GUEST_SIDE_MAC,
                GUEST_MAC,
                GUEST,
                GUEST,
                17,
                64,
                &udp(GUEST, GUEST, 5000, 53, &[1; 5], false),
            ),
        ),
        (
            "multicast destination",
            frame(
                GUEST_SIDE_MAC,
                GUEST_MAC,
                GUEST,
                Ipv4Addr::new(224, 0, 0, 5),
                17,
                64,
                &good_udp,
            ),
        ),
        (
            "TTL 1",
            frame(GUEST_SIDE_MAC, GUEST_MAC, GUEST, REMOTE, 17, 1, &good_udp),
        ),
    ];
    for (what, f) in &cases {
        let (action, out) = run(&fx.guest, f);
        // To the socket (none here: dropped), untouched.
        assert_eq!(action, XdpAction::Drop, "{what}");
        assert_eq!(&out, f, "{what}: untouched");
    }
    // The neighbor goes: the default route loses its hop.
    fx.maps
        .insert_route(NET, Ipv4Addr::UNSPECIFIED, 0, None)
        .expect("route");
    assert_eq!(run(&fx.guest, &ok).0, XdpAction::Drop);
    let g = fx.maps.stats(GUEST_SLOT).expect("stats");
    assert_eq!(g.rx_packets, 3);
}

#[test]
fn a_redirect_the_devmap_refuses_is_counted_and_goes_to_the_router() {
    if skip_unless_root("a_redirect_the_devmap_refuses_is_counted_and_goes_to_the_router") {
        return;
    }
    let Some(fx) = fixture() else { return };
    as_uplink(&fx);
    let l4 = udp(REMOTE, GUEST, 5000, 6000, &[7; 18], false);
    let f = frame(UPLINK_MAC, GW_MAC, REMOTE, GUEST, 17, 64, &l4);
    assert_eq!(run(&fx.uplink, &f).0, XdpAction::Redirect);
    // The guest's device left the devmap while its route still names it.
    fx.maps.remove_tx(LO).expect("remove device");
    for _ in 0..3 {
        // Untouched, to the router's socket (none here: dropped).
        assert_eq!(run(&fx.uplink, &f), (XdpAction::Drop, f.clone()));
    }
    let tx = fx.maps.stats(GUEST_SLOT).expect("stats");
    assert_eq!((tx.tx_packets, tx.redirect_failed), (1, 3));
    let rx = fx.maps.stats(UPLINK_SLOT).expect("stats");
    assert_eq!((rx.rx_packets, rx.redirect_failed), (1, 0));
    // Back in the devmap: redirected again.
    fx.maps.insert_tx(LO).expect("devmap");
    assert_eq!(run(&fx.uplink, &f).0, XdpAction::Redirect);
}

#[test]
fn tcp_data_toward_a_coalescing_hop_goes_to_the_router() {
    if skip_unless_root("tcp_data_toward_a_coalescing_hop_goes_to_the_router") {
        return;
    }
    let Some(fx) = fixture() else { return };
    as_uplink(&fx);
    let data = frame(
        UPLINK_MAC,
        GW_MAC,
        REMOTE,
        GUEST,
        6,
        64,
        &tcp(REMOTE, GUEST, &[9; 100]),
    );
    let ack = frame(
        UPLINK_MAC,
        GW_MAC,
        REMOTE,
        GUEST,
        6,
        64,
        &tcp(REMOTE, GUEST, &[]),
    );
    let l4 = udp(REMOTE, GUEST, 5000, 6000, &[7; 100], false);
    let dgram = frame(UPLINK_MAC, GW_MAC, REMOTE, GUEST, 17, 64, &l4);
    for f in [&data, &ack, &dgram] {
        assert_eq!(run(&fx.uplink, f).0, XdpAction::Redirect);
    }
    // The guest's port takes GSO sends: the router coalesces its TCP data.
    let hop = FpHop {
        ifindex: LO,
        dst_mac: GUEST_MAC,
        src_mac: GUEST_SIDE_MAC,
        mtu: 1500,
        to_guest: true,
        coalesce_tcp: true,
        slot: GUEST_SLOT,
    };
    fx.maps
        .insert_route(NET, GUEST, 32, Some(&hop))
        .expect("route");
    assert_eq!(run(&fx.uplink, &data), (XdpAction::Drop, data.clone()));
    assert_eq!(run(&fx.uplink, &ack).0, XdpAction::Redirect, "a pure ACK");
    assert_eq!(run(&fx.uplink, &dgram).0, XdpAction::Redirect, "UDP");
    // A TCP frame too short for its header is the router's too.
    let short = data[..40].to_vec();
    assert_ne!(run(&fx.uplink, &short).0, XdpAction::Redirect);
}
