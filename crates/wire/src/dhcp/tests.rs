use super::*;

const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

fn chaddr() -> [u8; 16] {
    let mut c = [0u8; 16];
    c[..6].copy_from_slice(&MAC);
    c
}

/// A client message with the given options (End appended).
fn client(options: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; MIN_LEN];
    b[0] = 1;
    b[1] = 1;
    b[2] = 6;
    b[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    b[10] = 0x80;
    b[28..34].copy_from_slice(&MAC);
    b[236..240].copy_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(options);
    b.push(opt::END);
    b
}

fn reply<'a>(dns: &'a [Ipv4Addr], search: &'a [u8]) -> ReplyRepr<'a> {
    ReplyRepr {
        message_type: MessageType::Offer,
        htype: 1,
        hlen: 6,
        xid: 0xdead_beef,
        flags: FLAG_BROADCAST,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::new(192, 0, 2, 10),
        giaddr: Ipv4Addr::UNSPECIFIED,
        chaddr: chaddr(),
        server_id: Ipv4Addr::new(192, 0, 2, 1),
        lease: Some(LeaseTimes {
            lease: 86400,
            renewal: 43200,
            rebinding: 75600,
        }),
        subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
        router: Some(Ipv4Addr::new(192, 0, 2, 1)),
        dns_servers: dns,
        domain_name: Some(b"example.org"),
        domain_search: Some(search),
        hostname: Some(b"vm1"),
        mtu: Some(1500),
        broadcast_address: Some(Ipv4Addr::new(192, 0, 2, 255)),
        message: None,
    }
}

#[test]
fn check_len_needs_header_and_cookie() {
    let b = client(&[]);
    assert!(DhcpPacket::new_checked(&b[..]).is_ok());
    assert_eq!(
        DhcpPacket::new_checked(&b[..MIN_LEN - 1]).err(),
        Some(Error::Truncated)
    );
    let mut bad = b.clone();
    bad[236] = 0;
    assert_eq!(
        DhcpPacket::new_checked(&bad[..]).err(),
        Some(Error::Malformed)
    );
    // Exactly the header and cookie: every accessor works, the options are empty.
    let p = DhcpPacket::new_checked(&b[..MIN_LEN]).unwrap();
    assert_eq!(p.options(), &[] as &[u8]);
    assert_eq!(p.option_iter().count(), 0);
    assert_eq!(p.client_mac(), EthernetAddress(MAC));
    assert!(p.broadcast());
    assert_eq!(p.xid(), 0x1234_5678);
}

#[test]
fn client_repr_reads_the_options_a_server_needs() {
    let b = client(&[
        opt::PAD,
        opt::MESSAGE_TYPE,
        1,
        3,
        opt::REQUESTED_IP,
        4,
        192,
        0,
        2,
        10,
        opt::SERVER_ID,
        4,
        192,
        0,
        2,
        1,
        opt::MAX_MESSAGE_SIZE,
        2,
        0x05,
        0xdc,
        opt::PARAMETER_REQUEST,
        3,
        1,
        3,
        6,
        opt::HOSTNAME,
        2,
        b'h',
        b'x',
    ]);
    let p = DhcpPacket::new_checked(&b[..]).unwrap();
    let r = ClientRepr::parse(&p).unwrap();
    assert_eq!(r.op, BootpOp::Request);
    assert_eq!(r.message_type, MessageType::Request);
    assert_eq!(r.requested_ip, Some(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(r.server_id, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(r.max_message_size, Some(1500));
    assert_eq!(r.parameter_request, &[1, 3, 6]);
    assert_eq!(r.client_mac(), EthernetAddress(MAC));
    assert!(r.broadcast());
}

#[test]
fn client_repr_refuses_malformed_options() {
    let parse = |opts: &[u8]| {
        let b = client(opts);
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        ClientRepr::parse(&p).map(|r| r.message_type)
    };
    // No message type: plain BOOTP.
    assert_eq!(parse(&[]), Err(Error::Unsupported));
    // Message type of length 2, given twice; requested IP of length 3; max size of 1.
    assert_eq!(parse(&[53, 2, 1, 1]), Err(Error::Malformed));
    assert_eq!(parse(&[53, 1, 1, 53, 1, 3]), Err(Error::Malformed));
    assert_eq!(parse(&[53, 1, 1, 50, 3, 1, 2, 3]), Err(Error::Malformed));
    assert_eq!(parse(&[53, 1, 1, 57, 1, 9]), Err(Error::Malformed));
    // An option whose length runs past the end (the End appended by `client` is read as
    // data, and the option still needs more).
    assert_eq!(parse(&[53, 1, 1, 12, 200, b'x']), Err(Error::Malformed));
    // A length octet missing.
    let mut b = client(&[53, 1, 1]);
    b.pop();
    b.push(12);
    let p = DhcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(ClientRepr::parse(&p).err(), Some(Error::Malformed));
    // Unknown message types are kept.
    assert_eq!(parse(&[53, 1, 42]), Ok(MessageType::Unknown(42)));
}

#[test]
fn option_iter_stops_at_end_and_skips_pad() {
    let opts = [0, 0, 53, 1, 1, 0, 255, 53, 1, 2];
    let all: Vec<_> = OptionIter::new(&opts).collect();
    assert_eq!(
        all,
        vec![Ok(DhcpOption {
            code: 53,
            data: &[1]
        })]
    );
    // Truncated: one error, then nothing.
    let mut it = OptionIter::new(&[53, 5, 1]);
    assert_eq!(it.next(), Some(Err(Error::Malformed)));
    assert_eq!(it.next(), None);
}

#[test]
fn reply_round_trips_and_pads_to_300() {
    let dns = [
        Ipv4Addr::new(198, 51, 100, 53),
        Ipv4Addr::new(198, 51, 100, 54),
    ];
    let mut search = Vec::new();
    encode_domain_search(&["example.org", "lab.example.org."], &mut search).unwrap();
    let r = reply(&dns, &search);
    let len = r.buffer_len();
    assert_eq!(len, MIN_LEN + r.options_len());
    let mut buf = vec![0xaa; len];
    r.emit(&mut DhcpPacket::new_unchecked(&mut buf[..]));
    let p = DhcpPacket::new_checked(&buf[..]).unwrap();
    assert_eq!(p.op(), BootpOp::Reply);
    let back = ReplyRepr::parse(&p).unwrap();
    assert_eq!(back.dns_servers, &[] as &[Ipv4Addr]);
    assert_eq!(
        ReplyRepr::dns_servers_in(&p).collect::<Vec<_>>(),
        dns.to_vec()
    );
    assert_eq!(
        ReplyRepr {
            dns_servers: &dns,
            ..back
        },
        r
    );
    assert_eq!(p.siaddr(), Ipv4Addr::UNSPECIFIED);

    // A NAK: type and server id only, padded to the BOOTP minimum with zeros.
    let nak = ReplyRepr {
        message_type: MessageType::Nak,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        lease: None,
        subnet_mask: None,
        router: None,
        dns_servers: &[],
        domain_name: None,
        domain_search: None,
        hostname: None,
        mtu: None,
        broadcast_address: None,
        message: Some(b"wrong address"),
        ..r
    };
    assert_eq!(nak.buffer_len(), BOOTP_MIN_LEN);
    let mut buf = vec![0xaa; nak.buffer_len()];
    nak.emit(&mut DhcpPacket::new_unchecked(&mut buf[..]));
    let p = DhcpPacket::new_checked(&buf[..]).unwrap();
    assert_eq!(ReplyRepr::parse(&p).unwrap(), nak);
    let used = MIN_LEN + nak.options_len();
    assert!(buf[used..].iter().all(|&b| b == 0));
    assert_eq!(buf[used - 1], opt::END);
}

#[test]
fn long_values_are_split_per_rfc_3396() {
    let long = [b'a'; 300];
    let r = ReplyRepr {
        domain_search: Some(&long),
        ..reply(&[], &[])
    };
    let mut buf = vec![0; r.buffer_len()];
    r.emit(&mut DhcpPacket::new_unchecked(&mut buf[..]));
    let p = DhcpPacket::new_checked(&buf[..]).unwrap();
    let pieces: Vec<usize> = p
        .option_iter()
        .flatten()
        .filter(|o| o.code == opt::DOMAIN_SEARCH)
        .map(|o| o.data.len())
        .collect();
    assert_eq!(pieces, vec![255, 45]);
    // The simple parser refuses the repeated option rather than misread it.
    assert_eq!(ReplyRepr::parse(&p).err(), Some(Error::Unsupported));
}

#[test]
fn domain_search_encoding() {
    let mut out = Vec::new();
    encode_domain_search(&["eng.apple.com", "marketing.apple.com."], &mut out).unwrap();
    // RFC 3397 section 2's example, uncompressed.
    let mut want = Vec::new();
    for name in [&["eng", "apple", "com"][..], &["marketing", "apple", "com"]] {
        for l in name {
            want.push(l.len() as u8);
            want.extend_from_slice(l.as_bytes());
        }
        want.push(0);
    }
    assert_eq!(out, want);
    let mut out = Vec::new();
    assert_eq!(
        encode_domain_search(&["a..b"], &mut out),
        Err(NameError::EmptyLabel)
    );
    assert_eq!(check_name(&"x".repeat(64)), Err(NameError::LabelTooLong));
    assert_eq!(check_name("-a"), Err(NameError::BadCharacter));
    assert_eq!(check_name("a b"), Err(NameError::BadCharacter));
    assert_eq!(check_name(""), Err(NameError::EmptyLabel));
    let long = vec!["a".repeat(63); 5].join(".");
    assert_eq!(check_name(&long), Err(NameError::NameTooLong));
    assert!(check_name("vm-1.example.org.").is_ok());
}

#[test]
fn accessors_never_panic_on_short_checked_buffers() {
    // Every length from the minimum on, random-ish contents: accessors and the option
    // walk stay in bounds (the fuzz target does the same on arbitrary input).
    for len in MIN_LEN..MIN_LEN + 40 {
        let mut b: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
        b[236..240].copy_from_slice(&MAGIC_COOKIE);
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        let _ = (p.op(), p.xid(), p.chaddr(), p.giaddr(), p.secs(), p.hops());
        let _ = p.option_iter().count();
        let _ = ClientRepr::parse(&p);
        let _ = ReplyRepr::parse(&p);
    }
}
