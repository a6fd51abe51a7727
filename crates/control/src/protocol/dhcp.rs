//! `show dhcp` and `explain dhcp TAP`: the DHCP server's view of each guest.

use serde::{Deserialize, Serialize};
use wire::Ipv4Addr;

/// Check a guest's host name (DHCP option 12): a DNS name (RFC 1035 2.3.4, RFC 1123
/// 2.1 characters) of at most 253 characters, e.g. Ganeti's instance name. The message
/// names the problem.
pub fn validate_hostname(name: &str) -> Result<(), String> {
    wire::dhcp::check_name(name).map_err(|e| format!("hostname {name:?} is invalid: {e}"))
}

/// The last DHCP message from a guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpLast {
    /// Its type (`DHCPDISCOVER` ...), or `unparsed`.
    pub message: String,
    /// Its transaction id.
    pub xid: u32,
    /// Milliseconds ago.
    pub ago_ms: u64,
    /// What the server did (`offered 192.0.2.10`, `refused with a NAK: ...`,
    /// `not answered: dhcp_spoofed_chaddr`).
    pub outcome: String,
    /// Whether it was answered (an OFFER or ACK) rather than refused or dropped.
    pub answered: bool,
}

/// One guest as the DHCP server sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpGuestInfo {
    /// Its tap.
    pub tap: String,
    /// Its network.
    pub network: String,
    /// Whether DHCP is on for the network.
    pub enabled: bool,
    /// The address it is offered (its first).
    #[serde(with = "super::fields::ip")]
    pub address: Ipv4Addr,
    /// Option 12.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Seconds left of its acknowledged lease, if it has one.
    #[serde(default)]
    pub lease_left_s: Option<u64>,
    /// DHCPDECLINE messages it sent.
    #[serde(default)]
    pub declines: u64,
    /// Its last message.
    #[serde(default)]
    pub last: Option<DhcpLast>,
}

/// Messages received and sent, all guests together.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpTotals {
    /// (`received`/`sent`, message type, count).
    pub messages: Vec<(String, String, u64)>,
    /// Drops by DHCP reason over all guest ports: (reason, count).
    pub drops: Vec<(String, u64)>,
}

/// The answer to `show dhcp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpReport {
    /// Every guest.
    pub guests: Vec<DhcpGuestInfo>,
    /// Totals.
    pub totals: DhcpTotals,
}

/// The answer to `explain dhcp TAP`: what the guest would be given, and why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpExplanation {
    /// The guest.
    pub guest: DhcpGuestInfo,
    /// What a DISCOVER from it gets now, one line per fact (`offer 192.0.2.10/24`,
    /// `router 192.0.2.1`, `dns 198.51.100.53`, ... or why nothing).
    pub reply: Vec<String>,
    /// Requests it may still send at once before the rate limit drops them.
    pub tokens: u32,
}
