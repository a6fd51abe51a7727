//! One test per rule of `[guests.TAP]`: exact line, key and message.

#![allow(clippy::unwrap_used)]

mod support;

use support::{edit, line_of, problems, rejects, valid, BASE, ORIGIN};

const TAP3_IPS: &str = "ips = [\"192.0.2.30\", \"192.0.2.31\"]";
const TAP1_PREFIXES: &str = "routed_prefixes = [\"203.0.113.0/28\"]";

/// Replace tap3's second address by `ip` and expect `message` at it.
fn rejects_ip(ip: &str, message: &str) {
    let new = format!("ips = [\"192.0.2.30\", \"{ip}\"]");
    rejects(TAP3_IPS, &new, &new, "guests.tap3.ips", message);
}

/// Replace tap1's routed prefix by `prefix` and expect `message` at it.
fn rejects_prefix(prefix: &str, message: &str) {
    rejects(
        TAP1_PREFIXES,
        &format!("routed_prefixes = [\"{prefix}\"]"),
        "routed_prefixes",
        "guests.tap1.routed_prefixes",
        message,
    );
}

#[test]
fn guests_in_file_order() {
    let text = format!(
        "{BASE}\n[guests.tap0]\nmac = \"52:54:00:00:00:07\"\nips = [\"192.0.2.7\"]\nnetwork = \"public_90\"\n"
    );
    let c = valid(&text);
    let taps: Vec<&str> = c.guests.iter().map(|g| g.tap.as_str()).collect();
    assert_eq!(taps, ["tap1", "tap3", "tap0"]);
    assert_eq!(c.guest("tap3").unwrap().ips.len(), 2);
}

#[test]
fn the_example_from_the_docs() {
    let text = edit(TAP3_IPS, "ips = [\"203.0.113.9\"]");
    let p = problems(&text);
    assert_eq!(
        p[0].to_string(),
        format!(
            "{ORIGIN}:{}: guests.tap3.ips: 203.0.113.9 is not inside network public_90 (192.0.2.0/24)",
            line_of(&text, "203.0.113.9")
        )
    );
}

#[test]
fn tap_is_an_interface_name() {
    rejects(
        "[guests.tap3]",
        "[guests.\"tap/3\"]",
        "tap/3",
        "guests.\"tap/3\"",
        "interface name \"tap/3\" is invalid: '/' is not allowed (Linux interface names are 1 to 15 bytes, without '/', ':' or whitespace)",
    );
    rejects(
        "[guests.tap3]",
        "[guests.\"\"]",
        "[guests.\"\"]",
        "guests.\"\"",
        "interface name \"\" is invalid: it is empty (Linux interface names are 1 to 15 bytes, without '/', ':' or whitespace)",
    );
}

#[test]
fn tap_defined_twice() {
    let text = format!("{BASE}\n[guests.tap1]\nmac = \"52:54:00:00:00:05\"\n");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, Some(text.lines().count() - 1));
    assert_eq!(p[0].key, "guests.tap1");
    assert_eq!(p[0].message, "`tap1` is defined twice");
    // A key defined twice inside a table.
    let text = edit(TAP3_IPS, &format!("{TAP3_IPS}\nips = []"));
    let p = problems(&text);
    assert_eq!(p[0].line, Some(line_of(&text, "ips = []")));
    assert_eq!(p[0].key, "guests.tap3.ips");
    assert_eq!(p[0].message, "`ips` is defined twice");
}

#[test]
fn tap_is_not_an_uplink() {
    rejects(
        "[guests.tap3]",
        "[guests.\"bond0.80\"]",
        "bond0.80\"]",
        "guests.\"bond0.80\"",
        "interface bond0.80 is already the uplink of network public_80",
    );
}

#[test]
fn network_must_exist() {
    rejects(
        "ips = [\"192.0.2.30\", \"192.0.2.31\"]\nnetwork = \"public_90\"",
        "ips = [\"192.0.2.30\", \"192.0.2.31\"]\nnetwork = \"public_91\"",
        "public_91",
        "guests.tap3.network",
        "network \"public_91\" is not defined (defined networks: public_80, public_90)",
    );
}

#[test]
fn required_keys() {
    rejects(
        "mac = \"52:54:00:00:00:03\"\n",
        "",
        "[guests.tap3]",
        "guests.tap3",
        "missing required key `mac`",
    );
    rejects(
        "routed_prefixes = [\"203.0.113.0/28\"]",
        "routed_prefix = [\"203.0.113.0/28\"]",
        "routed_prefix",
        "guests.tap1.routed_prefix",
        "unknown key `routed_prefix`; valid keys here: mac, ips, network, routed_prefixes, hostname, ip6, eui64, routed_prefixes6",
    );
}

#[test]
fn mac_parses_and_is_unicast() {
    rejects(
        "mac = \"52:54:00:00:00:03\"",
        "mac = \"52:54:00:00:00:0g\"",
        "0g",
        "guests.tap3.mac",
        "\"52:54:00:00:00:0g\" is not a MAC address: expected six hex octets like 02:00:00:00:00:0a",
    );
    rejects(
        "mac = \"52:54:00:00:00:03\"",
        "mac = \"33:33:00:00:00:01\"",
        "33:33",
        "guests.tap3.mac",
        "33:33:00:00:00:01 is not a unicast MAC address: it is a multicast address (the low bit of the first octet is set)",
    );
}

#[test]
fn mac_is_not_the_routers_guest_mac() {
    rejects(
        "mac = \"52:54:00:00:00:03\"",
        "mac = \"FE:FF:FF:FF:FF:FF\"",
        "FE:FF",
        "guests.tap3.mac",
        "fe:ff:ff:ff:ff:ff is the guest_mac of network public_90, the router's own MAC toward guests: the guest needs a different one",
    );
}

#[test]
fn at_least_one_ip() {
    rejects(
        TAP3_IPS,
        "ips = []",
        "ips = []",
        "guests.tap3.ips",
        "no IP addresses given",
    );
}

#[test]
fn ips_parse() {
    rejects_ip("192.0.2.300", "\"192.0.2.300\" is not an IPv4 address");
    rejects_ip(
        "192.0.2.31/32",
        "\"192.0.2.31/32\" is not an IPv4 address (write the address without a prefix length)",
    );
}

#[test]
fn ip_inside_subnet_or_own_prefix() {
    rejects_ip(
        "198.51.100.31",
        "198.51.100.31 is not inside network public_90 (192.0.2.0/24)",
    );
    // Inside tap1's routed prefix, but this is tap3.
    rejects_ip(
        "203.0.113.5",
        "203.0.113.5 is not inside network public_90 (192.0.2.0/24)",
    );
    // tap1 may use an address of its own routed prefix.
    let c = valid(&edit(
        "ips = [\"192.0.2.10\"]",
        "ips = [\"192.0.2.10\", \"203.0.113.5\"]",
    ));
    assert_eq!(c.guest("tap1").unwrap().ips.len(), 2);
}

#[test]
fn ip_not_gateway_network_broadcast_or_arp_source() {
    rejects_ip("192.0.2.1", "192.0.2.1 is the gateway of network public_90");
    rejects_ip(
        "192.0.2.0",
        "192.0.2.0 is the network address of 192.0.2.0/24",
    );
    rejects_ip(
        "192.0.2.255",
        "192.0.2.255 is the broadcast address of 192.0.2.0/24",
    );
    rejects_ip(
        "192.0.2.254",
        "192.0.2.254 is the ARP source address of network public_90",
    );
}

#[test]
fn ip_is_unicast() {
    rejects_ip("127.0.0.1", "127.0.0.1 is not a unicast host address");
    rejects_ip("224.0.0.1", "224.0.0.1 is not a unicast host address");
    rejects_ip("0.0.0.0", "0.0.0.0 is not a unicast host address");
}

#[test]
fn ip_used_once() {
    // Reported at the second use, in file order.
    rejects_ip(
        "192.0.2.10",
        "192.0.2.10 is already used by guest tap1 in network public_90",
    );
    rejects_ip("192.0.2.30", "192.0.2.30 is listed twice");
}

#[test]
fn ips_on_their_own_lines() {
    let text = edit(TAP3_IPS, "ips = [\n  \"192.0.2.30\",\n  \"192.0.2.1\",\n]");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, Some(line_of(&text, "  \"192.0.2.1\",")));
    assert_eq!(p[0].key, "guests.tap3.ips");
}

#[test]
fn prefix_parses() {
    rejects_prefix(
        "203.0.113.0",
        "\"203.0.113.0\" is not an IPv4 prefix: expected ADDRESS/LENGTH, e.g. 192.0.2.0/24",
    );
    rejects_prefix(
        "203.0.113.0/33",
        "\"203.0.113.0/33\" is not an IPv4 prefix: expected ADDRESS/LENGTH, e.g. 192.0.2.0/24",
    );
}

#[test]
fn prefix_host_bits_clear() {
    rejects_prefix(
        "203.0.113.1/28",
        "203.0.113.1/28 has host bits set (did you mean 203.0.113.0/28?)",
    );
}

#[test]
fn prefix_outside_subnet_and_gateway() {
    rejects_prefix(
        "192.0.2.128/25",
        "192.0.2.128/25 overlaps the on-link subnet 192.0.2.0/24 of network public_90",
    );
    rejects_prefix(
        "192.0.0.0/16",
        "192.0.0.0/16 contains the gateway 192.0.2.1 of network public_90",
    );
}

#[test]
fn prefix_is_unicast_space() {
    rejects_prefix(
        "224.0.0.0/4",
        "224.0.0.0/4 overlaps non-unicast address space (0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3)",
    );
}

#[test]
fn prefix_used_once() {
    rejects(
        "ips = [\"192.0.2.30\", \"192.0.2.31\"]\nnetwork = \"public_90\"\n",
        "ips = [\"192.0.2.30\", \"192.0.2.31\"]\nnetwork = \"public_90\"\nrouted_prefixes = [\"203.0.113.8/29\"]\n",
        "203.0.113.8/29",
        "guests.tap3.routed_prefixes",
        "203.0.113.8/29 overlaps 203.0.113.0/28 of guest tap1",
    );
    rejects(
        TAP1_PREFIXES,
        "routed_prefixes = [\"203.0.113.0/28\", \"203.0.113.0/28\"]",
        "routed_prefixes",
        "guests.tap1.routed_prefixes",
        "203.0.113.0/28 is listed twice",
    );
}

#[test]
fn several_problems_in_one_guest() {
    let text = edit(TAP3_IPS, "ips = [\"192.0.2.300\", \"10.1.1.1/8\"]")
        .replace("mac = \"52:54:00:00:00:03\"", "mac = \"nope\"");
    let p = problems(&text);
    let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["guests.tap3.mac", "guests.tap3.ips", "guests.tap3.ips"]
    );
}
