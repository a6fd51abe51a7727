//! The four AF_XDP rings: single-producer/single-consumer queues in memory shared with
//! the kernel. See Documentation/networking/af_xdp.rst.
//!
//! Protocol: the producer writes entries at `producer & mask`, then publishes them with a
//! Release store of `producer`; the consumer reads `producer` with Acquire, copies the
//! entries out, then hands the slots back with a Release store of `consumer`. Indices are
//! free-running `u32`s (wrapping arithmetic); `size` is a power of two.

use crate::mmap::Mapping;
use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::sync::atomic::{AtomicU32, Ordering};

/// One RX or TX descriptor (`struct xdp_desc`): a UMEM address, a length and options.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpDesc {
    /// Address of the first byte of the frame inside the UMEM.
    pub addr: u64,
    /// Length of the frame (or of this fragment) in bytes.
    pub len: u32,
    /// `XDP_PKT_CONTD` (bit 0) when more fragments of the same packet follow.
    pub options: u32,
}

const _: () = assert!(size_of::<XdpDesc>() == size_of::<libc::xdp_desc>());

impl XdpDesc {
    /// Whether more descriptors of the same packet follow (multi-buffer, `XDP_PKT_CONTD`).
    pub fn is_continued(&self) -> bool {
        self.options & libc::XDP_PKT_CONTD != 0
    }
}

/// How many leading descriptors form whole packets (the last one not continued).
pub(crate) fn whole_packets(descs: &[XdpDesc]) -> usize {
    descs
        .iter()
        .rposition(|d| !d.is_continued())
        .map_or(0, |i| i + 1)
}

/// Entry types a ring may hold: plain old data of the kernel's layout.
pub(crate) trait RingEntry: Copy {}
impl RingEntry for u64 {}
impl RingEntry for XdpDesc {}

/// A mapped ring: the mapping plus validated pointers into it.
#[derive(Debug)]
struct RingMap<T> {
    map: Mapping,
    producer: usize,
    consumer: usize,
    flags: usize,
    desc: usize,
    mask: u32,
    _entry: PhantomData<T>,
}

impl<T: RingEntry> RingMap<T> {
    /// Checks that the kernel's offsets lie inside `map` and are aligned, so the
    /// accessors below only ever touch mapped, aligned memory.
    fn new(map: Mapping, off: &libc::xdp_ring_offset, size: u32) -> io::Result<Self> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "ring offsets out of bounds");
        if size == 0 || !size.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ring size not 2^n",
            ));
        }
        let word = |o: u64| -> io::Result<usize> {
            let o = usize::try_from(o).map_err(|_| bad())?;
            let in_bounds = o.checked_add(4).is_some_and(|end| end <= map.len());
            if !in_bounds || o % 4 != 0 {
                return Err(bad());
            }
            Ok(o)
        };
        let producer = word(off.producer)?;
        let consumer = word(off.consumer)?;
        let flags = word(off.flags)?;
        let desc = usize::try_from(off.desc).map_err(|_| bad())?;
        let desc_end = (size as usize)
            .checked_mul(size_of::<T>())
            .and_then(|b| b.checked_add(desc))
            .ok_or_else(bad)?;
        if desc_end > map.len() || desc % std::mem::align_of::<T>() != 0 {
            return Err(bad());
        }
        Ok(Self {
            map,
            producer,
            consumer,
            flags,
            desc,
            mask: size - 1,
            _entry: PhantomData,
        })
    }

    fn atomic(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: `offset` was checked in `new` to be 4-aligned and inside the mapping,
        // which lives as long as `self`; the kernel only accesses the word atomically.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    fn producer(&self) -> &AtomicU32 {
        self.atomic(self.producer)
    }

    fn consumer(&self) -> &AtomicU32 {
        self.atomic(self.consumer)
    }

    fn needs_wakeup(&self) -> bool {
        self.atomic(self.flags).load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    fn slot(&self, index: u32) -> *mut T {
        let i = (index & self.mask) as usize;
        // SAFETY: i <= mask < size and `new` checked desc + size * size_of::<T>() is
        // inside the mapping and aligned for T.
        unsafe { self.map.as_ptr().add(self.desc).cast::<T>().add(i) }
    }

    fn size(&self) -> u32 {
        self.mask + 1
    }
}

/// A ring userspace produces into: fill (addresses) and TX (descriptors).
#[derive(Debug)]
pub(crate) struct ProducerRing<T> {
    ring: RingMap<T>,
    cached_prod: u32,
    cached_cons: u32,
}

impl<T: RingEntry> ProducerRing<T> {
    pub(crate) fn new(map: Mapping, off: &libc::xdp_ring_offset, size: u32) -> io::Result<Self> {
        let ring = RingMap::new(map, off, size)?;
        let cached_prod = ring.producer().load(Ordering::Relaxed);
        let cached_cons = ring.consumer().load(Ordering::Acquire);
        Ok(Self {
            ring,
            cached_prod,
            cached_cons,
        })
    }

    /// Free slots, refreshing the kernel's consumer index only if fewer than `want`.
    pub(crate) fn free(&mut self, want: u32) -> u32 {
        let size = self.ring.size();
        let mut free = size.saturating_sub(self.cached_prod.wrapping_sub(self.cached_cons));
        if free < want {
            self.cached_cons = self.ring.consumer().load(Ordering::Acquire);
            free = size.saturating_sub(self.cached_prod.wrapping_sub(self.cached_cons));
        }
        free
    }

    /// Publishes as many of `items` as fit; returns how many.
    pub(crate) fn produce(&mut self, items: &[T]) -> usize {
        let want = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let n = self.free(want).min(want);
        for (i, item) in items.iter().take(n as usize).enumerate() {
            let slot = self.ring.slot(self.cached_prod.wrapping_add(i as u32));
            // SAFETY: the slot is inside the ring (see `slot`) and owned by us: it lies
            // between the kernel's consumer and our unpublished producer index.
            unsafe { slot.write(*item) };
        }
        if n > 0 {
            self.cached_prod = self.cached_prod.wrapping_add(n);
            self.ring
                .producer()
                .store(self.cached_prod, Ordering::Release);
        }
        n as usize
    }

    /// Entries published but not yet consumed by the kernel.
    pub(crate) fn outstanding(&mut self) -> u32 {
        self.cached_cons = self.ring.consumer().load(Ordering::Acquire);
        self.cached_prod.wrapping_sub(self.cached_cons)
    }

    pub(crate) fn needs_wakeup(&self) -> bool {
        self.ring.needs_wakeup()
    }
}

/// A ring userspace consumes from: RX (descriptors) and completion (addresses).
#[derive(Debug)]
pub(crate) struct ConsumerRing<T> {
    ring: RingMap<T>,
    cached_prod: u32,
    cached_cons: u32,
}

impl<T: RingEntry> ConsumerRing<T> {
    pub(crate) fn new(map: Mapping, off: &libc::xdp_ring_offset, size: u32) -> io::Result<Self> {
        let ring = RingMap::new(map, off, size)?;
        let cached_cons = ring.consumer().load(Ordering::Relaxed);
        let cached_prod = ring.producer().load(Ordering::Acquire);
        Ok(Self {
            ring,
            cached_prod,
            cached_cons,
        })
    }

    /// Copies up to `out.len()` entries out without releasing them.
    pub(crate) fn peek(&mut self, out: &mut [T]) -> usize {
        let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let mut avail = self.cached_prod.wrapping_sub(self.cached_cons);
        if avail < want {
            self.cached_prod = self.ring.producer().load(Ordering::Acquire);
            avail = self.cached_prod.wrapping_sub(self.cached_cons);
        }
        let n = avail.min(want) as usize;
        for (i, o) in out.iter_mut().take(n).enumerate() {
            let slot = self.ring.slot(self.cached_cons.wrapping_add(i as u32));
            // SAFETY: the slot is inside the ring and was published by the kernel (its
            // index is below the producer value read with Acquire) and not yet released.
            *o = unsafe { slot.read() };
        }
        n
    }

    /// Hands `n` peeked entries back to the kernel.
    pub(crate) fn release(&mut self, n: usize) {
        if n > 0 {
            self.cached_cons = self.cached_cons.wrapping_add(n as u32);
            self.ring
                .consumer()
                .store(self.cached_cons, Ordering::Release);
        }
    }

    pub(crate) fn consume(&mut self, out: &mut [T]) -> usize {
        let n = self.peek(out);
        self.release(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFF: libc::xdp_ring_offset = libc::xdp_ring_offset {
        producer: 0,
        consumer: 64,
        flags: 128,
        desc: 192,
    };

    /// Plays the kernel's side of a ring: its index word at `offset` in the mapping.
    fn kernel_index(base: *mut u8, offset: usize) -> &'static AtomicU32 {
        // SAFETY: test-only; the mapping (4096 bytes) outlives every use in the test and
        // the offset is 4-aligned and in bounds.
        unsafe { &*base.add(offset).cast::<AtomicU32>() }
    }

    #[test]
    fn producer_respects_the_consumer_and_wraps() {
        let map = Mapping::anonymous(4096).expect("mmap");
        let base = map.as_ptr();
        let mut p = ProducerRing::<u64>::new(map, &OFF, 4).expect("ring");
        assert_eq!(p.produce(&[1, 2, 3, 4, 5]), 4);
        assert_eq!(p.produce(&[6]), 0);
        assert_eq!(kernel_index(base, 0).load(Ordering::Acquire), 4);
        kernel_index(base, 64).store(2, Ordering::Release); // kernel took two
        assert_eq!(p.outstanding(), 2);
        assert_eq!(p.produce(&[6, 7, 8]), 2);
        let slot0 = p.ring.slot(4);
        // SAFETY: test-only read of a published slot.
        assert_eq!(unsafe { slot0.read() }, 6);
    }

    #[test]
    fn consumer_sees_only_published_entries() {
        let map = Mapping::anonymous(4096).expect("mmap");
        let base = map.as_ptr();
        let mut c = ConsumerRing::<XdpDesc>::new(map, &OFF, 4).expect("ring");
        let mut out = [XdpDesc::default(); 8];
        assert_eq!(c.consume(&mut out), 0);
        for i in 0..3u32 {
            let d = XdpDesc {
                addr: u64::from(i) * 2048,
                len: 60 + i,
                options: 0,
            };
            // SAFETY: test-only write of an unpublished slot, as the kernel would.
            unsafe { c.ring.slot(i).write(d) };
        }
        kernel_index(base, 0).store(3, Ordering::Release);
        assert_eq!(c.consume(&mut out[..2]), 2);
        assert_eq!(out[1].len, 61);
        assert_eq!(kernel_index(base, 64).load(Ordering::Acquire), 2);
        assert_eq!(c.consume(&mut out), 1);
        assert_eq!(out[0].addr, 4096);
    }

    #[test]
    fn bad_offsets_are_refused() {
        let map = Mapping::anonymous(4096).expect("mmap");
        let off = libc::xdp_ring_offset { desc: 4040, ..OFF };
        assert!(ConsumerRing::<XdpDesc>::new(map, &off, 4).is_err());
        let map = Mapping::anonymous(4096).expect("mmap");
        assert!(ProducerRing::<u64>::new(map, &OFF, 3).is_err());
    }

    #[test]
    fn chains_are_kept_whole() {
        let d = |contd: bool| XdpDesc {
            addr: 0,
            len: 1,
            options: u32::from(contd),
        };
        assert_eq!(whole_packets(&[d(false), d(true), d(false)]), 3);
        assert_eq!(whole_packets(&[d(false), d(true), d(true)]), 1);
        assert_eq!(whole_packets(&[d(true), d(true)]), 0);
        assert_eq!(whole_packets(&[]), 0);
    }
}
