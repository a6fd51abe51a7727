//! A pcapng writer: what `hvrouter capture` writes, for tcpdump and Wireshark.
//!
//! One Section Header Block, one Interface Description Block per port (named after its
//! device, Ethernet, nanosecond timestamps), and an Enhanced Packet Block per frame with
//! its direction in `epb_flags` and the router's decision in `opt_comment`. Blocks are
//! written little-endian; readers learn the byte order from the section's magic.
//! Section and block numbers below are those of the pcapng specification
//! (draft-ietf-opsawg-pcapng).

use std::io::{self, Write};

/// Block types (section 11.1).
const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
/// Byte-order magic (section 4.1).
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u16 = 1;
/// Option codes: opt_endofopt, opt_comment (section 3.5); shb_userappl (4.1); if_name,
/// if_tsresol (4.2); epb_flags (4.3).
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
const EPB_FLAGS: u16 = 2;
/// `if_tsresol` 9: timestamps count nanoseconds.
const TSRESOL_NANOS: u8 = 9;
/// `epb_flags` bits 0-1, the direction (section 4.3.1).
const FLAG_INBOUND: u32 = 0b01;
const FLAG_OUTBOUND: u32 = 0b10;

/// Which way a frame went, for `epb_flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Received by the interface.
    Inbound,
    /// Sent by the interface.
    Outbound,
}

/// Writes one pcapng section to `W`.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    interfaces: Vec<String>,
    snaplen: u32,
    block: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Start a section (writes the Section Header Block). `snaplen` goes into every
    /// interface's description.
    pub fn new(out: W, snaplen: u32) -> io::Result<Writer<W>> {
        let mut w = Writer {
            out,
            interfaces: Vec::new(),
            snaplen,
            block: Vec::with_capacity(2048),
        };
        let mut body = Vec::new();
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes()); // major version
        body.extend_from_slice(&0u16.to_le_bytes()); // minor version
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
        let app = format!("hvrouter {}", env!("CARGO_PKG_VERSION"));
        option(&mut body, SHB_USERAPPL, app.as_bytes());
        option(&mut body, OPT_END, &[]);
        w.emit(SHB, &body)?;
        Ok(w)
    }

    /// The interface id of device `name`, writing its Interface Description Block the
    /// first time it is seen (pcapng allows them anywhere before their first packet).
    pub fn interface(&mut self, name: &str) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|n| n == name) {
            return Ok(i as u32);
        }
        let mut body = Vec::new();
        body.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes()); // reserved
        body.extend_from_slice(&self.snaplen.to_le_bytes());
        option(&mut body, IF_NAME, name.as_bytes());
        option(&mut body, IF_TSRESOL, &[TSRESOL_NANOS]);
        option(&mut body, OPT_END, &[]);
        self.emit(IDB, &body)?;
        self.interfaces.push(name.to_string());
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// One frame seen on interface `iface` (from [`Writer::interface`]) at `time_ns`
    /// (nanoseconds since the Unix epoch); `len` is its full length, `data` what was
    /// kept of it.
    pub fn packet(
        &mut self,
        iface: u32,
        time_ns: u64,
        len: u32,
        data: &[u8],
        way: Way,
        comment: &str,
    ) -> io::Result<()> {
        let mut body = std::mem::take(&mut self.block);
        body.clear();
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((time_ns >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(time_ns as u32).to_le_bytes());
        let data = &data[..data.len().min(u32::MAX as usize)];
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&len.max(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        pad(&mut body);
        let comment = truncate(comment, usize::from(u16::MAX) - 3);
        if !comment.is_empty() {
            option(&mut body, OPT_COMMENT, comment.as_bytes());
        }
        let flags = match way {
            Way::Inbound => FLAG_INBOUND,
            Way::Outbound => FLAG_OUTBOUND,
        };
        option(&mut body, EPB_FLAGS, &flags.to_le_bytes());
        option(&mut body, OPT_END, &[]);
        let r = self.emit(EPB, &body);
        self.block = body;
        r
    }

    /// Push what was written to the output (after each batch, so a reader on a pipe
    /// sees frames as they come).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The output.
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }

    fn emit(&mut self, kind: u32, body: &[u8]) -> io::Result<()> {
        let total = u32::try_from(12 + body.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block too large"))?;
        self.out.write_all(&kind.to_le_bytes())?;
        self.out.write_all(&total.to_le_bytes())?;
        self.out.write_all(body)?;
        self.out.write_all(&total.to_le_bytes())
    }
}

/// Append an option (code, length, value padded to 32 bits).
fn option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&(value.len() as u16).to_le_bytes());
    body.extend_from_slice(value);
    pad(body);
}

fn pad(body: &mut Vec<u8>) {
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
