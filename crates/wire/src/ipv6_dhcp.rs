//! DHCPv6 messages (RFC 8415 8, 21), enough for stateless service (RFC 8415 6.1): read
//! an Information-request, write a Reply.
//!
//! [`Dhcpv6Packet`] views one message (the UDP payload). Once `check_len` has succeeded
//! no accessor panics; [`Dhcpv6Options`] walks the options, checking each length before
//! reading, and stops at the first that runs past the end.

use crate::{Error, Result};

/// UDP port servers and relays listen on (RFC 8415 7.2).
pub const SERVER_PORT: u16 = 547;
/// UDP port clients listen on.
pub const CLIENT_PORT: u16 = 546;

/// Message types (RFC 8415 7.3).
pub mod msg {
    /// SOLICIT
    pub const SOLICIT: u8 = 1;
    /// ADVERTISE
    pub const ADVERTISE: u8 = 2;
    /// REQUEST
    pub const REQUEST: u8 = 3;
    /// REPLY
    pub const REPLY: u8 = 7;
    /// INFORMATION-REQUEST
    pub const INFORMATION_REQUEST: u8 = 11;
}

/// Option codes (RFC 8415 21, RFC 3646).
pub mod opt {
    /// Client Identifier
    pub const CLIENTID: u16 = 1;
    /// Server Identifier
    pub const SERVERID: u16 = 2;
    /// Identity Association for Non-temporary Addresses
    pub const IA_NA: u16 = 3;
    /// Identity Association for Temporary Addresses
    pub const IA_TA: u16 = 4;
    /// Option Request
    pub const ORO: u16 = 6;
    /// DNS Recursive Name Server (RFC 3646)
    pub const DNS_SERVERS: u16 = 23;
    /// Identity Association for Prefix Delegation
    pub const IA_PD: u16 = 25;
}

/// Length of the fixed part: message type and transaction id.
pub const HEADER_LEN: usize = 4;

/// A zero-copy view of a DHCPv6 client/server message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Dhcpv6Packet<T> {
    /// Wrap a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Dhcpv6Packet { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` if shorter than the 4-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Transaction id (24 bits).
    pub fn transaction_id(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[1], b[2], b[3]])
    }

    /// The options bytes.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The first option `code`, if the options walk reaches it.
    pub fn option(&self, code: u16) -> Option<&[u8]> {
        Dhcpv6Options::new(self.options()).find_map(|o| match o {
            Ok((c, d)) if c == code => Some(d),
            _ => None,
        })
    }
}

/// An iterator over DHCPv6 options: `(code, data)`; yields `Err(Truncated)` once (and
/// stops) at an option that runs past the end.
#[derive(Debug, Clone)]
pub struct Dhcpv6Options<'a> {
    rest: &'a [u8],
}

impl<'a> Dhcpv6Options<'a> {
    /// Walk `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Dhcpv6Options { rest: bytes }
    }

    /// `Ok` if every option fits.
    pub fn validate(bytes: &'a [u8]) -> Result<()> {
        Dhcpv6Options::new(bytes).try_for_each(|o| o.map(|_| ()))
    }
}

impl<'a> Iterator for Dhcpv6Options<'a> {
    type Item = Result<(u16, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let head = match self.rest.get(..4) {
            Some(h) => h,
            None => {
                self.rest = &[];
                return Some(Err(Error::Truncated));
            }
        };
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        match self.rest.get(4..4 + len) {
            Some(data) => {
                self.rest = &self.rest[4 + len..];
                Some(Ok((code, data)))
            }
            None => {
                self.rest = &[];
                Some(Err(Error::Truncated))
            }
        }
    }
}

/// Write option `code` with `data` at the start of `buf`; returns its length. Panics if
/// `buf` is shorter than `4 + data.len()` or `data` is longer than 65535 bytes.
pub fn emit_option(buf: &mut [u8], code: u16, data: &[u8]) -> usize {
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    buf[0..2].copy_from_slice(&code.to_be_bytes());
    buf[2..4].copy_from_slice(&len.to_be_bytes());
    buf[4..4 + data.len()].copy_from_slice(data);
    4 + data.len()
}

/// Write the 4-byte header.
pub fn emit_header(buf: &mut [u8], msg_type: u8, transaction_id: u32) {
    buf[0] = msg_type;
    buf[1..4].copy_from_slice(&transaction_id.to_be_bytes()[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_emit() {
        let mut b = [0u8; 64];
        emit_header(&mut b, msg::INFORMATION_REQUEST, 0x00ab_cdef);
        let mut at = HEADER_LEN;
        at += emit_option(&mut b[at..], opt::CLIENTID, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1]);
        at += emit_option(&mut b[at..], opt::ORO, &[0, 23]);
        let p = Dhcpv6Packet::new_checked(&b[..at]).unwrap();
        assert_eq!(p.msg_type(), msg::INFORMATION_REQUEST);
        assert_eq!(p.transaction_id(), 0xab_cdef);
        assert_eq!(p.option(opt::ORO), Some(&[0u8, 23][..]));
        assert_eq!(p.option(opt::SERVERID), None);
        assert!(Dhcpv6Options::validate(p.options()).is_ok());
        // Truncated option.
        assert_eq!(
            Dhcpv6Options::validate(&b[HEADER_LEN..at - 1]),
            Err(Error::Truncated)
        );
        assert_eq!(
            Dhcpv6Packet::new_checked(&b[..3]).err(),
            Some(Error::Truncated)
        );
    }
}
