//! One UMEM shared by sockets on two veths, forwarding by handing over addresses, with
//! multi-buffer frames larger than a chunk.
//!
//! Router namespace: `..a` (to peer 192.0.2.2) and `..c` (to peer 192.0.2.3), both with
//! the guest steering program, MTU 9000. A bridge thread moves every frame received on
//! one socket to the other socket's TX ring without copying (the second socket is bound
//! with XDP_SHARED_UMEM and has its own fill and completion rings). The peers ping each
//! other with 56- and 3000-byte payloads; the large ones cross as descriptor chains
//! (XDP_USE_SG, 2048-byte chunks). Needs root and `ping`; skips otherwise.
//! Run: `cargo test --test shared_umem -- --nocapture`.

mod common;

use common::{ns_exec, run, skip_unless_root, Lab};
use hvrouter_sys::{
    netdev, netns, AttachMode, BindFlags, Steering, Umem, UmemError, XdpDesc, XdpProgram,
    XskConfig, XskSocket,
};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

/// Frames each socket's fill ring is kept topped up to.
const FILL_TARGET: usize = 1024;

#[derive(Debug, Default)]
struct Counts {
    rx_descs: [u64; 2],
    rx_continued: [u64; 2],
    tx_descs: [u64; 2],
    completed: [u64; 2],
}

fn bridge(
    ns: String,
    ifnames: [String; 2],
    mode: AttachMode,
    ready: mpsc::Sender<Result<AttachMode, String>>,
    stop: Arc<AtomicBool>,
) -> Counts {
    netns::enter(&ns).expect("enter router namespace");
    let umem = match Umem::new(4096, 2048) {
        Ok(u) => u,
        Err(e @ UmemError::CreateSocket(_)) => {
            let _ = ready.send(Err(format!("AF_XDP unavailable: {e}")));
            return Counts::default();
        }
        Err(e) => panic!("umem: {e}"),
    };
    let cfg = XskConfig {
        flags: BindFlags::COPY | BindFlags::NEED_WAKEUP | BindFlags::SG,
        ..XskConfig::default()
    };
    let mut socks = Vec::new();
    let mut links = Vec::new();
    let mut progs = Vec::new();
    for name in &ifnames {
        let ifindex = netdev::ifindex(name).expect("ifindex");
        let sock = XskSocket::bind(&umem, ifindex, 0, &cfg).expect("bind");
        let prog = XdpProgram::load(Steering::Guest).expect("load");
        prog.insert_socket(0, &sock).expect("insert socket");
        links.push(prog.attach(ifindex, mode).expect("attach"));
        progs.push(prog);
        socks.push(sock);
    }
    assert!(!socks[0].is_shared() && socks[1].is_shared());
    ready.send(Ok(links[0].mode())).expect("report ready");

    let mut free: Vec<u64> = (0..umem.frame_count())
        .map(|i| umem.frame_addr(i))
        .collect();
    let mut in_fill = [0usize; 2];
    let mut c = Counts::default();
    let mut descs = [XdpDesc::default(); 64];
    let mut done = [0u64; 64];
    while !stop.load(Ordering::Relaxed) {
        for i in 0..2 {
            let want = (FILL_TARGET - in_fill[i]).min(free.len());
            let n = socks[i].fill(&free[free.len() - want..]);
            free.truncate(free.len() - n);
            in_fill[i] += n;
            if socks[i].fill_needs_wakeup() {
                socks[i].wake_rx().expect("wake rx");
            }
        }
        socks[0].poll_rx(Duration::from_millis(5)).expect("poll");
        for (i, j) in [(0, 1), (1, 0)] {
            let n = socks[i].rx_burst(&mut descs);
            in_fill[i] -= n;
            c.rx_descs[i] += n as u64;
            c.rx_continued[i] += descs[..n].iter().filter(|d| d.is_continued()).count() as u64;
            // Hand the very same UMEM addresses to the other device.
            let sent = socks[j].tx_burst(&descs[..n]);
            c.tx_descs[j] += sent as u64;
            free.extend(descs[sent..n].iter().map(|d| umem.chunk_of(d.addr)));
            for _ in 0..64 {
                if socks[j].tx_outstanding() == 0 || !socks[j].tx_needs_kick() {
                    break;
                }
                socks[j].kick_tx().expect("kick tx");
            }
        }
        for (i, sock) in socks.iter_mut().enumerate() {
            let m = sock.complete(&mut done);
            c.completed[i] += m as u64;
            free.extend(done[..m].iter().map(|&a| umem.chunk_of(a)));
        }
    }
    for s in &socks {
        eprintln!(
            "bridge socket ifindex {}: {:?}",
            s.ifindex(),
            s.stats().expect("stats")
        );
    }
    c
}

fn shared_umem_bridge(mode: AttachMode, tag: char) {
    let name = format!("shared_umem_bridge({mode:?})");
    if skip_unless_root(&name) {
        return;
    }
    if Command::new("ping").arg("-V").output().is_err() {
        eprintln!("SKIP {name}: needs ping (apt-get install iputils-ping)");
        return;
    }
    let mut lab = Lab::new(tag);
    let (peer2, rif2, pif2) = lab.add_peer(tag, "192.0.2.3/24");
    for (ns, ifname) in [
        (&lab.router, &lab.router_if),
        (&lab.router, &rif2),
        (&lab.peer, &lab.peer_if),
        (&peer2, &pif2),
    ] {
        run(&["ip", "-n", ns, "link", "set", ifname, "mtu", "9000"]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let worker = {
        let (ns, ifs, stop) = (
            lab.router.clone(),
            [lab.router_if.clone(), rif2],
            Arc::clone(&stop),
        );
        thread::spawn(move || bridge(ns, ifs, mode, tx, stop))
    };
    match rx
        .recv_timeout(Duration::from_secs(20))
        .expect("bridge ready")
    {
        Err(why) => {
            eprintln!("SKIP {name}: {why}");
            return;
        }
        Ok(actual) => eprintln!("{name}: attached in {actual:?} mode"),
    }
    let small = ns_exec(
        &lab.peer,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.3"],
    );
    let large = ns_exec(
        &lab.peer,
        &[
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "-s",
            "3000",
            "192.0.2.3",
        ],
    );
    stop.store(true, Ordering::Relaxed);
    let c = worker.join().expect("bridge thread");
    eprintln!("{c:?}");
    let out = String::from_utf8_lossy(&small.stdout);
    assert!(
        small.status.success(),
        "small ping across the bridge failed:\n{out}"
    );
    let out = String::from_utf8_lossy(&large.stdout);
    eprintln!("{out}");
    assert!(
        large.status.success(),
        "3000-byte ping across the bridge failed:\n{out}"
    );
    // 3 requests and 3 replies of 3042 bytes: 2 descriptors each, one continued.
    assert!(c.rx_continued[0] >= 3 && c.rx_continued[1] >= 3, "{c:?}");
    assert_eq!(
        c.completed, c.tx_descs,
        "every transmitted descriptor completes"
    );
}

#[test]
fn shared_umem_bridge_generic() {
    shared_umem_bridge(AttachMode::Generic, 's');
}

#[test]
fn shared_umem_bridge_native() {
    shared_umem_bridge(AttachMode::Native, 't');
}
