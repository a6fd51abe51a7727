//! End-to-end tests on real packets: the router binary in a namespace lab (see
//! tests/common). Need root; skip with a message otherwise. Figures (iperf3) are printed,
//! never asserted: the machine is shared.

mod common;

use std::time::Duration;

use common::{skip_unless_lab, Lab};

const GUESTS: [&str; 3] = ["192.0.2.10", "192.0.2.20", "192.0.2.30"];

#[test]
fn ping_tcp_and_proxy_arp_for_veth_and_tap_guests() {
    skip_unless_lab!();
    let mut lab = Lab::up("fw");
    // ICMP both ways, veth and tap guests, guest to guest, routed prefix.
    assert!(lab.ping("g1", "192.0.2.1"), "veth guest -> gateway");
    assert!(lab.ping("gw", "192.0.2.20"), "gateway -> veth guest");
    assert!(
        lab.ping("g3", "198.51.100.1"),
        "tap guest -> beyond the gateway"
    );
    assert!(lab.ping("gw", "192.0.2.30"), "gateway -> tap guest");
    assert!(
        lab.ping("gw", "203.0.113.1"),
        "gateway -> tap guest's routed prefix"
    );
    assert!(lab.ping("g1", "192.0.2.20"), "guest -> guest");
    assert!(lab.ping("g2", "192.0.2.30"), "veth guest -> tap guest");
    // Proxy ARP from the VLAN: guests only.
    for ip in GUESTS {
        assert!(lab.arp_answered(ip), "who-has {ip} must be answered");
    }
    for ip in ["192.0.2.2", "192.0.2.50", "192.0.2.254"] {
        assert!(!lab.arp_answered(ip), "who-has {ip} must get no answer");
    }
    // TCP both ways through veth and tap guests, and guest to guest.
    let runs = [
        ("g1", "gw", "192.0.2.10", false, "VLAN -> veth guest"),
        ("g1", "gw", "192.0.2.10", true, "veth guest -> VLAN"),
        ("g3", "gw", "192.0.2.30", false, "VLAN -> tap guest"),
        ("g3", "gw", "192.0.2.30", true, "tap guest -> VLAN"),
        ("g2", "g1", "192.0.2.20", false, "guest -> guest"),
    ];
    for (server, client, ip, reverse, what) in runs {
        let mbps = lab.iperf(server, client, ip, reverse, 2);
        eprintln!("iperf3 TCP {what}: {mbps:.0} Mbit/s");
        assert!(mbps > 0.0, "{what}: no TCP data arrived");
    }
    let counters = lab.stop_router("TERM");
    eprintln!("{counters}");
    assert!(
        !lab.xdp_attached(),
        "no XDP program may stay attached after exit"
    );
}

#[test]
fn incident_uplink_bounce_answers_only_guests_and_traffic_resumes() {
    skip_unless_lab!();
    let lab = Lab::up("ib");
    assert!(lab.ping("g1", "192.0.2.1"));
    // The incident: ifdown/ifup of the uplink.
    for state in ["down", "up"] {
        let out = lab.exec("hv", &["ip", "link", "set", "hvr-up0", state]);
        assert!(out.status.success());
    }
    // Traffic resumes without restarting the router.
    assert!(
        lab.ping_eventually("g1", "192.0.2.1", Duration::from_secs(15)),
        "traffic must resume after the bounce:\n{}",
        lab.router_log()
    );
    // 12 unused subnet addresses and one guest: only the guest is answered.
    let unused: Vec<String> = (100..112).map(|i| format!("192.0.2.{i}")).collect();
    for ip in &unused {
        assert!(
            !lab.arp_answered(ip),
            "{ip} is not a guest: hijacked after the bounce"
        );
    }
    assert!(
        lab.arp_answered("192.0.2.10"),
        "the guest must still be answered"
    );
    let log = lab.router_log();
    assert!(
        log.contains("event=port_link dev=hvr-up0 state=down"),
        "{log}"
    );
    assert!(
        log.contains("event=port_link dev=hvr-up0 state=up"),
        "{log}"
    );
}

#[test]
fn uplink_deleted_and_recreated_is_reattached_and_fails_closed() {
    skip_unless_lab!();
    let lab = Lab::up("rl");
    assert!(lab.ping("g1", "192.0.2.1"));
    // ifdown/ifup of a VLAN interface deletes and recreates it (new ifindex).
    let out = lab.relink();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lab.ping_eventually("g1", "192.0.2.1", Duration::from_secs(20)),
        "traffic must resume on the new uplink:\n{}",
        lab.router_log()
    );
    assert!(
        lab.ping("gw", "192.0.2.30"),
        "tap guest reachable after the UMEM rebuild"
    );
    for i in 100..112 {
        let ip = format!("192.0.2.{i}");
        assert!(!lab.arp_answered(&ip), "{ip} must not be answered");
    }
    assert!(lab.arp_answered("192.0.2.20"));
    let log = lab.router_log();
    assert!(
        log.contains("event=port_detached dev=hvr-up0 why=deleted"),
        "{log}"
    );
}

#[test]
fn after_exit_or_sigkill_nothing_answers_and_no_xdp_remains() {
    skip_unless_lab!();
    // Interrupt mode: the worker sleeps in poll(2) and must still answer at once.
    let mut lab = Lab::up_with("ex", "interrupt");
    assert!(lab.arp_answered("192.0.2.10"));
    assert!(lab.xdp_attached());
    lab.stop_router("KILL");
    assert!(
        !lab.xdp_attached(),
        "SIGKILL must not leave an XDP program behind"
    );
    for ip in GUESTS {
        assert!(
            !lab.arp_answered(ip),
            "{ip}: nothing may answer while the router is down"
        );
    }
    // The kernel was told not to proxy either.
    let out = lab.exec("hv", &["sysctl", "-n", "net.ipv4.conf.hvr-up0.proxy_arp"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    lab.start_router();
    assert!(
        lab.arp_answered("192.0.2.10"),
        "answered again after restart"
    );
    lab.stop_router("TERM");
    assert!(!lab.xdp_attached(), "a clean exit leaves nothing either");
    for ip in GUESTS {
        assert!(!lab.arp_answered(ip));
    }
}
