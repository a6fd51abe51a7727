//! One missing uplink does not stop the other networks, on real packets in the namespace
//! lab: the router starts with a second network whose VLAN device does not exist yet,
//! serves the first, and attaches the second (with its device's MAC) when the device
//! appears. Needs root; skips with a message otherwise.

mod common;

use std::time::Duration;

use common::{ok, skip_unless_lab, Lab};

const SECOND_NETWORK: &str = r#"
[networks.public_80]
uplink = "hvr-up8"
subnet = "198.51.100.0/24"
gateway = "198.51.100.1"
mtu = 1500
"#;

#[test]
fn a_missing_uplink_is_attached_when_it_appears_and_the_other_network_works_meanwhile() {
    skip_unless_lab!();
    let lab = Lab::up_extended("mu", "adaptive", SECOND_NETWORK);
    let log = lab.router_log();
    assert!(
        log.contains("event=uplink_down dev=hvr-up8"),
        "the missing uplink must be reported:\n{log}"
    );
    // The first network is served as usual.
    assert!(lab.ping("gw", "192.0.2.10"));
    assert!(lab.arp_answered("192.0.2.10"));

    // The VLAN 80 device appears (its other end in the gateway namespace), and a
    // guest of that network: a second interface of guest 1.
    let gw = lab.ns("gw");
    let g1 = lab.ns("g1");
    let steps: [&[&str]; 6] = [
        &[
            "ip", "link", "add", "hvr-up8", "type", "veth", "peer", "name", "eth8", "netns", &gw,
        ],
        &[
            "ip",
            "-n",
            &gw,
            "addr",
            "add",
            "198.51.100.1/24",
            "dev",
            "eth8",
        ],
        &["ip", "-n", &gw, "link", "set", "eth8", "up"],
        &[
            "ip", "link", "add", "hvr-g8", "type", "veth", "peer", "name", "eth8", "netns", &g1,
        ],
        &[
            "ip",
            "-n",
            &g1,
            "addr",
            "add",
            "198.51.100.10/24",
            "dev",
            "eth8",
        ],
        &["ip", "-n", &g1, "link", "set", "eth8", "up"],
    ];
    for args in steps {
        ok(lab.exec("hv", args));
    }
    ok(lab.exec("hv", &["ip", "link", "set", "hvr-g8", "up"]));
    ok(lab.exec("hv", &["ip", "link", "set", "hvr-up8", "up"]));
    let g8_mac = ok(lab.exec("g1", &["cat", "/sys/class/net/eth8/address"]));
    ok(lab.cli(&[
        "guest",
        "add",
        "--tap",
        "hvr-g8",
        "--mac",
        g8_mac.trim(),
        "--network",
        "public_80",
        "--ip",
        "198.51.100.10",
    ]));
    assert!(
        lab.ping_eventually("gw", "198.51.100.10", Duration::from_secs(10)),
        "the late uplink never carried traffic:\n{}",
        lab.router_log()
    );
    let log = lab.router_log();
    assert!(log.contains("event=port_attached dev=hvr-up8"), "{log}");
    // Proxy ARP on the new VLAN answers with the device's own MAC, read when it came.
    let up8_mac = lab.hv_mac("hvr-up8");
    let neigh = ok(lab.exec(
        "gw",
        &["ip", "neigh", "show", "198.51.100.10", "dev", "eth8"],
    ));
    assert!(neigh.contains(&up8_mac), "{neigh} should hold {up8_mac}");
    // And the first network never stopped.
    assert!(lab.ping("gw", "192.0.2.20"));
}
