use hvrouter_core::NetworkId;

use super::*;

fn entry(id: u16, ifname: &str, kind: Kind) -> Entry {
    Entry {
        id: PortId(id),
        ifname: ifname.to_string(),
        kind,
        ifindex: None,
        link_up: false,
        bound: None,
    }
}

/// An uplink and two guests, the second one a runtime guest bound to device 12 and
/// attached to it, its link up.
fn table() -> Vec<Entry> {
    let mut tap2 = entry(2, "tap2", Kind::Guest);
    tap2.bound = Some(12);
    tap2.ifindex = Some(12);
    tap2.link_up = true;
    vec![
        entry(0, "vlan90", Kind::Uplink(NetworkId(0))),
        entry(1, "tap1", Kind::Guest),
        tap2,
    ]
}

fn link(name: &str, ifindex: u32, up: bool) -> Link {
    Link {
        ifindex,
        name: name.to_string(),
        admin_up: up,
        oper_up: up,
        operstate: None,
        mtu: None,
        mac: None,
        flags: 0,
    }
}

fn new(name: &str, ifindex: u32, up: bool) -> LinkEvent {
    LinkEvent {
        kind: LinkEventKind::New,
        link: link(name, ifindex, up),
    }
}

fn del(name: &str, ifindex: u32) -> LinkEvent {
    LinkEvent {
        kind: LinkEventKind::Del,
        link: link(name, ifindex, false),
    }
}

#[test]
fn a_removed_guests_slot_is_the_next_guests_and_starts_clean() {
    let mut t = table();
    assert_eq!(
        take_slot(&mut t, "tap3"),
        PortId(3),
        "no free slot: a new one"
    );
    assert_eq!(t.len(), 4);
    free_slot(&mut t, PortId(2));
    assert_eq!(t[2].kind, Kind::Unused);
    assert_eq!(t[2].ifname, "");
    assert_eq!(t[2].bound, None);
    assert_eq!(by_name(&t, "tap2"), None, "a freed slot names no device");
    // The next guest takes slot 2, without the old guest's device or link state.
    assert_eq!(take_slot(&mut t, "tap9"), PortId(2));
    assert_eq!(t.len(), 4, "reused, not grown");
    let e = &t[2];
    assert_eq!((e.kind, e.ifname.as_str()), (Kind::Guest, "tap9"));
    assert_eq!((e.ifindex, e.link_up, e.bound), (None, false, None));
    assert_eq!(by_name(&t, "tap9"), Some(PortId(2)));
    // Freeing a slot that does not exist changes nothing.
    free_slot(&mut t, PortId(40));
    assert_eq!(t.len(), 4);
}

#[test]
fn the_first_free_slot_is_taken_first() {
    let mut t = table();
    free_slot(&mut t, PortId(2));
    free_slot(&mut t, PortId(1));
    assert_eq!(take_slot(&mut t, "tapA"), PortId(1));
    assert_eq!(take_slot(&mut t, "tapB"), PortId(2));
    assert_eq!(take_slot(&mut t, "tapC"), PortId(3));
}

#[test]
fn a_runtime_guest_lives_as_long_as_the_device_it_was_added_on() {
    let t = table();
    let tap2 = &t[2];
    assert_eq!(
        link_action(tap2, &del("tap2", 12), true),
        LinkAction::GuestGone("device deleted")
    );
    // The kernel handed the name to another VM's tap: never attached for this guest,
    // whatever its link state, and even on a worker that does not own the port.
    for up in [true, false] {
        for owns in [true, false] {
            assert_eq!(
                link_action(tap2, &new("tap2", 13, up), owns),
                LinkAction::GuestGone("name reused by another device")
            );
        }
    }
    // Another device of that name going away is not the guest's.
    assert_eq!(
        link_action(tap2, &del("tap2", 13), true),
        LinkAction::Nothing
    );
    // Its own device going down and up keeps the guest and the socket.
    assert_eq!(
        link_action(tap2, &new("tap2", 12, false), true),
        LinkAction::Link(false)
    );
    assert_eq!(
        link_action(tap2, &new("tap2", 12, true), true),
        LinkAction::Nothing,
        "already up"
    );
}

#[test]
fn a_guest_that_follows_its_name_is_reattached_to_a_new_device() {
    let mut t = table();
    let tap1 = &mut t[1];
    // Not attached: opened when the device is there and up, not before.
    assert_eq!(
        link_action(tap1, &new("tap1", 7, false), true),
        LinkAction::Nothing
    );
    assert_eq!(
        link_action(tap1, &new("tap1", 7, true), true),
        LinkAction::Open
    );
    assert_eq!(
        link_action(tap1, &del("tap1", 7), true),
        LinkAction::Nothing
    );
    tap1.ifindex = Some(7);
    tap1.link_up = true;
    assert_eq!(link_action(tap1, &del("tap1", 7), true), LinkAction::Close);
    assert_eq!(
        link_action(tap1, &del("tap1", 8), true),
        LinkAction::Nothing,
        "not the attached device"
    );
    // Deleted and created again before the deletion was seen (a VM restart).
    assert_eq!(
        link_action(tap1, &new("tap1", 8, true), true),
        LinkAction::Recreated { reopen: true }
    );
    assert_eq!(
        link_action(tap1, &new("tap1", 8, false), true),
        LinkAction::Recreated { reopen: false }
    );
    // Link down on the same device: only the state changes.
    assert_eq!(
        link_action(tap1, &new("tap1", 7, false), true),
        LinkAction::Link(false)
    );
    tap1.link_up = false;
    assert_eq!(
        link_action(tap1, &new("tap1", 7, true), true),
        LinkAction::Link(true)
    );
    // A port this worker does not bind is followed by its owner.
    for ev in [new("tap1", 8, true), del("tap1", 7), new("tap1", 7, true)] {
        assert_eq!(link_action(tap1, &ev, false), LinkAction::Nothing, "{ev:?}");
    }
}

#[test]
fn an_uplink_is_closed_when_deleted_and_reopened_when_back() {
    let mut t = table();
    let up = &mut t[0];
    up.ifindex = Some(3);
    up.link_up = true;
    // The incident: ifdown; ifup. The socket stays, the link state follows.
    assert_eq!(
        link_action(up, &new("vlan90", 3, false), true),
        LinkAction::Link(false)
    );
    assert_eq!(link_action(up, &del("vlan90", 3), true), LinkAction::Close);
    up.ifindex = None;
    up.link_up = false;
    assert_eq!(
        link_action(up, &new("vlan90", 5, true), true),
        LinkAction::Open
    );
}

#[test]
fn resync_turns_a_link_dump_into_the_events_that_were_lost() {
    let mut t = table();
    t[0].ifindex = Some(3);
    t.push(entry(3, "", Kind::Unused));
    // vlan90 still there (now down), tap1 appeared, tap2 gone from the dump.
    let links = [
        link("vlan90", 3, false),
        link("tap1", 7, true),
        link("eth0", 1, true),
    ];
    let events = resync_events(&t, &links);
    assert_eq!(
        events,
        vec![
            new("vlan90", 3, false),
            new("tap1", 7, true),
            del("tap2", 12)
        ]
    );
    // What they mean, entry by entry.
    let actions: Vec<_> = events
        .iter()
        .map(|ev| {
            let id = by_name(&t, &ev.link.name).unwrap_or(PortId(99));
            link_action(&t[id.index()], ev, true)
        })
        .collect();
    assert_eq!(
        actions,
        [
            LinkAction::Nothing, // vlan90 was recorded down already
            LinkAction::Open,
            LinkAction::GuestGone("device deleted"),
        ]
    );
    // A bound guest that was never attached is deleted by the device it was bound to.
    let mut t = table();
    t[2].ifindex = None;
    assert_eq!(resync_events(&t, &[]), vec![del("tap2", 12)]);
    // Entries that knew no device, and unused slots, have nothing to resync.
    let t = vec![
        entry(0, "vlan90", Kind::Uplink(NetworkId(0))),
        entry(1, "", Kind::Unused),
    ];
    assert_eq!(resync_events(&t, &[]), vec![]);
}
