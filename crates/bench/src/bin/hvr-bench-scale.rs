//! Scale figures for `scripts/bench.sh`: route lookup and guest add cost over
//! `hvrouter-core`'s `Tables` with 1, 100, 1,000 and 4,000 guests (or the counts given).
//!
//! ```text
//! hvr-bench-scale [--guests 1,100,1000,4000] [--lookups 2000000]
//! ```
//! Prints one tab-separated line per count:
//! `scale <guests> <lookup ns> <add ns, mean over building the table> <add+remove ns at that size>`.
//!
//! In memory only, no packet is ever built or sent. One network must hold 4,000 guest
//! /32s, more than the documentation prefixes have, so the table uses the RFC 2544
//! benchmarking range 198.18.0.0/15 (reserved for exactly this), gateway 198.18.0.1.

use hvrouter_bench::{tool_main, Args, ToolResult};
use hvrouter_core::guests::GuestSpec;
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::tables::Tables;
use hvrouter_core::{NetworkId, PortId};
use ipnet::Ipv4Net;
use std::hint::black_box;
use std::time::Instant;
use wire::{EthernetAddress, Ipv4Addr};

const BASE: u32 = 0xC612_0000; // 198.18.0.0

fn guest_ip(i: u32) -> Ipv4Addr {
    // Skip .0 and .1 (network, gateway) of the /15.
    Ipv4Addr::from_bits(BASE + 2 + i)
}

fn spec(i: u32, network: NetworkId) -> GuestSpec {
    let b = (i + 1).to_be_bytes();
    GuestSpec {
        name: format!("tap{i}"),
        port: PortId(u16::try_from(i + 1).unwrap_or(u16::MAX)),
        mac: EthernetAddress([0x02, 0, b[0], b[1], b[2], b[3]]),
        ips: vec![guest_ip(i)],
        network,
        extra_prefixes: Vec::new(),
    }
}

fn tables() -> Result<(Tables, NetworkId), Box<dyn std::error::Error>> {
    let mut t = Tables::new();
    let net = t.add_network(NetworkSpec {
        name: "bench".into(),
        subnet: Ipv4Net::new(std::net::Ipv4Addr::from(BASE), 15)?,
        gateway: Ipv4Addr::from_bits(BASE + 1),
        uplink: PortId(0),
        mtu: 1500,
        uplink_mac: EthernetAddress([0x02, 0, 0, 0, 0xfe, 1]),
        guest_mac: EthernetAddress([0x02, 0, 0, 0, 0xfe, 2]),
        arp_source: None,
    })?;
    Ok((t, net))
}

/// A small xorshift: lookup addresses that defeat a branch predictor but cost ~1 ns.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn main() {
    tool_main("hvr-bench-scale", run);
}

fn run(args: Args) -> ToolResult {
    let counts: Vec<u32> = args
        .get("guests")
        .unwrap_or("1,100,1000,4000")
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let lookups: u32 = args.get("lookups").unwrap_or("2000000").parse()?;
    println!("# guests\tlookup_ns\tadd_ns_mean\tadd_remove_ns_at_size");
    for &n in &counts {
        let (mut t, net) = tables()?;
        let start = Instant::now();
        for i in 0..n {
            t.add_guest(spec(i, net))?;
        }
        let add_mean = start.elapsed().as_nanos() as f64 / f64::from(n.max(1));

        // Lookups: 3 of 4 to a guest /32, the rest to the subnet or beyond (default).
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let addrs: Vec<Ipv4Addr> = (0..4096)
            .map(|k| {
                let r = next(&mut s) as u32;
                match k % 4 {
                    0 => Ipv4Addr::from_bits(BASE + 2 + n + (r % 60_000)),
                    1 => Ipv4Addr::from_bits(0xCB00_7100 | (r & 0xff)), // 203.0.113.x: default
                    _ => guest_ip(r % n.max(1)),
                }
            })
            .collect();
        let start = Instant::now();
        let mut hits = 0u32;
        for k in 0..lookups {
            let dst = addrs[(k & 4095) as usize];
            if black_box(t.lookup_route(net, black_box(dst))).is_some() {
                hits += 1;
            }
        }
        let lookup_ns = start.elapsed().as_nanos() as f64 / f64::from(lookups.max(1));
        black_box(hits);

        // Marginal cost at this size: add one more guest and remove it again.
        let rounds = 2000u32;
        let start = Instant::now();
        for _ in 0..rounds {
            t.add_guest(spec(n, net))?;
            t.remove_guest(format!("tap{n}").as_str())?;
        }
        let churn = start.elapsed().as_nanos() as f64 / f64::from(rounds);
        println!("scale\t{n}\t{lookup_ns:.1}\t{add_mean:.0}\t{churn:.0}");
    }
    Ok(())
}
