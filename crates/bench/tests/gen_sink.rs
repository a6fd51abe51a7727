//! The benchmark's generator and sink on a real veth pair in two namespaces: frames the
//! generator sends arrive and are counted by the device, the sink drops IPv4 (ping gets
//! no answer) and passes ARP (arping does). Needs root; skips with a message otherwise.
//! Namespaces `hvr-gs-<pid>-{a,b}`, documentation addresses only, removed on drop.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hvrouter_netlab::ns::{self, Namespaces};
use hvrouter_netlab::{have, is_root, ns_exec};

/// Namespaces `hvr-gs-<pid>-{a,b}` joined by a veth pair `eth0`/`eth0` (192.0.2.1/24
/// and 192.0.2.2/24); deleted on drop.
struct Pair {
    a: String,
    b: String,
    _namespaces: Namespaces,
}

impl Pair {
    fn up() -> Pair {
        let (a, b) = (ns::unique("gs", "a"), ns::unique("gs", "b"));
        let namespaces = Namespaces::new(&[&a, &b]);
        ns::veth(&a, "eth0", &b, "eth0", None);
        ns::addr(&a, "eth0", "192.0.2.1/24");
        ns::addr(&b, "eth0", "192.0.2.2/24");
        Pair {
            a,
            b,
            _namespaces: namespaces,
        }
    }

    fn rx(&self) -> u64 {
        ns::counter(&self.b, "eth0", "rx_packets")
    }
}

#[test]
fn generator_frames_reach_the_sink_which_drops_ipv4_and_passes_arp() {
    if !is_root() || !have("ip") || !have("arping") {
        eprintln!("SKIP: needs root, iproute2 and arping");
        return;
    }
    let pair = Pair::up();
    let mut sink = Command::new(env!("CARGO_BIN_EXE_hvr-bench-sink"))
        .args(["--ns", &pair.b, "--dev", "eth0", "--mode", "auto"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the sink");
    // Wait for "ready" on its stdout.
    let mut stdout = sink.stdout.take().expect("stdout");
    let mut line = [0u8; 64];
    let n = std::io::Read::read(&mut stdout, &mut line).unwrap_or(0);
    let ready = String::from_utf8_lossy(&line[..n]).to_string();
    if !ready.starts_with("ready") {
        let _ = sink.kill();
        panic!("sink did not start: {ready:?}");
    }
    let b_mac = ns::read(&pair.b, "/sys/class/net/eth0/address");
    let rx0 = pair.rx();
    let gen = Command::new(env!("CARGO_BIN_EXE_hvr-bench-gen"))
        .args([
            "--ns",
            &pair.a,
            "--dev",
            "eth0",
            "--dst-mac",
            &b_mac,
            "--src-ip",
            "192.0.2.1",
            "--dst-ip",
            "192.0.2.2",
            "--flows",
            "4",
            "--size",
            "64",
            "--seconds",
            "0.5",
        ])
        .output()
        .expect("run the generator");
    let text = String::from_utf8_lossy(&gen.stdout).to_string();
    assert!(
        gen.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let sent: u64 = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("sent="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sent= in {text:?}"));
    assert!(sent > 0, "{text}");
    // Every frame the generator queued and the kernel sent arrives at the device.
    let deadline = Instant::now() + Duration::from_secs(2);
    let arrived = loop {
        let rx = pair.rx();
        let tx = ns::counter(&pair.a, "eth0", "tx_packets");
        if rx - rx0 >= tx.min(sent) || Instant::now() > deadline {
            break rx - rx0;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        arrived > 0 && arrived <= sent + 16,
        "sent {sent}, arrived {arrived}"
    );
    // IPv4 is dropped before the stack: no echo reply.
    let ping = ns_exec(&pair.a, &["ping", "-c", "1", "-W", "1", "192.0.2.2"]);
    assert!(!ping.status.success(), "ping answered through the sink");
    // ARP is passed: the stack answers.
    let arp = ns_exec(
        &pair.a,
        &["arping", "-c", "1", "-w", "2", "-I", "eth0", "192.0.2.2"],
    );
    assert!(
        arp.status.success(),
        "arping: {}",
        String::from_utf8_lossy(&arp.stdout)
    );
    let _ = Command::new("kill")
        .args(["-TERM", &sink.id().to_string()])
        .status();
    let status = sink.wait().expect("sink exit");
    assert!(status.success(), "sink exit: {status:?}");
}
