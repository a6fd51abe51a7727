//! Anti-spoofing for frames from guests. A guest may only speak with its own MAC and its
//! own IPv4 addresses (or addresses inside prefixes routed to it); everything else is
//! dropped and counted before any other stage looks at the frame.

use wire::{ArpRepr, EthernetAddress, Ipv4Addr};

use crate::drop::DropReason;
use crate::guests::Guest;

/// The Ethernet source of a guest frame must be the guest's MAC.
#[inline]
pub fn check_source_mac(guest: &Guest, src: EthernetAddress) -> Result<(), DropReason> {
    if src == guest.mac {
        Ok(())
    } else {
        Err(DropReason::SpoofedSourceMac)
    }
}

/// True if the guest may use `ip` as a source address.
#[inline]
pub fn owns_source(guest: &Guest, ip: Ipv4Addr) -> bool {
    guest.ips.contains(&ip) || guest.extra_prefixes.iter().any(|p| p.contains(&ip))
}

/// The IPv4 source of a guest frame must be one of the guest's addresses or inside a
/// prefix routed to it.
#[inline]
pub fn check_source_ip(guest: &Guest, src: Ipv4Addr) -> Result<(), DropReason> {
    if owns_source(guest, src) {
        Ok(())
    } else {
        Err(DropReason::SpoofedSourceIp)
    }
}

/// ARP from a guest: the sender hardware address must be the guest's MAC and the sender
/// protocol address one of its addresses, or 0.0.0.0 for an RFC 5227 probe.
pub fn check_arp_sender(guest: &Guest, arp: &ArpRepr) -> Result<(), DropReason> {
    let ip_ok = arp.source_protocol_addr == Ipv4Addr::UNSPECIFIED
        || guest.ips.contains(&arp.source_protocol_addr);
    if arp.source_hardware_addr == guest.mac && ip_ok {
        Ok(())
    } else {
        Err(DropReason::SpoofedArpSender)
    }
}
