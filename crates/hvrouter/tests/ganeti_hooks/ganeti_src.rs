//! Ganeti's own NIC scripts, taken from a Ganeti git repository at test time (never
//! copied into this tree) and "installed" into a temporary directory the way Ganeti's
//! Makefile.am does it: `@PKGLIBDIR@` replaced, the `@SHELL_ENV_INIT@` line replaced by
//! the shell-env-init block, whose `GANETI_ROOTDIR` override Ganeti keeps for its own
//! tests (so `CONF_DIR` is `$GANETI_ROOTDIR/etc/ganeti`).
//!
//! The repository is `$HVROUTER_GANETI_REPO`, else the project's mirror
//! `/work/.mirror/ganeti+ganeti/repo`; without it these tests skip with a message.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::node::write_script;

/// The released version whose `kvm-ifup` execs `kvm-vif-bridge`.
pub const RELEASED: &str = "v3.1.1";
/// The branch with `kvm-nic-setup`.
pub const MASTER: &str = "master";

fn repo() -> Option<PathBuf> {
    let repo = std::env::var_os("HVROUTER_GANETI_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/.mirror/ganeti+ganeti/repo"));
    repo.exists().then_some(repo)
}

fn show(rev: &str, path: &str) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo()?)
        .args(["show", &format!("{rev}:{path}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Ganeti's scripts of one revision, installed in a temporary tree.
#[derive(Debug)]
pub struct Installed {
    /// `PKGLIBDIR` (`/usr/lib/ganeti` on a node): net-common, kvm-ifup or kvm-nic-setup.
    pub pkglib: PathBuf,
    /// `GANETI_ROOTDIR`: `CONF_DIR` is `<root>/etc/ganeti`.
    pub root: PathBuf,
}

impl Installed {
    /// `CONF_DIR`, `/etc/ganeti` on a node.
    pub fn conf_dir(&self) -> PathBuf {
        self.root.join("etc/ganeti")
    }

    /// Install `hook` (path under scripts/ganeti) as `CONF_DIR/<name>` by a symbolic
    /// link, as the runbook does.
    pub fn link_hook(&self, hook: &str, name: &str) {
        let dest = self.conf_dir().join(name);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(super::node::hooks_dir().join(hook), dest).unwrap();
    }
}

/// Install `tools` (e.g. `kvm-ifup`) of `rev` with `net-common` under `dir`, or say why
/// not.
pub fn install(dir: &Path, rev: &str, tools: &[&str]) -> Result<Installed, String> {
    if repo().is_none() {
        return Err(
            "no Ganeti repository (set HVROUTER_GANETI_REPO to a ganeti/ganeti clone)".into(),
        );
    }
    let pkglib = dir.join(format!("ganeti-{rev}/usr/lib/ganeti"));
    let root = dir.join(format!("ganeti-{rev}/root"));
    fs::create_dir_all(&pkglib).unwrap();
    fs::create_dir_all(root.join("etc/ganeti")).unwrap();
    // Makefile.am's $(SHELL_ENV_INIT), with localstatedir /var, sysconfdir /etc.
    let env_init = format!(
        "# Allow overriding for tests\n\
         readonly LOCALSTATEDIR=${{LOCALSTATEDIR:-${{GANETI_ROOTDIR:-}}/var}}\n\
         readonly SYSCONFDIR=${{SYSCONFDIR:-${{GANETI_ROOTDIR:-}}/etc}}\n\n\
         readonly PKGLIBDIR={pkglib}\n\
         readonly LOG_DIR=\"$LOCALSTATEDIR/log/ganeti\"\n\
         readonly RUN_DIR=\"$LOCALSTATEDIR/run/ganeti\"\n\
         readonly DATA_DIR=\"$LOCALSTATEDIR/lib/ganeti\"\n\
         readonly CONF_DIR=\"$SYSCONFDIR/ganeti\"\n",
        pkglib = pkglib.display()
    );
    for tool in std::iter::once(&"net-common").chain(tools) {
        let text = show(rev, &format!("tools/{tool}.in"))
            .ok_or_else(|| format!("tools/{tool}.in not found at {rev}"))?;
        let text: String = text
            .lines()
            .map(|l| {
                if l == "@SHELL_ENV_INIT@" {
                    env_init.clone()
                } else {
                    format!("{}\n", l.replace("@PKGLIBDIR@", pkglib.to_str().unwrap()))
                }
            })
            .collect();
        write_script(&pkglib.join(tool), &text);
    }
    Ok(Installed { pkglib, root })
}
