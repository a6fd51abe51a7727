//! The privileged tests' lab: two namespaces joined by a veth pair, built from the
//! workspace's namespace harness (`hvrouter-netlab`), which also gives the command
//! helpers and test frames. Only documentation prefixes are used (RFC 5737).
#![allow(dead_code, unused_imports)]

pub use hvrouter_netlab::frames::{arp_frame, checksum, icmp_echo_frame, parse_mac};
use hvrouter_netlab::ns;
pub use hvrouter_netlab::{have, is_root, ns_exec, run, skip_unless_root, Namespaces};

/// Two namespaces joined by a veth pair: `router` holds `router_if`, `peer` holds
/// `peer_if` with 192.0.2.2/24. Deleted on drop, also when the test panics.
pub struct Lab {
    pub router: String,
    pub peer: String,
    pub router_if: String,
    pub peer_if: String,
    namespaces: Namespaces,
}

impl Lab {
    /// `tag` keeps names unique between tests of one process (one char).
    pub fn new(tag: char) -> Lab {
        let pid = std::process::id();
        let mut lab = Lab {
            router: ns::unique("sys", &format!("{tag}r")),
            peer: ns::unique("sys", &format!("{tag}p")),
            // hvrs + pid (<= 7 digits) + tag + a/b <= 15 chars
            router_if: format!("hvrs{pid}{tag}a"),
            peer_if: format!("hvrs{pid}{tag}b"),
            namespaces: Namespaces::default(),
        };
        lab.namespaces.add(&lab.router);
        lab.namespaces.add(&lab.peer);
        ns::veth(&lab.router, &lab.router_if, &lab.peer, &lab.peer_if, None);
        ns::addr(&lab.peer, &lab.peer_if, "192.0.2.2/24");
        lab
    }

    /// Adds a namespace `hvr-sys-<pid>-<tag>q` joined to the router namespace by a
    /// second veth pair (`hvrs<pid><tag>c` in the router, `hvrs<pid><tag>d` with `addr`).
    /// Returns (namespace, router-side interface, peer-side interface).
    pub fn add_peer(&mut self, tag: char, addr: &str) -> (String, String, String) {
        let pid = std::process::id();
        let peer = ns::unique("sys", &format!("{tag}q"));
        let (rif, pif) = (format!("hvrs{pid}{tag}c"), format!("hvrs{pid}{tag}d"));
        self.namespaces.add(&peer);
        ns::veth(&self.router, &rif, &peer, &pif, None);
        ns::addr(&peer, &pif, addr);
        (peer, rif, pif)
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
        ns::mac(&self.router, &self.router_if)
    }
}
