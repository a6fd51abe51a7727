//! Bridged NICs under `kvm-vif-bridge`, for real: in a network namespace `hvr-gb<pid>`,
//! Ganeti v3.1.1's own `kvm-ifup` execs our `kvm-vif-bridge`, which sources Ganeti's own
//! `net-common` and runs `setup_bridge`; the tap must end up as Ganeti leaves it (MAC
//! with first octet fe, up, the bridge's MTU, enslaved; on a VLAN-aware bridge, its VLAN
//! as PVID untagged). Needs root and a Ganeti repository; skips with a message otherwise.

use std::process::{Command, Output};

use super::ganeti_env::{self, Ganeti};
use super::node::{code, stderr, Node};
use super::{ganeti_src, up_env};

/// A network namespace, deleted on drop (even when the test fails).
struct Netns(String);

impl Netns {
    fn new(name: String) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            stderr(&out)
        );
        Netns(name)
    }

    /// `ip -n NS ARGS...`, which must succeed; its stdout.
    fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.0])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "ip {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn bridged_tap_is_enslaved_as_ganeti_does_it() {
    if !root() {
        eprintln!(
            "SKIP bridged_tap_is_enslaved_as_ganeti_does_it: needs root (network namespaces)"
        );
        return;
    }
    let node = Node::without_router();
    let ganeti = match ganeti_src::install(&node.dir, ganeti_src::RELEASED, &["kvm-ifup"]) {
        Ok(g) => g,
        Err(why) => {
            eprintln!("SKIP bridged_tap_is_enslaved_as_ganeti_does_it: {why}");
            return;
        }
    };
    ganeti.link_hook("kvm-vif-bridge", "kvm-vif-bridge");
    let ns = Netns::new(format!("hvr-gb{}", std::process::id() % 100_000));
    ns.ip(&["link", "add", "hvrbr0", "type", "bridge"]);
    ns.ip(&["link", "set", "hvrbr0", "mtu", "1400", "up"]);
    for tap in ["hvrt0", "hvrt1"] {
        ns.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
    }
    let run = |env: Vec<(String, String)>| -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.0])
            .arg(ganeti.pkglib.join("kvm-ifup"))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("GANETI_ROOTDIR", &ganeti.root)
            .env(
                "HVROUTER_GANETI_NET_COMMON",
                ganeti.pkglib.join("net-common"),
            )
            .env("HVROUTER_SYSLOG", "");
        for (k, v) in env.into_iter().filter(|(k, _)| k != "PATH") {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };

    let out = run(up_env(
        Ganeti::Released,
        &ganeti_env::bridged("hvrbr0", Some("")),
        "hvrt0",
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let link = ns.ip(&["-o", "link", "show", "hvrt0"]);
    assert!(link.contains("master hvrbr0"), "enslaved: {link}");
    assert!(link.contains("mtu 1400"), "the bridge's MTU: {link}");
    assert!(link.contains(",UP") || link.contains("<UP"), "up: {link}");
    assert!(link.contains("link/ether fe:"), "fix_mac: {link}");

    // A VLAN-aware bridge, where this kernel has bridge VLAN filtering.
    let vlan_aware = Command::new("ip")
        .args([
            "-n",
            &ns.0,
            "link",
            "add",
            "hvrbr1",
            "type",
            "bridge",
            "vlan_filtering",
            "1",
        ])
        .output()
        .unwrap();
    if !vlan_aware.status.success() {
        eprintln!(
            "note: no bridge VLAN filtering in this kernel ({}): VLAN case not run",
            stderr(&vlan_aware).trim()
        );
        return;
    }
    ns.ip(&["link", "set", "hvrbr1", "up"]);
    let out = run(up_env(
        Ganeti::Released,
        &ganeti_env::bridged("hvrbr1", Some(".100")),
        "hvrt1",
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let link = ns.ip(&["-o", "link", "show", "hvrt1"]);
    assert!(link.contains("master hvrbr1"), "{link}");
    let vlans = Command::new("bridge")
        .args(["-n", &ns.0, "vlan", "show", "dev", "hvrt1"])
        .output()
        .unwrap();
    let vlans = String::from_utf8_lossy(&vlans.stdout);
    assert!(
        vlans.contains("100 PVID Egress Untagged") || vlans.contains("100 PVID untagged"),
        "access VLAN 100: {vlans}"
    );
}
