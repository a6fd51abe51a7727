//! One test per rule of `[networks.NAME]`: exact line, key and message.

#![allow(clippy::unwrap_used)]

mod support;

use support::{edit, line_of, problems, rejects, valid, BASE};
use wire::EthernetAddress;

const P90: &str = "networks.public_90";

fn key(field: &str) -> String {
    format!("{P90}.{field}")
}

#[test]
fn defaults() {
    let c = valid(BASE);
    let n = c.network("public_80").unwrap();
    assert_eq!(n.mtu, 1500);
    assert_eq!(n.arp_source, None);
    assert_eq!(n.uplink_mac, None);
    assert_eq!(
        n.guest_mac,
        EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff])
    );
    assert_eq!(c.networks[0].name, "public_90", "file order");
}

#[test]
fn network_name_without_spaces() {
    rejects(
        "[networks.public_80]",
        "[networks.\"public 80\"]",
        "public 80",
        "networks.\"public 80\"",
        "network name \"public 80\" is invalid: it must be non-empty, without spaces or control characters",
    );
}

#[test]
fn uplink_is_an_interface_name() {
    rejects(
        "uplink = \"bond0.90\"",
        "uplink = \"bond0.90:1\"",
        "uplink",
        &key("uplink"),
        "interface name \"bond0.90:1\" is invalid: ':' is not allowed (Linux interface names are 1 to 15 bytes, without '/', ':' or whitespace)",
    );
    rejects(
        "uplink = \"bond0.90\"",
        "uplink = \"a-very-long-bond0.90\"",
        "uplink",
        &key("uplink"),
        "interface name \"a-very-long-bond0.90\" is invalid: it is 20 bytes long (Linux interface names are 1 to 15 bytes, without '/', ':' or whitespace)",
    );
}

#[test]
fn uplink_used_once() {
    rejects(
        "uplink = \"bond0.80\"",
        "uplink = \"bond0.90\"",
        "uplink = \"bond0.90\"\nsubnet = \"198",
        "networks.public_80.uplink",
        "interface bond0.90 is already the uplink of network public_90",
    );
}

#[test]
fn uplink_is_required() {
    rejects(
        "uplink = \"bond0.90\"\n",
        "",
        "[networks.public_90]",
        P90,
        "missing required key `uplink`",
    );
}

#[test]
fn unknown_network_key_lists_valid_ones() {
    rejects(
        "mtu = 1500",
        "mut = 1500",
        "mut",
        &key("mut"),
        "unknown key `mut`; valid keys here: uplink, subnet, gateway, mtu, arp_source, uplink_mac, guest_mac, dhcp, dns_servers, domain, search, lease_time, subnet6, gateway6, router_advertisements, dns_servers6, source6",
    );
}

#[test]
fn subnet_parses() {
    rejects(
        "subnet = \"192.0.2.0/24\"",
        "subnet = \"192.0.2.0\"",
        "subnet",
        &key("subnet"),
        "\"192.0.2.0\" is not an IPv4 prefix: expected ADDRESS/LENGTH, e.g. 192.0.2.0/24",
    );
}

#[test]
fn subnet_host_bits_clear() {
    rejects(
        "subnet = \"192.0.2.0/24\"",
        "subnet = \"192.0.2.7/24\"",
        "subnet",
        &key("subnet"),
        "subnet 192.0.2.7/24 has host bits set (did you mean 192.0.2.0/24?)",
    );
}

#[test]
fn subnet_at_most_slash_30() {
    let text = edit("subnet = \"192.0.2.0/24\"", "subnet = \"192.0.2.0/31\"")
        .replace("arp_source = \"192.0.2.254\"\n", "");
    let p = problems(&text);
    assert_eq!(p[0].line, Some(line_of(&text, "192.0.2.0/31")));
    assert_eq!(p[0].key, key("subnet"));
    assert_eq!(
        p[0].message,
        "subnet 192.0.2.0/31 is too small: the prefix length must be at most /30"
    );
}

#[test]
fn gateway_parses() {
    rejects(
        "gateway = \"192.0.2.1\"",
        "gateway = \"192.0.2.1/24\"",
        "gateway",
        &key("gateway"),
        "\"192.0.2.1/24\" is not an IPv4 address (write the address without a prefix length)",
    );
}

#[test]
fn gateway_inside_subnet() {
    rejects(
        "gateway = \"192.0.2.1\"",
        "gateway = \"198.51.100.1\"",
        "gateway = \"198.51.100.1\"\nmtu",
        &key("gateway"),
        "gateway 198.51.100.1 is not inside subnet 192.0.2.0/24",
    );
}

#[test]
fn gateway_is_a_host_address() {
    for bad in ["192.0.2.0", "192.0.2.255"] {
        rejects(
            "gateway = \"192.0.2.1\"",
            &format!("gateway = \"{bad}\""),
            &format!("gateway = \"{bad}\""),
            &key("gateway"),
            &format!("gateway {bad} is the network or broadcast address of subnet 192.0.2.0/24"),
        );
    }
}

#[test]
fn mtu_range() {
    for bad in [67, 9001, 70000, -1] {
        rejects(
            "mtu = 1500",
            &format!("mtu = {bad}"),
            "mtu",
            &key("mtu"),
            &format!("mtu {bad} is out of range: it must be between 68 (RFC 791) and 9000"),
        );
    }
    for ok in [68, 9000] {
        let c = valid(&edit("mtu = 1500", &format!("mtu = {ok}")));
        assert_eq!(c.networks[0].mtu, ok);
    }
}

#[test]
fn arp_source_host_of_subnet() {
    for bad in ["192.0.2.1", "192.0.2.255", "198.51.100.7"] {
        rejects(
            "arp_source = \"192.0.2.254\"",
            &format!("arp_source = \"{bad}\""),
            "arp_source",
            &key("arp_source"),
            &format!(
                "arp_source {bad} must be a host address inside subnet 192.0.2.0/24, other than the gateway"
            ),
        );
    }
    rejects(
        "arp_source = \"192.0.2.254\"",
        "arp_source = \"192.0.2\"",
        "arp_source",
        &key("arp_source"),
        "\"192.0.2\" is not an IPv4 address",
    );
}

#[test]
fn arp_source_not_a_guest() {
    rejects(
        "ips = [\"192.0.2.30\", \"192.0.2.31\"]",
        "ips = [\"192.0.2.30\", \"192.0.2.254\"]",
        "\"192.0.2.254\"]",
        "guests.tap3.ips",
        "192.0.2.254 is the ARP source address of network public_90",
    );
}

#[test]
fn macs_parse_and_are_unicast() {
    rejects(
        "guest_mac = \"fe:ff:ff:ff:ff:ff\"",
        "guest_mac = \"fe:ff:ff:ff:ff\"",
        "guest_mac",
        &key("guest_mac"),
        "\"fe:ff:ff:ff:ff\" is not a MAC address: expected six hex octets like 02:00:00:00:00:0a",
    );
    rejects(
        "guest_mac = \"fe:ff:ff:ff:ff:ff\"",
        "guest_mac = \"ff:ff:ff:ff:ff:ff\"",
        "guest_mac",
        &key("guest_mac"),
        "ff:ff:ff:ff:ff:ff is not a unicast MAC address: it is the broadcast address",
    );
    rejects(
        "guest_mac = \"fe:ff:ff:ff:ff:ff\"",
        "uplink_mac = \"01:00:5e:00:00:01\"",
        "uplink_mac",
        &key("uplink_mac"),
        "01:00:5e:00:00:01 is not a unicast MAC address: it is a multicast address (the low bit of the first octet is set)",
    );
    rejects(
        "guest_mac = \"fe:ff:ff:ff:ff:ff\"",
        "uplink_mac = \"00:00:00:00:00:00\"",
        "uplink_mac",
        &key("uplink_mac"),
        "00:00:00:00:00:00 is not a unicast MAC address: it is all zeros",
    );
    let c = valid(&edit(
        "guest_mac = \"fe:ff:ff:ff:ff:ff\"",
        "uplink_mac = \"02:00:00:00:90:01\"\nguest_mac = \"02-00-00-00-90-02\"",
    ));
    assert_eq!(
        c.networks[0].uplink_mac,
        Some(EthernetAddress([2, 0, 0, 0, 0x90, 1]))
    );
    assert_eq!(
        c.networks[0].guest_mac,
        EthernetAddress([2, 0, 0, 0, 0x90, 2])
    );
}

#[test]
fn guests_of_a_broken_network_are_not_reported_again() {
    // tap1 and tap3 refer to the broken network: one problem, not three.
    let text = edit("gateway = \"192.0.2.1\"", "gateway = \"10.0.0.1\"");
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].key, key("gateway"));
}

#[test]
fn overlapping_subnets_in_different_networks_are_fine() {
    // Each network (VLAN) has its own route table and address index.
    let text = edit("subnet = \"198.51.100.0/24\"", "subnet = \"192.0.2.0/24\"")
        .replace("gateway = \"198.51.100.1\"", "gateway = \"192.0.2.1\"");
    let text = format!(
        "{text}\n[guests.tap9]\nmac = \"52:54:00:00:00:09\"\nips = [\"192.0.2.10\"]\nnetwork = \"public_80\"\n"
    );
    let c = valid(&text);
    assert_eq!(c.guests_of("public_80").count(), 1);
}
