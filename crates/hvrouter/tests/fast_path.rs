//! The in-kernel fast path (`[dataplane] fast_path = "on"`) on real packets in the
//! namespace lab (tests/common): ping and TCP across veth and tap guests with frames
//! forwarded in the kernel (its counters prove it), spoofed frames still dropped and
//! counted by the router, a removed guest no longer reached. Needs root (and scapy for
//! the spoofing part); skips with a message otherwise.
//!
//! A veth only takes frames redirected to it from a native-mode XDP program when its
//! peer runs NAPI (an XDP program, or GRO on): the lab's namespaces turn GRO on on their
//! end, as a deployment on veths must (taps and generic mode need nothing).

mod common;

use std::time::Duration;

use common::{eventually, skip_unless_lab, Lab};

const ROUTER_GUEST_MAC: &str = "fe:ff:ff:ff:ff:ff";

fn fast(lab: &Lab, dev: &str) -> (u64, u64) {
    let c = lab.port_counters(dev);
    (c.get("fast_path_rx"), c.get("fast_path_tx"))
}

fn start_with_fast_path(name: &str) -> Lab {
    let mut lab = Lab::up(name);
    lab.stop_router("TERM");
    lab.fast_path_on();
    lab.start_router();
    lab
}

#[test]
fn fast_path_forwards_in_the_kernel_and_the_router_keeps_authority() {
    skip_unless_lab!();
    let mut lab = start_with_fast_path("fp");
    // ICMP both ways, veth and tap guests, guest to guest, routed prefix.
    let pings = [
        ("g1", "192.0.2.1", "veth guest -> gateway"),
        ("gw", "192.0.2.20", "gateway -> veth guest"),
        ("g3", "198.51.100.1", "tap guest -> beyond the gateway"),
        ("gw", "192.0.2.30", "gateway -> tap guest"),
        ("gw", "203.0.113.1", "gateway -> tap guest's routed prefix"),
        ("g1", "192.0.2.20", "guest -> guest"),
        ("g2", "192.0.2.30", "veth guest -> tap guest"),
    ];
    for (from, to, what) in pings {
        assert!(
            lab.ping_eventually(from, to, Duration::from_secs(5)),
            "{what}\n{}",
            lab.router_log()
        );
    }
    // Resolved and confirmed by now: these pings take the fast path both ways.
    let (up_rx, _) = fast(&lab, "hvr-up0");
    let (g1_rx, g1_tx) = fast(&lab, "hvr-g1");
    assert!(lab.ping("g1", "192.0.2.1"));
    assert!(lab.ping("gw", "192.0.2.10"));
    let (up_rx2, _) = fast(&lab, "hvr-up0");
    let (g1_rx2, g1_tx2) = fast(&lab, "hvr-g1");
    eprintln!(
        "fast path: hvr-up0 rx +{}, hvr-g1 rx +{} tx +{}",
        up_rx2 - up_rx,
        g1_rx2 - g1_rx,
        g1_tx2 - g1_tx
    );
    assert!(
        up_rx2 > up_rx,
        "gateway -> guest frames forwarded in the kernel"
    );
    assert!(
        g1_rx2 > g1_rx,
        "guest -> gateway frames forwarded in the kernel"
    );
    assert!(g1_tx2 > g1_tx, "frames to the guest sent in the kernel");
    // The fast path's frames are in the port's totals too.
    let c = lab.port_counters("hvr-g1");
    assert!(c.get("rx_packets") >= g1_rx2 && c.get("tx_packets") >= g1_tx2);

    // TCP both ways through veth and tap guests (partial checksums from guests go
    // through the router, which completes them).
    let runs = [
        ("g1", "gw", "192.0.2.10", false, "VLAN -> veth guest"),
        ("g1", "gw", "192.0.2.10", true, "veth guest -> VLAN"),
        ("g3", "gw", "192.0.2.30", false, "VLAN -> tap guest"),
        ("g3", "gw", "192.0.2.30", true, "tap guest -> VLAN"),
        ("g2", "g1", "192.0.2.20", false, "guest -> guest"),
    ];
    for (server, client, ip, reverse, what) in runs {
        let mbps = lab.iperf(server, client, ip, reverse, 2);
        eprintln!("iperf3 TCP with the fast path, {what}: {mbps:.0} Mbit/s");
        assert!(mbps > 0.0, "{what}: no TCP data arrived");
    }

    // A trace sees every frame: the fast path stands aside while it runs.
    let text = lab.trace_g1_ping(4);
    assert!(text.contains("forwarded"), "trace saw the ping: {text}");
    assert!(text.contains("192.0.2.1"), "{text}");

    // A removed guest is no longer reached, in the kernel either.
    assert!(lab.ping("gw", "192.0.2.20"));
    common::ok(lab.cli(&["guest", "del", "--tap", "hvr-g2"]));
    let (before, _) = fast(&lab, "hvr-up0");
    assert!(!lab.ping("gw", "192.0.2.20"), "removed guest still answers");
    let (after, _) = fast(&lab, "hvr-up0");
    assert_eq!(after, before, "frames for a removed guest were fast-pathed");
    assert!(
        lab.ping("gw", "192.0.2.10"),
        "the other guests still forward"
    );

    let counters = lab.stop_router("TERM");
    eprintln!("{counters}");
    assert!(
        !lab.xdp_attached(),
        "no XDP program may stay attached after exit"
    );
}

#[test]
fn spoofed_frames_are_not_fast_pathed_but_dropped_and_counted() {
    skip_unless_lab!();
    if let Some(why) = Lab::scapy_missing() {
        eprintln!("SKIP {}: {why}", module_path!());
        return;
    }
    let lab = start_with_fast_path("fs");
    assert!(lab.ping_eventually("g1", "192.0.2.1", Duration::from_secs(5)));
    assert!(lab.ping_eventually("g2", "192.0.2.1", Duration::from_secs(5)));
    for (attack, reason, min) in [
        ("spoof_ip", "spoofed_source_ip", 15),
        ("spoof_mac", "spoofed_source_mac", 9),
    ] {
        let before = lab.port_counters("hvr-g1");
        let gw = lab.sniff("gw", "eth0", 30.0);
        let g2 = lab.sniff("g2", "eth0", 30.0);
        lab.attack_script("g1", "guest.py", &[attack, "eth0", ROUTER_GUEST_MAC, "0"]);
        let (at_gw, at_g2) = (gw.finish(), g2.finish());
        let after = lab.port_counters("hvr-g1");
        let dropped = after.get(reason) - before.get(reason);
        let no_frame = after.get("rx_no_frame") - before.get("rx_no_frame")
            + (after.get("rx_ring_full") - before.get("rx_ring_full"));
        eprintln!("{attack}: {reason} +{dropped} (rx_no_frame +{no_frame}), gateway {at_gw:?}, guest 2 {at_g2:?}");
        assert!(
            dropped + no_frame >= min,
            "{attack}: {reason} grew by {dropped}"
        );
        assert_eq!(at_gw.leaked, 0, "{attack} reached the VLAN");
        assert_eq!(at_g2.leaked, 0, "{attack} reached guest 2");
    }
    assert!(
        eventually(Duration::from_secs(5), || lab.ping("g2", "192.0.2.1")),
        "guest 2 still forwards"
    );
}
