//! Helpers for the privileged tests: root check, a namespace lab that always cleans up,
//! and frame builders. Only documentation prefixes are used (RFC 5737).
#![allow(dead_code)]

use std::process::{Command, Output};

/// True when running as root (uid 0), read from /proc so no unsafe is needed.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Prints why a test is skipped; returns true when it should skip.
pub fn skip_unless_root(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIP {test}: needs root (AF_XDP, bpf(2), network namespaces)");
        return true;
    }
    false
}

/// Whether `tool --help`-style invocation works.
pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("-V").output().is_ok()
}

/// Runs a command, panicking with its output on failure.
pub fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
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

/// Runs a command in namespace `ns`, returning its output whatever the status.
pub fn ns_exec(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {args:?} in {ns}: {e}"))
}

/// Two namespaces joined by a veth pair: `router` holds `router_if`, `peer` holds
/// `peer_if` with 192.0.2.2/24. Deleted on drop, also when the test panics.
pub struct Lab {
    pub router: String,
    pub peer: String,
    pub router_if: String,
    pub peer_if: String,
    /// Extra namespaces to delete on drop (see [`Lab::add_peer`]).
    pub extra: Vec<String>,
}

impl Lab {
    /// `tag` keeps names unique between tests of one process (one char).
    pub fn new(tag: char) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            router: format!("hvr-sys-{pid}-{tag}r"),
            peer: format!("hvr-sys-{pid}-{tag}p"),
            // hvrs + pid (<= 7 digits) + tag + a/b <= 15 chars
            router_if: format!("hvrs{pid}{tag}a"),
            peer_if: format!("hvrs{pid}{tag}b"),
            extra: Vec::new(),
        };
        run(&["ip", "netns", "add", &lab.router]);
        run(&["ip", "netns", "add", &lab.peer]);
        run(&[
            "ip",
            "-n",
            &lab.router,
            "link",
            "add",
            &lab.router_if,
            "type",
            "veth",
            "peer",
            "name",
            &lab.peer_if,
            "netns",
            &lab.peer,
        ]);
        for (ns, ifname) in [(&lab.router, &lab.router_if), (&lab.peer, &lab.peer_if)] {
            // No IPv6 chatter (router solicitations, MLD) in the captures.
            ns_exec(ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
            ns_exec(
                ns,
                &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
            );
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", ifname, "up"]);
        }
        run(&[
            "ip",
            "-n",
            &lab.peer,
            "addr",
            "add",
            "192.0.2.2/24",
            "dev",
            &lab.peer_if,
        ]);
        lab
    }

    /// Adds a namespace `hvr-sys-<pid>-<tag>q` joined to the router namespace by a
    /// second veth pair (`hvrs<pid><tag>c` in the router, `hvrs<pid><tag>d` with `addr`).
    /// Returns (namespace, router-side interface, peer-side interface).
    pub fn add_peer(&mut self, tag: char, addr: &str) -> (String, String, String) {
        let pid = std::process::id();
        let ns = format!("hvr-sys-{pid}-{tag}q");
        let (rif, pif) = (format!("hvrs{pid}{tag}c"), format!("hvrs{pid}{tag}d"));
        run(&["ip", "netns", "add", &ns]);
        self.extra.push(ns.clone());
        run(&[
            "ip",
            "-n",
            &self.router,
            "link",
            "add",
            &rif,
            "type",
            "veth",
            "peer",
            "name",
            &pif,
            "netns",
            &ns,
        ]);
        ns_exec(&ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns_exec(
            &ns,
            &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
        );
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        run(&["ip", "-n", &ns, "link", "set", &pif, "up"]);
        run(&["ip", "-n", &self.router, "link", "set", &rif, "up"]);
        run(&["ip", "-n", &ns, "addr", "add", addr, "dev", &pif]);
        (ns, rif, pif)
    }

    /// `ip -d link show` of the router end.
    pub fn router_link_details(&self) -> String {
        let out = ns_exec(
            &self.router,
            &["ip", "-d", "link", "show", "dev", &self.router_if],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// MAC address of the router end.
    pub fn router_mac(&self) -> [u8; 6] {
        let path = format!("/sys/class/net/{}/address", self.router_if);
        let out = ns_exec(&self.router, &["cat", &path]);
        parse_mac(String::from_utf8_lossy(&out.stdout).trim())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting the namespaces deletes the veth pair too.
        for ns in [&self.router, &self.peer].into_iter().chain(&self.extra) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

pub fn parse_mac(s: &str) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for (m, part) in mac.iter_mut().zip(s.split(':')) {
        *m = u8::from_str_radix(part, 16).unwrap_or_else(|_| panic!("bad MAC {s:?}"));
    }
    mac
}

/// An Ethernet + ARP (IPv4 over Ethernet) frame.
pub fn arp_frame(
    op: u16,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
    dst: [u8; 6],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f
}

/// An Ethernet + IPv4 + ICMP echo request frame with `payload_len` bytes of payload.
pub fn icmp_echo_frame(src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = 20 + 8 + payload_len;
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        1,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend((0..payload_len).map(|i| i as u8));
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&icmp);
    f
}

/// RFC 1071 Internet checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        sum += u32::from(w);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
