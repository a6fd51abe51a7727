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

pub mod hypervisor;
pub mod site;
pub mod traffic;

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
        let out = lab.script(&["up"]);
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
        let out = self.script(&["relink"]);
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

    fn script(&self, args: &[&str]) -> Output {
        Command::new(root().join("scripts/lab.sh"))
            .args(args)
            .arg(&self.tag)
            .env("HVR_RELAY", relay_bin())
            .output()
            .unwrap()
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

    /// `ip -d link show` in the hypervisor namespace mentions an XDP program?
    pub fn xdp_attached(&self) -> bool {
        let out = self.exec("hv", &["ip", "-d", "link", "show"]);
        String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
    }
}

/// Counters of one port, from `show ports --json`: the port's counter object as text.
pub struct PortCounters(String);

impl PortCounters {
    /// A top-level counter (rx_packets, icmp_errors_sent, ...) or a drop reason.
    pub fn get(&self, key: &str) -> u64 {
        let pat = format!("\"{key}\": ");
        let Some(at) = self.0.find(&pat) else {
            panic!("no counter {key} in {}", self.0)
        };
        self.0[at + pat.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap()
    }

    /// Sum of every drop reason.
    pub fn total_drops(&self) -> u64 {
        let at = self.0.find("\"drops\"").unwrap();
        let end = at + self.0[at..].find('}').unwrap();
        self.0[at..end]
            .split(": ")
            .skip(1)
            .map(|v| {
                v.chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect::<String>()
                    .parse::<u64>()
                    .unwrap_or(0)
            })
            .sum()
    }
}

/// A script started by [`Lab::background`].
pub struct Background {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
}

impl Background {
    /// Close its stdin, wait for it to end; its stdout and stderr.
    pub fn finish(self) -> (String, String) {
        let mut child = self.child;
        drop(child.stdin.take());
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        let _ = child.wait();
        (self.stdout.join().unwrap(), err)
    }
}

/// A capture started by [`Lab::sniff`] (scripts/attacks/sniff.py).
pub struct Sniffer(Background);

/// What a [`Sniffer`] saw: frames that must not have arrived, frames marked legitimate,
/// and ARP frames with an attacker's sender MAC.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub leaked: u64,
    pub legit: u64,
    pub arp_claims: u64,
}

impl Sniffer {
    /// Wait for the capture to end and read its counts.
    pub fn finish(self) -> Sniffed {
        let (text, err) = self.0.finish();
        let line = text
            .lines()
            .find(|l| l.starts_with("leaked "))
            .unwrap_or_else(|| panic!("sniff.py said: {text}\n{err}"));
        let v: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if v[0] > 0 {
            eprintln!("{err}");
        }
        Sniffed {
            leaked: v[0],
            legit: v[1],
            arp_claims: v[2],
        }
    }
}

impl Lab {
    /// Counters of port `dev` (hvr-up0, hvr-g1, ...).
    pub fn port_counters(&self, dev: &str) -> PortCounters {
        let out = self.cli(&["show", "ports", "--json"]);
        assert!(out.status.success(), "show ports failed: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        // Each port object lists "counters" before "name" (keys are sorted).
        let name = text
            .find(&format!("\"name\": \"{dev}\""))
            .unwrap_or_else(|| panic!("no port {dev} in {text}"));
        let start = text[..name].rfind("\"counters\"").unwrap();
        PortCounters(text[start..name].to_string())
    }

    /// Run scripts/attacks/NAME.py with `args` in namespace `n` (scapy, /usr/bin/python3).
    pub fn attack_script(&self, n: &str, script: &str, args: &[&str]) -> Output {
        let path = root().join("scripts/attacks").join(script);
        let mut all = vec!["/usr/bin/python3", path.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = self.exec(n, &all);
        assert!(
            out.status.success(),
            "{script} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Start capturing on `iface` in namespace `n` for `seconds` (scripts/attacks/sniff.py);
    /// returns once the capture runs.
    pub fn sniff(&self, n: &str, iface: &str, seconds: f64) -> Sniffer {
        Sniffer(self.background(n, "sniff.py", &[iface, &seconds.to_string()]))
    }

    /// Start scripts/attacks/SCRIPT with `args` in namespace `n` and wait for its
    /// "ready" line; it runs until its stdin closes ([`Background::finish`]).
    pub fn background(&self, n: &str, script: &str, args: &[&str]) -> Background {
        let (child, stdout) = self.start_script(n, script, args);
        Background { child, stdout }
    }

    fn start_script(
        &self,
        n: &str,
        script: &str,
        args: &[&str],
    ) -> (Child, std::thread::JoinHandle<String>) {
        use std::io::BufRead;
        let path = root().join("scripts/attacks").join(script);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns(n), "/usr/bin/python3"])
            .arg(path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "{script} did not start");
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut reader, &mut s);
            s
        });
        (child, stdout)
    }

    /// Is scapy usable here (python3-scapy under /usr/bin/python3)?
    pub fn scapy_missing() -> Option<String> {
        let ok = Command::new("/usr/bin/python3")
            .args(["-c", "import scapy.all"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        (!ok).then(|| "python3-scapy is missing (scripts/install-deps.sh installs it)".into())
    }
}

/// Faults: VM restarts (a guest's tap or veth deleted and recreated), background traffic.
impl Lab {
    /// Delete a veth guest's pair (`hvr-g1` / guest `g1`'s eth0) and create it again with
    /// the same names, MAC and address, as scripts/lab.sh does.
    pub fn recreate_veth_guest(&self, guest: &str, dev: &str, mac: &str, addr: &str) {
        self.delete_veth_guest(dev);
        self.create_veth_guest(guest, dev, mac, addr);
    }

    /// Delete a veth guest's pair (both ends go).
    pub fn delete_veth_guest(&self, dev: &str) {
        let out = self.exec("hv", &["ip", "link", "del", dev]);
        assert!(out.status.success(), "{out:?}");
    }

    /// Create a veth guest's pair (scripts/lab.sh `guest`).
    pub fn create_veth_guest(&self, guest: &str, dev: &str, mac: &str, addr: &str) {
        let g = self.ns(guest);
        let steps: [&[&str]; 6] = [
            &[
                "ip", "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", &g,
            ],
            &["ip", "-n", &g, "link", "set", "eth0", "address", mac],
            &["ip", "-n", &g, "addr", "add", addr, "dev", "eth0"],
            &["ip", "-n", &g, "link", "set", "eth0", "up"],
            &[
                "ip",
                "-n",
                &g,
                "route",
                "add",
                "default",
                "via",
                "192.0.2.1",
                "dev",
                "eth0",
            ],
            &["ip", "link", "set", dev, "up"],
        ];
        for args in steps {
            let out = self.exec("hv", args);
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
        if self.fast_path() {
            let out = self.exec(guest, &["ethtool", "-K", "eth0", "gro", "on"]);
            assert!(out.status.success(), "gro on in {guest}: {out:?}");
        }
    }

    fn relay_pidfile(&self) -> PathBuf {
        PathBuf::from(format!("/run/hvr-{}-relay.pid", self.tag))
    }

    /// Stop the relay that plays guest 3's QEMU: both taps disappear (a VM shutdown).
    pub fn stop_tap_guest(&self) {
        let pid = std::fs::read_to_string(self.relay_pidfile()).unwrap();
        let pid = pid.trim().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Reap it if it is our child (started by start_tap_guest); lab.sh's is not.
        let _ = std::fs::remove_file(self.relay_pidfile());
    }

    /// Start guest 3's relay again (a VM boot): new taps with the same names, guest
    /// configured as scripts/lab.sh does. The relay is left to lab.sh down (pid file).
    pub fn start_tap_guest(&self) {
        use std::io::BufRead;
        let g3 = self.ns("g3");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns("hv")])
            .arg(relay_bin())
            .args(["--router-tap", "hvr-tap3", "--guest-tap", "eth0"])
            .args(["--guest-netns", &g3])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ready"), "relay did not start: {line}");
        std::fs::write(self.relay_pidfile(), child.id().to_string()).unwrap();
        // Reaped by the kernel when it exits: nobody waits for it.
        std::mem::forget(child);
        let steps: [&[&str]; 7] = [
            &[
                "ip",
                "-n",
                &g3,
                "link",
                "set",
                "eth0",
                "address",
                "02:00:00:00:00:1e",
            ],
            &["ip", "-n", &g3, "link", "set", "lo", "up"],
            &[
                "ip",
                "-n",
                &g3,
                "addr",
                "add",
                "192.0.2.30/24",
                "dev",
                "eth0",
            ],
            &[
                "ip",
                "-n",
                &g3,
                "addr",
                "add",
                "203.0.113.1/28",
                "dev",
                "eth0",
            ],
            &["ip", "-n", &g3, "link", "set", "eth0", "up"],
            &[
                "ip",
                "-n",
                &g3,
                "route",
                "add",
                "default",
                "via",
                "192.0.2.1",
                "dev",
                "eth0",
            ],
            &["ip", "link", "set", "hvr-tap3", "up"],
        ];
        for args in steps {
            let out = self.exec("hv", args);
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
    }

    /// Start `args` in namespace `n` in the background (killed when the lab drops).
    pub fn spawn(&mut self, n: &str, args: &[&str]) -> usize {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(n)])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.servers.push(child);
        self.servers.len() - 1
    }

    /// Interrupt a background command from [`Lab::spawn`] (SIGINT: ping prints its
    /// summary).
    pub fn kill_spawned(&self, index: usize) {
        let pid = self.servers[index].id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
    }

    /// Wait for a background command from [`Lab::spawn`] to end; its stdout.
    pub fn wait_spawned(&mut self, index: usize) -> String {
        let child = &mut self.servers[index];
        let mut out = String::new();
        if let Some(mut o) = child.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut o, &mut out);
        }
        let _ = child.wait();
        out
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
        let _ = self.script(&["down"]);
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
