//! Taps and the `hvr-tap-relay` binary between two test namespaces.
//!
//! `hvr-tap-relay` runs in namespace R, leaves tap `hvrt<pid>a` there (192.0.2.1/24,
//! answered by R's kernel) and moves `hvrt<pid>b` into namespace G (192.0.2.10/24, the
//! "guest"). G pings R and streams TCP to it; the guest's TSO frames must cross the
//! relay intact. SIGTERM must end the relay with status 0 and the taps with it.
//! Needs root and `ping`; skips otherwise. Run:
//! `cargo test -p hvrouter-netlab --test tap_relay -- --nocapture`.

use hvrouter_netlab::{ns_exec, run, skip_unless_root, Namespaces};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use sys::{netdev, netns, Tap, TapError, TapFlags};

const TCP_BYTES: usize = 32 << 20;
const MTU: u32 = 1400;

/// The relay process, SIGKILLed on drop if it is still running (test failure paths).
struct RelayProcess(Child);

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn link_exists(ns: &str, ifname: &str) -> bool {
    ns_exec(ns, &["ip", "link", "show", "dev", ifname])
        .status
        .success()
}

/// FNV-1a over the stream, so the receiver can prove it got the same bytes.
fn fnv(hash: &mut u64, data: &[u8]) {
    for &b in data {
        *hash = (*hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
}

fn pattern(i: usize) -> u8 {
    (i * 7 % 251) as u8
}

/// In namespace `ns`: accepts one connection on `addr`, reads to EOF, answers with the
/// byte count and hash.
fn tcp_sink(ns: String, addr: SocketAddr, ready: mpsc::Sender<()>) -> (u64, u64) {
    netns::enter(&ns).expect("enter router namespace");
    let listener = TcpListener::bind(addr).expect("bind 192.0.2.1");
    ready.send(()).expect("report listening");
    let (mut s, _) = listener.accept().expect("accept");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (mut count, mut hash) = (0u64, 0xcbf2_9ce4_8422_2325u64);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = s.read(&mut buf).expect("read stream");
        if n == 0 {
            break;
        }
        fnv(&mut hash, &buf[..n]);
        count += n as u64;
    }
    let mut answer = count.to_be_bytes().to_vec();
    answer.extend_from_slice(&hash.to_be_bytes());
    s.write_all(&answer).expect("answer");
    (count, hash)
}

/// In namespace `ns`: sends TCP_BYTES to `addr`, returns (hash sent, answer, seconds).
fn tcp_source(ns: String, addr: SocketAddr) -> (u64, [u8; 16], f64) {
    netns::enter(&ns).expect("enter guest namespace");
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let chunk: Vec<u8> = (0..1 << 16).map(pattern).collect();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut sent = 0;
    while sent < TCP_BYTES {
        // Chunks of 64 KiB starting at multiples of 64 KiB: pattern(i) repeats every
        // 251 bytes, so slice with the offset into the period.
        let off = sent % 251;
        let n = (TCP_BYTES - sent).min(chunk.len() - 251);
        let data = &chunk[off..off + n];
        s.write_all(data).expect("write stream");
        fnv(&mut hash, data);
        sent += n;
    }
    s.shutdown(Shutdown::Write).expect("shutdown");
    let mut answer = [0u8; 16];
    s.read_exact(&mut answer).expect("read answer");
    (hash, answer, start.elapsed().as_secs_f64())
}

/// Parses the relay's "stopped; guest->router: N frames, B bytes, max M B, G GSO, ..."
/// line into (frames, max, gso).
fn guest_stats(stderr: &str) -> Option<(u64, u64, u64)> {
    let line = stderr.lines().find(|l| l.contains("guest->router:"))?;
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    // frames, bytes, max, gso, csum, write errors, truncated
    Some((*nums.first()?, *nums.get(2)?, *nums.get(3)?))
}

#[test]
fn relay_ping_tcp_and_sigterm() {
    if skip_unless_root("relay_ping_tcp_and_sigterm") {
        return;
    }
    if Command::new("ping").arg("-V").output().is_err() {
        eprintln!("SKIP relay_ping_tcp_and_sigterm: needs ping (apt-get install iputils-ping)");
        return;
    }
    let pid = std::process::id();
    let (r, g) = (format!("hvr-tap-{pid}-r"), format!("hvr-tap-{pid}-g"));
    let (tap_r, tap_g) = (format!("hvrt{pid}a"), format!("hvrt{pid}b"));
    let _ns = Namespaces::new(&[&r, &g]);

    let mut relay = RelayProcess(
        Command::new("ip")
            .args(["netns", "exec", &r, env!("CARGO_BIN_EXE_hvr-tap-relay")])
            .args(["--router-tap", &tap_r, "--guest-tap", &tap_g])
            .args(["--guest-netns", &g, "--mtu", &MTU.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hvr-tap-relay"),
    );
    let stdout = relay.0.stdout.take().expect("relay stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut stderr = relay.0.stderr.take().expect("relay stderr");
    let stderr_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(line) => assert_eq!(line, "ready"),
        Err(_) => {
            let _ = relay.0.kill();
            let _ = relay.0.wait();
            panic!(
                "relay never said ready: {}",
                stderr_reader.join().unwrap_or_default()
            );
        }
    }

    // The router tap stayed in R, the guest tap is in G; both up, vnet header on.
    let show_r = ns_exec(&r, &["ip", "-d", "link", "show", "dev", &tap_r]);
    let show_g = ns_exec(&g, &["ip", "-d", "link", "show", "dev", &tap_g]);
    for show in [&show_r, &show_g] {
        let text = String::from_utf8_lossy(&show.stdout);
        assert!(show.status.success(), "{show:?}");
        assert!(text.contains(",UP"), "{text}");
        assert!(text.contains("vnet_hdr on"), "{text}");
        assert!(text.contains(&format!("mtu {MTU}")), "{text}");
    }
    assert!(!link_exists(&g, &tap_r) && !link_exists(&r, &tap_g));

    run(&["ip", "-n", &r, "addr", "add", "192.0.2.1/24", "dev", &tap_r]);
    run(&[
        "ip",
        "-n",
        &g,
        "addr",
        "add",
        "192.0.2.10/24",
        "dev",
        &tap_g,
    ]);

    let ping = ns_exec(
        &g,
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "192.0.2.1"],
    );
    let out = String::from_utf8_lossy(&ping.stdout);
    eprintln!("{out}");
    assert!(
        ping.status.success(),
        "ping through the relay failed:\n{out}"
    );
    assert!(out.contains("3 received"), "{out}");

    // TCP from the guest: its kernel sends TSO frames (vnet header gso_type TCPV4,
    // partial checksums) that R's kernel must accept as they are.
    let addr: SocketAddr = "192.0.2.1:5201".parse().expect("address");
    let (ready_tx, ready_rx) = mpsc::channel();
    let sink = {
        let r = r.clone();
        thread::spawn(move || tcp_sink(r, addr, ready_tx))
    };
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("sink listening");
    let source = {
        let g = g.clone();
        thread::spawn(move || tcp_source(g, addr))
    };
    let (sent_hash, answer, secs) = source.join().expect("tcp source");
    let (count, hash) = sink.join().expect("tcp sink");
    assert_eq!(count as usize, TCP_BYTES);
    assert_eq!(hash, sent_hash, "stream corrupted");
    assert_eq!(answer[..8], count.to_be_bytes());
    assert_eq!(answer[8..], hash.to_be_bytes());
    eprintln!(
        "TCP guest -> router: {} MiB in {secs:.2} s = {:.0} Mbit/s",
        TCP_BYTES >> 20,
        TCP_BYTES as f64 * 8.0 / secs / 1e6
    );

    run(&["kill", "-TERM", &relay.0.id().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = relay.0.try_wait().expect("wait relay") {
            break status;
        }
        assert!(Instant::now() < deadline, "relay ignored SIGTERM");
        thread::sleep(Duration::from_millis(20));
    };
    let stderr = stderr_reader.join().expect("stderr reader");
    eprintln!("{stderr}");
    assert!(status.success(), "relay exit status {status:?}");
    let (frames, max, gso) = guest_stats(&stderr).expect("relay stats line");
    assert!(frames > 0);
    assert!(
        gso > 0 && max > MTU as u64 + 14,
        "no GSO frame crossed (max {max} B, {gso} GSO)"
    );
    // The taps went with the relay's descriptors.
    assert!(!link_exists(&r, &tap_r), "{tap_r} still in {r}");
    assert!(!link_exists(&g, &tap_g), "{tap_g} still in {g}");
}

#[test]
fn tap_open_flags_and_lifetime() {
    if skip_unless_root("tap_open_flags_and_lifetime") {
        return;
    }
    let pid = std::process::id();
    let ns = format!("hvr-tap-{pid}-q");
    let _ns = Namespaces::new(&[&ns]);
    let (single, multi) = (format!("hvrt{pid}s"), format!("hvrt{pid}m"));
    let worker = {
        let (ns, single, multi) = (ns.clone(), single.clone(), multi.clone());
        thread::spawn(move || {
            netns::enter(&ns).expect("enter namespace");
            let flags = TapFlags {
                vnet_hdr: true,
                multi_queue: false,
            };
            let tap = Tap::open(&single, flags).expect("open tap");
            assert_eq!(tap.name(), single);
            assert!(tap.vnet_hdr());
            // Non-blocking: nothing queued (the device is down).
            let mut buf = [0u8; 2048];
            let e = tap.read(&mut buf).expect_err("nothing to read");
            assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
            // Writing while the netdev is down is refused, not blocked.
            let mut frame = vec![0u8; 12];
            frame.extend_from_slice(&[0xff; 6]);
            frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
            frame.resize(12 + 60, 0);
            let w = tap.write(&frame);
            eprintln!("write to a down tap: {w:?}");
            // A second single-queue open of the same tap is refused.
            match Tap::open(&single, flags) {
                Err(TapError::SetIff { source, .. }) => {
                    eprintln!("second open: {source}")
                }
                other => panic!("second open of a single-queue tap: {other:?}"),
            }
            let mac = netdev::mac_address(&single).expect("mac");
            assert_eq!(mac[0] & 1, 0, "unicast MAC");
            assert_eq!(netdev::mtu(&single).expect("mtu"), 1500);
            assert!(matches!(
                netdev::mac_address("lo"),
                Err(netdev::NetdevError::NotEthernet { .. })
            ));
            // Multi-queue: two opens, two queues of one device.
            let mq = TapFlags {
                vnet_hdr: false,
                multi_queue: true,
            };
            let q0 = Tap::open(&multi, mq).expect("queue 0");
            let q1 = Tap::open(&multi, mq).expect("queue 1");
            assert_eq!(
                netdev::ifindex(q0.name()).ok(),
                netdev::ifindex(q1.name()).ok()
            );
            (tap, q0, q1, mac)
        })
    };
    let (tap, q0, q1, mac) = worker.join().expect("tap worker");
    let show = ns_exec(&ns, &["ip", "-d", "link", "show", "dev", &single]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("tap") && text.contains("vnet_hdr on"),
        "{text}"
    );
    let want = mac.map(|b| format!("{b:02x}")).join(":");
    assert!(text.contains(&want), "MAC {want} not in {text}");
    let show = ns_exec(&ns, &["ip", "-d", "link", "show", "dev", &multi]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("multi_queue"), "{text}");
    assert!(text.contains("vnet_hdr off"), "{text}");

    drop(tap);
    assert!(!link_exists(&ns, &single), "tap outlived its only fd");
    drop(q0);
    assert!(
        link_exists(&ns, &multi),
        "multi-queue tap gone with one queue left"
    );
    drop(q1);
    assert!(
        !link_exists(&ns, &multi),
        "multi-queue tap outlived its fds"
    );
}
