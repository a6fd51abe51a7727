//! Structured log lines on stderr: `ts=<unix seconds> level=<l> event=<e> key=value ...`.
//! Control-plane events only: nothing here is called per packet.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

fn emit(level: &str, event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut line = format!("ts={ts:.3} level={level} event={event}");
    for (k, v) in fields {
        let v = v.to_string();
        if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '"') {
            line.push_str(&format!(" {k}={v:?}"));
        } else {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Something an operator should know happened.
pub fn info(event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    emit("info", event, fields);
}

/// Something went wrong but the router keeps running.
pub fn warn(event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    emit("warn", event, fields);
}

/// The router cannot do what was asked.
pub fn error(event: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    emit("error", event, fields);
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
