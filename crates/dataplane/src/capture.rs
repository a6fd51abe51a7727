//! `hvrouter capture`: copies of what ports receive and send, with the router's
//! decision, kept only while a capture runs.
//!
//! AF_XDP takes guests' frames before the kernel's stack sees them, so tcpdump on a tap
//! or on the uplink no longer shows them. The pipeline copies them here instead:
//!
//! - Off (the normal state) it costs one test of a bool per received burst and per
//!   transmit queue, nothing per frame.
//! - On, each received frame is copied (up to `snaplen` bytes) before the router
//!   rewrites it in place, and its record gets the router's [`Action`] once decided;
//!   each frame handed to a port for transmission is copied as sent.
//! - Records go into one buffer of at most `max_bytes`, allocated when the capture
//!   starts and never grown. When it is full, further frames are counted as dropped
//!   until the control plane takes the buffer ([`Capture::take`]); nothing is
//!   overwritten and nothing is allocated per frame.
//!
//! Timestamps are the pipeline's clock (`now` of the pass), not a clock read here.

use hvrouter_core::drop::DropReason;
use hvrouter_core::router::Action;
use hvrouter_core::{Instant, PortId};

use crate::port::Frame;

/// Default size of the capture buffer.
pub const DEFAULT_CAPTURE_BYTES: usize = 4 << 20;
/// Largest capture buffer.
pub const MAX_CAPTURE_BYTES: usize = 16 << 20;
/// Smallest capture buffer (room for a few full-size frames).
pub const MIN_CAPTURE_BYTES: usize = 64 << 10;
/// Default bytes kept of each frame (tcpdump's default: whole frames, even 64 KB GSO
/// frames from a tap).
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// Bytes of bookkeeping per record, charged against `max_bytes` with the frame's
/// bytes, so a flood of small frames is bounded as well.
pub const RECORD_HEADER: usize = 24;

/// Which way a captured frame went through its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received by the port.
    Rx,
    /// Handed to the port for transmission.
    Tx,
}

/// What happened to a captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Received: the router's decision.
    Decided(Action),
    /// Received: decided forward, but the egress port has no device (counted as
    /// `egress_port_missing`).
    EgressMissing(PortId),
    /// Received, decision not recorded (never seen outside a pass).
    Unknown,
    /// Sent: a received frame, rewritten, handed to the port.
    Sent,
    /// Sent: a frame from the router's outbox (ARP, ICMP error, announcement, segment,
    /// fragment, or a frame held while its next hop was resolved);
    /// `false` if the port had no room for it (counted as `tx_ring_full`).
    Originated(bool),
}

/// Settings of one capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Only these ports; empty: every port, including ports attached later.
    pub ports: Vec<PortId>,
    /// Bytes kept of each frame (at least 1).
    pub snaplen: u32,
    /// Size of the buffer ([`MIN_CAPTURE_BYTES`]..=[`MAX_CAPTURE_BYTES`]).
    pub max_bytes: usize,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            ports: Vec::new(),
            snaplen: DEFAULT_SNAPLEN,
            max_bytes: DEFAULT_CAPTURE_BYTES,
        }
    }
}

/// The pipeline's capture buffer (see the module doc).
#[derive(Debug, Default)]
pub struct Capture {
    on: bool,
    /// `filter[port]`: capture this port; `None`: all ports.
    filter: Option<Vec<bool>>,
    snaplen: usize,
    max_bytes: usize,
    buf: Vec<u8>,
    /// Offsets in `buf` of the current burst's receive records (`None`: not stored).
    pending: Vec<Option<usize>>,
    captured: u64,
    dropped: u64,
}

/// Records taken from a [`Capture`], in the order they were made.
#[derive(Debug, Default)]
pub struct CaptureBatch {
    buf: Vec<u8>,
    /// Records stored since the capture started.
    pub captured: u64,
    /// Records not stored since the capture started (the buffer was full).
    pub dropped: u64,
}

/// One record of a [`CaptureBatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureRecord<'a> {
    /// When the pass that saw it started.
    pub time: Instant,
    /// The port.
    pub port: PortId,
    /// Received or sent.
    pub direction: Direction,
    /// What happened to it.
    pub verdict: Verdict,
    /// The frame's full length.
    pub len: u32,
    /// Its first `snaplen` bytes (as received, before any rewrite, for `Rx`).
    pub data: &'a [u8],
}

impl Capture {
    /// Start a capture, discarding any earlier records. The buffer is allocated here,
    /// once, at its full (clamped) size.
    pub fn start(&mut self, config: &CaptureConfig) {
        self.max_bytes = config.max_bytes.clamp(MIN_CAPTURE_BYTES, MAX_CAPTURE_BYTES);
        self.snaplen = (config.snaplen.max(1) as usize).min(self.max_bytes - RECORD_HEADER);
        self.set_ports((!config.ports.is_empty()).then_some(&config.ports[..]));
        if self.buf.capacity() != self.max_bytes {
            self.buf = Vec::with_capacity(self.max_bytes);
        }
        self.buf.clear();
        self.pending.clear();
        self.pending.reserve(256);
        self.captured = 0;
        self.dropped = 0;
        self.on = true;
    }

    /// Stop copying and hand over what was not taken yet. The buffer is freed.
    pub fn stop(&mut self) -> CaptureBatch {
        self.on = false;
        let batch = CaptureBatch {
            buf: std::mem::take(&mut self.buf),
            captured: self.captured,
            dropped: self.dropped,
        };
        self.filter = None;
        self.pending = Vec::new();
        batch
    }

    /// Whether a capture runs.
    pub fn is_running(&self) -> bool {
        self.on
    }

    /// Bytes kept of each frame, as clamped by [`Capture::start`].
    pub fn snaplen(&self) -> u32 {
        self.snaplen as u32
    }

    /// Size of the buffer, as clamped by [`Capture::start`].
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The records made since the last take; the capture goes on with an empty buffer
    /// (the one given back by [`Capture::give_back`] if any, else a new one).
    pub fn take(&mut self) -> CaptureBatch {
        let fresh = if self.on {
            Vec::with_capacity(self.max_bytes)
        } else {
            Vec::new()
        };
        CaptureBatch {
            buf: std::mem::replace(&mut self.buf, fresh),
            captured: self.captured,
            dropped: self.dropped,
        }
    }

    /// Take like [`Capture::take`], reusing the buffer of a batch already read, so a
    /// steady capture allocates nothing.
    pub fn take_reusing(&mut self, mut done: CaptureBatch) -> CaptureBatch {
        if !self.on || done.buf.capacity() != self.max_bytes {
            return self.take();
        }
        done.buf.clear();
        CaptureBatch {
            buf: std::mem::replace(&mut self.buf, done.buf),
            captured: self.captured,
            dropped: self.dropped,
        }
    }

    /// Whether a capture runs (on any port).
    #[inline(always)]
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Whether frames of `port` are captured now: while off, the only cost of capture.
    #[inline(always)]
    pub fn wants(&self, port: PortId) -> bool {
        self.on
            && match &self.filter {
                None => true,
                Some(f) => f.get(port.index()) == Some(&true),
            }
    }

    /// Capture only `ports` from now on (`Some(&[])`: none), or every port (`None`),
    /// keeping what was recorded: the control plane follows named devices whose port
    /// changed (a guest removed, or added again on another port).
    pub fn set_ports(&mut self, ports: Option<&[PortId]>) {
        self.filter = ports.map(|ports| {
            let mut f = vec![false; ports.iter().map(|p| p.index() + 1).max().unwrap_or(0)];
            for p in ports {
                f[p.index()] = true;
            }
            f
        });
    }

    /// Copy a received burst (before the router rewrites it); its verdicts follow with
    /// [`Capture::decide`].
    pub fn record_rx<F: Frame>(&mut self, port: PortId, now: Instant, frames: &[F]) {
        self.pending.clear();
        for f in frames {
            let at = self.push(now, port, Direction::Rx, Verdict::Unknown, f.data());
            self.pending.push(at);
        }
    }

    /// Fill in the verdicts of the burst copied by [`Capture::record_rx`], one action per
    /// frame in order; `attached` says whether a port has a device.
    pub fn decide(&mut self, actions: &[Action], attached: impl Fn(PortId) -> bool) {
        for (at, &action) in self.pending.iter().zip(actions) {
            let Some(at) = *at else { continue };
            let verdict = match action {
                Action::Forward(p) if !attached(p) => Verdict::EgressMissing(p),
                a => Verdict::Decided(a),
            };
            let (kind, arg) = encode_verdict(verdict);
            self.buf[at + 19] = kind;
            self.buf[at + 20..at + 22].copy_from_slice(&arg.to_le_bytes());
        }
        self.pending.clear();
    }

    /// Copy frames handed to `port` for transmission.
    pub fn record_tx<'a>(
        &mut self,
        port: PortId,
        now: Instant,
        frames: impl Iterator<Item = &'a [u8]>,
        verdict: Verdict,
    ) {
        for data in frames {
            self.push(now, port, Direction::Tx, verdict, data);
        }
    }

    /// Append one record; its offset, or `None` (counted as dropped) if it does not fit.
    fn push(
        &mut self,
        now: Instant,
        port: PortId,
        dir: Direction,
        verdict: Verdict,
        data: &[u8],
    ) -> Option<usize> {
        let kept = data.len().min(self.snaplen);
        let at = self.buf.len();
        if at + RECORD_HEADER + kept > self.max_bytes {
            self.dropped += 1;
            return None;
        }
        let (kind, arg) = encode_verdict(verdict);
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; RECORD_HEADER];
        h[0..8].copy_from_slice(&now.as_nanos().to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&(kept as u32).to_le_bytes());
        h[16..18].copy_from_slice(&port.0.to_le_bytes());
        h[18] = match dir {
            Direction::Rx => 0,
            Direction::Tx => 1,
        };
        h[19] = kind;
        h[20..22].copy_from_slice(&arg.to_le_bytes());
        // Within capacity (checked above): these never reallocate.
        self.buf.extend_from_slice(&h);
        self.buf.extend_from_slice(&data[..kept]);
        self.captured += 1;
        Some(at)
    }
}

impl CaptureBatch {
    /// Its records, oldest first.
    pub fn records(&self) -> Records<'_> {
        Records { buf: &self.buf }
    }

    /// Bytes held (records and their headers).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }
}

/// Iterator over a batch's records.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = CaptureRecord<'a>;

    fn next(&mut self) -> Option<CaptureRecord<'a>> {
        let (h, rest) = self.buf.split_first_chunk::<RECORD_HEADER>()?;
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let kept = u32_at(12) as usize;
        let data = rest.get(..kept)?;
        self.buf = &rest[kept..];
        let mut time = [0u8; 8];
        time.copy_from_slice(&h[0..8]);
        Some(CaptureRecord {
            time: Instant::from_nanos(u64::from_le_bytes(time)),
            port: PortId(u16::from_le_bytes([h[16], h[17]])),
            direction: if h[18] == 0 {
                Direction::Rx
            } else {
                Direction::Tx
            },
            verdict: decode_verdict(h[19], u16::from_le_bytes([h[20], h[21]])),
            len: u32_at(8),
            data,
        })
    }
}

fn encode_verdict(v: Verdict) -> (u8, u16) {
    match v {
        Verdict::Unknown => (0, 0),
        Verdict::Decided(Action::Forward(p)) => (1, p.0),
        Verdict::Decided(Action::Consumed) => (2, 0),
        Verdict::Decided(Action::Drop(r)) => (3, r.index() as u16),
        // Recorded as forwarded to the uplink (the home worker resolves the next hop).
        Verdict::Decided(Action::Resolve { port, .. }) => (1, port.0),
        Verdict::EgressMissing(p) => (4, p.0),
        Verdict::Sent => (5, 0),
        Verdict::Originated(sent) => (6, u16::from(sent)),
    }
}

fn decode_verdict(kind: u8, arg: u16) -> Verdict {
    match kind {
        1 => Verdict::Decided(Action::Forward(PortId(arg))),
        2 => Verdict::Decided(Action::Consumed),
        3 => DropReason::ALL
            .get(usize::from(arg))
            .map_or(Verdict::Unknown, |&r| Verdict::Decided(Action::Drop(r))),
        4 => Verdict::EgressMissing(PortId(arg)),
        5 => Verdict::Sent,
        6 => Verdict::Originated(arg != 0),
        _ => Verdict::Unknown,
    }
}

#[cfg(test)]
mod tests;
