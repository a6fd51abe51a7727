//! The Ganeti NIC hooks of every form (scripts/ganeti), run as Ganeti runs them (by their
//! `#!` line, with an environment built as Ganeti's `ConfigureNIC` builds it, see
//! ganeti_hooks/ganeti_env.rs) against a fake node: a fake control socket with the
//! router's add/del rules, a fake `ip`, a fake sysctl tree and a fake Ganeti
//! `net-common` (ganeti_hooks/node.rs). Where a Ganeti repository is at hand, Ganeti's
//! own `kvm-ifup` (v3.1.1) and `kvm-nic-setup` (master) run the hooks. The last test
//! enslaves a real tap to a real bridge in a network namespace with Ganeti's own
//! `net-common` (root).
//!
//! Forms: released Ganeti `kvm-vif-bridge`; GRNET `kvm-ifup-custom` /
//! `kvm-ifdown-custom`; master `network/routed/{up,down}`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "ganeti_hooks/ganeti_env.rs"]
mod ganeti_env;
#[path = "ganeti_hooks/ganeti_src.rs"]
mod ganeti_src;
#[path = "ganeti_hooks/node.rs"]
mod node;

use std::fs;
use std::path::Path;

use ganeti_env::{nic_env, Ganeti, Instance, Nic};
use node::{code, stderr, write_script, Node};

/// The up hooks: (file, which Ganeti runs it).
const UP_HOOKS: [(&str, Ganeti); 3] = [
    ("kvm-vif-bridge", Ganeti::Released),
    ("kvm-ifup-custom", Ganeti::Released),
    ("network/routed/up", Ganeti::Master),
];
/// The down hooks (released Ganeti has none).
const DOWN_HOOKS: [(&str, Ganeti); 2] = [
    ("kvm-ifdown-custom", Ganeti::Released),
    ("network/routed/down", Ganeti::Master),
];

const ADD_WEB1: &str = "add tap0 aa:00:00:5e:10:01 public_90 192.0.2.10 +203.0.113.0/28";

fn env(
    g: Ganeti,
    action: &str,
    (instance, nic): &(Instance, Nic),
    tap: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    nic_env(g, action, instance, 0, nic, tap, extra)
}

fn up_env(g: Ganeti, nic: &(Instance, Nic), tap: &str) -> Vec<(String, String)> {
    env(g, "up", nic, tap, &[])
}

fn with(mut env: Vec<(String, String)>, k: &str, v: Option<&str>) -> Vec<(String, String)> {
    env.retain(|(key, _)| key != k);
    if let Some(v) = v {
        env.push((k.into(), v.into()));
    }
    env
}

#[test]
fn hooks_are_executable_short_and_call_the_binary() {
    for (hook, _) in UP_HOOKS.iter().chain(&DOWN_HOOKS) {
        let path = node::hooks_dir().join(hook);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{hook} must be executable");
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("#!/bin/sh\n") || text.starts_with("#!/bin/bash\n"),
            "{hook}"
        );
        let code_lines = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .count();
        assert!(code_lines <= 20, "{hook}: {code_lines} lines of code");
        assert!(text.contains("ganeti nic "), "{hook}");
    }
    assert!(
        !node::hooks_dir().join("hvrouter-nic.sh").exists(),
        "the shell library is gone"
    );
}

use std::os::unix::fs::PermissionsExt;

#[test]
fn routed_up_adds_the_guest_and_turns_kernel_proxy_arp_off() {
    for (hook, g) in UP_HOOKS {
        let node = Node::new();
        node.sysctls_on("tap0");
        let out = node.run(hook, &up_env(g, &ganeti_env::web1(), "tap0"));
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert_eq!(node.changes(), [ADD_WEB1], "{hook}");
        assert_eq!(
            node.hostname("tap0").as_deref(),
            Some("web1.example.org"),
            "{hook}: DHCP host name from INSTANCE"
        );
        assert_eq!(node.take("ip.calls"), ["link set dev tap0 up"], "{hook}");
        assert_eq!(node.sysctl("tap0", "proxy_arp"), "0", "{hook}");
        assert_eq!(node.sysctl("tap0", "forwarding"), "0", "{hook}");
        assert!(node.take("net-common.calls").is_empty(), "{hook}");
        assert!(stderr(&out).contains("added"), "{hook}: {}", stderr(&out));
        // Ganeti runs the up hook again (NIC modified, hot-plug retry): idempotent.
        let out = node.run(hook, &up_env(g, &ganeti_env::web1(), "tap0"));
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert_eq!(node.changes(), [ADD_WEB1], "{hook}");
        assert_eq!(node.guests(), ["tap0 192.0.2.10"]);
    }
}

#[test]
fn released_kvm_vif_bridge_gives_bridged_and_ovs_nics_ganetis_own_set_up() {
    let cases = [
        (
            ganeti_env::bridged("br0", Some("")),
            ["setup_bridge", "setup_ovs"]
                .map(|f| format!("{f} MODE=bridged INTERFACE=tap3 LINK=br0 BRIDGE=br0 VLAN=")),
        ),
        (
            ganeti_env::openvswitch("ovs0", Some(".100:200")),
            ["setup_bridge", "setup_ovs"].map(|f| {
                format!("{f} MODE=openvswitch INTERFACE=tap3 LINK=ovs0 BRIDGE= VLAN=.100:200")
            }),
        ),
    ];
    for (nic, want) in cases {
        let node = Node::new();
        let out = node.run("kvm-vif-bridge", &up_env(Ganeti::Released, &nic, "tap3"));
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        // Exactly kvm-ifup's own tail: both functions, each checks MODE itself.
        assert_eq!(node.take("net-common.calls"), want);
        assert!(node.requests().is_empty(), "the router is not asked");
        assert!(node.take("ip.calls").is_empty());
    }
    // Without Ganeti's net-common the NIC set-up fails loudly (Ganeti reports it).
    let node = Node::new();
    let nic = ganeti_env::bridged("br0", None);
    let out = node.run_program(
        &node::hooks_dir().join("kvm-vif-bridge"),
        &up_env(Ganeti::Released, &nic, "tap3"),
        &["HVROUTER_GANETI_NET_COMMON"],
    );
    if !Path::new("/usr/lib/ganeti/net-common").exists() {
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("net-common not found"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn grnet_forms_hand_other_modes_to_gnt_networking_moved_aside() {
    let nic = ganeti_env::bridged("br0", None);
    // gnt-networking's scripts, moved aside by dpkg-divert.
    let node = Node::new();
    for (name, log) in [("diverted-up", "up"), ("diverted-down", "down")] {
        write_script(
            &node.file(name),
            &format!(
                "#!/bin/sh\necho \"{log} $MODE $INTERFACE $*\" >>'{}'\n",
                node.file("diverted.calls").display()
            ),
        );
    }
    let up = up_env(Ganeti::Released, &nic, "tap3");
    assert_eq!(code(&node.run("kvm-ifup-custom", &up)), 0);
    assert_eq!(code(&node.run("kvm-ifdown-custom", &up)), 0);
    assert_eq!(
        node.take("diverted.calls"),
        ["up bridged tap3 ", "down bridged tap3 "]
    );
    assert!(node.take("net-common.calls").is_empty());
    assert!(node.requests().is_empty());
    // Without gnt-networking: Ganeti's own set-up, as kvm-vif-bridge; down does nothing.
    let node = Node::new();
    assert_eq!(code(&node.run("kvm-ifup-custom", &up)), 0);
    assert_eq!(code(&node.run("kvm-ifdown-custom", &up)), 0);
    assert_eq!(node.take("net-common.calls").len(), 2);
    assert!(node.requests().is_empty());
}

#[test]
fn master_per_mode_form_and_live_migration() {
    let web1 = ganeti_env::web1();
    let source = Node::new();
    let target = Node::new();
    // Instance start on the source.
    let out = source.run("network/routed/up", &up_env(Ganeti::Master, &web1, "tap0"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(source.changes(), [ADD_WEB1]);
    // Migration target: master configures routed NICs after the migration only
    // (FinalizeMigrationDst, MIGRATION_PHASE=post); a `pre` call only prepares the tap.
    let pre = env(
        Ganeti::Master,
        "up",
        &web1,
        "tap7",
        &[("MIGRATION_PHASE", "pre")],
    );
    let out = target.run("network/routed/up", &pre);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(target.requests().is_empty(), "no add before the move");
    assert_eq!(target.take("ip.calls"), ["link set dev tap7 up"]);
    // The source's NIC is de-configured after the migration (DeConfigureNIC).
    let down = env(Ganeti::Master, "down", &web1, "tap0", &[]);
    let out = source.run("network/routed/down", &down);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(source.changes(), ["del tap0"]);
    assert!(source.guests().is_empty());
    let post = env(
        Ganeti::Master,
        "up",
        &web1,
        "tap7",
        &[("MIGRATION_PHASE", "post")],
    );
    let out = target.run("network/routed/up", &post);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        target.changes(),
        ["add tap7 aa:00:00:5e:10:01 public_90 192.0.2.10 +203.0.113.0/28"]
    );
}

#[test]
fn instance_communication_taps_are_left_to_ganeti() {
    let com = ganeti_env::communication();
    for (hook, g) in UP_HOOKS.iter().chain(&DOWN_HOOKS) {
        let node = Node::new();
        let out = node.run(hook, &up_env(*g, &com, "gnt.com.0"));
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert!(node.requests().is_empty(), "{hook}");
        assert!(node.take("ip.calls").is_empty(), "{hook}");
        assert!(node.take("net-common.calls").is_empty(), "{hook}");
    }
}

#[test]
fn routed_nic_without_ipv4_nor_subnet6_fails_loudly() {
    let no_ip = ganeti_env::routed_without_ip();
    for (hook, g) in UP_HOOKS {
        for ip in [None, Some("2001:db8:90::10")] {
            let node = Node::new();
            let e = with(up_env(g, &no_ip, "tap0"), "IP", ip);
            let e = with(e, "NETWORK_SUBNET6", None);
            let out = node.run(hook, &e);
            assert_eq!(code(&out), 2, "{hook} {ip:?}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains("no IPv4 address") && err.contains("has no NETWORK_SUBNET6"),
                "{hook}: {err}"
            );
            assert!(node.requests().is_empty(), "{hook}");
            assert!(node.take("ip.calls").is_empty(), "{hook}: tap left alone");
        }
    }
}

#[test]
fn ipv6_only_nics_get_their_eui64_address() {
    let no_ip = ganeti_env::routed_without_ip();
    for (hook, g) in UP_HOOKS {
        for (ip, want) in [
            (
                None,
                "add tap0 aa:00:00:5e:10:01 public_90  +203.0.113.0/28 v6:eui64",
            ),
            (
                Some("2001:db8:90::10"),
                "add tap0 aa:00:00:5e:10:01 public_90  +203.0.113.0/28 v6:2001:db8:90::10,eui64",
            ),
        ] {
            let node = Node::new();
            let out = node.run(hook, &with(up_env(g, &no_ip, "tap0"), "IP", ip));
            assert_eq!(code(&out), 0, "{hook} {ip:?}: {}", stderr(&out));
            let reqs = node.requests();
            assert_eq!(reqs[0], "show_ipv6", "{hook}: checked first: {reqs:?}");
            assert!(reqs.contains(&want.to_string()), "{hook}: {reqs:?}");
            assert_eq!(node.guests(), vec!["tap0 -"], "{hook}");
            assert!(stderr(&out).contains("only"), "{hook}: {}", stderr(&out));
        }
    }
}

#[test]
fn subnet6_mismatch_with_the_router_is_refused_naming_both() {
    let web1 = ganeti_env::web1();
    for (hook, g) in UP_HOOKS {
        // Another subnet6 on the router.
        let node = Node::new();
        node.set_ipv6(Some(("2001:db8:91::/64", "2001:db8:91::1")));
        let out = node.run(hook, &up_env(g, &web1, "tap0"));
        assert_eq!(code(&out), 2, "{hook}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("NETWORK_SUBNET6 is 2001:db8:90::/64")
                && err.contains("has subnet6 2001:db8:91::/64"),
            "{hook}: {err}"
        );
        assert!(node.changes().is_empty(), "{hook}: nothing added");
        // Another gateway6.
        node.set_ipv6(Some((node::SUBNET6, "fe80::1")));
        let out = node.run(hook, &up_env(g, &web1, "tap0"));
        assert_eq!(code(&out), 2, "{hook}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("NETWORK_GATEWAY6 is 2001:db8:90::1") && err.contains("gateway6 fe80::1"),
            "{hook}: {err}"
        );
        // No IPv6 on the router's network.
        node.set_ipv6(None);
        let out = node.run(hook, &up_env(g, &web1, "tap0"));
        assert_eq!(code(&out), 2, "{hook}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("has no IPv6"),
            "{hook}: {}",
            stderr(&out)
        );
        assert!(node.changes().is_empty(), "{hook}: nothing added");
        // The same: added.
        node.set_ipv6(Some((node::SUBNET6, node::GATEWAY6)));
        let out = node.run(hook, &up_env(g, &web1, "tap0"));
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert_eq!(node.changes(), vec![ADD_WEB1], "{hook}");
    }
}

#[test]
fn invalid_environments_exit_2_before_anything_runs() {
    let web1 = ganeti_env::web1();
    let bad: &[(&str, Option<&str>)] = &[
        ("INTERFACE", Some("tap0; rm -rf /")),
        ("INTERFACE", Some("$(reboot)")),
        ("INTERFACE", Some("tap0\nrm -rf /")),
        ("INTERFACE", Some("../../../../etc")),
        ("INTERFACE", Some("-h")),
        ("INTERFACE", Some("a-very-long-tap-name")),
        ("MAC", Some("aa:00:00:5e:10:01 --ip 203.0.113.1")),
        ("MAC", Some("zz:00:00:5e:10:01")),
        ("IP", Some("192.0.2.256")),
        ("IP", Some("192.0.2.010")),
        ("IP", Some("192.0.2.1")),
        ("LINK", None),
        ("TAGS", Some("hvrouter:prefix:203.0.113.0/33")),
        ("TAGS", Some("hvrouter:prefix:*/28")),
        ("MIGRATION_PHASE", Some("during")),
    ];
    for (hook, g) in UP_HOOKS {
        for &(k, v) in bad {
            let node = Node::new();
            let out = node.run(hook, &with(up_env(g, &web1, "tap0"), k, v));
            assert_eq!(code(&out), 2, "{hook} {k}={v:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(k),
                "{hook}: names {k}: {}",
                stderr(&out)
            );
            assert!(!stderr(&out).contains("rm -rf /\n"), "not echoed raw");
            assert!(node.requests().is_empty(), "{hook} {k}={v:?}");
            assert!(node.take("ip.calls").is_empty(), "{hook} {k}={v:?}");
        }
    }
    for (hook, g) in DOWN_HOOKS {
        let node = Node::new();
        let out = node.run(
            hook,
            &with(up_env(g, &web1, "tap0"), "INTERFACE", Some("../x")),
        );
        assert_eq!(code(&out), 0, "{hook}: down never fails: {}", stderr(&out));
        assert!(node.requests().is_empty());
    }
}

#[test]
fn a_stale_entry_for_the_tap_is_replaced_a_live_owner_is_refused() {
    for (hook, g) in UP_HOOKS {
        // The router still has tap0 from a NIC that is gone (other MAC and address).
        let node = Node::new();
        node.preload("tap0", "aa:00:00:5e:99:99", "192.0.2.99");
        let out = node.run(hook, &up_env(g, &ganeti_env::web1(), "tap0"));
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert_eq!(node.changes(), [ADD_WEB1, "del tap0", ADD_WEB1], "{hook}");
        assert_eq!(node.guests(), ["tap0 192.0.2.10"]);
        assert!(stderr(&out).contains("replacing"), "{}", stderr(&out));
        // The address is held by another guest whose tap the router says is live.
        let node = Node::new();
        node.preload("tap2", "aa:00:00:5e:22:22", "192.0.2.10");
        let out = node.run(hook, &up_env(g, &ganeti_env::web1(), "tap0"));
        assert_eq!(code(&out), 1, "{hook}: {}", stderr(&out));
        assert_eq!(node.changes(), [ADD_WEB1], "{hook}: nothing removed");
        assert!(
            stderr(&out).contains("already belongs to guest tap2"),
            "the router's reason reaches Ganeti: {}",
            stderr(&out)
        );
    }
}

#[test]
fn down_removes_only_its_own_nic() {
    for (hook, g) in DOWN_HOOKS {
        let down = env(g, "down", &ganeti_env::web1(), "tap0", &[]);
        let node = Node::new();
        node.preload("tap0", "aa:00:00:5e:10:01", "192.0.2.10");
        let out = node.run(hook, &down);
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert_eq!(node.changes(), ["del tap0"], "{hook}");
        // The kernel gave tap0 to another VM whose up ran first: a late down of the old
        // NIC leaves it alone.
        let node = Node::new();
        node.preload("tap0", "aa:00:00:5e:77:77", "192.0.2.77");
        let out = node.run(hook, &down);
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert!(node.changes().is_empty(), "{hook}");
        assert!(stderr(&out).contains("another NIC"), "{}", stderr(&out));
        // Nothing there: nothing to remove.
        let node = Node::new();
        let out = node.run(hook, &down);
        assert_eq!(code(&out), 0);
        assert!(
            stderr(&out).contains("nothing to remove"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn unreachable_router_fails_the_up_not_the_down() {
    let web1 = ganeti_env::web1();
    for (hook, g) in UP_HOOKS {
        let node = Node::without_router();
        let out = node.run(hook, &up_env(g, &web1, "tap0"));
        assert_eq!(code(&out), 1, "{hook}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is hvrouter running?"),
            "{}",
            stderr(&out)
        );
    }
    for (hook, g) in DOWN_HOOKS {
        let node = Node::without_router();
        let out = node.run(hook, &env(g, "down", &web1, "tap0", &[]));
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("could not remove"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn the_binary_is_found_in_path_else_fails_the_up_only() {
    let web1 = ganeti_env::web1();
    for (hook, g) in UP_HOOKS.iter().chain(&DOWN_HOOKS) {
        let node = Node::new();
        node.preload("tap0", "aa:00:00:5e:10:01", "192.0.2.10");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_hvrouter"), node.file("bin/hvrouter"))
            .unwrap();
        let e = env(
            *g,
            if hook.contains("down") { "down" } else { "up" },
            &web1,
            "tap0",
            &[],
        );
        let out = node.run_program(&node::hooks_dir().join(hook), &e, &["HVROUTER_BIN"]);
        assert_eq!(code(&out), 0, "{hook}: {}", stderr(&out));
        assert!(
            !node.requests().is_empty(),
            "{hook}: ran the binary from PATH"
        );
    }
    for (hook, g) in UP_HOOKS.iter().chain(&DOWN_HOOKS) {
        let mut node = Node::new();
        node.extra.push((
            "HVROUTER_BIN".into(),
            node.file("nowhere/hvrouter").display().to_string(),
        ));
        let e = env(*g, "up", &web1, "tap0", &[]);
        let out = node.run(hook, &e);
        let want_fail = !hook.contains("down");
        assert_eq!(code(&out) != 0, want_fail, "{hook}: {}", stderr(&out));
    }
}

#[test]
fn network_and_socket_from_the_defaults_file() {
    let node = Node::new();
    fs::write(
        node.file("defaults"),
        "# /etc/default/hvrouter\nexport HVROUTER_NETWORK=\"vlan90\"\n",
    )
    .unwrap();
    let (i, mut n) = ganeti_env::web1();
    n.network = None;
    let out = node.run(
        "network/routed/up",
        &up_env(Ganeti::Master, &(i, n), "tap0"),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        node.changes(),
        ["add tap0 aa:00:00:5e:10:01 vlan90 192.0.2.10 +203.0.113.0/28"]
    );
}

/// `gnt-instance list --no-headers --separator='|'
/// -o name,pnode,nic.modes,nic.links,nic.ips,nic.macs,tags` on the master.
const LISTING: &str = "\
web1.example.org|node1.example.org|routed|public_90|192.0.2.10|aa:00:00:5e:10:01|owner:ops,hvrouter:prefix:203.0.113.0/28
db1.example.org|node1.example.org|bridged,routed|br0,public_80|198.51.100.9,198.51.100.20|aa:00:00:5e:20:01,aa:00:00:5e:20:02|
bad.example.org|node1.example.org|routed|public_90|192.0.2.10|aa:00:00:5e:40:01|
other.example.org|node2.example.org|routed|public_90|192.0.2.11|aa:00:00:5e:30:01|
gone.example.org|node1.example.org|routed|public_90|192.0.2.13|aa:00:00:5e:50:01|
";

#[test]
fn sync_guests_adds_the_routed_nics_running_on_this_node() {
    let node = Node::new();
    for (inst, idx, tap) in [
        ("web1.example.org", 0, "tap0\n"),
        ("db1.example.org", 0, "tap4\n"),
        ("db1.example.org", 1, "tap5"),
        ("bad.example.org", 0, "tap6\n"),
    ] {
        let dir = node.file("ganeti/nic").join(inst);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(idx.to_string()), tap).unwrap();
    }
    fs::write(node.file("listing"), LISTING).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hvrouter"));
        cmd.args([
            "--socket",
            node.socket().to_str().unwrap(),
            "ganeti",
            "sync-guests",
        ])
        .args(["--node", "node1.example.org", "--ganeti-run-dir"])
        .arg(node.file("ganeti"))
        .args(args)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", node.file("bin").display()),
        )
        .env("HVROUTER_DEFAULTS", node.file("defaults"))
        .env("HVROUTER_PROC_SYS", node.file("proc/sys"))
        .env("HVROUTER_SYSLOG", "")
        .stdin(fs::File::open(node.file("listing")).unwrap());
        cmd.output().unwrap()
    };
    let out = run(&["--dry-run"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(node.requests().is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().next(),
        Some("would add: web1.example.org nic 0 tap tap0 ip 192.0.2.10 mac aa:00:00:5e:10:01 link public_90")
    );
    let out = run(&[]);
    // bad.example.org claims web1's address: refused, the rest goes on, exit 1.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        node.changes(),
        [
            ADD_WEB1,
            "add tap5 aa:00:00:5e:20:02 public_80 198.51.100.20",
            "add tap6 aa:00:00:5e:40:01 public_90 192.0.2.10",
        ]
    );
    assert!(
        stderr(&out).contains("2 routed NICs synced, 1 failed"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("gone.example.org NIC 0: no tap recorded"));
    assert_eq!(node.hostname("tap5").as_deref(), Some("db1.example.org"));
}

/// Ganeti v3.1.1's own `kvm-ifup` (from a Ganeti repository) with our
/// `/etc/ganeti/kvm-vif-bridge`: routed, bridged and instance-communication NICs.
#[test]
fn ganetis_released_kvm_ifup_runs_kvm_vif_bridge() {
    let mut node = Node::new();
    let ganeti = match ganeti_src::install(&node.dir, ganeti_src::RELEASED, &["kvm-ifup"]) {
        Ok(g) => g,
        Err(why) => {
            eprintln!("SKIP ganetis_released_kvm_ifup_runs_kvm_vif_bridge: {why}");
            return;
        }
    };
    ganeti.link_hook("kvm-vif-bridge", "kvm-vif-bridge");
    node.extra
        .push(("GANETI_ROOTDIR".into(), ganeti.root.display().to_string()));
    let kvm_ifup = ganeti.pkglib.join("kvm-ifup");
    let run = |e: &[(String, String)]| node.run_program(&kvm_ifup, e, &[]);

    let out = run(&up_env(Ganeti::Released, &ganeti_env::web1(), "tap0"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(node.changes(), [ADD_WEB1]);
    // No IP, NETWORK_SUBNET6: an IPv6-only guest.
    let out = run(&up_env(
        Ganeti::Released,
        &ganeti_env::routed_without_ip(),
        "tap1",
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        node.changes(),
        ["add tap1 aa:00:00:5e:10:01 public_90  +203.0.113.0/28 v6:eui64"]
    );
    // Neither: refused.
    let out = run(&with(
        up_env(Ganeti::Released, &ganeti_env::routed_without_ip(), "tap2"),
        "NETWORK_SUBNET6",
        None,
    ));
    assert_eq!(code(&out), 2, "Ganeti sees the failure: {}", stderr(&out));
    let out = run(&up_env(
        Ganeti::Released,
        &ganeti_env::bridged("br0", None),
        "tap3",
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        node.take("net-common.calls").len(),
        2,
        "setup_bridge, setup_ovs"
    );
    let out = run(&up_env(
        Ganeti::Released,
        &ganeti_env::communication(),
        "gnt.com.0",
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(node.requests().is_empty());
    assert_eq!(
        node.take("ip.calls"),
        ["link set dev tap0 up", "link set dev tap1 up"]
    );
}

/// Ganeti master's own `kvm-nic-setup` with our `/etc/ganeti/network/routed/{up,down}`.
#[test]
fn ganetis_master_kvm_nic_setup_runs_network_routed() {
    let mut node = Node::new();
    let ganeti = match ganeti_src::install(&node.dir, ganeti_src::MASTER, &["kvm-nic-setup"]) {
        Ok(g) => g,
        Err(why) => {
            eprintln!("SKIP ganetis_master_kvm_nic_setup_runs_network_routed: {why}");
            return;
        }
    };
    ganeti.link_hook("network/routed/up", "network/routed/up");
    ganeti.link_hook("network/routed/down", "network/routed/down");
    node.extra
        .push(("GANETI_ROOTDIR".into(), ganeti.root.display().to_string()));
    let setup = ganeti.pkglib.join("kvm-nic-setup");
    let web1 = ganeti_env::web1();
    let out = node.run_program(&setup, &up_env(Ganeti::Master, &web1, "tap0"), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(node.changes(), [ADD_WEB1]);
    let out = node.run_program(
        &setup,
        &env(Ganeti::Master, "down", &web1, "tap0", &[]),
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(node.changes(), ["del tap0"]);
}

#[path = "ganeti_hooks/bridge_ns.rs"]
mod bridge_ns;
