//! The receiver for `scripts/bench.sh`: attaches an XDP program to a device that drops
//! IPv4 (`XDP_DROP`) and passes the rest (ARP still resolves), so every test frame that
//! reaches it is counted by the device (`rx_packets`) and dropped before any stack
//! processing. On a veth that runs in the sender's NAPI poll, i.e. on
//! the forwarder's CPU: a full receive (IP, UDP, an ICMP port-unreachable attempt)
//! there would be charged to the forwarder, not to the receiver.
//!
//! ```text
//! hvr-bench-sink --ns NS --dev IF [--mode native|generic|auto]
//! ```
//! Prints `ready mode=<Native|Generic>` once attached; detaches when it exits.

use hvrouter_bench::{enter_ns_and_pin, tool_main, ArgError, Args, ToolResult};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;
use sys::{netdev, signal, AttachMode, Steering, XdpProgram};

fn main() {
    tool_main("hvr-bench-sink", run);
}

fn run(args: Args) -> ToolResult {
    enter_ns_and_pin(&args)?;
    let mode = match args.get("mode").unwrap_or("native") {
        "auto" => AttachMode::NativeOrGeneric,
        "native" => AttachMode::Native,
        "generic" => AttachMode::Generic,
        other => return Err(ArgError(format!("bad --mode {other:?}")).into()),
    };
    let ifindex = netdev::ifindex(args.req("dev")?)?;
    signal::install()?;
    let prog = XdpProgram::load(Steering::DropIpv4)?;
    let link = prog.attach(ifindex, mode)?;
    println!("ready mode={:?}", link.mode());
    std::io::stdout().flush()?;
    while !signal::stop_flag().load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(link);
    Ok(())
}
