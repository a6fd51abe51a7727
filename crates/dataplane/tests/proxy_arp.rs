//! Proxy ARP on both sides, on in-memory ports with a fake clock (no privileges).

mod support;

use hvrouter_core::drop::DropReason;
use support::*;
use wire::{ArpOperation, Ipv4Addr};

// --- proxy ARP on the uplink -------------------------------------------------------

#[test]
fn gateway_who_has_guest_is_answered_with_uplink_mac() {
    let mut lab = Lab::new();
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1));
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 1, "exactly one reply on the uplink");
    let (eth, arp) = parse_arp(&sent[0]);
    assert_eq!(eth.dst_addr, GW_MAC);
    assert_eq!(eth.src_addr, UPLINK_MAC);
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!(arp.source_hardware_addr, UPLINK_MAC);
    assert_eq!(arp.source_protocol_addr, GUEST1);
    assert_eq!(arp.target_hardware_addr, GW_MAC);
    assert_eq!(arp.target_protocol_addr, GATEWAY);
    assert!(lab.sent_all().is_empty(), "nothing reaches any guest");
    assert_eq!(lab.pipe.router().port_counters(UPLINK).arp_answered, 1);
}

#[test]
fn gateway_who_has_non_guest_gets_silence() {
    let mut lab = Lab::new();
    lab.inject(
        UPLINK,
        &who_has(GW_MAC, GATEWAY, Ipv4Addr::new(192, 0, 2, 50)),
    );
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, ROUTER_SRC));
    lab.inject(
        UPLINK,
        &who_has(GW_MAC, GATEWAY, Ipv4Addr::new(203, 0, 113, 77)),
    );
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(UPLINK, DropReason::ArpNotHostedGuest), 2);
    assert_eq!(lab.drops(UPLINK, DropReason::ArpOutsideSubnet), 1);
}

#[test]
fn gratuitous_arp_from_vlan_is_not_answered() {
    let mut lab = Lab::new();
    // A VLAN host announcing a guest's address: never answered, never learned.
    lab.inject(UPLINK, &who_has(VLAN_HOST_MAC, GUEST1, GUEST1));
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(UPLINK, DropReason::ArpGratuitous), 1);
    // And it does not divert the guest's traffic.
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false),
    );
    lab.run();
    assert_eq!(lab.sent(TAP1).len(), 1);
}

// --- proxy ARP toward guests -----------------------------------------------------------

#[test]
fn guest_who_has_gateway_is_answered_with_guest_side_mac() {
    let mut lab = Lab::new();
    lab.inject(TAP1, &who_has(MAC1, GUEST1, GATEWAY));
    lab.run();
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 1);
    let (eth, arp) = parse_arp(&sent[0]);
    assert_eq!(eth.dst_addr, MAC1);
    assert_eq!(eth.src_addr, GUEST_SIDE_MAC);
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!(arp.source_hardware_addr, GUEST_SIDE_MAC);
    assert_eq!(arp.source_protocol_addr, GATEWAY);
    assert_eq!(arp.target_protocol_addr, GUEST1);
    assert!(
        lab.sent_all().is_empty(),
        "nothing reaches the VLAN or other guests"
    );
}

#[test]
fn guest_who_has_other_subnet_addresses_is_answered() {
    let mut lab = Lab::new();
    lab.inject(TAP1, &who_has(MAC1, GUEST1, GUEST2));
    lab.inject(TAP1, &who_has(MAC1, GUEST1, VLAN_HOST));
    lab.run();
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 2);
    for f in &sent {
        assert_eq!(parse_arp(f).1.source_hardware_addr, GUEST_SIDE_MAC);
    }
    assert!(lab.sent_all().is_empty());
}

#[test]
fn guest_own_address_and_probe_get_silence() {
    let mut lab = Lab::new();
    // Asking for its own address.
    lab.inject(TAP1, &who_has(MAC1, GUEST1, GUEST1));
    // RFC 5227 probe: sender 0.0.0.0, for its own address and for the gateway.
    lab.inject(TAP1, &who_has(MAC1, Ipv4Addr::UNSPECIFIED, GUEST1));
    lab.inject(TAP1, &who_has(MAC1, Ipv4Addr::UNSPECIFIED, GATEWAY));
    // Outside the subnet, and the subnet's broadcast address.
    lab.inject(TAP1, &who_has(MAC1, GUEST1, Ipv4Addr::new(198, 51, 100, 1)));
    lab.inject(TAP1, &who_has(MAC1, GUEST1, Ipv4Addr::new(192, 0, 2, 255)));
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::ArpGratuitous), 1);
    assert_eq!(lab.drops(TAP1, DropReason::ArpProbe), 2);
    assert_eq!(lab.drops(TAP1, DropReason::ArpOutsideSubnet), 1);
    assert_eq!(lab.drops(TAP1, DropReason::ArpReservedTarget), 1);
}

#[test]
fn guest_arp_never_changes_router_state() {
    let mut lab = Lab::new();
    // A guest replying "gateway is-at me" and announcing the gateway: both spoofed.
    lab.inject(TAP1, &is_at(MAC1, GATEWAY, GUEST_SIDE_MAC, GUEST1));
    lab.inject(TAP1, &who_has(MAC1, GATEWAY, GATEWAY));
    // A legitimate reply from the guest is ignored too.
    lab.inject(TAP1, &is_at(MAC1, GUEST1, GUEST_SIDE_MAC, GATEWAY));
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedArpSender), 2);
    assert_eq!(lab.drops(TAP1, DropReason::ArpReplyIgnored), 1);
    let router = lab.pipe.router();
    assert!(router.neighbors(lab.net).unwrap().is_empty());
}

// --- explain -----------------------------------------------------------------------------

#[test]
fn explain_arp_matches_what_the_router_does() {
    use hvrouter_core::proxy_arp::{explain, ArpDecision};
    let mut lab = Lab::new();
    let ex = |lab: &Lab, ip: Ipv4Addr| {
        let tables = lab.pipe.router().tables();
        explain(tables, tables.network(lab.net).unwrap(), ip)
    };
    let e = ex(&lab, GUEST1);
    assert_eq!(e.owner, Some(("tap1".to_string(), true)));
    assert_eq!(e.uplink, ArpDecision::Answer(UPLINK_MAC));
    assert_eq!(e.from_other_guest, ArpDecision::Answer(GUEST_SIDE_MAC));
    // Asking for its own (only) address is a gratuitous announcement: never answered.
    assert_eq!(
        e.from_owner,
        Some(ArpDecision::Ignore(DropReason::ArpGratuitous))
    );
    let e = ex(&lab, Ipv4Addr::new(192, 0, 2, 50));
    assert_eq!(e.owner, None);
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpNotHostedGuest));
    assert_eq!(e.from_other_guest, ArpDecision::Answer(GUEST_SIDE_MAC));
    let e = ex(&lab, GATEWAY);
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpNotHostedGuest));
    assert_eq!(e.from_other_guest, ArpDecision::Answer(GUEST_SIDE_MAC));
    let e = ex(&lab, Ipv4Addr::new(198, 51, 100, 7));
    assert!(!e.in_subnet);
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpOutsideSubnet));
    // Down guest, and the incident (routes gone): explanations follow, never a route.
    lab.pipe.router_mut().set_port_up(TAP1, false);
    lab.delete_route("0.0.0.0/0");
    lab.delete_route(SUBNET);
    let e = ex(&lab, GUEST1);
    assert_eq!(e.owner, Some(("tap1".to_string(), false)));
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpGuestDown));
    let e = ex(&lab, Ipv4Addr::new(192, 0, 2, 50));
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpNotHostedGuest));
    // What explain says is what the packet path does.
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST2));
    lab.run();
    assert_eq!(
        ex(&lab, GUEST2).uplink.is_answer(),
        lab.sent(UPLINK).len() == 1
    );
}
