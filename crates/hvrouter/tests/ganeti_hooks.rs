//! The Ganeti NIC hooks (scripts/ganeti): each hook runs under `sh` (and bash where it
//! is installed) with an environment recorded from what Ganeti passes, `env_clear()`d,
//! and a PATH holding only a temporary directory with a fake `hvrouter` (appends its argv
//! to a file, one line per call, and answers with scripted exit codes and messages) and a
//! fake `ip`. The tests assert the exact CLI calls. No root needed.
//!
//! Besides PATH and the recorded variables, two test-only settings keep the hooks off the
//! host: HVROUTER_DEFAULTS (the defaults file, normally /etc/default/hvrouter) and
//! HVROUTER_PROC_SYS (the sysctl tree, normally /proc/sys), both inside the temporary
//! directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The older form (called by Ganeti's kvm-ifup / kvm-ifdown, no ACTION) and the
/// per-mode form (called by kvm-nic-setup, which passes ACTION).
const UP_HOOKS: [Hook; 2] = [
    Hook {
        path: "kvm-ifup-custom",
        action: None,
    },
    Hook {
        path: "network/routed/up",
        action: Some("up"),
    },
];
const DOWN_HOOKS: [Hook; 2] = [
    Hook {
        path: "kvm-ifdown-custom",
        action: None,
    },
    Hook {
        path: "network/routed/down",
        action: Some("down"),
    },
];

/// What Ganeti's KVM driver passes for a routed NIC on network public_90 (hv_base
/// ConfigureNIC: INSTANCE, MAC, MODE, INTERFACE, INTERFACE_INDEX, INTERFACE_UUID, TAGS,
/// IP, LINK, and the network's NETWORK_* hooks dictionary).
const ROUTED_NIC: &[(&str, &str)] = &[
    ("INSTANCE", "web1.example.org"),
    ("MAC", "aa:00:00:5e:10:01"),
    ("MODE", "routed"),
    ("INTERFACE", "tap0"),
    ("INTERFACE_INDEX", "0"),
    ("INTERFACE_UUID", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
    ("TAGS", "owner:ops"),
    ("IP", "192.0.2.10"),
    ("LINK", "public_90"),
    ("NETWORK_NAME", "public_90"),
    ("NETWORK_UUID", "6fa459ea-ee8a-3ca4-894e-db77e160355e"),
    ("NETWORK_SUBNET", "192.0.2.0/24"),
    ("NETWORK_GATEWAY", "192.0.2.1"),
    ("NETWORK_MAC_PREFIX", "aa:00:00"),
    ("NETWORK_TAGS", ""),
];

/// A bridged NIC of another instance: the hooks must leave it alone.
const BRIDGED_NIC: &[(&str, &str)] = &[
    ("INSTANCE", "db1.example.org"),
    ("MAC", "aa:00:00:5e:20:01"),
    ("MODE", "bridged"),
    ("INTERFACE", "tap3"),
    ("INTERFACE_INDEX", "0"),
    ("INTERFACE_UUID", "0c5a1e7e-6c3a-4c3b-9a5b-3f0a3e2a4b11"),
    ("TAGS", ""),
    ("IP", "198.51.100.20"),
    ("LINK", "br0"),
    ("BRIDGE", "br0"),
];

const ADD_TAP0: &str =
    "guest add --tap tap0 --mac aa:00:00:5e:10:01 --network public_90 --ip 192.0.2.10";
const DEL_TAP0: &str = "guest del --tap tap0";

#[derive(Clone, Copy, Debug)]
struct Hook {
    /// Path under scripts/ganeti.
    path: &'static str,
    /// ACTION as Ganeti passes it to this form, if it does.
    action: Option<&'static str>,
}

/// One fake node: a temporary directory with bin/hvrouter, bin/ip and their call logs.
#[derive(Debug)]
struct Node {
    dir: PathBuf,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn hooks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ganeti")
}

/// The shells to run every hook with: Ganeti runs them by their `#!/bin/sh` line.
fn shells() -> Vec<&'static str> {
    ["/bin/sh", "/bin/bash"]
        .into_iter()
        .filter(|s| Path::new(s).exists())
        .collect()
}

fn write_script(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

impl Node {
    /// A node whose router answers every call with exit code 0.
    fn new() -> Node {
        Node::with_router(&[])
    }

    /// A node whose router answers call N (from 1) with `answers[N-1]` (exit code,
    /// message on stderr), and with 0 after the last one.
    fn with_router(answers: &[(i32, &str)]) -> Node {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hvr-ganeti-hooks-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        let node = Node { dir };
        node.set_router(answers);
        write_script(
            &node.dir.join("bin/ip"),
            &format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >>'{}'\n",
                node.file("ip.calls").display()
            ),
        );
        node
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn set_router(&self, answers: &[(i32, &str)]) {
        let calls = self.file("hvrouter.calls");
        let mut arms = String::new();
        for (i, (code, msg)) in answers.iter().enumerate() {
            arms.push_str(&format!("{}) echo '{msg}' >&2; exit {code} ;;\n", i + 1));
        }
        write_script(
            &self.dir.join("bin/hvrouter"),
            &format!(
                "#!/bin/sh\n\
                 printf '%s\\n' \"$*\" >>'{calls}'\n\
                 printf '%s\\n' \"${{HVROUTER_SOCKET-unset}}\" >'{socket}'\n\
                 n=0\n\
                 while IFS= read -r _; do n=$((n + 1)); done <'{calls}'\n\
                 case $n in\n{arms}esac\n\
                 exit 0\n",
                calls = calls.display(),
                socket = self.file("socket").display(),
            ),
        );
    }

    /// Give the tap net.ipv4.conf.TAP.{proxy_arp,forwarding} = 1 in the fake sysctl tree.
    fn sysctls_on(&self, tap: &str) {
        let conf = self.file("proc/sys/net/ipv4/conf").join(tap);
        fs::create_dir_all(&conf).unwrap();
        fs::write(conf.join("proxy_arp"), "1\n").unwrap();
        fs::write(conf.join("forwarding"), "1\n").unwrap();
    }

    fn sysctl(&self, tap: &str, key: &str) -> String {
        let path = self.file("proc/sys/net/ipv4/conf").join(tap).join(key);
        fs::read_to_string(path).unwrap().trim().to_owned()
    }

    fn defaults(&self, text: &str) {
        fs::write(self.file("defaults"), text).unwrap();
    }

    /// Run `hook` with `shell` and exactly PATH, the test settings and `env`.
    fn run_with(&self, shell: &str, hook: &str, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(shell);
        cmd.arg(hooks_dir().join(hook))
            .env_clear()
            .env("PATH", self.dir.join("bin"))
            .env("HVROUTER_DEFAULTS", self.file("defaults"))
            .env("HVROUTER_PROC_SYS", self.file("proc/sys"))
            .current_dir(&self.dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Run one form of a hook with Ganeti's environment `env` (plus ACTION where that
    /// form gets it).
    fn run(&self, shell: &str, hook: Hook, env: &[(&str, &str)]) -> Output {
        let mut env = env.to_vec();
        if let Some(action) = hook.action {
            env.push(("ACTION", action));
        }
        self.run_with(shell, hook.path, &env)
    }

    fn lines(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.file(name))
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The router CLI calls so far, and forget them.
    fn take_calls(&self) -> Vec<String> {
        let calls = self.lines("hvrouter.calls");
        let _ = fs::remove_file(self.file("hvrouter.calls"));
        calls
    }

    /// The `ip` calls so far, and forget them.
    fn take_ip_calls(&self) -> Vec<String> {
        let calls = self.lines("ip.calls");
        let _ = fs::remove_file(self.file("ip.calls"));
        calls
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `base` with `changes` applied: a value replaces the variable, None removes it.
fn env_with<'a>(
    base: &[(&'a str, &'a str)],
    changes: &[(&'a str, Option<&'a str>)],
) -> Vec<(&'a str, &'a str)> {
    let mut env: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .collect();
    env.extend(changes.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
    env
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("hook killed by a signal")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn hooks_are_executable() {
    for hook in UP_HOOKS.iter().chain(&DOWN_HOOKS) {
        let mode = fs::metadata(hooks_dir().join(hook.path))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{} must be executable", hook.path);
        let text = fs::read_to_string(hooks_dir().join(hook.path)).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{}: POSIX sh", hook.path);
    }
}

#[test]
fn up_adds_the_guest_and_turns_kernel_proxy_arp_off() {
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::new();
            node.sysctls_on("tap0");
            let out = node.run(shell, hook, ROUTED_NIC);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(node.take_calls(), [ADD_TAP0], "{shell} {hook:?}");
            assert_eq!(
                node.take_ip_calls(),
                ["link set dev tap0 up"],
                "{shell} {hook:?}"
            );
            assert_eq!(node.sysctl("tap0", "proxy_arp"), "0", "{shell} {hook:?}");
            assert_eq!(node.sysctl("tap0", "forwarding"), "0", "{shell} {hook:?}");
            // The CLI's own default socket unless the operator set one.
            assert_eq!(node.lines("socket"), ["unset"]);
        }
    }
}

#[test]
fn up_without_sysctl_entries_for_the_tap_still_adds() {
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::new();
            let out = node.run(shell, hook, ROUTED_NIC);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(node.take_calls(), [ADD_TAP0]);
            assert!(
                !node.file("proc").exists(),
                "nothing created in the sysctl tree"
            );
        }
    }
}

#[test]
fn down_deletes_the_guest() {
    for shell in shells() {
        for hook in DOWN_HOOKS {
            let node = Node::new();
            // kvm-ifdown gets the runtime NIC data but not the instance's tags.
            let env = env_with(ROUTED_NIC, &[("TAGS", None)]);
            let out = node.run(shell, hook, &env);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(node.take_calls(), [DEL_TAP0], "{shell} {hook:?}");
            assert!(node.take_ip_calls().is_empty(), "down leaves the tap alone");
        }
    }
}

#[test]
fn down_of_a_guest_the_router_does_not_know_is_not_an_error() {
    for shell in shells() {
        for hook in DOWN_HOOKS {
            // As the CLI contract says (exit 1, "no such guest"), and as an idempotent
            // delete that succeeds and says the guest was absent.
            for answer in [
                (1, "hvrouter: no such guest: tap0"),
                (0, "absent (nothing to remove)"),
            ] {
                let node = Node::with_router(&[answer]);
                let out = node.run(shell, hook, ROUTED_NIC);
                assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
                assert_eq!(node.take_calls(), [DEL_TAP0]);
                assert!(
                    stderr(&out).contains("nothing to remove"),
                    "{}",
                    stderr(&out)
                );
            }
        }
    }
}

#[test]
fn down_never_fails_even_when_the_router_is_unreachable() {
    for shell in shells() {
        for hook in DOWN_HOOKS {
            let node = Node::with_router(&[(
                2,
                "connect /run/hvrouter/control.sock: No such file or directory",
            )]);
            let out = node.run(shell, hook, ROUTED_NIC);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(node.take_calls(), [DEL_TAP0]);
            assert!(
                stderr(&out).contains("could not remove"),
                "{}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn bridged_and_other_modes_are_left_alone() {
    let openvswitch = env_with(
        BRIDGED_NIC,
        &[("MODE", Some("openvswitch")), ("BRIDGE", None)],
    );
    let no_mode = env_with(ROUTED_NIC, &[("MODE", None)]);
    for shell in shells() {
        for hook in UP_HOOKS.iter().chain(&DOWN_HOOKS) {
            for env in [BRIDGED_NIC, &openvswitch, &no_mode] {
                let node = Node::new();
                node.sysctls_on("tap3");
                let out = node.run(shell, *hook, env);
                assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
                assert!(node.take_calls().is_empty(), "{shell} {hook:?} {env:?}");
                assert!(node.take_ip_calls().is_empty(), "{shell} {hook:?} {env:?}");
                assert_eq!(node.sysctl("tap3", "proxy_arp"), "1", "untouched");
            }
        }
    }
}

#[test]
fn routed_nic_without_an_address_is_logged_and_not_added() {
    for shell in shells() {
        for hook in UP_HOOKS {
            // Ganeti leaves IP out when the NIC has none; an empty value means the same.
            for env in [
                env_with(ROUTED_NIC, &[("IP", None)]),
                env_with(ROUTED_NIC, &[("IP", Some(""))]),
            ] {
                let node = Node::new();
                let out = node.run(shell, hook, &env);
                assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
                assert!(node.take_calls().is_empty(), "{shell} {hook:?}");
                assert!(
                    stderr(&out).contains("without an IP address"),
                    "{}",
                    stderr(&out)
                );
            }
        }
    }
}

#[test]
fn malicious_interface_names_are_rejected_before_anything_runs() {
    let names = [
        "tap0; rm -rf /",
        "$(reboot)",
        "`reboot`",
        "tap0\nrm -rf /",
        "../../../../etc",
        "..",
        "-h",
        "tap0 --mac",
        "a-very-long-tap-name",
        "",
    ];
    for shell in shells() {
        for name in names {
            let env = env_with(ROUTED_NIC, &[("INTERFACE", Some(name))]);
            for hook in UP_HOOKS {
                let node = Node::new();
                let out = node.run(shell, hook, &env);
                assert_eq!(code(&out), 2, "{shell} {hook:?} {name:?}: up must fail");
                assert!(node.take_calls().is_empty(), "{shell} {hook:?} {name:?}");
                assert!(node.take_ip_calls().is_empty(), "{shell} {hook:?} {name:?}");
                assert!(stderr(&out).contains("not a valid interface name"));
                assert!(!stderr(&out).contains("rm -rf"), "the value is not echoed");
            }
            for hook in DOWN_HOOKS {
                let node = Node::new();
                let out = node.run(shell, hook, &env);
                assert_eq!(code(&out), 0, "{shell} {hook:?} {name:?}: down never fails");
                assert!(node.take_calls().is_empty(), "{shell} {hook:?} {name:?}");
            }
        }
    }
}

#[test]
fn invalid_addresses_macs_and_networks_are_rejected_on_up() {
    let bad: &[(&str, &str)] = &[
        ("IP", "192.0.2.256"),
        ("IP", "192.0.2"),
        ("IP", "192.0.2.010"),
        ("IP", "192.0.2.10 --network public_80"),
        ("IP", "2001:db8::10"),
        ("IP", "*"),
        ("MAC", "aa:00:00:5e:10"),
        ("MAC", "aa:00:00:5e:10:01 --ip 203.0.113.1"),
        ("MAC", "zz:00:00:5e:10:01"),
        ("LINK", "public_90 --ip 203.0.113.1"),
        ("LINK", "-x"),
        ("LINK", ""),
        ("TAGS", "hvrouter:prefix:203.0.113.0/33"),
        ("TAGS", "hvrouter:prefix:203.0.113.0/28;reboot"),
        ("MIGRATION_PHASE", "during"),
    ];
    for shell in shells() {
        for &(key, value) in bad {
            let env = env_with(ROUTED_NIC, &[(key, Some(value))]);
            for hook in UP_HOOKS {
                let node = Node::new();
                let out = node.run(shell, hook, &env);
                assert_eq!(
                    code(&out),
                    2,
                    "{shell} {hook:?} {key}={value:?}: {}",
                    stderr(&out)
                );
                assert!(
                    node.take_calls().is_empty(),
                    "{shell} {hook:?} {key}={value:?}"
                );
            }
        }
    }
}

#[test]
fn live_migration_removes_on_the_source_and_adds_on_the_target_only_after() {
    for shell in shells() {
        for (up, down) in UP_HOOKS.into_iter().zip(DOWN_HOOKS) {
            let source = Node::new();
            let target = Node::new();
            // Target, before the migration (Ganeti passes `pre` to hooks that want it):
            // the guest still runs on the source, which owns the address.
            let pre = env_with(
                ROUTED_NIC,
                &[
                    ("INTERFACE", Some("tap7")),
                    ("MIGRATION_PHASE", Some("pre")),
                ],
            );
            let out = target.run(shell, up, &pre);
            assert_eq!(code(&out), 0, "{shell} {up:?}: {}", stderr(&out));
            assert!(target.take_calls().is_empty(), "no add before the move");
            // The source's tap goes away after a successful migration.
            let out = source.run(shell, down, ROUTED_NIC);
            assert_eq!(code(&out), 0, "{shell} {down:?}: {}", stderr(&out));
            assert_eq!(source.take_calls(), [DEL_TAP0]);
            // Target, after the migration: add, and the router announces the address.
            let post = env_with(
                ROUTED_NIC,
                &[
                    ("INTERFACE", Some("tap7")),
                    ("MIGRATION_PHASE", Some("post")),
                ],
            );
            let out = target.run(shell, up, &post);
            assert_eq!(code(&out), 0, "{shell} {up:?}: {}", stderr(&out));
            assert_eq!(
                target.take_calls(),
                ["guest add --tap tap7 --mac aa:00:00:5e:10:01 --network public_90 --ip 192.0.2.10"]
            );
            assert!(source.take_calls().is_empty());
        }
    }
}

#[test]
fn routed_prefixes_come_from_instance_tags() {
    let tags =
        "owner:ops hvrouter:prefix:203.0.113.0/28 hvrouter:prefix:public_80:203.0.113.64/28 \
                hvrouter:prefix:public_90:203.0.113.32/29 * hvrouter:other:x";
    let env = env_with(ROUTED_NIC, &[("TAGS", Some(tags))]);
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::new();
            let out = node.run(shell, hook, &env);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(
                node.take_calls(),
                [format!(
                    "{ADD_TAP0} --routed-prefix 203.0.113.0/28 --routed-prefix 203.0.113.32/29"
                )],
                "{shell} {hook:?}: the public_80 prefix belongs to another NIC"
            );
        }
    }
}

#[test]
fn a_rejected_up_fails_so_ganeti_reports_it() {
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::with_router(&[
                (1, "guest add: 192.0.2.10 already belongs to guest tap2"),
                (1, "guest del: no such guest: tap0"),
            ]);
            let out = node.run(shell, hook, ROUTED_NIC);
            assert_eq!(code(&out), 1, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(node.take_calls(), [ADD_TAP0, DEL_TAP0]);
            assert!(
                stderr(&out).contains("already belongs to guest tap2"),
                "the router's reason reaches Ganeti: {}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn a_stale_entry_for_the_same_tap_is_replaced() {
    for shell in shells() {
        for hook in UP_HOOKS {
            // The router still has tap0 from a NIC whose down hook never ran.
            let node = Node::with_router(&[(1, "guest add: tap0 exists with other data")]);
            let out = node.run(shell, hook, ROUTED_NIC);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(node.take_calls(), [ADD_TAP0, DEL_TAP0, ADD_TAP0]);
        }
    }
}

#[test]
fn unreachable_router_fails_the_up() {
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::with_router(&[(2, "cannot connect"), (2, "cannot connect")]);
            let out = node.run(shell, hook, ROUTED_NIC);
            assert_eq!(code(&out), 1, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(node.take_calls(), [ADD_TAP0, DEL_TAP0]);
        }
    }
}

#[test]
fn missing_cli_fails_the_up_and_not_the_down() {
    for shell in shells() {
        let node = Node::new();
        node.defaults(&format!(
            "HVROUTER_BIN={}\n",
            node.file("nowhere/hvrouter").display()
        ));
        for hook in UP_HOOKS {
            assert_eq!(
                code(&node.run(shell, hook, ROUTED_NIC)),
                1,
                "{shell} {hook:?}"
            );
        }
        for hook in DOWN_HOOKS {
            assert_eq!(
                code(&node.run(shell, hook, ROUTED_NIC)),
                0,
                "{shell} {hook:?}"
            );
        }
        assert!(node.take_calls().is_empty());
    }
}

#[test]
fn action_from_ganeti_decides_the_direction() {
    for shell in shells() {
        let node = Node::new();
        let down = env_with(ROUTED_NIC, &[("ACTION", Some("down"))]);
        let up = env_with(ROUTED_NIC, &[("ACTION", Some("up"))]);
        assert_eq!(code(&node.run_with(shell, "kvm-ifup-custom", &down)), 0);
        assert_eq!(code(&node.run_with(shell, "network/routed/down", &up)), 0);
        assert_eq!(node.take_calls(), [DEL_TAP0, ADD_TAP0], "{shell}");
        // An ACTION the hooks do not know leaves the hook's own direction.
        let odd = env_with(ROUTED_NIC, &[("ACTION", Some("modify"))]);
        assert_eq!(code(&node.run_with(shell, "kvm-ifdown-custom", &odd)), 0);
        assert_eq!(node.take_calls(), [DEL_TAP0], "{shell}");
    }
}

#[test]
fn network_and_socket_from_the_defaults_file_and_the_environment() {
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::new();
            node.defaults(
                "# hvrouter settings for the Ganeti hooks\n\
                 DAEMON_OPTS=\"--ignored\"\n\
                 export HVROUTER_NETWORK=\"vlan90\"\n\
                 HVROUTER_SOCKET='/run/hvrouter-alt/control.sock'\n",
            );
            let tagged = env_with(
                ROUTED_NIC,
                &[("TAGS", Some("hvrouter:prefix:vlan90:203.0.113.0/28"))],
            );
            let out = node.run(shell, hook, &tagged);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(
                node.take_calls(),
                ["guest add --tap tap0 --mac aa:00:00:5e:10:01 --network vlan90 --ip 192.0.2.10 \
                  --routed-prefix 203.0.113.0/28"]
            );
            assert_eq!(node.lines("socket"), ["/run/hvrouter-alt/control.sock"]);
            // The environment wins over the file.
            let env = env_with(ROUTED_NIC, &[("HVROUTER_NETWORK", Some("public_80"))]);
            let out = node.run(shell, hook, &env);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(
                node.take_calls(),
                ["guest add --tap tap0 --mac aa:00:00:5e:10:01 --network public_80 --ip 192.0.2.10"]
            );
        }
    }
}

#[test]
fn a_mismatch_with_ganetis_network_is_logged_not_fatal() {
    let env = env_with(ROUTED_NIC, &[("NETWORK_SUBNET", Some("198.51.100.0/24"))]);
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::new();
            let out = node.run(shell, hook, &env);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert_eq!(node.take_calls(), [ADD_TAP0]);
            assert!(
                stderr(&out).contains("not inside Ganeti's NETWORK_SUBNET"),
                "{}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn routed_nic_without_link_or_network_setting_is_rejected() {
    let env = env_with(ROUTED_NIC, &[("LINK", None)]);
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::new();
            let out = node.run(shell, hook, &env);
            assert_eq!(code(&out), 2, "{shell} {hook:?}: {}", stderr(&out));
            assert!(node.take_calls().is_empty());
        }
    }
}

#[test]
fn instance_communication_taps_are_left_to_ganeti() {
    let env = env_with(
        ROUTED_NIC,
        &[("INTERFACE", Some("gnt.com.0")), ("IP", Some("192.0.2.50"))],
    );
    for shell in shells() {
        for hook in UP_HOOKS.iter().chain(&DOWN_HOOKS) {
            let node = Node::new();
            let out = node.run(shell, *hook, &env);
            assert_eq!(code(&out), 0, "{shell} {hook:?}: {}", stderr(&out));
            assert!(node.take_calls().is_empty());
            assert!(node.take_ip_calls().is_empty());
        }
    }
}

#[test]
fn tags_are_never_expanded_as_globs() {
    for shell in shells() {
        for hook in UP_HOOKS {
            let node = Node::new();
            // In the hook's working directory, the pattern would match a path that reads
            // as a valid prefix tag.
            let decoy = node.dir.join("hvrouter:prefix:203.0.113.48");
            fs::create_dir_all(&decoy).unwrap();
            fs::write(decoy.join("28"), "").unwrap();
            let env = env_with(ROUTED_NIC, &[("TAGS", Some("hvrouter:prefix:*/28"))]);
            let out = node.run(shell, hook, &env);
            assert_eq!(code(&out), 2, "{shell} {hook:?}: {}", stderr(&out));
            assert!(node.take_calls().is_empty(), "{shell} {hook:?}");
        }
    }
}

/// `gnt-instance list --no-headers --separator='|'
/// -o name,pnode,nic.modes,nic.links,nic.ips,nic.macs,tags` on the master.
const LISTING: &str = "\
web1.example.org|node1.example.org|routed|public_90|192.0.2.10|aa:00:00:5e:10:01|owner:ops,hvrouter:prefix:203.0.113.0/28
db1.example.org|node1.example.org|bridged,routed|br0,public_80|198.51.100.9,198.51.100.20|aa:00:00:5e:20:01,aa:00:00:5e:20:02|
bad.example.org|node1.example.org|routed|public_90|192.0.2.12|aa:00:00:5e:40:01|
other.example.org|node2.example.org|routed|public_90|192.0.2.11|aa:00:00:5e:30:01|
gone.example.org|node1.example.org|routed|public_90|192.0.2.13|aa:00:00:5e:50:01|
";

impl Node {
    /// Ganeti's runtime record of which tap NIC `idx` of `instance` got.
    fn ganeti_tap(&self, instance: &str, idx: u32, tap: &str) {
        let dir = self.file("ganeti/nic").join(instance);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(idx.to_string()), tap).unwrap();
    }

    fn sync(&self, shell: &str, args: &[&str], listing: &str) -> Output {
        let input = self.file("listing");
        fs::write(&input, listing).unwrap();
        Command::new(shell)
            .arg(hooks_dir().join("hvrouter-sync-guests"))
            .args(args)
            .env_clear()
            .env("PATH", self.dir.join("bin"))
            .env("HVROUTER_DEFAULTS", self.file("defaults"))
            .env("HVROUTER_PROC_SYS", self.file("proc/sys"))
            .env("HVROUTER_GANETI_RUN_DIR", self.file("ganeti"))
            .current_dir(&self.dir)
            .stdin(fs::File::open(&input).unwrap())
            .output()
            .unwrap()
    }
}

#[test]
fn sync_adds_the_routed_nics_running_on_this_node() {
    for shell in shells() {
        // The router rejects the third add (bad.example.org); the rest goes on.
        let node = Node::with_router(&[(0, ""), (0, ""), (1, "conflict"), (1, "no such guest")]);
        node.ganeti_tap("web1.example.org", 0, "tap0\n");
        node.ganeti_tap("db1.example.org", 0, "tap4\n");
        node.ganeti_tap("db1.example.org", 1, "tap5");
        node.ganeti_tap("bad.example.org", 0, "tap6\n");
        let args = ["--node", "node1.example.org"];
        let out = node.sync(shell, &args, LISTING);
        assert_eq!(code(&out), 1, "{shell}: one NIC failed: {}", stderr(&out));
        assert_eq!(
            node.take_calls(),
            [
                format!("{ADD_TAP0} --routed-prefix 203.0.113.0/28"),
                "guest add --tap tap5 --mac aa:00:00:5e:20:02 --network public_80 --ip 198.51.100.20"
                    .to_owned(),
                "guest add --tap tap6 --mac aa:00:00:5e:40:01 --network public_90 --ip 192.0.2.12"
                    .to_owned(),
                "guest del --tap tap6".to_owned(),
            ],
            "{shell}: bridged NICs, other nodes' and stopped instances are skipped"
        );
        assert!(
            stderr(&out).contains("2 routed NICs synced, 1 failed"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn sync_dry_run_only_prints() {
    for shell in shells() {
        let node = Node::new();
        node.ganeti_tap("web1.example.org", 0, "tap0\n");
        let out = node.sync(
            shell,
            &["--dry-run", "--node", "node1.example.org"],
            LISTING,
        );
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        assert!(node.take_calls().is_empty());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "would add: web1.example.org nic 0 tap tap0 ip 192.0.2.10 mac aa:00:00:5e:10:01 \
             link public_90\n"
        );
    }
}
