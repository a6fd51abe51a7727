//! Faults: VM restarts (a guest's tap or veth deleted and recreated, through
//! scripts/lab.sh), background commands.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Lab;

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

    /// Create a veth guest's pair (scripts/lab.sh `veth-guest`): `dev` in the hypervisor
    /// namespace, guest `guest`'s eth0 with `mac` and `addr`, default via the gateway.
    pub fn create_veth_guest(&self, guest: &str, dev: &str, mac: &str, addr: &str) {
        self.script_ok("veth-guest", &[guest, dev, mac, addr]);
        if self.fast_path() {
            let out = self.exec(guest, &["ethtool", "-K", "eth0", "gro", "on"]);
            assert!(out.status.success(), "gro on in {guest}: {out:?}");
        }
    }

    /// Stop the relay that plays guest 3's QEMU: both taps disappear (a VM shutdown;
    /// scripts/lab.sh `tap-guest-down`).
    pub fn stop_tap_guest(&self) {
        self.script_ok("tap-guest-down", &[]);
    }

    /// Start guest 3's relay again (a VM boot): new taps with the same names, the guest
    /// configured as at the start (scripts/lab.sh `tap-guest`; `down` stops the relay).
    pub fn start_tap_guest(&self) {
        self.script_ok("tap-guest", &[]);
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
    /// summary) and wait for it to end. A command that keeps running gets SIGTERM after
    /// 5 s, then SIGKILL: a process started from a shell's background job inherits SIGINT
    /// ignored, and one that sets no handler of its own (busybox udhcpc) never sees it.
    pub fn kill_spawned(&mut self, index: usize) {
        let child = &mut self.servers[index];
        let pid = child.id().to_string();
        for signal in ["-INT", "-TERM"] {
            let _ = Command::new("kill").args([signal, &pid]).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.kill();
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
