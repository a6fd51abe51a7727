//! Running commands for a test: root and tool checks, commands that must succeed,
//! commands inside a namespace, waiting for an effect that crosses processes, and ping.

use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// True when running as root (uid 0), read from /proc so no unsafe is needed.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("Uid:"))?;
            l.split_whitespace().nth(2).map(|e| e == "0")
        })
        .unwrap_or(false)
}

/// Prints why `test` is skipped and returns true unless running as root.
pub fn skip_unless_root(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIP {test}: needs root (network namespaces, AF_XDP, bpf(2))");
        return true;
    }
    false
}

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command, failing the test with its output if it cannot start or fails.
pub fn run(args: &[&str]) -> Output {
    let Some((program, rest)) = args.split_first() else {
        panic!("run: no command");
    };
    let out = Command::new(program)
        .args(rest)
        .output()
        .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command in namespace `ns`, returning its output whatever its status.
pub fn ns_exec(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {args:?} in {ns}: {e}"))
}

/// The command's stdout; fails the test with its exit status and output if it failed.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wait until `f` holds, checking every 50 ms and once more at the deadline (effects
/// that cross processes); false if it never did within `within`.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Three pings 0.2 s apart from namespace `ns` to `dst`: (success, ping's output).
pub fn ping(ns: &str, dst: Ipv4Addr, extra: &[&str]) -> (bool, String) {
    let dst = dst.to_string();
    let mut args = vec!["ping", "-c", "3", "-i", "0.2", "-W", "2"];
    args.extend_from_slice(extra);
    args.push(&dst);
    let out = ns_exec(ns, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

/// Replies received, from ping's summary ("N packets transmitted, M received, ...").
pub fn received(ping_out: &str) -> u64 {
    ping_out
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(" packets transmitted, ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_reads_the_summary_line() {
        let out = "PING 192.0.2.1\n\n--- 192.0.2.1 ping statistics ---\n\
                   3 packets transmitted, 2 received, 33% packet loss, time 402ms\n";
        assert_eq!(received(out), 2);
        assert_eq!(received("no summary"), 0);
    }

    #[test]
    fn eventually_stops_at_the_first_success_and_fails_after_the_deadline() {
        let mut calls = 0;
        assert!(eventually(Duration::from_secs(5), || {
            calls += 1;
            calls == 3
        }));
        assert_eq!(calls, 3);
        assert!(!eventually(Duration::from_millis(120), || false));
    }

    #[test]
    fn ok_returns_stdout_of_a_success() {
        assert_eq!(ok(run(&["echo", "hi"])), "hi\n");
        assert!(have("sh"));
        assert!(!have("hvr-no-such-tool"));
    }
}
