//! The steering program's verdicts, checked with BPF_PROG_TEST_RUN: needs root (bpf(2))
//! but no network. Run: `cargo test --test xdp_program`.

mod common;

use common::{arp_frame, icmp_echo_frame, skip_unless_root};
use hvrouter_sys::{Steering, XdpAction, XdpError, XdpProgram};
use std::net::{Ipv4Addr, Ipv6Addr};

const GUEST: [u8; 4] = [192, 0, 2, 10];
const OTHER: [u8; 4] = [192, 0, 2, 99];
const PEER: [u8; 4] = [192, 0, 2, 2];
const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
const BCAST: [u8; 6] = [0xff; 6];

fn load(steering: Steering) -> Option<XdpProgram> {
    match XdpProgram::load(steering) {
        Ok(p) => Some(p),
        Err(e @ XdpError::CreateMap { .. }) => {
            eprintln!(
                "SKIP: bpf(2) unavailable here: {e} ({:?})",
                std::error::Error::source(&e)
            );
            None
        }
        Err(e) => panic!("load {steering:?}: {e}"),
    }
}

#[test]
fn uplink_steers_only_guest_arp_and_ipv4() {
    if skip_unless_root("uplink_steers_only_guest_arp_and_ipv4") {
        return;
    }
    let Some(p) = load(Steering::Uplink) else {
        return;
    };
    p.insert_guest_ip(Ipv4Addr::from(GUEST))
        .expect("insert guest");
    p.insert_guest_ip(Ipv4Addr::from(GUEST))
        .expect("insert is idempotent");

    let arp_guest = arp_frame(1, MAC, PEER, [0; 6], GUEST, BCAST);
    let arp_other = arp_frame(1, MAC, PEER, [0; 6], OTHER, BCAST);
    let ip_guest = icmp_echo_frame(PEER, GUEST, 32);
    let ip_other = icmp_echo_frame(PEER, OTHER, 32);
    let mut ipv6 = ip_guest.clone();
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    let truncated_arp = arp_guest[..40].to_vec();

    // Guest traffic is meant for the socket; with no socket in the XSKMAP the
    // redirect falls back to XDP_DROP (fail closed).
    assert_eq!(p.test_run(&arp_guest).expect("run"), XdpAction::Drop);
    assert_eq!(p.test_run(&ip_guest).expect("run"), XdpAction::Drop);
    // Everything else is the kernel's.
    assert_eq!(p.test_run(&arp_other).expect("run"), XdpAction::Pass);
    assert_eq!(p.test_run(&ip_other).expect("run"), XdpAction::Pass);
    assert_eq!(p.test_run(&ipv6).expect("run"), XdpAction::Pass);
    assert_eq!(p.test_run(&truncated_arp).expect("run"), XdpAction::Pass);

    p.remove_guest_ip(Ipv4Addr::from(GUEST)).expect("remove");
    p.remove_guest_ip(Ipv4Addr::from(GUEST))
        .expect("remove absent is fine");
    assert_eq!(p.test_run(&arp_guest).expect("run"), XdpAction::Pass);
    assert_eq!(p.test_run(&ip_guest).expect("run"), XdpAction::Pass);
}

#[test]
fn uplink_steers_prefixes_of_any_length() {
    if skip_unless_root("uplink_steers_prefixes_of_any_length") {
        return;
    }
    let Some(p) = load(Steering::Uplink) else {
        return;
    };
    // A /24 (given with host bits set: they are ignored) and a short /8.
    p.insert_steered_prefix(Ipv4Addr::new(198, 51, 100, 7), 24)
        .expect("insert /24");
    p.insert_steered_prefix(Ipv4Addr::new(198, 51, 100, 0), 24)
        .expect("insert is idempotent");
    p.insert_steered_prefix(Ipv4Addr::new(10, 0, 0, 0), 8)
        .expect("insert /8");
    // An exact guest IP next to them still goes through the hash map.
    p.insert_guest_ip(Ipv4Addr::from(GUEST))
        .expect("insert guest");

    let in24: [u8; 4] = [198, 51, 100, 200];
    let in8: [u8; 4] = [10, 200, 3, 4];
    let outside: [u8; 4] = [198, 51, 101, 1];
    let verdict = |dst: [u8; 4]| {
        let ip = p
            .test_run(&icmp_echo_frame(PEER, dst, 32))
            .expect("run ipv4");
        let arp = p
            .test_run(&arp_frame(1, MAC, PEER, [0; 6], dst, BCAST))
            .expect("run arp");
        (ip, arp)
    };
    let steered = (XdpAction::Drop, XdpAction::Drop);
    let passed = (XdpAction::Pass, XdpAction::Pass);

    // Meant for the socket (dropped: no socket in the XSKMAP, fail closed).
    assert_eq!(verdict(in24), steered, "inside the /24");
    assert_eq!(verdict([198, 51, 100, 0]), steered, "first of the /24");
    assert_eq!(verdict([198, 51, 100, 255]), steered, "last of the /24");
    assert_eq!(verdict(in8), steered, "inside the /8");
    assert_eq!(verdict(GUEST), steered, "exact guest IP");
    // The kernel's.
    assert_eq!(verdict(outside), passed, "outside every prefix");
    assert_eq!(verdict([11, 0, 0, 1]), passed, "next to the /8");
    assert_eq!(verdict(OTHER), passed, "not a guest");

    assert!(matches!(
        p.insert_steered_prefix(Ipv4Addr::new(10, 0, 0, 0), 33),
        Err(XdpError::PrefixLen(33))
    ));

    p.remove_steered_prefix(Ipv4Addr::new(198, 51, 100, 0), 24)
        .expect("remove /24");
    p.remove_steered_prefix(Ipv4Addr::new(198, 51, 100, 0), 24)
        .expect("remove absent is fine");
    assert_eq!(verdict(in24), passed, "/24 removed");
    assert_eq!(verdict(in8), steered, "/8 still steered");
    p.remove_steered_prefix(Ipv4Addr::new(10, 0, 0, 0), 8)
        .expect("remove /8");
    assert_eq!(verdict(in8), passed, "/8 removed");
    assert_eq!(verdict(GUEST), steered, "exact guest IP stays");
}

#[test]
fn guest_steers_everything() {
    if skip_unless_root("guest_steers_everything") {
        return;
    }
    let Some(p) = load(Steering::Guest) else {
        return;
    };
    let arp = arp_frame(1, MAC, PEER, [0; 6], OTHER, BCAST);
    assert_eq!(p.test_run(&arp).expect("run"), XdpAction::Drop);
    assert!(matches!(
        p.insert_guest_ip(Ipv4Addr::from(GUEST)),
        Err(XdpError::NotUplink)
    ));
    assert!(matches!(
        p.insert_steered_prefix(Ipv4Addr::from(GUEST), 24),
        Err(XdpError::NotUplink)
    ));
}

#[test]
fn sink_drops_ipv4_and_passes_arp() {
    if skip_unless_root("sink_drops_ipv4_and_passes_arp") {
        return;
    }
    let Some(p) = load(Steering::DropIpv4) else {
        return;
    };
    let ip = icmp_echo_frame(PEER, GUEST, 32);
    assert_eq!(p.test_run(&ip).expect("run"), XdpAction::Drop);
    let arp = arp_frame(1, MAC, PEER, [0; 6], GUEST, BCAST);
    assert_eq!(p.test_run(&arp).expect("run"), XdpAction::Pass);
    // A bare IPv4 Ethernet header (BPF_PROG_TEST_RUN refuses anything shorter).
    assert_eq!(p.test_run(&ip[..14]).expect("run"), XdpAction::Drop);
    assert!(matches!(
        p.insert_guest_ip(Ipv4Addr::from(GUEST)),
        Err(XdpError::NotUplink)
    ));
}

/// Ethernet + IPv6 (`next_header`, `src` -> `dst`) + `payload`; no checksums (the
/// program reads none).
fn ipv6_frame(
    dst_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[next_header, 255]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(payload);
    f
}

/// An ICMPv6 Neighbor Solicitation body for `target` (type 135, checksum not filled).
fn ns_body(target: Ipv6Addr) -> Vec<u8> {
    let mut b = vec![135, 0, 0, 0, 0, 0, 0, 0];
    b.extend_from_slice(&target.octets());
    b.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 1]);
    b
}

#[test]
fn uplink_steers_guest_ipv6_and_ndp_only() {
    if skip_unless_root("uplink_steers_guest_ipv6_and_ndp_only") {
        return;
    }
    let Some(p) = load(Steering::Uplink) else {
        return;
    };
    let guest: Ipv6Addr = "2001:db8:90::a800:ff:fe00:1".parse().expect("addr");
    let stranger: Ipv6Addr = "2001:db8:90::4242".parse().expect("addr");
    let gw: Ipv6Addr = "2001:db8:90::1".parse().expect("addr");
    let routed: Ipv6Addr = "2001:db8:ff:7::9".parse().expect("addr");
    let solicited = |a: Ipv6Addr| {
        let o = a.octets();
        Ipv6Addr::from([
            0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
        ])
    };
    let mcast_mac = |a: Ipv6Addr| {
        let o = a.octets();
        [0x33, 0x33, o[12], o[13], o[14], o[15]]
    };
    p.insert_guest_ip6(guest).expect("insert");
    p.insert_guest_ip6(guest).expect("insert is idempotent");
    p.insert_steered_prefix6("2001:db8:ff::".parse().expect("addr"), 48)
        .expect("insert prefix");

    let to_guest = ipv6_frame(MAC, gw, guest, 17, &[0; 8]);
    let to_routed = ipv6_frame(MAC, gw, routed, 17, &[0; 8]);
    let to_stranger = ipv6_frame(MAC, gw, stranger, 17, &[0; 8]);
    let ns_guest = ipv6_frame(
        mcast_mac(solicited(guest)),
        gw,
        solicited(guest),
        58,
        &ns_body(guest),
    );
    let dad_guest = ipv6_frame(
        mcast_mac(solicited(guest)),
        Ipv6Addr::UNSPECIFIED,
        solicited(guest),
        58,
        &ns_body(guest),
    );
    let ns_stranger = ipv6_frame(
        mcast_mac(solicited(stranger)),
        gw,
        solicited(stranger),
        58,
        &ns_body(stranger),
    );
    // A Neighbor Advertisement (136) naming the guest, sent to all-nodes: the kernel's.
    let mut na_body = ns_body(guest);
    na_body[0] = 136;
    let na_all = ipv6_frame(
        [0x33, 0x33, 0, 0, 0, 1],
        gw,
        "ff02::1".parse().expect("addr"),
        58,
        &na_body,
    );
    // A solicitation behind a hop-by-hop header is not recognised: the kernel's.
    let mut hbh = vec![58, 0, 5, 2, 0, 0, 1, 0];
    hbh.extend_from_slice(&ns_body(guest));
    let ns_hbh = ipv6_frame(mcast_mac(solicited(guest)), gw, solicited(guest), 0, &hbh);
    let truncated_ns = ns_guest[..70].to_vec();
    // An MLDv2 General Query (type 130) to all-nodes behind the Router Alert hop-by-hop
    // header: the router's (it reports its guests' groups) ...
    let mut query = vec![58, 0, 5, 2, 0, 0, 1, 0];
    query.extend_from_slice(&[130, 0, 0, 0, 0x03, 0xe8, 0, 0]);
    query.extend_from_slice(&[0; 16]);
    query.extend_from_slice(&[0, 125, 0, 0]);
    let all_nodes: std::net::Ipv6Addr = "ff02::1".parse().expect("addr");
    let mld_query = ipv6_frame([0x33, 0x33, 0, 0, 0, 1], gw, all_nodes, 0, &query);
    // ... but a hop-by-hop header to all-routers (ff02::2) is the kernel's.
    let hbh_routers = ipv6_frame(
        [0x33, 0x33, 0, 0, 0, 2],
        gw,
        "ff02::2".parse().expect("addr"),
        0,
        &query,
    );

    // Meant for the socket: with none in the XSKMAP, dropped (fail closed).
    for (name, f) in [
        ("to guest", &to_guest),
        ("to routed prefix", &to_routed),
        ("NS for guest", &ns_guest),
        ("DAD for guest", &dad_guest),
        ("MLD query to all-nodes", &mld_query),
    ] {
        assert_eq!(p.test_run(f).expect("run"), XdpAction::Drop, "{name}");
    }
    for (name, f) in [
        ("to stranger", &to_stranger),
        ("NS for stranger", &ns_stranger),
        ("NA to all-nodes", &na_all),
        ("NS behind HBH", &ns_hbh),
        ("HBH to all-routers", &hbh_routers),
        ("truncated NS", &truncated_ns),
    ] {
        assert_eq!(p.test_run(f).expect("run"), XdpAction::Pass, "{name}");
    }

    p.remove_guest_ip6(guest).expect("remove");
    p.remove_guest_ip6(guest).expect("remove absent is fine");
    p.remove_steered_prefix6("2001:db8:ff::".parse().expect("addr"), 48)
        .expect("remove prefix");
    for f in [&to_guest, &to_routed, &ns_guest, &dad_guest] {
        assert_eq!(p.test_run(f).expect("run"), XdpAction::Pass);
    }
    assert!(matches!(
        XdpProgram::load(Steering::Guest).map(|g| g.insert_guest_ip6(guest)),
        Ok(Err(XdpError::NotUplink)) | Err(_)
    ));
}
