//! The router side of a hook: add a guest (replacing this tap's stale entry), remove a
//! guest (only if it is still this NIC's). Written against [`Control`] so the sequences
//! are unit-tested with a scripted router.

use hvrouter_control::client::Client;
use std::net::Ipv6Addr;

use hvrouter_control::protocol::{Change, GuestInfo, GuestSpec, Payload, Request, Response};
use ipnet::Ipv6Net;
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

/// Why Ganeti's IPv6 view of a network and the router's disagree, or the router could not
/// be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check6Error {
    /// They disagree: the message names both values.
    Mismatch(String),
    /// The router refused the question or could not be reached.
    Router(String),
}

/// Check Ganeti's `NETWORK_SUBNET6` (and `NETWORK_GATEWAY6`, when given) against the
/// router's network `network` (`show ipv6`): the guest's IPv6 address is derived from
/// subnet6, so a router configured with another one (or none) would give the guest an
/// address Ganeti does not know, or none.
pub fn check_network6(
    ctl: &mut impl Control,
    network: &str,
    subnet6: Ipv6Net,
    gateway6: Option<Ipv6Addr>,
) -> Result<(), Check6Error> {
    let request = Request::ShowIpv6 {
        network: Some(network.to_string()),
    };
    let report = match ctl.call(&request).map_err(Check6Error::Router)? {
        Response::Ok(Payload::Ipv6(r)) => r,
        Response::Ok(other) => {
            return Err(Check6Error::Router(format!(
                "unexpected answer to show ipv6: {other:?}"
            )))
        }
        Response::Error { message } => return Err(Check6Error::Router(message)),
    };
    let Some(n) = report.networks.iter().find(|n| n.network == network) else {
        return Err(Check6Error::Mismatch(format!(
            "Ganeti's NETWORK_SUBNET6 is {subnet6} but hvrouter network {network} has no IPv6 \
             (no subnet6 in its configuration): add subnet6 = \"{subnet6}\" and its gateway6, \
             or remove network6 from the Ganeti network"
        )));
    };
    if n.subnet6.parse::<Ipv6Net>().ok() != Some(subnet6) {
        return Err(Check6Error::Mismatch(format!(
            "Ganeti's NETWORK_SUBNET6 is {subnet6} but hvrouter network {network} has subnet6 {}",
            n.subnet6
        )));
    }
    if let Some(g) = gateway6.filter(|g| *g != n.gateway6) {
        return Err(Check6Error::Mismatch(format!(
            "Ganeti's NETWORK_GATEWAY6 is {g} but hvrouter network {network} has gateway6 {}",
            n.gateway6
        )));
    }
    Ok(())
}
