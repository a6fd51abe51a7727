//! `ganeti sync-guests`: the up hook for every routed NIC running on this node, from a
//! `gnt-instance list` taken on the master. For the cut-over from the kernel setup (the
//! running instances' hooks ran before hvrouter was there) and after losing the router's
//! state.
//!
//! Input lines: `name|pnode|nic.modes|nic.links|nic.ips|nic.macs|tags`, lists
//! comma-separated (`gnt-instance list --no-headers --separator='|' -o ...`). The tap of
//! NIC I of instance X is Ganeti's runtime file `<run_dir>/nic/X/I`; instances without it
//! are not running here and are skipped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::env::{shown, Vars};
use super::nic::{self, LazyClient, EXIT_OK};
use super::report::Reporter;
use super::settings::Settings;

/// `sync-guests` options.
#[derive(Debug, Clone)]
pub struct Options {
    /// This node's Ganeti name (`None`: `hostname --fqdn`).
    pub node: Option<String>,
    /// Only print.
    pub dry_run: bool,
    /// Ganeti's KVM runtime directory.
    pub run_dir: PathBuf,
}

/// One routed NIC of an instance whose primary node is this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedNic {
    /// Instance name.
    pub instance: String,
    /// NIC index.
    pub index: usize,
    /// `nic.links` item.
    pub link: String,
    /// `nic.ips` item, `None` for `-`, `None`, or empty.
    pub ip: Option<String>,
    /// `nic.macs` item.
    pub mac: String,
    /// The instance's tags.
    pub tags: Vec<String>,
}

/// An instance name safe to use as a path component: letters, digits, `.`, `-`, not
/// starting with `.` or `-`.
fn valid_instance_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// The routed NICs of `node`'s instances in a listing, and warnings about lines skipped.
pub fn parse_listing(text: &str, node: &str) -> (Vec<ListedNic>, Vec<String>) {
    let mut nics = Vec::new();
    let mut warnings = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() != 7 {
            warnings.push(format!(
                "skipping a line with {} fields, expected 7: {}",
                f.len(),
                shown(line)
            ));
            continue;
        }
        let (name, pnode) = (f[0], f[1]);
        if pnode != node {
            continue;
        }
        if !valid_instance_name(name) {
            warnings.push(format!(
                "skipping instance {}: not a valid instance name",
                shown(name)
            ));
            continue;
        }
        let item = |list: &str, i: usize| list.split(',').nth(i).unwrap_or("").to_string();
        let tags: Vec<String> = f[6]
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        for (index, mode) in f[2].split(',').enumerate() {
            if mode != "routed" {
                continue;
            }
            let ip = item(f[4], index);
            nics.push(ListedNic {
                instance: name.to_string(),
                index,
                link: item(f[3], index),
                ip: (!matches!(ip.as_str(), "" | "-" | "None" | "none")).then_some(ip),
                mac: item(f[5], index),
                tags: tags.clone(),
            });
        }
    }
    (nics, warnings)
}

/// The environment Ganeti's `ConfigureNIC` would give this NIC's up hook.
pub fn hook_vars(nic: &ListedNic, tap: &str) -> Vars {
    let index = nic.index.to_string();
    let tags = nic.tags.join(" ");
    let mut pairs = vec![
        ("MODE", "routed"),
        ("INTERFACE", tap),
        ("INSTANCE", nic.instance.as_str()),
        ("INTERFACE_INDEX", index.as_str()),
        ("MAC", nic.mac.as_str()),
        ("TAGS", tags.as_str()),
        ("LINK", nic.link.as_str()),
    ];
    if let Some(ip) = &nic.ip {
        pairs.push(("IP", ip.as_str()));
    }
    Vars::from_pairs(pairs)
}

fn tap_of(run_dir: &Path, nic: &ListedNic) -> Option<String> {
    let path = run_dir
        .join("nic")
        .join(&nic.instance)
        .join(nic.index.to_string());
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn hostname_fqdn() -> Option<String> {
    let out = Command::new("hostname").arg("--fqdn").output().ok()?;
    let name = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !name.is_empty()).then_some(name)
}

/// Run `sync-guests` with the listing on stdin. 0 if every NIC was synced, 1 if any
/// failed, 2 if the input or the node name could not be had.
pub fn run(opts: &Options, settings: &Settings, rep: &Reporter) -> u8 {
    let Some(node) = opts.node.clone().or_else(hostname_fqdn) else {
        rep.error("cannot find this node's name (hostname --fqdn failed): give --node NAME");
        return nic::EXIT_INVALID;
    };
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        rep.error(&format!("cannot read the instance listing on stdin: {e}"));
        return nic::EXIT_INVALID;
    }
    let (nics, warnings) = parse_listing(&text, &node);
    for w in warnings {
        rep.warn(&w);
    }
    let mut ctl = LazyClient::new(settings.socket.clone());
    let (mut synced, mut failed) = (0, 0);
    for n in &nics {
        let Some(tap) = tap_of(&opts.run_dir, n) else {
            rep.warn(&format!(
                "{} NIC {}: no tap recorded in {}/nic/{}/{}: not running here?",
                n.instance,
                n.index,
                opts.run_dir.display(),
                n.instance,
                n.index
            ));
            continue;
        };
        if opts.dry_run {
            println!(
                "would add: {} nic {} tap {} ip {} mac {} link {}",
                n.instance,
                n.index,
                shown(&tap),
                shown(n.ip.as_deref().unwrap_or("")),
                shown(&n.mac),
                shown(&n.link)
            );
            continue;
        }
        if nic::up_with(&hook_vars(n, &tap), settings, rep, &mut ctl) == EXIT_OK {
            synced += 1;
        } else {
            failed += 1;
        }
    }
    if !opts.dry_run {
        rep.info(&format!(
            "node {}: {synced} routed NICs synced, {failed} failed",
            shown(&node)
        ));
    }
    u8::from(failed > 0)
}
