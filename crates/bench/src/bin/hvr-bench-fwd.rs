//! The raw AF_XDP ceiling for `scripts/bench.sh`: forward every frame between two
//! devices through one shared UMEM, by handing over addresses, with a 12-byte MAC
//! rewrite (destination = the peer behind the egress device, source = the egress
//! device). No routing, no checks, one busy-polling thread.
//!
//! ```text
//! hvr-bench-fwd --ns NS --a IF --a-mac MAC --a-peer MAC --b IF --b-mac MAC --b-peer MAC
//!               [--mode auto|native|generic] [--cpu N] [--burst 64] [--stats FILE]
//! ```
//! Prints `ready mode=<Native|Generic>` once both sockets are bound and the programs
//! attached, then runs until killed (the BPF links detach when the process exits).
//! On SIGTERM the kernel ends it; counts are the receiver's business.
//!
//! With `--stats FILE`, it keeps `busy_ns idle_ns frames busy_passes` in FILE
//! (rewritten about every 10 ms): time in passes that moved frames, time in passes that
//! did not, frames forwarded, and passes that moved frames, counted as hvrouter's worker
//! counts them, so the two compare.

use hvrouter_bench::{enter_ns_and_pin, parse_mac, tool_main, ArgError, Args, ToolResult};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use sys::{
    netdev, AttachMode, BindFlags, FramePool, FrameSocket, Steering, UmemFrame, XdpProgram,
    XskConfig,
};

/// Chunks each socket's fill ring is kept topped up to.
const FILL_TARGET: u32 = 1024;
/// Most `sendto` kicks per flush (copy mode moves at most 32 frames per kick).
const MAX_KICKS: u32 = 64;

struct Side {
    sock: FrameSocket,
    /// Destination MAC then source MAC of frames leaving through this side.
    rewrite: [u8; 12],
}

fn main() {
    tool_main("hvr-bench-fwd", run);
}

/// The same socket layer as hvrouter's AF_XDP ports (`sys::FrameSocket` on one shared
/// `FramePool`), so hvrouter's ratio to this measures what routing costs, not a
/// different I/O loop.
fn run(args: Args) -> ToolResult {
    enter_ns_and_pin(&args)?;
    let mode = match args.get("mode").unwrap_or("auto") {
        "auto" => AttachMode::NativeOrGeneric,
        "native" => AttachMode::Native,
        "generic" => AttachMode::Generic,
        other => return Err(ArgError(format!("bad --mode {other:?}")).into()),
    };
    let burst: usize = args.get("burst").unwrap_or("64").parse()?;
    let pool = FramePool::new(4096, 2048)?;
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
        let mut sock = FrameSocket::bind(&pool, ifindex, 0, &cfg)?;
        sock.refill(FILL_TARGET);
        let prog = XdpProgram::load(Steering::Guest)?;
        prog.insert_socket(0, sock.socket())?;
        links.push(prog.attach(ifindex, mode)?);
        progs.push(prog);
        let mut rewrite = [0u8; 12];
        rewrite[..6].copy_from_slice(&peer);
        rewrite[6..].copy_from_slice(&own);
        sides.push(Side { sock, rewrite });
    }
    println!("ready mode={:?}", links[0].mode());
    std::io::stdout().flush()?;

    let stats_file = args.get("stats").map(PathBuf::from);
    let mut frames: Vec<UmemFrame> = Vec::with_capacity(burst.max(1));
    let (mut busy_ns, mut idle_ns, mut moved, mut busy_passes) = (0u64, 0u64, 0u64, 0u64);
    let (mut last, mut last_busy) = (Instant::now(), false);
    let mut next_write = last;
    loop {
        // The time since the previous pass's start is charged to that pass.
        let now = Instant::now();
        let spent = now.duration_since(last).as_nanos() as u64;
        if last_busy {
            busy_ns += spent;
            busy_passes += 1;
        } else {
            idle_ns += spent;
        }
        (last, last_busy) = (now, false);
        if let Some(path) = &stats_file {
            if now >= next_write {
                next_write = now + Duration::from_millis(10);
                write_stats(path, [busy_ns, idle_ns, moved, busy_passes])?;
            }
        }
        for (i, j) in [(0usize, 1usize), (1, 0)] {
            let n = sides[i].sock.receive(&mut frames, burst.max(1));
            sides[i].sock.refill(FILL_TARGET);
            if n == 0 {
                continue;
            }
            last_busy = true;
            moved += n as u64;
            let rewrite = sides[j].rewrite;
            for f in frames.iter_mut() {
                if let Some(h) = f.data_mut().get_mut(..12) {
                    h.copy_from_slice(&rewrite);
                }
            }
            // Frames that do not fit are dropped (returned to the pool) by transmit.
            let _ = sides[j].sock.transmit(&mut frames);
            frames.clear();
            sides[j].sock.kick(MAX_KICKS);
            sides[j].sock.complete();
        }
    }
}

/// `busy_ns idle_ns frames busy_passes`, replaced atomically (a reader never sees half a
/// line).
fn write_stats(path: &Path, values: [u64; 4]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let [a, b, c, d] = values;
    std::fs::write(&tmp, format!("{a} {b} {c} {d}\n"))?;
    std::fs::rename(&tmp, path)
}
