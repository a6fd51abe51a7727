#![no_main]
//! NDP: the first 32 bytes are the source and destination addresses, the rest an ICMPv6
//! message. A parsed message has a valid checksum, code 0, options that cover its option
//! bytes exactly with no zero length, no multicast target; emit -> parse gives it back.
//! Every option parser stays in bounds and option emit -> parse round-trips.

use libfuzzer_sys::fuzz_target;
use wire::icmpv6::Icmpv6Packet;
use wire::ndp::NdpRepr;
use wire::ndp_option::{NdpOptionRepr, NdpOptions};
use wire::{Error, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (addrs, msg) = data.split_at(32);
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&addrs[..16]).expect("16 bytes"));
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&addrs[16..]).expect("16 bytes"));

    // Options on their own: every one parsed fits, re-emits to something that parses the
    // same, and the lengths add up.
    let mut used = 0;
    for o in NdpOptions::new(msg) {
        let Ok(o) = o else { break };
        let (again, len) = NdpOptionRepr::parse(&msg[used..]).expect("iterator parsed it");
        assert_eq!(again, o);
        assert!(len >= 8 && len % 8 == 0);
        used += len;
        assert!(used <= msg.len());
        let mut out = vec![0u8; o.buffer_len()];
        assert_eq!(o.emit(&mut out), out.len());
        let (back, blen) = NdpOptionRepr::parse(&out).expect("emitted option parses");
        assert_eq!(blen, out.len());
        if !matches!(
            o,
            NdpOptionRepr::Unknown { .. } | NdpOptionRepr::RedirectedHeader(_)
        ) {
            assert_eq!(back, o);
        }
    }

    let Ok(p) = Icmpv6Packet::new_checked(msg) else {
        return;
    };
    match NdpRepr::parse(&src, &dst, &p) {
        Ok(repr) => {
            assert!(p.verify_checksum(&src, &dst));
            assert_eq!(p.msg_code(), 0);
            assert!(p.msg_type().is_ndp());
            assert_eq!(repr.buffer_len(), msg.len());
            let mut total = 0;
            for o in NdpOptions::new(repr.options()) {
                let o = o.expect("parse validated the options");
                total += o.buffer_len().min(repr.options().len());
            }
            assert!(total >= repr.options().len() || repr.options().is_empty());
            match repr {
                NdpRepr::NeighborSolicit { target, .. }
                | NdpRepr::NeighborAdvert { target, .. } => {
                    assert!(!target.is_multicast())
                }
                NdpRepr::Redirect { dest, .. } => assert!(!dest.is_multicast()),
                _ => {}
            }
            let _ = (repr.source_lladdr(), repr.target_lladdr(), repr.to_string());
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(&mut out[..]));
            let o = Icmpv6Packet::new_checked(&out[..]).expect("8 bytes or more");
            assert_eq!(NdpRepr::parse(&src, &dst, &o), Ok(repr));
        }
        Err(Error::Unsupported) => assert!(!p.msg_type().is_ndp()),
        Err(Error::Checksum) => assert!(!p.verify_checksum(&src, &dst)),
        Err(Error::Truncated) | Err(Error::Malformed) => {}
    }
});
