//! IPv6 for routed guests in namespaces: the lab of `common` with
//! `subnet6 = 2001:db8:90::/64` on its network. A veth guest with only the kernel's
//! defaults (accept_ra) takes its SLAAC address and default route from the router's
//! advertisement, pings the gateway's IPv6 address and is pinged back, and TCP runs both
//! ways; proxy NDP on the VLAN answers only the hosted guests (neighbor solicitations
//! from the gateway for 12 other addresses of the /64 get nothing), before and after an
//! uplink bounce; after SIGKILL nothing answers. Needs root; skips otherwise.

mod common;

use std::time::Duration;

use common::{eventually, skip_unless_lab, Lab};

const GW6: &str = "2001:db8:90::1";
/// g1's SLAAC address: EUI-64 of 02:00:00:00:00:0a in 2001:db8:90::/64.
const G1: &str = "2001:db8:90::ff:fe00:a";
/// g2's (veth) and g3's (tap behind the relay, offloads on) SLAAC addresses.
const G2: &str = "2001:db8:90::ff:fe00:14";
const G3: &str = "2001:db8:90::ff:fe00:1e";
/// The router's link-local address toward guests: EUI-64 of fe:ff:ff:ff:ff:ff.
const ROUTER_LL: &str = "fe80::fcff:ffff:feff:ffff";

fn up() -> Lab {
    let mut lab = Lab::up("v6");
    lab.edit_demo_config(
        "gateway = \"192.0.2.1\"",
        "gateway = \"192.0.2.1\"\nsubnet6 = \"2001:db8:90::/64\"\ngateway6 = \"2001:db8:90::1\"",
    );
    lab.stop_router("TERM");
    gateway_address(&lab);
    lab.start_router();
    lab
}

fn gateway_address(lab: &Lab) {
    let out = lab.exec(
        "gw",
        &[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{GW6}/64"),
            "dev",
            "eth0",
            "nodad",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(o: std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ping6(lab: &Lab, from: &str, to: &str) -> bool {
    lab.exec(from, &["ping", "-6", "-c", "1", "-W", "1", to])
        .status
        .success()
}

/// The gateway's neighbor entry for `addr`, if it has a link-layer address.
fn gw_lladdr(lab: &Lab, addr: &str) -> Option<String> {
    let t = text(lab.exec("gw", &["ip", "-6", "neigh", "show", addr, "dev", "eth0"]));
    let mut words = t.split_whitespace();
    while let Some(w) = words.next() {
        if w == "lladdr" {
            return words.next().map(str::to_string);
        }
    }
    None
}

/// 12 addresses of the /64 that belong to no guest (a fixed pseudo-random spread).
fn strangers() -> Vec<String> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..12)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = x.to_be_bytes();
            format!(
                "2001:db8:90:0:{:x}:{:x}:{:x}:{:x}",
                u16::from_be_bytes([s[0], s[1]]) | 0x100,
                u16::from_be_bytes([s[2], s[3]]),
                u16::from_be_bytes([s[4], s[5]]),
                u16::from_be_bytes([s[6], s[7]])
            )
        })
        .collect()
}

/// Solicit every stranger from the gateway (its pings make it send NS) and return the
/// ones that got a link-layer address.
fn answered_strangers(lab: &Lab) -> Vec<String> {
    let _ = lab.exec("gw", &["ip", "-6", "neigh", "flush", "dev", "eth0"]);
    for s in strangers() {
        assert!(!ping6(lab, "gw", &s), "{s} answered a ping");
    }
    strangers()
        .into_iter()
        .filter(|s| gw_lladdr(lab, s).is_some())
        .collect()
}

#[test]
fn slaac_ping_tcp_and_fail_closed_proxy_ndp() {
    skip_unless_lab!();
    let mut lab = up();

    // SLAAC from the router's RA: the address and the default route.
    let slaac = eventually(Duration::from_secs(15), || {
        let t = text(lab.exec("g1", &["ip", "-6", "addr", "show", "dev", "eth0"]));
        t.contains(G1) && !t.contains("tentative")
    });
    assert!(
        slaac,
        "g1 got no SLAAC address: {}\nrouter:\n{}",
        text(lab.exec("g1", &["ip", "-6", "addr"])),
        lab.router_log()
    );
    let routes = text(lab.exec("g1", &["ip", "-6", "route", "show", "default"]));
    assert!(
        routes.contains(&format!("via {ROUTER_LL}")),
        "default route: {routes}"
    );

    // Both ways, through the router.
    assert!(
        common::Lab::ping_eventually(&lab, "g1", GW6, Duration::from_secs(10)),
        "g1 cannot ping6 the gateway\nrouter:\n{}",
        lab.router_log()
    );
    assert!(ping6(&lab, "gw", G1), "the gateway cannot ping6 g1");
    // The gateway reaches g1 at the router's uplink MAC.
    let uplink_mac = lab.hv_mac("hvr-up0");
    assert_eq!(gw_lladdr(&lab, G1).as_deref(), Some(uplink_mac.as_str()));

    // TCP both ways.
    let up = lab.iperf("g1", "gw", G1, false, 2);
    let down = lab.iperf("g1", "gw", G1, true, 2);
    assert!(
        up > 1.0 && down > 1.0,
        "iperf3 over IPv6: {up:.1} / {down:.1} Mbit/s"
    );
    eprintln!("iperf3 IPv6 gw->g1 {up:.0} Mbit/s, g1->gw {down:.0} Mbit/s");

    // Guest to guest, and the tap guest (partial checksums, TSO6 super-frames that the
    // router segments) both ways.
    for (g, a) in [("g2", G2), ("g3", G3)] {
        assert!(
            eventually(Duration::from_secs(15), || ping6(&lab, "g1", a)),
            "g1 cannot ping6 {g} at {a}: {}\nrouter:\n{}",
            text(lab.exec(g, &["ip", "-6", "addr"])),
            lab.router_log()
        );
    }
    let tap_up = lab.iperf("g3", "gw", G3, false, 2);
    let tap_down = lab.iperf("g3", "gw", G3, true, 2);
    assert!(
        tap_up > 1.0 && tap_down > 1.0,
        "iperf3 over IPv6 to the tap guest: {tap_up:.1} / {tap_down:.1} Mbit/s"
    );
    eprintln!("iperf3 IPv6 gw->g3 (tap) {tap_up:.0} Mbit/s, g3->gw {tap_down:.0} Mbit/s");

    // Proxy NDP answers only hosted guests.
    let answered = answered_strangers(&lab);
    assert!(answered.is_empty(), "strangers answered: {answered:?}");
    assert!(ping6(&lab, "gw", G1));

    // The control socket explains the same decisions.
    let out = text(lab.cli(&["explain", "ndp", G1]));
    assert!(
        out.contains("owner: hvr-g1") && out.contains("NS from the VLAN: answered"),
        "{out}"
    );
    let stranger = strangers()[0].clone();
    let out = text(lab.cli(&["explain", "ndp", &stranger]));
    assert!(
        out.contains("NS from the VLAN: silent: ndp_not_hosted_guest"),
        "{out}"
    );
    // The uplink's XDP program hands solicitations for non-guests to the kernel (which
    // does not answer them either): the router never even sees them.
    assert_eq!(lab.port_counters("hvr-up0").get("ndp_not_hosted_guest"), 0);
    let out = text(lab.cli(&["show", "ipv6"]));
    assert!(
        out.contains(G1) && out.contains(&format!("neighbor {GW6}")),
        "{out}"
    );

    // Reload applies a configured guest's IPv6 keys in place.
    lab.edit_config(|t| {
        t.replace(
            "ips = [\"192.0.2.20\"]",
            "ips = [\"192.0.2.20\"]\nip6 = [\"2001:db8:90::20\"]",
        )
    });
    let out = lab.cli(&["reload"]);
    assert!(out.status.success(), "reload: {}", text(out));
    let out = text(lab.cli(&["explain", "ndp", "2001:db8:90::20"]));
    assert!(out.contains("owner: hvr-g2"), "{out}");
    let out = text(lab.cli(&["explain", "ndp", G2]));
    assert!(
        out.contains("owner: hvr-g2"),
        "the EUI-64 address stays (eui64 defaults to true): {out}"
    );

    // After an uplink bounce (the VLAN interface deleted and created again).
    let out = lab.relink();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    gateway_address(&lab);
    assert!(
        eventually(Duration::from_secs(15), || ping6(&lab, "gw", G1)),
        "g1 unreachable after the bounce\nrouter:\n{}",
        lab.router_log()
    );
    let answered = answered_strangers(&lab);
    assert!(
        answered.is_empty(),
        "strangers answered after the bounce: {answered:?}"
    );

    // After SIGKILL the program is detached: nothing answers for g1 any more.
    lab.stop_router("KILL");
    let _ = lab.exec("gw", &["ip", "-6", "neigh", "flush", "dev", "eth0"]);
    assert!(!ping6(&lab, "gw", G1), "g1 answered with the router killed");
    assert_eq!(gw_lladdr(&lab, G1), None);
}

/// g2 re-added at run time with an explicit address and a routed prefix.
const G2_RUNTIME: &str = "2001:db8:90::42";
const G2_PREFIX: &str = "2001:db8:42::/48";
const G2_IN_PREFIX: &str = "2001:db8:42::1";

fn guest_add_g2_v6(lab: &Lab) -> std::process::Output {
    lab.guest_add_g2(&[
        "--ip",
        "192.0.2.20",
        "--ip6",
        G2_RUNTIME,
        "--routed-prefix6",
        G2_PREFIX,
    ])
}

/// Solicited from the gateway (by a ping) and answered with the router's uplink MAC.
fn answered_on_vlan(lab: &Lab, addr: &str) -> bool {
    let _ = lab.exec("gw", &["ip", "-6", "neigh", "flush", "dev", "eth0"]);
    let _ = ping6(lab, "gw", addr);
    gw_lladdr(lab, addr).is_some()
}

#[test]
fn runtime_guest_ipv6_restart_removal_and_final_ra() {
    skip_unless_lab!();
    let mut lab = up();
    let uplink_mac = lab.hv_mac("hvr-up0");

    // g2 becomes a runtime guest whose IPv6 side is an explicit address and a routed
    // prefix, without its EUI-64 address.
    common::ok(lab.cli(&["guest", "del", "--tap", "hvr-g2"]));
    for args in [
        &[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{G2_RUNTIME}/64"),
            "dev",
            "eth0",
            "nodad",
        ][..],
        &[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{G2_IN_PREFIX}/128"),
            "dev",
            "eth0",
            "nodad",
        ],
    ] {
        common::ok(lab.exec("g2", args));
    }
    common::ok(lab.exec(
        "gw",
        &[
            "ip", "-6", "route", "add", G2_PREFIX, "via", G2_RUNTIME, "dev", "eth0",
        ],
    ));
    // An address outside subnet6 is refused with the reason.
    let outside = lab.guest_add_g2(&["--ip", "192.0.2.20", "--ip6", "2001:db8:91::5"]);
    let err = String::from_utf8_lossy(&outside.stderr).into_owned();
    assert!(
        !outside.status.success() && err.contains("inside subnet6"),
        "{err}"
    );

    let out = guest_add_g2_v6(&lab);
    assert!(out.status.success(), "guest add: {out:?}");
    // The same again is unchanged (idempotent); another IPv6 side is refused.
    let again = text(guest_add_g2_v6(&lab));
    assert!(again.contains("unchanged"), "{again}");
    let other = lab.guest_add_g2(&["--ip", "192.0.2.20", "--ip6", "2001:db8:90::43"]);
    assert!(!other.status.success(), "{other:?}");
    let check_served = |lab: &Lab, when: &str| {
        assert!(
            eventually(Duration::from_secs(15), || ping6(lab, "gw", G2_RUNTIME)),
            "{when}: the gateway cannot ping6 g2 at {G2_RUNTIME}\nrouter:\n{}",
            lab.router_log()
        );
        assert_eq!(
            gw_lladdr(lab, G2_RUNTIME).as_deref(),
            Some(uplink_mac.as_str()),
            "{when}"
        );
        assert!(ping6(lab, "gw", G2_IN_PREFIX), "{when}: routed prefix");
        let from = lab.exec(
            "g2",
            &["ping", "-6", "-c", "1", "-W", "1", "-I", G2_RUNTIME, GW6],
        );
        assert!(from.status.success(), "{when}: g2 -> gateway: {from:?}");
        // Its EUI-64 address was not asked for: not answered on the VLAN.
        assert!(!answered_on_vlan(lab, G2), "{when}: {G2} answered");
        let list = text(lab.cli(&["guest", "list"]));
        assert!(
            list.contains(&format!("{G2_RUNTIME},+{G2_PREFIX}")),
            "{when}: {list}"
        );
        let v6 = text(lab.cli(&["show", "ipv6"]));
        assert!(
            v6.contains(G2_RUNTIME) && v6.contains(G2_PREFIX),
            "{when}: {v6}"
        );
    };
    check_served(&lab, "after guest add");

    // A restart restores it from the state file.
    lab.stop_router("TERM");
    lab.start_router();
    check_served(&lab, "after a restart");

    // Removed: nothing answers for its address (the steering entry went with it: the
    // kernel, which has no proxy entry, gets the solicitations and stays silent).
    common::ok(lab.cli(&["guest", "del", "--tap", "hvr-g2"]));
    assert!(
        !answered_on_vlan(&lab, G2_RUNTIME),
        "{G2_RUNTIME} answered after guest del"
    );
    assert!(!ping6(&lab, "gw", G2_IN_PREFIX), "the prefix still routed");
    let out = text(lab.cli(&["explain", "ndp", G2_RUNTIME]));
    assert!(out.contains("silent: ndp_not_hosted_guest"), "{out}");

    // An IPv6-only guest (Ganeti's routed NIC without IP): its EUI-64 address, and no
    // IPv4 at all: no ARP answered for its former address, its IPv4 dropped.
    common::ok(lab.guest_add_g2(&["--eui64"]));
    assert!(
        eventually(Duration::from_secs(15), || ping6(&lab, "gw", G2)),
        "the IPv6-only guest is not reachable at {G2}\nrouter:\n{}",
        lab.router_log()
    );
    assert!(
        !lab.arp_answered("192.0.2.20"),
        "ARP answered for an IPv6-only guest"
    );
    assert!(
        !lab.ping("g2", "192.0.2.1"),
        "an IPv6-only guest's IPv4 got through"
    );
    // Its who-has for the gateway (sender 192.0.2.20) is refused first.
    let c = lab.port_counters("hvr-g2");
    assert!(
        c.get("spoofed_arp_sender") + c.get("spoofed_source_ip") > 0,
        "no IPv4 refused from the IPv6-only guest"
    );

    // RFC 4861 6.2.5: when the router stops, g1's default route through it goes at once.
    let via = format!("via {ROUTER_LL}");
    let default_route = |lab: &Lab| text(lab.exec("g1", &["ip", "-6", "route", "show", "default"]));
    assert!(
        eventually(Duration::from_secs(15), || default_route(&lab)
            .contains(&via)),
        "g1 has no default route through the router: {}",
        default_route(&lab)
    );
    lab.stop_router("TERM");
    assert!(
        eventually(Duration::from_secs(5), || !default_route(&lab)
            .contains(&via)),
        "g1 kept its default route after the router stopped: {}\nrouter:\n{}",
        default_route(&lab),
        lab.router_log()
    );
    assert!(
        lab.router_log().contains("final_router_advertisements="),
        "{}",
        lab.router_log()
    );
}

/// Solicited-node groups of g1, g2 and g3's SLAAC addresses (RFC 4291 2.7.1).
const GROUPS: [&str; 3] = ["ff02::1:ff00:a", "ff02::1:ff00:14", "ff02::1:ff00:1e"];

fn mld_query(lab: &Lab, group: &str) -> String {
    let out = lab.attack_script("gw", "guest6.py", &["mld_query", "eth0", group]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text(out)
}

#[test]
fn mld_queries_from_the_vlan_are_answered_for_the_guests_groups() {
    skip_unless_lab!();
    if let Some(why) = Lab::scapy_missing() {
        eprintln!("SKIP {}: {why}", module_path!());
        return;
    }
    let lab = up();
    // The guests' addresses are known (their NAs went out) before querying.
    assert!(
        eventually(Duration::from_secs(15), || ping6(&lab, "gw", G1)),
        "g1 unreachable\nrouter:\n{}",
        lab.router_log()
    );
    // A General Query to all nodes (steered to the router: the kernel would report only
    // its own groups): reports with every hosted guest's group.
    let t = mld_query(&lab, "::");
    eprintln!("general query: {t}");
    for g in GROUPS {
        assert!(t.contains(g), "{g} not reported: {t}");
    }
    // A Multicast Address Specific Query, sent to the group itself.
    let t = mld_query(&lab, GROUPS[1]);
    eprintln!("specific query: {t}");
    assert!(t.contains(GROUPS[1]), "{t}");
    // Both counted as answered (hvrouter_ipv6_sent_total{kind="mld_query_answered"}).
    let out = lab.exec("hv", &["curl", "-s", "http://127.0.0.1:9477/metrics"]);
    let m = text(out);
    let answered = m
        .lines()
        .find(|l| l.contains("kind=\"mld_query_answered\""))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<u64>().ok());
    assert_eq!(answered, Some(2), "{m}");
}
