//! The control plane against a real router in the namespace lab: the CLI, state that
//! survives restarts, gratuitous ARP, the Ganeti hooks of every form (run as Ganeti runs
//! them) including a live migration, and the metrics endpoint. Need root; skip with a
//! message otherwise.

mod common;

use std::time::Duration;

use common::{eventually, ok, skip_unless_lab, Lab};

#[test]
fn cli_guest_changes_take_effect_at_once_and_survive_a_restart() {
    skip_unless_lab!();
    let mut lab = Lab::up("cl");
    let list = ok(lab.cli(&["guest", "list"]));
    assert!(
        list.contains("hvr-g2") && list.contains("192.0.2.20"),
        "{list}"
    );
    // Delete: silence at once, traffic dropped.
    ok(lab.cli(&["guest", "del", "--tap", "hvr-g2"]));
    assert!(!lab.arp_answered("192.0.2.20"));
    let again = lab.cli(&["guest", "del", "--tap", "hvr-g2"]);
    assert!(
        !again.status.success(),
        "unknown guest is an error for the CLI"
    );
    // A conflicting add is refused and changes nothing.
    let clash = lab.cli(&[
        "guest",
        "add",
        "--tap",
        "hvr-g2",
        "--mac",
        "02:00:00:00:00:14",
        "--network",
        "public_90",
        "--ip",
        "192.0.2.10",
    ]);
    assert!(!clash.status.success());
    assert!(String::from_utf8_lossy(&clash.stderr).contains("192.0.2.10"));
    assert!(!lab.arp_answered("192.0.2.20"));
    assert!(
        lab.arp_answered("192.0.2.10"),
        "the other guest is untouched"
    );
    // The deletion survives a restart (state file), SIGKILL included.
    lab.stop_router("KILL");
    lab.start_router();
    assert!(
        !lab.arp_answered("192.0.2.20"),
        "deleted guest came back after restart"
    );
    let list = ok(lab.cli(&["guest", "list"]));
    assert!(!list.contains("hvr-g2"), "{list}");
    // Add it back: answered, traffic flows, gratuitous ARP moved the gateway's entry.
    let bogus = "02:00:00:00:99:99";
    lab.exec(
        "gw",
        &[
            "ip",
            "neigh",
            "replace",
            "192.0.2.20",
            "lladdr",
            bogus,
            "dev",
            "eth0",
            "nud",
            "stale",
        ],
    );
    let add = ["--ip", "192.0.2.20"];
    assert!(ok(lab.guest_add_g2(&add)).contains("added"));
    assert!(
        ok(lab.guest_add_g2(&add)).contains("unchanged"),
        "idempotent"
    );
    let uplink_mac = lab.hv_mac("hvr-up0");
    assert!(
        eventually(Duration::from_secs(5), || lab
            .gateway_neighbor("192.0.2.20")
            .contains(&uplink_mac)),
        "gratuitous ARP must move the gateway's entry to {uplink_mac}: {}",
        lab.gateway_neighbor("192.0.2.20")
    );
    assert!(lab.ping("gw", "192.0.2.20"));
    assert!(lab.arp_answered("192.0.2.20"));
    // And the re-add survives a restart too.
    lab.stop_router("TERM");
    lab.start_router();
    assert!(lab.arp_answered("192.0.2.20"));
}

#[test]
fn explain_show_and_metrics_report_what_the_router_does() {
    skip_unless_lab!();
    let lab = Lab::up("sh");
    let ex = ok(lab.cli(&["explain", "arp", "192.0.2.10"]));
    assert!(ex.contains("hvr-g1") && ex.contains("answered"), "{ex}");
    let ex = ok(lab.cli(&["explain", "arp", "192.0.2.77"]));
    assert!(ex.contains("arp_not_hosted_guest"), "{ex}");
    assert!(lab.ping("g1", "192.0.2.1"));
    let neigh = ok(lab.cli(&["show", "neighbors"]));
    assert!(
        neigh.contains("192.0.2.1") && neigh.contains("REACHABLE"),
        "{neigh}"
    );
    let ports = ok(lab.cli(&["show", "ports", "--json"]));
    assert!(ports.trim_start().starts_with('['), "{ports}");
    assert!(ports.contains("\"hvr-tap3\""), "{ports}");
    let routes = ok(lab.cli(&["show", "routes"]));
    assert!(routes.contains("203.0.113.0/28"), "{routes}");
    assert!(ok(lab.cli(&["ping"])).contains("pong") || lab.cli(&["ping"]).status.success());
    // Metrics on the hypervisor's loopback.
    let get = "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9477/metrics',timeout=5).read().decode())";
    let m = ok(lab.exec("hv", &["python3", "-c", get]));
    assert!(
        m.contains("hvrouter_rx_packets_total{port=\"hvr-g1\""),
        "{m}"
    );
    assert!(m.contains("reason=\"arp_not_hosted_guest\""), "{m}");
    assert!(m.contains("\nhvrouter_worker_busy_seconds_total "), "{m}");
    // The worker's load: the pings above were passes that moved frames.
    let counters = ok(lab.cli(&["show", "counters"]));
    let line = counters
        .lines()
        .find(|l| l.starts_with("worker: "))
        .unwrap_or_else(|| panic!("no worker line: {counters}"));
    let moved: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unparsable: {line}"));
    assert!(moved > 0, "{line}");
}

/// A routed NIC's environment as Ganeti's `hv_base.ConfigureNIC` builds it (v3.1.1;
/// master adds ACTION and MIGRATION_PHASE), on Ganeti network public_90.
fn ganeti_nic<'a>(
    tap: &'a str,
    mac: &'a str,
    ip: &'a str,
    tags: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("INSTANCE", "vm1.example.org"),
        ("MAC", mac),
        ("MODE", "routed"),
        ("INTERFACE", tap),
        ("INTERFACE_INDEX", "0"),
        ("INTERFACE_UUID", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
        ("TAGS", tags),
        ("IP", ip),
        ("LINK", "public_90"),
        ("VLAN", ""),
        ("NETWORK_NAME", "public_90"),
        ("NETWORK_UUID", "6fa459ea-ee8a-3ca4-894e-db77e160355e"),
        ("NETWORK_TAGS", ""),
        ("NETWORK_SUBNET", "192.0.2.0/24"),
        ("NETWORK_GATEWAY", "192.0.2.1"),
    ]
}

/// Run a Ganeti hook (path under scripts/ganeti) in the hypervisor namespace as Ganeti
/// does: executed by its `#!` line, with exactly `env` plus PATH (the binary under test
/// first) and the lab's socket.
fn ganeti_hook(lab: &Lab, hook: &str, env: &[(&str, &str)]) -> std::process::Output {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_hvrouter"))
        .parent()
        .expect("the binary is in a directory");
    std::process::Command::new("ip")
        .args(["netns", "exec", &lab.ns("hv")])
        .arg(common::root().join("scripts/ganeti").join(hook))
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin_dir.display()),
        )
        .env("HVROUTER_SOCKET", lab.socket())
        .env("HVROUTER_DEFAULTS", lab.dir.join("no-defaults"))
        .env("HVROUTER_SYSLOG", "")
        .envs(env.iter().copied())
        .output()
        .expect("run ip netns exec")
}

#[test]
fn ganeti_hooks_drive_a_live_migration_against_the_router() {
    skip_unless_lab!();
    let lab = Lab::up("gh");
    let nic = ganeti_nic("hvr-g1", "02:00:00:00:00:0a", "192.0.2.10", "");
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut e = nic.clone();
        e.extend_from_slice(extra);
        e
    };
    // master (kvm-nic-setup): the source node's down after the instance left: nothing
    // answers any more.
    ok(ganeti_hook(
        &lab,
        "network/routed/down",
        &with(&[("ACTION", "down")]),
    ));
    assert!(!lab.arp_answered("192.0.2.10"));
    // The target's up before the switch-over must not take the address yet.
    let pre = with(&[("ACTION", "up"), ("MIGRATION_PHASE", "pre")]);
    ok(ganeti_hook(&lab, "network/routed/up", &pre));
    assert!(
        !lab.arp_answered("192.0.2.10"),
        "phase pre must not claim the address"
    );
    // Switch-over: the gateway still points at the old node.
    lab.exec(
        "gw",
        &[
            "ip",
            "neigh",
            "replace",
            "192.0.2.10",
            "lladdr",
            "02:00:00:00:99:99",
            "dev",
            "eth0",
            "nud",
            "stale",
        ],
    );
    let post = with(&[("ACTION", "up"), ("MIGRATION_PHASE", "post")]);
    ok(ganeti_hook(&lab, "network/routed/up", &post));
    let uplink_mac = lab.hv_mac("hvr-up0");
    assert!(
        eventually(Duration::from_secs(5), || lab
            .gateway_neighbor("192.0.2.10")
            .contains(&uplink_mac)),
        "gratuitous ARP after migration: {}\n{}",
        lab.gateway_neighbor("192.0.2.10"),
        lab.router_log()
    );
    assert!(lab.arp_answered("192.0.2.10"));
    assert!(lab.ping("gw", "192.0.2.10"));
    // A late down of an older NIC whose tap name the kernel has since reused (another
    // MAC) leaves the current guest alone.
    let old_nic = ganeti_nic("hvr-g1", "02:00:00:00:77:77", "192.0.2.77", "");
    ok(ganeti_hook(&lab, "network/routed/down", &old_nic));
    assert!(lab.arp_answered("192.0.2.10"), "reused tap name");
    // GRNET's form does the same.
    ok(ganeti_hook(&lab, "kvm-ifdown-custom", &nic));
    assert!(!lab.arp_answered("192.0.2.10"));
    ok(ganeti_hook(&lab, "kvm-ifup-custom", &nic));
    assert!(lab.arp_answered("192.0.2.10"));
    // Released Ganeti's form (kvm-vif-bridge, no down hook): a routed prefix from the
    // instance tags.
    ok(ganeti_hook(
        &lab,
        "network/routed/down",
        &ganeti_nic("hvr-g2", "02:00:00:00:00:14", "192.0.2.20", ""),
    ));
    assert!(!lab.arp_answered("192.0.2.20"));
    let tagged = ganeti_nic(
        "hvr-g2",
        "02:00:00:00:00:14",
        "192.0.2.20",
        "hvrouter:prefix:198.51.100.128/28 other-tag",
    );
    ok(ganeti_hook(&lab, "kvm-vif-bridge", &tagged));
    assert!(lab.arp_answered("192.0.2.20"));
    let routes = ok(lab.cli(&["show", "routes"]));
    assert!(
        routes.contains("198.51.100.128/28") && routes.contains("hvr-g2"),
        "{routes}"
    );
    let guests = ok(lab.cli(&["guest", "list", "--json"]));
    assert!(
        guests.contains("vm1.example.org"),
        "Ganeti's instance name is the DHCP host name: {guests}"
    );
    // A routed NIC without an IPv4 address on a network without NETWORK_SUBNET6 would
    // get no network at all: it fails loudly and changes nothing.
    let no_ip: Vec<_> = tagged.iter().copied().filter(|(k, _)| *k != "IP").collect();
    let out = ganeti_hook(&lab, "kvm-vif-bridge", &no_ip);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no IPv4 address") && stderr.contains("no NETWORK_SUBNET6"),
        "{out:?}"
    );
    assert!(lab.arp_answered("192.0.2.20"));
    // Ganeti's network has IPv6, the router's network none: refused, naming both.
    let v6: Vec<_> = tagged
        .iter()
        .copied()
        .chain([("NETWORK_SUBNET6", "2001:db8:90::/64")])
        .collect();
    let out = ganeti_hook(&lab, "kvm-vif-bridge", &v6);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "Ganeti's NETWORK_SUBNET6 is 2001:db8:90::/64 but hvrouter network public_90 has no IPv6"
        ),
        "{out:?}"
    );
    assert!(lab.arp_answered("192.0.2.20"));
}

#[test]
fn trace_and_reload_on_a_running_router() {
    skip_unless_lab!();
    let lab = Lab::up("tr");
    // trace: the next frames (the ping's) with their decisions.
    let text = lab.trace_g1_ping(4);
    assert!(text.contains("forwarded"), "{text}");
    assert!(text.contains("192.0.2.1"), "{text}");
    // reload: the file now gives hvr-g2 another address.
    lab.edit_config(|t| t.replace("192.0.2.20", "192.0.2.21"));
    let summary = ok(lab.cli(&["reload"]));
    assert!(summary.contains("hvr-g2"), "{summary}");
    assert!(
        !lab.arp_answered("192.0.2.20"),
        "old address no longer answered"
    );
    assert!(lab.arp_answered("192.0.2.21"), "new address answered");
    assert!(
        lab.arp_answered("192.0.2.10"),
        "untouched guest still answered"
    );
    // SIGHUP does the same: put the old address back.
    lab.edit_config(|t| t.replace("192.0.2.21", "192.0.2.20"));
    lab.signal_router("HUP");
    assert!(
        eventually(Duration::from_secs(5), || lab.arp_answered("192.0.2.20")),
        "SIGHUP reload: {}",
        lab.router_log()
    );
    assert!(!lab.arp_answered("192.0.2.21"));
}
