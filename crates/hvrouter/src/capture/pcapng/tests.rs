use super::*;

/// One parsed block of interest.
#[derive(Debug, PartialEq)]
enum Block {
    Section {
        app: String,
    },
    Interface {
        linktype: u16,
        snaplen: u32,
        name: String,
        tsresol: u8,
    },
    Packet {
        iface: u32,
        ts: u64,
        len: u32,
        data: Vec<u8>,
        flags: u32,
        comment: String,
    },
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Options as (code, value) until opt_endofopt, which must be there.
fn options(mut b: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = vec![];
    loop {
        let (code, len) = (u16_at(b, 0), usize::from(u16_at(b, 2)));
        if code == OPT_END {
            assert_eq!(len, 0);
            assert_eq!(b.len(), 4, "nothing after opt_endofopt");
            return out;
        }
        out.push((code, b[4..4 + len].to_vec()));
        b = &b[4 + len.div_ceil(4) * 4..];
    }
}

fn opt(opts: &[(u16, Vec<u8>)], code: u16) -> Vec<u8> {
    opts.iter()
        .find(|o| o.0 == code)
        .map(|o| o.1.clone())
        .unwrap_or_default()
}

/// Parse a whole file, checking every block's framing.
fn parse(mut b: &[u8]) -> Vec<Block> {
    let mut out = vec![];
    while !b.is_empty() {
        let (kind, total) = (u32_at(b, 0), u32_at(b, 4) as usize);
        assert_eq!(total % 4, 0, "blocks are 32-bit aligned");
        assert_eq!(u32_at(b, total - 4) as usize, total, "trailing length");
        let body = &b[8..total - 4];
        out.push(match kind {
            SHB => {
                assert_eq!(u32_at(body, 0), BYTE_ORDER_MAGIC);
                assert_eq!((u16_at(body, 4), u16_at(body, 6)), (1, 0));
                let o = options(&body[16..]);
                Block::Section {
                    app: String::from_utf8(opt(&o, SHB_USERAPPL)).unwrap(),
                }
            }
            IDB => {
                let o = options(&body[8..]);
                Block::Interface {
                    linktype: u16_at(body, 0),
                    snaplen: u32_at(body, 4),
                    name: String::from_utf8(opt(&o, IF_NAME)).unwrap(),
                    tsresol: opt(&o, IF_TSRESOL)[0],
                }
            }
            EPB => {
                let cap = u32_at(body, 12) as usize;
                let o = options(&body[20 + cap.div_ceil(4) * 4..]);
                let f = opt(&o, EPB_FLAGS);
                Block::Packet {
                    iface: u32_at(body, 0),
                    ts: (u64::from(u32_at(body, 4)) << 32) | u64::from(u32_at(body, 8)),
                    len: u32_at(body, 16),
                    data: body[20..20 + cap].to_vec(),
                    flags: u32_at(&f, 0),
                    comment: String::from_utf8(opt(&o, OPT_COMMENT)).unwrap(),
                }
            }
            other => panic!("unexpected block type {other:#x}"),
        });
        b = &b[total..];
    }
    out
}

/// A file with two interfaces, the second declared after the first packet.
fn sample() -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), 262_144).unwrap();
    let up = w.interface("hvr-up0").unwrap();
    assert_eq!(w.interface("hvr-up0").unwrap(), up, "declared once");
    let frame: Vec<u8> = (0..61u8).collect();
    w.packet(
        up,
        1_765_000_000_123_456_789,
        61,
        &frame,
        Way::Inbound,
        "forward to hvr-g1",
    )
    .unwrap();
    let g1 = w.interface("hvr-g1").unwrap();
    w.packet(
        g1,
        1_765_000_000_123_456_790,
        1500,
        &frame[..3],
        Way::Outbound,
        "",
    )
    .unwrap();
    w.flush().unwrap();
    w.into_inner()
}

#[test]
fn what_is_written_parses_back() {
    let blocks = parse(&sample());
    let frame: Vec<u8> = (0..61u8).collect();
    assert_eq!(
        blocks,
        vec![
            Block::Section {
                app: format!("hvrouter {}", env!("CARGO_PKG_VERSION"))
            },
            Block::Interface {
                linktype: 1,
                snaplen: 262_144,
                name: "hvr-up0".into(),
                tsresol: 9
            },
            Block::Packet {
                iface: 0,
                ts: 1_765_000_000_123_456_789,
                len: 61,
                data: frame.clone(),
                flags: FLAG_INBOUND,
                comment: "forward to hvr-g1".into(),
            },
            Block::Interface {
                linktype: 1,
                snaplen: 262_144,
                name: "hvr-g1".into(),
                tsresol: 9
            },
            Block::Packet {
                iface: 1,
                ts: 1_765_000_000_123_456_790,
                len: 1500,
                data: frame[..3].to_vec(),
                flags: FLAG_OUTBOUND,
                comment: String::new(),
            },
        ]
    );
}

#[test]
fn long_comments_are_cut_at_a_character_boundary() {
    let mut w = Writer::new(Vec::new(), 100).unwrap();
    let i = w.interface("x").unwrap();
    let comment = "é".repeat(40_000);
    w.packet(i, 0, 1, &[0], Way::Inbound, &comment).unwrap();
    let blocks = parse(&w.into_inner());
    let Block::Packet { comment: c, .. } = &blocks[2] else {
        panic!()
    };
    assert!(c.len() <= usize::from(u16::MAX) && c.len() > 60_000);
    assert!(comment.starts_with(c.as_str()));
}

#[test]
fn tcpdump_reads_it() {
    let Ok(which) = std::process::Command::new("sh")
        .args(["-c", "command -v tcpdump"])
        .output()
    else {
        return;
    };
    if !which.status.success() {
        eprintln!("SKIP tcpdump_reads_it: tcpdump is not installed");
        return;
    }
    let path = std::env::temp_dir().join(format!("hvr-pcapng-{}.pcapng", std::process::id()));
    std::fs::write(&path, sample()).unwrap();
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .collect();
    assert_eq!(packets.len(), 2, "{text}");
    assert!(packets[0].contains("length 61"), "{text}");
}
