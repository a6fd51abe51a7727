//! A fake hypervisor node for the hook tests: a temporary directory with a fake `ip`
//! (records its arguments), a fake sysctl tree, a fake Ganeti `net-common` (records which
//! of its functions ran, with the NIC they saw), and a fake router on a real control
//! socket: it speaks the control protocol (requests parsed with the router's own parser)
//! and keeps guests with the router's add/del rules. No root needed.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hvrouter_control::protocol::{
    Change, GuestChange, GuestInfo, GuestOrigin, GuestSpec, Ipv6NetworkInfo, Ipv6Report, Ipv6Sent,
    Payload, Request, Response,
};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Networks the fake router has.
const NETWORKS: &[&str] = &["public_90", "public_80", "vlan90"];

pub fn hooks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ganeti")
}

pub fn write_script(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The fake router's guests and the requests it got, one line each.
#[derive(Debug, Default)]
pub struct RouterState {
    pub guests: Vec<GuestSpec>,
    pub requests: Vec<String>,
    /// subnet6 and gateway6 of every network (`None`: no IPv6).
    pub ipv6: Option<(String, String)>,
}

/// What the fake router's networks have, like the demo: 2001:db8:90::/64 via ::1.
pub const SUBNET6: &str = "2001:db8:90::/64";
pub const GATEWAY6: &str = "2001:db8:90::1";

fn summary(r: &Request) -> String {
    match r {
        Request::GuestAdd(s) => {
            let mut line = format!(
                "add {} {} {} {}",
                s.tap,
                s.mac,
                s.network,
                s.ips
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            for p in &s.routed_prefixes {
                line.push_str(&format!(" +{p}"));
            }
            // The default (the EUI-64 address alone) is not shown, unless it is all.
            if let Some(v6) = s
                .ipv6
                .as_ref()
                .filter(|v| !v.is_default() || s.ips.is_empty())
            {
                let mut parts: Vec<String> = v6.addrs.iter().map(|a| a.to_string()).collect();
                if v6.eui64 {
                    parts.push("eui64".into());
                }
                line.push_str(&format!(" v6:{}", parts.join(",")));
            }
            line
        }
        Request::GuestDel { tap } => format!("del {tap}"),
        Request::GuestList => "list".into(),
        other => other.op().to_string(),
    }
}

fn answer(state: &mut RouterState, r: &Request) -> Response {
    let changed = |tap: &str, change| {
        Response::Ok(Payload::GuestChanged(GuestChange {
            tap: tap.into(),
            change,
        }))
    };
    match r {
        Request::GuestAdd(spec) => {
            if !NETWORKS.contains(&spec.network.as_str()) {
                return Response::error(format!("no network {:?}", spec.network));
            }
            if let Some(g) = state.guests.iter().find(|g| g.tap == spec.tap) {
                if g.same_as(spec) {
                    return changed(&spec.tap, Change::Unchanged);
                }
                return Response::error(format!(
                    "guest {} exists with other data ({} {:?}); remove it first",
                    g.tap, g.mac, g.ips
                ));
            }
            if let Some((g, ip)) = state.guests.iter().find_map(|g| {
                spec.ips
                    .iter()
                    .find(|ip| g.ips.contains(ip))
                    .map(|ip| (g, ip))
            }) {
                return Response::error(format!(
                    "{ip} already belongs to guest {} whose tap is present: refusing it for {}; \
                     remove {} first",
                    g.tap, spec.tap, g.tap
                ));
            }
            state.guests.push(spec.clone());
            changed(&spec.tap, Change::Added)
        }
        Request::GuestDel { tap } => {
            let before = state.guests.len();
            state.guests.retain(|g| &g.tap != tap);
            let change = if state.guests.len() < before {
                Change::Removed
            } else {
                Change::Absent
            };
            changed(tap, change)
        }
        Request::GuestList => Response::Ok(Payload::Guests(
            state
                .guests
                .iter()
                .map(|g| GuestInfo::new(g.clone(), true, GuestOrigin::Runtime))
                .collect(),
        )),
        Request::ShowIpv6 { network: Some(n) } => {
            if !NETWORKS.contains(&n.as_str()) {
                return Response::error(format!("no such network: {n}"));
            }
            let networks = state
                .ipv6
                .iter()
                .map(|(s, g)| Ipv6NetworkInfo {
                    network: n.clone(),
                    subnet6: s.clone(),
                    gateway6: g.parse().unwrap(),
                    guest_ll: "fe80::fcff:ffff:feff:ffff".parse().unwrap(),
                    uplink_ll: "fe80::ff:fe00:1".parse().unwrap(),
                    source6: None,
                    router_advertisements: true,
                    guests: vec![],
                    neighbors: vec![],
                })
                .collect();
            Response::Ok(Payload::Ipv6(Ipv6Report {
                networks,
                sent: Ipv6Sent::default(),
            }))
        }
        other => Response::error(format!("fake router: {} not supported", other.op())),
    }
}

/// Serve the control protocol on `listener` forever (the thread ends with the test
/// process).
fn serve(listener: UnixListener, state: Arc<Mutex<RouterState>>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let Ok(mut writer) = stream.try_clone() else {
            continue;
        };
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let response = match Request::parse_line(line.as_bytes()) {
                Ok(req) => {
                    let mut st = state.lock().unwrap();
                    st.requests.push(summary(&req));
                    answer(&mut st, &req)
                }
                Err(e) => Response::error(e.to_string()),
            };
            if writer.write_all(response.to_line().as_bytes()).is_err() {
                break;
            }
        }
    }
}

/// One fake node.
#[derive(Debug)]
pub struct Node {
    pub dir: PathBuf,
    router: Arc<Mutex<RouterState>>,
    /// Extra environment for every hook run (settings, overrides).
    pub extra: Vec<(String, String)>,
}

impl Node {
    /// A node with a running (fake) router.
    pub fn new() -> Node {
        let node = Node::without_router();
        let listener = UnixListener::bind(node.socket()).unwrap();
        node.set_ipv6(Some((SUBNET6, GATEWAY6)));
        let state = Arc::clone(&node.router);
        std::thread::spawn(move || serve(listener, state));
        node
    }

    /// A node whose router is not running (no socket).
    pub fn without_router() -> Node {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hvr-ganeti-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        let node = Node {
            dir,
            router: Arc::default(),
            extra: Vec::new(),
        };
        write_script(
            &node.file("bin/ip"),
            &format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >>'{}'\n",
                node.file("ip.calls").display()
            ),
        );
        let calls = node.file("net-common.calls");
        let record = |f: &str| {
            format!(
                "function {f} {{\n  echo \"{f} MODE=$MODE INTERFACE=$INTERFACE LINK=$LINK \
                 BRIDGE=${{BRIDGE-}} VLAN=${{VLAN-}}\" >>'{}'\n}}\n",
                calls.display()
            )
        };
        fs::write(
            node.file("net-common"),
            format!(
                "# test stand-in for Ganeti's net-common\n{}{}{}",
                record("setup_bridge"),
                record("setup_ovs"),
                record("setup_route")
            ),
        )
        .unwrap();
        node
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn socket(&self) -> PathBuf {
        self.file("control.sock")
    }

    /// The environment every run gets besides Ganeti's: PATH with the fake `ip` first,
    /// the binary under test, and the node's files.
    fn base_env(&self) -> Vec<(String, String)> {
        let path = format!("{}:/usr/bin:/bin", self.file("bin").display());
        let mut env: Vec<(String, String)> = [
            ("PATH", path.as_str()),
            ("HVROUTER_BIN", env!("CARGO_BIN_EXE_hvrouter")),
            ("HVROUTER_SOCKET", self.socket().to_str().unwrap()),
            ("HVROUTER_DEFAULTS", self.file("defaults").to_str().unwrap()),
            ("HVROUTER_PROC_SYS", self.file("proc/sys").to_str().unwrap()),
            ("HVROUTER_SYSLOG", ""),
            (
                "HVROUTER_GANETI_NET_COMMON",
                self.file("net-common").to_str().unwrap(),
            ),
            (
                "HVROUTER_GANETI_DIVERTED",
                self.file("diverted-up").to_str().unwrap(),
            ),
            (
                "HVROUTER_GANETI_DIVERTED_DOWN",
                self.file("diverted-down").to_str().unwrap(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.extend(self.extra.iter().cloned());
        env
    }

    /// Run `program` with exactly Ganeti's `ganeti_env` (its PATH replaced) and the test
    /// environment; `unset` removes test variables.
    pub fn run_program(
        &self,
        program: &Path,
        ganeti_env: &[(String, String)],
        unset: &[&str],
    ) -> Output {
        let mut cmd = Command::new(program);
        cmd.env_clear().current_dir(&self.dir).stdin(Stdio::null());
        for (k, v) in ganeti_env.iter().filter(|(k, _)| k != "PATH") {
            cmd.env(k, v);
        }
        for (k, v) in self.base_env() {
            if !unset.contains(&k.as_str()) {
                cmd.env(k, v);
            }
        }
        cmd.output().unwrap()
    }

    /// Run hook `hook` (path under scripts/ganeti), executed by its `#!` line as Ganeti
    /// does.
    pub fn run(&self, hook: &str, ganeti_env: &[(String, String)]) -> Output {
        self.run_program(&hooks_dir().join(hook), ganeti_env, &[])
    }

    /// Lines of a call log, and forget them.
    pub fn take(&self, name: &str) -> Vec<String> {
        let lines = fs::read_to_string(self.file(name))
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        let _ = fs::remove_file(self.file(name));
        lines
    }

    /// Give the router's networks this subnet6 and gateway6, or no IPv6.
    pub fn set_ipv6(&self, v6: Option<(&str, &str)>) {
        self.router.lock().unwrap().ipv6 = v6.map(|(s, g)| (s.to_string(), g.to_string()));
    }

    /// The requests the router got, and forget them.
    pub fn requests(&self) -> Vec<String> {
        std::mem::take(&mut self.router.lock().unwrap().requests)
    }

    /// The router's mutations only (add/del), and forget all requests.
    pub fn changes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.starts_with("add ") || r.starts_with("del "))
            .collect()
    }

    /// The router's guests, as `tap ip`.
    pub fn guests(&self) -> Vec<String> {
        self.router
            .lock()
            .unwrap()
            .guests
            .iter()
            .map(|g| match g.ips.first() {
                Some(ip) => format!("{} {ip}", g.tap),
                None => format!("{} -", g.tap),
            })
            .collect()
    }

    /// The DHCP host name of the router's guest on `tap`.
    pub fn hostname(&self, tap: &str) -> Option<String> {
        self.router
            .lock()
            .unwrap()
            .guests
            .iter()
            .find(|g| g.tap == tap)
            .and_then(|g| g.hostname.clone())
    }

    /// Give the router a guest as if an earlier hook had added it.
    pub fn preload(&self, tap: &str, mac: &str, ip: &str) {
        self.router.lock().unwrap().guests.push(GuestSpec {
            tap: tap.into(),
            mac: mac.parse().unwrap(),
            ips: vec![ip.parse().unwrap()],
            network: "public_90".into(),
            routed_prefixes: vec![],
            hostname: None,
            ipv6: None,
        });
    }

    /// `net.ipv4.conf.TAP.{proxy_arp,forwarding} = 1` in the fake sysctl tree.
    pub fn sysctls_on(&self, tap: &str) {
        let conf = self.file("proc/sys/net/ipv4/conf").join(tap);
        fs::create_dir_all(&conf).unwrap();
        fs::write(conf.join("proxy_arp"), "1\n").unwrap();
        fs::write(conf.join("forwarding"), "1\n").unwrap();
    }

    pub fn sysctl(&self, tap: &str, key: &str) -> String {
        let path = self.file("proc/sys/net/ipv4/conf").join(tap).join(key);
        fs::read_to_string(path).unwrap().trim().to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("hook killed by a signal")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
