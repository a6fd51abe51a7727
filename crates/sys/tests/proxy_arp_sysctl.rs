//! `sysctl::set_proxy_arp` in a test namespace: `ip netns exec ... sysctl` turns kernel
//! proxy ARP on for a veth, a thread inside the namespace turns it off (as the router
//! does at start: the kernel fails closed), and both views read it back.
//! Needs root; skips otherwise. Run:
//! `cargo test -p hvrouter-sys --test proxy_arp_sysctl -- --nocapture`.

mod common;

use common::{ns_exec, run};
use common::{skip_unless_root, Namespaces};
use hvrouter_sys::{netns, sysctl};
use std::thread;

fn ns_sysctl(ns: &str, key: &str) -> String {
    let out = ns_exec(ns, &["sysctl", "-n", key]);
    assert!(out.status.success(), "sysctl {key}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn proxy_arp_off_from_inside_the_namespace() {
    if skip_unless_root("proxy_arp_off_from_inside_the_namespace") {
        return;
    }
    let pid = std::process::id();
    let ns = format!("hvr-sysctl-{pid}");
    let (a, b) = (format!("hvrp{pid}a"), format!("hvrp{pid}b"));
    let _ns = Namespaces::new(&[&ns]);
    run(&[
        "ip", "-n", &ns, "link", "add", &a, "type", "veth", "peer", "name", &b,
    ]);
    let key = format!("net.ipv4.conf.{a}.proxy_arp");
    run(&[
        "ip",
        "netns",
        "exec",
        &ns,
        "sysctl",
        "-qw",
        &format!("{key}=1"),
    ]);
    assert_eq!(ns_sysctl(&ns, &key), "1");

    let (before, previous, after, again, all) = {
        let (ns, a) = (ns.clone(), a.clone());
        thread::spawn(move || {
            netns::enter(&ns).expect("enter namespace");
            let before = sysctl::get_proxy_arp(&a).expect("get");
            let previous = sysctl::set_proxy_arp(&a, false).expect("set off");
            let after = sysctl::get_proxy_arp(&a).expect("get");
            // Idempotent: switching off again reports it was already off.
            let again = sysctl::set_proxy_arp(&a, false).expect("set off again");
            let all = sysctl::get_proxy_arp("all").expect("get all");
            (before, previous, after, again, all)
        })
        .join()
        .expect("sysctl thread")
    };
    assert!(before && previous, "proxy_arp was on before");
    assert!(!after && !again, "proxy_arp is off after");
    assert!(!all, "conf/all/proxy_arp is off in a fresh namespace");
    assert_eq!(ns_sysctl(&ns, &key), "0");
    // The peer end was never touched.
    assert_eq!(ns_sysctl(&ns, &format!("net.ipv4.conf.{b}.proxy_arp")), "0");

    // From the test's own namespace, the namespace's interface does not exist.
    assert!(matches!(
        sysctl::get_proxy_arp(&a),
        Err(sysctl::SysctlError::Read { .. })
    ));
}
