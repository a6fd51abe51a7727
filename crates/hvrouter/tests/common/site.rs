//! A site: one VLAN and several hypervisors, each in its own namespace with its own
//! router (own configuration, control socket and state), for the cutover and live
//! migration tests.
//!
//! ```text
//!  hvr-TAG-gw        hvr-TAG-vlan                  hvr-TAG-a / hvr-TAG-b ...
//!  eth0 192.0.2.1 -- hvr-pgw ┐                     hvr-up0 (uplink, fixed MAC)
//!                            hvr-br0 ── hvr-pa ─── hvr-up0 of node a
//!                            (bridge) ─ hvr-pb ─── hvr-up0 of node b
//!  hvr-TAG-g1: a guest behind a real tap; the relay (playing QEMU) runs in a node's
//!  namespace and holds the node's hvr-tapN and the guest's tap.
//! ```
//!
//! The bridge is the VLAN: every node's uplink sees the gateway's broadcasts, as on a
//! switch. IPv6 is off in every namespace so that no DAD or MLD frame muddies counts.
//! Everything (processes by pid, namespaces, files) is removed on drop, even when a test
//! fails. Sites run one at a time (a lock): each router polls.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hvrouter_netlab::Namespaces;

static SERIAL: Mutex<()> = Mutex::new(());

/// The VLAN's gateway.
pub const GATEWAY: &str = "192.0.2.1";
/// The gateway's MAC.
pub const GATEWAY_MAC: &str = "02:00:00:00:01:01";
/// The network's name in every router's configuration (Ganeti's `link`).
pub const NETWORK: &str = "public_90";
/// The router's default `guest_mac` (configs/example.toml).
pub const GUEST_MAC_DEFAULT: &str = "fe:ff:ff:ff:ff:ff";

/// Where the relay binary sits: beside the router binary under test.
fn relay_bin() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_hvrouter")).with_file_name("hvr-tap-relay")
}

/// Run a command, asserting success; its stdout.
pub fn must(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One VLAN, its gateway, hypervisor nodes, guests and the processes started for them.
pub struct Site {
    pub tag: String,
    pub dir: PathBuf,
    namespaces: Namespaces,
    /// Relays by "node/tap".
    pub(super) relays: Vec<(String, Child)>,
    /// Routers by node.
    pub(super) routers: Vec<(String, Child)>,
    _serial: MutexGuard<'static, ()>,
}

impl Site {
    /// The VLAN (bridge) with the gateway 192.0.2.1/24 on it.
    pub fn new(name: &str) -> Site {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let tag = format!("{name}{}", std::process::id() % 10000);
        let dir = std::env::temp_dir().join(format!("hvr-site-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut site = Site {
            tag,
            dir,
            namespaces: Namespaces::default(),
            relays: vec![],
            routers: vec![],
            _serial: serial,
        };
        site.add_ns("vlan");
        site.add_ns("gw");
        let (vlan, gw) = (site.ns("vlan"), site.ns("gw"));
        site.ip(&[
            "-n",
            &vlan,
            "link",
            "add",
            "hvr-br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]);
        site.ip(&["-n", &vlan, "link", "set", "hvr-br0", "up"]);
        site.ip(&[
            "-n", &vlan, "link", "add", "hvr-pgw", "type", "veth", "peer", "name", "eth0", "netns",
            &gw,
        ]);
        site.ip(&[
            "-n", &vlan, "link", "set", "hvr-pgw", "master", "hvr-br0", "up",
        ]);
        site.ip(&["-n", &gw, "link", "set", "eth0", "address", GATEWAY_MAC]);
        site.ip(&["-n", &gw, "addr", "add", "192.0.2.1/24", "dev", "eth0"]);
        site.ip(&["-n", &gw, "link", "set", "eth0", "up"]);
        // A real VLAN carries complete checksums (as scripts/lab.sh does).
        site.run("gw", &["ethtool", "-K", "eth0", "tx", "off"]);
        site
    }

    /// The full name of namespace `n`.
    pub fn ns(&self, n: &str) -> String {
        format!("hvr-{}-{n}", self.tag)
    }

    /// Create namespace `n` with lo up and IPv6 off (one left by a killed run of this
    /// test is deleted first).
    pub fn add_ns(&mut self, n: &str) {
        let name = self.ns(n);
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        self.namespaces.add(&name);
    }

    /// `ip ARGS`, asserting success.
    pub fn ip(&self, args: &[&str]) -> String {
        must(Command::new("ip").args(args))
    }

    /// Run a command in namespace `n`.
    pub fn exec(&self, n: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(n)])
            .args(args)
            .output()
            .unwrap()
    }

    /// Run a command in namespace `n`, asserting success; its stdout.
    pub fn run(&self, n: &str, args: &[&str]) -> String {
        must(
            Command::new("ip")
                .args(["netns", "exec", &self.ns(n)])
                .args(args),
        )
    }

    /// A hypervisor node `n`: its uplink hvr-up0 (MAC `uplink_mac`) on the VLAN bridge.
    pub fn add_node(&mut self, n: &str, uplink_mac: &str) {
        self.add_ns(n);
        let (vlan, node) = (self.ns("vlan"), self.ns(n));
        let port = format!("hvr-p{n}");
        self.ip(&[
            "-n", &vlan, "link", "add", &port, "type", "veth", "peer", "name", "hvr-up0", "netns",
            &node,
        ]);
        self.ip(&["-n", &vlan, "link", "set", &port, "master", "hvr-br0", "up"]);
        self.ip(&["-n", &node, "link", "set", "hvr-up0", "address", uplink_mac]);
        self.ip(&["-n", &node, "link", "set", "hvr-up0", "up"]);
    }

    /// MAC of `dev` in namespace `n`.
    pub fn mac(&self, n: &str, dev: &str) -> String {
        self.run(n, &["cat", &format!("/sys/class/net/{dev}/address")])
            .trim()
            .to_string()
    }

    /// Does `dev` exist in namespace `n`?
    pub fn has_link(&self, n: &str, dev: &str) -> bool {
        self.exec(n, &["ip", "link", "show", "dev", dev])
            .status
            .success()
    }

    /// Start a relay (QEMU's part) in node `node`: the router's tap `tap` stays in the
    /// node, the guest's tap `guest_if` goes into namespace `guest`; both come up.
    pub fn start_relay(&mut self, node: &str, tap: &str, guest: &str, guest_if: &str) {
        use std::io::BufRead;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node)])
            .arg(relay_bin())
            .args(["--router-tap", tap, "--guest-tap", guest_if])
            .args(["--guest-netns", &self.ns(guest)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.relays.push((format!("{node}/{tap}"), child));
        assert!(line.starts_with("ready"), "relay did not start: {line:?}");
    }

    /// Stop the relay holding `tap` on `node` (the VM leaves the node): both of its taps
    /// disappear. Returns once the node's tap is gone.
    pub fn stop_relay(&mut self, node: &str, tap: &str) {
        let key = format!("{node}/{tap}");
        let at = self.relays.iter().position(|(k, _)| *k == key).unwrap();
        let (_, mut child) = self.relays.remove(at);
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.has_link(node, tap) {
            assert!(Instant::now() < deadline, "{tap} still there on {node}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Configure a guest's interface as its OS would: MAC, address, up, default route.
    pub fn configure_guest(&self, guest: &str, dev: &str, mac: &str, addr: &str) {
        let g = self.ns(guest);
        self.ip(&["-n", &g, "link", "set", dev, "address", mac]);
        self.ip(&["-n", &g, "addr", "add", addr, "dev", dev]);
        self.ip(&["-n", &g, "link", "set", dev, "up"]);
        self.ip(&[
            "-n", &g, "route", "add", "default", "via", GATEWAY, "dev", dev,
        ]);
    }

    /// The neighbor entry for `ip` on `dev` in namespace `n` ("" if none).
    pub fn neighbor(&self, n: &str, ip: &str, dev: &str) -> String {
        self.run(n, &["ip", "neigh", "show", ip, "dev", dev])
            .trim()
            .to_string()
    }

    /// The MACs that answered `count` who-has for `ip` sent from the gateway (broadcast,
    /// 100 ms apart), one entry per answer.
    pub fn arp_answers(&self, ip: &str, count: u32) -> Vec<String> {
        let out = self.exec(
            "gw",
            &[
                "arping",
                "-c",
                &count.to_string(),
                "-W",
                "0.1",
                "-w",
                "1",
                "-I",
                "eth0",
                ip,
            ],
        );
        // Thomas Habets' arping: "60 bytes from 02:00:00:00:a0:01 (192.0.2.10): ...".
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(" bytes from ")?.1.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for (_, mut c) in self.routers.drain(..).chain(self.relays.drain(..)) {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The namespaces go when `self.namespaces` drops, after the processes in them.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
