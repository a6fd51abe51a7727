//! Real packets through AF_XDP on a veth pair between two test namespaces.
//!
//! The router namespace holds the uplink end with 192.0.2.9/24 (owned by its kernel);
//! a responder thread entered into that namespace binds an AF_XDP socket there, attaches
//! the uplink steering program and "hosts" guest IP 192.0.2.1: it answers ARP and ICMP
//! echo for it by rewriting the received frame in place and transmitting the same UMEM
//! address. The peer namespace (192.0.2.2/24) pings both addresses: .1 must be answered
//! through AF_XDP, .9 by the kernel (XDP_PASS). Needs root and `ping`; skips otherwise.
//! Run: `cargo test --test afxdp_veth -- --nocapture`.

mod common;

use common::{checksum, ns_exec, skip_unless_root, Lab};
use hvrouter_sys::{
    netdev, netns, AttachMode, Steering, Umem, UmemError, XdpDesc, XdpProgram, XskConfig, XskError,
    XskSocket,
};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const GUEST_IP: [u8; 4] = [192, 0, 2, 1];
const KERNEL_IP: &str = "192.0.2.9";

#[derive(Debug, Default)]
struct Counts {
    rx: u64,
    rx_arp: u64,
    rx_icmp: u64,
    rx_other: u64,
    tx: u64,
    completed: u64,
}

/// Answers ARP requests for GUEST_IP (with `mac`) and ICMP echo requests to it, in
/// place. Returns false for frames it does not answer.
fn answer_in_place(f: &mut [u8], mac: [u8; 6]) -> (bool, bool) {
    if f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 1] && f[38..42] == GUEST_IP {
        let (sha, spa) = (arr::<6>(&f[22..28]), arr::<4>(&f[28..32]));
        f[0..6].copy_from_slice(&sha);
        f[6..12].copy_from_slice(&mac);
        f[21] = 2; // RFC 826: ar$op = reply
        f[22..28].copy_from_slice(&mac);
        f[28..32].copy_from_slice(&GUEST_IP);
        f[32..38].copy_from_slice(&sha);
        f[38..42].copy_from_slice(&spa);
        return (true, true);
    }
    let ihl = usize::from(f.get(14).copied().unwrap_or(0) & 0x0f) * 4;
    if f.len() >= 14 + ihl + 8
        && f[12..14] == [0x08, 0x00]
        && ihl >= 20
        && f[23] == 1
        && f[30..34] == GUEST_IP
        && f[14 + ihl] == 8
    {
        let src_mac = arr::<6>(&f[6..12]);
        f[0..6].copy_from_slice(&src_mac);
        f[6..12].copy_from_slice(&mac);
        let src_ip = arr::<4>(&f[26..30]);
        f[26..30].copy_from_slice(&GUEST_IP);
        f[30..34].copy_from_slice(&src_ip);
        f[24..26].copy_from_slice(&[0, 0]);
        let c = checksum(&f[14..14 + ihl]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        let icmp = 14 + ihl;
        f[icmp] = 0; // echo reply
        f[icmp + 2..icmp + 4].copy_from_slice(&[0, 0]);
        let total = usize::from(u16::from_be_bytes([f[16], f[17]])).min(f.len() - 14);
        let c = checksum(&f[icmp..14 + total]);
        f[icmp + 2..icmp + 4].copy_from_slice(&c.to_be_bytes());
        return (true, false);
    }
    (false, false)
}

fn arr<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(s);
    a
}

enum Ready {
    Up(AttachMode, u32),
    Skip(String),
}

/// Runs in the router namespace until `stop`; returns what it saw.
fn responder(
    lab_ns: String,
    ifname: String,
    mac: [u8; 6],
    mode: AttachMode,
    ready: mpsc::Sender<Ready>,
    stop: Arc<AtomicBool>,
) -> Counts {
    netns::enter(&lab_ns).expect("enter router namespace");
    let ifindex = netdev::ifindex(&ifname).expect("ifindex");
    let mut umem = match Umem::new(4096, 2048) {
        Ok(u) => u,
        Err(e @ UmemError::CreateSocket(_)) => {
            let _ = ready.send(Ready::Skip(format!("AF_XDP unavailable: {e}")));
            return Counts::default();
        }
        Err(e) => panic!("umem: {e}"),
    };
    let mut sock = match XskSocket::bind(&umem, ifindex, 0, &XskConfig::default()) {
        Ok(s) => s,
        Err(e @ XskError::BindXsk { .. }) => {
            let _ = ready.send(Ready::Skip(format!("AF_XDP bind unavailable: {e:?}")));
            return Counts::default();
        }
        Err(e) => panic!("bind: {e:?}"),
    };
    let prog = XdpProgram::load(Steering::Uplink).expect("load program");
    prog.insert_socket(0, &sock).expect("insert socket");
    prog.insert_guest_ip(Ipv4Addr::from(GUEST_IP))
        .expect("insert guest ip");
    let link = prog.attach(ifindex, mode).expect("attach");
    let frames: Vec<u64> = (0..2048).map(|i| umem.frame_addr(i)).collect();
    assert_eq!(sock.fill(&frames), 2048);
    ready
        .send(Ready::Up(link.mode(), sock.bind_attempts()))
        .expect("report ready");

    let mut c = Counts::default();
    let mut descs = [XdpDesc::default(); 64];
    let mut done = [0u64; 64];
    let mut tx = Vec::with_capacity(64);
    let mut refill = Vec::with_capacity(128);
    while !stop.load(Ordering::Relaxed) {
        sock.poll_rx(Duration::from_millis(50)).expect("poll");
        let n = sock.rx_burst(&mut descs);
        for d in &descs[..n] {
            c.rx += 1;
            let f = umem.frame_mut(d.addr, d.len).expect("rx frame inside UMEM");
            match answer_in_place(f, mac) {
                (true, arp) => {
                    if arp {
                        c.rx_arp += 1
                    } else {
                        c.rx_icmp += 1
                    }
                    tx.push(*d);
                }
                (false, _) => {
                    c.rx_other += 1;
                    refill.push(umem.chunk_of(d.addr));
                }
            }
        }
        let sent = sock.tx_burst(&tx);
        c.tx += sent as u64;
        refill.extend(tx[sent..].iter().map(|d| umem.chunk_of(d.addr)));
        tx.clear();
        while sock.tx_outstanding() > 0 && sock.tx_needs_kick() {
            sock.kick_tx().expect("kick tx");
            if sock.tx_outstanding() > 0 {
                thread::yield_now();
            }
        }
        let m = sock.complete(&mut done);
        c.completed += m as u64;
        refill.extend(done[..m].iter().map(|&a| umem.chunk_of(a)));
        let f = sock.fill(&refill);
        refill.drain(..f);
        if sock.fill_needs_wakeup() {
            sock.wake_rx().expect("wake rx");
        }
    }
    let stats = sock.stats().expect("stats");
    eprintln!("responder {mode:?}: {c:?} {stats:?}");
    drop(link);
    c
}

fn responder_round_trip(mode: AttachMode, tag: char) {
    let name = format!("responder_round_trip({mode:?})");
    if skip_unless_root(&name) {
        return;
    }
    if Command::new("ping").arg("-V").output().is_err() {
        eprintln!("SKIP {name}: needs ping (apt-get install iputils-ping)");
        return;
    }
    let lab = Lab::new(tag);
    common::run(&[
        "ip",
        "-n",
        &lab.router,
        "addr",
        "add",
        "192.0.2.9/24",
        "dev",
        &lab.router_if,
    ]);
    let mac = lab.router_mac();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let worker = {
        let (ns, ifname, stop) = (lab.router.clone(), lab.router_if.clone(), Arc::clone(&stop));
        thread::spawn(move || responder(ns, ifname, mac, mode, tx, stop))
    };
    match rx
        .recv_timeout(Duration::from_secs(20))
        .expect("responder ready")
    {
        Ready::Skip(why) => {
            eprintln!("SKIP {name}: {why}");
            return;
        }
        Ready::Up(actual, attempts) => {
            eprintln!("{name}: attached in {actual:?} mode, bind took {attempts} attempt(s)");
            if mode != AttachMode::NativeOrGeneric {
                assert_eq!(actual, mode);
            }
        }
    }
    let details = lab.router_link_details();
    assert!(details.contains("xdp"), "no XDP on the uplink:\n{details}");

    let ping = |dst: &str| ns_exec(&lab.peer, &["ping", "-c", "3", "-i", "0.2", "-W", "2", dst]);
    let to_guest = ping("192.0.2.1");
    let to_kernel = ping(KERNEL_IP);
    stop.store(true, Ordering::Relaxed);
    let counts = worker.join().expect("responder thread");
    let out = String::from_utf8_lossy(&to_guest.stdout);
    eprintln!("{out}");
    assert!(
        to_guest.status.success(),
        "ping to the AF_XDP guest IP failed:\n{out}"
    );
    assert!(out.contains("3 received"), "{out}");
    let out = String::from_utf8_lossy(&to_kernel.stdout);
    assert!(
        to_kernel.status.success(),
        "ping to the kernel's IP failed:\n{out}"
    );
    assert!(counts.rx_arp >= 1 && counts.rx_icmp >= 3, "{counts:?}");
    assert!(
        counts.tx >= 4 && counts.completed == counts.tx,
        "{counts:?}"
    );
    // The kernel's own traffic (.9) must not have reached the socket.
    assert_eq!(counts.rx_other, 0, "{counts:?}");

    // Socket, program and link are gone with the thread: no XDP remains.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut details = lab.router_link_details();
    while details.contains("xdp") && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        details = lab.router_link_details();
    }
    assert!(
        !details.contains("xdp"),
        "XDP still attached after drop:\n{details}"
    );
}

#[test]
fn responder_round_trip_generic() {
    responder_round_trip(AttachMode::Generic, 'g');
}

#[test]
fn responder_round_trip_native() {
    responder_round_trip(AttachMode::Native, 'n');
}

/// Child side of `link_detaches_when_process_is_killed`: attaches, says so, waits to be
/// killed. Does nothing unless started by that test.
#[test]
#[ignore = "helper process for link_detaches_when_process_is_killed"]
fn child_attach_and_wait() {
    let (Ok(ns), Ok(ifname)) = (
        std::env::var("HVR_SYS_CHILD_NS"),
        std::env::var("HVR_SYS_CHILD_IF"),
    ) else {
        return;
    };
    netns::enter(&ns).expect("enter namespace");
    let ifindex = netdev::ifindex(&ifname).expect("ifindex");
    let prog = XdpProgram::load(Steering::Guest).expect("load");
    let _link = prog.attach(ifindex, AttachMode::Generic).expect("attach");
    println!("ATTACHED");
    thread::sleep(Duration::from_secs(60));
}

#[test]
fn link_detaches_when_process_is_killed() {
    if skip_unless_root("link_detaches_when_process_is_killed") {
        return;
    }
    let lab = Lab::new('k');
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_attach_and_wait",
            "--ignored",
            "--nocapture",
        ])
        .env("HVR_SYS_CHILD_NS", &lab.router)
        .env("HVR_SYS_CHILD_IF", &lab.router_if)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let attached = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("ATTACHED"));
    assert!(attached, "child did not attach");
    let details = lab.router_link_details();
    assert!(
        details.contains("xdpgeneric"),
        "child's program not attached:\n{details}"
    );
    child.kill().expect("SIGKILL child");
    child.wait().expect("reap child");
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut details = lab.router_link_details();
    while details.contains("xdp") && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        details = lab.router_link_details();
    }
    assert!(
        !details.contains("xdp"),
        "XDP left behind by a killed process:\n{details}"
    );
}

/// Binding right after a socket on the same queue closed can fail with EBUSY for a
/// while; `bind` retries with backoff. Reports how long it took.
#[test]
fn rebind_same_queue_after_close() {
    if skip_unless_root("rebind_same_queue_after_close") {
        return;
    }
    let lab = Lab::new('r');
    let (ns, ifname) = (lab.router.clone(), lab.router_if.clone());
    let report = thread::spawn(move || {
        netns::enter(&ns).expect("enter namespace");
        let ifindex = netdev::ifindex(&ifname).expect("ifindex");
        let mut rounds = Vec::new();
        for _ in 0..3 {
            let umem = match Umem::new(256, 2048) {
                Ok(u) => u,
                Err(e) => return Err(format!("AF_XDP unavailable: {e}")),
            };
            let start = Instant::now();
            let sock = XskSocket::bind(&umem, ifindex, 0, &XskConfig::default())
                .map_err(|e| format!("{e:?}"))?;
            rounds.push((sock.bind_attempts(), start.elapsed()));
            let prog = XdpProgram::load(Steering::Guest).expect("load");
            prog.insert_socket(0, &sock).expect("insert");
            let _link = prog.attach(ifindex, AttachMode::Generic).expect("attach");
        }
        Ok(rounds)
    })
    .join()
    .expect("thread");
    match report {
        Err(why) if why.starts_with("AF_XDP unavailable") => eprintln!("SKIP: {why}"),
        Err(e) => panic!("rebind failed: {e}"),
        Ok(rounds) => eprintln!("rebind (attempts, time) per round: {rounds:?}"),
    }
}
