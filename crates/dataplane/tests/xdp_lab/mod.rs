//! The namespace lab of the AF_XDP port tests: a VLAN gateway, the hypervisor (router)
//! namespace and one guest, joined by veth pairs, built from the workspace's namespace
//! harness (`hvrouter-netlab`), which also gives the command helpers and the worker
//! thread guard. Everything is deleted or stopped on drop, also when a test panics.
//! Addresses: 192.0.2.0/24 only.

#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::sync::Mutex;

pub use hvrouter_netlab::{is_root, ns_exec, ping, received, run, Worker};
use hvrouter_netlab::{ns, Namespaces};
use wire::EthernetAddress;

/// Privileged tests run one at a time: two busy workers on two vCPUs skew timing.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// The namespaces and veth names of one test; deleted on drop, also on panic.
pub struct Lab {
    pub gw: String,
    pub hv: String,
    pub g1: String,
    pub uplink: String,
    pub gw_if: String,
    pub guest_port: String,
    pub guest_if: String,
    namespaces: Namespaces,
}

impl Lab {
    pub fn new(tag: char) -> Lab {
        let pid = std::process::id();
        // The guard exists before anything is created: a failed step still cleans up.
        let mut lab = Lab {
            gw: format!("hvr-gw-{pid}{tag}"),
            hv: format!("hvr-hv-{pid}{tag}"),
            g1: format!("hvr-g1-{pid}{tag}"),
            uplink: format!("hvru{pid}{tag}"),
            gw_if: format!("hvrw{pid}{tag}"),
            guest_port: format!("hvrt{pid}{tag}"),
            guest_if: format!("hvrg{pid}{tag}"),
            namespaces: Namespaces::default(),
        };
        for name in [lab.gw.clone(), lab.hv.clone(), lab.g1.clone()] {
            lab.namespaces.add(&name);
        }
        ns::veth(&lab.hv, &lab.uplink, &lab.gw, &lab.gw_if, Some(9000));
        ns::veth(&lab.hv, &lab.guest_port, &lab.g1, &lab.guest_if, Some(9000));
        ns::addr(&lab.gw, &lab.gw_if, "192.0.2.1/24");
        ns::addr(&lab.g1, &lab.guest_if, "192.0.2.10/24");
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

    /// The MAC of `ifname` in namespace `ns`.
    pub fn mac(ns: &str, ifname: &str) -> EthernetAddress {
        EthernetAddress(ns::mac(ns, ifname))
    }

    /// (tx, rx) packet counters of the gateway's veth.
    pub fn gw_link_packets(&self) -> (u64, u64) {
        (
            ns::counter(&self.gw, &self.gw_if, "tx_packets"),
            ns::counter(&self.gw, &self.gw_if, "rx_packets"),
        )
    }

    /// Whether any device in the router namespace still carries an XDP program.
    pub fn xdp_left(&self) -> Option<String> {
        let out = run(&["ip", "-n", &self.hv, "-d", "link", "show"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("xdp").then_some(text)
    }
}
