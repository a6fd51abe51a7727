//! The Debian package: `scripts/package.sh` builds it around the binary this test run
//! built (no second compile), `dpkg -i` installs it, and the installed files, conffiles,
//! binary, default configuration and unit are checked; then it is removed and purged and
//! nothing may be left.
//!
//! The install test needs root and a Debian system, and refuses (skips) when an
//! `hvrouter` package or any of its files is already on the machine, so that it never
//! clobbers a real install. What it installed is purged on drop, even when it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn cmd(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = cmd(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Paths the package owns or its maintainer scripts create: none may exist before the
/// test (a hand install would be overwritten) and none after the purge.
const PACKAGE_PATHS: [&str; 9] = [
    "/usr/sbin/hvrouter",
    "/usr/share/man/man8/hvrouter.8.gz",
    "/lib/systemd/system/hvrouter.service",
    "/etc/hvrouter",
    "/etc/default/hvrouter",
    "/usr/lib/hvrouter",
    "/usr/share/doc/hvrouter",
    "/var/lib/hvrouter",
    "/etc/systemd/system/multi-user.target.wants/hvrouter.service",
];

/// dpkg's status of the hvrouter package ("" when dpkg does not know it).
fn dpkg_status() -> String {
    let out = cmd("dpkg-query", &["-W", "-f=${Status}", "hvrouter"]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Why the install test cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    let uid = cmd("id", &["-u"]);
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("needs root (dpkg -i)".into());
    }
    for tool in ["dpkg", "dpkg-deb", "dpkg-query"] {
        if !have(tool) {
            return Some(format!("{tool} is missing: not a Debian system"));
        }
    }
    if !have("systemd-analyze") {
        return Some(
            "systemd-analyze is missing (scripts/install-deps.sh installs systemd)".into(),
        );
    }
    let status = dpkg_status();
    if !status.is_empty() && status != "unknown ok not-installed" {
        return Some(format!(
            "an hvrouter package is already on this machine ({status}): not touching it"
        ));
    }
    if let Some(p) = PACKAGE_PATHS.iter().find(|p| Path::new(p).exists()) {
        return Some(format!(
            "{p} exists (an hvrouter installed by hand?): not touching it"
        ));
    }
    None
}

/// The package, installed by this test: purged on drop whatever happened.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let status = dpkg_status();
        if !status.is_empty() && status != "unknown ok not-installed" {
            let out = cmd("dpkg", &["--purge", "hvrouter"]);
            if !out.status.success() {
                eprintln!(
                    "cleanup: dpkg --purge hvrouter failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// Build the .deb around the binary cargo built for this test.
fn build_package(out_dir: &Path) -> PathBuf {
    let out = Command::new(repo().join("scripts/package.sh"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_hvrouter"))
        .arg("--out")
        .arg(out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "package.sh failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = PathBuf::from(stdout.lines().last().unwrap_or("").trim());
    assert!(deb.is_file(), "package.sh printed {deb:?}");
    deb
}

/// Files under scripts/ganeti (relative paths) and whether each is executable.
fn ganeti_files(dir: &Path, rel: &Path, out: &mut Vec<(PathBuf, bool)>) {
    for entry in std::fs::read_dir(dir.join(rel)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let swap = name.starts_with('.') && name.ends_with(".swp");
        if name == "__pycache__" || name.ends_with(".pyc") || name.ends_with('~') || swap {
            continue;
        }
        let path = rel.join(&*name);
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            ganeti_files(dir, &path, out);
        } else {
            out.push((path, meta.permissions().mode() & 0o111 != 0));
        }
    }
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .permissions()
        .mode()
        & 0o7777
}

/// The conffile the package installs passes `check-config` and configures no network:
/// a fresh install takes over no interface even if someone starts it.
#[test]
fn default_config_is_valid_and_takes_over_nothing() {
    let config = repo().join("packaging/debian/hvrouter.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_hvrouter"))
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.ends_with("ok (0 networks, 0 guests)\n"), "{stdout}");
}

#[test]
fn package_installs_checks_and_purges_cleanly() {
    if let Some(why) = unavailable() {
        eprintln!("SKIP package_installs_checks_and_purges_cleanly: {why}");
        return;
    }
    let work = std::env::temp_dir().join(format!("hvr-package-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let ganeti = repo().join("scripts/ganeti");
    let mut hooks = Vec::new();
    ganeti_files(&ganeti, Path::new(""), &mut hooks);
    let deb = build_package(&work);
    let deb_s = deb.to_str().unwrap();
    assert_eq!(
        ok("dpkg-deb", &["-f", deb_s, "Package", "Version"]),
        format!("Package: hvrouter\nVersion: {VERSION}\n")
    );
    // Debian's package checker, where it is installed (scripts/install-deps.sh does not
    // install it: it is large).
    if have("lintian") {
        let out = cmd("lintian", &[deb_s]);
        let text = String::from_utf8_lossy(&out.stdout);
        let tags: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
            .collect();
        assert!(tags.is_empty(), "lintian:\n{}", tags.join("\n"));
    }

    // Install.
    let installed = Installed;
    let out = ok("dpkg", &["-i", deb_s]);
    assert!(
        out.contains("NOT enabled and NOT started"),
        "postinst must say the unit is not enabled:\n{out}"
    );
    assert_eq!(dpkg_status(), "install ok installed");

    // Files and modes.
    assert_eq!(mode("/usr/sbin/hvrouter"), 0o755);
    assert_eq!(mode("/lib/systemd/system/hvrouter.service"), 0o644);
    assert_eq!(
        std::fs::read("/lib/systemd/system/hvrouter.service").unwrap(),
        std::fs::read(repo().join("packaging/systemd/hvrouter.service")).unwrap()
    );
    assert_eq!(mode("/etc/hvrouter/hvrouter.toml"), 0o644);
    assert_eq!(mode("/usr/share/man/man8/hvrouter.8.gz"), 0o644);
    for doc in ["OPERATIONS.md", "README.md", "example.toml", "copyright"] {
        assert!(
            Path::new("/usr/share/doc/hvrouter").join(doc).is_file(),
            "{doc} not installed"
        );
    }
    assert!(!hooks.is_empty(), "scripts/ganeti is empty");
    for (rel, exec) in &hooks {
        if rel == Path::new("hvrouter.default") {
            assert_eq!(
                std::fs::read("/etc/default/hvrouter").unwrap(),
                std::fs::read(ganeti.join(rel)).unwrap()
            );
            continue;
        }
        let installed = Path::new("/usr/lib/hvrouter/ganeti").join(rel);
        let m = mode(installed.to_str().unwrap());
        assert_eq!(
            m,
            if *exec { 0o755 } else { 0o644 },
            "{}",
            installed.display()
        );
    }

    // Conffiles, and the unit not enabled.
    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "hvrouter"]);
    assert!(
        conffiles.contains(" /etc/hvrouter/hvrouter.toml "),
        "{conffiles}"
    );
    if ganeti.join("hvrouter.default").exists() {
        assert!(conffiles.contains(" /etc/default/hvrouter "), "{conffiles}");
    }
    if have("systemctl") {
        let enabled = cmd("systemctl", &["is-enabled", "hvrouter.service"]);
        assert_eq!(String::from_utf8_lossy(&enabled.stdout).trim(), "disabled");
    }

    // The installed binary and its default configuration.
    assert_eq!(
        ok("/usr/sbin/hvrouter", &["--version"]),
        format!("hvrouter {VERSION}\n")
    );
    assert_eq!(
        ok(
            "/usr/sbin/hvrouter",
            &["check-config", "/etc/hvrouter/hvrouter.toml"]
        ),
        "/etc/hvrouter/hvrouter.toml: ok (0 networks, 0 guests)\n"
    );

    // systemd accepts the unit as installed (ExecStart= etc. now exist).
    let verify = cmd(
        "systemd-analyze",
        &["verify", "/lib/systemd/system/hvrouter.service"],
    );
    let complaints = String::from_utf8_lossy(&verify.stderr).into_owned();
    assert!(
        verify.status.success() && !complaints.contains("hvrouter.service:"),
        "systemd-analyze verify: {}\n{complaints}",
        verify.status
    );

    // An edited conffile survives reinstalling the package.
    let mut text = std::fs::read_to_string("/etc/hvrouter/hvrouter.toml").unwrap();
    text.push_str("# edited by the operator\n");
    std::fs::write("/etc/hvrouter/hvrouter.toml", &text).unwrap();
    ok("dpkg", &["-i", deb_s]);
    assert_eq!(
        std::fs::read_to_string("/etc/hvrouter/hvrouter.toml").unwrap(),
        text
    );

    // What the router and the operator leave behind: state, an enabled unit.
    std::fs::create_dir_all("/var/lib/hvrouter").unwrap();
    std::fs::write("/var/lib/hvrouter/state.json", "{}\n").unwrap();
    let wants = "/etc/systemd/system/multi-user.target.wants/hvrouter.service";
    if have("systemctl") {
        ok("systemctl", &["enable", "hvrouter.service"]);
        assert!(Path::new(wants).exists(), "systemctl enable made no link");
    }

    // Remove: the program goes, configuration and state stay.
    ok("dpkg", &["--remove", "hvrouter"]);
    assert!(!Path::new("/usr/sbin/hvrouter").exists());
    assert!(!Path::new("/lib/systemd/system/hvrouter.service").exists());
    assert!(!Path::new("/usr/lib/hvrouter").exists());
    assert!(Path::new("/etc/hvrouter/hvrouter.toml").exists());
    assert!(Path::new("/var/lib/hvrouter/state.json").exists());
    assert_eq!(dpkg_status(), "deinstall ok config-files");

    // Purge: nothing left.
    ok("dpkg", &["--purge", "hvrouter"]);
    let left: Vec<&str> = PACKAGE_PATHS
        .iter()
        .copied()
        .filter(|p| Path::new(p).symlink_metadata().is_ok())
        .collect();
    assert!(left.is_empty(), "left after purge: {left:?}");
    let status = dpkg_status();
    assert!(
        status.is_empty() || status == "unknown ok not-installed",
        "dpkg still knows hvrouter: {status}"
    );
    drop(installed);
    std::fs::remove_dir_all(&work).unwrap();
}
