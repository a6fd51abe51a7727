//! The control protocol: one JSON object per line over a Unix stream socket, so it can be
//! driven by hand (`socat - UNIX-CONNECT:/run/hvrouter/control.sock`).
//!
//! Every request and response carries the protocol version; a request with another
//! version is refused with a message saying which one the router speaks.
//!
//! ```text
//! > {"version":1,"op":"guest_add","tap":"tap3","mac":"52:54:00:12:34:56","ips":["192.0.2.10"],"network":"public_90"}
//! < {"version":1,"ok":{"guest_changed":{"tap":"tap3","change":"added"}}}
//! > {"version":1,"op":"guest_del","tap":"tap9"}
//! < {"version":1,"error":{"message":"..."}}
//! ```
//!
//! Requests are strict (unknown fields are refused, addresses are checked); responses are
//! read leniently by the client only in what serde allows by default.

pub mod capture;
pub mod dhcp;
mod fields;
pub mod ipv6;
mod types;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wire::Ipv4Addr;

pub use capture::{CaptureBatch, CaptureDirection, CaptureInfo, CapturedFrame};
pub use dhcp::{DhcpExplanation, DhcpGuestInfo, DhcpLast, DhcpReport, DhcpTotals};
pub use fields::{parse_ip, parse_mac, parse_prefix, parse_prefix6};
pub use ipv6::{
    Guest6Info, GuestIpv6, Ipv6NetworkInfo, Ipv6Report, Ipv6Sent, NdpExplanation, Neighbor6Row,
};
pub use types::{
    ArpExplanation, Change, CountersReport, Decision, GuestChange, GuestInfo, GuestOrigin,
    GuestSpec, NeighborInfo, NeighborState, NetworkCounters, NetworkInfo, NextHopInfo, PongInfo,
    PortCounters, PortFrames, PortInfo, PortRole, ReloadSummary, RouteInfo, RouteOrigin,
    TraceRecord, WorkerCounters,
};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u64 = 1;
/// Longest request line accepted, in bytes, not counting its newline.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;
/// Most packets one `trace` request may ask for.
pub const MAX_TRACE: u32 = 10_000;
/// Most addresses or routed prefixes of one guest.
pub const MAX_GUEST_ADDRESSES: usize = 1024;
/// Longest interface name Linux accepts (`IFNAMSIZ` - 1).
pub const MAX_IFNAME: usize = 15;

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Add a guest NIC (idempotent: the same data again changes nothing).
    GuestAdd(GuestSpec),
    /// Remove a guest NIC (idempotent: an absent guest is not an error).
    GuestDel {
        /// Its tap.
        tap: String,
    },
    /// List guests.
    GuestList,
    /// List networks.
    ShowNetworks,
    /// List routes, of one network or all.
    ShowRoutes {
        /// Only this network.
        #[serde(default)]
        network: Option<String>,
    },
    /// List neighbor (ARP cache) entries, of one network or all.
    ShowNeighbors {
        /// Only this network.
        #[serde(default)]
        network: Option<String>,
    },
    /// List ports.
    ShowPorts,
    /// All counters.
    ShowCounters,
    /// Whether the router answers who-has for `ip`, on each side, and why.
    ExplainArp {
        /// The address.
        #[serde(with = "fields::ip")]
        ip: Ipv4Addr,
        /// Only this network.
        #[serde(default)]
        network: Option<String>,
    },
    /// Whether the router answers Neighbor Solicitations for `addr`, on each side, and
    /// why (`explain ndp ADDRESS`).
    ExplainNdp {
        /// The address.
        addr: std::net::Ipv6Addr,
        /// Only this network.
        #[serde(default)]
        network: Option<String>,
    },
    /// The IPv6 side of every network, or one (`show ipv6`).
    ShowIpv6 {
        /// Only this network.
        #[serde(default)]
        network: Option<String>,
    },
    /// The DHCP server's view of every guest (`show dhcp`).
    ShowDhcp,
    /// What a guest's DHCP client gets, and why (`explain dhcp TAP`).
    ExplainDhcp {
        /// The guest's tap.
        tap: String,
    },
    /// The next `count` packets' path through the pipeline.
    Trace {
        /// How many packets (1..=[`MAX_TRACE`]).
        count: u32,
    },
    /// Start copying what ports receive and send, with the router's decisions (one
    /// capture at a time; it stops by itself when nobody reads it for a few seconds).
    CaptureStart {
        /// Only these ports (devices); empty: every port.
        #[serde(default)]
        ports: Vec<String>,
        /// Bytes kept of each frame (default: whole frames, up to
        /// [`capture::MAX_SNAPLEN`]).
        #[serde(default)]
        snaplen: Option<u32>,
        /// Size of the router's buffer (default [`capture::DEFAULT_CAPTURE_BYTES`]).
        #[serde(default)]
        max_bytes: Option<u64>,
    },
    /// The frames captured since the last read.
    CaptureRead {
        /// The capture, as `capture_start` answered.
        id: u64,
    },
    /// Stop a capture; answered with its last frames.
    CaptureStop {
        /// The capture, as `capture_start` answered.
        id: u64,
    },
    /// Re-read the configuration file and apply the difference.
    Reload,
    /// Health check: answered by the dataplane thread, so it proves the loop runs.
    Ping,
}

/// The data of a successful answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// `ping`.
    Pong(PongInfo),
    /// `guest add`, `guest del`.
    GuestChanged(GuestChange),
    /// `guest list`.
    Guests(Vec<GuestInfo>),
    /// `show networks`.
    Networks(Vec<NetworkInfo>),
    /// `show routes`.
    Routes(Vec<RouteInfo>),
    /// `show neighbors`.
    Neighbors(Vec<NeighborInfo>),
    /// `show ports`.
    Ports(Vec<PortInfo>),
    /// `show counters`.
    Counters(CountersReport),
    /// `explain arp`: one per network asked about.
    ArpExplanations(Vec<ArpExplanation>),
    /// `explain ndp`: one per network asked about.
    NdpExplanations(Vec<NdpExplanation>),
    /// `show ipv6`.
    Ipv6(Ipv6Report),
    /// `show dhcp`.
    Dhcp(DhcpReport),
    /// `explain dhcp` (boxed: the largest payload).
    DhcpExplanation(Box<DhcpExplanation>),
    /// `trace`.
    Trace(Vec<TraceRecord>),
    /// `reload`.
    Reloaded(ReloadSummary),
    /// `capture_start`.
    CaptureStarted(CaptureInfo),
    /// `capture_read`, `capture_stop`.
    Captured(CaptureBatch),
}

/// What the router answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Done; here is the data.
    Ok(Payload),
    /// Refused or failed; nothing changed unless the message says otherwise.
    Error {
        /// For the operator.
        message: String,
    },
}

impl Response {
    /// An error response.
    pub fn error(message: impl Into<String>) -> Response {
        Response::Error {
            message: message.into(),
        }
    }

    /// Whether this is `Ok`.
    pub fn is_ok(&self) -> bool {
        matches!(self, Response::Ok(_))
    }
}

/// Why a line is not a valid request (or response). Messages are for operators.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Longer than [`MAX_REQUEST_LINE`].
    #[error("request too long: more than {limit} bytes without a newline")]
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// Not JSON at all.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("expected a JSON object like {{\"version\":1,\"op\":\"ping\"}}")]
    NotObject,
    /// No `version` field.
    #[error("missing \"version\": this router speaks protocol version {PROTOCOL_VERSION}")]
    MissingVersion,
    /// A version this build does not speak.
    #[error(
        "unsupported protocol version {0}: this router speaks version {PROTOCOL_VERSION} (use the hvrouter CLI of the same release)"
    )]
    UnsupportedVersion(String),
    /// Well-formed JSON that is not a valid request.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl Request {
    /// The request's `op` name, for logs.
    pub fn op(&self) -> &'static str {
        match self {
            Request::GuestAdd(_) => "guest_add",
            Request::GuestDel { .. } => "guest_del",
            Request::GuestList => "guest_list",
            Request::ShowNetworks => "show_networks",
            Request::ShowRoutes { .. } => "show_routes",
            Request::ShowNeighbors { .. } => "show_neighbors",
            Request::ShowPorts => "show_ports",
            Request::ShowCounters => "show_counters",
            Request::ExplainArp { .. } => "explain_arp",
            Request::ExplainNdp { .. } => "explain_ndp",
            Request::ShowIpv6 { .. } => "show_ipv6",
            Request::ShowDhcp => "show_dhcp",
            Request::ExplainDhcp { .. } => "explain_dhcp",
            Request::Trace { .. } => "trace",
            Request::CaptureStart { .. } => "capture_start",
            Request::CaptureRead { .. } => "capture_read",
            Request::CaptureStop { .. } => "capture_stop",
            Request::Reload => "reload",
            Request::Ping => "ping",
        }
    }

    /// Whether the request is one without fields (`{"op":"ping"}`).
    fn takes_no_fields(&self) -> bool {
        matches!(
            self,
            Request::GuestList
                | Request::ShowNetworks
                | Request::ShowPorts
                | Request::ShowCounters
                | Request::ShowDhcp
                | Request::Reload
                | Request::Ping
        )
    }

    /// Whether the request may change the router's state.
    pub fn is_mutation(&self) -> bool {
        matches!(
            self,
            Request::GuestAdd(_) | Request::GuestDel { .. } | Request::Reload
        )
    }

    /// Checks beyond the types: names, address classes, sizes. The router's tables check
    /// the rest (the network exists, the address is inside its subnet, no conflicts).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Request::GuestAdd(spec) => validate_guest(spec),
            Request::GuestDel { tap } | Request::ExplainDhcp { tap } => validate_ifname(tap),
            Request::ShowRoutes { network }
            | Request::ShowNeighbors { network }
            | Request::ExplainArp { network, .. }
            | Request::ExplainNdp { network, .. }
            | Request::ShowIpv6 { network } => match network {
                Some(n) => validate_network_name(n),
                None => Ok(()),
            },
            Request::Trace { count } if *count == 0 || *count > MAX_TRACE => Err(format!(
                "trace count {count} is out of range: it must be between 1 and {MAX_TRACE}"
            )),
            Request::CaptureStart {
                ports,
                snaplen,
                max_bytes,
            } => capture::validate_start(ports, *snaplen, *max_bytes),
            _ => Ok(()),
        }
    }

    /// One protocol line, newline included.
    pub fn to_line(&self) -> String {
        with_version(serde_json::to_string(self))
    }

    /// Parse and validate one request line (without its newline).
    pub fn parse_line(line: &[u8]) -> Result<Request, ProtocolError> {
        if line.len() > MAX_REQUEST_LINE {
            return Err(ProtocolError::TooLong {
                limit: MAX_REQUEST_LINE,
            });
        }
        let body = versioned_body(line)?;
        let req = Request::deserialize(&body).map_err(|e| ProtocolError::Invalid(e.to_string()))?;
        // serde's `deny_unknown_fields` does not reach the unit variants of an internally
        // tagged enum: refuse `{"op":"ping","force":true}` here.
        if req.takes_no_fields() {
            if let Some(field) = body.as_object().and_then(|m| m.keys().find(|k| *k != "op")) {
                return Err(ProtocolError::Invalid(format!(
                    "unknown field `{field}`: op `{}` takes no fields",
                    req.op()
                )));
            }
        }
        req.validate().map_err(ProtocolError::Invalid)?;
        Ok(req)
    }
}

impl Response {
    /// One protocol line, newline included.
    pub fn to_line(&self) -> String {
        with_version(serde_json::to_string(self))
    }

    /// Parse one response line (no size limit: the caller bounds what it reads).
    pub fn parse_line(line: &[u8]) -> Result<Response, ProtocolError> {
        let body = versioned_body(line)?;
        serde_json::from_value(body).map_err(|e| ProtocolError::Invalid(e.to_string()))
    }
}

/// `{"version":N,` spliced in front of a serialized object, plus the newline. Our types
/// always serialize to non-empty objects; if serialization failed anyway, the line is an
/// error response saying so, which is still valid protocol.
fn with_version(json: serde_json::Result<String>) -> String {
    match json {
        Ok(s) if s.starts_with('{') && s.len() > 2 => {
            format!("{{\"version\":{PROTOCOL_VERSION},{}\n", &s[1..])
        }
        Ok(s) => error_line(&format!("internal error: cannot encode {s}")),
        Err(e) => error_line(&format!("internal error: cannot encode: {e}")),
    }
}

fn error_line(message: &str) -> String {
    let msg = Value::String(message.to_string());
    format!("{{\"version\":{PROTOCOL_VERSION},\"error\":{{\"message\":{msg}}}}}\n")
}

/// Parse a line as a JSON object, check and remove its `version`.
fn versioned_body(line: &[u8]) -> Result<Value, ProtocolError> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| ProtocolError::Json(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(ProtocolError::NotObject);
    };
    match map.remove("version") {
        None => Err(ProtocolError::MissingVersion),
        Some(Value::Number(n)) if n.as_u64() == Some(PROTOCOL_VERSION) => Ok(Value::Object(map)),
        Some(v) => Err(ProtocolError::UnsupportedVersion(v.to_string())),
    }
}

/// An interface name as Linux accepts it (`dev_valid_name` in net/core/dev.c): 1 to 15
/// bytes, not `.` or `..`, no `/`, `:` or whitespace.
pub fn validate_ifname(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > MAX_IFNAME
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        return Err(format!(
            "invalid interface name {name:?}: 1 to {MAX_IFNAME} bytes, no '/', ':' or spaces"
        ));
    }
    Ok(())
}

/// A network name: non-empty, no whitespace or control characters (as the core checks).
pub fn validate_network_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "invalid network name {name:?}: it must be non-empty, without spaces"
        ));
    }
    Ok(())
}

/// Address classes a guest can never own: "this network" 0/8 and loopback 127/8
/// (RFC 1122 3.2.1.3), multicast and class E 224/3 (RFC 1112 4), the limited broadcast.
fn guest_ip_problem(ip: Ipv4Addr) -> Option<&'static str> {
    let first = ip.octets()[0];
    if ip.is_broadcast() {
        Some("the limited broadcast address")
    } else if first == 0 {
        Some("in 0.0.0.0/8 (\"this network\", RFC 1122 3.2.1.3)")
    } else if first == 127 {
        Some("a loopback address")
    } else if first >= 224 {
        Some("multicast or reserved (224.0.0.0/3)")
    } else {
        None
    }
}

/// Checks of a guest spec beyond its types (see [`Request::validate`]).
pub fn validate_guest(spec: &GuestSpec) -> Result<(), String> {
    validate_ifname(&spec.tap)?;
    validate_network_name(&spec.network)?;
    let tap = &spec.tap;
    if !spec.mac.is_unicast() {
        return Err(format!(
            "guest {tap}: MAC {} is not a unicast address",
            spec.mac
        ));
    }
    // An IPv6-only guest (Ganeti's NIC without IP on a network with NETWORK_SUBNET6)
    // names its IPv6 side explicitly; it gets no IPv4 at all (no ARP answered for it, no
    // DHCPv4, its IPv4 frames dropped as spoofed).
    if spec.ips.is_empty() && spec.ipv6.is_none() {
        return Err(format!(
            "guest {tap}: at least one IP address is required (an IPv6-only guest needs \
             its IPv6 side given: --ip6 or --eui64)"
        ));
    }
    if spec.ips.len() > MAX_GUEST_ADDRESSES || spec.routed_prefixes.len() > MAX_GUEST_ADDRESSES {
        return Err(format!(
            "guest {tap}: too many addresses or prefixes (at most {MAX_GUEST_ADDRESSES} each)"
        ));
    }
    for &ip in &spec.ips {
        if let Some(problem) = guest_ip_problem(ip) {
            return Err(format!("guest {tap}: {ip} is {problem}"));
        }
    }
    if let Some(h) = &spec.hostname {
        dhcp::validate_hostname(h).map_err(|e| format!("guest {tap}: {e}"))?;
    }
    if let Some(v6) = &spec.ipv6 {
        v6.validate().map_err(|e| format!("guest {tap}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
