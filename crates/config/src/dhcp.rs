//! The DHCP keys: `dhcp`, `dns_servers`, `domain`, `search`, `lease_time` of
//! `[networks.NAME]` and `hostname` of `[guests.TAP]`. The rules are the core's
//! ([`DhcpSettings::new`], [`check_hostname`]); their errors are reported at the value
//! they are about.

use hvrouter_core::dhcp::{check_hostname, DhcpSettings, SettingsError};

use crate::check::Checker;
use crate::networks::unique_list;
use crate::raw::{RawGuest, RawNetwork};

/// The network's DHCP settings (defaults: on, no DNS, no domain, no search list, one
/// week's lease); `None` after reporting a problem.
pub(crate) fn settings(c: &mut Checker<'_>, raw: &RawNetwork, key: &str) -> Option<DhcpSettings> {
    let k = |field: &str| format!("{key}.{field}");
    let defaults = DhcpSettings::default();
    let enabled = raw.dhcp.as_ref().map_or(defaults.enabled, |v| *v.get_ref());
    let empty = Vec::new();
    let dns_raw = raw.dns_servers.as_ref().map_or(&empty, |v| v.get_ref());
    let dns = unique_list(c, dns_raw, &k("dns_servers"), |c, v, key| c.ipv4(v, key));
    let search_raw = raw.search.as_ref().map_or(&empty, |v| v.get_ref());
    let lease = match &raw.lease_time {
        Some(v) => c.int::<u32>(v, &k("lease_time"), 60..=i64::from(u32::MAX)),
        None => Some(defaults.lease_time),
    };
    let (Some(dns), Some(lease)) = (dns, lease) else {
        return None;
    };
    let domain = raw.domain.as_ref().map(|v| v.get_ref().clone());
    let search: Vec<String> = search_raw.iter().map(|v| v.get_ref().clone()).collect();
    let dns_ips = dns.iter().map(|(ip, _)| *ip).collect();
    match DhcpSettings::new(enabled, dns_ips, domain, search, lease) {
        Ok(s) => Some(s),
        Err(e) => {
            let whole = |v: &Option<toml::Spanned<Vec<toml::Spanned<String>>>>| {
                v.as_ref().map(|v| v.span())
            };
            let (span, field) = match &e {
                SettingsError::TooManyDnsServers(_) => (whole(&raw.dns_servers), "dns_servers"),
                SettingsError::DnsNotUnicast(ip) => (
                    dns.iter()
                        .find(|(x, _)| x == ip)
                        .map(|(_, s)| s.clone())
                        .or_else(|| whole(&raw.dns_servers)),
                    "dns_servers",
                ),
                SettingsError::BadDomain { .. } => {
                    (raw.domain.as_ref().map(|v| v.span()), "domain")
                }
                SettingsError::BadSearch { name, .. } => (
                    search_raw
                        .iter()
                        .find(|v| v.get_ref() == name)
                        .map(|v| v.span()),
                    "search",
                ),
                SettingsError::LeaseTooShort(_) => {
                    (raw.lease_time.as_ref().map(|v| v.span()), "lease_time")
                }
                SettingsError::TooLarge { .. } => match whole(&raw.search) {
                    Some(s) => (Some(s), "search"),
                    None => (raw.domain.as_ref().map(|v| v.span()), "domain"),
                },
            };
            let span = span.unwrap_or_else(|| raw.uplink.span());
            c.report(span, &k(field), e.to_string());
            None
        }
    }
}

/// The guest's `hostname`: `Some(None)` when absent, `None` after reporting a problem.
pub(crate) fn hostname(c: &mut Checker<'_>, raw: &RawGuest, key: &str) -> Option<Option<String>> {
    let Some(v) = &raw.hostname else {
        return Some(None);
    };
    match check_hostname(v.get_ref()) {
        Ok(()) => Some(Some(v.get_ref().clone())),
        Err(e) => {
            c.report(v.span(), &format!("{key}.hostname"), e.to_string());
            None
        }
    }
}
