//! A network: one VLAN the router serves, the userspace counterpart of the kernel setup's
//! policy-routing table `public_NN` (`default via GW`, `SUBNET dev bond0.NN`).
//!
//! A [`NetworkSpec`] is what an operator or the cluster manager asks for; [`NetworkSpec::validate`]
//! checks it and [`crate::tables::Tables::add_network`] turns it into a [`Network`] with an id.

use core::fmt;

use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr};

use crate::ids::{NetworkId, PortId};

/// Smallest MTU every IPv4 link must support (RFC 791, "Every internet module must be able
/// to forward a datagram of 68 octets without further fragmentation").
pub const MIN_MTU: u16 = 68;
/// Largest MTU we accept: a common jumbo-frame size.
pub const MAX_MTU: u16 = 9000;
/// Longest subnet prefix we accept: a /31 or /32 has no room for a gateway plus guests
/// with distinct network and broadcast addresses.
pub const MAX_SUBNET_PREFIX_LEN: u8 = 30;

/// A network (VLAN) the router serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// Dense id, assigned by [`crate::tables::Tables::add_network`].
    pub id: NetworkId,
    /// Operator-facing name, e.g. `public_90`. Unique.
    pub name: String,
    /// The on-link subnet of the VLAN (host bits clear), e.g. 192.0.2.0/24.
    pub subnet: Ipv4Net,
    /// The VLAN's router: next hop of the default route.
    pub gateway: Ipv4Addr,
    /// The port that owns the VLAN (the `bond0.NN` stand-in).
    pub uplink: PortId,
    /// IP MTU of the network, on the uplink and toward guests.
    pub mtu: u16,
    /// Our MAC on the VLAN: source of frames we send on the uplink and of our proxy-ARP
    /// answers there.
    pub uplink_mac: EthernetAddress,
    /// The MAC we answer with toward guests (the tap side): guests send everything here.
    pub guest_mac: EthernetAddress,
    /// Sender protocol address of the ARP requests we send on the VLAN (to resolve the
    /// gateway and on-link hosts).
    ///
    /// Linux would pick one of the host's addresses, possibly one from another interface
    /// (`inet_select_addr`), which leaks an unrelated address onto the VLAN. We never do
    /// that: with `Some(ip)` we use `ip` (it must be an unused address inside the subnet);
    /// with `None` we send the request in ARP-probe form with sender IP 0.0.0.0
    /// (RFC 5227 section 1.1 / 2.1.1), which hosts answer (Linux does, see `arp_process`)
    /// and which updates nobody's ARP cache. See [`Network::arp_request_source`].
    pub arp_source: Option<Ipv4Addr>,
}

/// Everything needed to create a [`Network`], except its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkSpec {
    /// See [`Network::name`].
    pub name: String,
    /// See [`Network::subnet`]. Host bits must be clear.
    pub subnet: Ipv4Net,
    /// See [`Network::gateway`].
    pub gateway: Ipv4Addr,
    /// See [`Network::uplink`].
    pub uplink: PortId,
    /// See [`Network::mtu`].
    pub mtu: u16,
    /// See [`Network::uplink_mac`].
    pub uplink_mac: EthernetAddress,
    /// See [`Network::guest_mac`].
    pub guest_mac: EthernetAddress,
    /// See [`Network::arp_source`].
    pub arp_source: Option<Ipv4Addr>,
}

/// Why a [`NetworkSpec`] is invalid. Messages are written for operators.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// The name is empty or contains whitespace or control characters.
    #[error(
        "network name {0:?} is invalid: it must be non-empty, without spaces or control characters"
    )]
    InvalidName(String),
    /// The subnet was given with host bits set (e.g. 192.0.2.5/24).
    #[error("subnet {given} has host bits set (did you mean {normalized}?)")]
    SubnetHostBits {
        /// As given.
        given: Ipv4Net,
        /// With the host bits cleared.
        normalized: Ipv4Net,
    },
    /// The subnet prefix is longer than [`MAX_SUBNET_PREFIX_LEN`].
    #[error("subnet {0} is too small: the prefix length must be at most /{max}", max = MAX_SUBNET_PREFIX_LEN)]
    SubnetTooSmall(Ipv4Net),
    /// The gateway is not inside the subnet.
    #[error("gateway {gateway} is not inside subnet {subnet}")]
    GatewayOutsideSubnet {
        /// The gateway.
        gateway: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Net,
    },
    /// The gateway is the subnet's network or broadcast address.
    #[error("gateway {gateway} is the network or broadcast address of subnet {subnet}")]
    GatewayNotHost {
        /// The gateway.
        gateway: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Net,
    },
    /// The MTU is outside [`MIN_MTU`]..=[`MAX_MTU`].
    #[error("mtu {0} is out of range: it must be between {MIN_MTU} (RFC 791) and {MAX_MTU}")]
    MtuOutOfRange(u16),
    /// A MAC address is multicast, broadcast or all zeros.
    #[error("{which} {mac} is not a unicast MAC address")]
    MacNotUnicast {
        /// `uplink_mac` or `guest_mac`.
        which: &'static str,
        /// The address.
        mac: EthernetAddress,
    },
    /// The ARP source address is not a usable host address of the subnet.
    #[error(
        "arp_source {ip} must be a host address inside subnet {subnet}, other than the gateway"
    )]
    BadArpSource {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Net,
    },
}

impl NetworkSpec {
    /// Check the spec. Returns the first problem found.
    pub fn validate(&self) -> Result<(), NetworkError> {
        if self.name.is_empty()
            || self
                .name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(NetworkError::InvalidName(self.name.clone()));
        }
        let subnet = self.subnet;
        if subnet.trunc() != subnet {
            return Err(NetworkError::SubnetHostBits {
                given: subnet,
                normalized: subnet.trunc(),
            });
        }
        if subnet.prefix_len() > MAX_SUBNET_PREFIX_LEN {
            return Err(NetworkError::SubnetTooSmall(subnet));
        }
        if !subnet.contains(&self.gateway) {
            return Err(NetworkError::GatewayOutsideSubnet {
                gateway: self.gateway,
                subnet,
            });
        }
        if self.gateway == subnet.network() || self.gateway == subnet.broadcast() {
            return Err(NetworkError::GatewayNotHost {
                gateway: self.gateway,
                subnet,
            });
        }
        if !(MIN_MTU..=MAX_MTU).contains(&self.mtu) {
            return Err(NetworkError::MtuOutOfRange(self.mtu));
        }
        for (which, mac) in [
            ("uplink_mac", self.uplink_mac),
            ("guest_mac", self.guest_mac),
        ] {
            if !mac.is_unicast() {
                return Err(NetworkError::MacNotUnicast { which, mac });
            }
        }
        if let Some(ip) = self.arp_source {
            if !subnet.contains(&ip)
                || ip == subnet.network()
                || ip == subnet.broadcast()
                || ip == self.gateway
            {
                return Err(NetworkError::BadArpSource { ip, subnet });
            }
        }
        Ok(())
    }

    /// Validate and give the network its id.
    pub fn into_network(self, id: NetworkId) -> Result<Network, NetworkError> {
        self.validate()?;
        Ok(Network {
            id,
            name: self.name,
            subnet: self.subnet,
            gateway: self.gateway,
            uplink: self.uplink,
            mtu: self.mtu,
            uplink_mac: self.uplink_mac,
            guest_mac: self.guest_mac,
            arp_source: self.arp_source,
        })
    }
}

impl Network {
    /// The spec this network was created from.
    pub fn spec(&self) -> NetworkSpec {
        NetworkSpec {
            name: self.name.clone(),
            subnet: self.subnet,
            gateway: self.gateway,
            uplink: self.uplink,
            mtu: self.mtu,
            uplink_mac: self.uplink_mac,
            guest_mac: self.guest_mac,
            arp_source: self.arp_source,
        }
    }

    /// `ip` is inside the on-link subnet (network and broadcast addresses included).
    #[inline]
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.subnet.contains(&ip)
    }

    /// `ip` is the subnet's directed broadcast address (RFC 919 / RFC 1812 section 5.3.5.2).
    #[inline]
    pub fn is_subnet_broadcast(&self, ip: Ipv4Addr) -> bool {
        ip == self.subnet.broadcast()
    }

    /// `ip` is the subnet's network address (all host bits zero).
    #[inline]
    pub fn is_network_addr(&self, ip: Ipv4Addr) -> bool {
        ip == self.subnet.network()
    }

    /// Sender IP for our ARP requests on the VLAN: [`Network::arp_source`], or 0.0.0.0
    /// (an RFC 5227 probe-form request) when unset.
    #[inline]
    pub fn arp_request_source(&self) -> Ipv4Addr {
        self.arp_source.unwrap_or(Ipv4Addr::UNSPECIFIED)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.subnet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> NetworkSpec {
        NetworkSpec {
            name: "public_90".into(),
            subnet: "192.0.2.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(192, 0, 2, 1),
            uplink: PortId(0),
            mtu: 1500,
            uplink_mac: EthernetAddress([0x02, 0, 0, 0, 0, 0x01]),
            guest_mac: EthernetAddress([0x02, 0, 0, 0, 0, 0x02]),
            arp_source: None,
        }
    }

    #[test]
    fn valid_spec_and_helpers() {
        let n = spec().into_network(NetworkId(3)).unwrap();
        assert_eq!(n.id, NetworkId(3));
        assert!(n.contains(Ipv4Addr::new(192, 0, 2, 77)));
        assert!(!n.contains(Ipv4Addr::new(198, 51, 100, 1)));
        assert!(n.is_subnet_broadcast(Ipv4Addr::new(192, 0, 2, 255)));
        assert!(!n.is_subnet_broadcast(Ipv4Addr::new(192, 0, 2, 254)));
        assert!(n.is_network_addr(Ipv4Addr::new(192, 0, 2, 0)));
        assert!(!n.is_network_addr(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(n.arp_request_source(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(n.spec(), spec());
        assert_eq!(n.to_string(), "public_90 (192.0.2.0/24)");
        let mut s = spec();
        s.arp_source = Some(Ipv4Addr::new(192, 0, 2, 2));
        let n = s.into_network(NetworkId(0)).unwrap();
        assert_eq!(n.arp_request_source(), Ipv4Addr::new(192, 0, 2, 2));
    }

    fn rejects(f: impl FnOnce(&mut NetworkSpec)) -> NetworkError {
        let mut s = spec();
        f(&mut s);
        s.validate().unwrap_err()
    }

    #[test]
    fn rejections() {
        assert!(matches!(
            rejects(|s| s.name.clear()),
            NetworkError::InvalidName(_)
        ));
        assert!(matches!(
            rejects(|s| s.name = "public 90".into()),
            NetworkError::InvalidName(_)
        ));
        let e = rejects(|s| s.subnet = "192.0.2.5/24".parse().unwrap());
        assert_eq!(
            e.to_string(),
            "subnet 192.0.2.5/24 has host bits set (did you mean 192.0.2.0/24?)"
        );
        assert!(matches!(
            rejects(|s| {
                s.subnet = "192.0.2.0/31".parse().unwrap();
                s.gateway = Ipv4Addr::new(192, 0, 2, 1);
            }),
            NetworkError::SubnetTooSmall(_)
        ));
        let e = rejects(|s| s.gateway = Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(
            e.to_string(),
            "gateway 198.51.100.1 is not inside subnet 192.0.2.0/24"
        );
        assert!(matches!(
            rejects(|s| s.gateway = Ipv4Addr::new(192, 0, 2, 0)),
            NetworkError::GatewayNotHost { .. }
        ));
        assert!(matches!(
            rejects(|s| s.gateway = Ipv4Addr::new(192, 0, 2, 255)),
            NetworkError::GatewayNotHost { .. }
        ));
        assert_eq!(rejects(|s| s.mtu = 67), NetworkError::MtuOutOfRange(67));
        assert_eq!(rejects(|s| s.mtu = 9001), NetworkError::MtuOutOfRange(9001));
        let mut s = spec();
        s.mtu = 68;
        assert!(s.validate().is_ok());
        s.mtu = 9000;
        assert!(s.validate().is_ok());
        assert!(matches!(
            rejects(|s| s.uplink_mac = EthernetAddress::BROADCAST),
            NetworkError::MacNotUnicast {
                which: "uplink_mac",
                ..
            }
        ));
        assert!(matches!(
            rejects(|s| s.guest_mac = EthernetAddress([0x01, 0, 0x5e, 0, 0, 1])),
            NetworkError::MacNotUnicast {
                which: "guest_mac",
                ..
            }
        ));
        assert!(matches!(
            rejects(|s| s.guest_mac = EthernetAddress::ZERO),
            NetworkError::MacNotUnicast { .. }
        ));
        for bad in [
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 0),
            Ipv4Addr::new(192, 0, 2, 255),
            Ipv4Addr::new(203, 0, 113, 1),
        ] {
            assert!(matches!(
                rejects(|s| s.arp_source = Some(bad)),
                NetworkError::BadArpSource { .. }
            ));
        }
    }
}
