//! `hvrouter capture` against the real router: while a capture runs,
//! the gateway pings guest 1; the pcapng file shows the echo request and reply on the
//! right ports, in the right directions, with the router's decisions as comments, and
//! tcpdump reads it; a spoofed frame from the guest shows its drop reason; the
//! `-w - | tcpdump -r -` pipe works and the capture stops when tcpdump exits; a second
//! capture is refused while one runs; a capture whose client was killed stops by
//! itself. Needs root (and python3-scapy for the spoofed frames); skips otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{skip_unless_lab, Lab};

/// The router's MAC as guests see it.
const ROUTER_GUEST_MAC: &str = "fe:ff:ff:ff:ff:ff";

/// One Enhanced Packet Block, with its interface's name.
#[derive(Debug)]
struct Packet {
    port: String,
    /// epb_flags direction bits: 1 inbound, 2 outbound.
    inbound: bool,
    comment: String,
    data: Vec<u8>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Options of a block as (code, value).
fn options(mut b: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = vec![];
    while b.len() >= 4 {
        let (code, len) = (u16_at(b, 0), usize::from(u16_at(b, 2)));
        if code == 0 {
            break;
        }
        out.push((code, b[4..4 + len].to_vec()));
        b = &b[4 + len.div_ceil(4) * 4..];
    }
    out
}

fn opt(o: &[(u16, Vec<u8>)], code: u16) -> Vec<u8> {
    o.iter()
        .find(|x| x.0 == code)
        .map(|x| x.1.clone())
        .unwrap_or_default()
}

/// Interface names and packets of a little-endian pcapng file (what hvrouter writes).
fn read_pcapng(path: &Path) -> (Vec<String>, Vec<Packet>) {
    let bytes = std::fs::read(path).unwrap();
    let mut b = &bytes[..];
    let (mut ifaces, mut packets) = (vec![], vec![]);
    assert_eq!(u32_at(b, 0), 0x0A0D_0D0A, "starts with a section header");
    while b.len() >= 12 {
        let (kind, total) = (u32_at(b, 0), u32_at(b, 4) as usize);
        assert_eq!(u32_at(b, total - 4) as usize, total, "block framing");
        let body = &b[8..total - 4];
        match kind {
            1 => {
                assert_eq!(u16_at(body, 0), 1, "Ethernet");
                let name = opt(&options(&body[8..]), 2);
                ifaces.push(String::from_utf8(name).unwrap());
            }
            6 => {
                let cap = u32_at(body, 12) as usize;
                let o = options(&body[20 + cap.div_ceil(4) * 4..]);
                let flags = opt(&o, 2);
                packets.push(Packet {
                    port: ifaces[u32_at(body, 0) as usize].clone(),
                    inbound: u32_at(&flags, 0) & 3 == 1,
                    comment: String::from_utf8(opt(&o, 1)).unwrap(),
                    data: body[20..20 + cap].to_vec(),
                });
            }
            _ => {}
        }
        b = &b[total..];
    }
    assert!(b.is_empty(), "no partial block at the end");
    (ifaces, packets)
}

/// (ICMP type, source, destination) of an IPv4 ICMP frame.
fn icmp(data: &[u8]) -> Option<(u8, [u8; 4], [u8; 4])> {
    if data.len() < 34 || data[12..14] != [0x08, 0x00] || data[23] != 1 {
        return None;
    }
    let ihl = usize::from(data[14] & 0x0f) * 4;
    let t = *data.get(14 + ihl)?;
    Some((
        t,
        data[26..30].try_into().ok()?,
        data[30..34].try_into().ok()?,
    ))
}

/// IPv4 source of a frame.
fn ipv4_src(data: &[u8]) -> Option<[u8; 4]> {
    (data.len() >= 34 && data[12..14] == [0x08, 0x00]).then(|| data[26..30].try_into().unwrap())
}

const GW: [u8; 4] = [192, 0, 2, 1];
const G1: [u8; 4] = [192, 0, 2, 10];
const G2: [u8; 4] = [192, 0, 2, 20];

fn capture_cmd(lab: &Lab, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hvrouter"));
    c.arg("--socket")
        .arg(lab.socket())
        .arg("capture")
        .args(args);
    c
}

/// Wait until `path` holds the section header and interface blocks.
fn wait_started(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) < 64 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("capture exited early: {status}");
        }
        assert!(Instant::now() < deadline, "capture did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn capture_shows_ports_directions_and_decisions() {
    skip_unless_lab!();
    let lab = Lab::up("cap");
    assert!(
        lab.ping("gw", "192.0.2.10"),
        "lab forwards before the capture"
    );
    let file = lab.dir.join("cap.pcapng");
    let mut cap = capture_cmd(&lab, &["-w", file.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_started(&file, &mut cap);

    // Only one capture at a time: a second one is refused, saying why.
    let second = capture_cmd(&lab, &["-w", lab.dir.join("b").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let why = String::from_utf8_lossy(&second.stderr);
    assert!(why.contains("already running"), "{why}");

    assert!(lab.ping("gw", "192.0.2.10"));
    let spoofed = Lab::scapy_missing().is_none();
    if spoofed {
        lab.attack_script(
            "g1",
            "guest.py",
            &["spoof_ip", "eth0", ROUTER_GUEST_MAC, "0"],
        );
    } else {
        eprintln!("python3-scapy missing: spoofed frames not checked");
    }
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&cap);
    let out = cap.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    assert!(summary.contains("frames written"), "{summary}");

    // tcpdump accepts the file and shows the echo request and reply.
    let td = Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&td.stdout);
    assert!(
        td.status.success(),
        "{}",
        String::from_utf8_lossy(&td.stderr)
    );
    assert!(
        text.contains("192.0.2.1 > 192.0.2.10: ICMP echo request"),
        "{text}"
    );
    assert!(
        text.contains("192.0.2.10 > 192.0.2.1: ICMP echo reply"),
        "{text}"
    );

    // Ports, directions and decisions, from the file itself.
    let (ifaces, packets) = read_pcapng(&file);
    for p in ["hvr-up0", "hvr-g1", "hvr-g2", "hvr-tap3"] {
        assert!(ifaces.iter().any(|i| i == p), "interface {p} in {ifaces:?}");
    }
    let find = |port: &str, inbound: bool, t: u8, src, dst| {
        packets
            .iter()
            .find(|p| {
                p.port == port && p.inbound == inbound && icmp(&p.data) == Some((t, src, dst))
            })
            .unwrap_or_else(|| panic!("no {port} in={inbound} icmp {t} in {packets:#?}"))
    };
    let echo = 8;
    let reply = 0;
    assert_eq!(
        find("hvr-up0", true, echo, GW, G1).comment,
        "forward to hvr-g1"
    );
    assert_eq!(find("hvr-g1", false, echo, GW, G1).comment, "sent");
    assert_eq!(
        find("hvr-g1", true, reply, G1, GW).comment,
        "forward to hvr-up0"
    );
    assert_eq!(find("hvr-up0", false, reply, G1, GW).comment, "sent");
    // The request left with a lower TTL than it came in with: the sent copy is the
    // rewritten frame, the received one as it arrived.
    let (rx, tx) = (
        find("hvr-up0", true, echo, GW, G1),
        find("hvr-g1", false, echo, GW, G1),
    );
    assert_eq!(rx.data[22], tx.data[22] + 1, "TTL");
    if spoofed {
        let drop = packets
            .iter()
            .find(|p| p.port == "hvr-g1" && p.inbound && ipv4_src(&p.data) == Some(G2))
            .expect("guest 1's frame with guest 2's address");
        assert_eq!(drop.comment, "drop spoofed_source_ip");
        assert!(
            !packets
                .iter()
                .any(|p| !p.inbound && ipv4_src(&p.data) == Some(G2) && p.port == "hvr-up0"),
            "no spoofed frame was sent on the uplink"
        );
    }
}

#[test]
fn pipe_into_tcpdump_and_stop_when_it_exits() {
    skip_unless_lab!();
    let lab = Lab::up("capp");
    for g in ["g1", "g2", "g3"] {
        // No IPv6 chatter (DAD, MLD) from the guests' kernels in the two slots.
        let out = lab.exec(g, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        assert!(out.status.success(), "{out:?}");
    }
    assert!(lab.ping("gw", "192.0.2.10"));
    let script = format!(
        "'{}' --socket '{}' capture --port hvr-g1 -w - | tcpdump -n -l -c 2 -r -",
        env!("CARGO_BIN_EXE_hvrouter"),
        lab.socket().display()
    );
    let pipe = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(lab.ping("gw", "192.0.2.10"));
    let out = pipe.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    // Only hvr-g1: the request as sent to the guest, the reply as received from it.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("192.0.2.1 > 192.0.2.10: ICMP echo request"),
        "{text}"
    );
    assert!(
        lines[1].contains("192.0.2.10 > 192.0.2.1: ICMP echo reply"),
        "{text}"
    );
    // The capture ended with tcpdump (it was stopped, not left to time out): a new one
    // starts at once. This one ends by itself after -c 3 frames.
    let file = lab.dir.join("again.pcapng");
    // --duration is a backstop: without -c working the test fails instead of hanging.
    let mut again = capture_cmd(
        &lab,
        &[
            "--port",
            "hvr-g1",
            "-c",
            "3",
            "--duration",
            "20",
            "-w",
            file.to_str().unwrap(),
        ],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_started(&file, &mut again);
    assert!(lab.ping("gw", "192.0.2.10"));
    let out = again.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("3 frames written"), "{err}");
    let (_, packets) = read_pcapng(&file);
    assert_eq!(packets.len(), 3);
    assert!(packets.iter().all(|p| p.port == "hvr-g1"));
}

#[test]
fn a_killed_client_does_not_leave_the_capture_running() {
    skip_unless_lab!();
    let lab = Lab::up("capk");
    let file = lab.dir.join("killed.pcapng");
    let mut cap = capture_cmd(&lab, &["-w", file.to_str().unwrap()])
        .spawn()
        .unwrap();
    wait_started(&file, &mut cap);
    cap.kill().unwrap(); // SIGKILL: no stop request is sent
    let _ = cap.wait();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(15);
    loop {
        let next = capture_cmd(
            &lab,
            &[
                "-w",
                lab.dir.join("next").to_str().unwrap(),
                "--duration",
                "0.2",
            ],
        )
        .output()
        .unwrap();
        if next.status.success() {
            break;
        }
        let why = String::from_utf8_lossy(&next.stderr);
        assert!(why.contains("already running"), "{why}");
        assert!(
            Instant::now() < deadline,
            "the orphaned capture never stopped"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let waited = start.elapsed();
    eprintln!("orphaned capture stopped after {waited:?}");
    assert!(
        lab.router_log().contains("event=capture_stopped") && lab.router_log().contains("by=idle"),
        "{}",
        lab.router_log()
    );
}

#[test]
fn refuses_to_write_pcapng_to_a_terminal() {
    // script(1) gives the command a pseudo-terminal as standard output. No router is
    // needed: the check comes before connecting.
    let found = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("SKIP refuses_to_write_pcapng_to_a_terminal: script(1) is missing");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_hvrouter");
    for args in ["capture", "capture -w -"] {
        let cmd = format!("'{bin}' --socket /nonexistent/hvr.sock {args}");
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains("refusing to write pcapng to a terminal"),
            "{text}"
        );
    }
    // Not a terminal: it goes on (and fails on the missing socket instead).
    let out = Command::new(bin)
        .args(["--socket", "/nonexistent/hvr.sock", "capture"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cannot connect"),
        "{err}"
    );
}
