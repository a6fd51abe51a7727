//! `hvrouter trace N`: the next N frames' path through the pipeline, with each decision.
//!
//! Tracing costs nothing while off: the router checks once per burst whether a trace is
//! running and only then takes the slow path that describes each frame before and after
//! its decision. Records are plain strings for the control plane.

use std::fmt::Write;

use wire::{ArpPacket, ArpRepr, EtherType, EthernetFrame, Ipv4Packet};

use crate::ids::PortId;

/// Most frames one trace records.
pub const MAX_TRACE: u32 = 10_000;

/// One traced frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// The port it arrived on.
    pub port: PortId,
    /// What it was, as received (addresses, protocol, length).
    pub summary: String,
    /// What the stages looked at (port role, route, ARP policy).
    pub steps: Vec<String>,
    /// What happened to it.
    pub decision: String,
}

/// A running trace.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    remaining: u32,
    records: Vec<TraceRecord>,
}

impl Trace {
    /// Start recording the next `count` frames (capped at [`MAX_TRACE`]), dropping any
    /// earlier records.
    pub fn start(&mut self, count: u32) {
        self.remaining = count.min(MAX_TRACE);
        self.records.clear();
    }

    /// True while frames are still to be recorded.
    #[inline(always)]
    pub fn active(&self) -> bool {
        self.remaining > 0
    }

    /// Frames still to record.
    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    /// Record one frame.
    pub fn push(&mut self, record: TraceRecord) {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.records.push(record);
        }
    }

    /// Stop and hand over what was recorded.
    pub fn take(&mut self) -> Vec<TraceRecord> {
        self.remaining = 0;
        std::mem::take(&mut self.records)
    }
}

/// A one-line description of a received frame: MACs, EtherType, and for ARP and IPv4
/// the fields a router decides on. Never panics on malformed input.
pub fn summarize(frame: &[u8]) -> String {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return format!("{} bytes, too short for Ethernet", frame.len());
    };
    let mut s = format!("{} > {}", eth.src_addr(), eth.dst_addr());
    match eth.ethertype() {
        EtherType::Arp => {
            let arp = ArpPacket::new_checked(eth.payload())
                .ok()
                .and_then(|p| ArpRepr::parse(&p).ok());
            match arp {
                Some(a) => {
                    let _ = write!(
                        s,
                        " ARP {:?} who-has/is-at {} from {} ({})",
                        a.operation,
                        a.target_protocol_addr,
                        a.source_protocol_addr,
                        a.source_hardware_addr
                    );
                }
                None => s.push_str(" ARP (malformed)"),
            }
        }
        EtherType::Ipv4 => match Ipv4Packet::new_checked(eth.payload()) {
            Ok(ip) => {
                let _ = write!(
                    s,
                    " IPv4 {} > {} proto {} ttl {} len {}{}",
                    ip.src_addr(),
                    ip.dst_addr(),
                    u8::from(ip.protocol()),
                    ip.ttl(),
                    ip.total_len(),
                    if ip.dont_frag() { " DF" } else { "" }
                );
            }
            Err(_) => s.push_str(" IPv4 (malformed)"),
        },
        EtherType::Ipv6 => s.push_str(&crate::ipv6::describe::summary(eth.payload())),
        other => {
            let _ = write!(s, " ethertype {:#06x}", u16::from(other));
        }
    }
    let _ = write!(s, ", {} bytes", frame.len());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_the_requested_count() {
        let mut t = Trace::default();
        assert!(!t.active());
        t.start(2);
        for i in 0..5 {
            t.push(TraceRecord {
                port: PortId(i),
                summary: String::new(),
                steps: vec![],
                decision: String::new(),
            });
        }
        assert!(!t.active());
        assert_eq!(t.take().len(), 2);
        t.start(u32::MAX);
        assert_eq!(t.remaining(), MAX_TRACE);
    }

    #[test]
    fn summaries_never_panic() {
        for len in 0..80 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = summarize(&junk);
            let mut arp = junk.clone();
            if arp.len() > 13 {
                arp[12] = 0x08;
                arp[13] = 0x06;
            }
            let _ = summarize(&arp);
            let mut ip = junk;
            if ip.len() > 14 {
                ip[12] = 0x08;
                ip[13] = 0x00;
                ip[14] = 0x45;
            }
            let _ = summarize(&ip);
        }
    }
}
