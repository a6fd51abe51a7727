//! Serde helpers for the address types of the protocol: text forms that operators type
//! (`52:54:00:12:34:56`, `192.0.2.10`, `203.0.113.0/29`) and error messages that name the
//! bad value, so a typo in a hook script reads as what it is.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use ipnet::{Ipv4Net, Ipv6Net};
use wire::{EthernetAddress, Ipv4Addr};

/// Parse a MAC address, with a message naming the value.
pub fn parse_mac(s: &str) -> Result<EthernetAddress, String> {
    s.parse().map_err(|_| {
        format!("invalid MAC address {s:?}: expected six hex octets like 52:54:00:12:34:56")
    })
}

/// Parse an IPv4 address, with a message naming the value.
pub fn parse_ip(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("invalid IPv4 address {s:?}: expected dotted quad like 192.0.2.10"))
}

/// Parse an IPv4 prefix. Host bits must be clear: `203.0.113.5/29` is refused with the
/// prefix it probably meant, rather than silently truncated.
pub fn parse_prefix(s: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = s.parse().map_err(|_| {
        format!("invalid IPv4 prefix {s:?}: expected address/length like 203.0.113.0/29")
    })?;
    if net.trunc() != net {
        return Err(format!(
            "prefix {net} has host bits set (did you mean {}?)",
            net.trunc()
        ));
    }
    Ok(net)
}

/// `EthernetAddress` as `"52:54:00:12:34:56"`.
pub mod mac {
    use super::*;

    /// Serialize as text.
    pub fn serialize<S: Serializer>(mac: &EthernetAddress, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(mac)
    }

    /// Deserialize from text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EthernetAddress, D::Error> {
        let s = String::deserialize(d)?;
        parse_mac(&s).map_err(D::Error::custom)
    }
}

/// `Option<EthernetAddress>` as text or null.
pub mod opt_mac {
    use super::*;

    /// Serialize as text or null.
    pub fn serialize<S: Serializer>(
        mac: &Option<EthernetAddress>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match mac {
            Some(m) => s.collect_str(m),
            None => s.serialize_none(),
        }
    }

    /// Deserialize from text or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<EthernetAddress>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| parse_mac(&s).map_err(D::Error::custom))
            .transpose()
    }
}

/// `Ipv4Addr` as text, with a message naming a bad value.
pub mod ip {
    use super::*;

    /// Serialize as text.
    pub fn serialize<S: Serializer>(ip: &Ipv4Addr, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(ip)
    }

    /// Deserialize from text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Addr, D::Error> {
        let s = String::deserialize(d)?;
        parse_ip(&s).map_err(D::Error::custom)
    }
}

/// `Vec<Ipv4Addr>` as a list of text addresses.
pub mod ips {
    use super::*;

    /// Serialize as a list of text.
    pub fn serialize<S: Serializer>(ips: &[Ipv4Addr], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ips.iter().map(|ip| ip.to_string()))
    }

    /// Deserialize from a list of text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Ipv4Addr>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| parse_ip(s).map_err(D::Error::custom))
            .collect()
    }
}

/// `Ipv4Net` as `"203.0.113.0/29"` (host bits must be clear).
pub mod prefix {
    use super::*;

    /// Serialize as text.
    pub fn serialize<S: Serializer>(net: &Ipv4Net, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(net)
    }

    /// Deserialize from text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Net, D::Error> {
        let s = String::deserialize(d)?;
        parse_prefix(&s).map_err(D::Error::custom)
    }
}

/// `Vec<Ipv4Net>` as a list of text prefixes (host bits must be clear).
pub mod prefixes {
    use super::*;

    /// Serialize as a list of text.
    pub fn serialize<S: Serializer>(nets: &[Ipv4Net], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(|n| n.to_string()))
    }

    /// Deserialize from a list of text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Ipv4Net>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| parse_prefix(s).map_err(D::Error::custom))
            .collect()
    }
}

/// Parse an IPv6 prefix. Host bits must be clear, as for [`parse_prefix`].
pub fn parse_prefix6(s: &str) -> Result<Ipv6Net, String> {
    let net: Ipv6Net = s.parse().map_err(|_| {
        format!("invalid IPv6 prefix {s:?}: expected address/length like 2001:db8:1::/48")
    })?;
    if net.trunc() != net {
        return Err(format!(
            "prefix {net} has host bits set (did you mean {}?)",
            net.trunc()
        ));
    }
    Ok(net)
}

/// `Vec<Ipv6Net>` as a list of text prefixes (host bits must be clear).
pub mod prefixes6 {
    use super::*;

    /// Serialize as a list of text.
    pub fn serialize<S: Serializer>(nets: &[Ipv6Net], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(|n| n.to_string()))
    }

    /// Deserialize from a list of text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Ipv6Net>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| parse_prefix6(s).map_err(D::Error::custom))
            .collect()
    }
}
