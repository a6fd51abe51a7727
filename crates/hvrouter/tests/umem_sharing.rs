//! A worker's UMEM outlives the port whose socket registered it, on real frames in the
//! namespace lab: when that port closes (its guest removed, or the uplink deleted and
//! recreated), the ports opened next share the UMEM through another bound socket, and
//! the worker's other ports keep their sockets (they are not detached and opened again).
//! With `HVR_TEST_WORKERS=2` the guests with odd port numbers (hvr-g1, hvr-tap3) are
//! worker 1's, and hvr-g1, opened first there, registers its UMEM. Need root; skip with
//! a message otherwise.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::counters::load_average;
use common::{ok, skip_unless_lab, Lab};

const G1_MAC: &str = "02:00:00:00:00:0a";
const G1_IP: &str = "192.0.2.10";
const G2_IP: &str = "192.0.2.20";
const TAP3_IP: &str = "192.0.2.30";

fn add_g1(lab: &Lab) -> String {
    ok(lab.cli(&[
        "guest",
        "add",
        "--tap",
        "hvr-g1",
        "--mac",
        G1_MAC,
        "--network",
        "public_90",
        "--ip",
        G1_IP,
    ]))
}

/// The last `port_attached` line of `dev` in the router's log.
fn last_attached(lab: &Lab, dev: &str) -> String {
    let pat = format!("event=port_attached dev={dev} ");
    lab.router_log()
        .lines()
        .rfind(|l| l.contains(&pat))
        .unwrap_or_default()
        .to_string()
}

/// The ports the router detached since it started, as its log names them.
fn detached(lab: &Lab) -> Vec<String> {
    lab.router_log()
        .lines()
        .filter(|l| l.contains("event=port_detached") || l.contains("event=umem_rebuild"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_guest_leaving_does_not_reopen_the_other_guests_of_its_worker() {
    skip_unless_lab!();
    let lab = Lab::up("us");
    assert!(lab.ping_eventually("gw", TAP3_IP, Duration::from_secs(5)));
    ok(lab.cli(&["guest", "del", "--tap", "hvr-g1"]));
    assert!(add_g1(&lab).contains("added"));
    assert!(
        lab.ping_eventually("gw", G1_IP, Duration::from_secs(8)),
        "the guest added again is not forwarded to:\n{}",
        lab.router_log()
    );
    assert!(lab.ping("gw", TAP3_IP));
    // Bound through another socket of the worker's UMEM, the one that registered it
    // being closed.
    let again = last_attached(&lab, "hvr-g1");
    assert!(again.contains(" umem=shared"), "{again}");
    let gone: Vec<String> = detached(&lab)
        .into_iter()
        .filter(|l| !l.contains("dev=hvr-g1 "))
        .collect();
    assert!(
        gone.is_empty(),
        "other ports were detached when hvr-g1 left: {gone:?}"
    );
}

#[test]
fn the_uplink_recreated_does_not_reopen_the_guests() {
    skip_unless_lab!();
    let lab = Lab::up("ur");
    assert!(lab.ping_eventually("gw", G1_IP, Duration::from_secs(5)));
    ok(lab.relink());
    for ip in [G1_IP, G2_IP, TAP3_IP] {
        assert!(
            lab.ping_eventually("gw", ip, Duration::from_secs(8)),
            "{ip} unreachable after the uplink came back:\n{}",
            lab.router_log()
        );
    }
    let gone: Vec<String> = detached(&lab)
        .into_iter()
        .filter(|l| !l.contains("dev=hvr-up0 "))
        .collect();
    assert!(
        gone.is_empty(),
        "guests were detached when the uplink was recreated: {gone:?}"
    );
}

#[test]
fn a_worker_left_without_sockets_opens_ports_again() {
    skip_unless_lab!();
    let lab = Lab::up("un");
    assert!(lab.ping_eventually("gw", G1_IP, Duration::from_secs(5)));
    for tap in ["hvr-g1", "hvr-g2", "hvr-tap3"] {
        ok(lab.cli(&["guest", "del", "--tap", tap]));
    }
    // Every socket of every worker is closed now: the uplink's with its device.
    ok(lab.relink());
    assert!(add_g1(&lab).contains("added"));
    assert!(
        lab.ping_eventually("gw", G1_IP, Duration::from_secs(8)),
        "not forwarded after every socket had closed:\n{}",
        lab.router_log()
    );
    // The uplink came back to a worker with no socket left: it registered the UMEM's
    // area again. With two workers, worker 1 had none left either when hvr-g1 came back.
    let uplink = last_attached(&lab, "hvr-up0");
    assert!(uplink.contains(" umem=registered"), "{uplink}");
    let g1 = last_attached(&lab, "hvr-g1");
    let expect = if lab.workers() > 1 {
        "registered"
    } else {
        "shared"
    };
    assert!(g1.contains(&format!(" umem={expect}")), "{g1}");
}

/// Not a check: prints the worker's longest pause around a UMEM owner leaving (run with
/// `--ignored --nocapture`, several times; the machine's load is printed too).
#[test]
#[ignore]
fn measure_worker_pause_when_the_umem_owner_leaves() {
    skip_unless_lab!();
    let lab = Lab::up("um");
    assert!(lab.ping_eventually("gw", G1_IP, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_secs(2));
    let before = lab.longest_pause();
    // With one worker the uplink registered the UMEM; with two, worker 1's is hvr-g1's.
    let started = Instant::now();
    if lab.workers() > 1 {
        ok(lab.cli(&["guest", "del", "--tap", "hvr-g1"]));
        assert!(add_g1(&lab).contains("added"));
    } else {
        ok(lab.relink());
    }
    assert!(lab.ping_eventually("gw", G1_IP, Duration::from_secs(10)));
    std::thread::sleep(Duration::from_secs(2));
    let after = lab.longest_pause();
    println!(
        "umem-owner-leaves workers={} load=[{}] longest_ms before={:.1} (unpreempted {:.1}) after={:.1} (unpreempted {:.1}) detached={} took_ms={}",
        lab.workers(),
        load_average(),
        before.0,
        before.1,
        after.0,
        after.1,
        detached(&lab).len(),
        started.elapsed().as_millis()
    );
}
