//! Frames the router originates (ARP replies it cannot build in place, ARP requests,
//! ICMP errors, frames released from the neighbor queue), collected during a burst and
//! transmitted by the dataplane after it.
//!
//! Buffers are reused across bursts: after warm-up, pushing a frame does not allocate.

use crate::ids::PortId;

/// Largest frame the router originates or releases (a jumbo frame plus headroom).
pub const MAX_FRAME: usize = 9216 + 64;

/// One originated frame.
#[derive(Debug, Default)]
pub struct OutFrame {
    /// Port to transmit on.
    pub port: PortId,
    /// The frame bytes, Ethernet header first.
    pub data: Vec<u8>,
}

/// Frames waiting to be transmitted, in the order they were produced.
#[derive(Debug, Default)]
pub struct Outbox {
    frames: Vec<OutFrame>,
    len: usize,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Append a frame of `len` bytes for `port`, written by `fill` into a zeroed buffer.
    pub fn push_with(&mut self, port: PortId, len: usize, fill: impl FnOnce(&mut [u8])) {
        let len = len.min(MAX_FRAME);
        if self.len == self.frames.len() {
            self.frames.push(OutFrame::default());
        }
        let slot = &mut self.frames[self.len];
        self.len += 1;
        slot.port = port;
        slot.data.clear();
        slot.data.resize(len, 0);
        fill(&mut slot.data);
    }

    /// Append a copy of `frame` for `port`.
    pub fn push_copy(&mut self, port: PortId, frame: &[u8]) {
        self.push_with(port, frame.len(), |buf| {
            buf.copy_from_slice(&frame[..buf.len()])
        });
    }

    /// Number of frames waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The frames waiting, oldest first.
    pub fn frames(&self) -> &[OutFrame] {
        &self.frames[..self.len]
    }

    /// Keep, among the frames from index `start` on, only those `keep` accepts (in
    /// order); the others' buffers are kept for reuse. Returns how many were removed.
    pub fn retain_from(&mut self, start: usize, mut keep: impl FnMut(&OutFrame) -> bool) -> usize {
        let start = start.min(self.len);
        let mut kept = start;
        for i in start..self.len {
            if keep(&self.frames[i]) {
                self.frames.swap(kept, i);
                kept += 1;
            }
        }
        let removed = self.len - kept;
        self.len = kept;
        removed
    }

    /// Forget all waiting frames, keeping their buffers for reuse.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_buffers() {
        let mut o = Outbox::new();
        o.push_copy(PortId(1), &[1, 2, 3]);
        o.push_with(PortId(2), 4, |b| b[3] = 9);
        assert_eq!(o.len(), 2);
        assert_eq!(o.frames()[0].data, vec![1, 2, 3]);
        assert_eq!(o.frames()[1].data, vec![0, 0, 0, 9]);
        let cap = o.frames()[1].data.capacity();
        o.clear();
        assert!(o.is_empty());
        o.push_copy(PortId(3), &[7]);
        o.push_copy(PortId(3), &[8, 8]);
        assert_eq!(o.frames()[1].data, vec![8, 8]);
        assert!(o.frames()[1].data.capacity() >= cap.min(2));
    }

    #[test]
    fn retain_from_keeps_order_and_earlier_frames() {
        let mut o = Outbox::new();
        for (port, byte) in [(1, 1), (2, 2), (3, 3), (2, 4), (1, 5)] {
            o.push_copy(PortId(port), &[byte]);
        }
        let removed = o.retain_from(1, |f| f.port != PortId(2));
        assert_eq!(removed, 2);
        let kept: Vec<u8> = o.frames().iter().map(|f| f.data[0]).collect();
        assert_eq!(kept, vec![1, 3, 5]);
        // Before `start` nothing is looked at.
        assert_eq!(o.retain_from(0, |f| f.port != PortId(1)), 2);
        assert_eq!(o.frames().len(), 1);
        assert_eq!(o.frames()[0].port, PortId(3));
    }
}
