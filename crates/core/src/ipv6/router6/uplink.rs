//! IPv6 frames from the VLAN: NDP answered or learned from, forwarding toward guests.

use super::*;

impl Router6 {
    /// An IPv6 frame from the uplink of `net`.
    pub fn from_uplink(
        &mut self,
        tables: &Tables,
        net: NetworkId,
        port: PortId,
        frame: &mut [u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Action {
        let (Some(network), Some(st)) = (tables.network(net), self.tables6.network6(net)) else {
            return Action::Drop(DropReason::UnsupportedEthertype);
        };
        let dst_mac = EthernetAddress::from_bytes(&frame[0..6]);
        let src_mac = EthernetAddress::from_bytes(&frame[6..12]);
        if dst_mac != network.uplink_mac && !is_v6_multicast_mac(dst_mac) {
            return Action::Drop(DropReason::NotForUs);
        }
        let (ip, ext) = match parse(&frame[ETH..]) {
            Ok(x) => x,
            Err(r) => return Action::Drop(r),
        };
        let total = ETH + 40 + usize::from(ip.payload_len);
        let payload = &frame[ETH + 40..total];
        let net6 = &st.net;
        match uplink_control(tables, &self.tables6, network, net6, &ip, &ext, payload) {
            Control6::NotControl => {}
            Control6::Answer(na, learn) => {
                let dst = if na.dst_ip == ALL_NODES {
                    multicast_mac(&ALL_NODES)
                } else {
                    src_mac
                };
                send_na(out, port, network.uplink_mac, uplink_ll(network), dst, &na);
                self.stats.na_answered += 1;
                if let Some(l) = learn {
                    self.learn(net, port, network.uplink_mac, &l, now, out);
                }
                return Action::Consumed;
            }
            Control6::Learn(l, r) => {
                self.learn(net, port, network.uplink_mac, &l, now, out);
                return Action::Drop(r);
            }
            Control6::RouterSolicit => return Action::Drop(DropReason::NdpConsumed),
            Control6::MldQuery(q) => {
                // Answered by the next reports, brought forward (RFC 3810 6.2); a query
                // about another group is only counted.
                if !crate::ipv6::mld::queries_us(q.group, &self.reported_addrs(tables, net)) {
                    return Action::Drop(DropReason::MldConsumed);
                }
                let seed = now.as_nanos() ^ (u64::from(net.0) << 48);
                let due = now + crate::ipv6::mld::response_delay(q.max_delay, seed);
                self.mld_due = self.mld_due.min(due);
                self.wake = self.wake.min(due);
                self.stats.mld_queries += 1;
                return Action::Consumed;
            }
            Control6::Drop(r) => return Action::Drop(r),
        }
        if ip.dst_addr == uplink_ll(network) || Some(ip.dst_addr) == net6.spec.source6 {
            return self.echo(port, network.uplink_mac, src_mac, &frame[ETH..total], out);
        }
        let decision = decide(
            tables,
            &self.tables6,
            net,
            port,
            &ip,
            total - ETH,
            network.mtu,
        );
        match decision {
            Forward6::Forward(Egress6::Guest {
                guest,
                port: egress,
            }) => {
                let Some(g) = tables.guest(guest) else {
                    return Action::Drop(DropReason::DestinationGuestDown);
                };
                rewrite(frame, network.guest_mac, g.mac);
                Action::Forward(egress)
            }
            Forward6::Forward(Egress6::Uplink { .. }) => Action::Drop(DropReason::Hairpin),
            Forward6::Drop(r) => Action::Drop(r),
            Forward6::Error(r, e) => {
                // From source6 to anyone (the previous hop, the frame's source MAC,
                // routes it); without it only toward on-link senders, from the
                // link-local address, which does not leave the link (RFC 4291 2.5.6).
                let from = net6.spec.source6.or_else(|| {
                    net6.spec
                        .subnet6
                        .contains(&ip.src_addr)
                        .then(|| uplink_ll(network))
                });
                if let Some(src_ip) = from {
                    let a = Addressing {
                        port,
                        src_mac: network.uplink_mac,
                        dst_mac: src_mac,
                        src_ip,
                        dst_ip: ip.src_addr,
                        hop_limit: DEFAULT_HOP_LIMIT,
                    };
                    self.error(
                        &frame[ETH..total],
                        &ext,
                        dst_mac != network.uplink_mac,
                        &a,
                        e,
                        now,
                        out,
                    );
                }
                Action::Drop(r)
            }
        }
    }

    /// Learn a neighbor on `net`'s uplink `port` and release the frames waiting for it.
    fn learn(
        &mut self,
        net: NetworkId,
        port: PortId,
        uplink_mac: EthernetAddress,
        l: &Learn6,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(cache) = self.neighbors.get_mut(&net) else {
            return;
        };
        if cache.learn(l, now) {
            cache.drain_queue(l.addr, |f, mac| {
                rewrite(f, uplink_mac, mac);
                out.push_copy(port, f);
            });
        }
    }
}
