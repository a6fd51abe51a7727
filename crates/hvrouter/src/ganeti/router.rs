//! The router side of a hook: add a guest (replacing this tap's stale entry), remove a
//! guest (only if it is still this NIC's). Written against [`Control`] so the sequences
//! are unit-tested with a scripted router.

use hvrouter_control::client::Client;
use hvrouter_control::protocol::{Change, GuestInfo, GuestSpec, Payload, Request, Response};
use wire::EthernetAddress;

use super::plan::entry_is_this_nic;

/// One request, one answer. `Err`: no answer (the router cannot be reached).
pub trait Control {
    /// Send `request`, wait for the router's answer.
    fn call(&mut self, request: &Request) -> Result<Response, String>;
}

impl Control for Client {
    fn call(&mut self, request: &Request) -> Result<Response, String> {
        self.request(request).map_err(|e| e.to_string())
    }
}

/// How an add went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// Added, or already there with the same data.
    Done(Change),
    /// The router had another entry for this tap (its NIC is gone, or was modified):
    /// removed, then added.
    Replaced,
    /// The router refused: its message.
    Refused(String),
    /// No answer: why.
    Unreachable(String),
}

/// How a removal went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveOutcome {
    /// Removed.
    Removed,
    /// The router had no guest on this tap.
    Absent,
    /// The tap's guest has another MAC: the name was reused by another NIC; left alone.
    OtherNic(EthernetAddress),
    /// Refused or no answer: why.
    Failed(String),
}

fn guest_change(r: Response) -> Result<Change, String> {
    match r {
        Response::Ok(Payload::GuestChanged(c)) => Ok(c.change),
        Response::Ok(other) => Err(format!("unexpected answer: {other:?}")),
        Response::Error { message } => Err(message),
    }
}

fn guests(ctl: &mut impl Control) -> Result<Vec<GuestInfo>, String> {
    match ctl.call(&Request::GuestList)? {
        Response::Ok(Payload::Guests(g)) => Ok(g),
        Response::Ok(other) => Err(format!("unexpected answer to guest list: {other:?}")),
        Response::Error { message } => Err(message),
    }
}

/// Add `spec`. Ganeti has just created or configured this tap, so if the router refuses
/// and holds an entry for the same tap name, that entry belongs to a NIC that is gone or
/// was hot-modified: it is removed and the add repeated once. Any other refusal stands.
pub fn add(ctl: &mut impl Control, spec: &GuestSpec) -> AddOutcome {
    let first = match ctl.call(&Request::GuestAdd(spec.clone())) {
        Err(e) => return AddOutcome::Unreachable(e),
        Ok(r) => match guest_change(r) {
            Ok(change) => return AddOutcome::Done(change),
            Err(message) => message,
        },
    };
    let list = match guests(ctl) {
        Ok(l) => l,
        Err(_) => return AddOutcome::Refused(first),
    };
    if !list.iter().any(|g| g.tap == spec.tap) {
        return AddOutcome::Refused(first);
    }
    let del = Request::GuestDel {
        tap: spec.tap.clone(),
    };
    match ctl.call(&del).map(guest_change) {
        Ok(Ok(_)) => {}
        Ok(Err(message)) | Err(message) => {
            return AddOutcome::Refused(format!(
                "{first}; removing the previous entry for {} failed: {message}",
                spec.tap
            ))
        }
    }
    match ctl.call(&Request::GuestAdd(spec.clone())) {
        Err(e) => AddOutcome::Unreachable(e),
        Ok(r) => match guest_change(r) {
            Ok(_) => AddOutcome::Replaced,
            Err(message) => AddOutcome::Refused(message),
        },
    }
}

/// Remove the guest on `tap` if it is the NIC with `mac` (any, when `None`).
pub fn remove(ctl: &mut impl Control, tap: &str, mac: Option<EthernetAddress>) -> RemoveOutcome {
    let list = match guests(ctl) {
        Ok(l) => l,
        Err(e) => return RemoveOutcome::Failed(e),
    };
    match list.iter().find(|g| g.tap == tap) {
        None => return RemoveOutcome::Absent,
        Some(g) if !entry_is_this_nic(g, mac) => return RemoveOutcome::OtherNic(g.mac),
        Some(_) => {}
    }
    let del = Request::GuestDel {
        tap: tap.to_string(),
    };
    match ctl.call(&del).map(guest_change) {
        Ok(Ok(Change::Absent)) => RemoveOutcome::Absent,
        Ok(Ok(_)) => RemoveOutcome::Removed,
        Ok(Err(message)) | Err(message) => RemoveOutcome::Failed(message),
    }
}
