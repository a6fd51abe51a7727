//! The node's settings for the Ganeti hooks: the environment first, then
//! `/etc/default/hvrouter` (KEY=VALUE lines, optional `export ` and quotes; parsed, never
//! sourced), then the built-in defaults.
//!
//! | key | meaning | default |
//! | --- | --- | --- |
//! | `HVROUTER_NETWORK` | hvrouter network of every routed NIC of this node | the NIC's `LINK` |
//! | `HVROUTER_SOCKET` | the router's control socket | `/run/hvrouter/control.sock` |
//!
//! For tests only: `HVROUTER_DEFAULTS` (the defaults file), `HVROUTER_PROC_SYS` (root of
//! the sysctl tree) and `HVROUTER_SYSLOG` (the syslog socket; empty: no syslog).

use std::path::{Path, PathBuf};

use super::env::Vars;
use crate::cli::DEFAULT_SOCKET;

/// The defaults file.
pub const DEFAULTS_FILE: &str = "/etc/default/hvrouter";

/// Settings from the environment and the defaults file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `HVROUTER_NETWORK`, if set.
    pub network: Option<String>,
    /// The control socket.
    pub socket: PathBuf,
    /// Root of the sysctl tree (`/proc/sys`).
    pub proc_sys: PathBuf,
    /// The syslog socket, `None` for no syslog.
    pub syslog: Option<PathBuf>,
    /// Problems with the settings, for the log.
    pub warnings: Vec<String>,
}

/// `KEY=VALUE` pairs of a defaults file, in order.
pub fn parse_defaults(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| {
                value
                    .strip_prefix(*q)
                    .and_then(|v| v.strip_suffix(*q))
                    .filter(|_| value.len() >= 2)
            })
            .unwrap_or(value);
        out.push((key.trim().to_string(), value.to_string()));
    }
    out
}

impl Settings {
    /// Settings from the environment, the defaults file's text (if it could be read) and
    /// `socket_flag` (`--socket`, which wins over everything).
    pub fn resolve(vars: &Vars, defaults: Option<&str>, socket_flag: Option<PathBuf>) -> Settings {
        let file = defaults.map(parse_defaults).unwrap_or_default();
        let lookup = |key: &str| -> Option<String> {
            vars.get(key).map(str::to_string).or_else(|| {
                file.iter()
                    .rev()
                    .find(|(k, v)| k == key && !v.is_empty())
                    .map(|(_, v)| v.clone())
            })
        };
        let mut warnings = Vec::new();
        let socket = match socket_flag {
            Some(s) => s,
            None => match lookup("HVROUTER_SOCKET") {
                Some(s) if Path::new(&s).is_absolute() => PathBuf::from(s),
                Some(s) => {
                    warnings.push(format!(
                        "ignoring HVROUTER_SOCKET={}: not an absolute path",
                        super::env::shown(&s)
                    ));
                    PathBuf::from(DEFAULT_SOCKET)
                }
                None => PathBuf::from(DEFAULT_SOCKET),
            },
        };
        let syslog = match vars.get_raw("HVROUTER_SYSLOG") {
            Some("") => None,
            Some(p) => Some(PathBuf::from(p)),
            None => Some(PathBuf::from("/dev/log")),
        };
        Settings {
            network: lookup("HVROUTER_NETWORK"),
            socket,
            proc_sys: vars
                .get("HVROUTER_PROC_SYS")
                .map_or_else(|| PathBuf::from("/proc/sys"), PathBuf::from),
            syslog,
            warnings,
        }
    }

    /// Settings read from the process: the defaults file at `HVROUTER_DEFAULTS` or
    /// [`DEFAULTS_FILE`] (a missing file is normal).
    pub fn load(vars: &Vars, socket_flag: Option<PathBuf>) -> Settings {
        let path = vars
            .get("HVROUTER_DEFAULTS")
            .map_or_else(|| PathBuf::from(DEFAULTS_FILE), PathBuf::from);
        let (text, warning) = match std::fs::read_to_string(&path) {
            Ok(t) => (Some(t), None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
            Err(e) => (None, Some(format!("cannot read {}: {e}", path.display()))),
        };
        let mut s = Settings::resolve(vars, text.as_deref(), socket_flag);
        s.warnings.extend(warning);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_lines() {
        let text = "# comment\nDAEMON_OPTS=\"--x\"\nexport HVROUTER_NETWORK=\"vlan90\"\n\
                    HVROUTER_SOCKET='/run/alt.sock'\nnot a setting\n  HVROUTER_X = y \n";
        assert_eq!(
            parse_defaults(text),
            [
                ("DAEMON_OPTS".to_string(), "--x".to_string()),
                ("HVROUTER_NETWORK".into(), "vlan90".into()),
                ("HVROUTER_SOCKET".into(), "/run/alt.sock".into()),
                ("HVROUTER_X".into(), "y".into()),
            ]
        );
    }

    #[test]
    fn environment_wins_over_the_file_and_the_flag_over_both() {
        let file = "HVROUTER_NETWORK=vlan90\nHVROUTER_SOCKET=/run/file.sock\n";
        let vars = Vars::from_pairs([("HVROUTER_SYSLOG", "")]);
        let s = Settings::resolve(&vars, Some(file), None);
        assert_eq!(s.network.as_deref(), Some("vlan90"));
        assert_eq!(s.socket, Path::new("/run/file.sock"));
        assert_eq!(s.syslog, None);
        let vars = Vars::from_pairs([
            ("HVROUTER_NETWORK", "public_80"),
            ("HVROUTER_SOCKET", "/run/env.sock"),
        ]);
        let s = Settings::resolve(&vars, Some(file), None);
        assert_eq!(s.network.as_deref(), Some("public_80"));
        assert_eq!(s.socket, Path::new("/run/env.sock"));
        assert_eq!(s.syslog.as_deref(), Some(Path::new("/dev/log")));
        let s = Settings::resolve(&vars, Some(file), Some("/run/flag.sock".into()));
        assert_eq!(s.socket, Path::new("/run/flag.sock"));
    }

    #[test]
    fn relative_socket_is_ignored_with_a_warning() {
        let vars = Vars::from_pairs([("HVROUTER_SOCKET", "control.sock")]);
        let s = Settings::resolve(&vars, None, None);
        assert_eq!(s.socket, Path::new(DEFAULT_SOCKET));
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert_eq!(s.network, None);
    }
}
