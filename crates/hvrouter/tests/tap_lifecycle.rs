//! A runtime guest belongs to the tap device it was added on, on real packets in the
//! namespace lab: the guest goes with its tap (released Ganeti has no down hook), a
//! reused tap name is not attached for it, a restart restores exactly the live guests,
//! and after a reboot none come back until they are added again. Need root; skip with a
//! message otherwise.

mod common;

use std::time::Duration;

use common::{eventually, ok, skip_unless_lab, Lab};

const TAP3_MAC: &str = "02:00:00:00:00:1e";
const TAP3_IP: &str = "192.0.2.30";

fn listed(lab: &Lab, tap: &str) -> bool {
    ok(lab.cli(&["guest", "list"])).contains(tap)
}

/// Make the tap guest (a configured guest in the demo) a runtime guest, as a Ganeti
/// hook would add it: same address, no routed prefix.
fn add_tap3_at_runtime(lab: &Lab) -> String {
    ok(lab.cli(&[
        "guest",
        "add",
        "--tap",
        "hvr-tap3",
        "--mac",
        TAP3_MAC,
        "--network",
        "public_90",
        "--ip",
        TAP3_IP,
    ]))
}

#[test]
fn a_runtime_guest_goes_with_its_tap_and_a_reused_name_is_not_answered() {
    skip_unless_lab!();
    let lab = Lab::up("tl");
    ok(lab.cli(&["guest", "del", "--tap", "hvr-tap3"]));
    assert!(add_tap3_at_runtime(&lab).contains("added"));
    assert!(lab.ping_eventually("gw", TAP3_IP, Duration::from_secs(5)));
    assert!(lab.arp_answered(TAP3_IP));

    // The VM stops: its tap disappears and nobody tells the router.
    lab.stop_tap_guest();
    assert!(
        eventually(Duration::from_secs(5), || !listed(&lab, "hvr-tap3")),
        "the guest outlived its tap"
    );
    assert!(
        !lab.arp_answered(TAP3_IP),
        "answered for a guest whose tap is gone"
    );
    assert!(lab.router_log().contains("event=guest_gone guest=hvr-tap3"));

    // The next VM gets the same tap name: nothing is attached or answered for it.
    lab.start_tap_guest();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!listed(&lab, "hvr-tap3"));
    assert!(
        !lab.arp_answered(TAP3_IP),
        "a reused tap name brought back answers for a guest that left"
    );

    // Added again by the cluster manager: back at once.
    assert!(add_tap3_at_runtime(&lab).contains("added"));
    assert!(lab.ping_eventually("gw", TAP3_IP, Duration::from_secs(5)));

    // A live guest's address on another device is refused, naming both taps.
    ok(lab.exec(
        "hv",
        &[
            "ip", "link", "add", "hvr-x9", "type", "veth", "peer", "name", "hvr-x9p",
        ],
    ));
    let clash = lab.cli(&[
        "guest",
        "add",
        "--tap",
        "hvr-x9",
        "--mac",
        "02:00:00:00:00:99",
        "--network",
        "public_90",
        "--ip",
        TAP3_IP,
    ]);
    let err = String::from_utf8_lossy(&clash.stderr);
    assert!(!clash.status.success());
    assert!(err.contains("hvr-tap3") && err.contains("hvr-x9"), "{err}");
    assert!(lab.ping("gw", TAP3_IP), "the live guest is untouched");

    // A guest whose tap is gone (configured guest hvr-g2, its veth deleted) gives its
    // address to the next add.
    lab.delete_veth_guest("hvr-g2");
    let replaced = ok(lab.cli(&[
        "guest",
        "add",
        "--tap",
        "hvr-x9",
        "--mac",
        "02:00:00:00:00:99",
        "--network",
        "public_90",
        "--ip",
        "192.0.2.20",
    ]));
    assert!(replaced.contains("added"), "{replaced}");
    let list = ok(lab.cli(&["guest", "list"]));
    assert!(
        !list.contains("hvr-g2") && list.contains("hvr-x9"),
        "{list}"
    );
    assert!(lab
        .router_log()
        .contains("event=guest_replaced old=hvr-g2 new=hvr-x9"));
}

#[test]
fn restarts_restore_exactly_the_live_guests_and_a_reboot_none() {
    skip_unless_lab!();
    let mut lab = Lab::up("tr");
    ok(lab.cli(&["guest", "del", "--tap", "hvr-tap3"]));
    assert!(add_tap3_at_runtime(&lab).contains("added"));
    assert!(lab.arp_answered(TAP3_IP));

    // Restart with the tap in place: restored.
    lab.stop_router("TERM");
    lab.start_router();
    assert!(lab.arp_answered(TAP3_IP), "live guest not restored");
    assert!(lab.ping_eventually("gw", TAP3_IP, Duration::from_secs(5)));
    assert!(!lab.router_log().contains("guest_not_restored"));

    // The VM stops and another takes the tap name while the router is down (SIGKILL):
    // the state's entry is stale and must not come back.
    lab.stop_router("KILL");
    lab.stop_tap_guest();
    lab.start_tap_guest();
    lab.start_router();
    assert!(
        lab.router_log()
            .contains("event=guest_not_restored guest=hvr-tap3"),
        "{}",
        lab.router_log()
    );
    assert!(!listed(&lab, "hvr-tap3"));
    assert!(
        !lab.arp_answered(TAP3_IP),
        "stale state answered for a reused tap name"
    );
    assert!(
        lab.arp_answered("192.0.2.10"),
        "configured guests are untouched"
    );

    // Added again, then the machine "reboots": the state file says another boot.
    assert!(add_tap3_at_runtime(&lab).contains("added"));
    lab.stop_router("TERM");
    let state = lab.dir.join("run/state/state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert!(text.contains(boot.trim()), "{text}");
    std::fs::write(
        &state,
        text.replace(boot.trim(), "00000000-0000-4000-8000-000000000000"),
    )
    .unwrap();
    lab.start_router();
    assert!(lab
        .router_log()
        .contains("event=guest_not_restored guest=hvr-tap3 why=\"the machine rebooted"));
    assert!(!listed(&lab, "hvr-tap3"));
    assert!(!lab.arp_answered(TAP3_IP));
    // The configured guests follow their names as before.
    assert!(lab.ping_eventually("gw", "192.0.2.10", Duration::from_secs(5)));
}
