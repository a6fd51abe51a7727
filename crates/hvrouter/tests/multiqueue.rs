//! Every queue of a multi-queue tap is served (a guest with several virtio-net queues,
//! Ganeti's `virtio_net_queues`), on real frames in the namespace lab: a guest that
//! asks for its gateway on its second queue, enabled after the tap was added, is
//! answered. Needs root; skips with a message otherwise.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ok, skip_unless_lab, Lab};

const TAP: &str = "hvr-mq0";
const MAC: &str = "02:00:00:00:00:33";
const IP: &str = "192.0.2.33";
/// The network's guest_mac (configs/demo.toml leaves the default).
const GUEST_SIDE_MAC: &str = "fe:ff:ff:ff:ff:ff";

/// The guest process holding the tap's queues.
struct MqGuest {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl MqGuest {
    fn start(lab: &Lab) -> MqGuest {
        let script = common::root().join("crates/hvrouter/tests/common/mq_tap.py");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.ns("hv"), "/usr/bin/python3"])
            .arg(script)
            .args([TAP, MAC, IP, "192.0.2.1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut g = MqGuest {
            child,
            stdin,
            stdout,
        };
        assert_eq!(g.line(), "ready");
        g
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    fn say(&mut self, what: &str) -> String {
        writeln!(self.stdin, "{what}").unwrap();
        self.stdin.flush().unwrap();
        self.line()
    }
}

impl Drop for MqGuest {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_queue_the_guest_enables_later_is_served() {
    skip_unless_lab!();
    let lab = Lab::up("mq");
    let mut guest = MqGuest::start(&lab);
    ok(lab.exec("hv", &["ip", "link", "set", TAP, "up"]));
    ok(lab.cli(&[
        "guest",
        "add",
        "--tap",
        TAP,
        "--mac",
        MAC,
        "--network",
        "public_90",
        "--ip",
        IP,
    ]));
    let first = guest.say("send 0");
    assert_eq!(first, format!("reply 0 {GUEST_SIDE_MAC}"));

    // The guest's driver enables its second queue: QEMU attaches it to the tap.
    assert_eq!(guest.say("attach"), "attached 2");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lab
        .router_log()
        .contains(&format!("event=port_queue_added dev={TAP} queue=1"))
    {
        assert!(
            Instant::now() < deadline,
            "queue 1 was never served:\n{}",
            lab.router_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(guest.say("send 1"), format!("reply 1 {GUEST_SIDE_MAC}"));
    assert_eq!(guest.say("send 0"), format!("reply 0 {GUEST_SIDE_MAC}"));
}

fn add_mq_guest(lab: &Lab) {
    ok(lab.cli(&[
        "guest",
        "add",
        "--tap",
        TAP,
        "--mac",
        MAC,
        "--network",
        "public_90",
        "--ip",
        IP,
    ]));
}

/// Waits until the router's log says queue 1 of the tap was served `times` times.
fn wait_queue_1_served(lab: &Lab, times: usize) {
    let line = format!("event=port_queue_added dev={TAP} queue=1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while lab.router_log().matches(&line).count() < times {
        assert!(
            Instant::now() < deadline,
            "queue 1 not served:\n{}",
            lab.router_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Not a check: prints the worker's longest pause while a two-queue tap's guest is
/// added, then removed and added again at once (the second queue's socket is bound
/// right after the previous one on that queue closed), then enables a third queue.
/// Run with `--ignored --nocapture`, several times.
#[test]
#[ignore]
fn measure_worker_pause_while_queues_are_bound() {
    skip_unless_lab!();
    let lab = Lab::up("mqm");
    let mut guest = MqGuest::start(&lab);
    ok(lab.exec("hv", &["ip", "link", "set", TAP, "up"]));
    assert_eq!(guest.say("attach"), "attached 2");
    std::thread::sleep(Duration::from_secs(2));
    let start = lab.longest_pause();
    add_mq_guest(&lab);
    wait_queue_1_served(&lab, 1);
    assert_eq!(guest.say("send 1"), format!("reply 1 {GUEST_SIDE_MAC}"));
    let added = lab.longest_pause();
    ok(lab.cli(&["guest", "del", "--tap", TAP]));
    add_mq_guest(&lab);
    wait_queue_1_served(&lab, 2);
    assert_eq!(guest.say("send 1"), format!("reply 1 {GUEST_SIDE_MAC}"));
    let again = lab.longest_pause();
    // The guest's driver enables a third queue: found by the watcher, bound meanwhile.
    assert_eq!(guest.say("attach"), "attached 3");
    let line = format!("event=port_queue_added dev={TAP} queue=2");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab.router_log().contains(&line) {
        assert!(Instant::now() < deadline, "queue 2 not served");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(guest.say("send 2"), format!("reply 2 {GUEST_SIDE_MAC}"));
    let later = lab.longest_pause();
    println!(
        "mq-queues workers={} load=[{}] longest_ms start={:.1}/{:.1} added={:.1}/{:.1} re-added={:.1}/{:.1} enabled-later={:.1}/{:.1} (all/unpreempted)",
        lab.workers(),
        common::counters::load_average(),
        start.0,
        start.1,
        added.0,
        added.1,
        again.0,
        again.1,
        later.0,
        later.1
    );
}
