//! The DHCP keys: defaults, every rule with its exact line, key and message, and reload
//! semantics (a DHCP change is not a network change).

#![allow(clippy::unwrap_used)]

mod support;

use hvrouter_config::diff;
use std::net::Ipv4Addr;
use support::{edit, rejects, valid, BASE};

const GW80: &str = "gateway = \"198.51.100.1\"";

/// `public_80` with `lines` added after its gateway.
fn public_80(lines: &str) -> String {
    edit(GW80, &format!("{GW80}\n{lines}"))
}

#[test]
fn dhcp_is_on_by_default_with_a_week_lease() {
    let c = valid(BASE);
    let d = &c.network("public_90").unwrap().dhcp;
    assert!(d.enabled);
    assert!(d.dns_servers.is_empty() && d.domain.is_none() && d.search.is_empty());
    assert_eq!(d.lease_time, 604_800);
    assert_eq!(c.guest("tap1").unwrap().hostname, None);
    assert!(c.router_config().dhcp.for_network("public_80").enabled);
}

#[test]
fn every_key_is_read() {
    let text = public_80(
        "dhcp = true\ndns_servers = [\"198.51.100.53\", \"203.0.113.53\"]\n\
         domain = \"example.org\"\nsearch = [\"example.org\", \"lab.example.org\"]\n\
         lease_time = 3600",
    )
    .replace(
        "network = \"public_90\"\nrouted_prefixes",
        "network = \"public_90\"\nhostname = \"vm1.example.org\"\nrouted_prefixes",
    );
    let c = valid(&text);
    let d = &c.network("public_80").unwrap().dhcp;
    assert_eq!(
        d.dns_servers,
        vec![
            Ipv4Addr::new(198, 51, 100, 53),
            Ipv4Addr::new(203, 0, 113, 53)
        ]
    );
    assert_eq!(d.domain.as_deref(), Some("example.org"));
    assert_eq!(d.search, vec!["example.org", "lab.example.org"]);
    assert_eq!(d.lease_time, 3600);
    assert_eq!(
        c.guest("tap1").unwrap().hostname.as_deref(),
        Some("vm1.example.org")
    );
    let off = valid(&public_80("dhcp = false"));
    assert!(!off.dhcp_config().for_network("public_80").enabled);
    assert!(off.dhcp_config().for_network("public_90").enabled);
}

#[test]
fn dns_servers_are_checked() {
    rejects(
        GW80,
        &format!("{GW80}\ndns_servers = [\"198.51.100.300\"]"),
        "dns_servers",
        "networks.public_80.dns_servers",
        "\"198.51.100.300\" is not an IPv4 address",
    );
    rejects(
        GW80,
        &format!("{GW80}\ndns_servers = [\"198.51.100.53\", \"198.51.100.53\"]"),
        "dns_servers",
        "networks.public_80.dns_servers",
        "198.51.100.53 is listed twice",
    );
    rejects(
        GW80,
        &format!("{GW80}\ndns_servers = [\"224.0.0.1\"]"),
        "dns_servers",
        "networks.public_80.dns_servers",
        "DNS server 224.0.0.1 is not a unicast address",
    );
    rejects(
        GW80,
        &format!(
            "{GW80}\ndns_servers = [\"198.51.100.1\", \"198.51.100.2\", \"198.51.100.3\", \
             \"198.51.100.4\"]"
        ),
        "dns_servers",
        "networks.public_80.dns_servers",
        "4 DNS servers: at most 3 are sent (as resolv.conf reads)",
    );
}

#[test]
fn names_and_lease_are_checked() {
    rejects(
        GW80,
        &format!("{GW80}\ndomain = \"bad domain\""),
        "domain",
        "networks.public_80.domain",
        "domain \"bad domain\" is invalid: only letters, digits, '-' and '_' are allowed, and \
         no label may start or end with '-' (RFC 1123 2.1)",
    );
    rejects(
        GW80,
        &format!("{GW80}\nsearch = [\"example.org\", \"a..b\"]"),
        "search",
        "networks.public_80.search",
        "search domain \"a..b\" is invalid: it has an empty label (RFC 1035 2.3.4)",
    );
    rejects(
        GW80,
        &format!("{GW80}\nlease_time = 30"),
        "lease_time",
        "networks.public_80.lease_time",
        "30 is out of range: lease_time must be between 60 and 4294967295",
    );
    let many: Vec<String> = (0..12)
        .map(|i| format!("\"zone{i}.example.org\""))
        .collect();
    let text = format!("{GW80}\nsearch = [{}]", many.join(", "));
    rejects(
        GW80,
        &text,
        "search",
        "networks.public_80.search",
        "the domain and search list take 232 bytes of options: replies with a 63-character \
         host name must fit the 576-byte message every client accepts (RFC 2131 section 2), which \
         leaves 179 bytes for them",
    );
    rejects(
        "network = \"public_90\"\nrouted_prefixes",
        "network = \"public_90\"\nhostname = \"vm 1\"\nrouted_prefixes",
        "hostname",
        "guests.tap1.hostname",
        "hostname \"vm 1\" is invalid: only letters, digits, '-' and '_' are allowed, and no \
         label may start or end with '-' (RFC 1123 2.1)",
    );
}

#[test]
fn a_dhcp_change_is_not_a_network_change() {
    let old = valid(BASE);
    let new = valid(&public_80(
        "dns_servers = [\"198.51.100.53\"]\ndhcp = false",
    ));
    let d = diff(&old, &new);
    assert!(d.networks_changed.is_empty(), "{d:?}");
    assert_ne!(old.dhcp_config(), new.dhcp_config());
    let mtu = valid(&public_80("mtu = 9000"));
    assert_eq!(diff(&old, &mtu).networks_changed, vec!["public_80"]);
}
