//! One test per rule of `[router]`, `[dataplane]` and `[icmp]`, and for syntax and type
//! errors: each checks the exact line, key and message.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use hvrouter_config::{LogLevel, PollMode, XdpMode};
use support::{edit, line_of, problems, rejects, valid, BASE};

#[test]
fn base_is_valid() {
    let c = valid(BASE);
    assert_eq!(c.dataplane.workers, 1);
    assert_eq!(c.dataplane.cpus, Some(vec![1]));
    assert_eq!(c.networks.len(), 2);
    assert_eq!(c.guests.len(), 2);
}

#[test]
fn empty_file_is_all_defaults() {
    let c = valid("");
    assert_eq!(
        c.router.control_socket.to_str(),
        Some("/run/hvrouter/control.sock")
    );
    assert_eq!(c.router.state_dir.to_str(), Some("/var/lib/hvrouter"));
    assert_eq!(
        c.router.metrics_listen,
        Some("127.0.0.1:9477".parse().unwrap())
    );
    assert_eq!(c.router.log_level, LogLevel::Info);
    assert_eq!(c.dataplane.xdp_mode, XdpMode::Auto);
    assert_eq!(c.dataplane.poll, PollMode::Busy);
    assert_eq!(
        (
            c.dataplane.workers,
            c.dataplane.burst,
            c.dataplane.frame_size,
            c.dataplane.frames
        ),
        (1, 64, 4096, None)
    );
    assert_eq!(c.dataplane.cpus, None);
    assert_eq!((c.icmp.rate_per_sec, c.icmp.burst), (100, 50));
    assert!(c.networks.is_empty() && c.guests.is_empty());
}

// ----- [router] -----

#[test]
fn control_socket_must_be_absolute() {
    rejects(
        "control_socket = \"/run/hvrouter/control.sock\"",
        "control_socket = \"run/x.sock\"",
        "control_socket",
        "router.control_socket",
        "\"run/x.sock\" is not an absolute path",
    );
}

#[test]
fn control_socket_fits_sun_path() {
    let long = format!("/{}", "s".repeat(107));
    rejects(
        "control_socket = \"/run/hvrouter/control.sock\"",
        &format!("control_socket = \"{long}\""),
        "control_socket",
        "router.control_socket",
        "the path is 108 bytes long; a unix socket path can be at most 107 bytes",
    );
    let ok = format!("/{}", "s".repeat(106));
    valid(&edit(
        "control_socket = \"/run/hvrouter/control.sock\"",
        &format!("control_socket = \"{ok}\""),
    ));
}

#[test]
fn control_socket_is_a_file() {
    rejects(
        "control_socket = \"/run/hvrouter/control.sock\"",
        "control_socket = \"/run/hvrouter/\"",
        "control_socket",
        "router.control_socket",
        "\"/run/hvrouter/\" names a directory, not a socket file",
    );
}

#[test]
fn state_dir_must_be_absolute() {
    rejects(
        "state_dir = \"/var/lib/hvrouter\"",
        "state_dir = \"\"",
        "state_dir",
        "router.state_dir",
        "\"\" is not an absolute path",
    );
}

#[test]
fn metrics_listen() {
    rejects(
        "log_level = \"info\"",
        "metrics_listen = \"localhost\"",
        "metrics_listen",
        "router.metrics_listen",
        "\"localhost\" is not an address and port like 127.0.0.1:9477 (or \"off\" to turn metrics off)",
    );
    let c = valid(&edit("log_level = \"info\"", "metrics_listen = \"off\""));
    assert_eq!(c.router.metrics_listen, None);
    let c = valid(&edit(
        "log_level = \"info\"",
        "metrics_listen = \"[::1]:9100\"",
    ));
    assert_eq!(
        c.router.metrics_listen,
        Some("[::1]:9100".parse::<SocketAddr>().unwrap())
    );
}

#[test]
fn log_level_is_a_choice() {
    rejects(
        "log_level = \"info\"",
        "log_level = \"verbose\"",
        "log_level",
        "router.log_level",
        "\"verbose\" is not one of: error, warn, info, debug, trace",
    );
    let c = valid(&edit("log_level = \"info\"", "log_level = \"trace\""));
    assert_eq!(c.router.log_level, LogLevel::Trace);
}

// ----- [dataplane] -----

#[test]
fn xdp_mode_is_a_choice() {
    rejects(
        "xdp_mode = \"auto\"",
        "xdp_mode = \"skb\"",
        "xdp_mode",
        "dataplane.xdp_mode",
        "\"skb\" is not one of: auto, native, generic",
    );
    let c = valid(&edit("xdp_mode = \"auto\"", "xdp_mode = \"generic\""));
    assert_eq!(c.dataplane.xdp_mode, XdpMode::Generic);
}

#[test]
fn gso_is_a_choice_and_on_by_default() {
    assert!(valid(&edit("burst = 64", "burst = 64")).dataplane.gso);
    let c = valid(&edit(
        "xdp_mode = \"auto\"",
        "xdp_mode = \"auto\"\ngso = \"off\"",
    ));
    assert!(!c.dataplane.gso);
    rejects(
        "xdp_mode = \"auto\"",
        "xdp_mode = \"auto\"\ngso = \"on\"",
        "gso",
        "dataplane.gso",
        "\"on\" is not one of: auto, off",
    );
}

#[test]
fn fast_path_is_a_choice_and_off_by_default() {
    assert!(!valid(&edit("burst = 64", "burst = 64")).dataplane.fast_path);
    let c = valid(&edit(
        "xdp_mode = \"auto\"",
        "xdp_mode = \"auto\"\nfast_path = \"on\"",
    ));
    assert!(c.dataplane.fast_path);
    rejects(
        "xdp_mode = \"auto\"",
        "xdp_mode = \"auto\"\nfast_path = \"yes\"",
        "fast_path",
        "dataplane.fast_path",
        "\"yes\" is not one of: on, off",
    );
}

#[test]
fn guest_xdp_mode_is_a_choice_left_out_by_default() {
    assert_eq!(
        valid(&edit("burst = 64", "burst = 64"))
            .dataplane
            .guest_xdp_mode,
        None
    );
    let c = valid(&edit(
        "xdp_mode = \"auto\"",
        "xdp_mode = \"auto\"\nguest_xdp_mode = \"generic\"",
    ));
    assert_eq!(c.dataplane.guest_xdp_mode, Some(XdpMode::Generic));
    rejects(
        "xdp_mode = \"auto\"",
        "xdp_mode = \"auto\"\nguest_xdp_mode = \"skb\"",
        "guest_xdp_mode",
        "dataplane.guest_xdp_mode",
        "\"skb\" is not one of: auto, native, generic",
    );
}

#[test]
fn poll_is_a_choice() {
    rejects(
        "poll = \"busy\"",
        "poll = \"spin\"",
        "poll",
        "dataplane.poll",
        "\"spin\" is not one of: busy, adaptive, interrupt",
    );
    let c = valid(&edit("poll = \"busy\"", "poll = \"adaptive\""));
    assert_eq!(c.dataplane.poll, PollMode::Adaptive);
}

#[test]
fn workers_at_least_one() {
    // cpus is not checked against a worker count that is itself wrong.
    rejects(
        "workers = 1",
        "workers = 0",
        "workers",
        "dataplane.workers",
        "0 is out of range: workers must be between 1 and 256",
    );
    rejects(
        "workers = 1",
        "workers = 300",
        "workers",
        "dataplane.workers",
        "300 is out of range: workers must be between 1 and 256",
    );
}

/// Several workers run, each on its CPU; the in-kernel fast path (one writer of its
/// maps) is refused with more than one, by the validation `check-config` and `run` share.
#[test]
fn workers_several_but_not_with_the_fast_path() {
    let text = edit("workers = 1", "workers = 2").replace("cpus = [1]", "cpus = [0, 1]");
    let c = valid(&text);
    assert_eq!(c.dataplane.workers, 2);
    assert_eq!(c.dataplane.cpus, Some(vec![0, 1]));
    let text = text.replace(
        "xdp_mode = \"auto\"",
        "xdp_mode = \"auto\"\nfast_path = \"on\"",
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(
        (p[0].line, p[0].key.as_str()),
        (Some(line_of(&text, "workers")), "dataplane.workers")
    );
    assert!(
        p[0].message.contains("fast path runs with one worker"),
        "{p:#?}"
    );
    // Left out, the default is one worker.
    let c = valid(&edit("workers = 1\n", ""));
    assert_eq!(c.dataplane.workers, 1);
}

#[test]
fn cpus_one_per_worker() {
    rejects(
        "cpus = [1]",
        "cpus = [0, 1]",
        "cpus",
        "dataplane.cpus",
        "2 CPUs listed for 1 worker(s): list exactly one CPU per worker, or leave cpus out",
    );
    let c = valid(&edit("cpus = [1]\n", ""));
    assert_eq!(c.dataplane.cpus, None);
}

#[test]
fn cpus_distinct_and_in_range() {
    rejects(
        "cpus = [1]",
        "cpus = [1, 1]",
        "cpus",
        "dataplane.cpus",
        "CPU 1 is listed twice",
    );
    rejects(
        "cpus = [1]",
        "cpus = [-1]",
        "cpus",
        "dataplane.cpus",
        "-1 is out of range: cpus must be between 0 and 1023",
    );
}

#[test]
fn cpus_on_their_own_lines() {
    let text = edit("cpus = [1]", "cpus = [\n  0,\n  0,\n]");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, Some(line_of(&text, "cpus") + 2));
    assert_eq!(p[0].key, "dataplane.cpus");
}

#[test]
fn frame_size_2048_or_4096() {
    rejects(
        "frame_size = 4096",
        "frame_size = 3000",
        "frame_size",
        "dataplane.frame_size",
        "3000 is not a valid UMEM frame size: use 2048 or 4096",
    );
    let c = valid(&edit("frame_size = 4096", "frame_size = 2048"));
    assert_eq!(c.dataplane.frame_size, 2048);
}

#[test]
fn frames_power_of_two() {
    for bad in ["4000", "32", "524288", "0", "-4096"] {
        rejects(
            "frames = 4096",
            &format!("frames = {bad}"),
            "frames",
            "dataplane.frames",
            &format!("{bad} is not valid: frames must be a power of two between 64 and 262144"),
        );
    }
}

#[test]
fn burst_in_range_and_fits_umem() {
    rejects(
        "burst = 64",
        "burst = 0",
        "burst = 0",
        "dataplane.burst",
        "0 is out of range: burst must be between 1 and 1024",
    );
    let text = edit("frames = 4096", "frames = 64").replace("burst = 64", "burst = 128");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, Some(line_of(&text, "burst = 128")));
    assert_eq!(p[0].key, "dataplane.burst");
    assert_eq!(
        p[0].message,
        "burst 128 is larger than the UMEM (64 frames per worker)"
    );
}

// ----- [icmp] -----

#[test]
fn icmp_rate_in_range() {
    rejects(
        "rate_per_sec = 100",
        "rate_per_sec = -5",
        "rate_per_sec",
        "icmp.rate_per_sec",
        "-5 is out of range: rate_per_sec must be between 0 and 1000000",
    );
}

#[test]
fn icmp_burst_zero_needs_rate_zero() {
    rejects(
        "burst = 50",
        "burst = 0",
        "burst = 0",
        "icmp.burst",
        "a burst of 0 sends no ICMP errors at all: use at least 1, or set rate_per_sec = 0 to turn ICMP errors off",
    );
    let c =
        valid(&edit("burst = 50", "burst = 0").replace("rate_per_sec = 100", "rate_per_sec = 0"));
    assert_eq!((c.icmp.rate_per_sec, c.icmp.burst), (0, 0));
    let rc = c.router_config();
    assert_eq!((rc.icmp_rate_per_sec, rc.icmp_burst), (0, 0));
}

// ----- syntax and types -----

#[test]
fn unknown_top_level_key() {
    rejects(
        "[icmp]",
        "[icmpv4]",
        "[icmpv4]",
        "icmpv4",
        "unknown key `icmpv4`; valid keys here: router, dataplane, icmp, announce, networks, guests",
    );
}

#[test]
fn unknown_key_in_section() {
    rejects(
        "burst = 64",
        "bursts = 64",
        "bursts",
        "dataplane.bursts",
        "unknown key `bursts`; valid keys here: xdp_mode, workers, poll, cpus, burst, frame_size, frames, gso, fast_path, guest_xdp_mode",
    );
}

#[test]
fn wrong_type() {
    rejects(
        "workers = 1",
        "workers = \"2\"",
        "workers",
        "dataplane.workers",
        "wrong type: expected an integer, found string \"2\"",
    );
    rejects(
        "cpus = [1]",
        "cpus = 1",
        "cpus",
        "dataplane.cpus",
        "wrong type: expected an array, found integer `1`",
    );
}

#[test]
fn section_defined_twice() {
    let text = format!("{BASE}\n[icmp]\nburst = 5\n");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, Some(text.lines().count() - 1));
    assert_eq!(p[0].key, "icmp");
    assert_eq!(p[0].message, "`icmp` is defined twice");
}

#[test]
fn syntax_error_line() {
    let text = edit("gateway = \"192.0.2.1\"", "gateway = \"192.0.2.1");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, Some(line_of(&text, "gateway")));
    assert_eq!(p[0].key, "networks.public_90.gateway");
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let text = edit("workers = 1", "workers = 0")
        .replace("log_level = \"info\"", "log_level = \"loud\"")
        .replace("gateway = \"192.0.2.1\"", "gateway = \"10.0.0.1\"");
    let p = problems(&text);
    let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "router.log_level",
            "dataplane.workers",
            "networks.public_90.gateway"
        ]
    );
    let lines: Vec<_> = p.iter().map(|p| p.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

// ----- [announce] -----

#[test]
fn announce_count_and_interval_in_range() {
    rejects(
        "count = 3",
        "count = 11",
        "count = 11",
        "announce.count",
        "11 is out of range: count must be between 0 and 10",
    );
    rejects(
        "interval_ms = 1000",
        "interval_ms = 5",
        "interval_ms = 5",
        "announce.interval_ms",
        "5 is out of range: interval_ms must be between 10 and 60000",
    );
    let c =
        valid(&edit("count = 3", "count = 0").replace("interval_ms = 1000", "interval_ms = 250"));
    assert_eq!((c.announce.count, c.announce.interval_ms), (0, 250));
    let rc = c.router_config();
    assert_eq!(rc.announce.count, 0);
    assert_eq!(rc.announce.interval, std::time::Duration::from_millis(250));
}
