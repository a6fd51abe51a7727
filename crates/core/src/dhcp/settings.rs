//! What a network's DHCP server hands out besides the address: DNS servers, domain,
//! search list, lease time. Validated once, at configuration time, so that every reply
//! fits the size a client must accept.

use std::collections::BTreeMap;

use wire::dhcp::{self, LeaseTimes, NameError};
use wire::Ipv4Addr;

/// Default lease time: one week, as nfdhcpd (`DEFAULT_LEASE_LIFETIME = 604800`).
pub const DEFAULT_LEASE_TIME: u32 = 604_800;
/// Renewal (T1) is at most this many seconds, as nfdhcpd's `DEFAULT_LEASE_RENEWAL`
/// (10 minutes): a guest checks back often, so a configuration change reaches it soon,
/// while its lease outlives a long router outage.
pub const MAX_RENEWAL_TIME: u32 = 600;
/// Shortest lease accepted, in seconds.
pub const MIN_LEASE_TIME: u32 = 60;
/// Most DNS servers (as resolv.conf's MAXNS).
pub const MAX_DNS_SERVERS: usize = 3;
/// Longest host name (option 12): a DNS name (RFC 1035 2.3.4), e.g. Ganeti's fully
/// qualified instance name.
pub const MAX_HOSTNAME_LEN: usize = 253;
/// The host name length the configuration's size check counts on (one label, RFC 1123
/// 2.1). A longer one still goes out: a reply that would not fit the client's size
/// leaves the search list, then the domain, out (see `reply::fit`).
pub const BUDGET_HOSTNAME_LEN: usize = 63;

/// Per-network DHCP settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpSettings {
    /// Whether guests of the network are answered.
    pub enabled: bool,
    /// Option 6.
    pub dns_servers: Vec<Ipv4Addr>,
    /// Option 15.
    pub domain: Option<String>,
    /// Option 119, as configured.
    pub search: Vec<String>,
    /// Option 51, seconds.
    pub lease_time: u32,
    /// `search` in wire form (RFC 1035 names), built by [`DhcpSettings::new`].
    search_wire: Vec<u8>,
}

impl Default for DhcpSettings {
    /// On, with nothing but the address, mask, router, MTU and lease (see
    /// `configs/example.toml` for why on is the default).
    fn default() -> Self {
        DhcpSettings {
            enabled: true,
            dns_servers: Vec::new(),
            domain: None,
            search: Vec::new(),
            lease_time: DEFAULT_LEASE_TIME,
            search_wire: Vec::new(),
        }
    }
}

/// Why settings are refused. Messages name the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// More than [`MAX_DNS_SERVERS`].
    #[error("{0} DNS servers: at most {MAX_DNS_SERVERS} are sent (as resolv.conf reads)")]
    TooManyDnsServers(usize),
    /// A DNS server that is not a unicast host address.
    #[error("DNS server {0} is not a unicast address")]
    DnsNotUnicast(Ipv4Addr),
    /// The domain is not a valid name.
    #[error("domain {name:?} is invalid: {why}")]
    BadDomain {
        /// As given.
        name: String,
        /// Why.
        why: NameError,
    },
    /// A search-list entry is not a valid name.
    #[error("search domain {name:?} is invalid: {why}")]
    BadSearch {
        /// As given.
        name: String,
        /// Why.
        why: NameError,
    },
    /// Lease time below [`MIN_LEASE_TIME`].
    #[error("lease_time {0} is too short: at least {MIN_LEASE_TIME} seconds")]
    LeaseTooShort(u32),
    /// The largest reply would not fit the 576-byte message every client accepts.
    #[error(
        "the domain and search list take {used} bytes of options: replies with a 63-character \
         host name must fit the 576-byte message every client accepts (RFC 2131 section 2), \
         which leaves {budget} bytes for them"
    )]
    TooLarge {
        /// Bytes the domain and search options take.
        used: usize,
        /// Bytes they may take.
        budget: usize,
    },
}

/// Why a host name is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("hostname {name:?} is invalid: {why}")]
pub struct HostnameError {
    /// As given.
    pub name: String,
    /// Why.
    pub why: HostnameProblem,
}

/// What is wrong with a host name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostnameProblem {
    /// Not a DNS name.
    #[error("{0}")]
    Name(NameError),
}

/// Check a guest's host name (option 12): a DNS name of at most [`MAX_HOSTNAME_LEN`]
/// characters (the instance name Ganeti passes, e.g. `vm1.example.org`).
pub fn check_hostname(name: &str) -> Result<(), HostnameError> {
    dhcp::check_name(name).map_err(|e| HostnameError {
        name: name.to_string(),
        why: HostnameProblem::Name(e),
    })
}

/// Option bytes of the largest reply without domain and search list: the fixed options
/// (53, 54, 51, 58, 59, 1, 3, 26, 28, End), the most DNS servers and a one-label host
/// name.
const FIXED_OPTIONS: usize =
    3 + 6 + 18 + 6 + 6 + 4 + 6 + 1 + (2 + 4 * MAX_DNS_SERVERS) + (2 + BUDGET_HOSTNAME_LEN);

impl DhcpSettings {
    /// Validated settings. `search` is encoded once, here.
    pub fn new(
        enabled: bool,
        dns_servers: Vec<Ipv4Addr>,
        domain: Option<String>,
        search: Vec<String>,
        lease_time: u32,
    ) -> Result<DhcpSettings, SettingsError> {
        if dns_servers.len() > MAX_DNS_SERVERS {
            return Err(SettingsError::TooManyDnsServers(dns_servers.len()));
        }
        if let Some(bad) = dns_servers.iter().find(|ip| {
            ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || ip.octets()[0] == 0
        }) {
            return Err(SettingsError::DnsNotUnicast(*bad));
        }
        if let Some(d) = &domain {
            dhcp::check_name(d).map_err(|why| SettingsError::BadDomain {
                name: d.clone(),
                why,
            })?;
        }
        let mut search_wire = Vec::new();
        for s in &search {
            dhcp::encode_domain_search(&[s], &mut search_wire).map_err(|why| {
                SettingsError::BadSearch {
                    name: s.clone(),
                    why,
                }
            })?;
        }
        if lease_time < MIN_LEASE_TIME {
            return Err(SettingsError::LeaseTooShort(lease_time));
        }
        let budget = dhcp::DEFAULT_MAX_MESSAGE - dhcp::MIN_LEN - FIXED_OPTIONS;
        let opt = |n: usize| if n == 0 { 0 } else { n + 2 * n.div_ceil(255) };
        let used = domain.as_ref().map_or(0, |d| opt(d.len())) + opt(search_wire.len());
        if used > budget {
            return Err(SettingsError::TooLarge { used, budget });
        }
        Ok(DhcpSettings {
            enabled,
            dns_servers,
            domain,
            search,
            lease_time,
            search_wire,
        })
    }

    /// The same settings, switched off.
    pub fn disabled() -> DhcpSettings {
        DhcpSettings {
            enabled: false,
            ..DhcpSettings::default()
        }
    }

    /// Option 119's bytes (empty: not sent).
    pub fn search_wire(&self) -> &[u8] {
        &self.search_wire
    }

    /// Lease, renewal and rebinding times. T1 is half the lease capped at
    /// [`MAX_RENEWAL_TIME`] (nfdhcpd's 10 minutes); T2 is 7/8 of the lease, RFC 2131
    /// section 4.4.5's default ("T2 defaults to (0.875 * duration_of_lease)").
    pub fn lease_times(&self) -> LeaseTimes {
        let lease = self.lease_time;
        LeaseTimes {
            lease,
            renewal: (lease / 2).min(MAX_RENEWAL_TIME),
            rebinding: (u64::from(lease) * 7 / 8) as u32,
        }
    }
}

/// DHCP settings of every network, by network name; networks not listed get
/// `default`. Part of [`crate::router::RouterConfig`], replaced on reload
/// ([`crate::router::Router::set_dhcp_config`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhcpConfig {
    /// Per network name.
    pub networks: BTreeMap<String, DhcpSettings>,
    /// For networks not in `networks`.
    pub default: DhcpSettings,
}

impl DhcpConfig {
    /// The settings of network `name`.
    pub fn for_network(&self, name: &str) -> &DhcpSettings {
        self.networks.get(name).unwrap_or(&self.default)
    }
}
