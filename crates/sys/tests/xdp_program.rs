//! The steering program's verdicts, checked with BPF_PROG_TEST_RUN: needs root (bpf(2))
//! but no network. Run: `cargo test --test xdp_program`.

mod common;

use common::{arp_frame, icmp_echo_frame, skip_unless_root};
use hvrouter_sys::{Steering, XdpAction, XdpError, XdpProgram};
use std::net::Ipv4Addr;

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
