//! Fragmenting on the forwarding path (RFC 1812 5.2.6, RFC 791 3.2): a datagram larger
//! than the egress MTU with DF clear leaves as fragments, queued on the [`Outbox`] like
//! the segments of a guest's TCP super-frame. Only oversized datagrams get here, so it
//! is out of line.

use crate::counters::Counters;
use crate::drop::DropReason;
use crate::fragment::Fragmenter;
use crate::ids::PortId;
use crate::outbox::{Outbox, MAX_FRAME};

const ETH_HEADER: usize = 14;

/// Fragment the datagram in `frame` (IPv4 datagram of `ip_len` bytes after the Ethernet
/// header, MACs and TTL already rewritten for the next hop) to `mtu`, queued on `out` for
/// `port`; counts `fragmented` on `port`. Returns the number of fragments, or `TooBig` if
/// the datagram cannot be fragmented (DF set, an MTU below header + 8 bytes, malformed
/// options): nothing is queued then.
#[cold]
#[inline(never)]
pub(super) fn fragment(
    frame: &[u8],
    ip_len: usize,
    mtu: u16,
    port: PortId,
    counters: &mut Counters,
    out: &mut Outbox,
) -> Result<usize, DropReason> {
    let end = (ETH_HEADER + ip_len).min(frame.len());
    let frag = Fragmenter::new(&frame[..end], mtu).map_err(|_| DropReason::TooBig)?;
    if frag.max_fragment_len() > MAX_FRAME {
        return Err(DropReason::TooBig);
    }
    let count = frag.count();
    for i in 0..count {
        // Cannot fail: `i < count`, and push_with hands a buffer of the fragment's length
        // (checked above to be at most MAX_FRAME).
        let Some(len) = frag.fragment_len(i) else {
            return Err(DropReason::TooBig);
        };
        out.push_with(port, len, |buf| {
            let _ = frag.write_fragment(i, buf);
        });
    }
    counters.port_mut(port).fragmented += 1;
    Ok(count)
}
