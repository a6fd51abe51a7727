//! What runs on a [`Site`]'s hypervisor nodes: a router per node (own configuration,
//! control socket and state directory), the CLI and Ganeti's hooks against it, and the
//! kernel routed setup that hvrouter replaces (policy routing and proxy ARP, as Ganeti's
//! routed mode builds it: scripts/lib/lab.sh's `lab_kernel_routed`, which the benchmarks
//! use too).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::root;
use super::site::{must, Site, GATEWAY, NETWORK};

/// The kernel setup's per-VLAN table (`public_90`; by number: rt_tables is the host's).
const TABLE: &str = "90";

impl Site {
    fn node_dir(&self, node: &str) -> PathBuf {
        self.dir.join(node)
    }

    /// The control socket of `node`'s router.
    pub fn socket(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("control.sock")
    }

    /// Start `node`'s router on network public_90 (uplink hvr-up0, subnet 192.0.2.0/24,
    /// gateway 192.0.2.1) plus `extra` TOML, appended right after the network's keys
    /// (more keys of that network, then other tables); returns once it logged that it
    /// started.
    pub fn start_router(&mut self, node: &str, arp_source: &str, extra: &str) {
        let dir = self.node_dir(node);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("hvrouter.toml");
        let text = format!(
            "[router]\ncontrol_socket = \"{sock}\"\nstate_dir = \"{state}\"\n\
             log_level = \"info\"\n\n\
             [dataplane]\nxdp_mode = \"auto\"\nworkers = {workers}\npoll = \"adaptive\"\n\
             burst = 64\nframe_size = 4096\nframes = 4096\n\n\
             [networks.{NETWORK}]\nuplink = \"hvr-up0\"\nsubnet = \"192.0.2.0/24\"\n\
             gateway = \"{GATEWAY}\"\nmtu = 1500\narp_source = \"{arp_source}\"\n{extra}",
            sock = self.socket(node).display(),
            state = dir.join("state").display(),
            workers = super::test_workers().unwrap_or(1),
        );
        std::fs::write(&config, text).unwrap();
        let err = dir.join("router.err");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node)])
            .arg(env!("CARGO_BIN_EXE_hvrouter"))
            .args(["run", "--config"])
            .arg(&config)
            .stdout(std::fs::File::create(dir.join("router.out")).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        self.routers.push((node.to_string(), child));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.router_log(node);
            if log.contains("event=started") {
                return;
            }
            let (_, child) = self.routers.last_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                panic!("router on {node} exited ({status}) before starting:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "router on {node} did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `node`'s router log (stderr).
    pub fn router_log(&self, node: &str) -> String {
        std::fs::read_to_string(self.node_dir(node).join("router.err")).unwrap_or_default()
    }

    /// Run the CLI against `node`'s router.
    pub fn cli(&self, node: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hvrouter"))
            .arg("--socket")
            .arg(self.socket(node))
            .args(args)
            .output()
            .unwrap()
    }

    /// Run the CLI against `node`'s router, asserting success; its stdout.
    pub fn cli_ok(&self, node: &str, args: &[&str]) -> String {
        let out = self.cli(node, args);
        assert!(
            out.status.success(),
            "hvrouter {args:?} on {node}: exit {:?}\n{}{}\nrouter log:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.router_log(node)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run a Ganeti hook (path relative to scripts/ganeti; executed as Ganeti does, by
    /// its own interpreter line) in `node`'s namespace with exactly `env` plus PATH (the
    /// CLI under test first), the node's socket, no defaults file and no syslog (no other
    /// environment).
    pub fn hook(&self, node: &str, hook: &str, env: &[(&str, &str)]) -> Output {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_hvrouter")).parent().unwrap();
        let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin_dir.display());
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(node)])
            .arg(root().join("scripts/ganeti").join(hook))
            .env_clear()
            .env("PATH", path)
            .env("HVROUTER_SOCKET", self.socket(node))
            .env("HVROUTER_DEFAULTS", self.dir.join("no-defaults"))
            // Test-only: the hooks' log lines go to stderr, not the host's syslog.
            .env("HVROUTER_SYSLOG", "")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// `hvrouter ganeti sync-guests` on `node` (the cutover's guest sync) with `listing`
    /// (lines of `gnt-instance list --no-headers --separator='|' -o name,pnode,nic.modes,
    /// nic.links,nic.ips,nic.macs,tags`) on stdin, node name `pnode`, and Ganeti's runtime
    /// files `nic/INSTANCE/INDEX` written from `taps` ((instance, index, tap)). Asserts
    /// success; its stdout and stderr.
    pub fn sync_guests(
        &self,
        node: &str,
        pnode: &str,
        listing: &str,
        taps: &[(&str, u32, &str)],
    ) -> String {
        use std::io::Write;
        let run_dir = self.node_dir(node).join("ganeti-run");
        for (instance, index, tap) in taps {
            let dir = run_dir.join("nic").join(instance);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(index.to_string()), tap).unwrap();
        }
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node)])
            .arg(env!("CARGO_BIN_EXE_hvrouter"))
            .arg("--socket")
            .arg(self.socket(node))
            .args(["ganeti", "sync-guests", "--node", pnode, "--ganeti-run-dir"])
            .arg(&run_dir)
            .env("HVROUTER_DEFAULTS", self.dir.join("no-defaults"))
            .env("HVROUTER_SYSLOG", "")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(listing.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "sync-guests on {node}: exit {:?}\n{text}\nrouter log:\n{}",
            out.status.code(),
            self.router_log(node)
        );
        text
    }

    /// The kernel routed setup on `node` for guests `(tap, address)`: forwarding and
    /// proxy ARP on the uplink and the taps, `iif` rules into table 90, the subnet and
    /// the default route through the uplink, a /32 per guest (what Ganeti's kvm-ifup
    /// adds). Built by `lab_kernel_routed` of scripts/lib/lab.sh, the one description of
    /// that setup (the benchmarks build theirs with it too); then checked for what
    /// [`Site::kernel_routed_remove`] and [`Site::kernel_routed_left`] expect, so that
    /// the two sides cannot drift apart.
    pub fn kernel_routed_setup(&self, node: &str, guests: &[(&str, &str)]) {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", "set -eu; source \"$0\"; lab_kernel_routed \"$@\""])
            .arg(root().join("scripts/lib/lab.sh"))
            .args([self.ns(node).as_str(), "hvr-up0", "192.0.2.0/24", GATEWAY]);
        for (tap, ip) in guests {
            cmd.arg(format!("{tap}={ip}"));
        }
        must(&mut cmd);

        let rules = self.run(node, &["ip", "rule", "show"]);
        let devs = std::iter::once("hvr-up0").chain(guests.iter().map(|(tap, _)| *tap));
        for dev in devs {
            assert!(
                rules.contains(&format!("iif {dev} lookup {TABLE}")),
                "lab_kernel_routed: no rule iif {dev} lookup {TABLE}:\n{rules}"
            );
            for key in ["proxy_arp", "forwarding"] {
                let value = self.run(
                    node,
                    &["sysctl", "-n", &format!("net.ipv4.conf.{dev}.{key}")],
                );
                assert_eq!(value.trim(), "1", "lab_kernel_routed: {dev} {key}");
            }
        }
        let routes = self.run(node, &["ip", "route", "show", "table", TABLE]);
        let mut want = vec![
            format!("default via {GATEWAY} dev hvr-up0"),
            "192.0.2.0/24 dev hvr-up0".to_string(),
        ];
        want.extend(guests.iter().map(|(tap, ip)| format!("{ip} dev {tap}")));
        for route in &want {
            assert!(
                routes
                    .lines()
                    .any(|l| l.trim_end().starts_with(route.as_str())),
                "lab_kernel_routed: no route {route} in table {TABLE}:\n{routes}"
            );
        }
    }

    /// docs/OPERATIONS.md step 7 on `node`: proxy ARP off (uplink, all, taps),
    /// forwarding off on the uplink, every rule into table 90 and the table removed.
    pub fn kernel_routed_remove(&self, node: &str, taps: &[&str]) {
        let mut keys = vec![
            "net.ipv4.conf.hvr-up0.proxy_arp=0".to_string(),
            "net.ipv4.conf.all.proxy_arp=0".to_string(),
            "net.ipv4.conf.hvr-up0.forwarding=0".to_string(),
        ];
        keys.extend(
            taps.iter()
                .map(|t| format!("net.ipv4.conf.{t}.proxy_arp=0")),
        );
        for key in &keys {
            self.run(node, &["sysctl", "-qw", key]);
        }
        while self
            .exec(node, &["ip", "rule", "del", "table", TABLE])
            .status
            .success()
        {}
        self.run(node, &["ip", "route", "flush", "table", TABLE]);
    }

    /// Does the kernel still have any of the routed setup on `node`?
    pub fn kernel_routed_left(&self, node: &str) -> Vec<String> {
        let mut left: Vec<String> = self
            .run(node, &["ip", "rule", "show"])
            .lines()
            .filter(|l| l.contains(&format!("lookup {TABLE}")))
            .map(str::to_string)
            .collect();
        let text =
            |args: &[&str]| String::from_utf8_lossy(&self.exec(node, args).stdout).into_owned();
        left.extend(
            text(&["ip", "route", "show", "table", TABLE])
                .lines()
                .map(str::to_string),
        );
        left.extend(
            text(&["sysctl", "-a"])
                .lines()
                .filter(|l| l.contains(".proxy_arp = 1"))
                .map(str::to_string),
        );
        left
    }
}
