//! The node-local part of a routed NIC's up: the kernel must neither proxy-answer ARP nor
//! forward for the guest (the router does both; the kernel doing it too is how the old
//! setup failed open, and forwarding with the router stopped would route guest packets
//! through the main table), and the tap must be up (Ganeti's own routed set-up, which
//! the hook replaces, brought it up).

use std::path::Path;
use std::process::Command;

/// Prepare `tap`: `net.ipv4.conf.<tap>.{proxy_arp,forwarding} = 0` under `proc_sys` (when
/// the entries exist) and `ip link set dev <tap> up` (`ip` from PATH, as Ganeti's scripts
/// run it). Returns the problems, for the log; none of them stops the hook: the router
/// decides whether it can serve the tap.
pub fn prepare(tap: &str, proc_sys: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let conf = proc_sys.join("net/ipv4/conf").join(tap);
    for key in ["proxy_arp", "forwarding"] {
        let path = conf.join(key);
        if path.is_file() {
            if let Err(e) = std::fs::write(&path, "0\n") {
                problems.push(format!("{tap}: cannot write 0 to {}: {e}", path.display()));
            }
        }
    }
    match Command::new("ip")
        .args(["link", "set", "dev", tap, "up"])
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => problems.push(format!(
            "{tap}: ip link set up failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => problems.push(format!("{tap}: cannot run ip(8): {e}; tap left as it is")),
    }
    problems
}
