//! Measurement tools driven by `scripts/bench.sh`. Nothing here is used by the router.
//!
//! - `hvr-bench-fwd`: the raw AF_XDP ceiling. One UMEM shared by sockets on two devices;
//!   every frame received on one is handed, by address, to the other's TX ring after a
//!   12-byte MAC rewrite. No routing, no checks: what a forwarder on AF_XDP copy mode can
//!   do at most on this machine.
//! - `hvr-bench-gen`: the packet generator. UDP frames from an AF_XDP socket's TX ring
//!   (copy mode), as fast as the kernel takes them, over any number of flows; frames the
//!   path drops are counted, never fatal (trafgen aborts on the first one).
//! - `hvr-bench-sink`: the receiver. An `XDP_DROP` program on the receiving device: the
//!   device counts the frames (`rx_packets`) and no stack processing runs, so the
//!   receiver costs the forwarder's CPU almost nothing.
//! - `hvr-bench-scale`: route lookup and guest add cost over `hvrouter-core`'s `Tables`
//!   with 1..4,000 guests.
//! - `hvr-bench-handoff`: the cost per frame of handing frames between two workers
//!   (`hvrouter_dataplane::handoff`) next to forwarding them on one, on in-memory ports.
//!
//! The clock used here (`std::time::Instant`) is the bench tool's own: the router and
//! its tests never read a wall clock.

pub mod frames;

use std::fmt;

/// What a tool's `run` returns.
pub type ToolResult = Result<(), Box<dyn std::error::Error>>;

/// A tool's `main`: parses the command line and calls `run` with it; on an error, prints
/// `NAME: error` and exits with 1.
pub fn tool_main(name: &str, run: impl FnOnce(Args) -> ToolResult) {
    let result = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => run(args),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = result {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}

/// The options every namespace tool shares: `--ns NS` enters that network namespace,
/// `--cpu N` pins the calling thread to CPU N. Both optional.
pub fn enter_ns_and_pin(args: &Args) -> ToolResult {
    if let Some(ns) = args.get("ns") {
        sys::netns::enter(ns)?;
    }
    if let Some(cpu) = args.get("cpu") {
        sys::affinity::pin_current_thread(cpu.parse()?)?;
    }
    Ok(())
}

/// Command-line error: what was wrong, for the usage message.
#[derive(Debug)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

/// Parse `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], ArgError> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in out.iter_mut() {
        let p = parts
            .next()
            .ok_or_else(|| ArgError(format!("bad MAC {s:?}")))?;
        *b = u8::from_str_radix(p, 16).map_err(|_| ArgError(format!("bad MAC {s:?}")))?;
    }
    if parts.next().is_some() {
        return Err(ArgError(format!("bad MAC {s:?}")));
    }
    Ok(out)
}

/// `--key value` pairs from the command line.
#[derive(Debug, Default)]
pub struct Args(Vec<(String, String)>);

impl Args {
    /// Collect `--key value` pairs; anything else is an error.
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Args, ArgError> {
        let mut out = Vec::new();
        let mut it = args;
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .ok_or_else(|| ArgError(format!("unexpected argument {k:?}")))?;
            let v = it
                .next()
                .ok_or_else(|| ArgError(format!("--{key} needs a value")))?;
            out.push((key.to_owned(), v));
        }
        Ok(Args(out))
    }

    /// The value of `--key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `--key`, required.
    pub fn req(&self, key: &str) -> Result<&str, ArgError> {
        self.get(key)
            .ok_or_else(|| ArgError(format!("missing --{key}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_and_rejects() {
        assert_eq!(
            parse_mac("02:00:00:00:01:0a").ok(),
            Some([2, 0, 0, 0, 1, 10])
        );
        assert!(parse_mac("02:00:00:00:01").is_err());
        assert!(parse_mac("02:00:00:00:01:0a:0b").is_err());
        assert!(parse_mac("zz:00:00:00:01:0a").is_err());
    }

    #[test]
    fn args_pairs() {
        let a = Args::parse(["--a", "x", "--b", "y"].iter().map(|s| s.to_string()));
        let a = a.ok().unwrap_or_default();
        assert_eq!(a.get("a"), Some("x"));
        assert_eq!(a.req("b").ok(), Some("y"));
        assert!(a.req("c").is_err());
        assert!(Args::parse(["x"].iter().map(|s| s.to_string())).is_err());
    }
}
