//! Shared helpers of the configuration tests.

#![allow(dead_code)]

use hvrouter_config::{Config, ConfigError, Problem};

/// A valid configuration that every rule test changes in one place.
pub const BASE: &str = r#"[router]
control_socket = "/run/hvrouter/control.sock"
state_dir = "/var/lib/hvrouter"
log_level = "info"

[dataplane]
xdp_mode = "auto"
workers = 1
poll = "busy"
cpus = [1]
burst = 64
frame_size = 4096
frames = 4096

[icmp]
rate_per_sec = 100
burst = 50

[networks.public_90]
uplink = "bond0.90"
subnet = "192.0.2.0/24"
gateway = "192.0.2.1"
mtu = 1500
arp_source = "192.0.2.254"
guest_mac = "fe:ff:ff:ff:ff:ff"

[networks.public_80]
uplink = "bond0.80"
subnet = "198.51.100.0/24"
gateway = "198.51.100.1"

[guests.tap1]
mac = "52:54:00:00:00:01"
ips = ["192.0.2.10"]
network = "public_90"
routed_prefixes = ["203.0.113.0/28"]

[guests.tap3]
mac = "52:54:00:00:00:03"
ips = ["192.0.2.30", "192.0.2.31"]
network = "public_90"

[announce]
count = 3
interval_ms = 1000
"#;

/// Name the test texts are reported under.
pub const ORIGIN: &str = "configs/x.toml";

/// `BASE` with `old` (which must occur exactly once) replaced by `new`.
pub fn edit(old: &str, new: &str) -> String {
    assert_eq!(
        BASE.matches(old).count(),
        1,
        "{old:?} must occur once in BASE"
    );
    BASE.replacen(old, new, 1)
}

/// 1-based line of the first occurrence of `needle` in `text`.
pub fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    1 + text[..at].matches('\n').count()
}

/// The problems of an invalid text (panics if it is valid).
pub fn problems(text: &str) -> Vec<Problem> {
    match Config::parse_str(text, ORIGIN) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(ConfigError::Invalid(p)) => {
            assert!(!p.is_empty());
            p
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// Parse a text that must be valid.
pub fn valid(text: &str) -> Config {
    Config::parse_str(text, ORIGIN)
        .unwrap_or_else(|e| panic!("unexpected error:\n{e}\nin:\n{text}"))
}

/// Replace `old` by `new` in `BASE` and expect exactly one problem, on the line where
/// `at` first occurs in the edited text, under `key`, with exactly `message`.
pub fn rejects(old: &str, new: &str, at: &str, key: &str, message: &str) {
    let text = edit(old, new);
    let p = problems(&text);
    assert_eq!(p.len(), 1, "expected one problem, got {p:#?}");
    let p = &p[0];
    let line = line_of(&text, at);
    assert_eq!(
        (p.line, p.key.as_str(), p.message.as_str()),
        (Some(line), key, message),
        "full: {p}"
    );
    assert_eq!(p.to_string(), format!("{ORIGIN}:{line}: {key}: {message}"));
}
