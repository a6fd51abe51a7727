//! Why a [`Tables`](super::Tables) operation failed: one enum per operation kind, each
//! variant naming what conflicted.

use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr};

use crate::ids::{NetworkId, PortId};
use crate::network::NetworkError;
use crate::routes::Route;

/// Why a network could not be added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkConflict {
    /// The spec itself is invalid.
    #[error("{0}")]
    Invalid(NetworkError),
    /// Another network has this name.
    #[error("a network with this name already exists ({0})")]
    NameTaken(NetworkId),
    /// The uplink port is already in use.
    #[error("uplink {port} is already {user}")]
    UplinkInUse {
        /// The port.
        port: PortId,
        /// Who uses it, e.g. "the port of guest tap3".
        user: String,
    },
    /// All network ids are in use.
    #[error("too many networks")]
    TooMany,
}

/// Why a guest could not be added or replaced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuestConflict {
    /// Empty name or one with whitespace or control characters.
    #[error("invalid guest name: it must be non-empty, without spaces or control characters")]
    InvalidName,
    /// A guest with this name exists with different data.
    #[error("a guest with this name already exists with a different {differs}; remove or replace it first")]
    Exists {
        /// The fields that differ, e.g. "port, ips".
        differs: String,
    },
    /// `replace_guest` for a name that does not exist.
    #[error("no such guest")]
    UnknownGuest,
    /// The guest's network does not exist.
    #[error("network {0} does not exist")]
    UnknownNetwork(NetworkId),
    /// The guest has no addresses (the configuration file requires one; the tables
    /// take an IPv6-only guest, whose IPv6 side the control plane checks).
    #[error("no IP addresses given")]
    NoIps,
    /// The guest's MAC is multicast, broadcast or zero.
    #[error("{0} is not a unicast MAC address")]
    MacNotUnicast(EthernetAddress),
    /// The port is used by another guest or an uplink.
    #[error("{port} is already {user}")]
    PortInUse {
        /// The port.
        port: PortId,
        /// Who uses it, e.g. "the uplink of network public_90".
        user: String,
    },
    /// An address that cannot belong to a host (0.0.0.0, loopback, multicast, ...).
    #[error("{0} is not a unicast host address")]
    IpNotUnicast(Ipv4Addr),
    /// Another guest of the network owns the address.
    #[error("{ip} is already used by guest {other} in network {network}")]
    IpOwned {
        /// The address.
        ip: Ipv4Addr,
        /// The other guest's name.
        other: String,
        /// The network's name.
        network: String,
    },
    /// The address is outside the subnet and outside the guest's extra prefixes.
    #[error("{ip} is not inside network {network} ({subnet})")]
    IpOutsideSubnet {
        /// The address.
        ip: Ipv4Addr,
        /// The network's name.
        network: String,
        /// The network's subnet.
        subnet: Ipv4Net,
    },
    /// The address is the network's gateway.
    #[error("{ip} is the gateway of network {network}")]
    IpIsGateway {
        /// The address.
        ip: Ipv4Addr,
        /// The network's name.
        network: String,
    },
    /// The address is the subnet's network address.
    #[error("{ip} is the network address of {subnet}")]
    IpIsNetworkAddr {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Net,
    },
    /// The address is the subnet's broadcast address.
    #[error("{ip} is the broadcast address of {subnet}")]
    IpIsBroadcast {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Net,
    },
    /// The address is the network's ARP source address.
    #[error("{ip} is the ARP source address of network {network}")]
    IpIsArpSource {
        /// The address.
        ip: Ipv4Addr,
        /// The network's name.
        network: String,
    },
    /// An extra prefix was given with host bits set.
    #[error("extra prefix {given} has host bits set (did you mean {normalized}?)")]
    PrefixHostBits {
        /// As given.
        given: Ipv4Net,
        /// With host bits cleared.
        normalized: Ipv4Net,
    },
    /// An extra prefix overlaps 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3 (RFC 1122 3.2.1.3,
    /// RFC 5771, RFC 1112 4).
    #[error("extra prefix {0} overlaps non-unicast address space (0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3)")]
    PrefixNotUnicast(Ipv4Net),
    /// An extra prefix contains the network's gateway.
    #[error("extra prefix {prefix} contains the gateway {gateway} of network {network}")]
    PrefixContainsGateway {
        /// The prefix.
        prefix: Ipv4Net,
        /// The gateway.
        gateway: Ipv4Addr,
        /// The network's name.
        network: String,
    },
    /// An extra prefix overlaps the network's on-link subnet.
    #[error("extra prefix {prefix} overlaps the on-link subnet {subnet} of network {network}")]
    PrefixOverlapsSubnet {
        /// The prefix.
        prefix: Ipv4Net,
        /// The subnet.
        subnet: Ipv4Net,
        /// The network's name.
        network: String,
    },
    /// An extra prefix overlaps another guest's extra prefix.
    #[error("extra prefix {prefix} overlaps {other_prefix} of guest {other}")]
    PrefixOverlapsGuest {
        /// The prefix.
        prefix: Ipv4Net,
        /// The other guest's prefix.
        other_prefix: Ipv4Net,
        /// The other guest's name.
        other: String,
    },
    /// A route that is not the guest's already exists for one of its prefixes.
    #[error("a route already exists for {}: {route}; delete it first", route.prefix)]
    RouteExists {
        /// The existing route.
        route: Route,
    },
    /// All guest ids are in use.
    #[error("too many guests")]
    TooMany,
}

/// A failed [`Tables`] operation: which one, on what, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TablesError {
    /// [`Tables::add_network`] failed.
    #[error("network {name}: {reason}")]
    AddNetwork {
        /// The network's name as given.
        name: String,
        /// Why.
        reason: NetworkConflict,
    },
    /// [`Tables::add_guest`] failed.
    #[error("guest {name}: {reason}")]
    AddGuest {
        /// The guest's name as given.
        name: String,
        /// Why.
        reason: GuestConflict,
    },
    /// [`Tables::replace_guest`] failed.
    #[error("replacing guest {name}: {reason}")]
    ReplaceGuest {
        /// The guest's name as given.
        name: String,
        /// Why.
        reason: GuestConflict,
    },
    /// [`Tables::remove_guest`] found no such guest.
    #[error("cannot remove guest {guest}: no such guest")]
    RemoveGuest {
        /// The id or name as given.
        guest: String,
    },
}
