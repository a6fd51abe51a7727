//! How many UMEM chunks each port keeps on its fill ring: a quota that follows the
//! port's traffic (docs/FRAMES.md).
//!
//! A chunk on a fill ring is out of the pool until a frame arrives in it: AF_XDP has no
//! way to take it back short of closing the socket. So a port that keeps a fixed share
//! parks that share forever, whether the guest talks or not, and once the shares add up
//! to the UMEM the next port gets nothing. Here each port has:
//! - a **floor**, always kept (a few chunks for a guest, a burst's worth for the
//!   uplink): admission control counts floors, so every admitted port gets its floor;
//! - a **target** between floor and **max**: doubled when a receive burst takes half the
//!   target or a full burst (the ring ran low between two polls), or when the kernel
//!   dropped frames for want of fill entries; eightfold when a burst emptied the ring (a
//!   burst from an idle port: frames were probably lost already); halved, down to what
//!   the last window's bursts needed, after a quiet window. Shrinking means not
//!   refilling: the excess comes back as frames arrive;
//! - chunks above the floor are **lent** from a growth budget all ports of a pool share
//!   (and never while the pool's free stack is below a reserve kept for frames in
//!   flight): however many ports went busy and then silent with their excess parked,
//!   they hold at most the budget.
//!
//! A port that received a multi-buffer frame (a tap guest's 64 KB GSO frame), or lost
//! frames in the kernel, keeps a higher floor from then on: the kernel takes every
//! chunk of a frame at once, so a ring shorter than the largest frame drops it whole.
//!
//! Pure: no clock read, no I/O; the caller passes `now` and the ring levels.

use std::time::Duration;

use hvrouter_core::Instant;

/// Chunks an idle guest keeps on its fill ring: enough for a ping, an ARP exchange or the
/// first frames of a TCP window while the quota grows.
pub const GUEST_FLOOR: u32 = 8;
/// Most chunks a busy guest keeps on its fill ring (and at most an eighth of the UMEM):
/// 32 full bursts of 64, or 113 of a tap's 64 KB GSO frames at 4096-byte chunks. A TCP
/// sender behind the guest fills whatever the router leaves it before the router's
/// next poll (nothing pushes back on a guest's transmit into AF_XDP), and loses the
/// rest: with 512 a busy veth guest lost 2.5-17 % of its frames here (docs/FRAMES.md).
pub const GUEST_MAX: u32 = 2048;
/// Entries of a guest socket's fill and RX rings: room for [`GUEST_MAX`] chunks and the
/// frames received into them.
pub const GUEST_RX_RING: u32 = 2048;
/// Entries of a guest socket's TX and completion rings. The rings are kernel memory
/// mapped into the router (resident, never swapped): four 2048-entry rings take 112 KiB
/// per socket, four of 512 take 28 KiB; a guest's fill and RX rings of 2048 add 36 KiB of
/// descriptors to that.
/// A pass sends a guest at most a few bursts.
pub const GUEST_RING: u32 = 512;
/// Most chunks the uplink keeps as its floor (the whole VLAN's traffic arrives there).
pub const UPLINK_FLOOR_MAX: u32 = 512;
/// A quiet window: a target that did not grow for this long is halved.
pub const WINDOW: Duration = Duration::from_millis(200);
/// The largest frame a multi-buffer port receives: a 64 KB GSO frame and its Ethernet
/// header.
pub const LARGEST_FRAME: u32 = 65_536 + 14;

/// The bounds of one port's quota and the pool-wide limits it obeys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillBounds {
    /// Chunks always kept on the fill ring.
    pub floor: u32,
    /// Floor once the port has shown large frames or kernel drops (>= `floor`).
    pub large_floor: u32,
    /// Most chunks ever kept on the fill ring.
    pub max: u32,
    /// Chunks all ports of the pool may hold above their floors together.
    pub budget: u32,
    /// Chunks left on the pool's free stack that growth never takes (frames in flight,
    /// frames the router originates).
    pub reserve: u32,
}

impl FillBounds {
    /// A fixed quota of `n` chunks (no growth, no shrinking): tools and tests.
    pub fn fixed(n: u32) -> FillBounds {
        FillBounds {
            floor: n,
            large_floor: n,
            max: n,
            budget: 0,
            reserve: 0,
        }
    }
}

/// How a pool of `frames` chunks of `frame_size` bytes is shared: every bound derives
/// from these figures, so the admission check and the ports agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolPlan {
    /// Chunks in the UMEM.
    pub frames: u32,
    /// Chunk size in bytes.
    pub frame_size: u32,
    /// Bytes in front of received data in a chunk (`XDP_PACKET_HEADROOM` + headroom).
    pub rx_offset: u32,
    /// Fill ring entries of the uplink's socket (guests' have [`GUEST_RX_RING`]).
    pub ring: u32,
}

impl PoolPlan {
    /// Chunks kept free of every floor: growth budget plus reserve (a quarter).
    pub fn headroom(&self) -> u32 {
        self.frames / 4
    }

    /// Chunks growth never takes from the free stack (a sixteenth).
    pub fn reserve(&self) -> u32 {
        self.frames / 16
    }

    /// Chunks one largest frame takes when received (multi-buffer).
    pub fn largest_frame_chunks(&self) -> u32 {
        let per_chunk = self.frame_size.saturating_sub(self.rx_offset).max(1);
        LARGEST_FRAME.div_ceil(per_chunk)
    }

    /// The uplink's bounds: an eighth of the UMEM (at most [`UPLINK_FLOOR_MAX`]) always,
    /// up to a quarter (at most the ring) when busy.
    pub fn uplink(&self) -> FillBounds {
        let floor = (self.frames / 8).clamp(1, UPLINK_FLOOR_MAX).min(self.ring);
        self.bounds(
            floor,
            floor,
            (self.frames / 4).clamp(floor, self.ring.max(floor)),
        )
    }

    /// A guest's bounds: [`GUEST_FLOOR`] when idle, one largest frame plus a few once it
    /// sent one, up to [`GUEST_MAX`] (an eighth of the UMEM at most) when busy.
    pub fn guest(&self) -> FillBounds {
        let ring = GUEST_RX_RING.min(self.ring);
        let floor = GUEST_FLOOR.min(ring);
        let large = (self.largest_frame_chunks() + 2).clamp(floor, ring);
        let max = GUEST_MAX.min(self.frames / 8).clamp(large, ring.max(large));
        self.bounds(floor, large, max)
    }

    fn bounds(&self, floor: u32, large_floor: u32, max: u32) -> FillBounds {
        FillBounds {
            floor,
            large_floor,
            max,
            budget: self.headroom().saturating_sub(self.reserve()),
            reserve: self.reserve(),
        }
    }

    /// Guests whose floors fit next to `uplinks` uplinks' floors and the headroom.
    pub fn guest_capacity(&self, uplinks: u32) -> u32 {
        let fixed = self.headroom() + uplinks * self.uplink().floor;
        self.frames.saturating_sub(fixed) / self.guest().floor.max(1)
    }

    /// The smallest power-of-two frame count, at least `self.frames`, that serves
    /// `guests` guests and `uplinks` uplinks (`None` above `limit`).
    pub fn grown_for(&self, guests: u32, uplinks: u32, limit: u32) -> Option<PoolPlan> {
        let mut plan = *self;
        while plan.guest_capacity(uplinks) < guests {
            plan.frames = plan.frames.checked_mul(2).filter(|&f| f <= limit)?;
        }
        Some(plan)
    }
}

/// What a tick concluded about a port's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillEvent {
    /// Nothing changed.
    None,
    /// The port could not get its floor from the pool: it has no (or too few) frames
    /// to receive into.
    Starved,
    /// The port has its floor again.
    Recovered,
}

/// One port's quota.
#[derive(Clone, Debug)]
pub struct FillPolicy {
    bounds: FillBounds,
    large: bool,
    target: u32,
    /// Largest burst received in this window, and whether the target grew in it.
    peak: u32,
    grew: bool,
    window_start: Option<Instant>,
    /// Counters last seen at a tick.
    seen_starved: u64,
    seen_fill_drops: Option<u64>,
    starved: bool,
    /// Times growth was held back by the budget or the reserve.
    held_back: u64,
}

/// Inputs of [`FillPolicy::tick`]: the port's levels and counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickInput {
    /// Chunks on the fill ring now.
    pub in_fill: u32,
    /// Refills so far that found the pool's free stack empty.
    pub refill_starved: u64,
    /// The kernel's drops for want of fill entries so far (`rx_dropped`, see
    /// [`crate::rx_drops`]), when read this tick. Drops for want of RX ring room are
    /// not counted here: more fill entries would not have saved those frames.
    pub fill_drops: Option<u64>,
    /// Whether the port has received multi-buffer frames.
    pub large_frames: bool,
}

impl FillPolicy {
    /// A quota at its floor.
    pub fn new(bounds: FillBounds) -> FillPolicy {
        FillPolicy {
            bounds,
            large: false,
            target: bounds.floor,
            peak: 0,
            grew: false,
            window_start: None,
            seen_starved: 0,
            seen_fill_drops: None,
            starved: false,
            held_back: 0,
        }
    }

    /// The bounds.
    pub fn bounds(&self) -> FillBounds {
        self.bounds
    }

    /// Chunks always kept now (the large floor once large frames were seen).
    pub fn floor(&self) -> u32 {
        if self.large {
            self.bounds.large_floor
        } else {
            self.bounds.floor
        }
    }

    /// Chunks the port wants on its fill ring now.
    pub fn target(&self) -> u32 {
        self.target
    }

    /// Whether the port is starved (see [`FillEvent::Starved`]).
    pub fn starved(&self) -> bool {
        self.starved
    }

    /// Times growth was held back by the budget or the reserve.
    pub fn held_back(&self) -> u64 {
        self.held_back
    }

    /// A receive burst of `received` frames (at most `max`) was taken off the RX ring.
    /// Grows the target when the ring ran low. No allocation, no clock.
    #[inline]
    pub fn on_rx(&mut self, received: usize, max: usize) {
        if received == 0 {
            return;
        }
        let r = u32::try_from(received).unwrap_or(u32::MAX);
        self.peak = self.peak.max(r);
        if r >= self.target {
            // The ring was emptied: frames were probably lost already. Catch up fast.
            self.grow();
            self.grow();
            self.grow();
        } else if r.saturating_mul(2) >= self.target || received >= max {
            self.grow();
        }
    }

    fn grow(&mut self) {
        let next = self.target.saturating_mul(2).min(self.bounds.max);
        self.grew |= next > self.target;
        self.target = next.max(self.floor());
    }

    /// Where to top the fill ring up to, given `in_fill` chunks on it, `free` chunks on
    /// the pool's free stack, and `lent_by_others` chunks the pool's other ports hold
    /// above their floors. The admitted floor is always asked for; the large floor while
    /// the reserve allows; the rest of the target while the budget allows too.
    #[inline]
    pub fn plan(&mut self, in_fill: u32, free: u32, lent_by_others: u32) -> u32 {
        if in_fill >= self.target {
            return in_fill;
        }
        let b = self.bounds;
        // Admitted floor: unconditional (admission control reserved it).
        let base = in_fill.max(b.floor.min(self.target));
        let mut free_left = free.saturating_sub(base - in_fill);
        // Large floor: a frame that needs it is dropped whole without it.
        let large = self.floor().min(self.target);
        let step = large
            .saturating_sub(base)
            .min(free_left.saturating_sub(b.reserve));
        let base = base + step;
        free_left = free_left.saturating_sub(step);
        let lent_here = base.saturating_sub(b.floor);
        let by_budget = b
            .budget
            .saturating_sub(lent_by_others)
            .saturating_sub(lent_here);
        let want = self.target - base;
        let extra = want.min(free_left.saturating_sub(b.reserve)).min(by_budget);
        if extra < want {
            self.held_back += 1;
        }
        base + extra
    }

    /// Chunks of `in_fill` that count against the pool's growth budget: those above the
    /// admitted floor.
    pub fn lent(&self, in_fill: u32) -> u32 {
        in_fill.saturating_sub(self.bounds.floor)
    }

    /// Housekeeping (every few ms, never per packet): shrinks the target after a quiet
    /// window, grows it on the kernel's drops for want of fill entries, and says whether the port starves or
    /// recovered.
    pub fn tick(&mut self, now: Instant, input: TickInput) -> FillEvent {
        if input.large_frames && !self.large {
            self.large = true;
            self.target = self.target.max(self.bounds.large_floor);
        }
        if let Some(drops) = input.fill_drops {
            if self.seen_fill_drops.is_some_and(|seen| drops > seen) {
                // The kernel found too few fill entries for a frame: a large frame can
                // need many chunks at once, so make room for one from now on.
                self.large = true;
                self.grow();
                self.target = self.target.max(self.bounds.large_floor);
            }
            self.seen_fill_drops = Some(drops);
        }
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= WINDOW {
            if !self.grew {
                let needed = self.peak.saturating_mul(2).next_power_of_two();
                self.target = (self.target / 2).max(needed).min(self.target);
                self.target = self.target.max(self.floor());
            }
            self.peak = 0;
            self.grew = false;
            self.window_start = Some(now);
        }
        let refill_failed = input.refill_starved > self.seen_starved;
        self.seen_starved = input.refill_starved;
        let short = input.in_fill < self.floor();
        match (self.starved, refill_failed && short, short) {
            (false, true, _) => {
                self.starved = true;
                FillEvent::Starved
            }
            (true, _, false) => {
                self.starved = false;
                FillEvent::Recovered
            }
            _ => FillEvent::None,
        }
    }
}
