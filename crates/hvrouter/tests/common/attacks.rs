//! Hostile guests and captures: scripts/attacks/*.py (scapy) run in the lab's
//! namespaces, in the foreground or until their stdin closes.

use std::process::{Child, Command, Output, Stdio};

use super::{root, Lab};

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
