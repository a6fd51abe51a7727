//! The end-to-end lab: scripts/lab.sh builds namespaces `hvr-<tag>-*` (a VLAN gateway,
//! the hypervisor, two veth guests and one tap guest), the router binary runs in the
//! hypervisor namespace on configs/demo.toml, and everything is removed on drop, even
//! when a test fails. Tests run one at a time (a global lock): each router polls a core.

#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use hvrouter_netlab::{eventually, ok};

pub mod attacks;
pub mod counters;
pub mod faults;
pub mod hypervisor;
pub mod site;
pub mod traffic;

pub use attacks::{Background, Sniffed, Sniffer};
pub use counters::PortCounters;

static SERIAL: Mutex<()> = Mutex::new(());

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Why the lab cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !hvrouter_netlab::is_root() {
        return Some("needs root (network namespaces, AF_XDP)".into());
    }
    for tool in ["ip", "ping", "arping", "iperf3", "ethtool"] {
        if !hvrouter_netlab::have(tool) {
            return Some(format!(
                "{tool} is missing (scripts/install-deps.sh installs it)"
            ));
        }
    }
    let relay = relay_bin();
    if !relay.exists() {
        return Some(format!(
            "{} is missing: cargo build -p hvrouter-netlab --bins",
            relay.display()
        ));
    }
    None
}

fn relay_bin() -> PathBuf {
    // Same profile directory as the router binary under test.
    Path::new(env!("CARGO_BIN_EXE_hvrouter")).with_file_name("hvr-tap-relay")
}

macro_rules! skip_unless_lab {
    () => {
        if let Some(why) = common::unavailable() {
            eprintln!("SKIP {}: {why}", module_path!());
            return;
        }
    };
}
pub(crate) use skip_unless_lab;

pub struct Lab {
    pub tag: String,
    poll: String,
    /// TOML appended to the demo configuration at every start.
    extra_config: String,
    /// Replacements (`old`, `new`) applied to the demo configuration at every start.
    config_edits: Vec<(String, String)>,
    router: Option<Child>,
    servers: Vec<Child>,
    pub dir: PathBuf,
    _serial: MutexGuard<'static, ()>,
}

impl Lab {
    /// Build the lab and start the router in adaptive poll mode.
    pub fn up(name: &str) -> Lab {
        Lab::up_with(name, "adaptive")
    }

    /// Build the lab and start the router with `dataplane.poll = poll`.
    pub fn up_with(name: &str, poll: &str) -> Lab {
        Lab::up_extended(name, poll, "")
    }

    /// Build the lab and start the router on the demo configuration plus `extra`
    /// (appended TOML, e.g. another network).
    pub fn up_extended(name: &str, poll: &str, extra: &str) -> Lab {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let tag = format!("{name}{}", std::process::id() % 10000);
        let dir = std::env::temp_dir().join(format!("hvr-e2e-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Lab {
            tag,
            poll: poll.to_string(),
            extra_config: extra.to_string(),
            config_edits: Vec::new(),
            router: None,
            servers: vec![],
            dir,
            _serial: serial,
        };
        let out = lab.script("up", &[]);
        assert!(
            out.status.success(),
            "lab.sh up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if std::env::var_os("HVR_TEST_FAST_PATH").is_some_and(|v| v == "1") {
            lab.fast_path_on();
        }
        if let Some(n) = test_workers() {
            lab.edit_demo_config("workers = 1", &format!("workers = {n}"));
        }
        lab.start_router();
        lab
    }

    /// Whether the router runs several workers (`HVR_TEST_WORKERS`).
    pub fn workers(&self) -> usize {
        test_workers().unwrap_or(1)
    }

    /// Every later start of the router runs with `fast_path = "on"`
    /// (`HVR_TEST_FAST_PATH=1` does it for every lab test), and the namespaces' veth
    /// ends run NAPI (GRO on), without which a veth drops frames redirected to it.
    pub fn fast_path_on(&mut self) {
        if self.fast_path() {
            return;
        }
        self.edit_demo_config("frames = 4096", "frames = 4096\nfast_path = \"on\"");
        if let Some(n) = test_workers() {
            // The fast path runs with one worker (check-config refuses more).
            self.edit_demo_config(&format!("workers = {n}"), "workers = 1");
        }
        for n in ["gw", "g1", "g2"] {
            let out = self.exec(n, &["ethtool", "-K", "eth0", "gro", "on"]);
            assert!(out.status.success(), "gro on in {n}: {out:?}");
        }
    }

    /// Replace `old` (which must occur in configs/demo.toml) by `new` in the
    /// configuration of every later start of the router.
    pub fn edit_demo_config(&mut self, old: &str, new: &str) {
        self.config_edits.push((old.to_string(), new.to_string()));
    }

    /// Rewrite the router's configuration file in place (for `reload`).
    pub fn edit_config(&self, f: impl FnOnce(String) -> String) {
        let path = self.dir.join("hvrouter.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(text)).unwrap();
    }

    /// The router's control socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("run/control.sock")
    }

    /// Run the CLI against this lab's router.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hvrouter"))
            .arg("--socket")
            .arg(self.socket())
            .args(args)
            .output()
            .unwrap()
    }

    /// Run a Ganeti hook (path relative to scripts/ganeti) in the hypervisor namespace
    /// with exactly `env` plus PATH (the CLI under test first) and the router's socket.
    pub fn hook(&self, hook: &str, env: &[(&str, &str)]) -> Output {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_hvrouter")).parent().unwrap();
        let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin_dir.display());
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns("hv"), "sh"])
            .arg(root().join("scripts/ganeti").join(hook))
            .env_clear()
            .env("PATH", path)
            .env("HVROUTER_SOCKET", self.socket())
            .env("HVROUTER_DEFAULTS", self.dir.join("no-defaults"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// The gateway's ARP cache entry for `ip` ("" if none).
    pub fn gateway_neighbor(&self, ip: &str) -> String {
        let out = self.exec("gw", &["ip", "neigh", "show", ip, "dev", "eth0"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// MAC of an interface in the hypervisor namespace.
    pub fn hv_mac(&self, dev: &str) -> String {
        let out = self.exec("hv", &["cat", &format!("/sys/class/net/{dev}/address")]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Delete and recreate the uplink veth pair (scripts/lab.sh relink). With the fast
    /// path on, the gateway's new end gets GRO on like the old one.
    pub fn relink(&self) -> Output {
        let out = self.script("relink", &[]);
        if out.status.success() && self.fast_path() {
            let _ = self.exec("gw", &["ethtool", "-K", "eth0", "gro", "on"]);
        }
        out
    }

    /// Whether the router runs with the fast path on ([`Lab::fast_path_on`]).
    pub fn fast_path(&self) -> bool {
        self.config_edits
            .iter()
            .any(|(_, new)| new.contains("fast_path"))
    }

    /// `scripts/lab.sh CMD TAG ARGS...` for this lab.
    fn script(&self, cmd: &str, args: &[&str]) -> Output {
        Command::new(root().join("scripts/lab.sh"))
            .args([cmd, &self.tag])
            .args(args)
            .env("HVR_RELAY", relay_bin())
            .output()
            .unwrap()
    }

    /// `scripts/lab.sh CMD TAG ARGS...`, asserting success.
    fn script_ok(&self, cmd: &str, args: &[&str]) {
        let out = self.script(cmd, args);
        assert!(
            out.status.success(),
            "lab.sh {cmd} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn ns(&self, n: &str) -> String {
        format!("hvr-{}-{n}", self.tag)
    }

    fn config(&self) -> PathBuf {
        let text = std::fs::read_to_string(root().join("configs/demo.toml")).unwrap();
        let run_dir = self.dir.join("run");
        let text = text
            .replace("/run/hvrouter-demo", run_dir.to_str().unwrap())
            .replace("poll = \"busy\"", &format!("poll = \"{}\"", self.poll));
        let text = self.config_edits.iter().fold(text, |t, (old, new)| {
            assert!(
                t.contains(old.as_str()),
                "{old:?} is not in configs/demo.toml"
            );
            t.replacen(old.as_str(), new, 1)
        });
        let path = self.dir.join("hvrouter.toml");
        std::fs::write(&path, text + "\n" + &self.extra_config).unwrap();
        path
    }

    /// Start (or restart) the router and wait until it says it started.
    pub fn start_router(&mut self) {
        assert!(self.router.is_none(), "router already running");
        let err = self.dir.join("router.err");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns("hv")])
            .arg(env!("CARGO_BIN_EXE_hvrouter"))
            .args(["run", "--config"])
            .arg(self.config())
            .stdout(std::fs::File::create(self.dir.join("router.out")).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        self.router = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = std::fs::read_to_string(&err).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains("event=started")) {
                // The workers the configuration asked for are the ones that run.
                let want = if self.fast_path() { 1 } else { self.workers() };
                assert!(
                    line.contains(&format!(" workers={want} ")),
                    "started with other than {want} worker(s): {line}"
                );
                return;
            }
            if let Some(status) = self.router.as_mut().unwrap().try_wait().unwrap() {
                panic!("router exited ({status}) before starting:\n{log}");
            }
            assert!(Instant::now() < deadline, "router did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Send `signal` (e.g. HUP) to the router, by its process id.
    pub fn signal_router(&self, signal: &str) {
        let child = self.router.as_ref().expect("router running");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Stop the router with `signal` (TERM or KILL) and return its stdout.
    pub fn stop_router(&mut self, signal: &str) -> String {
        let mut child = self.router.take().expect("router running");
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        let _ = child.wait();
        std::fs::read_to_string(self.dir.join("router.out")).unwrap_or_default()
    }

    /// `hvrouter guest add` for the demo's guest 2 (`hvr-g2`, 02:00:00:00:00:14, network
    /// public_90) with `extra` options (`--ip`, `--ip6`, `--hostname`, ...).
    pub fn guest_add_g2(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "guest",
            "add",
            "--tap",
            "hvr-g2",
            "--mac",
            "02:00:00:00:00:14",
            "--network",
            "public_90",
        ];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    pub fn router_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("router.err")).unwrap_or_default()
    }

    /// Run a command inside namespace `n`.
    pub fn exec(&self, n: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(n)])
            .args(args)
            .output()
            .unwrap()
    }

    pub fn ping(&self, from: &str, to: &str) -> bool {
        self.exec(from, &["ping", "-c", "2", "-W", "1", "-i", "0.2", to])
            .status
            .success()
    }

    /// Ping until it succeeds or `within` passes.
    pub fn ping_eventually(&self, from: &str, to: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self
                .exec(from, &["ping", "-c", "1", "-W", "1", to])
                .status
                .success()
            {
                return true;
            }
        }
        false
    }

    /// Is a who-has for `ip`, sent from the gateway, answered?
    pub fn arp_answered(&self, ip: &str) -> bool {
        self.exec("gw", &["arping", "-c", "1", "-w", "1", "-I", "eth0", ip])
            .status
            .success()
    }

    /// iperf3 TCP for `seconds` from `client` to the server in `server` at `ip`;
    /// `reverse` makes the server send. Returns the received Mbit/s.
    pub fn iperf(
        &mut self,
        server: &str,
        client: &str,
        ip: &str,
        reverse: bool,
        seconds: u32,
    ) -> f64 {
        let port = 5400 + self.servers.len() as u16;
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(server),
                "iperf3",
                "-s",
                "-1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.servers.push(child);
        std::thread::sleep(Duration::from_millis(300));
        let port = port.to_string();
        let secs = seconds.to_string();
        let mut args = vec!["iperf3", "-c", ip, "-p", &port, "-t", &secs, "-J"];
        if reverse {
            args.push("-R");
        }
        let out = self.exec(client, &args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "iperf3 {client} -> {ip} failed: {text}\nrouter:\n{}",
            self.router_log()
        );
        // "sum_received": { ... "bits_per_second": N
        let at = text
            .find("\"sum_received\"")
            .expect("iperf3 JSON has sum_received");
        let rest = &text[at..];
        let b = rest.find("\"bits_per_second\"").unwrap();
        let num: String = rest[b + 18..]
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '+')
            .collect();
        num.parse::<f64>().unwrap() / 1e6
    }

    /// `hvrouter trace FRAMES` while guest 1 pings the gateway: its output. IPv6 is
    /// turned off in the guests first (DAD and MLD frames after their links came up took
    /// every trace slot in one CI run), and a ping before resolves the neighbors (no ARP
    /// or queued request in the trace). Asserts that the pings and the trace succeed.
    pub fn trace_g1_ping(&self, frames: u32) -> String {
        for g in ["g1", "g2", "g3"] {
            let out = self.exec(g, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
            assert!(out.status.success(), "{out:?}");
        }
        assert!(self.ping("g1", "192.0.2.1"));
        let trace = Command::new(env!("CARGO_BIN_EXE_hvrouter"))
            .arg("--socket")
            .arg(self.socket())
            .args(["trace", &frames.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(self.ping("g1", "192.0.2.1"));
        let out = trace.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        text
    }

    /// `ip -d link show` in the hypervisor namespace mentions an XDP program?
    pub fn xdp_attached(&self) -> bool {
        let out = self.exec("hv", &["ip", "-d", "link", "show"]);
        String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for mut s in self.servers.drain(..) {
            let _ = s.kill();
            let _ = s.wait();
        }
        if let Some(mut r) = self.router.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        let _ = self.script("down", &[]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `HVR_TEST_WORKERS=N` runs every lab router with `workers = N` (guests spread over the
/// workers, frames handed between them).
pub fn test_workers() -> Option<usize> {
    std::env::var("HVR_TEST_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 1)
}
