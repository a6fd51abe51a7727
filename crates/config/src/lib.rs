//! hvrouter's configuration: TOML in, a validated [`Config`] out.
//!
//! Every error names the file, the line and the key, and says what is wrong in the
//! operator's terms:
//!
//! ```text
//! configs/x.toml:14: guests.tap3.ips: 203.0.113.9 is not inside network public_90 (192.0.2.0/24)
//! ```
//!
//! Unknown keys are errors that list the valid ones. The routing rules (subnets,
//! gateways, MTUs, guest addresses and prefixes) are the core's own
//! ([`hvrouter_core::network::NetworkSpec::validate`], [`hvrouter_core::tables::Tables`]),
//! applied to the whole file; this crate adds what only a file has (interface names,
//! references between sections, duplicates in lists, process settings) and locates every
//! error. `configs/example.toml` documents every key.
//!
//! No input makes this crate panic: it is fuzzed with truncated and mangled files.

#![forbid(unsafe_code)]

mod check;
mod dhcp;
mod diff;
mod error;
mod ipv6;
mod locate;
mod model;
mod networks;
mod raw;
mod sections;

use std::io::Read;
use std::path::Path;

pub use check::{ifname_error, MAX_IFNAME_LEN, MAX_SOCKET_PATH_LEN};
pub use diff::{diff, ConfigDiff};
pub use error::{ConfigError, Problem};
pub use model::{
    AnnounceSection, Config, DataplaneSection, GuestConfig, IcmpSection, LogLevel, NetworkConfig,
    PollMode, RouterSection, XdpMode, DEFAULT_CONTROL_SOCKET, DEFAULT_GUEST_MAC,
    DEFAULT_METRICS_LISTEN, DEFAULT_MTU, DEFAULT_STATE_DIR,
};
pub use sections::METRICS_OFF;

use check::Checker;
use locate::Source;

/// Largest configuration file read (a guard against pointing at the wrong file).
pub const MAX_FILE_SIZE: u64 = 16 << 20;

impl Config {
    /// Read and validate the file at `path`. Errors are reported under `path` as given.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut text = String::new();
        file.take(MAX_FILE_SIZE + 1)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        if text.len() as u64 > MAX_FILE_SIZE {
            return Err(read_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the file is larger than {MAX_FILE_SIZE} bytes"),
            )));
        }
        Config::parse_str(&text, &path.display().to_string())
    }

    /// Parse and validate `text`; problems are reported under the name `origin` (a file
    /// name, or e.g. `<control>` for text that came from elsewhere).
    ///
    /// A TOML syntax error or a value of the wrong type stops at that first problem;
    /// otherwise every problem in the file is reported, in file order.
    pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let src = Source { text, origin };
        let raw: raw::RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(vec![src.toml_problem(&e)]))?;
        let mut c = Checker::new(src);
        let router = sections::router(&mut c, raw.router.as_ref());
        let dataplane = sections::dataplane(&mut c, raw.dataplane.as_ref());
        let icmp = sections::icmp(&mut c, raw.icmp.as_ref());
        let announce = sections::announce(&mut c, raw.announce.as_ref());
        let checked = networks::check(&mut c, &raw.networks, &raw.guests);
        if !c.problems.is_empty() {
            let mut problems = c.problems;
            problems.sort_by_key(|p| p.line);
            return Err(ConfigError::Invalid(problems));
        }
        Ok(Config {
            router,
            dataplane,
            icmp,
            announce,
            networks: checked.networks,
            guests: checked.guests,
        })
    }
}
