//! Transmit toward a port that takes GSO sends ([`Port::tx_gso`]): TCP super-frames
//! leave as one send with a virtio-net header instead of 40+ AF_XDP frames.
//!
//! For one egress queue, in order:
//! - a guest's super-frame (IPv4 longer than the egress MTU: the router forwarded it
//!   whole because this port takes GSO) gets the header from
//!   [`offload::gso::prepare_tcp`] (`gso_size` from the MTU, `NEEDS_CSUM`) and is sent;
//! - runs of MTU-size segments of one TCP flow are coalesced
//!   ([`offload::gro::Planner`]; segments toward a guest have their checksums verified
//!   first, see there) and sent as one super-frame: the merged headers and each
//!   segment's payload go to the kernel as one `sendmsg` iovec, nothing is copied here;
//! - everything else takes the port's AF_XDP transmit as before.
//!
//! Order within a flow is kept: frames queued for AF_XDP are pushed to the device
//! (`tx_burst` + `flush`) before a GSO send that follows them.
//!
//! Fallbacks: a GSO send that fails (send buffer full, device gone) is counted as
//! `gso_fallback` and the frames leave as before: the coalesced segments one by one
//! through AF_XDP, a super-frame cut in software ([`offload::TcpSegmenter`]) into
//! originated frames.
//!
//! Checksums never leave partial through AF_XDP. Toward the uplink the router leaves a
//! guest's TCP segment with its partial checksum (a merged one leaves with `NEEDS_CSUM`,
//! the device completes it): every TCP frame that leaves the uplink's queue alone is
//! completed here ([`offload::complete_l4_checksum`], the router's own policy for guest
//! traffic). Toward a guest, segments were complete (verified, or completed by the
//! router), and the segmenter computes checksums in full.

use hvrouter_core::drop::DropReason;
use hvrouter_core::offload::gro::{Item, Planner, MAX_HEADER};
use hvrouter_core::offload::{complete_l4_checksum, gso, TcpSegmenter};
use hvrouter_core::router::Router;
use hvrouter_core::tables::PortRole;
use hvrouter_core::PortId;

use crate::port::{Frame, Port};

/// Most pieces of one coalesced send: its header and one payload per segment.
const MAX_PIECES: usize = hvrouter_core::offload::gro::MAX_MERGE + 1;
/// Ethernet header (the router forwards untagged frames).
const ETH: usize = 14;

/// Buffers of the GSO transmit, reused across passes (after warm-up nothing allocates).
#[derive(Debug)]
pub(crate) struct GsoTx<F> {
    planner: Planner,
    items: Vec<Item>,
    /// The queue's frames by index while the plan is carried out.
    slots: Vec<Option<F>>,
    /// Frames for the AF_XDP transmit, in order.
    pending: Vec<F>,
    header: Vec<u8>,
    scratch: Vec<u8>,
}

impl<F> Default for GsoTx<F> {
    fn default() -> Self {
        GsoTx {
            planner: Planner::new(),
            items: Vec::new(),
            slots: Vec::new(),
            pending: Vec::new(),
            header: vec![0; MAX_HEADER],
            scratch: Vec::new(),
        }
    }
}

/// What one queue's transmit did, for the pipeline's counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GsoReport {
    /// Frames (segments on the wire) sent, any way.
    pub sent: usize,
    /// Bytes sent.
    pub bytes: usize,
    /// Frames the AF_XDP transmit dropped (ring full).
    pub dropped: usize,
    /// GSO sends.
    pub gso_sent: u64,
    /// Segments inside coalesced GSO sends.
    pub gro_merged: u64,
    /// GSO sends that failed and went out the old way.
    pub gso_fallback: u64,
    /// Super-frames that could not be cut either (dropped).
    pub gso_invalid: u64,
}

/// The IP MTU of the network `port` belongs to.
pub(crate) fn egress_mtu(router: &Router, port: PortId) -> Option<u16> {
    let t = router.tables();
    let net = match t.port_role(port)? {
        PortRole::Uplink(n) => n,
        PortRole::Guest(g) => t.guests().by_id(g)?.network,
    };
    Some(t.network(net)?.mtu)
}

/// IPv4 total length of an untagged Ethernet frame, if it is IPv4.
fn ip_len(frame: &[u8]) -> Option<usize> {
    let h = frame.get(..ETH + 4)?;
    (h[12..14] == [0x08, 0x00]).then(|| usize::from(u16::from_be_bytes([h[16], h[17]])))
}

impl<F: Frame> GsoTx<F> {
    /// Sends `queue` (drained) on `port`, whose IP MTU is `mtu`. `to_uplink`: the frames
    /// come from guests, their TCP checksums may be partial (completed here when they
    /// leave alone). Otherwise a frame's TCP checksum is verified before coalescing
    /// unless `from_guest[i]` says frame `i` came from a guest (the router computed its
    /// checksum in full): frames toward a guest may come from the VLAN.
    pub(crate) fn transmit<P: Port<Frame = F>>(
        &mut self,
        port: &mut P,
        queue: &mut Vec<F>,
        from_guest: &[bool],
        mtu: u16,
        to_uplink: bool,
    ) -> GsoReport {
        let verify = |i: usize| !to_uplink && !from_guest.get(i).copied().unwrap_or(false);
        let mut r = GsoReport::default();
        let items = self.planner.plan(queue, F::data, mtu, verify);
        let oversized = |f: &F| ip_len(f.data()).is_some_and(|l| l > usize::from(mtu));
        let worth =
            items.iter().any(|i| matches!(i, Item::Merged(_))) || queue.iter().any(oversized);
        if !worth {
            if to_uplink {
                queue.iter_mut().for_each(complete_tcp);
            }
            push(port, queue, &mut r);
            return r;
        }
        self.items.clear();
        self.items.extend_from_slice(items);
        let mut slots = std::mem::take(&mut self.slots);
        let mut pending = std::mem::take(&mut self.pending);
        slots.clear();
        slots.extend(queue.drain(..).map(Some));
        for i in 0..self.items.len() {
            let item = self.items[i];
            match item {
                Item::Single(i) => {
                    let Some(frame) = slots.get_mut(i).and_then(Option::take) else {
                        continue;
                    };
                    if !oversized(&frame) {
                        let mut frame = frame;
                        if to_uplink {
                            complete_tcp(&mut frame);
                        }
                        pending.push(frame);
                        continue;
                    }
                    push_now(port, &mut pending, &mut r);
                    self.send_super(port, frame, mtu, &mut r);
                }
                Item::Merged(n) => {
                    push_now(port, &mut pending, &mut r);
                    let members = self.planner.members(n);
                    let first = members
                        .first()
                        .and_then(|m| slots.get(m.index))
                        .and_then(Option::as_ref);
                    let built = first
                        .and_then(|f| self.planner.write_header(n, f.data(), &mut self.header));
                    let mut sent = false;
                    let mut bytes = 0;
                    if let Some((len, vnet)) = built {
                        let mut pieces: [&[u8]; MAX_PIECES] = [&[]; MAX_PIECES];
                        pieces[0] = &self.header[..len];
                        let mut k = 1;
                        for m in members {
                            if let (Some(Some(f)), Some(slot)) =
                                (slots.get(m.index), pieces.get_mut(k))
                            {
                                *slot = f.data().get(m.payload_start..m.payload_end).unwrap_or(&[]);
                                bytes += m.payload_end - m.payload_start + len;
                                k += 1;
                            }
                        }
                        sent =
                            k == members.len() + 1 && port.tx_gso(&vnet.to_bytes(), &pieces[..k]);
                    }
                    if sent {
                        r.gso_sent += 1;
                        r.gro_merged += members.len() as u64;
                        r.sent += members.len();
                        r.bytes += bytes;
                        for m in members {
                            if let Some(f) = slots.get_mut(m.index).and_then(Option::take) {
                                port.recycle(f);
                            }
                        }
                    } else {
                        r.gso_fallback += 1;
                        for m in members {
                            if let Some(mut f) = slots.get_mut(m.index).and_then(Option::take) {
                                if to_uplink {
                                    complete_tcp(&mut f);
                                }
                                pending.push(f);
                            }
                        }
                    }
                }
            }
        }
        push(port, &mut pending, &mut r);
        // Every frame was in exactly one item; anything left (none) goes back.
        for f in slots.drain(..).flatten() {
            port.recycle(f);
        }
        self.slots = slots;
        self.pending = pending;
        r
    }

    /// A guest's super-frame: one GSO send, or cut here if that fails.
    fn send_super<P: Port<Frame = F>>(
        &mut self,
        port: &mut P,
        mut frame: F,
        mtu: u16,
        r: &mut GsoReport,
    ) {
        if let Ok(g) = gso::prepare_tcp(frame.data_mut(), mtu) {
            if let Some(bytes) = frame.data().get(..g.len) {
                if port.tx_gso(&g.header.to_bytes(), &[bytes]) {
                    r.gso_sent += 1;
                    r.sent += g.segments;
                    r.bytes += g.len + (g.segments - 1) * usize::from(g.header.hdr_len);
                    port.recycle(frame);
                    return;
                }
            }
        }
        r.gso_fallback += 1;
        match TcpSegmenter::new(frame.data(), mtu) {
            Ok(seg) => {
                self.scratch.resize(seg.max_segment_len(), 0);
                for i in 0..seg.count() {
                    match seg.write_segment(i, &mut self.scratch) {
                        Ok(n) if port.tx_copy(&self.scratch[..n]) => {
                            r.sent += 1;
                            r.bytes += n;
                        }
                        _ => r.dropped += 1,
                    }
                }
            }
            Err(_) => r.gso_invalid += 1,
        }
        port.recycle(frame);
    }
}

/// Completes the TCP checksum of an untagged IPv4/TCP frame from a guest (the router
/// left it partial); anything else is left alone. The router checked the headers, so
/// this cannot fail on a frame it forwarded.
fn complete_tcp<F: Frame>(frame: &mut F) {
    let data = frame.data_mut();
    let tcp = data.len() > ETH + 9 && data[12..14] == [0x08, 0x00] && data[ETH + 9] == 6;
    if tcp {
        let _ = complete_l4_checksum(&mut data[ETH..]);
    }
}

/// Queues `frames` on the port's AF_XDP transmit.
fn push<P: Port>(port: &mut P, frames: &mut Vec<P::Frame>, r: &mut GsoReport) {
    if frames.is_empty() {
        return;
    }
    let t = port.tx_burst(frames);
    r.sent += t.sent;
    r.bytes += t.bytes;
    r.dropped += t.dropped;
}

/// Queues `frames` and pushes them to the device now, so that a GSO send that follows
/// them leaves after them.
fn push_now<P: Port>(port: &mut P, frames: &mut Vec<P::Frame>, r: &mut GsoReport) {
    if !frames.is_empty() {
        push(port, frames, r);
        port.flush();
    }
}

/// The drop reason a super-frame that could not be sent nor cut is counted under.
pub(crate) const INVALID: DropReason = DropReason::GsoInvalid;
