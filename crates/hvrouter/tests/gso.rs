//! GSO across the router on real packets (the lab of tests/common: gateway with tx
//! checksumming off, veth guests, a tap guest behind the QEMU-like relay with vnet
//! headers and TSO). TCP both ways through a veth guest and the tap guest with
//! `[dataplane] gso = "auto"` (the default): the streams work and the router's counters
//! show GSO sends on every egress that carried them; with `gso = "off"` the same streams
//! work with none. Figures are printed, never asserted: the machine is shared.

mod common;

use common::{skip_unless_lab, Lab};

/// (server, client, server address, reverse, what, egress port of the data).
const RUNS: [(&str, &str, &str, bool, &str, &str); 4] = [
    (
        "g1",
        "gw",
        "192.0.2.10",
        false,
        "VLAN -> veth guest",
        "hvr-g1",
    ),
    (
        "g1",
        "gw",
        "192.0.2.10",
        true,
        "veth guest -> VLAN",
        "hvr-up0",
    ),
    (
        "g3",
        "gw",
        "192.0.2.30",
        false,
        "VLAN -> tap guest",
        "hvr-tap3",
    ),
    (
        "g3",
        "gw",
        "192.0.2.30",
        true,
        "tap guest -> VLAN",
        "hvr-up0",
    ),
];

fn gso_counters(lab: &Lab, dev: &str) -> (u64, u64, u64) {
    let c = lab.port_counters(dev);
    (
        c.get("gso_sent"),
        c.get("gro_merged"),
        c.get("gso_fallback"),
    )
}

/// Every attached port's GSO state in `show ports --json`, and that none is
/// unavailable.
fn gso_states(lab: &Lab) -> Vec<String> {
    let out = lab.cli(&["show", "ports", "--json"]);
    assert!(out.status.success(), "show ports failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let states: Vec<String> = text
        .split("\"gso\": \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect();
    assert!(!text.contains("gso_reason"), "a port without GSO: {text}");
    states
}

#[test]
fn tcp_through_veth_and_tap_guests_leaves_as_gso_sends() {
    skip_unless_lab!();
    let mut lab = Lab::up_with("gso", "busy");
    assert!(lab.ping_eventually("g1", "192.0.2.1", std::time::Duration::from_secs(5)));
    assert!(lab.ping_eventually("g3", "192.0.2.1", std::time::Duration::from_secs(5)));
    // Uplink, two veth guests and the tap guest: each says it sends super-frames whole.
    assert_eq!(gso_states(&lab), ["on"; 4], "show ports: GSO on every port");
    assert!(!lab.router_log().contains("gso_unavailable"));
    for (server, client, ip, reverse, what, egress) in RUNS {
        let before = gso_counters(&lab, egress);
        let fast_before = lab.port_counters(egress).get("fast_path_tx");
        let mbps = lab.iperf(server, client, ip, reverse, 2);
        let after = gso_counters(&lab, egress);
        let fast = lab.port_counters(egress).get("fast_path_tx") - fast_before;
        eprintln!(
            "iperf3 TCP {what}: {mbps:.0} Mbit/s; {egress}: gso_sent +{}, gro_merged +{}, \
             gso_fallback +{}",
            after.0 - before.0,
            after.1 - before.1,
            after.2 - before.2
        );
        assert!(mbps > 0.0, "{what}: no TCP data arrived");
        // With the fast path on, the VLAN's segments go to the guest in the kernel,
        // one by one: the router never sees them.
        assert!(
            after.0 > before.0 || (lab.fast_path() && fast > 0),
            "{what}: no GSO send on {egress}"
        );
    }
    if !lab.fast_path() {
        // From the VLAN, MTU-size segments were coalesced toward both kinds of guest.
        assert!(
            gso_counters(&lab, "hvr-g1").1 > 0,
            "coalesced toward the veth guest"
        );
        assert!(
            gso_counters(&lab, "hvr-tap3").1 > 0,
            "coalesced toward the tap guest"
        );
    }
    eprintln!("{}", lab.stop_router("TERM"));
}

#[test]
fn with_gso_off_the_same_streams_are_segmented_in_software() {
    skip_unless_lab!();
    // The lab writes `poll = "<value>"` into [dataplane]: the key rides along.
    let mut lab = Lab::up_with("gsooff", "busy\"\ngso = \"off");
    assert!(lab.ping_eventually("g1", "192.0.2.1", std::time::Duration::from_secs(5)));
    assert!(lab.ping_eventually("g3", "192.0.2.1", std::time::Duration::from_secs(5)));
    assert_eq!(
        gso_states(&lab),
        ["off"; 4],
        "show ports: GSO off as configured"
    );
    for (server, client, ip, reverse, what, _) in RUNS {
        let mbps = lab.iperf(server, client, ip, reverse, 1);
        eprintln!("gso = off: iperf3 TCP {what}: {mbps:.0} Mbit/s");
        assert!(mbps > 0.0, "gso = off, {what}: no TCP data arrived");
    }
    for dev in ["hvr-up0", "hvr-g1", "hvr-tap3"] {
        assert_eq!(gso_counters(&lab, dev), (0, 0, 0), "gso = off: {dev}");
    }
    assert!(lab.router_log().contains("event=started"));
}
