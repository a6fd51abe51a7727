//! The benchmark's generator and sink on a real veth pair in two namespaces: frames the
//! generator sends arrive and are counted by the device, the sink drops IPv4 (ping gets
//! no answer) and passes ARP (arping does). Needs root; skips with a message otherwise.
//! Namespaces `hvr-gs-<pid>-{a,b}`, documentation addresses only, removed on drop.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Pair {
    a: String,
    b: String,
}

impl Pair {
    fn up() -> Pair {
        let id = std::process::id();
        let p = Pair {
            a: format!("hvr-gs-{id}-a"),
            b: format!("hvr-gs-{id}-b"),
        };
        for ns in [&p.a, &p.b] {
            run(&["ip", "netns", "add", ns]);
        }
        run(&[
            "ip", "-n", &p.a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
            "netns", &p.b,
        ]);
        for (ns, ip) in [(&p.a, "192.0.2.1/24"), (&p.b, "192.0.2.2/24")] {
            run(&["ip", "-n", ns, "addr", "add", ip, "dev", "eth0"]);
            run(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        p
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", ns];
        all.extend_from_slice(args);
        Command::new(all[0])
            .args(&all[1..])
            .output()
            .expect("run ip netns exec")
    }

    fn read(&self, ns: &str, path: &str) -> String {
        let out = self.exec(ns, &["cat", path]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn generator_frames_reach_the_sink_which_drops_ipv4_and_passes_arp() {
    // Root, from `id -u` (no unsafe here).
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if uid != "0" || !have("ip") || !have("arping") {
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
    let b_mac = pair.read(&pair.b, "/sys/class/net/eth0/address");
    let rx0: u64 = pair
        .read(&pair.b, "/sys/class/net/eth0/statistics/rx_packets")
        .parse()
        .unwrap();
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
        let rx: u64 = pair
            .read(&pair.b, "/sys/class/net/eth0/statistics/rx_packets")
            .parse()
            .unwrap();
        let tx: u64 = pair
            .read(&pair.a, "/sys/class/net/eth0/statistics/tx_packets")
            .parse()
            .unwrap();
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
    let ping = pair.exec(&pair.a, &["ping", "-c", "1", "-W", "1", "192.0.2.2"]);
    assert!(!ping.status.success(), "ping answered through the sink");
    // ARP is passed: the stack answers.
    let arp = pair.exec(
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
