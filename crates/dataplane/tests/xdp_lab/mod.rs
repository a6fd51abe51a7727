//! The namespace lab of the AF_XDP port tests: a VLAN gateway, the hypervisor (router)
//! namespace and one guest, joined by veth pairs; plus command helpers and a worker
//! thread guard. Everything is deleted or stopped on drop, also when a test panics.
//! Addresses: 192.0.2.0/24 only.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use wire::EthernetAddress;

/// Privileged tests run one at a time: two busy workers on two vCPUs skew timing.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// True when running as root (uid 0), read from /proc.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("Uid:"))?;
            l.split_whitespace().nth(2).map(|e| e == "0")
        })
        .unwrap_or(false)
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

/// Three pings 0.2 s apart from `ns` to `dst`: (success, output).
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

/// The namespaces and veth names of one test; deleted on drop, also on panic.
pub struct Lab {
    pub gw: String,
    pub hv: String,
    pub g1: String,
    pub uplink: String,
    pub gw_if: String,
    pub guest_port: String,
    pub guest_if: String,
}

impl Lab {
    pub fn new(tag: char) -> Lab {
        let pid = std::process::id();
        // The guard exists before anything is created: a failed step still cleans up.
        let lab = Lab {
            gw: format!("hvr-gw-{pid}{tag}"),
            hv: format!("hvr-hv-{pid}{tag}"),
            g1: format!("hvr-g1-{pid}{tag}"),
            uplink: format!("hvru{pid}{tag}"),
            gw_if: format!("hvrw{pid}{tag}"),
            guest_port: format!("hvrt{pid}{tag}"),
            guest_if: format!("hvrg{pid}{tag}"),
        };
        for ns in [&lab.gw, &lab.hv, &lab.g1] {
            run(&["ip", "netns", "add", ns]);
            // No IPv6 chatter (router solicitations, MLD) on the links.
            for key in ["all", "default"] {
                let kv = format!("net.ipv6.conf.{key}.disable_ipv6=1");
                ns_exec(ns, &["sysctl", "-qw", &kv]);
            }
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        for (a, b, peer_ns) in [
            (&lab.uplink, &lab.gw_if, &lab.gw),
            (&lab.guest_port, &lab.guest_if, &lab.g1),
        ] {
            run(&[
                "ip", "-n", &lab.hv, "link", "add", a, "mtu", "9000", "type", "veth", "peer",
                "name", b, "mtu", "9000", "netns", peer_ns,
            ]);
            run(&["ip", "-n", &lab.hv, "link", "set", a, "up"]);
            run(&["ip", "-n", peer_ns, "link", "set", b, "up"]);
        }
        run(&[
            "ip",
            "-n",
            &lab.gw,
            "addr",
            "add",
            "192.0.2.1/24",
            "dev",
            &lab.gw_if,
        ]);
        run(&[
            "ip",
            "-n",
            &lab.g1,
            "addr",
            "add",
            "192.0.2.10/24",
            "dev",
            &lab.guest_if,
        ]);
        run(&[
            "ip",
            "-n",
            &lab.g1,
            "route",
            "add",
            "default",
            "via",
            "192.0.2.1",
        ]);
        lab
    }

    /// The MAC of `ifname` in namespace `ns` (`ip -br link`: name, state, MAC, flags).
    pub fn mac(ns: &str, ifname: &str) -> EthernetAddress {
        let out = run(&["ip", "-n", ns, "-br", "link", "show", "dev", ifname]);
        let text = String::from_utf8_lossy(&out.stdout);
        let field = text.split_whitespace().nth(2).unwrap();
        let mut mac = [0u8; 6];
        for (b, hex) in mac.iter_mut().zip(field.split(':')) {
            *b = u8::from_str_radix(hex, 16).unwrap();
        }
        EthernetAddress(mac)
    }

    /// (tx, rx) packet counters of the gateway's veth.
    pub fn gw_link_packets(&self) -> (u64, u64) {
        let read = |what: &str| -> u64 {
            let path = format!("/sys/class/net/{}/statistics/{what}_packets", self.gw_if);
            let out = run(&["ip", "netns", "exec", &self.gw, "cat", &path]);
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        (read("tx"), read("rx"))
    }

    /// Whether any device in the router namespace still carries an XDP program.
    pub fn xdp_left(&self) -> Option<String> {
        let out = run(&["ip", "-n", &self.hv, "-d", "link", "show"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("xdp").then_some(text)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.gw, &self.hv, &self.g1] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A thread running until its stop flag is set; dropping it stops and joins it.
pub struct Worker<T> {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<T>>,
}

impl<T: Send + 'static> Worker<T> {
    pub fn spawn(f: impl FnOnce(Arc<AtomicBool>) -> T + Send + 'static) -> Worker<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        Worker {
            stop,
            handle: Some(thread::spawn(move || f(flag))),
        }
    }

    pub fn stop_and_join(&mut self) -> T {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.handle.take().expect("joined once");
        handle.join().expect("worker thread panicked")
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
