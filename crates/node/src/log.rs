//! Structured log lines on stderr: `ts=<unix seconds> level=<l> event=<e> key=value ...`.
//! Control-plane events only: nothing here is called per packet.
//!
//! Lines less severe than `router.log_level` are not written (`set_level`, at start and
//! on reload). When stderr is connected to the journal, each line starts with its syslog
//! priority, `<3>` to `<7>`, which journald strips and keeps as the entry's priority
//! (sd-daemon(3): "[...] prefixing each line with a string like `<3>`"). systemd tells a
//! service that its stderr is the journal with `JOURNAL_STREAM=DEV:INO`, the device and
//! inode of that stream; systemd.exec(5) asks programs to compare it with `fstat()` of
//! the fd, so that a stderr redirected elsewhere by a parent stays plain.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use hvrouter_config::LogLevel;

/// Severity of one line; lower is more severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

impl Severity {
    fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
            Severity::Info => "info",
            Severity::Debug => "debug",
        }
    }

    /// The syslog priority journald records (sd-daemon.h: SD_ERR, SD_WARNING, SD_INFO,
    /// SD_DEBUG).
    fn priority(self) -> u8 {
        match self {
            Severity::Error => 3,
            Severity::Warn => 4,
            Severity::Info => 6,
            Severity::Debug => 7,
        }
    }
}

/// The least severe line written, as a `Severity` number. Info until [`set_level`].
static MAX_SEVERITY: AtomicU8 = AtomicU8::new(Severity::Info as u8);

/// Whether stderr is the journal: decided once, at the first line.
static JOURNAL: OnceLock<bool> = OnceLock::new();

/// The most verbose severity `level` lets through (`trace` is `debug`: nothing logs
/// below debug).
fn max_severity(level: LogLevel) -> Severity {
    match level {
        LogLevel::Error => Severity::Error,
        LogLevel::Warn => Severity::Warn,
        LogLevel::Info => Severity::Info,
        LogLevel::Debug | LogLevel::Trace => Severity::Debug,
    }
}

/// Write only lines at least as severe as `level` from now on (`router.log_level`).
pub(crate) fn set_level(level: LogLevel) {
    MAX_SEVERITY.store(max_severity(level) as u8, Ordering::Relaxed);
}

fn enabled(s: Severity) -> bool {
    s as u8 <= MAX_SEVERITY.load(Ordering::Relaxed)
}

/// Whether `journal_stream` (the value of `JOURNAL_STREAM`, `DEV:INO` in decimal) names
/// the stream whose device and inode are `dev` and `ino`.
fn journal_stream_matches(journal_stream: Option<&str>, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = journal_stream.and_then(|v| v.trim().split_once(':')) else {
        return false;
    };
    matches!((d.parse::<u64>(), i.parse::<u64>()), (Ok(d), Ok(i)) if d == dev && i == ino)
}

/// `fstat()` of stderr compared with `JOURNAL_STREAM`.
fn stderr_is_journal() -> bool {
    let Ok(var) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(fd).metadata() {
        Ok(m) => journal_stream_matches(Some(&var), m.dev(), m.ino()),
        Err(_) => false,
    }
}

/// One line, newline included.
fn format_line(
    severity: Severity,
    journal: bool,
    ts: f64,
    event: &str,
    fields: &[(&str, &dyn std::fmt::Display)],
) -> String {
    let mut line = String::new();
    if journal {
        line.push_str(&format!("<{}>", severity.priority()));
    }
    line.push_str(&format!(
        "ts={ts:.3} level={} event={event}",
        severity.name()
    ));
    for (k, v) in fields {
        let v = v.to_string();
        if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '"') {
            line.push_str(&format!(" {k}={v:?}"));
        } else {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    line.push('\n');
    line
}

fn emit(severity: Severity, event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    if !enabled(severity) {
        return;
    }
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let journal = *JOURNAL.get_or_init(stderr_is_journal);
    let line = format_line(severity, journal, ts, event, fields);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Detail for debugging the router (written only at `log_level = "debug"` or `"trace"`).
#[allow(dead_code)]
pub(crate) fn debug(event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    emit(Severity::Debug, event, fields);
}

/// Something an operator should know happened.
pub(crate) fn info(event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    emit(Severity::Info, event, fields);
}

/// Something went wrong but the router keeps running.
pub(crate) fn warn(event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    emit(Severity::Warn, event, fields);
}

/// The router cannot do what was asked.
pub fn error(event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    emit(Severity::Error, event, fields);
}

/// Write `text` (e.g. `check-config`'s `file:line: key: message` lines) to stderr as is,
/// each line at error priority when stderr is the journal (the unit's `ExecStartPre`),
/// so `journalctl -p err` shows why a start was refused.
pub fn error_text(text: &str) {
    let journal = *JOURNAL.get_or_init(stderr_is_journal);
    let _ = std::io::stderr()
        .lock()
        .write_all(prefix_lines(text, journal.then_some(Severity::Error)).as_bytes());
}

/// `text` with a newline after every line, each line prefixed with the priority of
/// `severity` when there is one.
fn prefix_lines(text: &str, severity: Option<Severity>) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.lines() {
        if let Some(s) = severity {
            out.push_str(&format!("<{}>", s.priority()));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// An error with its causes, `outer: cause: root cause`, for a log field.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_priorities_are_sd_daemon_levels() {
        let line = |s| format_line(s, true, 1.5, "e", &[]);
        assert_eq!(line(Severity::Error), "<3>ts=1.500 level=error event=e\n");
        assert_eq!(line(Severity::Warn), "<4>ts=1.500 level=warn event=e\n");
        assert_eq!(line(Severity::Info), "<6>ts=1.500 level=info event=e\n");
        assert_eq!(line(Severity::Debug), "<7>ts=1.500 level=debug event=e\n");
    }

    #[test]
    fn plain_lines_without_the_journal() {
        let dev: &dyn std::fmt::Display = &"tap 3";
        let n: &dyn std::fmt::Display = &7;
        let line = format_line(Severity::Warn, false, 2.0, "x", &[("dev", dev), ("n", n)]);
        assert_eq!(line, "ts=2.000 level=warn event=x dev=\"tap 3\" n=7\n");
    }

    #[test]
    fn error_text_lines_each_get_a_priority() {
        let text = "a.toml:3: dataplane.workers: no\na.toml:9: icmp.burst: no";
        assert_eq!(
            prefix_lines(text, Some(Severity::Error)),
            "<3>a.toml:3: dataplane.workers: no\n<3>a.toml:9: icmp.burst: no\n"
        );
        assert_eq!(prefix_lines(text, None), format!("{text}\n"));
    }

    #[test]
    fn journal_stream_must_name_this_stream() {
        assert!(journal_stream_matches(Some("8:1234"), 8, 1234));
        assert!(journal_stream_matches(Some("8:1234\n"), 8, 1234));
        assert!(!journal_stream_matches(Some("8:1235"), 8, 1234));
        assert!(!journal_stream_matches(Some("9:1234"), 8, 1234));
        assert!(!journal_stream_matches(None, 8, 1234));
        for bad in ["", "8", "8:", ":1234", "x:1234", "8:1234:5", "-8:1234"] {
            assert!(!journal_stream_matches(Some(bad), 8, 1234), "{bad:?}");
        }
    }

    #[test]
    fn level_filters_less_severe_lines() {
        // The only test touching the global level.
        let cases = [
            (LogLevel::Error, [true, false, false, false]),
            (LogLevel::Warn, [true, true, false, false]),
            (LogLevel::Info, [true, true, true, false]),
            (LogLevel::Debug, [true, true, true, true]),
            (LogLevel::Trace, [true, true, true, true]),
        ];
        let all = [
            Severity::Error,
            Severity::Warn,
            Severity::Info,
            Severity::Debug,
        ];
        for (level, want) in cases {
            set_level(level);
            let got: Vec<bool> = all.iter().map(|s| enabled(*s)).collect();
            assert_eq!(got, want, "{level:?}");
        }
        set_level(LogLevel::Info);
    }
}
