//! The bounded queue of frames waiting for one neighbor's resolution.
//!
//! RFC 1122 2.3.2.2: "The link layer SHOULD save (rather than discard) at least one (the
//! latest) packet of each set of packets destined to the same unresolved IP address, and
//! transmit the saved packet when the address has been resolved." We keep the latest
//! `queue_len` frames: when full, the oldest is dropped.
//!
//! Storage is a ring of `Vec<u8>` slots that are reused from frame to frame and from
//! neighbor to neighbor (a freed cache slot keeps its queue), so queueing a standard-size
//! frame allocates only the first time a slot is used. Buffers that grew past
//! [`RETAIN_CAPACITY`] (a guest's 64 KB GSO frame) are freed when emptied, so retained
//! memory stays small.

/// Buffers with more capacity than this are freed instead of kept for reuse: a standard
/// Ethernet frame (1518 bytes, 1522 tagged) fits.
pub(super) const RETAIN_CAPACITY: usize = 2048;

/// A FIFO of at most `capacity` frames, oldest dropped first.
#[derive(Debug, Default)]
pub(super) struct FrameQueue {
    /// Ring slots; `bufs.len()` is the capacity once the first frame was pushed.
    bufs: Vec<Vec<u8>>,
    /// Index of the oldest frame.
    head: usize,
    /// Frames queued.
    len: usize,
    /// Sum of the queued frames' lengths.
    bytes: usize,
}

impl FrameQueue {
    /// Frames queued.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Bytes queued.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drop the oldest frame; returns its length, `None` if the queue is empty.
    pub(super) fn drop_oldest(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let n = release(&mut self.bufs[self.head]);
        self.head = (self.head + 1) % self.bufs.len();
        self.len -= 1;
        self.bytes -= n;
        Some(n)
    }

    /// Append a copy of `frame`, first dropping the oldest frame if `capacity` frames are
    /// queued. Returns the length of the dropped frame, if one was. `capacity` must be at
    /// least 1 and the same on every call.
    pub(super) fn push(&mut self, frame: &[u8], capacity: usize) -> Option<usize> {
        if self.bufs.len() != capacity {
            // First use of this slot (or a capacity change): start a fresh ring.
            self.clear();
            self.bufs.resize_with(capacity.max(1), Vec::new);
        }
        let dropped = if self.len == self.bufs.len() {
            self.drop_oldest()
        } else {
            None
        };
        let tail = (self.head + self.len) % self.bufs.len();
        let buf = &mut self.bufs[tail];
        buf.clear();
        buf.extend_from_slice(frame);
        self.len += 1;
        self.bytes += frame.len();
        dropped
    }

    /// Hand every queued frame to `f`, oldest first, mutable so the caller can write the
    /// destination MAC in place. Empties the queue; returns (frames, bytes).
    pub(super) fn drain(&mut self, mut f: impl FnMut(&mut [u8])) -> (usize, usize) {
        let out = (self.len, self.bytes);
        while self.len > 0 {
            let buf = &mut self.bufs[self.head];
            f(buf.as_mut_slice());
            release(buf);
            self.head = (self.head + 1) % self.bufs.len();
            self.len -= 1;
        }
        self.head = 0;
        self.bytes = 0;
        out
    }

    /// Drop every queued frame; returns (frames, bytes).
    pub(super) fn clear(&mut self) -> (usize, usize) {
        let out = (self.len, self.bytes);
        while self.drop_oldest().is_some() {}
        self.head = 0;
        out
    }
}

/// Empty a slot buffer, freeing it if it grew too large to keep.
fn release(buf: &mut Vec<u8>) -> usize {
    let n = buf.len();
    if buf.capacity() > RETAIN_CAPACITY {
        *buf = Vec::new();
    } else {
        buf.clear();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(q: &mut FrameQueue) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        q.drain(|f| out.push(f.to_vec()));
        out
    }

    #[test]
    fn fifo_and_bounded() {
        let mut q = FrameQueue::default();
        assert_eq!(q.push(&[1], 3), None);
        assert_eq!(q.push(&[2, 2], 3), None);
        assert_eq!(q.push(&[3, 3, 3], 3), None);
        assert_eq!(q.bytes(), 6);
        // Full: the oldest (1 byte) goes.
        assert_eq!(q.push(&[4, 4, 4, 4], 3), Some(1));
        assert_eq!(q.len(), 3);
        assert_eq!(q.bytes(), 9);
        assert_eq!(
            contents(&mut q),
            vec![vec![2, 2], vec![3, 3, 3], vec![4, 4, 4, 4]]
        );
        assert_eq!((q.len(), q.bytes()), (0, 0));
    }

    #[test]
    fn buffers_are_reused_and_big_ones_freed() {
        let mut q = FrameQueue::default();
        q.push(&[0; 1500], 2);
        q.drain(|_| {});
        let ptr = q.bufs[0].as_ptr();
        q.push(&[1; 1000], 2);
        assert_eq!(q.bufs[0].as_ptr(), ptr, "slot buffer reused");
        q.drain(|_| {});

        q.push(&[0; 60_000], 2);
        assert_eq!(q.clear(), (1, 60_000));
        assert!(q.bufs.iter().all(|b| b.capacity() <= RETAIN_CAPACITY));
    }

    #[test]
    fn drain_allows_in_place_rewrite() {
        let mut q = FrameQueue::default();
        q.push(&[0; 14], 3);
        q.push(&[0; 14], 3);
        let mut seen = 0;
        q.drain(|f| {
            f[..6].copy_from_slice(&[0xaa; 6]);
            assert_eq!(&f[..6], &[0xaa; 6]);
            seen += 1;
        });
        assert_eq!(seen, 2);
    }
}
