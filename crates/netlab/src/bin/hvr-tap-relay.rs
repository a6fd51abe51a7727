//! `hvr-tap-relay`: plays QEMU for tests and demos (see `hvrouter_netlab::relay`).
//!
//! ```text
//! hvr-tap-relay --router-tap NAME --guest-tap NAME --guest-netns NS [--mtu N]
//! ```
//! Opens both taps with a vnet header and offloads, leaves the router tap in the current
//! namespace, moves the guest tap into NS, brings both up, prints `ready` on stdout and
//! relays until SIGTERM or SIGINT; then exits 0 and the taps disappear with their
//! descriptors. Errors go to stderr, exit code 1 (2 for usage errors).
#![forbid(unsafe_code)]

use hvrouter_netlab::relay::{GuestRelay, GuestRelayConfig};
use std::error::Error;
use std::io::Write;
use std::process::ExitCode;
use sys::signal;

const USAGE: &str =
    "usage: hvr-tap-relay --router-tap NAME --guest-tap NAME --guest-netns NS [--mtu N]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<GuestRelayConfig, String> {
    let (mut router, mut guest, mut netns, mut mtu) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--router-tap" => &mut router,
            "--guest-tap" => &mut guest,
            "--guest-netns" => &mut netns,
            "--mtu" => &mut mtu,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        };
        *slot = Some(args.next().ok_or(format!("{flag} needs a value"))?);
    }
    let need = |v: Option<String>, flag: &str| v.ok_or(format!("missing {flag}\n{USAGE}"));
    Ok(GuestRelayConfig {
        router_tap: need(router, "--router-tap")?,
        guest_tap: need(guest, "--guest-tap")?,
        guest_netns: need(netns, "--guest-netns")?,
        mtu: mtu
            .map(|m| m.parse().map_err(|_| format!("--mtu {m:?}: not a number")))
            .transpose()?,
    })
}

fn report(e: &dyn Error) {
    let mut msg = format!("hvr-tap-relay: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        msg.push_str(&format!(": {c}"));
        cause = c.source();
    }
    eprintln!("{msg}");
}

fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(cfg) => cfg,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = signal::install() {
        report(&e);
        return ExitCode::FAILURE;
    }
    let relay = match GuestRelay::setup(&cfg) {
        Ok(r) => r,
        Err(e) => {
            report(&e);
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "ready").and_then(|()| out.flush()).is_err() {
        // Whoever waits for the line is gone; still relay until told to stop.
        eprintln!("hvr-tap-relay: could not print the ready line");
    }
    drop(out);
    eprintln!(
        "hvr-tap-relay: relaying {} <-> {} (in {})",
        cfg.router_tap, cfg.guest_tap, cfg.guest_netns
    );
    match relay.run(signal::stop_flag()) {
        Ok(stats) => {
            eprintln!("hvr-tap-relay: stopped; router->guest: {}", stats.a_to_b);
            eprintln!("hvr-tap-relay: stopped; guest->router: {}", stats.b_to_a);
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
