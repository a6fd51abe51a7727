//! The `Port` trait: what the pipeline needs from anything that moves frames.
//!
//! A port receives bursts of frames and transmits bursts of frames. All ports of one
//! pipeline share a frame type, so a frame received on one port can be handed to another
//! port's transmit burst without copying (with AF_XDP and a shared UMEM, the frame is an
//! address in the UMEM).

/// Read and write access to a frame's bytes, Ethernet header first.
pub trait Frame {
    /// The frame's bytes.
    fn data(&self) -> &[u8];
    /// The frame's bytes, mutable (the router rewrites MACs and TTL in place).
    fn data_mut(&mut self) -> &mut [u8];
}

impl Frame for Vec<u8> {
    fn data(&self) -> &[u8] {
        self
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// What `tx_burst` did with the frames it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxResult {
    /// Frames queued for transmission.
    pub sent: usize,
    /// Bytes in those frames.
    pub bytes: usize,
    /// Frames the port could not take (ring full); they were recycled.
    pub dropped: usize,
}

/// A device the dataplane polls: a VLAN uplink or a guest's tap/veth.
pub trait Port {
    /// The frame handle this port family uses.
    type Frame: Frame;

    /// Append up to `max` received frames to `out`. Returns how many were appended.
    fn rx_burst(&mut self, out: &mut Vec<Self::Frame>, max: usize) -> usize;

    /// Transmit the frames in `frames`, draining it. Frames the port cannot take are
    /// recycled and reported as dropped.
    fn tx_burst(&mut self, frames: &mut Vec<Self::Frame>) -> TxResult;

    /// Transmit a copy of `data` (frames the router originates). False if no buffer or
    /// ring slot was free.
    fn tx_copy(&mut self, data: &[u8]) -> bool;

    /// A frame of this port's kind holding a copy of `data`, for its transmit burst: a
    /// frame another worker handed over ([`crate::handoff`]). `None` if no buffer is
    /// free (the frame is dropped as `tx_ring_full`). Default: none.
    fn frame_from(&mut self, data: &[u8]) -> Option<Self::Frame> {
        let _ = data;
        None
    }

    /// How many more frames a transmit burst could take now (free transmit ring
    /// slots): frames from other workers are taken only while it has room
    /// ([`crate::handoff`]). Default: no limit.
    fn tx_room(&mut self) -> usize {
        usize::MAX
    }

    /// Give back a frame the pipeline consumed or dropped.
    fn recycle(&mut self, frame: Self::Frame);

    /// Push pending transmissions to the device (e.g. a `sendto` kick). Default: nothing.
    fn flush(&mut self) {}

    /// The device's interface index if its XDP program runs the in-kernel fast path
    /// (frames can be redirected to it and taken from it there). Default: none.
    fn fast_path_ifindex(&self) -> Option<u32> {
        None
    }

    /// Whether [`Port::tx_gso`] can send: the device takes frames with a virtio-net
    /// header (segmentation and checksum metadata). Default: no.
    fn takes_gso(&self) -> bool {
        false
    }

    /// Sends one frame, made of `pieces` in order (Ethernet header first), behind the
    /// virtio-net header `vnet` (`hvrouter_core::offload::gso::VnetHeader`), as one send,
    /// now: frames queued with `tx_burst` before it must be flushed first to keep their
    /// order. False if it was not sent (the caller falls back). Default: never sends.
    fn tx_gso(&mut self, vnet: &[u8; 10], pieces: &[&[u8]]) -> bool {
        let _ = (vnet, pieces);
        false
    }
}
