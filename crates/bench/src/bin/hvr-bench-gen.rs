//! The packet generator for `scripts/bench.sh`: UDP frames from an AF_XDP socket's TX
//! ring (copy mode), as fast as the device takes them, cycling over `--flows` source
//! ports. Frames the path drops further on are not retried and never stop it (trafgen
//! 0.6.8 aborts on the first `ENOBUFS`, which a receiver steered to another CPU causes).
//!
//! ```text
//! hvr-bench-gen --ns NS --dev IF --dst-mac MAC --src-ip A --dst-ip B
//!               [--src-mac MAC (IF's)] [--size 64] [--flows 1] [--seconds 3] [--cpu N]
//!               [--burst 64] [--rate PPS]
//! ```
//! `--rate` paces the sends to at most PPS frames per second on average (a fixed offered
//! rate, to compare forwarders' CPU time per packet); without it, as fast as possible.
//! `--size` counts the FCS, as RFC 2544 does (64 -> 60 bytes in the buffer). Prints
//! `ready` once bound, then `sent=N ring_full=N kicks=N kick_errors=N seconds=S` when
//! `--seconds` have passed or on SIGINT/SIGTERM. What arrived is the receiver's count.

use hvrouter_bench::frames::{UdpStream, MIN_FRAME};
use hvrouter_bench::{enter_ns_and_pin, parse_mac, tool_main, ArgError, Args, ToolResult};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use sys::{netdev, signal, FramePool, FrameSocket, UmemFrame, XskConfig};

/// Most `sendto` kicks per round (copy mode moves at most 32 frames per kick).
const MAX_KICKS: u32 = 8;
/// Rounds between clock reads.
const CLOCK_EVERY: u32 = 256;

fn main() {
    tool_main("hvr-bench-gen", run);
}

fn run(args: Args) -> ToolResult {
    enter_ns_and_pin(&args)?;
    let dev = args.req("dev")?;
    let size: usize = args.get("size").unwrap_or("64").parse()?;
    let flows: u16 = args.get("flows").unwrap_or("1").parse()?;
    let seconds: f64 = args.get("seconds").unwrap_or("3").parse()?;
    let burst: usize = args.get("burst").unwrap_or("64").parse::<usize>()?.max(1);
    let rate: Option<f64> = args.get("rate").map(str::parse).transpose()?;
    let src_mac = match args.get("src-mac") {
        Some(m) => parse_mac(m)?,
        None => netdev::mac_address(dev)?,
    };
    let stream = UdpStream {
        dst_mac: parse_mac(args.req("dst-mac")?)?,
        src_mac,
        src_ip: args.req("src-ip")?.parse()?,
        dst_ip: args.req("dst-ip")?.parse()?,
        dst_port: 9,
        frame_len: size.saturating_sub(4),
    };
    let templates = stream.frames(1024, flows).ok_or_else(|| {
        ArgError(format!(
            "--size {size}: a frame needs {} to 65,553 bytes with FCS",
            MIN_FRAME + 4
        ))
    })?;
    signal::install()?;
    let pool = FramePool::new(4096, 2048)?;
    let ifindex = netdev::ifindex(dev)?;
    let mut sock = FrameSocket::bind(&pool, ifindex, 0, &XskConfig::default())?;
    println!("ready");
    std::io::stdout().flush()?;

    let stop = signal::stop_flag();
    let (start, limit) = (Instant::now(), Duration::from_secs_f64(seconds));
    let mut frames: Vec<UmemFrame> = Vec::with_capacity(burst);
    let (mut next, mut round) = (0usize, 0u32);
    let (mut sent, mut ring_full) = (0u64, 0u64);
    loop {
        round = round.wrapping_add(1);
        if round % CLOCK_EVERY == 0 && (stop.load(Ordering::Relaxed) || start.elapsed() >= limit) {
            break;
        }
        sock.complete();
        // Paced: no more than the rate allows by now.
        let quota = match rate {
            Some(r) => {
                let due = (start.elapsed().as_secs_f64() * r) as u64;
                if due <= sent {
                    if stop.load(Ordering::Relaxed) || start.elapsed() >= limit {
                        break;
                    }
                    continue;
                }
                burst.min(usize::try_from(due - sent).unwrap_or(burst))
            }
            None => burst,
        };
        while frames.len() < quota {
            let Some(f) = pool.alloc(&templates[next]) else {
                break;
            };
            frames.push(f);
            next = (next + 1) % templates.len();
        }
        let r = sock.transmit(&mut frames);
        sent += r.sent as u64;
        ring_full += r.ring_full as u64;
        sock.kick(MAX_KICKS);
    }
    let st = sock.stats();
    println!(
        "sent={sent} ring_full={ring_full} kicks={} kick_errors={} seconds={:.3}",
        st.kicks,
        st.kick_errors,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
