//! Network namespaces made by a test and deleted when it ends, also on panic. Devices
//! inside them go with them (a tap goes when its fd holder exits).
#![allow(dead_code)]

use std::process::Command;

/// Namespaces `ip netns del`eted on drop.
pub struct Namespaces {
    names: Vec<String>,
}

impl Namespaces {
    /// Creates each namespace (with `lo` up and IPv6 off, so captures stay quiet).
    pub fn new(names: &[&str]) -> Namespaces {
        let mut ns = Namespaces { names: Vec::new() };
        for name in names {
            super::common::run(&["ip", "netns", "add", name]);
            ns.names.push((*name).to_owned());
            super::common::run(&["ip", "-n", name, "link", "set", "lo", "up"]);
            super::common::ns_exec(name, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
            super::common::ns_exec(
                name,
                &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
            );
        }
        ns
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// Prints the skip line and returns true unless running as root.
pub fn skip_unless_root(test: &str) -> bool {
    if !super::common::is_root() {
        eprintln!("SKIP {test}: needs root (network namespaces, taps, rtnetlink)");
        return true;
    }
    false
}
