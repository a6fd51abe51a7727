//! Many guests: 250 veth guests, each in its own namespace, the router on
//! default dataplane settings (no `frames` key): every guest reaches the gateway and the
//! gateway every guest, and no port is short of frames. And a guest the UMEM cannot
//! serve is refused at `guest add` with the fix, never attached without frames.
//!
//! The lab is scripts/bench/scale-lab.sh (namespaces `hvr-sc<pid><t>-*`, built with
//! `ip -batch`), removed on drop even when a test fails. Needs root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::skip_unless_lab;

/// One router at a time: each polls a core.
static SERIAL: Mutex<()> = Mutex::new(());

struct ScaleLab {
    tag: String,
    guests: u32,
    dir: PathBuf,
    router: Option<Child>,
}

impl ScaleLab {
    /// Builds `guests` guests and starts the router on the configuration the lab script
    /// prints (`frames`: a `dataplane.frames` value; `listed`: guests in the file).
    fn up(t: char, guests: u32, frames: Option<u32>, listed: u32) -> ScaleLab {
        let tag = format!("sc{}{t}", std::process::id() % 10000);
        let dir = std::env::temp_dir().join(format!("hvr-scale-{tag}"));
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let mut lab = ScaleLab {
            tag,
            guests,
            dir,
            router: None,
        };
        let out = lab.script(&["up", &lab.tag.clone(), &guests.to_string()]);
        assert!(
            out.status.success(),
            "scale-lab.sh up: {}",
            text(&out.stderr)
        );
        let frames = frames.map(|f| f.to_string()).unwrap_or_default();
        let run = lab.dir.join("run");
        let out = lab.script(&[
            "config",
            &lab.tag.clone(),
            &guests.to_string(),
            run.to_str().unwrap(),
            &frames,
            &listed.to_string(),
        ]);
        assert!(
            out.status.success(),
            "scale-lab.sh config: {}",
            text(&out.stderr)
        );
        let config = lab.dir.join("router.toml");
        std::fs::write(&config, &out.stdout).unwrap();
        let err = lab.dir.join("router.err");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns("hv")])
            .arg(env!("CARGO_BIN_EXE_hvrouter"))
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        lab.router = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !lab.log().contains("event=started") {
            if let Some(status) = lab.router.as_mut().unwrap().try_wait().unwrap() {
                panic!("router exited ({status}) before starting:\n{}", lab.log());
            }
            assert!(
                Instant::now() < deadline,
                "router did not start:\n{}",
                lab.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        lab
    }

    fn script(&self, args: &[&str]) -> Output {
        Command::new(common::root().join("scripts/bench/scale-lab.sh"))
            .args(args)
            .output()
            .unwrap()
    }

    fn ns(&self, n: &str) -> String {
        format!("hvr-{}-{n}", self.tag)
    }

    /// "TAP MAC IP" of guest `i`.
    fn guest(&self, i: u32) -> (String, String, String) {
        let out = self.script(&["guest", &i.to_string()]);
        let line = text(&out.stdout);
        let mut f = line.split_whitespace().map(str::to_string);
        (f.next().unwrap(), f.next().unwrap(), f.next().unwrap())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("router.err")).unwrap_or_default()
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hvrouter"))
            .arg("--socket")
            .arg(self.dir.join("run/control.sock"))
            .args(args)
            .output()
            .unwrap()
    }

    fn ping(&self, from: &str, to: &str) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(from), "ping", "-q", "-c", "1"])
            .args(["-i", "0.2", "-w", "4", to])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Guests (of `which`) that do not reach the gateway, and that the gateway does not
    /// reach: pings run 25 guests at a time.
    fn unreachable(&self, which: &[u32]) -> (Vec<u32>, Vec<u32>) {
        let (mut out, mut inb) = (Vec::new(), Vec::new());
        for chunk in which.chunks(25) {
            let pings: Vec<(u32, Child, Child)> = chunk
                .iter()
                .map(|&i| {
                    let (_, _, ip) = self.guest(i);
                    let g = format!("g{i}");
                    (i, self.ping(&g, "192.0.2.1"), self.ping("gw", &ip))
                })
                .collect();
            for (i, mut o, mut n) in pings {
                if !o.wait().unwrap().success() {
                    out.push(i);
                }
                if !n.wait().unwrap().success() {
                    inb.push(i);
                }
            }
        }
        (out, inb)
    }
}

impl Drop for ScaleLab {
    fn drop(&mut self) {
        if let Some(mut child) = self.router.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.script(&["down", &self.tag.clone()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn two_hundred_fifty_guests_reach_and_are_reached_on_default_settings() {
    skip_unless_lab!();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = ScaleLab::up('a', 250, None, 250);
    let all: Vec<u32> = (1..=lab.guests).collect();
    let (out, inb) = lab.unreachable(&all);
    assert!(
        out.is_empty() && inb.is_empty(),
        "guests that cannot reach the gateway: {out:?}\nguests the gateway cannot reach: \
         {inb:?}\nrouter:\n{}",
        lab.log()
    );
    // Every port holds frames, none is short of them, and nobody warned.
    let ports = lab.cli(&["show", "ports", "--json"]);
    assert!(ports.status.success(), "{}", text(&ports.stderr));
    let json = text(&ports.stdout);
    assert_eq!(json.matches("\"starved\": false").count(), 251, "{json}");
    assert_eq!(json.matches("\"starved\": true").count(), 0, "{json}");
    let log = lab.log();
    for bad in [
        "event=port_no_frames",
        "event=guest_rejected",
        "event=umem_grown",
    ] {
        assert!(!log.contains(bad), "{bad} in the router's log:\n{log}");
    }
    // The UMEM stayed at its default: 16384 frames of 4096 bytes.
    assert!(log.contains("pinned_bytes=67108864"), "{log}");
}

#[test]
fn a_guest_the_umem_cannot_serve_is_refused_with_the_fix() {
    skip_unless_lab!();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 256 frames: the uplink's floor (32) and a quarter kept free leave room for the
    // floors of 20 guests (8 frames each).
    let lab = ScaleLab::up('b', 24, Some(256), 0);
    let mut refused = None;
    for i in 1..=lab.guests {
        let (tap, mac, ip) = lab.guest(i);
        let out = lab.cli(&[
            "guest",
            "add",
            "--tap",
            &tap,
            "--mac",
            &mac,
            "--network",
            "public_90",
            "--ip",
            &ip,
        ]);
        if !out.status.success() {
            refused = Some((i, text(&out.stderr) + &text(&out.stdout)));
            break;
        }
    }
    let (first_refused, message) = refused.expect("some guest add was refused");
    assert_eq!(first_refused, 21, "20 guests fit: {message}");
    assert!(message.contains("no frame memory"), "{message}");
    assert!(
        message.contains("dataplane.frames = 512"),
        "the error names the fix: {message}"
    );
    // The refused guest is not there; the admitted ones all have their network.
    let list = text(&lab.cli(&["guest", "list"]).stdout);
    assert!(!list.contains("hvr-g21 "), "{list}");
    let admitted: Vec<u32> = (1..=20).collect();
    let (out, inb) = lab.unreachable(&admitted);
    assert!(
        out.is_empty() && inb.is_empty(),
        "unreachable: {out:?} {inb:?}\n{}",
        lab.log()
    );
    assert!(!lab.log().contains("event=port_no_frames"), "{}", lab.log());
}
