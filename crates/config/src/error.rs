//! Configuration errors, each naming the file, the line and the key.

use core::fmt;
use std::path::PathBuf;

/// One thing wrong with a configuration file, located for the operator.
///
/// Displays as `ORIGIN:LINE: KEY: MESSAGE`, e.g.
/// `configs/x.toml:14: guests.tap3.ips: 203.0.113.9 is not inside network public_90 (192.0.2.0/24)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file name (or another name for where the text came from).
    pub origin: String,
    /// 1-based line of the offending key or value, when known.
    pub line: Option<usize>,
    /// Dotted path of the offending key, e.g. `guests.tap3.ips`; empty when the problem is
    /// not under a key (a syntax error before the first key).
    pub key: String,
    /// What is wrong, in operator terms.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8, too large).
    #[error("{}: cannot read the configuration file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration. Holds every problem found
    /// (at least one), in file order; a syntax or type error stops at the first.
    #[error("{}", ProblemList(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The problems of an [`ConfigError::Invalid`] configuration (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid(p) => p,
        }
    }
}

/// Display helper: one problem per line.
struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let p = Problem {
            origin: "configs/x.toml".into(),
            line: Some(14),
            key: "guests.tap3.ips".into(),
            message: "203.0.113.9 is not inside network public_90 (192.0.2.0/24)".into(),
        };
        assert_eq!(
            p.to_string(),
            "configs/x.toml:14: guests.tap3.ips: 203.0.113.9 is not inside network public_90 (192.0.2.0/24)"
        );
        let q = Problem {
            line: None,
            key: String::new(),
            message: "oops".into(),
            ..p.clone()
        };
        assert_eq!(q.to_string(), "configs/x.toml: oops");
        let e = ConfigError::Invalid(vec![p.clone(), q]);
        assert_eq!(e.to_string().lines().count(), 2);
        assert_eq!(e.problems()[0], p);
    }
}
