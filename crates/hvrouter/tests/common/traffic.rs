//! Streams that measure an interruption on real packets, inside the namespaces: a TCP
//! echo stream timed per echo (common/tcp_echo.py) and a fast ping counted by icmp_seq.
//! Both are killed by pid if a test fails before it reads them.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use super::root;
use super::site::Site;

fn python(site: &Site, n: &str, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &site.ns(n), "/usr/bin/python3"])
        .arg(root().join("crates/hvrouter/tests/common/tcp_echo.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn read_ready(child: &mut Child, what: &str) -> BufReader<ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    if line.trim() != "ready" {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("{what} did not start: {line}{err}");
    }
    out
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A TCP connection from a client namespace to an echo server, 1000 bytes each way
/// every 10 ms, every echo timed by the client (see tcp_echo.py).
pub struct EchoStream {
    server: Child,
    client: Child,
    client_in: Option<ChildStdin>,
    client_out: Option<BufReader<ChildStdout>>,
}

/// What the client of an [`EchoStream`] measured.
#[derive(Debug)]
pub struct EchoReport {
    pub sent: u64,
    pub echoed: u64,
    /// Bytes echoed after the last mark.
    pub after_mark: u64,
    /// The longest interval without an echo, including the one up to the stop.
    pub longest_gap_ms: u64,
    /// When it started, from the first echo.
    pub gap_at_ms: u64,
    /// The connection's error (a reset, a timeout), if any.
    pub error: Option<String>,
    /// Marks by name, from the first echo.
    pub marks: Vec<(String, u64)>,
    /// Every interval over 100 ms without an echo: (start, length).
    pub gaps: Vec<(u64, u64)>,
    pub text: String,
}

impl EchoStream {
    /// Start the server in `server_ns` on `port` and connect from `client_ns` to
    /// `ip:port`; returns once the first echo came back.
    pub fn start(site: &Site, server_ns: &str, client_ns: &str, ip: &str, port: u16) -> Self {
        let port = port.to_string();
        let mut server = python(site, server_ns, &["server", &port]);
        let server_out = read_ready(&mut server, "echo server");
        drop(server_out);
        let mut client = python(site, client_ns, &["client", ip, &port]);
        let client_in = client.stdin.take();
        let client_out = Some(read_ready(&mut client, "echo client"));
        EchoStream {
            server,
            client,
            client_in,
            client_out,
        }
    }

    /// Note the time (and the bytes echoed so far) under `name`.
    pub fn mark(&mut self, name: &str) {
        let stdin = self.client_in.as_mut().unwrap();
        writeln!(stdin, "mark {name}").unwrap();
        stdin.flush().unwrap();
    }

    /// Stop sending, wait for the echoes in flight, read the client's figures.
    pub fn finish(mut self) -> EchoReport {
        drop(self.client_in.take());
        let mut text = String::new();
        self.client_out
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let _ = self.client.wait();
        let mut r = EchoReport {
            sent: 0,
            echoed: 0,
            after_mark: 0,
            longest_gap_ms: 0,
            gap_at_ms: 0,
            error: None,
            marks: vec![],
            gaps: vec![],
            text: text.clone(),
        };
        let mut summary = false;
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| w.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            match w.first() {
                Some(&"sent") if w.len() == 12 => {
                    summary = true;
                    (r.sent, r.echoed, r.after_mark) = (num(1), num(3), num(5));
                    (r.longest_gap_ms, r.gap_at_ms) = (num(7), num(9));
                    r.error = (w[11] != "-").then(|| w[11].to_string());
                }
                Some(&"mark") => r.marks.push((w[1].to_string(), num(2))),
                Some(&"gap") => r.gaps.push((num(1), num(2))),
                _ => {}
            }
        }
        assert!(summary, "echo client printed no summary: {text}");
        r
    }
}

impl Drop for EchoStream {
    fn drop(&mut self) {
        stop(&mut self.client);
        stop(&mut self.server);
    }
}

/// `ping -i INTERVAL -c COUNT` from one namespace, counted by icmp_seq.
pub struct PingStream {
    child: Option<Child>,
    pub interval_ms: u64,
}

/// What a [`PingStream`] saw.
#[derive(Debug)]
pub struct PingReport {
    pub transmitted: u64,
    pub received: u64,
    /// Sequence numbers without a reply.
    pub lost: Vec<u64>,
    /// The longest run of consecutive lost sequence numbers.
    pub longest_run: u64,
    pub interval_ms: u64,
}

impl PingReport {
    /// The time without replies: lost requests × interval.
    pub fn loss_ms(&self) -> u64 {
        self.lost.len() as u64 * self.interval_ms
    }
}

impl PingStream {
    /// Start `count` pings `interval_ms` apart from `from` to `ip` (each waits 1 s).
    pub fn start(site: &Site, from: &str, ip: &str, interval_ms: u64, count: u32) -> Self {
        let interval = format!("{}.{:03}", interval_ms / 1000, interval_ms % 1000);
        let child = Command::new("ip")
            .args(["netns", "exec", &site.ns(from), "ping", "-n", "-W", "1"])
            .args(["-i", &interval, "-c", &count.to_string(), ip])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        PingStream {
            child: Some(child),
            interval_ms,
        }
    }

    /// Wait for the last reply (or its timeout) and count.
    pub fn finish(mut self) -> PingReport {
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut seen = std::collections::BTreeSet::new();
        let mut transmitted = 0;
        for line in text.lines() {
            if line.contains(" bytes from ") && !line.contains("DUP!") {
                let seq = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("icmp_seq="))
                    .and_then(|v| v.parse::<u64>().ok());
                seen.extend(seq);
            }
            if let Some((n, _)) = line.split_once(" packets transmitted") {
                transmitted = n.trim().parse().unwrap_or(0);
            }
        }
        assert!(transmitted > 0, "ping printed no summary: {text}");
        let lost: Vec<u64> = (1..=transmitted).filter(|s| !seen.contains(s)).collect();
        let (mut longest_run, mut run, mut prev) = (0, 0, 0);
        for &s in &lost {
            run = if s == prev + 1 { run + 1 } else { 1 };
            longest_run = longest_run.max(run);
            prev = s;
        }
        PingReport {
            transmitted,
            received: seen.len() as u64,
            lost,
            longest_run,
            interval_ms: self.interval_ms,
        }
    }
}

impl Drop for PingStream {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop(&mut c);
        }
    }
}
