//! IPv6 frames from guests: NDP and RS answered, hostile NDP and MLD consumed,
//! anti-spoofing, offloads, forwarding; ICMPv6 errors and echo replies.

use super::*;

impl Router6 {
    /// An IPv6 frame from guest `gid`'s port.
    pub fn from_guest(
        &mut self,
        tables: &Tables,
        gid: GuestId,
        port: PortId,
        frame: &mut [u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Action {
        let Some(guest) = tables.guest(gid).filter(|g| g.up) else {
            return Action::Drop(DropReason::GuestDown);
        };
        let (Some(network), Some(st)) = (
            tables.network(guest.network),
            self.tables6.network6(guest.network),
        ) else {
            return Action::Drop(DropReason::UnsupportedEthertype);
        };
        let dst_mac = EthernetAddress::from_bytes(&frame[0..6]);
        if let Err(r) = check_source_mac(guest, EthernetAddress::from_bytes(&frame[6..12])) {
            return Action::Drop(r);
        }
        if dst_mac != network.guest_mac && !is_v6_multicast_mac(dst_mac) {
            return Action::Drop(DropReason::NotForUs);
        }
        let (ip, ext) = match parse(&frame[ETH..]) {
            Ok(x) => x,
            Err(r) => return Action::Drop(r),
        };
        let total = ETH + 40 + usize::from(ip.payload_len);
        let net6 = &st.net;
        let g6 = self.tables6.guest6(gid);
        match guest_control(network, net6, guest, g6, &ip, &ext, &frame[ETH + 40..total]) {
            Control6::NotControl => {}
            Control6::Answer(na, _) => {
                send_na(out, port, network.guest_mac, net6.guest_ll, guest.mac, &na);
                self.stats.na_answered += 1;
                return Action::Consumed;
            }
            Control6::RouterSolicit => {
                let due = self.ra.solicited(gid, now);
                self.wake = self.wake.min(due);
                return Action::Consumed;
            }
            Control6::Learn(_, r) | Control6::Drop(r) => return Action::Drop(r),
            // Never from a guest (guest_control consumes all MLD): counted the same.
            Control6::MldQuery(_) => return Action::Drop(DropReason::MldConsumed),
        }
        if let Err(r) = crate::ipv6::spoof6::check_source(g6, &ip.src_addr) {
            return Action::Drop(r);
        }
        let udp_here = ext.upper == wire::NextHeader::Udp && ext.has_upper();
        let udp = frame.get(ETH + 40 + ext.upper_offset..total).unwrap_or(&[]);
        if udp_here && crate::ipv6::dhcp6::is_from_server(udp) {
            return Action::Drop(DropReason::Dhcp6RogueServer);
        }
        if udp_here && crate::ipv6::dhcp6::is_for_server(&ip, net6, udp) {
            if !self.dhcp6_limit.try_take(now) {
                return Action::Drop(DropReason::Dhcp6RateLimited);
            }
            return match crate::ipv6::dhcp6::answer(out, port, network, net6, guest.mac, &ip, udp) {
                Ok(()) => {
                    self.stats.dhcp6_replies += 1;
                    Action::Consumed
                }
                Err(r) => Action::Drop(r),
            };
        }
        if ip.dst_addr == net6.guest_ll {
            return self.echo(port, network.guest_mac, guest.mac, &frame[ETH..total], out);
        }
        let guest_mac = guest.mac;
        let net = guest.network;
        // Guest frames carry partial TCP/UDP checksums ([`crate::offload`]).
        if ext.count == 0 {
            if let Err(r) = offload6::complete_checksum(&mut frame[ETH..total]) {
                return Action::Drop(r);
            }
        }
        let len = total - ETH;
        // A TCP super-frame larger than the MTU is segmented rather than refused.
        let mtu_for_decision = if ext.count == 0 && ip.next_header == wire::NextHeader::Tcp {
            u16::MAX
        } else {
            network.mtu
        };
        match decide(tables, &self.tables6, net, port, &ip, len, mtu_for_decision) {
            Forward6::Forward(egress) => {
                let (egress_port, src, dst) = match egress {
                    Egress6::Guest { guest: to, port: p } => match tables.guest(to) {
                        Some(g) => (p, network.guest_mac, g.mac),
                        None => return Action::Drop(DropReason::DestinationGuestDown),
                    },
                    Egress6::Uplink { next_hop } => {
                        if self.follower {
                            // The home worker resolves next hops on the VLAN
                            // (Router::set_follower) and sets the destination MAC.
                            rewrite(frame, network.uplink_mac, EthernetAddress::ZERO);
                            hop(frame);
                            return Action::Resolve {
                                port: network.uplink,
                                next_hop: NextHopAddr::V6(next_hop),
                            };
                        }
                        let Some(cache) = self.neighbors.get_mut(&net) else {
                            return Action::Drop(DropReason::NoRoute);
                        };
                        match cache.lookup(next_hop, now) {
                            Some(mac) => (network.uplink, network.uplink_mac, mac),
                            None => {
                                rewrite(frame, network.uplink_mac, EthernetAddress::ZERO);
                                hop(frame);
                                return self.park(network, next_hop, &frame[..total], now, out);
                            }
                        }
                    }
                };
                rewrite(frame, src, dst);
                hop(frame);
                if len > usize::from(network.mtu) {
                    return match offload6::segment(&frame[..total], network.mtu, egress_port, out) {
                        Ok(_) => Action::Consumed,
                        Err(r) => Action::Drop(r),
                    };
                }
                Action::Forward(egress_port)
            }
            Forward6::Drop(r) => Action::Drop(r),
            Forward6::Error(r, e) => {
                let a = Addressing {
                    port,
                    src_mac: network.guest_mac,
                    dst_mac: guest_mac,
                    src_ip: net6.guest_ll,
                    dst_ip: ip.src_addr,
                    hop_limit: DEFAULT_HOP_LIMIT,
                };
                self.error(&frame[ETH..total], &ext, false, &a, e, now, out);
                Action::Drop(r)
            }
        }
    }

    /// The home worker's half of [`Action::Resolve`] for IPv6
    /// ([`crate::router::Router::output_resolved`]): a packet a follower received and
    /// decided to send out of `net`'s uplink toward `next_hop`, its hop
    /// limit decremented and source MAC set. The neighbor's MAC goes in as destination,
    /// or the packet waits in the neighbor's queue while it is solicited (one
    /// solicitation for the packets of every worker). A TCP super-frame is segmented to
    /// the MTU. The header is checked again: a bad packet is dropped, never trusted.
    pub fn output_resolved(
        &mut self,
        tables: &Tables,
        net: NetworkId,
        next_hop: wire::Ipv6Addr,
        frame: &mut [u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Action {
        let Some(network) = tables.network(net) else {
            return Action::Drop(DropReason::UnknownPort);
        };
        let Some(total) = frame
            .get(ETH..)
            .and_then(|ip| Ipv6Packet::new_checked(ip).ok())
            .map(|ip| ETH + 40 + usize::from(ip.payload_len()))
        else {
            return Action::Drop(DropReason::Ipv6Malformed);
        };
        let len = total - ETH;
        let Some(cache) = self.neighbors.get_mut(&net) else {
            return Action::Drop(DropReason::NoRoute);
        };
        let Some(mac) = cache.lookup(next_hop, now) else {
            return self.park(network, next_hop, &frame[..total], now, out);
        };
        rewrite(frame, network.uplink_mac, mac);
        if len > usize::from(network.mtu) {
            return match offload6::segment(&frame[..total], network.mtu, network.uplink, out) {
                Ok(_) => Action::Consumed,
                Err(r) => Action::Drop(r),
            };
        }
        Action::Forward(network.uplink)
    }

    /// A packet for the uplink whose next hop has no MAC yet (hop limit decremented,
    /// source MAC set): park a copy in the neighbor's queue and solicit it.
    fn park(
        &mut self,
        network: &crate::network::Network,
        next_hop: wire::Ipv6Addr,
        packet: &[u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Action {
        let Some(cache) = self.neighbors.get_mut(&network.id) else {
            return Action::Drop(DropReason::NoRoute);
        };
        // A TCP super-frame is not parked whole (it would be released above the MTU):
        // only the solicitation goes out, and TCP sends it again once the neighbor
        // answers.
        if packet.len() > ETH + usize::from(network.mtu) {
            if let Ok(Some(s)) = cache.start_resolution(next_hop, now) {
                push_solicit(out, network, s);
                self.stats.ns_sent += 1;
            }
            self.wake = self.wake.min(now + NEIGHBOR_TICK);
            return Action::Drop(DropReason::NeighborUnresolved);
        }
        match cache.enqueue(next_hop, packet, now) {
            Enqueue6::Queued(s) | Enqueue6::QueuedDroppedOldest(s) => {
                if let Some(s) = s {
                    push_solicit(out, network, s);
                    self.stats.ns_sent += 1;
                }
                self.wake = self.wake.min(now + NEIGHBOR_TICK);
                Action::Consumed
            }
            Enqueue6::Dropped(r) => Action::Drop(r),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn error(
        &mut self,
        invoking: &[u8],
        ext: &wire::ipv6_ext::ExtWalk,
        link_multicast: bool,
        a: &Addressing,
        e: Icmp6Error,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Ok(p) = Ipv6Packet::new_checked(invoking) else {
            return;
        };
        if !may_send_error(&p, ext, link_multicast, e) {
            return;
        }
        if !self.icmp_limit.try_take(now) {
            self.stats.errors_limited += 1;
            return;
        }
        push_error(out, a, invoking, e);
        self.stats.errors_sent += 1;
    }

    /// Answer an echo request to one of the router's own link-local addresses.
    pub(super) fn echo(
        &mut self,
        port: PortId,
        our_mac: EthernetAddress,
        to_mac: EthernetAddress,
        ip: &[u8],
        out: &mut Outbox,
    ) -> Action {
        let Ok(p) = Ipv6Packet::new_checked(ip) else {
            return Action::Drop(DropReason::Ipv6Malformed);
        };
        let Ok(icmp) = Icmpv6Packet::new_checked(p.payload()) else {
            return Action::Drop(DropReason::LocalDelivery);
        };
        if p.next_header() != wire::NextHeader::Icmpv6
            || icmp.msg_type() != Message::EchoRequest
            || !icmp.verify_checksum(&p.src_addr(), &p.dst_addr())
        {
            return Action::Drop(DropReason::LocalDelivery);
        }
        let repr = Icmpv6Repr::EchoReply {
            ident: icmp.echo_ident(),
            seq_no: icmp.echo_seq_no(),
            data: icmp.data(),
        };
        let a = Addressing {
            port,
            src_mac: our_mac,
            dst_mac: to_mac,
            src_ip: p.dst_addr(),
            dst_ip: p.src_addr(),
            hop_limit: DEFAULT_HOP_LIMIT,
        };
        push_icmpv6(out, &a, &repr);
        self.stats.echo_replies += 1;
        Action::Consumed
    }
}
