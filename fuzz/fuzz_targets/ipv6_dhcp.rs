#![no_main]
//! DHCPv6: accessors never panic once check_len passed, the option walk stays in bounds
//! and covers the options exactly when it succeeds, and options re-emitted parse back.

use libfuzzer_sys::fuzz_target;
use wire::ipv6_dhcp::{emit_header, emit_option, Dhcpv6Options, Dhcpv6Packet, HEADER_LEN};
use wire::Error;

fuzz_target!(|data: &[u8]| {
    let p = match Dhcpv6Packet::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e, Error::Truncated);
            assert!(data.len() < HEADER_LEN);
            return;
        }
    };
    assert_eq!(p.msg_type(), data[0]);
    assert_eq!(
        p.transaction_id(),
        u32::from_be_bytes([0, data[1], data[2], data[3]])
    );
    let mut out = vec![0u8; data.len()];
    emit_header(&mut out, p.msg_type(), p.transaction_id());
    let mut at = HEADER_LEN;
    let mut ok = true;
    for o in Dhcpv6Options::new(p.options()) {
        match o {
            Ok((code, d)) => {
                at += emit_option(&mut out[at..], code, d);
                assert!(p.option(code).is_some());
            }
            Err(e) => {
                assert_eq!(e, Error::Truncated);
                ok = false;
            }
        }
    }
    assert_eq!(Dhcpv6Options::validate(p.options()).is_ok(), ok);
    if ok {
        assert_eq!(at, data.len(), "the walk covers the options exactly");
        assert_eq!(out, data, "emit gives back the same bytes");
    }
});
