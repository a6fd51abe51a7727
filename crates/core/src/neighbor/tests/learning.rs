//! Learning rules (RFC 826 merge, Linux arp_process): what received ARP may and may not
//! teach the cache. The VLAN is shared with hosts we do not fully trust.

use super::*;

#[test]
fn unsolicited_replies_create_nothing() {
    let mut c = cache();
    // A reply for an address we never asked about, unicast to us...
    assert_eq!(
        c.handle_arp(ip(1), mac(1), ArpKind::Reply, true, t(0)),
        LearnOutcome::IgnoredUnsolicited
    );
    // ...or a gratuitous reply broadcast to everyone.
    assert_eq!(
        c.handle_arp(ip(2), mac(2), ArpKind::Reply, false, t(0)),
        LearnOutcome::IgnoredUnsolicited
    );
    assert!(c.is_empty());
    assert_eq!(c.counters().unsolicited_ignored, 2);
    assert_eq!(c.lookup(ip(1), t(0)), None);
}

#[test]
fn requests_not_for_us_do_not_create_entries() {
    let mut c = cache();
    // A host asking for someone else, and a gratuitous request (sender = target).
    assert_eq!(
        c.handle_arp(ip(1), mac(1), ArpKind::Request, false, t(0)),
        LearnOutcome::NotLearned
    );
    assert!(c.is_empty());
    assert_eq!(c.counters().requests_learned, 0);
}

#[test]
fn request_for_us_creates_stale_entry() {
    // RFC 826: "Am I the target protocol address? Yes: If Merge_flag is false, add the
    // triplet ... to the translation table."
    let mut c = cache();
    learn_stale(&mut c, 1, t(0));
    assert_eq!(c.counters().requests_learned, 1);
    // Usable at once; using it starts verification.
    assert_eq!(c.lookup(ip(1), t(100)), Some(mac(1)));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Delay));
}

#[test]
fn request_from_known_neighbor_updates_it_even_if_not_for_us() {
    // RFC 826 merge: the sender of any request refreshes an existing entry.
    let mut c = cache();
    resolve(&mut c, 1, t(0));
    // Same MAC: a request is no proof of reachability, but must not downgrade either
    // (Linux: "If entry was valid and address is not changed, do not change entry
    // state, if new one is STALE").
    assert_eq!(
        c.handle_arp(ip(1), mac(1), ArpKind::Request, false, t(5_000)),
        LearnOutcome::Updated { mac_changed: false }
    );
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
    // A new MAC (after locktime): taken, as STALE, so it gets verified when used.
    assert_eq!(
        c.handle_arp(ip(1), mac(9), ArpKind::Request, false, t(6_000)),
        LearnOutcome::Updated { mac_changed: true }
    );
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
    assert_eq!(c.lookup(ip(1), t(6_000)), Some(mac(9)));
}

#[test]
fn request_from_unresolved_neighbor_resolves_it() {
    let mut c = cache();
    let _ = c.enqueue(ip(1), &frame(1), t(0));
    let _ = c.enqueue(ip(1), &frame(2), t(0));
    assert_eq!(
        c.handle_arp(ip(1), mac(1), ArpKind::Request, false, t(10)),
        LearnOutcome::Resolved {
            mac: mac(1),
            queued: 2
        }
    );
    assert_eq!(drain(&mut c, ip(1), mac(1)), vec![1, 2]);
    // Not proof of reachability: releasing the frames used a STALE entry, so DELAY.
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Delay));
    assert_eq!(poll(&mut c, t(5_010)).0, vec![unicast(1)]);
}

#[test]
fn broadcast_reply_resolves_to_stale_not_reachable() {
    let mut c = cache();
    let _ = c.enqueue(ip(1), &frame(1), t(0));
    // A reply to our request, but broadcast (not for us): Linux takes it as STALE.
    let out = c.handle_arp(ip(1), mac(1), ArpKind::Reply, false, t(10));
    assert_eq!(
        out,
        LearnOutcome::Resolved {
            mac: mac(1),
            queued: 1
        }
    );
    // The queued frame is released, which uses the entry: DELAY, then verification.
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Delay));
    assert_eq!(drain(&mut c, ip(1), mac(1)), vec![1]);
    assert_eq!(poll(&mut c, t(5_010)).0, vec![unicast(1)]);
}

#[test]
fn request_for_us_overrides_mac_at_once() {
    // Linux arp_process: a request addressed to us goes through neigh_event_ns, which
    // overrides the MAC even within locktime.
    let mut c = cache();
    resolve(&mut c, 1, t(0));
    assert_eq!(
        c.handle_arp(ip(1), mac(7), ArpKind::Request, true, t(100)),
        LearnOutcome::Updated { mac_changed: true }
    );
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
    assert_eq!(c.lookup(ip(1), t(100)), Some(mac(7)));
}

#[test]
fn first_answer_wins_within_locktime() {
    let mut c = cache();
    let _ = c.enqueue(ip(1), &frame(1), t(0));
    let _ = c.handle_arp(ip(1), mac(1), ArpKind::Reply, true, t(10));
    // A second, different answer right after (another proxy, or a spoofer): ignored.
    assert_eq!(
        c.handle_arp(ip(1), mac(6), ArpKind::Reply, true, t(500)),
        LearnOutcome::IgnoredLocked
    );
    assert_eq!(
        c.handle_arp(ip(1), mac(6), ArpKind::Request, false, t(900)),
        LearnOutcome::IgnoredLocked
    );
    assert_eq!(c.lookup(ip(1), t(900)), Some(mac(1)));
    assert_eq!(c.counters().locktime_ignored, 2);
    // The same MAC again is a refresh, not a change.
    assert_eq!(
        c.handle_arp(ip(1), mac(1), ArpKind::Reply, true, t(900)),
        LearnOutcome::Updated { mac_changed: false }
    );
    // locktime (1 s) after the change, a new MAC is accepted (RFC 826 merge).
    assert_eq!(
        c.handle_arp(ip(1), mac(6), ArpKind::Reply, true, t(1_010)),
        LearnOutcome::Updated { mac_changed: true }
    );
    assert_eq!(c.lookup(ip(1), t(1_010)), Some(mac(6)));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
}

#[test]
fn refreshes_do_not_extend_locktime() {
    // Linux updates `updated` only on a real change, so repeated identical answers
    // cannot keep a legitimate MAC change out forever.
    let mut c = cache();
    resolve(&mut c, 1, t(0));
    for ms in (100..=1_000).step_by(100) {
        let _ = c.handle_arp(ip(1), mac(1), ArpKind::Request, false, t(ms));
    }
    assert_eq!(
        c.handle_arp(ip(1), mac(2), ArpKind::Request, false, t(1_000)),
        LearnOutcome::Updated { mac_changed: true }
    );
}

#[test]
fn late_reply_revives_failed_entry() {
    let mut c = cache();
    let _ = c.enqueue(ip(1), &frame(1), t(0));
    for ms in [1_000, 2_000, 3_000] {
        poll(&mut c, t(ms));
    }
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Failed));
    assert_eq!(
        c.handle_arp(ip(1), mac(1), ArpKind::Reply, true, t(3_200)),
        LearnOutcome::Resolved {
            mac: mac(1),
            queued: 0
        }
    );
    assert_eq!(c.lookup(ip(1), t(3_200)), Some(mac(1)));
}

#[test]
fn unusable_senders_are_ignored() {
    let mut c = cache();
    let cases = [
        // RFC 5227 probe: sender 0.0.0.0.
        (Ipv4Addr::UNSPECIFIED, mac(1)),
        (Ipv4Addr::BROADCAST, mac(1)),
        (Ipv4Addr::new(224, 0, 0, 1), mac(1)),
        (Ipv4Addr::new(127, 0, 0, 1), mac(1)),
        (ip(1), EthernetAddress::BROADCAST),
        (ip(1), EthernetAddress([0x01, 0, 0x5e, 0, 0, 1])),
        (ip(1), EthernetAddress::ZERO),
    ];
    for (addr, hw) in cases {
        assert_eq!(
            c.handle_arp(addr, hw, ArpKind::Request, true, t(0)),
            LearnOutcome::IgnoredInvalid,
            "{addr} {hw}"
        );
    }
    // Not even an existing entry is touched by a bogus MAC.
    let _ = c.enqueue(ip(1), &frame(0), t(0));
    assert_eq!(
        c.handle_arp(
            ip(1),
            EthernetAddress::BROADCAST,
            ArpKind::Reply,
            true,
            t(0)
        ),
        LearnOutcome::IgnoredInvalid
    );
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Incomplete));
    assert_eq!(c.counters().invalid_ignored, 8);
}
