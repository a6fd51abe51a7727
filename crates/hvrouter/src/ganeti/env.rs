//! Ganeti's NIC environment, parsed into a typed [`NicEnv`].
//!
//! Ganeti runs its NIC scripts with the NIC in the environment. `hv_base.ConfigureNIC`
//! (released 2.16-3.1.1 and master) builds it as:
//!
//! ```text
//! PATH INSTANCE MAC MODE INTERFACE INTERFACE_INDEX INTERFACE_UUID TAGS   always
//! IP INTERFACE_NAME LINK VLAN                                           when set
//! NETWORK_NAME NETWORK_UUID NETWORK_TAGS                                NIC on a Ganeti network
//! NETWORK_SUBNET NETWORK_GATEWAY NETWORK_SUBNET6 NETWORK_GATEWAY6
//! NETWORK_MAC_PREFIX                                                    when the network has them
//! BRIDGE                                                                bridged NICs
//! ACTION (up/down), MIGRATION_PHASE (pre/post)                          master only
//! ```
//!
//! Only the variables a decision needs are parsed strictly; an empty value counts as
//! absent (Ganeti passes `TAGS=""` and `NETWORK_TAGS=""`). Every error names the variable
//! and shows its value only when it is safe to print ([`shown`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv6Addr};

use hvrouter_control::protocol::{
    parse_ip, parse_mac, parse_prefix, parse_prefix6, validate_ifname,
};
use ipnet::{Ipv4Net, Ipv6Net};
use wire::{EthernetAddress, Ipv4Addr};

/// Ganeti's instance-communication taps (`net-common`'s `GANETI_TAP`): `gnt.com.N`.
const COMMUNICATION_TAP: &str = "gnt.com";

/// A variable is missing or does not hold what Ganeti would put there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A variable every NIC script gets is not set.
    #[error("{var} is not set: not run by Ganeti's NIC set-up?")]
    Missing {
        /// The variable.
        var: &'static str,
    },
    /// A variable holds something invalid.
    #[error("{var}={value}: {why}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value, as [`shown`].
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A routed NIC without an IPv4 address and without NETWORK_SUBNET6: hvrouter would
    /// give it no network.
    #[error(
        "this routed NIC has no IPv4 address{} and its network has no NETWORK_SUBNET6: \
         hvrouter would give it no network (refusing to bring the NIC up without one)",
        match ipv6 { Some(a) => format!(" (IP={a} is IPv6)"), None => " (IP is not set)".into() }
    )]
    NoIpv4 {
        /// The tap.
        tap: String,
        /// The IPv6 address Ganeti gave, if any.
        ipv6: Option<String>,
    },
    /// The environment holds a value that is not UTF-8.
    #[error("{var} is not valid UTF-8")]
    NotUtf8 {
        /// The variable.
        var: String,
    },
}

impl EnvError {
    pub(crate) fn invalid(var: &'static str, value: &str, why: impl Into<String>) -> EnvError {
        EnvError::Invalid {
            var,
            value: shown(value),
            why: why.into(),
        }
    }
}

/// `value` if it is safe to put in a log line (no control characters, no blanks, not
/// too long), else a placeholder: environment content is never echoed raw.
pub fn shown(value: &str) -> String {
    if value.is_empty() {
        "(empty)".into()
    } else if value.len() > 128 {
        "(too long)".into()
    } else if value
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || !c.is_ascii())
    {
        format!("{value:?}").chars().take(140).collect()
    } else {
        value.to_string()
    }
}

/// The environment as given, with lookups that treat an empty value as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// The process environment. Values that are not UTF-8 are an error only when a
    /// variable this module reads holds one.
    pub fn from_os(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Result<Vars, EnvError> {
        let mut map = BTreeMap::new();
        for (k, v) in vars {
            let (Some(k), v) = (k.to_str(), v.into_string()) else {
                continue;
            };
            match v {
                Ok(v) => {
                    map.insert(k.to_string(), v);
                }
                Err(_) if KNOWN.contains(&k) => {
                    return Err(EnvError::NotUtf8 { var: k.to_string() })
                }
                Err(_) => {}
            }
        }
        Ok(Vars(map))
    }

    /// Variables from pairs (tests, `sync-guests`).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vars {
        Vars(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The value of `var` as set, empty or not.
    pub fn get_raw(&self, var: &str) -> Option<&str> {
        self.0.get(var).map(String::as_str)
    }

    /// The value of `var`, `None` when unset or empty.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.0
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Variables whose content this module reads.
const KNOWN: &[&str] = &[
    "ACTION",
    "INSTANCE",
    "INTERFACE",
    "IP",
    "LINK",
    "MAC",
    "MIGRATION_PHASE",
    "MODE",
    "NETWORK_GATEWAY",
    "NETWORK_GATEWAY6",
    "NETWORK_NAME",
    "NETWORK_SUBNET",
    "NETWORK_SUBNET6",
    "TAGS",
    "HVROUTER_NETWORK",
    "HVROUTER_SOCKET",
];

/// Ganeti's NIC mode (`nicparams.mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `routed`: the NIC hvrouter serves.
    Routed,
    /// `bridged`.
    Bridged,
    /// `openvswitch`.
    OpenVswitch,
    /// Anything else (`ext` on master, future modes).
    Other(String),
}

impl Mode {
    fn parse(s: &str) -> Mode {
        match s {
            "routed" => Mode::Routed,
            "bridged" => Mode::Bridged,
            "openvswitch" => Mode::OpenVswitch,
            other => Mode::Other(other.to_string()),
        }
    }
}

/// Which side of a live migration the target node is on (master's `MIGRATION_PHASE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationPhase {
    /// Before the memory copy: the guest still runs on the source node.
    Pre,
    /// After it: the guest runs here now.
    Post,
}

/// The hook's direction (master's `ACTION`, or which hook file ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// The tap was created or configured: attach the guest.
    Up,
    /// The tap is going away: detach the guest.
    Down,
}

/// What Ganeti says about the NIC's network (`Network.HooksDict`), for sanity checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GanetiNetwork {
    /// `NETWORK_NAME`.
    pub name: Option<String>,
    /// `NETWORK_SUBNET`, if it parses as an IPv4 prefix.
    pub subnet: Option<Ipv4Net>,
    /// `NETWORK_GATEWAY`, if it parses as an IPv4 address.
    pub gateway: Option<Ipv4Addr>,
    /// `NETWORK_SUBNET6` (`Network.network6`, e.g. `2001:db8:90::/64`): the NIC gets the
    /// EUI-64 address of its MAC in it, as gnt-networking's `mac2eui64` computes it.
    pub subnet6: Option<Ipv6Net>,
    /// `NETWORK_GATEWAY6` (`Network.gateway6`).
    pub gateway6: Option<Ipv6Addr>,
}

/// The NIC, as far as the decisions need it. The fields beyond `mode` and `interface`
/// are parsed only for routed NICs (the others are Ganeti's own business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicEnv {
    /// `MODE`.
    pub mode: Mode,
    /// `INTERFACE`: the tap, checked with the router's interface-name rule.
    pub interface: String,
    /// `INSTANCE`, as given (the guest's DHCP host name; [`shown`] in messages).
    pub instance: Option<String>,
    /// `ACTION`, when Ganeti passes it.
    pub action: Option<Direction>,
    /// `MIGRATION_PHASE`, when Ganeti passes it.
    pub phase: Option<MigrationPhase>,
    /// `MAC`.
    pub mac: Option<EthernetAddress>,
    /// `IP` (Ganeti allows one address per NIC).
    pub ip: Option<IpAddr>,
    /// `LINK`.
    pub link: Option<String>,
    /// `TAGS`: the instance's tags, blank-separated.
    pub tags: Vec<String>,
    /// `NETWORK_*`.
    pub network: GanetiNetwork,
}

impl NicEnv {
    /// Whether the tap is Ganeti's instance-communication tap (`gnt.com.N` on a routed
    /// NIC, as `net-common`'s `is_instance_communication_tap` decides).
    pub fn is_instance_communication(&self) -> bool {
        self.mode == Mode::Routed
            && self
                .interface
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join(".")
                == COMMUNICATION_TAP
    }

    /// Parse the NIC. `MODE` and `INTERFACE` are required for every NIC; for a routed
    /// one, every variable present must be valid (`strict`), else only `MAC` is read
    /// when it parses (down hooks use it to recognise their guest).
    pub fn parse(vars: &Vars, strict: bool) -> Result<NicEnv, EnvError> {
        let mode = Mode::parse(vars.get("MODE").ok_or(EnvError::Missing { var: "MODE" })?);
        let interface = vars
            .get("INTERFACE")
            .ok_or(EnvError::Missing { var: "INTERFACE" })?;
        check_ifname(interface)?;
        let mut nic = NicEnv {
            mode,
            interface: interface.to_string(),
            instance: vars.get("INSTANCE").map(str::to_string),
            action: None,
            phase: None,
            mac: None,
            ip: None,
            link: None,
            tags: Vec::new(),
            network: GanetiNetwork::default(),
        };
        if nic.mode != Mode::Routed || nic.is_instance_communication() {
            return Ok(nic);
        }
        nic.action = match vars.get("ACTION") {
            None => None,
            Some(v) => pick(strict, parse_action(v))?,
        };
        nic.phase = match vars.get("MIGRATION_PHASE") {
            None => None,
            Some(v) => pick(strict, parse_phase(v))?,
        };
        nic.mac = match vars.get("MAC") {
            None => None,
            Some(v) => pick(
                strict,
                parse_mac(v).map_err(|why| EnvError::invalid("MAC", v, why)),
            )?,
        };
        nic.ip = match vars.get("IP") {
            None => None,
            Some(v) => pick(strict, parse_any_ip(v))?,
        };
        nic.link = vars.get("LINK").map(str::to_string);
        nic.tags = vars
            .get("TAGS")
            .map(|t| t.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        // The IPv6 side is acted on (the guest gets an address in subnet6): strict.
        let subnet6 = match vars.get("NETWORK_SUBNET6") {
            None => None,
            Some(v) => pick(
                strict,
                parse_prefix6(v).map_err(|why| EnvError::invalid("NETWORK_SUBNET6", v, why)),
            )?,
        };
        let gateway6 = match vars.get("NETWORK_GATEWAY6") {
            None => None,
            Some(v) => pick(
                strict,
                v.parse::<Ipv6Addr>()
                    .map_err(|_| EnvError::invalid("NETWORK_GATEWAY6", v, "not an IPv6 address")),
            )?,
        };
        nic.network = GanetiNetwork {
            name: vars.get("NETWORK_NAME").map(str::to_string),
            subnet: vars
                .get("NETWORK_SUBNET")
                .and_then(|s| s.parse::<Ipv4Net>().ok()),
            gateway: vars.get("NETWORK_GATEWAY").and_then(|s| parse_ip(s).ok()),
            subnet6,
            gateway6,
        };
        Ok(nic)
    }
}

/// A parsed optional variable: an error when `strict`, else dropped.
fn pick<T>(strict: bool, r: Result<T, EnvError>) -> Result<Option<T>, EnvError> {
    if strict {
        r.map(Some)
    } else {
        Ok(r.ok())
    }
}

/// The router's interface-name rule (`validate_ifname`: the kernel's `dev_valid_name`),
/// narrowed to what Ganeti names taps (`tap%d` from the kernel, `gnt.com.%d`): letters,
/// digits, `.`, `_`, `-`, no leading `-` (never read as an option of `ip`). Shell
/// metacharacters never reach a log line or a command.
pub fn check_ifname(name: &str) -> Result<(), EnvError> {
    validate_ifname(name).map_err(|why| EnvError::invalid("INTERFACE", name, why))?;
    let odd = |c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if name.starts_with('-') || name.contains(odd) {
        return Err(EnvError::invalid(
            "INTERFACE",
            name,
            "refused: Ganeti's taps are named like tap0 or gnt.com.0 (letters, digits, \
             '.', '_', '-', not starting with '-')",
        ));
    }
    Ok(())
}

fn parse_action(v: &str) -> Result<Direction, EnvError> {
    match v {
        "up" => Ok(Direction::Up),
        "down" => Ok(Direction::Down),
        _ => Err(EnvError::invalid("ACTION", v, "expected up or down")),
    }
}

fn parse_phase(v: &str) -> Result<MigrationPhase, EnvError> {
    match v {
        "pre" => Ok(MigrationPhase::Pre),
        "post" => Ok(MigrationPhase::Post),
        _ => Err(EnvError::invalid(
            "MIGRATION_PHASE",
            v,
            "expected pre or post",
        )),
    }
}

/// An IPv4 address (router rule: dotted quad, no leading zeros) or an IPv6 one, so that
/// an IPv6 NIC gets its own message rather than "invalid".
fn parse_any_ip(v: &str) -> Result<IpAddr, EnvError> {
    if v.contains(':') {
        return v
            .parse::<std::net::Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| EnvError::invalid("IP", v, "not an IPv4 or IPv6 address"));
    }
    parse_ip(v)
        .map(IpAddr::V4)
        .map_err(|why| EnvError::invalid("IP", v, why))
}

/// The routed prefixes the instance's tags give the NIC on hvrouter network `network`:
/// `hvrouter:prefix:P` (every routed NIC) and `hvrouter:prefix:NET:P` (only the NIC on
/// NET), P an IPv4 or an IPv6 prefix. A malformed `hvrouter:prefix:` tag is an error
/// naming TAGS; other tags are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagPrefixes {
    /// IPv4 prefixes.
    pub v4: Vec<Ipv4Net>,
    /// IPv6 prefixes (the NIC needs an IPv6 side: `NETWORK_SUBNET6`).
    pub v6: Vec<Ipv6Net>,
}

/// See [`TagPrefixes`].
pub fn tag_prefixes(tags: &[String], network: &str) -> Result<TagPrefixes, EnvError> {
    const HINT: &str = "expected hvrouter:prefix:PREFIX or hvrouter:prefix:NETWORK:PREFIX, \
                        PREFIX like 203.0.113.0/28 or 2001:db8:1::/48";
    let mut out = TagPrefixes::default();
    for tag in tags {
        let Some(rest) = tag.strip_prefix("hvrouter:prefix:") else {
            continue;
        };
        // The whole rest is a prefix (an IPv6 one holds colons), or NETWORK:PREFIX
        // (network names hold no colon).
        let whole = rest.parse::<Ipv4Net>().is_ok() || rest.parse::<Ipv6Net>().is_ok();
        let prefix = if whole {
            rest
        } else {
            match rest.split_once(':') {
                Some((net, p)) if net == network => p,
                // Another network's NIC.
                Some((net, p)) if !net.is_empty() && p.contains('/') => continue,
                _ => return Err(EnvError::invalid("TAGS", tag, HINT)),
            }
        };
        if prefix.contains(':') {
            let p = parse_prefix6(prefix).map_err(|why| EnvError::invalid("TAGS", tag, why))?;
            if !out.v6.contains(&p) {
                out.v6.push(p);
            }
        } else {
            let p = parse_prefix(prefix).map_err(|why| EnvError::invalid("TAGS", tag, why))?;
            if !out.v4.contains(&p) {
                out.v4.push(p);
            }
        }
    }
    Ok(out)
}
