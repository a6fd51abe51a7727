//! From byte offsets to lines and key paths, and from `toml` errors to [`Problem`]s.

use core::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::Problem;

/// The source text of one configuration and the name it is reported under.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Source<'a> {
    pub(crate) text: &'a str,
    pub(crate) origin: &'a str,
}

impl Source<'_> {
    /// 1-based line of byte `offset` (clamped to the text).
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    /// A problem at `span` under `key`.
    pub(crate) fn problem(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            origin: self.origin.to_string(),
            line: Some(self.line_of(span.start)),
            key: key.into(),
            message: message.into(),
        }
    }

    /// Turn an error of the `toml` parser or of deserialization into a problem: find the
    /// key at its span and say what is wrong in operator terms.
    pub(crate) fn toml_problem(&self, err: &toml::de::Error) -> Problem {
        let Some(span) = err.span() else {
            return Problem {
                origin: self.origin.to_string(),
                line: None,
                key: String::new(),
                message: reword(err.message(), ""),
            };
        };
        let token = self.text.get(span.clone()).unwrap_or("");
        Problem {
            origin: self.origin.to_string(),
            line: Some(self.line_of(span.start)),
            key: key_path_at(self.text, span.start).unwrap_or_default(),
            message: reword(err.message(), token),
        }
    }
}

/// One key of a dotted path, quoted when it is not a TOML bare key.
pub(crate) fn key_segment(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// Join path segments into a dotted key path.
pub(crate) fn join_path<'a>(segments: impl IntoIterator<Item = &'a str>) -> String {
    segments
        .into_iter()
        .map(key_segment)
        .collect::<Vec<_>>()
        .join(".")
}

/// The dotted path of the key or value at byte `offset`: the innermost entry whose key or
/// value span contains it, else the last key that starts on the same line before it (a
/// syntax error just past a value). Parses with recovery, so it works on broken
/// documents too.
pub(crate) fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let (doc, _errors) = DeTable::parse_recoverable(text);
    let offset = offset.min(text.len());
    let line_start = text.as_bytes()[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let mut found = Found {
        offset,
        line_start,
        best: None,
        same_line: None,
    };
    let mut path = Vec::new();
    walk_table(doc.get_ref(), &mut path, &mut found);
    found
        .best
        .or(found.same_line)
        .map(|(_, p)| join_path(p))
        .or_else(|| textual_path(text, offset))
}

/// Last resort for text the parser could not place (a duplicate key, a broken line): the
/// header of the table the line is in, and the key written before `=` on the line.
fn textual_path(text: &str, offset: usize) -> Option<String> {
    let before = &text[..floor_char_boundary(text, offset)];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].split('\n').next().unwrap_or("");
    if let Some(h) = header(line) {
        return Some(h.to_string());
    }
    let table = before[..line_start]
        .rsplit('\n')
        .find_map(header)
        .unwrap_or("");
    let key = line.split('=').next().unwrap_or("").trim();
    let is_key = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.\"' ".contains(c))
    };
    let key = if is_key(key) && line.contains('=') {
        key
    } else {
        ""
    };
    let path = [table, key]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    (!path.is_empty()).then_some(path)
}

/// The dotted key of a `[table]` or `[[array]]` header line.
fn header(line: &str) -> Option<&str> {
    let t = line.trim();
    let inner = t.strip_prefix('[')?;
    let inner = inner.strip_prefix('[').unwrap_or(inner);
    let inner = inner.split(']').next().unwrap_or("").trim();
    (!inner.is_empty()).then_some(inner)
}

/// The largest char boundary at or below `i` (clamped to the text).
fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What [`key_path_at`] is looking for and the best matches so far.
struct Found<'a> {
    offset: usize,
    line_start: usize,
    /// Narrowest span covering the offset: (width, path).
    best: Option<(usize, Vec<&'a str>)>,
    /// Last key starting on the offset's line before it: (start, path).
    same_line: Option<(usize, Vec<&'a str>)>,
}

fn covers(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

impl<'a> Found<'a> {
    /// Record `path` if `span` covers the offset and is narrower than (or as narrow as,
    /// with a longer path) the best match so far.
    fn consider(&mut self, span: Range<usize>, path: &[&'a str]) {
        if !covers(&span, self.offset) {
            return;
        }
        let width = span.len();
        let better = match &self.best {
            None => true,
            Some((w, p)) => width < *w || (width == *w && path.len() > p.len()),
        };
        if better {
            self.best = Some((width, path.to_vec()));
        }
    }

    /// Record `path` if its key starts on the offset's line, before the offset.
    fn consider_key(&mut self, span: Range<usize>, path: &[&'a str]) {
        self.consider(span.clone(), path);
        let on_line = (self.line_start..=self.offset).contains(&span.start);
        if on_line
            && self
                .same_line
                .as_ref()
                .is_none_or(|(s, _)| span.start >= *s)
        {
            self.same_line = Some((span.start, path.to_vec()));
        }
    }
}

fn walk_table<'a>(table: &'a DeTable<'_>, path: &mut Vec<&'a str>, found: &mut Found<'a>) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().as_ref());
        found.consider_key(key.span(), path);
        walk_value(value, path, found);
        path.pop();
    }
}

fn walk_value<'a>(value: &'a Spanned<DeValue<'_>>, path: &mut Vec<&'a str>, found: &mut Found<'a>) {
    found.consider(value.span(), path);
    match value.get_ref() {
        // Tables defined by a `[header]` have their body outside the value's span: always
        // look inside.
        DeValue::Table(t) => walk_table(t, path, found),
        DeValue::Array(items) => {
            for item in items.iter() {
                walk_value(item, path, found);
            }
        }
        _ => {}
    }
}

/// Rephrase serde's and toml's wording ("field", "i64", "sequence") in the configuration's
/// terms. `token` is the source text at the error's span.
fn reword(message: &str, token: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, expected) = rest.split_once(", ").unwrap_or((rest, ""));
        let valid = expected
            .strip_prefix("expected one of ")
            .or_else(|| expected.strip_prefix("expected "))
            .map(|list| list.replace('`', ""));
        return match valid {
            Some(list) => format!("unknown key {name}; valid keys here: {list}"),
            None => format!("unknown key {name}; no keys are allowed here"),
        };
    }
    if let Some(name) = message.strip_prefix("missing field ") {
        return format!("missing required key {name}");
    }
    if message == "duplicate key" {
        return format!("`{token}` is defined twice");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            let expected = match expected {
                "i64" | "u64" | "u32" | "u16" | "u8" | "usize" => "an integer",
                "a sequence" => "an array",
                "a map" | "struct" => "a table",
                other if other.starts_with("struct ") => "a table",
                other => other,
            };
            return format!("wrong type: expected {expected}, found {found}");
        }
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let s = Source {
            text: "a\nb\n\nc",
            origin: "x",
        };
        assert_eq!(s.line_of(0), 1);
        assert_eq!(s.line_of(1), 1);
        assert_eq!(s.line_of(2), 2);
        assert_eq!(s.line_of(5), 4);
        assert_eq!(s.line_of(500), 4);
    }

    #[test]
    fn paths() {
        let text = "[guests.tap3]\nips = [\n  \"a\",\n  \"b\",\n]\n[networks.\"x.y\"]\nmtu = 1\n";
        let at = |needle: &str| key_path_at(text, text.find(needle).unwrap());
        assert_eq!(at("\"b\"").as_deref(), Some("guests.tap3.ips"));
        assert_eq!(at("tap3").as_deref(), Some("guests.tap3"));
        assert_eq!(at("mtu").as_deref(), Some("networks.\"x.y\".mtu"));
        assert_eq!(at("1\n").as_deref(), Some("networks.\"x.y\".mtu"));
        assert_eq!(key_path_at("", 0), None);
        // Just past an unterminated string: the key on that line.
        let broken = "[n.p]\nuplink = \"x\"\ngateway = \"192.0.2.1\nmtu = 5\n";
        let end = broken.find("\nmtu").unwrap();
        assert_eq!(key_path_at(broken, end).as_deref(), Some("n.p.gateway"));
        // A duplicate key is not in the parsed tree: the header and the key as written.
        let dup = "[icmp]\nburst = 1\n\n[dataplane]\nburst = 1\nburst = 2\n[icmp]\n";
        let second = dup.rfind("burst").unwrap();
        assert_eq!(key_path_at(dup, second).as_deref(), Some("dataplane.burst"));
        let header = dup.rfind("icmp").unwrap();
        assert_eq!(key_path_at(dup, header).as_deref(), Some("icmp"));
        assert_eq!(textual_path("x", 0), None);
        assert_eq!(textual_path("[a]\n===", 5).as_deref(), Some("a"));
    }

    #[test]
    fn rewording() {
        assert_eq!(
            reword(
                "unknown field `bogus`, expected one of `mac`, `ips`",
                "bogus"
            ),
            "unknown key `bogus`; valid keys here: mac, ips"
        );
        assert_eq!(
            reword("unknown field `gusts`, expected `guests`", "gusts"),
            "unknown key `gusts`; valid keys here: guests"
        );
        assert_eq!(
            reword("unknown field `a`, there are no fields", "a"),
            "unknown key `a`; no keys are allowed here"
        );
        assert_eq!(
            reword("missing field `ips`", ""),
            "missing required key `ips`"
        );
        assert_eq!(reword("duplicate key", "tap3"), "`tap3` is defined twice");
        assert_eq!(
            reword("invalid type: string \"x\", expected i64", "\"x\""),
            "wrong type: expected an integer, found string \"x\""
        );
        assert_eq!(reword("something else", ""), "something else");
    }
}
