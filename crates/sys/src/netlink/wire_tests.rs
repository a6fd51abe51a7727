//! Parser tests on hand-built datagrams, including truncated and lying lengths.

use super::*;

fn attr(ty: u16, value: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    a.extend_from_slice(&ty.to_ne_bytes());
    a.extend_from_slice(value);
    a.resize(align4(a.len()), 0);
    a
}

fn msg(ty: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&7u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(align4(m.len()), 0);
    m
}

fn ifinfo(family: u8, ifindex: u32, flags: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![family, 0, 1, 0]; // family, pad, ARPHRD_ETHER
    p.extend_from_slice(&ifindex.to_ne_bytes());
    p.extend_from_slice(&flags.to_ne_bytes());
    p.extend_from_slice(&0xffff_ffffu32.to_ne_bytes());
    for a in attrs {
        p.extend_from_slice(a);
    }
    p
}

const MAC: [u8; 6] = [0x02, 0, 0x5e, 0x10, 0, 1];

fn veth_attrs(operstate: u8) -> Vec<Vec<u8>> {
    vec![
        attr(IFLA_IFNAME, b"hvrt1a\0"),
        attr(IFLA_MTU, &1500u32.to_ne_bytes()),
        attr(IFLA_ADDRESS, &MAC),
        attr(IFLA_OPERSTATE, &[operstate]),
        attr(99, &[1, 2, 3]), // unknown attribute, odd length: skipped
    ]
}

fn new_link_datagram() -> Vec<u8> {
    msg(
        RTM_NEWLINK,
        0,
        &ifinfo(0, 5, IFF_UP | IFF_RUNNING, &veth_attrs(6)),
    )
}

#[test]
fn new_link_all_fields() {
    let mut out = Vec::new();
    parse_link_events(&new_link_datagram(), &mut out).expect("parses");
    assert_eq!(
        out,
        vec![LinkEvent {
            kind: LinkEventKind::New,
            link: Link {
                ifindex: 5,
                name: "hvrt1a".into(),
                admin_up: true,
                oper_up: true,
                operstate: Some(OperState::Up),
                mtu: Some(1500),
                mac: Some(MAC),
                flags: IFF_UP | IFF_RUNNING,
            },
        }]
    );
}

#[test]
fn del_link_and_several_messages_per_datagram() {
    let mut d = new_link_datagram();
    d.extend(msg(RTM_DELLINK, 0, &ifinfo(0, 6, 0, &veth_attrs(2))));
    d.extend(msg(NLMSG_NOOP, 0, &[]));
    let mut out = Vec::new();
    parse_link_events(&d, &mut out).expect("parses");
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].kind, LinkEventKind::Del);
    assert_eq!(out[1].link.ifindex, 6);
    assert!(!out[1].link.admin_up && !out[1].link.oper_up);
}

#[test]
fn oper_up_follows_running_and_operstate() {
    let cases = [
        // (flags, operstate, expected oper_up)
        (IFF_UP | IFF_RUNNING, Some(6), true), // veth with peer up
        (IFF_UP | IFF_RUNNING, Some(0), true), // tap with an fd holder: UNKNOWN
        (IFF_UP, Some(3), false),              // veth whose peer is down
        (IFF_UP | IFF_RUNNING, Some(2), false), // inconsistent: operstate wins
        (IFF_UP | IFF_RUNNING, None, true),
        (IFF_UP, None, false),
    ];
    for (flags, state, want) in cases {
        let attrs: Vec<_> = state
            .map(|s| attr(IFLA_OPERSTATE, &[s]))
            .into_iter()
            .collect();
        let (_, link) = parse_link(&ifinfo(0, 3, flags, &attrs)).expect("parses");
        assert_eq!(link.oper_up, want, "flags {flags:#x} operstate {state:?}");
        assert!(link.admin_up);
        assert_eq!(link.mtu, None);
        assert_eq!(link.name, "");
    }
}

#[test]
fn bridge_family_and_non_link_messages_are_skipped() {
    let mut d = msg(RTM_NEWLINK, 0, &ifinfo(7, 5, 0, &[])); // AF_BRIDGE
    d.extend(msg(NLMSG_DONE, 0, &0u32.to_ne_bytes()));
    let mut out = Vec::new();
    parse_link_events(&d, &mut out).expect("parses");
    assert!(out.is_empty());
}

#[test]
fn odd_attribute_values() {
    let attrs = vec![
        attr(IFLA_ADDRESS, &[0; 4]),          // not Ethernet: no MAC
        attr(IFLA_MTU, &[1, 2]),              // short: no MTU
        attr(IFLA_IFNAME, b"no-nul"),         // missing NUL is tolerated
        attr(IFLA_OPERSTATE | 0x8000, &[99]), // flag bits masked, unknown state kept
    ];
    let (_, link) = parse_link(&ifinfo(0, 9, IFF_UP, &attrs)).expect("parses");
    assert_eq!(link.mac, None);
    assert_eq!(link.mtu, None);
    assert_eq!(link.name, "no-nul");
    assert_eq!(link.operstate, Some(OperState::Other(99)));
}

#[test]
fn lying_lengths_are_malformed() {
    // Message length below the header size.
    let mut d = new_link_datagram();
    d[..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(parse_link_events(&d, &mut Vec::new()).is_err());
    // Message length beyond the datagram.
    let mut d = new_link_datagram();
    let len = d.len() as u32 + 4;
    d[..4].copy_from_slice(&len.to_ne_bytes());
    assert!(parse_link_events(&d, &mut Vec::new()).is_err());
    // Attribute length below its header, and beyond the payload.
    for bad in [2u16, 400] {
        let mut a = attr(IFLA_MTU, &1500u32.to_ne_bytes());
        a[..2].copy_from_slice(&bad.to_ne_bytes());
        let d = msg(RTM_NEWLINK, 0, &ifinfo(0, 5, 0, &[a]));
        let err = parse_link_events(&d, &mut Vec::new()).expect_err("malformed");
        assert_eq!(err.what, "attribute length out of bounds");
    }
    // ifindex 0 and negative.
    for bad in [0u32, 0x8000_0000] {
        let d = msg(RTM_NEWLINK, 0, &ifinfo(0, bad, 0, &[]));
        assert!(parse_link_events(&d, &mut Vec::new()).is_err());
    }
}

#[test]
fn events_before_a_malformed_message_are_kept() {
    let mut d = new_link_datagram();
    d.extend_from_slice(&[40, 0, 0, 0, 16, 0]); // a header cut short
    let mut out = Vec::new();
    let err = parse_link_events(&d, &mut out).expect_err("malformed tail");
    assert_eq!(out.len(), 1);
    assert_eq!(err.offset, new_link_datagram().len());
}

#[test]
fn every_truncation_is_handled() {
    let mut d = new_link_datagram();
    d.extend(msg(RTM_DELLINK, 0, &ifinfo(0, 6, 0, &veth_attrs(2))));
    for cut in 0..d.len() {
        let mut out = Vec::new();
        let r = parse_link_events(&d[..cut], &mut out);
        if cut == 0 {
            assert!(r.is_ok() && out.is_empty());
        } else if cut < new_link_datagram().len() {
            assert!(r.is_err(), "cut {cut}");
            assert!(out.is_empty(), "cut {cut}");
        }
    }
    let payload = ifinfo(0, 5, IFF_UP, &veth_attrs(6));
    for cut in 0..payload.len() {
        let r = parse_link(&payload[..cut]);
        // Cuts on an attribute boundary parse with fewer attributes; others fail.
        if let Ok((_, link)) = r {
            assert_eq!(link.ifindex, 5);
            assert!(cut >= 16);
        }
    }
}

#[test]
fn pseudo_random_bytes_never_panic() {
    let mut x: u32 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let template = new_link_datagram();
    for _ in 0..5000 {
        let mut d = template.clone();
        // Flip a few bytes, sometimes in the length fields.
        for _ in 0..(next() % 4 + 1) {
            let i = next() as usize % d.len();
            d[i] = next() as u8;
        }
        let cut = next() as usize % (d.len() + 1);
        let _ = parse_link_events(&d[..cut], &mut Vec::new());
        for m in messages(&d[..cut]).map_while(Result::ok) {
            let _ = parse_error(&m);
        }
    }
}

#[test]
fn error_messages() {
    // ACK: errno 0, original header echoed (capped).
    let mut p = 0i32.to_ne_bytes().to_vec();
    p.extend(msg(RTM_NEWLINK, NLM_F_REQUEST, &[])[..16].to_vec());
    let d = msg(NLMSG_ERROR, NLM_F_CAPPED, &p);
    let m = messages(&d).next().expect("one").expect("ok");
    assert_eq!(
        parse_error(&m),
        Ok(NlError {
            errno: 0,
            message: None
        })
    );
    // ENODEV with an extended-ack message, not capped (request payload echoed).
    let req = msg(RTM_GETLINK, NLM_F_REQUEST, &ifinfo(0, 1, 0, &[]));
    let mut p = (-19i32).to_ne_bytes().to_vec();
    p.extend(&req);
    p.extend(attr(NLMSGERR_ATTR_MSG, b"no such device\0"));
    let d = msg(NLMSG_ERROR, NLM_F_ACK_TLVS, &p);
    let m = messages(&d).next().expect("one").expect("ok");
    let e = parse_error(&m).expect("parses");
    assert_eq!(e.errno, 19);
    assert_eq!(e.message.as_deref(), Some("no such device"));
    // Too short for the errno.
    let d = msg(NLMSG_ERROR, 0, &[1, 2]);
    let m = messages(&d).next().expect("one").expect("ok");
    assert!(parse_error(&m).is_err());
}

#[test]
fn request_builder_round_trips() {
    let req = LinkRequest::new(
        RTM_NEWLINK,
        NLM_F_REQUEST | NLM_F_ACK,
        42,
        7,
        IFF_UP,
        IFF_UP,
    )
    .attr(IFLA_MTU, &9000u32.to_ne_bytes())
    .attr(IFLA_IFNAME, b"hvrt1b\0")
    .finish();
    assert_eq!(req.len() % 4, 0);
    let mut all = messages(&req);
    let m = all.next().expect("one").expect("well formed");
    assert!(all.next().is_none());
    assert_eq!(
        (m.ty, m.flags, m.seq),
        (RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 42)
    );
    let (_, link) = parse_link(m.payload).expect("parses");
    assert_eq!(link.ifindex, 7);
    assert_eq!(link.mtu, Some(9000));
    assert_eq!(link.name, "hvrt1b");
    assert!(link.admin_up);
}
