//! The hooks' messages: one line each on stderr (Ganeti shows a failed hook's output in
//! its error) and in syslog (`journalctl -t hvrouter-ganeti`), with syslog priorities.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

/// syslog tag of every hook line.
pub const TAG: &str = "hvrouter-ganeti";

/// How bad a message is (syslog severities, RFC 5424 6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// 6: informational.
    Info,
    /// 4: warning.
    Warning,
    /// 3: error.
    Error,
}

impl Level {
    fn severity(self) -> u8 {
        match self {
            Level::Info => 6,
            Level::Warning => 4,
            Level::Error => 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// Where the lines go.
#[derive(Debug)]
pub struct Reporter {
    syslog: Option<(UnixDatagram, PathBuf)>,
}

impl Reporter {
    /// Lines to stderr, and to the syslog socket `syslog` when given and reachable.
    pub fn new(syslog: Option<PathBuf>) -> Reporter {
        // Non-blocking: a stuck syslog daemon must not hang Ganeti's NIC set-up.
        let syslog = syslog.and_then(|p| {
            let sock = UnixDatagram::unbound().ok()?;
            sock.set_nonblocking(true).ok()?;
            Some((sock, p))
        });
        Reporter { syslog }
    }

    /// One message.
    pub fn say(&self, level: Level, message: &str) {
        let _ = writeln!(
            std::io::stderr().lock(),
            "{TAG}: {}: {message}",
            level.name()
        );
        if let Some((sock, path)) = &self.syslog {
            // Facility daemon (3), RFC 3164 form that journald and rsyslog read.
            let line = format!(
                "<{}>{TAG}[{}]: {message}",
                3 * 8 + level.severity(),
                std::process::id()
            );
            let _ = sock.send_to(line.as_bytes(), path);
        }
    }

    /// An informational message.
    pub fn info(&self, message: &str) {
        self.say(Level::Info, message);
    }

    /// A warning.
    pub fn warn(&self, message: &str) {
        self.say(Level::Warning, message);
    }

    /// An error.
    pub fn error(&self, message: &str) {
        self.say(Level::Error, message);
    }
}
