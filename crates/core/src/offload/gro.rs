//! Coalescing TCP segments into super-frames (GRO-like), for a device that takes GSO.
//!
//! The kernel setup merges MTU-size segments of one flow into one skb before forwarding
//! them (GRO), so the receiving stack handles one 64 KB frame instead of forty. The
//! router does the same with the frames queued for one egress port in one pass: runs of
//! segments of the same TCP flow, in order, with compatible headers, become one
//! super-frame sent with a virtio-net header whose `gso_size` is the first segment's
//! payload. Where the device or the receiver cuts it again, the segments that come out
//! are the ones that went in (same sizes, sequence numbers, identification, flags).
//!
//! # Merge rules (those of Linux's `inet_gro_receive` / `tcp_gro_receive`)
//! A segment joins the open super-frame of its flow (source, destination, ports) when:
//! - it is Ethernet II + IPv4 without options, not a fragment, TCP with payload, and
//!   none of SYN, RST, URG (those segments are never merged);
//! - its Ethernet header, TTL, TOS and DF equal the first segment's; its IPv4
//!   identification is the first one's plus its position (or DF is set: RFC 6864
//!   allows any identification on atomic datagrams);
//! - its sequence number is where the super-frame's data ends (no gap, no overlap);
//! - acknowledgment number, window, header length and every option byte equal the
//!   first segment's (a timestamp or SACK change starts a new super-frame);
//! - its flags equal the first one's, but for PSH and FIN, and it has no CWR (CWR may
//!   only open a super-frame: the segmenter keeps it on the first segment only);
//! - its payload is at most the first one's (`gso_size`), and the super-frame stays
//!   below 64 KB and [`MAX_MERGE`] segments.
//!
//! A segment with PSH or FIN, or shorter than `gso_size`, ends its super-frame (it can
//! only be cut back at the end). A segment of the flow that cannot join ends the open
//! super-frame too, so a flow's frames never change order. Segments of up to
//! [`MAX_FLOWS`] flows are merged at the same time; the frames of other flows and
//! non-TCP frames stay in place as singles.
//!
//! # Checksums
//! Segments from the VLAN carry checksums computed by a remote host. The receiver of a
//! super-frame sent with `NEEDS_CSUM` never checks them, so [`Planner::plan`] with
//! `verify` checks each segment's TCP checksum first (as Linux GRO validates before
//! merging) and leaves a segment that fails as a single: it is forwarded as received and
//! its receiver drops it. Frames from guests had their checksums completed by the router
//! (see [`super`]); their egress, the uplink, needs no check.
//!
//! Pure logic: [`Planner`] reads frames, decides, and writes merged headers; the
//! dataplane sends the header and each member's payload as one `sendmsg`.

use super::gso::VnetHeader;
use wire::checksum;
use wire::tcp::flags;

/// Most segments merged into one super-frame.
pub const MAX_MERGE: usize = 64;
/// Flows whose super-frames are open at the same time.
pub const MAX_FLOWS: usize = 8;
/// Longest merged header ([`Planner::write_header`]): Ethernet, IPv4 without options,
/// TCP with the longest options.
pub const MAX_HEADER: usize = ETH + 20 + 60;

const ETH: usize = 14;
const IP_AT: usize = ETH;
const TCP_AT: usize = ETH + 20;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
/// Flags that keep a segment out of any super-frame.
const NEVER: u8 = flags::SYN | flags::RST | flags::URG;
/// Flags that end a super-frame (carried by its last segment).
const ENDS: u8 = flags::PSH | flags::FIN;

/// A TCP connection, one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FlowKey {
    src: u32,
    dst: u32,
    ports: u32,
}

/// What coalescing reads from a mergeable segment.
#[derive(Clone, Copy, Debug)]
struct Segment {
    key: FlowKey,
    tcp_header_len: usize,
    payload_len: usize,
    seq: u32,
    ack: u32,
    window: u16,
    flags: u8,
    ip_id: u16,
    ttl: u8,
    tos: u8,
    df: bool,
}

impl Segment {
    fn payload_at(&self) -> usize {
        TCP_AT + self.tcp_header_len
    }
}

/// What a frame is, for coalescing.
enum Parsed {
    /// A segment that may be merged.
    Candidate(Segment),
    /// TCP of this flow that may not be merged: it ends the flow's super-frame.
    Flow(FlowKey),
    /// Anything else.
    Other,
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a frame's headers; with `verify`, a TCP checksum that does not verify makes it
/// a non-mergeable `Flow`.
fn parse(frame: &[u8], mtu: u16, verify: bool) -> Parsed {
    // Ethernet + 20-byte IPv4 + 20-byte TCP are needed for every field read below.
    if frame.len() < TCP_AT + 20 || frame[12..14] != ETHERTYPE_IPV4 {
        return Parsed::Other;
    }
    let ip = &frame[IP_AT..];
    if ip[9] != 6 {
        return Parsed::Other;
    }
    let key = FlowKey {
        src: be32(ip, 12),
        dst: be32(ip, 16),
        ports: be32(frame, TCP_AT),
    };
    let total_len = usize::from(be16(ip, 2));
    let frag = be16(ip, 6);
    // IHL 5 only (as Linux GRO), not a fragment (MF or an offset), and the datagram
    // inside the frame.
    if ip[0] != 0x45
        || frag & 0x3fff != 0
        || total_len < 40
        || total_len > usize::from(mtu)
        || IP_AT + total_len > frame.len()
    {
        return Parsed::Flow(key);
    }
    let tcp = &frame[TCP_AT..IP_AT + total_len];
    let tcp_header_len = usize::from(tcp[12] >> 4) * 4;
    let tcp_flags = tcp[13];
    if tcp_header_len < 20 || tcp_header_len >= tcp.len() || tcp_flags & NEVER != 0 {
        // No payload, a bad data offset, or a flag that is never merged.
        return Parsed::Flow(key);
    }
    if verify {
        let pseudo = checksum::pseudo_header(key.src.into(), key.dst.into(), 6, tcp.len() as u32);
        if checksum::combine(&[pseudo, checksum::data(tcp)]) != 0xffff {
            return Parsed::Flow(key);
        }
    }
    Parsed::Candidate(Segment {
        key,
        tcp_header_len,
        payload_len: tcp.len() - tcp_header_len,
        seq: be32(tcp, 4),
        ack: be32(tcp, 8),
        window: be16(tcp, 14),
        flags: tcp_flags,
        ip_id: be16(ip, 4),
        ttl: ip[8],
        tos: ip[1],
        df: frag & 0x4000 != 0,
    })
}

/// One frame of a super-frame: its index in the planned frames and where its payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Index of the frame in the slice given to [`Planner::plan`].
    pub index: usize,
    /// Start of its TCP payload in the frame.
    pub payload_start: usize,
    /// End of its TCP payload (the end of the IPv4 datagram).
    pub payload_end: usize,
}

/// A super-frame being built or built.
#[derive(Clone, Debug)]
struct Group {
    first: Segment,
    members: Vec<Member>,
    next_seq: u32,
    payload_total: usize,
    last_flags: u8,
}

/// What to send, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// The frame at this index, as it is.
    Single(usize),
    /// Super-frame number `n`: [`Planner::members`] and [`Planner::write_header`].
    Merged(usize),
}

/// Plans the coalescing of one egress queue. Reused across passes: after warm-up,
/// planning does not allocate.
#[derive(Debug, Default)]
pub struct Planner {
    items: Vec<Item>,
    groups: Vec<Group>,
    used: usize,
    /// Open super-frames: flow and group number, oldest first.
    open: Vec<(FlowKey, usize)>,
}

impl Planner {
    /// A planner with nothing planned.
    pub fn new() -> Planner {
        Planner::default()
    }

    /// Decides what to send for `frames` (in queue order; `data` gives a frame's bytes):
    /// singles and super-frames, in the order of their first frame. Datagrams longer
    /// than `mtu` (a guest's own super-frame) are never merged. Where `verify(index)`,
    /// a segment whose TCP checksum fails is never merged (segments from the VLAN);
    /// where not, its checksum is not read (the router computed it, or it is partial and
    /// the device completes it). Super-frames have at least 2 members.
    pub fn plan<F>(
        &mut self,
        frames: &[F],
        data: impl Fn(&F) -> &[u8],
        mtu: u16,
        verify: impl Fn(usize) -> bool,
    ) -> &[Item] {
        self.items.clear();
        self.open.clear();
        self.used = 0;
        for (index, f) in frames.iter().enumerate() {
            let frame = data(f);
            match parse(frame, mtu, verify(index)) {
                Parsed::Other => self.items.push(Item::Single(index)),
                Parsed::Flow(key) => {
                    self.close(key);
                    self.items.push(Item::Single(index));
                }
                Parsed::Candidate(seg) => {
                    if let Some(pos) = self.open.iter().position(|&(k, _)| k == seg.key) {
                        let g = self.open[pos].1;
                        let first = data(&frames[self.groups[g].members[0].index]);
                        if self.groups[g].takes(&seg, first, frame) {
                            let group = &mut self.groups[g];
                            group.push(index, &seg);
                            if seg.flags & ENDS != 0 || seg.payload_len < group.first.payload_len {
                                self.open.remove(pos);
                            }
                            continue;
                        }
                        self.open.remove(pos);
                    }
                    if seg.flags & ENDS != 0 {
                        self.items.push(Item::Single(index));
                        continue;
                    }
                    let g = self.new_group(index, seg);
                    self.items.push(Item::Merged(g));
                    if self.open.len() == MAX_FLOWS {
                        self.open.remove(0);
                    }
                    self.open.push((seg.key, g));
                }
            }
        }
        // A super-frame of one segment is that segment.
        for item in &mut self.items {
            if let Item::Merged(g) = *item {
                if self.groups[g].members.len() < 2 {
                    *item = Item::Single(self.groups[g].members[0].index);
                }
            }
        }
        &self.items
    }

    /// The plan of the last [`Self::plan`] call.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The frames of super-frame `n`, in order.
    pub fn members(&self, n: usize) -> &[Member] {
        self.groups.get(n).map_or(&[], |g| &g.members[..])
    }

    /// Writes the headers of super-frame `n` into `out` (at least [`MAX_HEADER`] bytes):
    /// the first member's Ethernet, IPv4 and TCP headers with the IPv4 total length and
    /// header checksum of the whole, PSH/FIN of the last member, and the TCP checksum
    /// field holding the pseudo-header sum (`NEEDS_CSUM`). `first` is the first member's
    /// frame. Returns the header length and the virtio-net header; `None` if `n` is not a
    /// super-frame of this plan or `out` is too short.
    pub fn write_header(
        &self,
        n: usize,
        first: &[u8],
        out: &mut [u8],
    ) -> Option<(usize, VnetHeader)> {
        let g = self.groups.get(n).filter(|g| g.members.len() > 1)?;
        let len = g.first.payload_at();
        let h = out.get_mut(..len)?;
        h.copy_from_slice(first.get(..len)?);
        let tcp_len = g.first.tcp_header_len + g.payload_total;
        // Below 64 KB: `takes` keeps the IPv4 total length in 16 bits.
        h[IP_AT + 2..IP_AT + 4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        h[IP_AT + 10..IP_AT + 12].fill(0);
        let mut ip = [0u8; 20];
        ip.copy_from_slice(&h[IP_AT..TCP_AT]);
        h[IP_AT + 10..IP_AT + 12].copy_from_slice(&(!checksum::header20(&ip)).to_be_bytes());
        h[TCP_AT + 13] = g.first.flags | (g.last_flags & ENDS);
        let k = g.first.key;
        let pseudo = checksum::pseudo_header(k.src.into(), k.dst.into(), 6, tcp_len as u32);
        h[TCP_AT + 16..TCP_AT + 18].copy_from_slice(&pseudo.to_be_bytes());
        let header = VnetHeader::tcp(
            TCP_AT,
            len,
            g.first.payload_len,
            g.members.len(),
            g.first.flags & flags::CWR != 0,
        );
        Some((len, header))
    }

    fn new_group(&mut self, index: usize, seg: Segment) -> usize {
        if self.used == self.groups.len() {
            self.groups.push(Group {
                first: seg,
                members: Vec::with_capacity(MAX_MERGE),
                next_seq: 0,
                payload_total: 0,
                last_flags: 0,
            });
        }
        let n = self.used;
        self.used += 1;
        let g = &mut self.groups[n];
        g.first = seg;
        g.members.clear();
        g.payload_total = 0;
        g.next_seq = seg.seq;
        g.push(index, &seg);
        n
    }

    fn close(&mut self, key: FlowKey) {
        if let Some(pos) = self.open.iter().position(|&(k, _)| k == key) {
            self.open.remove(pos);
        }
    }
}

impl Group {
    fn push(&mut self, index: usize, seg: &Segment) {
        let start = seg.payload_at();
        self.members.push(Member {
            index,
            payload_start: start,
            payload_end: start + seg.payload_len,
        });
        self.next_seq = seg.seq.wrapping_add(seg.payload_len as u32);
        self.payload_total += seg.payload_len;
        self.last_flags = seg.flags;
    }

    /// Whether `seg` (in `frame`) may follow this super-frame (whose first member is
    /// `first`); see the module docs.
    fn takes(&self, seg: &Segment, first: &[u8], frame: &[u8]) -> bool {
        let f = &self.first;
        let n = self.members.len();
        let same_headers = seg.ack == f.ack
            && seg.window == f.window
            && seg.tcp_header_len == f.tcp_header_len
            && seg.ttl == f.ttl
            && seg.tos == f.tos
            && seg.df == f.df;
        let ident_ok = f.df || seg.ip_id == f.ip_id.wrapping_add(n as u16);
        let flags_ok =
            seg.flags & flags::CWR == 0 && seg.flags & !ENDS == f.flags & !(ENDS | flags::CWR);
        let fits = n < MAX_MERGE
            && seg.payload_len <= f.payload_len
            && 20 + f.tcp_header_len + self.payload_total + seg.payload_len
                <= usize::from(u16::MAX);
        if !(same_headers && ident_ok && flags_ok && fits && seg.seq == self.next_seq) {
            return false;
        }
        // Same Ethernet header and the same option bytes (both frames hold them: parse
        // checked the TCP header lies inside each frame).
        let opts = TCP_AT + 20..seg.payload_at();
        first.get(..ETH) == frame.get(..ETH) && first.get(opts.clone()) == frame.get(opts)
    }
}

#[cfg(test)]
pub(crate) mod tests;
