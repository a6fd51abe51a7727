//! The stall meter for `scripts/bench/stall.sh`: a timestamped UDP stream at a fixed
//! rate through the router, and a receiver that prints the longest gap between arrivals
//! and how many gaps exceed a threshold, while the control plane works.
//!
//! ```text
//! hvr-bench-stall --role send --ns NS --to IP:PORT [--rate 10000] [--secs 600]
//! hvr-bench-stall --role recv --ns NS --port PORT [--gap-ms 5] [--secs 20]
//! ```
//! The sender stops after `--secs` or at SIGTERM/SIGINT, whichever comes first.
//! Each datagram carries a sequence number and its send time (nanoseconds since the
//! sender started). The sender sends on an absolute schedule and prints its own longest
//! send gap, so a stall of the sender (a noisy machine) is told apart from one of the
//! router. The receiver prints one line:
//! `received N lost L longest_gap_ms G gaps_over_Xms C max_added_delay_ms D`, where the
//! added delay of a datagram is how much later than the first one, relative to their send
//! times, it arrived: a router that stops forwarding for 20 ms delays (or loses) what
//! arrives meanwhile by up to 20 ms, whatever the sender did.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hvrouter_bench::{enter_ns_and_pin, tool_main, ArgError, Args, ToolResult};

/// Marks a datagram of this tool.
const MAGIC: u32 = 0x6876_7374;
/// Bytes of a datagram: magic, sequence number, send time.
const LEN: usize = 4 + 8 + 8;

fn main() {
    tool_main("hvr-bench-stall", run);
}

fn run(args: Args) -> ToolResult {
    enter_ns_and_pin(&args)?;
    let secs: u64 = args.get("secs").unwrap_or("600").parse()?;
    match args.req("role")? {
        "send" => send(&args, secs),
        "recv" => recv(&args, secs),
        other => Err(ArgError(format!("bad --role {other:?} (send or recv)")).into()),
    }
}

fn send(args: &Args, secs: u64) -> ToolResult {
    let to: SocketAddr = args.req("to")?.parse()?;
    let rate: u64 = args.get("rate").unwrap_or("10000").parse()?;
    if rate == 0 {
        return Err(ArgError("--rate must be > 0".into()).into());
    }
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sys::signal::install()?;
    let stop = sys::signal::stop_flag();
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut next = start;
    let mut seq = 0u64;
    let mut last = start;
    let mut longest = Duration::ZERO;
    let mut buf = [0u8; LEN];
    let mut errors = 0u64;
    while next < end && !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep(next - now);
            continue;
        }
        // Send everything due (catching up after a late wake-up).
        while next <= now {
            buf[..4].copy_from_slice(&MAGIC.to_be_bytes());
            buf[4..12].copy_from_slice(&seq.to_be_bytes());
            let t = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            buf[12..20].copy_from_slice(&t.to_be_bytes());
            if sock.send_to(&buf, to).is_err() {
                errors += 1;
            }
            seq += 1;
            next += interval;
        }
        longest = longest.max(now - last);
        last = now;
    }
    println!(
        "sent {seq} send_errors {errors} longest_send_gap_ms {:.2}",
        ms(longest)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn recv(args: &Args, secs: u64) -> ToolResult {
    let port: u16 = args.req("port")?.parse()?;
    let threshold =
        Duration::from_secs_f64(args.get("gap-ms").unwrap_or("5").parse::<f64>()? / 1000.0);
    let sock = UdpSocket::bind(("0.0.0.0", port))?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    println!("ready");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 2048];
    let mut first: Option<(Instant, u64)> = None;
    let mut last_arrival: Option<Instant> = None;
    let (mut received, mut max_seq) = (0u64, 0u64);
    let mut longest = Duration::ZERO;
    let mut over = 0u64;
    // Relative one-way delay (arrival minus send, offset by the first datagram's): its
    // minimum is the path's own delay, the excess over it what a stall added.
    let (mut min_rel, mut max_rel) = (i128::MAX, i128::MIN);
    while Instant::now() < deadline {
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // The stream is over once it has been silent for 2 s.
                if last_arrival.is_some_and(|l| l.elapsed() > Duration::from_secs(2)) {
                    break;
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let now = Instant::now();
        if n < LEN || buf[..4] != MAGIC.to_be_bytes() {
            continue;
        }
        let seq = u64::from_be_bytes(buf[4..12].try_into()?);
        let sent = u64::from_be_bytes(buf[12..20].try_into()?);
        let (t0, s0) = *first.get_or_insert((now, sent));
        let rel = (now - t0).as_nanos() as i128 - (i128::from(sent) - i128::from(s0));
        min_rel = min_rel.min(rel);
        max_rel = max_rel.max(rel);
        if let Some(prev) = last_arrival {
            let gap = now - prev;
            longest = longest.max(gap);
            if gap > threshold {
                over += 1;
            }
        }
        last_arrival = Some(now);
        received += 1;
        max_seq = max_seq.max(seq);
    }
    let lost = if received == 0 {
        0
    } else {
        (max_seq + 1).saturating_sub(received)
    };
    let added = if received == 0 {
        0.0
    } else {
        (max_rel - min_rel) as f64 / 1e6
    };
    println!(
        "received {received} lost {lost} longest_gap_ms {:.2} gaps_over_{}ms {over} max_added_delay_ms {added:.2}",
        ms(longest),
        threshold.as_millis()
    );
    Ok(())
}
