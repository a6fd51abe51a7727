//! Network namespaces made by a test and deleted when it ends, also on panic; the veth
//! pairs between them; reading a device's MAC and counters. Devices inside a namespace go
//! with it (a tap goes when its fd holder exits).

use std::process::Command;

use crate::cmd::{ns_exec, run};

/// A name unique to this process: `hvr-<what>-<pid>-<tag>`.
pub fn unique(what: &str, tag: &str) -> String {
    format!("hvr-{what}-{}-{tag}", std::process::id())
}

/// Namespaces `ip netns del`eted on drop, in reverse order of creation.
#[derive(Debug, Default)]
pub struct Namespaces {
    names: Vec<String>,
}

impl Namespaces {
    /// Creates each namespace with [`Namespaces::add`].
    pub fn new(names: &[&str]) -> Namespaces {
        let mut ns = Namespaces::default();
        for name in names {
            ns.add(name);
        }
        ns
    }

    /// Creates namespace `name` with `lo` up and IPv6 off (no router solicitations or
    /// MLD in captures), owned by this guard from the moment it exists.
    pub fn add(&mut self, name: &str) {
        self.add_with_ipv6(name, false);
    }

    /// Creates namespace `name` with `lo` up, IPv6 on or off.
    pub fn add_with_ipv6(&mut self, name: &str, ipv6: bool) {
        run(&["ip", "netns", "add", name]);
        self.names.push(name.to_owned());
        if !ipv6 {
            for key in ["all", "default"] {
                let kv = format!("net.ipv6.conf.{key}.disable_ipv6=1");
                ns_exec(name, &["sysctl", "-qw", &kv]);
            }
        }
        run(&["ip", "-n", name, "link", "set", "lo", "up"]);
    }

    /// The namespaces, in creation order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.names.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// A veth pair: `a` in namespace `ns_a`, `b` in `ns_b`, both up, with `mtu` if given.
pub fn veth(ns_a: &str, a: &str, ns_b: &str, b: &str, mtu: Option<u32>) {
    let mtu = mtu.map(|m| m.to_string());
    let mut args = vec!["ip", "-n", ns_a, "link", "add", a];
    if let Some(m) = &mtu {
        args.extend(["mtu", m]);
    }
    args.extend(["type", "veth", "peer", "name", b]);
    if let Some(m) = &mtu {
        args.extend(["mtu", m]);
    }
    args.extend(["netns", ns_b]);
    run(&args);
    run(&["ip", "-n", ns_a, "link", "set", a, "up"]);
    run(&["ip", "-n", ns_b, "link", "set", b, "up"]);
}

/// Adds `addr` (with its prefix length) to `dev` in namespace `ns`.
pub fn addr(ns: &str, dev: &str, addr: &str) {
    run(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
}

/// A file of namespace `ns`'s sysfs or procfs, trimmed (empty if unreadable).
pub fn read(ns: &str, path: &str) -> String {
    let out = ns_exec(ns, &["cat", path]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The MAC address of `dev` in namespace `ns`.
pub fn mac(ns: &str, dev: &str) -> [u8; 6] {
    crate::frames::parse_mac(&read(ns, &format!("/sys/class/net/{dev}/address")))
}

/// A packet counter of `dev` in namespace `ns` (`rx_packets`, `tx_packets`, ...).
pub fn counter(ns: &str, dev: &str, name: &str) -> u64 {
    read(ns, &format!("/sys/class/net/{dev}/statistics/{name}"))
        .parse()
        .unwrap_or_else(|_| panic!("{ns}: {dev}: no counter {name}"))
}
