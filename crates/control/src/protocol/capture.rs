//! `capture_start` / `capture_read` / `capture_stop`: frames a port received and sent,
//! with the router's decision, for `hvrouter capture` (which writes them as pcapng).
//!
//! Frames travel as base64 (RFC 4648 section 4, with padding) inside the JSON line:
//! a third more than the raw bytes, against twice for hex. The router's buffer holds at
//! most [`MAX_CAPTURE_BYTES`], so one read answer stays well under the client's
//! 64 MiB response limit.

use serde::{Deserialize, Serialize};

/// Default size of the router's capture buffer.
pub const DEFAULT_CAPTURE_BYTES: u64 = 4 << 20;
/// Largest capture buffer a client may ask for.
pub const MAX_CAPTURE_BYTES: u64 = 16 << 20;
/// Smallest capture buffer a client may ask for.
pub const MIN_CAPTURE_BYTES: u64 = 64 << 10;
/// Largest snapshot length (tcpdump's default).
pub const MAX_SNAPLEN: u32 = 262_144;
/// Most ports named in one `capture_start`.
pub const MAX_CAPTURE_PORTS: usize = 256;

/// Which way a frame went through its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureDirection {
    /// Received by the port (inbound).
    Rx,
    /// Sent by the port (outbound).
    Tx,
}

/// The answer to `capture_start`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureInfo {
    /// Names this capture in `capture_read` and `capture_stop`.
    pub id: u64,
    /// The ports captured that exist now (more may appear when no port was named).
    pub ports: Vec<String>,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// Size of the router's buffer.
    pub max_bytes: u64,
    /// The capture stops by itself when nobody reads it for this long.
    pub idle_timeout_ms: u64,
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedFrame {
    /// The port's device.
    pub port: String,
    /// Received or sent.
    pub direction: CaptureDirection,
    /// When the router's pass saw it, nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// The frame's full length (`data` may be shorter: the snapshot length).
    pub len: u32,
    /// What the router did (`forward to tap3`, `reply`, `drop spoofed_source_ip`,
    /// `sent`, `originated`).
    pub decision: String,
    /// The frame's first bytes, base64 on the wire.
    #[serde(with = "base64")]
    pub data: Vec<u8>,
}

/// The answer to `capture_read` and `capture_stop`: frames since the last read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureBatch {
    /// The capture.
    pub id: u64,
    /// Frames since the last read, oldest first.
    pub frames: Vec<CapturedFrame>,
    /// Frames stored since the capture started.
    pub captured: u64,
    /// Frames not stored since the capture started: the buffer was full between two
    /// reads.
    pub dropped: u64,
    /// False once the capture has stopped (this is its last batch).
    pub running: bool,
}

/// Base64 (RFC 4648 section 4, standard alphabet, padded) as a serde string.
pub mod base64 {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Encode bytes.
    pub fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn value(c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }

    /// Decode padded base64; `None` if it is not.
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let s = text.as_bytes();
        if !s.len().is_multiple_of(4) {
            return None;
        }
        let mut out = Vec::with_capacity(s.len() / 4 * 3);
        let quads = s.len() / 4;
        for (q, chunk) in s.chunks(4).enumerate() {
            let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
            if pad > 2 || (pad > 0 && q + 1 != quads) {
                return None;
            }
            let mut n = 0u32;
            for &c in &chunk[..4 - pad] {
                n = (n << 6) | value(c)?;
            }
            n <<= 6 * pad as u32;
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..3 - pad]);
        }
        Some(out)
    }

    /// Serialize as base64 text.
    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(data))
    }

    /// Deserialize from base64 text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text).ok_or_else(|| D::Error::custom("invalid base64 in a captured frame"))
    }
}

/// Checks of `capture_start` beyond its types.
pub fn validate_start(
    ports: &[String],
    snaplen: Option<u32>,
    max_bytes: Option<u64>,
) -> Result<(), String> {
    if ports.len() > MAX_CAPTURE_PORTS {
        return Err(format!(
            "capture: at most {MAX_CAPTURE_PORTS} ports may be named"
        ));
    }
    for p in ports {
        super::validate_ifname(p)?;
    }
    if let Some(s) = snaplen {
        if s == 0 || s > MAX_SNAPLEN {
            return Err(format!(
                "capture snaplen {s} is out of range: it must be between 1 and {MAX_SNAPLEN}"
            ));
        }
    }
    if let Some(b) = max_bytes {
        if !(MIN_CAPTURE_BYTES..=MAX_CAPTURE_BYTES).contains(&b) {
            return Err(format!(
                "capture buffer {b} bytes is out of range: it must be between {MIN_CAPTURE_BYTES} and {MAX_CAPTURE_BYTES}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_test_vectors() {
        // RFC 4648 section 10.
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in vectors {
            assert_eq!(base64::encode(plain.as_bytes()), coded);
            assert_eq!(base64::decode(coded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn base64_round_trips_every_byte_and_refuses_junk() {
        for len in 0..300 {
            let data: Vec<u8> = (0..len).map(|i| (i * 97 + 13) as u8).collect();
            assert_eq!(base64::decode(&base64::encode(&data)).unwrap(), data);
        }
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "Zm9"] {
            assert!(base64::decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn frames_serialize_as_base64() {
        let f = CapturedFrame {
            port: "tap3".into(),
            direction: CaptureDirection::Rx,
            time_ns: 1,
            len: 3,
            decision: "reply".into(),
            data: b"foo".to_vec(),
        };
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains("\"data\":\"Zm9v\""), "{json}");
        assert!(json.contains("\"direction\":\"rx\""), "{json}");
        assert_eq!(serde_json::from_str::<CapturedFrame>(&json).unwrap(), f);
    }

    #[test]
    fn start_limits() {
        assert!(validate_start(&[], None, None).is_ok());
        assert!(validate_start(&["tap3".into()], Some(96), Some(MIN_CAPTURE_BYTES)).is_ok());
        assert!(validate_start(&["a/b".into()], None, None).is_err());
        assert!(validate_start(&[], Some(0), None).is_err());
        assert!(validate_start(&[], Some(MAX_SNAPLEN + 1), None).is_err());
        assert!(validate_start(&[], None, Some(MAX_CAPTURE_BYTES + 1)).is_err());
        assert!(validate_start(&[], None, Some(1)).is_err());
        let many = vec!["tap0".to_string(); MAX_CAPTURE_PORTS + 1];
        assert!(validate_start(&many, None, None).is_err());
    }
}
