//! An in-memory `Port`: tests and benchmarks inject frames and read what was sent,
//! with no device and no privileges.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::port::{Port, TxResult};

/// Free frame buffers shared by the in-memory ports of one pipeline, as a UMEM is shared
/// by AF_XDP sockets: a frame received on one port and sent on another returns here.
pub type MemPool = Rc<RefCell<Vec<Vec<u8>>>>;

/// In-memory port. Received frames come from [`MemPort::inject`] (or from a template in
/// generator mode); transmitted frames are captured in [`MemPort::take_sent`].
#[derive(Debug, Default)]
pub struct MemPort {
    rx: VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
    pool: MemPool,
    /// If set, at most this many frames are kept in `sent`; the rest are counted only.
    capture_limit: Option<usize>,
    /// Frames transmitted, captured or not.
    pub tx_count: u64,
    /// If set, `rx_burst` produces copies of this frame forever (benchmarks).
    generator: Option<Vec<u8>>,
    /// Whether `tx_gso` is offered, and whether it fails (to test fallbacks).
    gso: Option<bool>,
    /// Frames sent with `tx_gso`: virtio-net header and the frame's bytes.
    gso_sent: Vec<([u8; 10], Vec<u8>)>,
    /// If set, a transmit ring of this many slots, emptied at each burst: a burst
    /// sends at most this many frames and drops the rest ([`MemPort::with_tx_ring`]).
    tx_ring: Option<usize>,
}

impl MemPort {
    /// An empty port that captures everything it sends.
    pub fn new() -> MemPort {
        MemPort::default()
    }

    /// A port that receives copies of `template` on every `rx_burst`, taking buffers
    /// from `pool`: with sinks on the same pool, a steady state with no allocation.
    pub fn generator(template: Vec<u8>, pool: MemPool) -> MemPort {
        MemPort {
            generator: Some(template),
            capture_limit: Some(0),
            pool,
            ..MemPort::default()
        }
    }

    /// A port that counts what it transmits, captures nothing, and returns buffers to
    /// `pool`.
    pub fn sink(pool: MemPool) -> MemPort {
        MemPort {
            capture_limit: Some(0),
            pool,
            ..MemPort::default()
        }
    }

    /// This port, taking GSO sends ([`Port::tx_gso`]); with `fail`, every GSO send
    /// fails (as with a full send buffer).
    pub fn with_gso(mut self, fail: bool) -> MemPort {
        self.gso = Some(fail);
        self
    }

    /// This port, with a transmit ring of `slots` frames emptied at every burst (as a
    /// kick empties an AF_XDP socket's): a burst of more frames drops the rest as
    /// ring full, and [`Port::tx_room`] says `slots`.
    pub fn with_tx_ring(mut self, slots: usize) -> MemPort {
        self.tx_ring = Some(slots);
        self
    }

    /// Frames sent with `tx_gso` since the last call, with their virtio-net headers.
    /// Frames sent with `tx_burst`/`tx_copy` are in [`MemPort::take_sent`]; the order
    /// between the two is not recorded.
    pub fn take_sent_gso(&mut self) -> Vec<([u8; 10], Vec<u8>)> {
        std::mem::take(&mut self.gso_sent)
    }

    /// Queue a frame as if the device had received it.
    pub fn inject(&mut self, frame: &[u8]) {
        self.rx.push_back(frame.to_vec());
    }

    /// Frames transmitted since the last call.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.sent)
    }

    fn buffer(&mut self) -> Vec<u8> {
        self.pool.borrow_mut().pop().unwrap_or_default()
    }

    fn keep_sent(&mut self, frame: Vec<u8>) {
        self.tx_count += 1;
        match self.capture_limit {
            Some(limit) if self.sent.len() >= limit => self.recycle(frame),
            _ => self.sent.push(frame),
        }
    }
}

impl Port for MemPort {
    type Frame = Vec<u8>;

    fn rx_burst(&mut self, out: &mut Vec<Vec<u8>>, max: usize) -> usize {
        if let Some(template) = &self.generator {
            // Take the burst's buffers from the pool in one move (new ones if it runs
            // dry), then copy the template into each, as a NIC's DMA would write it.
            let mut pool = self.pool.borrow_mut();
            let start = out.len();
            if start == 0 && pool.len() <= max {
                // The usual case: the whole pool is this burst's buffers.
                std::mem::swap(out, &mut *pool);
            } else {
                let from = pool.len() - max.min(pool.len());
                out.extend(pool.drain(from..));
            }
            out.resize_with(start + max, Vec::new);
            for buf in &mut out[start..] {
                buf.clear();
                buf.extend_from_slice(template);
            }
            return max;
        }
        let n = max.min(self.rx.len());
        out.extend(self.rx.drain(..n));
        n
    }

    fn tx_burst(&mut self, frames: &mut Vec<Vec<u8>>) -> TxResult {
        let dropped = match self.tx_ring {
            Some(slots) if frames.len() > slots => {
                let excess = frames.len() - slots;
                self.pool.borrow_mut().extend(frames.drain(slots..));
                excess
            }
            _ => 0,
        };
        let sent = frames.len();
        let bytes = frames.iter().map(Vec::len).sum();
        self.tx_count += sent as u64;
        // The first frames up to the capture limit are kept; the rest go back to the
        // pool in one move.
        let room = match self.capture_limit {
            Some(limit) => limit.saturating_sub(self.sent.len()),
            None => usize::MAX,
        };
        self.sent.extend(frames.drain(..room.min(sent)));
        self.pool.borrow_mut().append(frames);
        TxResult {
            sent,
            bytes,
            dropped,
        }
    }

    fn tx_room(&mut self) -> usize {
        self.tx_ring.unwrap_or(usize::MAX)
    }

    fn tx_copy(&mut self, data: &[u8]) -> bool {
        let mut buf = self.buffer();
        buf.clear();
        buf.extend_from_slice(data);
        self.keep_sent(buf);
        true
    }

    fn frame_from(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let mut buf = self.buffer();
        buf.clear();
        buf.extend_from_slice(data);
        Some(buf)
    }

    fn recycle(&mut self, frame: Vec<u8>) {
        self.pool.borrow_mut().push(frame);
    }

    fn takes_gso(&self) -> bool {
        self.gso.is_some()
    }

    fn tx_gso(&mut self, vnet: &[u8; 10], pieces: &[&[u8]]) -> bool {
        if self.gso != Some(false) {
            return false;
        }
        self.gso_sent.push((*vnet, pieces.concat()));
        true
    }
}
