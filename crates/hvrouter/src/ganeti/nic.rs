//! `ganeti nic up|down`: parse, plan, act, report. Exit codes in the module doc of
//! `ganeti`.

use std::path::PathBuf;

use hvrouter_control::client::Client;
use hvrouter_control::protocol::{Change, GuestSpec, Request, Response};

use super::env::{shown, NicEnv, Vars};
use super::plan::{plan_down, plan_up, DownPlan, UpPlan};
use super::report::Reporter;
use super::router::{self, AddOutcome, Check6Error, Control, RemoveOutcome};
use super::settings::Settings;
use super::tap;

/// Done, or nothing to do.
pub const EXIT_OK: u8 = 0;
/// The router refused or could not be reached.
pub const EXIT_REFUSED: u8 = 1;
/// The environment is invalid.
pub const EXIT_INVALID: u8 = 2;

/// A control connection opened at the first request (hooks that decide to do nothing
/// never touch the socket).
#[derive(Debug)]
pub struct LazyClient {
    socket: PathBuf,
    client: Option<Client>,
}

impl LazyClient {
    /// A connection to `socket`, not opened yet.
    pub fn new(socket: PathBuf) -> LazyClient {
        LazyClient {
            socket,
            client: None,
        }
    }
}

impl Control for LazyClient {
    fn call(&mut self, request: &Request) -> Result<Response, String> {
        if self.client.is_none() {
            self.client = Some(Client::connect(&self.socket).map_err(|e| e.to_string())?);
        }
        match self.client.as_mut() {
            Some(c) => c.call(request),
            None => Err("not connected".into()),
        }
    }
}

/// "tap0 (instance web1.example.org)", for messages about a NIC whose environment may
/// not have parsed.
fn context(vars: &Vars) -> String {
    let tap = vars.get("INTERFACE").map_or("(no INTERFACE)".into(), shown);
    match vars.get("INSTANCE") {
        Some(i) => format!("{tap} (instance {})", shown(i)),
        None => tap,
    }
}

fn describe(spec: &GuestSpec, instance: Option<&str>) -> String {
    let mut s = format!(
        "guest {} on {}",
        spec.ips
            .iter()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>()
            .join(","),
        spec.network
    );
    if !spec.routed_prefixes.is_empty() {
        let p: Vec<String> = spec.routed_prefixes.iter().map(|p| p.to_string()).collect();
        s.push_str(&format!(" with routed prefixes {}", p.join(",")));
    }
    if let Some(v6) = &spec.ipv6 {
        let mut a: Vec<String> = v6.addrs.iter().map(|a| a.to_string()).collect();
        if v6.eui64 {
            a.push("its EUI-64 address".into());
        }
        s.push_str(&format!(" with IPv6 {}", a.join(",")));
        if spec.ips.is_empty() {
            s.push_str(" only");
        }
    }
    if let Some(i) = instance {
        s.push_str(&format!(" (instance {})", shown(i)));
    }
    s
}

/// The up hook, from the process environment.
pub fn up(vars: &Vars, settings: &Settings, rep: &Reporter) -> u8 {
    up_with(
        vars,
        settings,
        rep,
        &mut LazyClient::new(settings.socket.clone()),
    )
}

/// The up hook against `ctl`.
pub fn up_with(vars: &Vars, settings: &Settings, rep: &Reporter, ctl: &mut impl Control) -> u8 {
    let planned = NicEnv::parse(vars, true)
        .and_then(|nic| plan_up(&nic, settings.network.as_deref()).map(|p| (nic, p)));
    let (nic, plan) = match planned {
        Ok(x) => x,
        Err(e) => {
            rep.error(&format!("{}: {e}", context(vars)));
            return EXIT_INVALID;
        }
    };
    match plan {
        UpPlan::Skip(reason) => {
            rep.info(&format!("{reason}: nothing to do"));
            EXIT_OK
        }
        UpPlan::PrepareOnly { tap, reason } => {
            for p in tap::prepare(&tap, &settings.proc_sys) {
                rep.warn(&p);
            }
            rep.info(&reason);
            EXIT_OK
        }
        UpPlan::Add {
            spec,
            ganeti6,
            warnings,
        } => {
            for w in warnings {
                rep.warn(&w);
            }
            if let Some((subnet6, gateway6)) = ganeti6 {
                match router::check_network6(ctl, &spec.network, subnet6, gateway6) {
                    Ok(()) => {}
                    Err(Check6Error::Mismatch(m)) => {
                        rep.error(&format!("{}: {m}", spec.tap));
                        return EXIT_INVALID;
                    }
                    Err(Check6Error::Router(m)) => {
                        rep.error(&format!(
                            "{}: cannot check the network's IPv6 with hvrouter: {m}",
                            spec.tap
                        ));
                        return EXIT_REFUSED;
                    }
                }
            }
            for p in tap::prepare(&spec.tap, &settings.proc_sys) {
                rep.warn(&p);
            }
            let what = describe(&spec, nic.instance.as_deref());
            let tap = &spec.tap;
            match router::add(ctl, &spec) {
                AddOutcome::Done(Change::Unchanged) => {
                    rep.info(&format!(
                        "{tap}: {what}: already present with the same data"
                    ));
                    EXIT_OK
                }
                AddOutcome::Done(_) => {
                    rep.info(&format!("{tap}: {what}: added"));
                    EXIT_OK
                }
                AddOutcome::Replaced => {
                    rep.info(&format!(
                        "{tap}: {what}: added, replacing the router's previous entry for this tap"
                    ));
                    EXIT_OK
                }
                AddOutcome::Refused(m) => {
                    rep.error(&format!("{tap}: hvrouter refused {what}: {m}"));
                    EXIT_REFUSED
                }
                AddOutcome::Unreachable(m) => {
                    rep.error(&format!("{tap}: {what} not added: {m}"));
                    EXIT_REFUSED
                }
            }
        }
    }
}

/// The down hook, from the process environment. Always [`EXIT_OK`].
pub fn down(vars: &Vars, settings: &Settings, rep: &Reporter) -> u8 {
    down_with(vars, rep, &mut LazyClient::new(settings.socket.clone()))
}

/// The down hook against `ctl`. Always [`EXIT_OK`].
pub fn down_with(vars: &Vars, rep: &Reporter, ctl: &mut impl Control) -> u8 {
    let nic = match NicEnv::parse(vars, false) {
        Ok(n) => n,
        Err(e) => {
            rep.warn(&format!("{}: {e}: nothing removed", context(vars)));
            return EXIT_OK;
        }
    };
    let (tap, mac) = match plan_down(&nic) {
        DownPlan::Skip(reason) => {
            rep.info(&format!("{reason}: nothing to do"));
            return EXIT_OK;
        }
        DownPlan::Remove { tap, mac } => (tap, mac),
    };
    match router::remove(ctl, &tap, mac) {
        RemoveOutcome::Removed => rep.info(&format!("{}: guest removed", context(vars))),
        RemoveOutcome::Absent => rep.info(&format!(
            "{}: the router has no guest on this tap: nothing to remove",
            context(vars)
        )),
        RemoveOutcome::OtherNic(other) => rep.info(&format!(
            "{}: the router's guest on this tap has MAC {other}, not this NIC's: the name \
             belongs to another NIC now; left alone",
            context(vars)
        )),
        RemoveOutcome::Failed(m) => rep.warn(&format!(
            "{}: could not remove the guest (the router drops it by itself when the tap \
             disappears): {m}",
            context(vars)
        )),
    }
    EXIT_OK
}
