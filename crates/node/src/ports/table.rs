//! The port table's decisions, apart from the sockets they lead to: which slot a new
//! guest takes and what a removed one gives back, what a link event means for the entry
//! of its device, and the events a lost stretch of link events stands for. [`Ports`]
//! carries them out (closing, opening, telling the router).
//!
//! [`Ports`]: super::Ports

use hvrouter_core::PortId;
use sys::netlink::{Link, LinkEvent, LinkEventKind};

use super::{Entry, Kind};

/// A slot for a new guest on `ifname`: the first unused one, reset, or a new one at the
/// end. Slots keep their port id for the router's lifetime, so a removed guest's id is
/// the next guest's.
pub fn take_slot(entries: &mut Vec<Entry>, ifname: &str) -> PortId {
    if let Some(e) = entries.iter_mut().find(|e| e.kind == Kind::Unused) {
        e.kind = Kind::Guest;
        e.ifname = ifname.to_string();
        e.ifindex = None;
        e.link_up = false;
        e.bound = None;
        return e.id;
    }
    let id = PortId(entries.len() as u16);
    entries.push(Entry {
        id,
        ifname: ifname.to_string(),
        kind: Kind::Guest,
        ifindex: None,
        link_up: false,
        bound: None,
    });
    id
}

/// Give back the slot of a removed guest: it no longer names a device, and the next
/// guest added takes it ([`take_slot`]).
pub fn free_slot(entries: &mut [Entry], port: PortId) {
    if let Some(e) = entries.get_mut(port.index()) {
        e.kind = Kind::Unused;
        e.ifname.clear();
        e.bound = None;
    }
}

/// The entry in use whose device is named `name`.
pub fn by_name(entries: &[Entry], name: &str) -> Option<PortId> {
    entries
        .iter()
        .find(|e| e.kind != Kind::Unused && e.ifname == name)
        .map(|e| e.id)
}

/// What a link event asks of the port of its device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAction {
    /// Nothing: the same device in the same state, a device this worker does not bind
    /// (its owner follows it), or one that is neither attached nor up.
    Nothing,
    /// The device a runtime guest was bound to is gone (deleted, or its name now
    /// names another device): close the port; the guest must be removed.
    GuestGone(&'static str),
    /// The attached device was deleted: close the port (routes and guest stay).
    Close,
    /// The name now names another device than the attached one (deleted and created
    /// again before the deletion was seen): close the port, and open the new device
    /// if it is up.
    Recreated {
        /// The new device is up.
        reopen: bool,
    },
    /// The attached device's link went up (true) or down: the socket stays, the
    /// router answers for the guest only while it is up.
    Link(bool),
    /// The device is there and up but not attached: open it.
    Open,
}

/// What event `ev` on the device of `entry` asks for; `owns`: this worker binds the
/// entry's port ([`super::owners`]).
pub fn link_action(entry: &Entry, ev: &LinkEvent, owns: bool) -> LinkAction {
    if let Some(bound) = entry.bound {
        match ev.kind {
            LinkEventKind::Del if ev.link.ifindex == bound => {
                return LinkAction::GuestGone("device deleted");
            }
            LinkEventKind::New if ev.link.ifindex != bound => {
                return LinkAction::GuestGone("name reused by another device");
            }
            _ => {}
        }
    }
    if !owns {
        return LinkAction::Nothing;
    }
    let up = ev.link.admin_up && ev.link.oper_up;
    match (ev.kind, entry.ifindex) {
        (LinkEventKind::Del, Some(old)) if old == ev.link.ifindex => LinkAction::Close,
        (LinkEventKind::New, Some(old)) if old != ev.link.ifindex => {
            LinkAction::Recreated { reopen: up }
        }
        (LinkEventKind::New, Some(_)) if entry.link_up != up => LinkAction::Link(up),
        (LinkEventKind::New, None) if up => LinkAction::Open,
        _ => LinkAction::Nothing,
    }
}

/// The events that bring the entries in step with `links` (an `RTM_GETLINK` dump, after
/// link events were lost): the device's current state for an entry whose name is in the
/// dump, a deletion of the device it knew (bound to, or attached) for one whose name is
/// not, nothing for one that knew no device.
pub fn resync_events(entries: &[Entry], links: &[Link]) -> Vec<LinkEvent> {
    let mut events = Vec::new();
    for e in entries.iter().filter(|e| e.kind != Kind::Unused) {
        let event = match links.iter().find(|l| l.name == e.ifname) {
            Some(link) => LinkEvent {
                kind: LinkEventKind::New,
                link: link.clone(),
            },
            None => match e.bound.or(e.ifindex) {
                Some(ifindex) => LinkEvent {
                    kind: LinkEventKind::Del,
                    link: Link {
                        ifindex,
                        name: e.ifname.clone(),
                        admin_up: false,
                        oper_up: false,
                        operstate: None,
                        mtu: None,
                        mac: None,
                        flags: 0,
                    },
                },
                None => continue,
            },
        };
        events.push(event);
    }
    events
}

#[cfg(test)]
mod tests;
