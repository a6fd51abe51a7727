//! Checks of single values: each parses or range-checks one spanned value and, when it
//! is wrong, records a problem at that value's line under its key.

use core::ops::{Range, RangeInclusive};
use std::path::PathBuf;

use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr};

use crate::error::Problem;
use crate::locate::Source;
use crate::raw::S;

/// Linux `IFNAMSIZ` (16) minus the terminating NUL.
pub const MAX_IFNAME_LEN: usize = 15;
/// Longest path a unix socket can bind: `sizeof(sun_path)` (108) minus the NUL.
pub const MAX_SOCKET_PATH_LEN: usize = 107;

/// Collects problems while the configuration is checked.
#[derive(Debug)]
pub(crate) struct Checker<'a> {
    pub(crate) src: Source<'a>,
    pub(crate) problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(src: Source<'a>) -> Self {
        Checker {
            src,
            problems: Vec::new(),
        }
    }

    /// Record a problem at `span` under `key`.
    pub(crate) fn report(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let p = self.src.problem(span, key, message);
        self.problems.push(p);
    }

    /// An integer within `range`, converted to `T`.
    pub(crate) fn int<T: TryFrom<i64>>(
        &mut self,
        v: &S<i64>,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Option<T> {
        let n = *v.get_ref();
        if !range.contains(&n) {
            let field = last_segment(key);
            self.report(
                v.span(),
                key,
                format!(
                    "{n} is out of range: {field} must be between {} and {}",
                    range.start(),
                    range.end()
                ),
            );
            return None;
        }
        // In range, so the conversion only fails if the caller's range is wider than `T`.
        match T::try_from(n) {
            Ok(t) => Some(t),
            Err(_) => {
                self.report(v.span(), key, format!("{n} is out of range"));
                None
            }
        }
    }

    /// One of the named `choices`.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        v: &S<String>,
        key: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let given = v.get_ref().as_str();
        if let Some(&(_, t)) = choices.iter().find(|(name, _)| *name == given) {
            return Some(t);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        self.report(
            v.span(),
            key,
            format!("{given:?} is not one of: {}", names.join(", ")),
        );
        None
    }

    /// An IPv4 address in dotted-quad form.
    pub(crate) fn ipv4(&mut self, v: &S<String>, key: &str) -> Option<Ipv4Addr> {
        match v.get_ref().trim().parse::<Ipv4Addr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let hint = if v.get_ref().contains('/') {
                    " (write the address without a prefix length)"
                } else {
                    ""
                };
                self.report(
                    v.span(),
                    key,
                    format!("{:?} is not an IPv4 address{hint}", v.get_ref()),
                );
                None
            }
        }
    }

    /// An IPv4 prefix like `192.0.2.0/24`. Host bits are checked by the core rules.
    pub(crate) fn prefix(&mut self, v: &S<String>, key: &str) -> Option<Ipv4Net> {
        match v.get_ref().trim().parse::<Ipv4Net>() {
            Ok(p) => Some(p),
            Err(_) => {
                self.report(
                    v.span(),
                    key,
                    format!(
                        "{:?} is not an IPv4 prefix: expected ADDRESS/LENGTH, e.g. 192.0.2.0/24",
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// A unicast MAC address like `02:00:00:00:00:0a`.
    pub(crate) fn mac(&mut self, v: &S<String>, key: &str) -> Option<EthernetAddress> {
        let Ok(mac) = v.get_ref().trim().parse::<EthernetAddress>() else {
            self.report(
                v.span(),
                key,
                format!(
                    "{:?} is not a MAC address: expected six hex octets like 02:00:00:00:00:0a",
                    v.get_ref()
                ),
            );
            return None;
        };
        if !mac.is_unicast() {
            let what = if mac == EthernetAddress::ZERO {
                "all zeros"
            } else if mac.is_broadcast() {
                "the broadcast address"
            } else {
                "a multicast address (the low bit of the first octet is set)"
            };
            self.report(
                v.span(),
                key,
                format!("{mac} is not a unicast MAC address: it is {what}"),
            );
            return None;
        }
        Some(mac)
    }

    /// A Linux network interface name (the kernel's `dev_valid_name`).
    pub(crate) fn ifname(&mut self, name: &str, span: Range<usize>, key: &str) -> bool {
        match ifname_error(name) {
            None => true,
            Some(why) => {
                self.report(
                    span,
                    key,
                    format!(
                        "interface name {name:?} is invalid: {why} (Linux interface names are \
                         1 to {MAX_IFNAME_LEN} bytes, without '/', ':' or whitespace)"
                    ),
                );
                false
            }
        }
    }

    /// An absolute filesystem path of at most `max_len` bytes (if given).
    pub(crate) fn abs_path(
        &mut self,
        v: &S<String>,
        key: &str,
        max_len: Option<usize>,
    ) -> Option<PathBuf> {
        let s = v.get_ref();
        let why = if !s.starts_with('/') {
            Some(format!("{s:?} is not an absolute path"))
        } else if s.ends_with('/') && s.len() > 1 && max_len.is_some() {
            Some(format!("{s:?} names a directory, not a socket file"))
        } else if s.contains('\0') {
            Some("the path contains a NUL character".to_string())
        } else {
            match max_len {
                Some(max) if s.len() > max => Some(format!(
                    "the path is {} bytes long; a unix socket path can be at most {max} bytes",
                    s.len()
                )),
                _ => None,
            }
        };
        match why {
            Some(why) => {
                self.report(v.span(), key, why);
                None
            }
            None => Some(PathBuf::from(s)),
        }
    }
}

/// Why `name` is not a valid Linux interface name (`dev_valid_name` in
/// `net/core/dev.c`), or `None` if it is.
pub fn ifname_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_IFNAME_LEN {
        return Some(format!("it is {} bytes long", name.len()));
    }
    if name == "." || name == ".." {
        return Some(format!("{name:?} is reserved"));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Some(format!("{c:?} is not allowed"));
    }
    None
}

/// The last segment of a dotted key path (the field name, for messages).
fn last_segment(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        for ok in [
            "tap0",
            "bond0.90",
            "hvr-up0",
            "a",
            "x23456789012345",
            "vlan@1",
        ] {
            assert_eq!(ifname_error(ok), None, "{ok}");
        }
        for bad in [
            "",
            "x234567890123456",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
            "a\u{0}",
        ] {
            assert!(ifname_error(bad).is_some(), "{bad:?}");
        }
    }
}
