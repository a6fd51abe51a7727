//! Faults against the real router: uplink flaps under traffic, VM restarts (a
//! tap or veth guest deleted and recreated, many times), SIGKILL under traffic, reload
//! under traffic. The counts are short for CI; scripts/soak.sh raises them through
//! HVR_SOAK_FLAPS and HVR_SOAK_RECREATE. Needs root; skips with a message otherwise.

mod common;

use std::time::Duration;

use common::{skip_unless_lab, Lab};

const GUESTS: [&str; 3] = ["192.0.2.10", "192.0.2.20", "192.0.2.30"];

fn env_count(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `ping` output's "N received" (0 if absent) and "N packets transmitted".
fn ping_counts(text: &str) -> (u64, u64) {
    let field = |suffix: &str| {
        text.split(',')
            .find_map(|part| {
                part.trim()
                    .strip_suffix(suffix)
                    .and_then(|n| n.split_whitespace().last()?.parse().ok())
            })
            .unwrap_or(0)
    };
    (field(" packets transmitted"), field(" received"))
}

#[test]
fn uplink_flapped_under_traffic_never_hijacks_and_traffic_resumes() {
    skip_unless_lab!();
    let mut lab = Lab::up("fl");
    let flaps = env_count("HVR_SOAK_FLAPS", 10);
    assert!(lab.ping("g1", "192.0.2.1"));
    // Traffic through the whole run: guest 2 -> gateway and gateway -> guest 3.
    let p1 = lab.spawn("g2", &["ping", "-i", "0.05", "-W", "1", "192.0.2.1"]);
    let p2 = lab.spawn("gw", &["ping", "-i", "0.05", "-W", "1", "192.0.2.30"]);
    // Who-has from the VLAN every 20 ms through every flap, half of them for unused
    // addresses: any answer for those is a hijack.
    let watch = lab.background("gw", "vlan.py", &["watch", "eth0", "600"]);
    let mut resumed = 0;
    for i in 0..flaps {
        for state in ["down", "up"] {
            let out = lab.exec("hv", &["ip", "link", "set", "hvr-up0", state]);
            assert!(out.status.success(), "{out:?}");
        }
        // An address that is not a guest: never answered, before or after traffic
        // resumes (the incident: the kernel answered every who-has after a bounce).
        let stranger = format!("192.0.2.{}", 100 + i % 100);
        assert!(
            !lab.arp_answered(&stranger),
            "flap {i}: {stranger} hijacked right after the bounce"
        );
        assert!(
            lab.ping_eventually("g1", "192.0.2.1", Duration::from_secs(15)),
            "flap {i}: traffic did not resume:\n{}",
            lab.router_log()
        );
        resumed += 1;
        assert!(
            !lab.arp_answered(&stranger),
            "flap {i}: {stranger} hijacked once traffic resumed"
        );
        let guest = GUESTS[i as usize % 3];
        assert!(lab.arp_answered(guest), "flap {i}: guest {guest} answered");
    }
    for p in [p1, p2] {
        lab.kill_spawned(p);
    }
    let (watched, hijacks) = watch.finish();
    eprintln!("watcher during the flaps: {}", watched.trim());
    let field = |name: &str| -> u64 {
        let words: Vec<&str> = watched.split_whitespace().collect();
        let at = words.iter().position(|w| *w == name).unwrap();
        words[at + 1].parse().unwrap()
    };
    assert_eq!(field("hijacked"), 0, "hijacking answers seen: {hijacks}");
    assert!(field("probes") > 0 && field("guests") > 0);
    let (sent1, got1) = ping_counts(&lab.wait_spawned(p1));
    let (sent2, got2) = ping_counts(&lab.wait_spawned(p2));
    let up = lab.port_counters("hvr-up0");
    eprintln!(
        "{flaps} flaps, traffic resumed {resumed} times; background pings guest 2 -> \
         gateway {got1}/{sent1}, gateway -> guest 3 {got2}/{sent2}; hvr-up0 drops {}",
        up.total_drops()
    );
    assert_eq!(resumed, flaps);
    assert!(got1 > 0 && got2 > 0);
    let log = lab.router_log();
    let downs = log
        .matches("event=port_link dev=hvr-up0 state=down")
        .count();
    eprintln!("router logged {downs} uplink downs");
    assert!(downs > 0);
}

/// Wait until `ip` is (or is not) answered on the VLAN.
fn arp_eventually(lab: &Lab, ip: &str, want: bool, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if lab.arp_answered(ip) == want {
            return true;
        }
    }
    false
}

#[test]
fn vm_restarts_detach_and_reattach_and_do_not_drain_the_frame_pool() {
    skip_unless_lab!();
    let mut lab = Lab::up("vm");
    assert!(lab.ping("gw", "192.0.2.30"));
    // A tap guest's VM stops: QEMU (the relay) exits and its taps disappear. While it is
    // gone nobody answers for it; when it boots again (same tap name) it is answered and
    // reachable again without touching the router.
    lab.stop_tap_guest();
    assert!(
        arp_eventually(&lab, "192.0.2.30", false, Duration::from_secs(10)),
        "the stopped guest must not be answered"
    );
    assert!(!lab.ping("gw", "192.0.2.30"));
    lab.start_tap_guest();
    assert!(
        lab.ping_eventually("gw", "192.0.2.30", Duration::from_secs(20)),
        "the restarted tap guest is reachable again:\n{}",
        lab.router_log()
    );
    assert!(lab.arp_answered("192.0.2.30"));
    assert!(lab.ping("g3", "198.51.100.1"), "and forwards");

    // A veth guest deleted and recreated many times: every closed socket must give its
    // chunks back, or the shared UMEM pool runs dry and all forwarding stops.
    let times = env_count("HVR_SOAK_RECREATE", 30);
    for i in 0..times {
        lab.delete_veth_guest("hvr-g1");
        if i == 0 {
            assert!(
                arp_eventually(&lab, "192.0.2.10", false, Duration::from_secs(10)),
                "a deleted guest's address must not be answered"
            );
        }
        lab.create_veth_guest("g1", "hvr-g1", "02:00:00:00:00:0a", "192.0.2.10/24");
        assert!(
            lab.ping_eventually("g1", "192.0.2.1", Duration::from_secs(20)),
            "recreation {i}: guest 1 forwards again:\n{}",
            lab.router_log()
        );
    }
    // Enough traffic to need every chunk of the UMEM (frames = 4096 in configs/demo.toml)
    // several times over, on every port.
    for (server, client, ip, reverse) in [
        ("g1", "gw", "192.0.2.10", false),
        ("g1", "gw", "192.0.2.10", true),
        ("g2", "g1", "192.0.2.20", false),
        ("g3", "gw", "192.0.2.30", false),
    ] {
        let mbps = lab.iperf(server, client, ip, reverse, 1);
        eprintln!("after {times} recreations: iperf3 {client} -> {ip} (reverse {reverse}) {mbps:.0} Mbit/s");
        assert!(mbps > 0.0);
    }
    for ip in GUESTS {
        assert!(lab.arp_answered(ip), "{ip} answered after the restarts");
    }
    let log = lab.router_log();
    let attaches = log.matches("dev=hvr-g1").count();
    eprintln!("router log lines about hvr-g1: {attaches}");
}

#[test]
fn sigkill_under_traffic_fails_closed_and_restart_restores_state() {
    skip_unless_lab!();
    let mut lab = Lab::up("kl");
    assert!(lab.ping("g1", "192.0.2.1"));
    let guests_before = String::from_utf8_lossy(&lab.cli(&["guest", "list"]).stdout).to_string();
    let p = lab.spawn("g2", &["ping", "-i", "0.02", "-W", "1", "192.0.2.1"]);
    let iperf = lab.spawn("gw", &["iperf3", "-s", "-1", "-p", "5500"]);
    std::thread::sleep(Duration::from_millis(300));
    let client = lab.spawn(
        "g3",
        &["iperf3", "-c", "192.0.2.1", "-p", "5500", "-t", "3"],
    );
    std::thread::sleep(Duration::from_secs(1));
    lab.stop_router("KILL");
    // In between: no XDP program, nothing answers for guests, the kernel does not proxy.
    assert!(!lab.xdp_attached(), "SIGKILL left an XDP program behind");
    for ip in GUESTS {
        assert!(
            !lab.arp_answered(ip),
            "{ip} answered while the router is down"
        );
    }
    for dev in ["hvr-up0", "hvr-g1", "hvr-g2", "hvr-tap3"] {
        let key = format!("net.ipv4.conf.{dev}.proxy_arp");
        let out = lab.exec("hv", &["sysctl", "-n", &key]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0", "{key}");
    }
    let fwd = lab.exec("hv", &["sysctl", "-n", "net.ipv4.ip_forward"]);
    eprintln!(
        "router down: hypervisor ip_forward={}",
        String::from_utf8_lossy(&fwd.stdout).trim()
    );
    lab.start_router();
    let guests_after = String::from_utf8_lossy(&lab.cli(&["guest", "list"]).stdout).to_string();
    assert_eq!(guests_before, guests_after, "guests restored");
    for ip in GUESTS {
        assert!(
            arp_eventually(&lab, ip, true, Duration::from_secs(10)),
            "{ip} answered after restart"
        );
    }
    assert!(lab.ping_eventually("g1", "192.0.2.1", Duration::from_secs(10)));
    lab.kill_spawned(p);
    let (sent, got) = ping_counts(&lab.wait_spawned(p));
    let _ = lab.wait_spawned(client);
    lab.kill_spawned(iperf);
    eprintln!("background ping through the kill and restart: {got}/{sent}");
    assert!(got > 0);
}

#[test]
fn reload_under_traffic_loses_nothing_uncounted() {
    skip_unless_lab!();
    let mut lab = Lab::up("rd");
    assert!(lab.ping("g1", "192.0.2.1"));
    assert!(lab.ping("g2", "192.0.2.30"));
    let ports = ["hvr-up0", "hvr-g1", "hvr-g2", "hvr-tap3"];
    let drops_before: u64 = ports
        .iter()
        .map(|p| lab.port_counters(p).total_drops())
        .sum();
    let p1 = lab.spawn(
        "g1",
        &["ping", "-c", "300", "-i", "0.01", "-W", "1", "192.0.2.1"],
    );
    let p2 = lab.spawn(
        "g2",
        &["ping", "-c", "300", "-i", "0.01", "-W", "1", "192.0.2.30"],
    );
    for _ in 0..5 {
        let out = lab.cli(&["reload"]);
        assert!(out.status.success(), "reload: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (s1, g1) = ping_counts(&lab.wait_spawned(p1));
    let (s2, g2) = ping_counts(&lab.wait_spawned(p2));
    let drops_after: u64 = ports
        .iter()
        .map(|p| lab.port_counters(p).total_drops())
        .sum();
    let lost = (s1 - g1) + (s2 - g2);
    let counted = drops_after - drops_before;
    eprintln!(
        "5 reloads under traffic: guest 1 -> gateway {g1}/{s1}, guest 2 -> guest 3 {g2}/{s2}; \
         router drops +{counted}"
    );
    assert!(s1 > 0 && s2 > 0);
    assert!(
        lost <= counted,
        "{lost} pings lost but only {counted} drops counted"
    );
}
