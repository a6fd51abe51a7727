//! Frames the kernel dropped on an AF_XDP socket before the router saw them, by cause.
//!
//! The kernel counts them per socket and gives the totals with `XDP_STATISTICS`
//! (`struct xdp_statistics`). In copy mode, the mode every port here runs in,
//! `__xsk_rcv` (net/xdp/xsk.c) drops a frame for one of two reasons, and the two call
//! for opposite fixes:
//! - **no fill entry**: `xsk_buff_alloc` found the socket's fill ring empty, or
//!   `xsk_buff_can_alloc` found fewer entries than a multi-buffer frame's descriptors; it
//!   also drops a frame larger than a chunk on a socket bound without `XDP_USE_SG`.
//!   Counted as `rx_dropped`. The port's fill quota was too small for the burst
//!   (docs/FRAMES.md): a frame-budget problem. The router's drop reason `rx_no_frame`.
//! - **RX ring full**: `xskq_prod_reserve_desc` found no room on the socket's RX ring
//!   (`rx_queue_full`, reported as `rx_ring_full`): the router did not take frames off
//!   the ring in time. The drop reason `rx_ring_full`.
//!
//! `rx_invalid_descs` (descriptors the kernel found invalid on the socket's RX ring) is
//! counted as well, as `rx_invalid_desc`: a frame is lost with each.
//!
//! The totals are read between bursts (one system call per socket), never per packet;
//! [`RxDropAccount`] turns the totals into the growth since the last reading.

use sys::XskStats;

/// Kernel receive drops of one socket (or their growth), by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxDrops {
    /// No fill entry for the frame (`rx_dropped`): the router's `rx_no_frame`.
    pub no_fill: u64,
    /// No room on the RX ring (`rx_ring_full`): the router's `rx_ring_full`.
    pub ring_full: u64,
    /// Invalid descriptors on the RX ring (`rx_invalid_descs`): `rx_invalid_desc`.
    pub invalid_descs: u64,
}

impl RxDrops {
    /// The receive drops among a socket's kernel counters.
    pub fn from_stats(s: &XskStats) -> RxDrops {
        RxDrops {
            no_fill: s.rx_dropped,
            ring_full: s.rx_ring_full,
            invalid_descs: s.rx_invalid_descs,
        }
    }

    /// All causes together.
    pub fn total(&self) -> u64 {
        self.no_fill
            .saturating_add(self.ring_full)
            .saturating_add(self.invalid_descs)
    }

    /// Adds `other`, cause by cause.
    pub fn add(&mut self, other: RxDrops) {
        self.no_fill = self.no_fill.saturating_add(other.no_fill);
        self.ring_full = self.ring_full.saturating_add(other.ring_full);
        self.invalid_descs = self.invalid_descs.saturating_add(other.invalid_descs);
    }

    /// What grew from `earlier` to `self`, cause by cause (a counter that went back
    /// counts nothing).
    fn since(&self, earlier: RxDrops) -> RxDrops {
        RxDrops {
            no_fill: self.no_fill.saturating_sub(earlier.no_fill),
            ring_full: self.ring_full.saturating_sub(earlier.ring_full),
            invalid_descs: self.invalid_descs.saturating_sub(earlier.invalid_descs),
        }
    }
}

/// One socket's kernel receive drops: the totals last read, and the growth not yet
/// taken into the router's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxDropAccount {
    seen: RxDrops,
    pending: RxDrops,
}

impl RxDropAccount {
    /// Records a reading of the socket's totals and returns what grew since the last
    /// one (the first reading counts everything since the socket was bound: frames
    /// that arrived before its fill ring was filled were dropped too).
    pub fn record(&mut self, totals: RxDrops) -> RxDrops {
        let grown = totals.since(self.seen);
        self.seen = totals;
        self.pending.add(grown);
        grown
    }

    /// The totals last read.
    pub fn seen(&self) -> RxDrops {
        self.seen
    }

    /// The growth recorded since the last call, for the router's drop counters.
    pub fn take(&mut self) -> RxDrops {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rx_dropped: u64, rx_ring_full: u64, rx_invalid_descs: u64) -> XskStats {
        XskStats {
            rx_dropped,
            rx_ring_full,
            rx_invalid_descs,
            // Not receive drops: never counted here.
            tx_invalid_descs: 1000,
            rx_fill_ring_empty_descs: 2000,
            tx_ring_empty_descs: 3000,
        }
    }

    #[test]
    fn each_kernel_counter_lands_in_its_own_cause() {
        let d = RxDrops::from_stats(&stats(3, 5, 7));
        assert_eq!(
            d,
            RxDrops {
                no_fill: 3,
                ring_full: 5,
                invalid_descs: 7
            }
        );
        assert_eq!(d.total(), 15);
    }

    #[test]
    fn readings_count_growth_once_per_cause() {
        let mut a = RxDropAccount::default();
        // The first reading counts everything since the socket was bound.
        let first = a.record(RxDrops::from_stats(&stats(4, 0, 0)));
        assert_eq!(first.no_fill, 4);
        let second = a.record(RxDrops::from_stats(&stats(10, 2, 0)));
        assert_eq!(
            second,
            RxDrops {
                no_fill: 6,
                ring_full: 2,
                invalid_descs: 0
            }
        );
        // Taken once: the sum of both readings, then nothing.
        assert_eq!(
            a.take(),
            RxDrops {
                no_fill: 10,
                ring_full: 2,
                invalid_descs: 0
            }
        );
        assert_eq!(a.take(), RxDrops::default());
        // An unchanged reading adds nothing.
        a.record(RxDrops::from_stats(&stats(10, 2, 0)));
        assert_eq!(a.take(), RxDrops::default());
        assert_eq!(a.seen().total(), 12);
    }

    #[test]
    fn a_counter_that_goes_back_counts_nothing_and_rebases() {
        let mut a = RxDropAccount::default();
        a.record(RxDrops::from_stats(&stats(100, 50, 1)));
        a.take();
        // A fresh socket behind the same port: its counters start again.
        let grown = a.record(RxDrops::from_stats(&stats(3, 60, 1)));
        assert_eq!(
            grown,
            RxDrops {
                no_fill: 0,
                ring_full: 10,
                invalid_descs: 0
            }
        );
        let grown = a.record(RxDrops::from_stats(&stats(5, 60, 1)));
        assert_eq!(grown.no_fill, 2);
    }

    #[test]
    fn sums_saturate() {
        let mut d = RxDrops {
            no_fill: u64::MAX,
            ring_full: 1,
            invalid_descs: 0,
        };
        assert_eq!(d.total(), u64::MAX);
        d.add(RxDrops {
            no_fill: 1,
            ring_full: 1,
            invalid_descs: 1,
        });
        assert_eq!((d.no_fill, d.ring_full, d.invalid_descs), (u64::MAX, 2, 1));
    }
}
