//! The file as written: every value with its byte span, nothing interpreted yet.
//!
//! Values that need parsing (addresses, MACs, choices) are kept as strings and numbers as
//! `i64`, so that validation can say what is wrong in its own words and point at the
//! exact value. Unknown keys are rejected here (`deny_unknown_fields`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A spanned value.
pub(crate) type S<T> = Spanned<T>;
/// A table keyed by name, with the spans of the keys.
pub(crate) type Named<T> = BTreeMap<S<String>, S<T>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) router: Option<S<RawRouter>>,
    #[serde(default)]
    pub(crate) dataplane: Option<S<RawDataplane>>,
    #[serde(default)]
    pub(crate) icmp: Option<S<RawIcmp>>,
    #[serde(default)]
    pub(crate) announce: Option<S<RawAnnounce>>,
    #[serde(default)]
    pub(crate) networks: Named<RawNetwork>,
    #[serde(default)]
    pub(crate) guests: Named<RawGuest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouter {
    pub(crate) control_socket: Option<S<String>>,
    pub(crate) state_dir: Option<S<String>>,
    pub(crate) metrics_listen: Option<S<String>>,
    pub(crate) log_level: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDataplane {
    pub(crate) xdp_mode: Option<S<String>>,
    pub(crate) workers: Option<S<i64>>,
    pub(crate) poll: Option<S<String>>,
    pub(crate) cpus: Option<S<Vec<S<i64>>>>,
    pub(crate) burst: Option<S<i64>>,
    pub(crate) frame_size: Option<S<i64>>,
    pub(crate) frames: Option<S<i64>>,
    pub(crate) gso: Option<S<String>>,
    pub(crate) fast_path: Option<S<String>>,
    pub(crate) guest_xdp_mode: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIcmp {
    pub(crate) rate_per_sec: Option<S<i64>>,
    pub(crate) burst: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnnounce {
    pub(crate) count: Option<S<i64>>,
    pub(crate) interval_ms: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetwork {
    pub(crate) uplink: S<String>,
    pub(crate) subnet: S<String>,
    pub(crate) gateway: S<String>,
    pub(crate) mtu: Option<S<i64>>,
    pub(crate) arp_source: Option<S<String>>,
    pub(crate) uplink_mac: Option<S<String>>,
    pub(crate) guest_mac: Option<S<String>>,
    pub(crate) dhcp: Option<S<bool>>,
    pub(crate) dns_servers: Option<S<Vec<S<String>>>>,
    pub(crate) domain: Option<S<String>>,
    pub(crate) search: Option<S<Vec<S<String>>>>,
    pub(crate) lease_time: Option<S<i64>>,
    pub(crate) subnet6: Option<S<String>>,
    pub(crate) gateway6: Option<S<String>>,
    pub(crate) router_advertisements: Option<S<bool>>,
    pub(crate) dns_servers6: Option<S<Vec<S<String>>>>,
    pub(crate) source6: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuest {
    pub(crate) mac: S<String>,
    pub(crate) ips: S<Vec<S<String>>>,
    pub(crate) network: S<String>,
    #[serde(default)]
    pub(crate) routed_prefixes: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub(crate) hostname: Option<S<String>>,
    #[serde(default)]
    pub(crate) ip6: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub(crate) eui64: Option<S<bool>>,
    #[serde(default)]
    pub(crate) routed_prefixes6: Option<S<Vec<S<String>>>>,
}

/// Entries of a named table in file order (by the position of their key).
pub(crate) fn in_file_order<T>(table: &Named<T>) -> Vec<(&S<String>, &S<T>)> {
    let mut v: Vec<_> = table.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}
