//! Malformed inputs: truncations and random mutations of the shipped configurations must
//! return errors that point inside the text, and never panic.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use hvrouter_config::{Config, ConfigError};

fn shipped(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Parse `text`; if it fails, every problem must be well-formed and inside the text.
fn check(text: &str) -> bool {
    match Config::parse_str(text, "fuzz.toml") {
        Ok(_) => true,
        Err(ConfigError::Invalid(problems)) => {
            assert!(!problems.is_empty());
            let lines = text.split('\n').count();
            for p in &problems {
                assert_eq!(p.origin, "fuzz.toml");
                assert!(!p.message.is_empty(), "{p}");
                if let Some(line) = p.line {
                    assert!(
                        (1..=lines).contains(&line),
                        "line {line} of {lines}: {p}\n{text}"
                    );
                }
            }
            false
        }
        Err(e) => panic!("parse_str cannot fail to read: {e}"),
    }
}

/// The last line of `text` opens a string it does not close (outside comments).
fn cuts_a_string(text: &str) -> bool {
    let last = text.rsplit('\n').next().unwrap_or("");
    let code = last.split('#').next().unwrap_or("");
    !last.trim_start().starts_with('#') && code.matches('"').count() % 2 == 1
}

/// The cut falls inside a line of TOML (not a comment, not at the line's end).
fn cuts_code(text: &str, full: &str) -> bool {
    let last = text.rsplit('\n').next().unwrap_or("");
    let code = last.split('#').next().unwrap_or("");
    !code.trim().is_empty() && !full[text.len()..].starts_with('\n')
}

fn truncations(name: &str) {
    let full = shipped(name);
    assert!(check(&full), "{name} itself is valid");
    let (mut cut, mut rejected) = (0, 0);
    for end in (0..full.len()).filter(|&i| full.is_char_boundary(i)) {
        let text = &full[..end];
        let valid = check(text);
        assert!(
            !(valid && cuts_a_string(text)),
            "accepted a cut string:\n{text}"
        );
        if cuts_code(text, &full) {
            cut += 1;
            rejected += usize::from(!valid);
        }
    }
    // Nearly every cut inside a line breaks it; a few leave a shorter valid value
    // (`burst = 6`).
    assert!(
        rejected * 10 >= cut * 9,
        "{name}: {rejected} of {cut} cuts rejected"
    );
}

#[test]
fn truncated_example() {
    truncations("example.toml");
}

#[test]
fn truncated_demo() {
    truncations("demo.toml");
}

const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "=",
    "\"",
    "'",
    ",",
    ".",
    "#",
    "\n",
    "{",
    "}",
    "0",
    "-1",
    "99999999999999999999",
    "1.5",
    "true",
    "/",
    ":",
    "ff",
    "\\",
    "\"\"\"",
    "[guests.x]",
    "[networks.y]",
    "ips = []",
    "\u{0}",
    "é",
    "\t",
    "1979-05-27",
    "inf",
    "nan",
    "0x10",
];

#[test]
fn mutated_configs() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let sources = [shipped("example.toml"), shipped("demo.toml")];
    let mut rejected = 0;
    for round in 0..3000 {
        let mut text = sources[round % 2].clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(text.len());
            let at = (0..=at)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            match rng.below(4) {
                0 => {
                    let end = (at + 1 + rng.below(40)).min(text.len());
                    let end = (end..=text.len())
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap();
                    text.replace_range(at..end, "");
                }
                1 => text.insert_str(at, TOKENS[rng.below(TOKENS.len())]),
                2 => {
                    // Duplicate a line.
                    let mut lines: Vec<&str> = text.split('\n').collect();
                    let i = rng.below(lines.len());
                    lines.insert(i, lines[i]);
                    text = lines.join("\n");
                }
                _ => {
                    // Swap two lines.
                    let mut lines: Vec<&str> = text.split('\n').collect();
                    let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(i, j);
                    text = lines.join("\n");
                }
            }
        }
        if !check(&text) {
            rejected += 1;
        }
    }
    assert!(
        rejected > 1000,
        "only {rejected} of 3000 mutations rejected"
    );
}

#[test]
fn odd_documents() {
    for text in [
        "",
        "\n\n",
        "#",
        "=",
        "[",
        "[]",
        "[[guests]]\nmac = \"a\"",
        "guests = 5",
        "guests = []",
        "networks = { a = 1 }",
        "[guests.a]\nips = [[1]]",
        "[networks.a]\nuplink = \"x\"\nsubnet = \"0.0.0.0/0\"\ngateway = \"0.0.0.1\"",
        "[networks.a]\nuplink = \"x\"\nsubnet = \"255.255.255.252/30\"\ngateway = \"255.255.255.253\"",
        "[dataplane]\nworkers = 9223372036854775807\ncpus = [-9223372036854775808]",
        "[dataplane]\nframes = -9223372036854775808",
        "a.b.c.d.e.f = 1",
        "\u{feff}[router]",
        "[router]\r\nlog_level = \"info\"\r\nbogus = 1\r\n",
    ] {
        check(text);
    }
    let crlf =
        Config::parse_str("[router]\r\nlog_level = \"info\"\r\nbogus = 1\r\n", "x").unwrap_err();
    assert_eq!(crlf.problems()[0].line, Some(3));
}
