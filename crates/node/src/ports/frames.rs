//! Frame memory of the ports (docs/FRAMES.md): the fill-ring quota of each kind of port,
//! how many guests a UMEM serves (a guest it cannot serve is refused, never attached
//! without frames), the UMEM's size at start, and the housekeeping that shrinks quotas
//! of quiet ports and reports, once, a port that cannot get frames, and counts the frames
//! the kernel dropped for want of a fill chunk (`rx_no_frame`) or of RX ring room
//! (`rx_ring_full`).

use hvrouter_core::drop::DropReason;
use hvrouter_core::Instant;
use hvrouter_dataplane::fill::{FillEvent, PoolPlan, GUEST_RING, GUEST_RX_RING};
use hvrouter_dataplane::xdp_port::{XdpPort, XdpPortConfig};
use hvrouter_dataplane::Pipeline;
use sys::umem::XDP_PACKET_HEADROOM;
use sys::UmemConfig;

use super::{Kind, Ports};
use crate::log;

/// Ports whose kernel counters (`XDP_STATISTICS`, one system call each) one tick reads,
/// in turn: with a tick every 10 ms, 250 ports are read every 160 ms.
const KERNEL_READS_PER_TICK: usize = 16;

/// Most UMEM frames the router grows to at start (`dataplane.frames`' own limit).
const MAX_FRAMES: u32 = 262_144;
/// The smallest UMEM the router sizes itself (`dataplane.frames` left out): 64 MiB at
/// 4096-byte frames. With 16 MiB the growth budget (3/16 of the UMEM, 768 chunks) is
/// less than one busy guest's quota: a veth guest sending TCP lost 8-19 % of its frames
/// for want of fill chunks (docs/FRAMES.md).
pub const AUTO_MIN_FRAMES: u32 = 16384;
/// Guests a UMEM the router sizes itself serves at least, beyond those known at start
/// (guests keep arriving at run time).
pub const AUTO_GUESTS: u32 = 256;

/// How a UMEM shaped by `umem` is shared by ports opened with `cfg`.
pub fn plan(umem: UmemConfig, cfg: &XdpPortConfig) -> PoolPlan {
    PoolPlan {
        frames: umem.frame_count,
        frame_size: umem.frame_size,
        rx_offset: umem.headroom + XDP_PACKET_HEADROOM,
        ring: cfg.xsk.fill_size,
    }
}

/// How a port of `kind` is opened on a UMEM shaped by `umem`: its fill-ring quota, and
/// for a guest smaller rings (fill and RX `GUEST_RX_RING` entries, TX and completion
/// `GUEST_RING`: the rings are resident kernel memory).
pub fn port_config(base: &XdpPortConfig, umem: UmemConfig, kind: Kind) -> XdpPortConfig {
    let p = plan(umem, base);
    let mut cfg = base.clone();
    match kind {
        Kind::Uplink(_) => cfg.fill = p.uplink(),
        _ => {
            cfg.fill = p.guest();
            let x = &mut cfg.xsk;
            x.rx_size = x.rx_size.min(GUEST_RX_RING);
            x.tx_size = x.tx_size.min(GUEST_RING);
            x.fill_size = x.fill_size.min(GUEST_RX_RING);
            x.completion_size = x.completion_size.min(GUEST_RING);
        }
    }
    cfg
}

/// The UMEM to create at start: `umem` as configured, or doubled until it serves the
/// `guests` known at start (configuration and saved runtime guests) next to `uplinks`,
/// with a warning that says which `dataplane.frames` to set. `auto` (no `frames` in the
/// configuration): at least [`AUTO_MIN_FRAMES`], serving at least [`AUTO_GUESTS`] more.
pub fn sized_for_start(
    umem: UmemConfig,
    cfg: &XdpPortConfig,
    guests: usize,
    uplinks: usize,
    auto: bool,
) -> UmemConfig {
    let known = u32::try_from(guests).unwrap_or(u32::MAX);
    let guests = if auto { known.max(AUTO_GUESTS) } else { known };
    let uplinks = u32::try_from(uplinks).unwrap_or(u32::MAX);
    let asked = plan(umem, cfg);
    let Some(grown) = asked.grown_for(guests, uplinks, MAX_FRAMES) else {
        // Past the limit: start with the largest, the guests beyond are refused.
        log::error(
            "umem_too_small",
            &[
                ("guests", &guests),
                ("frames", &MAX_FRAMES),
                (
                    "serves",
                    &PoolPlan {
                        frames: MAX_FRAMES,
                        ..asked
                    }
                    .guest_capacity(uplinks),
                ),
                ("fix", &"spread the guests over more routers"),
            ],
        );
        return UmemConfig {
            frame_count: MAX_FRAMES.max(umem.frame_count),
            ..umem
        };
    };
    if grown.frames != umem.frame_count && !auto {
        log::warn(
            "umem_grown",
            &[
                ("guests", &guests),
                ("configured_frames", &umem.frame_count),
                ("frames", &grown.frames),
                (
                    "fix",
                    &format!("set dataplane.frames = {} (docs/FRAMES.md)", grown.frames),
                ),
            ],
        );
    }
    // All of it is pinned (`XDP_UMEM_REG` pins every page) and resident.
    let bytes = u64::from(grown.frames) * u64::from(grown.frame_size);
    log::info(
        "umem",
        &[
            ("frames", &grown.frames),
            ("sized", &if auto { "auto" } else { "configured" }),
            ("frame_size", &grown.frame_size),
            ("pinned_bytes", &bytes),
            ("serves_guests", &grown.guest_capacity(uplinks)),
        ],
    );
    UmemConfig {
        frame_count: grown.frames,
        ..umem
    }
}

impl Ports {
    fn count(&self, uplink: bool) -> u32 {
        let n = self
            .entries
            .iter()
            .filter(|e| match e.kind {
                Kind::Uplink(_) => uplink,
                Kind::Guest => !uplink,
                Kind::Unused => false,
            })
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Guests the UMEM serves next to the uplinks: each gets its fill floor, and a
    /// quarter of the UMEM stays free for busy ports and frames in flight.
    pub fn guest_capacity(&self) -> u32 {
        plan(self.umem, &self.cfg).guest_capacity(self.count(true))
    }

    /// Whether one more guest can be served (after `replacing` guests whose devices are
    /// gone are removed). The error names the fix.
    pub fn admit_guest(&self, replacing: usize) -> Result<(), String> {
        let guests = self
            .count(false)
            .saturating_sub(u32::try_from(replacing).unwrap_or(u32::MAX));
        let capacity = self.guest_capacity();
        if guests < capacity {
            return Ok(());
        }
        let p = plan(self.umem, &self.cfg);
        let needed = p
            .grown_for(guests + 1, self.count(true), MAX_FRAMES)
            .map_or_else(|| "more than 262144".to_string(), |g| g.frames.to_string());
        Err(format!(
            "no frame memory for another guest: the UMEM ({} frames of {} bytes) serves {} \
             guests and {} are attached; set dataplane.frames = {} and restart, or remove \
             a guest (docs/FRAMES.md)",
            p.frames, p.frame_size, capacity, guests, needed
        ))
    }

    /// Frame housekeeping, every tick: each attached port's quota shrinks after a quiet
    /// window or grows on kernel drops (a few ports' kernel counters are read per tick,
    /// in turn); a port that cannot get its floor is reported once, with the fix, and
    /// again when it recovers.
    pub fn tick_frames(&mut self, pipe: &mut Pipeline<XdpPort>, now: Instant) {
        let n = self.entries.len().max(1);
        let first = self.frames_cursor % n;
        self.frames_cursor = (first + KERNEL_READS_PER_TICK) % n;
        let free = self.pool.free_count();
        let mut kernel_drops = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if e.ifindex.is_none() {
                continue;
            }
            let Some(port) = pipe.port_mut(e.id) else {
                continue;
            };
            let read_kernel = (i + n - first) % n < KERNEL_READS_PER_TICK;
            let event = port.fill_tick(now, read_kernel);
            let dropped = port.take_kernel_drops();
            if dropped.total() > 0 {
                kernel_drops.push((e.id, dropped));
            }
            match event {
                FillEvent::None => {}
                FillEvent::Starved => {
                    let s = port.fill_status();
                    log::error(
                        "port_no_frames",
                        &[
                            ("dev", &e.ifname),
                            ("fill", &s.in_fill),
                            ("floor", &s.floor),
                            ("free", &free),
                            ("frames", &self.umem.frame_count),
                            (
                                "fix",
                                &format!(
                                    "raise dataplane.frames (now {}) and restart \
                                     (docs/FRAMES.md)",
                                    self.umem.frame_count
                                ),
                            ),
                        ],
                    );
                }
                FillEvent::Recovered => {
                    log::info("port_frames_recovered", &[("dev", &e.ifname)]);
                }
            }
        }
        // Frames the kernel dropped before the router saw them are drops too, with
        // their reason, like every other.
        for (id, d) in kernel_drops {
            let c = pipe.router_mut().counters_mut().port_mut(id);
            c.drops[DropReason::RxNoFrame.index()] += d.no_fill;
            c.drops[DropReason::RxRingFull.index()] += d.ring_full;
            c.drops[DropReason::RxInvalidDesc.index()] += d.invalid_descs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn umem(frames: u32) -> UmemConfig {
        UmemConfig {
            frame_count: frames,
            frame_size: 4096,
            headroom: 0,
        }
    }

    #[test]
    fn auto_sizing_serves_the_known_guests_and_256_more() {
        let cfg = XdpPortConfig::default();
        let sized = |guests, uplinks| {
            sized_for_start(umem(AUTO_MIN_FRAMES), &cfg, guests, uplinks, true).frame_count
        };
        assert_eq!(sized(0, 1), 16384, "1472 guests next to one uplink");
        assert_eq!(sized(250, 4), 16384, "1280 next to four");
        assert_eq!(sized(1000, 2), 16384);
        assert_eq!(
            sized(1300, 4),
            32768,
            "16384 frames serve only 1280 next to 4 uplinks"
        );
        assert_eq!(sized(1500, 1), 32768);
    }

    #[test]
    fn a_configured_size_grows_only_for_the_guests_known_at_start() {
        let cfg = XdpPortConfig::default();
        let sized = |frames, guests| sized_for_start(umem(frames), &cfg, guests, 1, false);
        assert_eq!(sized(256, 0).frame_count, 256, "honoured");
        assert_eq!(sized(256, 20).frame_count, 256, "20 guests fit");
        assert_eq!(sized(256, 21).frame_count, 512, "grown");
        assert_eq!(sized(65536, 10).frame_count, 65536, "never shrunk");
        assert_eq!(sized(4096, 10_000_000).frame_count, MAX_FRAMES, "capped");
    }

    #[test]
    fn guests_get_small_rings_and_the_uplink_keeps_its_own() {
        let base = XdpPortConfig::default();
        let guest = port_config(&base, umem(4096), Kind::Guest);
        assert_eq!(guest.xsk.fill_size, GUEST_RX_RING);
        assert_eq!(guest.xsk.rx_size, GUEST_RX_RING);
        assert_eq!(guest.xsk.tx_size, GUEST_RING);
        assert_eq!((guest.fill.floor, guest.fill.max), (8, 512));
        let uplink = port_config(&base, umem(4096), Kind::Uplink(hvrouter_core::NetworkId(0)));
        assert_eq!(uplink.xsk, base.xsk);
        assert_eq!((uplink.fill.floor, uplink.fill.max), (512, 1024));
    }
}
