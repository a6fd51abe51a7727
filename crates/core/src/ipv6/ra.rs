//! Router Advertisements toward guests (RFC 4861 6.2), periodic and solicited.
//!
//! Each guest sits alone on its link (its tap), so each guest has its own advertisement
//! timer. [`RaScheduler`] keeps them: an advertisement when the guest comes up (then
//! [`MAX_INITIAL_RTR_ADVERTISEMENTS`] at short intervals, RFC 4861 6.2.4), then one at a
//! random interval in `[MinRtrAdvInterval, MaxRtrAdvInterval]`; a Router Solicitation
//! brings the next one forward to a random time within [`MAX_RA_DELAY_TIME`], but never
//! closer than [`MIN_DELAY_BETWEEN_RAS`] to the previous one (6.2.6).
//!
//! The advertisement itself ([`push_ra`]): the router's guest-side link-local address as
//! source, its guest MAC in the Source Link-Layer Address option, the network MTU, the
//! subnet6 prefix on-link and (for a /64) autonomous, RDNSS servers (RFC 8106).

use std::collections::HashMap;
use std::time::Duration;

use wire::ipv6_addr::{multicast_mac, ALL_NODES};
use wire::ndp_option::{emit_rdnss, prefix_flags, NdpOptionRepr, PrefixInfo, MAX_RDNSS};
use wire::NdpRepr;

use crate::ids::GuestId;
use crate::ipv6::frames6::{push_ndp, Addressing, DEFAULT_HOP_LIMIT, NDP_HOP_LIMIT};
use crate::ipv6::net6::Network6;
use crate::ipv6::tables6::Tables6;
use crate::lpm::FastBuildHasher;
use crate::network::Network;
use crate::outbox::Outbox;
use crate::tables::Tables;
use crate::time::Instant;

/// RFC 4861 10: MAX_INITIAL_RTR_ADVERT_INTERVAL.
pub const MAX_INITIAL_RTR_ADVERT_INTERVAL: Duration = Duration::from_secs(16);
/// RFC 4861 10: MAX_INITIAL_RTR_ADVERTISEMENTS.
pub const MAX_INITIAL_RTR_ADVERTISEMENTS: u32 = 3;
/// RFC 4861 10: MIN_DELAY_BETWEEN_RAS.
pub const MIN_DELAY_BETWEEN_RAS: Duration = Duration::from_secs(3);
/// RFC 4861 10: MAX_RA_DELAY_TIME.
pub const MAX_RA_DELAY_TIME: Duration = Duration::from_millis(500);

/// Largest options block an advertisement carries: SLLA, MTU, prefix, RDNSS.
const OPTIONS_MAX: usize = 8 + 8 + 32 + 8 + 16 * MAX_RDNSS;

/// Write the advertisement's options for `network` into `buf`; returns their length.
pub fn ra_options(network: &Network, net6: &Network6, buf: &mut [u8; OPTIONS_MAX]) -> usize {
    let ra = &net6.spec.ra;
    let mut at = NdpOptionRepr::SourceLinkLayerAddr(network.guest_mac).emit(&mut buf[..]);
    at += NdpOptionRepr::Mtu(u32::from(network.mtu)).emit(&mut buf[at..]);
    let mut flags = prefix_flags::ON_LINK;
    if net6.slaac() {
        flags |= prefix_flags::AUTONOMOUS;
    }
    at += NdpOptionRepr::PrefixInfo(PrefixInfo {
        prefix_len: net6.spec.subnet6.prefix_len(),
        flags,
        valid_lifetime: secs32(ra.valid_lifetime),
        preferred_lifetime: secs32(ra.preferred_lifetime),
        prefix: net6.spec.subnet6.network(),
    })
    .emit(&mut buf[at..]);
    // RFC 8106 5.1: "the value of the Lifetime SHOULD by default be at least
    // 3 * MaxRtrAdvInterval".
    at += emit_rdnss(&mut buf[at..], secs32(ra.max_interval * 3), &ra.dns_servers);
    at
}

fn secs32(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// Queue a Router Advertisement for `network` on `port` (a guest's), to all-nodes.
pub fn push_ra(out: &mut Outbox, port: crate::ids::PortId, network: &Network, net6: &Network6) {
    let lifetime = u16::try_from(net6.spec.ra.router_lifetime.as_secs()).unwrap_or(u16::MAX);
    push_ra_with(out, port, network, net6, lifetime);
}

/// Queue the final advertisement of a router that stops (RFC 4861 6.2.5: "the router
/// SHOULD transmit one or more (but not more than MAX_FINAL_RTR_ADVERTISEMENTS) final
/// multicast Router Advertisements on the interface with a Router Lifetime field of
/// zero"): the guest drops its default route through the router at once, instead of
/// keeping it for up to the router lifetime. The rest is unchanged (the prefix stays:
/// its addresses do not depend on the router being up).
pub fn push_final_ra(
    out: &mut Outbox,
    port: crate::ids::PortId,
    network: &Network,
    net6: &Network6,
) {
    push_ra_with(out, port, network, net6, 0);
}

fn push_ra_with(
    out: &mut Outbox,
    port: crate::ids::PortId,
    network: &Network,
    net6: &Network6,
    router_lifetime: u16,
) {
    let mut opts = [0u8; OPTIONS_MAX];
    let n = ra_options(network, net6, &mut opts);
    let ra = NdpRepr::RouterAdvert {
        hop_limit: DEFAULT_HOP_LIMIT,
        // O: "other configuration" (DNS) by stateless DHCPv6 (crate::ipv6::dhcp6), when
        // there is some to give; M stays clear (addresses come by SLAAC).
        flags: if net6.spec.ra.dns_servers.is_empty() {
            0
        } else {
            wire::ndp::router_flags::OTHER
        },
        router_lifetime,
        reachable_time: 0,
        retrans_time: 0,
        options: &opts[..n],
    };
    let a = Addressing {
        port,
        src_mac: network.guest_mac,
        dst_mac: multicast_mac(&ALL_NODES),
        src_ip: net6.guest_ll,
        dst_ip: ALL_NODES,
        hop_limit: NDP_HOP_LIMIT,
    };
    push_ndp(out, &a, &ra);
}

#[derive(Clone, Copy, Debug)]
struct Timer {
    due: Instant,
    last: Option<Instant>,
    sent: u32,
}

/// Per-guest advertisement timers.
#[derive(Clone, Debug, Default)]
pub struct RaScheduler {
    timers: HashMap<GuestId, Timer, FastBuildHasher>,
    rng: u64,
    sent: u64,
}

impl RaScheduler {
    /// No timers.
    pub fn new() -> Self {
        RaScheduler {
            rng: 0x2545_f491_4f6c_dd1d,
            ..Default::default()
        }
    }

    /// xorshift64*: a deterministic spread of intervals (RFC 4861 6.2.4 asks for
    /// randomness to keep routers from synchronising, not for secrecy).
    fn random_below(&mut self, bound: Duration) -> Duration {
        let mut x = self.rng | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let nanos = bound.as_nanos().max(1) as u64;
        Duration::from_nanos(r % nanos)
    }

    /// The guest came up (added, migrated in, port up): advertise now.
    pub fn guest_up(&mut self, guest: GuestId, now: Instant) {
        self.timers.insert(
            guest,
            Timer {
                due: now,
                last: None,
                sent: 0,
            },
        );
    }

    /// The guest went away: no more advertisements.
    pub fn guest_gone(&mut self, guest: GuestId) {
        self.timers.remove(&guest);
    }

    /// A valid Router Solicitation came from `guest`: bring its next advertisement
    /// forward (RFC 4861 6.2.6). Returns when it is due.
    pub fn solicited(&mut self, guest: GuestId, now: Instant) -> Instant {
        let delay = self.random_below(MAX_RA_DELAY_TIME);
        let t = self.timers.entry(guest).or_insert(Timer {
            due: now,
            last: None,
            sent: 0,
        });
        let mut at = now + delay;
        if let Some(last) = t.last {
            at = at.max(last + MIN_DELAY_BETWEEN_RAS);
        }
        t.due = t.due.min(at);
        t.due
    }

    /// The earliest due time, if any guest has a timer.
    pub fn next_due(&self) -> Option<Instant> {
        self.timers.values().map(|t| t.due).min()
    }

    /// Advertisements sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Send every advertisement that is due and reschedule. A guest that is gone from
    /// `tables` loses its timer; one that is down, or whose network has no IPv6 or has
    /// advertisements off, is skipped until its next interval. Returns how many were sent.
    pub fn poll(
        &mut self,
        tables: &Tables,
        tables6: &Tables6,
        now: Instant,
        out: &mut Outbox,
    ) -> u32 {
        let due: Vec<GuestId> = self
            .timers
            .iter()
            .filter(|(_, t)| t.due <= now)
            .map(|(&g, _)| g)
            .collect();
        let mut sent = 0;
        for gid in due {
            let Some(guest) = tables.guest(gid) else {
                self.timers.remove(&gid);
                continue;
            };
            let Some(network) = tables.network(guest.network) else {
                self.timers.remove(&gid);
                continue;
            };
            let net6 = tables6.network6(guest.network).map(|s| &s.net);
            let max = net6.map_or(Duration::from_secs(600), |n| n.spec.ra.max_interval);
            let send = guest.up
                && tables6.guest6(gid).is_some()
                && net6.is_some_and(|n| n.spec.ra.enabled);
            let sent_before = self.timers.get(&gid).map_or(0, |t| t.sent);
            if send {
                if let Some(n6) = net6 {
                    push_ra(out, guest.port, network, n6);
                    sent += 1;
                }
            }
            // RFC 4861 6.2.1: MinRtrAdvInterval defaults to 0.33 * MaxRtrAdvInterval.
            let min = max / 3;
            let mut interval = min + self.random_below(max - min);
            if sent_before + 1 < MAX_INITIAL_RTR_ADVERTISEMENTS {
                interval = interval.min(MAX_INITIAL_RTR_ADVERT_INTERVAL);
            }
            if let Some(t) = self.timers.get_mut(&gid) {
                if send {
                    t.last = Some(now);
                    t.sent += 1;
                }
                t.due = now + interval;
            }
        }
        self.sent += u64::from(sent);
        sent
    }
}
