//! The raw AF_XDP ceiling for `scripts/bench.sh`: forward every frame between two
//! devices through one shared UMEM, by handing over addresses, with a 12-byte MAC
//! rewrite (destination = the peer behind the egress device, source = the egress
//! device). No routing, no checks, one busy-polling thread.
//!
//! ```text
//! hvr-bench-fwd --ns NS --a IF --a-mac MAC --a-peer MAC --b IF --b-mac MAC --b-peer MAC
//!               [--mode auto|native|generic] [--cpu N] [--burst 64]
//! ```
//! Prints `ready mode=<Native|Generic>` once both sockets are bound and the programs
//! attached, then runs until killed (the BPF links detach when the process exits).
//! On SIGTERM the kernel ends it; counts are the receiver's business.

use hvrouter_bench::{parse_mac, ArgError, Args};
use std::io::Write;
use sys::{
    affinity, netdev, netns, AttachMode, BindFlags, Steering, Umem, XdpDesc, XdpProgram, XskConfig,
    XskSocket,
};

/// Frames each socket's fill ring is kept topped up to.
const FILL_TARGET: usize = 1024;

struct Side {
    sock: XskSocket,
    /// Source MAC then destination MAC of frames leaving through this side, in frame
    /// order (destination first).
    rewrite: [u8; 12],
    in_fill: usize,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("hvr-bench-fwd: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(std::env::args().skip(1))?;
    if let Some(ns) = args.get("ns") {
        netns::enter(ns)?;
    }
    if let Some(cpu) = args.get("cpu") {
        affinity::pin_current_thread(cpu.parse()?)?;
    }
    let mode = match args.get("mode").unwrap_or("auto") {
        "auto" => AttachMode::NativeOrGeneric,
        "native" => AttachMode::Native,
        "generic" => AttachMode::Generic,
        other => return Err(ArgError(format!("bad --mode {other:?}")).into()),
    };
    let burst: usize = args.get("burst").unwrap_or("64").parse()?;
    let mut umem = Umem::new(4096, 2048)?;
    let cfg = XskConfig {
        flags: BindFlags::COPY | BindFlags::NEED_WAKEUP,
        ..XskConfig::default()
    };
    let mut sides = Vec::new();
    let mut links = Vec::new();
    let mut progs = Vec::new();
    for key in ["a", "b"] {
        let name = args.req(key)?;
        let own = parse_mac(args.req(&format!("{key}-mac"))?)?;
        let peer = parse_mac(args.req(&format!("{key}-peer"))?)?;
        let ifindex = netdev::ifindex(name)?;
        let sock = XskSocket::bind(&umem, ifindex, 0, &cfg)?;
        let prog = XdpProgram::load(Steering::Guest)?;
        prog.insert_socket(0, &sock)?;
        links.push(prog.attach(ifindex, mode)?);
        progs.push(prog);
        let mut rewrite = [0u8; 12];
        rewrite[..6].copy_from_slice(&peer);
        rewrite[6..].copy_from_slice(&own);
        sides.push(Side {
            sock,
            rewrite,
            in_fill: 0,
        });
    }
    println!("ready mode={:?}", links[0].mode());
    std::io::stdout().flush()?;

    let mut free: Vec<u64> = (0..umem.frame_count())
        .map(|i| umem.frame_addr(i))
        .collect();
    let mut descs = vec![XdpDesc::default(); burst.max(1)];
    let mut done = vec![0u64; 2 * burst.max(1)];
    loop {
        for side in sides.iter_mut() {
            let want = FILL_TARGET.saturating_sub(side.in_fill).min(free.len());
            if want > 0 {
                let n = side.sock.fill(&free[free.len() - want..]);
                free.truncate(free.len() - n);
                side.in_fill += n;
            }
            if side.sock.fill_needs_wakeup() {
                side.sock.wake_rx()?;
            }
        }
        for (i, j) in [(0usize, 1usize), (1, 0)] {
            let n = sides[i].sock.rx_burst(&mut descs);
            if n == 0 {
                continue;
            }
            sides[i].in_fill -= n;
            let rewrite = sides[j].rewrite;
            for d in &descs[..n] {
                if let Some(f) = umem.frame_mut(d.addr, d.len) {
                    if f.len() >= 12 {
                        f[..12].copy_from_slice(&rewrite);
                    }
                }
            }
            let sent = sides[j].sock.tx_burst(&descs[..n]);
            free.extend(descs[sent..n].iter().map(|d| umem.chunk_of(d.addr)));
            // Copy mode moves at most 32 frames per sendto(): kick until drained.
            for _ in 0..8 {
                if sides[j].sock.tx_outstanding() == 0 || !sides[j].sock.tx_needs_kick() {
                    break;
                }
                let _ = sides[j].sock.kick_tx();
            }
        }
        for side in sides.iter_mut() {
            let m = side.sock.complete(&mut done);
            free.extend(done[..m].iter().map(|&a| umem.chunk_of(a)));
        }
    }
}
