//! Why a frame was dropped. Every drop the router makes has a named reason, and each
//! reason indexes a per-port counter (grout's `GR_DROP_REGISTER`), so the CLI and metrics
//! can print them by name. Ignored ARP requests count here too: proxy ARP that stays
//! silent is a decision, and operators must be able to see how often and why.

use core::fmt;

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )*) => {
        /// The reason a frame did not go anywhere.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[repr(u8)]
        pub enum DropReason {
            $( $(#[$doc])* $variant, )*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[ $( DropReason::$variant, )* ];
            /// Number of reasons (size of a per-port counter array).
            pub const COUNT: usize = Self::ALL.len();

            /// Stable snake_case name, used by the CLI and metrics.
            pub const fn name(self) -> &'static str {
                match self { $( DropReason::$variant => $name, )* }
            }

            /// Index into a counter array.
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

drop_reasons! {
    /// The frame arrived on a port the router does not know.
    UnknownPort => "unknown_port",
    /// Shorter than the headers it claims to carry.
    Truncated => "truncated",
    /// Destination MAC is neither ours nor broadcast.
    NotForUs => "not_for_us",
    /// An EtherType the router does not forward (IPv6, LLDP, ...).
    UnsupportedEthertype => "unsupported_ethertype",
    /// An 802.1Q-tagged frame (the uplink is already the VLAN; guests may not tag).
    VlanTagged => "vlan_tagged",
    /// ARP that is not Ethernet/IPv4 or whose fields are inconsistent.
    ArpMalformed => "arp_malformed",
    /// ARP operation other than request or reply.
    ArpUnsupportedOp => "arp_unsupported_op",
    /// Uplink who-has for an address that is not a guest hosted here.
    ArpNotHostedGuest => "arp_not_hosted_guest",
    /// Uplink who-has for a guest hosted here whose port is down.
    ArpGuestDown => "arp_guest_down",
    /// Who-has for an address outside the network's subnet.
    ArpOutsideSubnet => "arp_outside_subnet",
    /// A guest asked for its own address (duplicate address detection, RFC 5227).
    ArpOwnAddress => "arp_own_address",
    /// An RFC 5227 probe (sender 0.0.0.0): never answered.
    ArpProbe => "arp_probe",
    /// A guest asked for an address the router will not claim (broadcast, network address).
    ArpReservedTarget => "arp_reserved_target",
    /// A gratuitous ARP (sender == target): never answered, never learned from a guest.
    ArpGratuitous => "arp_gratuitous",
    /// An ARP reply from a guest, or an unsolicited reply on the uplink: no state changes.
    ArpReplyIgnored => "arp_reply_ignored",
    /// ARP reply consumed by the neighbor cache (not a loss; counted to explain rx).
    ArpReplyConsumed => "arp_reply_consumed",
    /// Frame from a guest whose port is down or that was removed.
    GuestDown => "guest_down",
    /// Source MAC of a guest frame is not the guest's.
    SpoofedSourceMac => "spoofed_source_mac",
    /// ARP sender fields of a guest frame are not the guest's MAC and addresses.
    SpoofedArpSender => "spoofed_arp_sender",
    /// Source IPv4 of a guest frame is not one of the guest's addresses or prefixes.
    SpoofedSourceIp => "spoofed_source_ip",
    /// IPv4 header invalid: version, header length, total length (RFC 1812 5.2.2).
    Ipv4Malformed => "ipv4_malformed",
    /// IPv4 header checksum does not verify (RFC 1812 5.2.2).
    Ipv4BadChecksum => "ipv4_bad_checksum",
    /// Source address a router must not forward from (RFC 1812 5.3.7).
    MartianSource => "martian_source",
    /// Destination broadcast, multicast, zero or loopback: not forwarded (RFC 1812 5.3.4).
    MartianDestination => "martian_destination",
    /// No route matches the destination. Never falls through to another table.
    NoRoute => "no_route",
    /// Would leave on the port it arrived on.
    Hairpin => "hairpin",
    /// Routed to a guest whose port is down.
    DestinationGuestDown => "destination_guest_down",
    /// TTL expired in transit (RFC 1812 5.3.1).
    TtlExceeded => "ttl_exceeded",
    /// Larger than the egress MTU with DF set (RFC 1191).
    FragmentationNeeded => "fragmentation_needed",
    /// Larger than the egress MTU without DF, and could not be fragmented (RFC 1812
    /// 5.2.6): an MTU below the header plus 8 bytes, malformed options. Fragmentable
    /// datagrams leave as fragments (counter `fragmented` of the egress port).
    TooBig => "too_big",
    /// The neighbor's resolution queue was full; the oldest waiting frame was dropped.
    NeighborQueueFull => "neighbor_queue_full",
    /// The neighbor could not be resolved; its waiting frames were dropped.
    NeighborUnresolved => "neighbor_unresolved",
    /// The neighbor cache is full and refused a new entry.
    NeighborTableFull => "neighbor_table_full",
    /// Addressed to the router itself; the router has no local IP stack.
    LocalDelivery => "local_delivery",
    /// Routed to a port that is not attached (its device is gone).
    EgressPortMissing => "egress_port_missing",
    /// The egress port's transmit ring had no room.
    TxRingFull => "tx_ring_full",
    /// A guest TCP/UDP datagram whose L4 header or length is invalid (checksum could not
    /// be completed).
    L4Malformed => "l4_malformed",
    /// A guest TCP super-frame (GSO) that could not be segmented to the egress MTU.
    GsoInvalid => "gso_invalid",
    /// IPv6 header invalid: version, payload length beyond the frame (RFC 8200 3).
    Ipv6Malformed => "ipv6_malformed",
    /// An IPv6 extension header runs past the end of the packet (RFC 8200 4).
    Ipv6ExtTruncated => "ipv6_ext_truncated",
    /// More IPv6 extension headers than the router walks (a bounded walk, RFC 8200 4).
    Ipv6ExtTooMany => "ipv6_ext_too_many",
    /// A Hop-by-Hop Options header not right after the IPv6 header (RFC 8200 4.1).
    Ipv6HopByHopMisplaced => "ipv6_hbh_misplaced",
    /// IPv6 the router does not forward: multicast, link-local source or destination
    /// (RFC 4291 2.5.6), unspecified destination.
    Ipv6NotForwarded => "ipv6_not_forwarded",
    /// Hop limit expired in transit (RFC 8200 3, RFC 4443 3.3).
    HopLimitExceeded => "hop_limit_exceeded",
    /// Larger than the egress MTU: routers do not fragment IPv6 (RFC 8200 5, RFC 4443 3.2).
    PacketTooBig => "packet_too_big",
    /// Source IPv6 of a guest frame is not one of the guest's addresses, its link-local
    /// address, or inside a prefix routed to it.
    SpoofedSourceIpv6 => "spoofed_source_ipv6",
    /// NDP message that does not parse: checksum, code, length, zero-length option
    /// (RFC 4861 4.6, 6.1, 7.1).
    NdpMalformed => "ndp_malformed",
    /// NDP message that fails RFC 4861's IP-level validity checks: hop limit not 255,
    /// unspecified-source rules, fragmented (RFC 6980).
    NdpInvalid => "ndp_invalid",
    /// Uplink neighbor solicitation for an address that is not a guest hosted here.
    NdpNotHostedGuest => "ndp_not_hosted_guest",
    /// Uplink neighbor solicitation for a guest hosted here whose port is down.
    NdpGuestDown => "ndp_guest_down",
    /// Neighbor solicitation for an address outside the network's subnet6.
    NdpOutsideSubnet => "ndp_outside_subnet",
    /// A guest solicited its own address.
    NdpOwnAddress => "ndp_own_address",
    /// A guest's duplicate-address-detection probe (RFC 4862 5.4.2): never answered.
    NdpDadProbe => "ndp_dad_probe",
    /// A guest solicited a link-local address other than the router's.
    NdpNotOnLink => "ndp_not_on_link",
    /// A Router Advertisement from a guest (RFC 6105's RA guard): dropped, never
    /// forwarded.
    RogueRouterAdvert => "rogue_router_advert",
    /// A Redirect from a guest: dropped, never forwarded.
    RogueRedirect => "rogue_redirect",
    /// A Neighbor Advertisement from a guest for an address or MAC that is not its own.
    ForgedNeighborAdvert => "forged_neighbor_advert",
    /// NDP consumed without an answer: advertisements on the uplink, a guest's
    /// advertisement of its own address, solicitations the router does not serve.
    NdpConsumed => "ndp_consumed",
    /// MLD (RFC 2710, RFC 3810) consumed: not forwarded between links.
    MldConsumed => "mld_consumed",
    /// DHCPv6 from a guest that is not a valid client message (RFC 8415 16): short, an
    /// option running past the end, an Information-request with an IA option.
    Dhcp6Malformed => "dhcp6_malformed",
    /// A stateful DHCPv6 request (Solicit, Request, ...) or one for another server: the
    /// router serves only stateless information (RFC 8415 6.1; addresses come by SLAAC).
    Dhcp6NotServed => "dhcp6_not_served",
    /// A DHCPv6 server or relay message (Advertise, Reply, ...) from a guest.
    Dhcp6RogueServer => "dhcp6_rogue_server",
    /// DHCPv6 Information-requests above the router's rate limit.
    Dhcp6RateLimited => "dhcp6_rate_limited",
    /// DHCP from a guest that is not a valid client message: too short, no magic
    /// cookie, an option running past the end or of the wrong length, no message type,
    /// a fragment, `giaddr` set (a guest is no relay agent), an unknown message type.
    DhcpMalformed => "dhcp_malformed",
    /// DHCP whose `chaddr` is not the guest's MAC (nfdhcpd: "spoofed request").
    DhcpSpoofedChaddr => "dhcp_spoofed_chaddr",
    /// A DHCP server message (OFFER, ACK, NAK, BOOTREPLY, UDP 67 -> 68) from a guest.
    DhcpRogueServer => "dhcp_rogue_server",
    /// DHCP requests from this guest above its rate limit.
    DhcpRateLimited => "dhcp_rate_limited",
    /// A DHCPREQUEST that selected another server (RFC 2131 4.3.2): not answered.
    DhcpOtherServer => "dhcp_other_server",
    /// DHCP from a guest that has no IPv4 address (an IPv6-only NIC): nothing to give.
    DhcpNoAddress => "dhcp_no_address",
    /// Dropped by the kernel before the router saw it: the port's fill ring had no UMEM
    /// chunk for it (a burst on a port whose fill quota had not grown yet, or a
    /// multi-buffer frame needing more chunks than were on the ring; docs/FRAMES.md).
    /// The socket's `rx_dropped` (`XDP_STATISTICS`, read between bursts).
    RxNoFrame => "rx_no_frame",
    /// A frame for a port another worker owns found that worker's handoff ring full
    /// (counted on the ingress port, by the worker that received it).
    HandoffFull => "handoff_full",
    /// Dropped by the kernel before the router saw it: the port's RX ring was full (the
    /// router did not take frames off it in time). The socket's `rx_ring_full`.
    RxRingFull => "rx_ring_full",
    /// Dropped by the kernel: an invalid descriptor on the port's RX ring. The socket's
    /// `rx_invalid_descs`.
    RxInvalidDesc => "rx_invalid_desc",
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_indices_dense() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }
}
