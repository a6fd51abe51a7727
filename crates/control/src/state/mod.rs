//! State that survives restarts: what `guest add` / `guest del` changed relative to the
//! configuration file, kept as an overlay per tap and saved atomically in the state
//! directory ([`StateStore`]), off the dataplane thread ([`StateSaver`]).
//!
//! The overlay, not the whole guest set, is saved: a guest the configuration file lists
//! and nobody touched follows the file (a `reload` applies edits to it), while a runtime
//! change wins over the file until it is undone.

mod saver;
mod store;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use saver::StateSaver;
pub use store::{LoadSource, Loaded, StateError, StateStore, StateWarning, STATE_VERSION};

use crate::protocol::GuestSpec;

/// The runtime changes to the configuration's guest set, per tap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeState {
    /// `Some(spec)`: the guest is present with this data (added at run time, or a
    /// configured guest replaced); `None`: a configured guest removed at run time.
    overrides: BTreeMap<String, Option<GuestSpec>>,
}

impl RuntimeState {
    /// No runtime changes.
    pub fn new() -> RuntimeState {
        RuntimeState::default()
    }

    /// Whether there are no runtime changes.
    pub fn is_empty(&self) -> bool {
        self.overrides.is_empty()
    }

    /// Guests added (or configured guests replaced) at run time, by tap.
    pub fn added(&self) -> impl Iterator<Item = &GuestSpec> + '_ {
        self.overrides.values().flatten()
    }

    /// Configured guests removed at run time.
    pub fn removed(&self) -> impl Iterator<Item = &str> + '_ {
        self.overrides
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
    }

    /// Record a successful `guest add`. `configured` is the configuration's guest on the
    /// same tap, if any: adding exactly that guest back just drops the override. Returns
    /// whether the state changed (and so needs saving).
    pub fn record_add(&mut self, spec: &GuestSpec, configured: Option<&GuestSpec>) -> bool {
        let spec = spec.clone().normalized();
        if configured.is_some_and(|c| c.same_as(&spec)) {
            return self.overrides.remove(&spec.tap).is_some();
        }
        let tap = spec.tap.clone();
        let entry = Some(spec);
        if self.overrides.get(&tap) == Some(&entry) {
            return false;
        }
        self.overrides.insert(tap, entry);
        true
    }

    /// Record a successful `guest del` of `tap`. `configured`: whether the configuration
    /// lists a guest on that tap. Returns whether the state changed.
    pub fn record_del(&mut self, tap: &str, configured: bool) -> bool {
        if configured {
            self.overrides.insert(tap.to_string(), None) != Some(None)
        } else {
            self.overrides.remove(tap).is_some()
        }
    }

    /// The effective guest set: the configured guests without an override, in file
    /// order, then the runtime ones by tap.
    pub fn apply(&self, configured: &[GuestSpec]) -> Vec<GuestSpec> {
        let mut out: Vec<GuestSpec> = configured
            .iter()
            .filter(|g| !self.overrides.contains_key(&g.tap))
            .cloned()
            .collect();
        out.extend(self.added().cloned());
        out
    }

    /// Drop overrides the configuration now agrees with (after a reload): a runtime guest
    /// the file lists with the same data, a removal of a guest the file no longer lists.
    /// Returns whether the state changed.
    pub fn prune(&mut self, configured: &[GuestSpec]) -> bool {
        let before = self.overrides.len();
        self.overrides.retain(|tap, v| {
            let c = configured.iter().find(|g| &g.tap == tap);
            match (v, c) {
                (Some(spec), Some(c)) => !c.same_as(spec),
                (None, None) => false,
                _ => true,
            }
        });
        self.overrides.len() != before
    }

    /// Build from the file's lists; a tap may appear once.
    fn from_lists(added: Vec<GuestSpec>, removed: Vec<String>) -> Result<RuntimeState, String> {
        let mut overrides = BTreeMap::new();
        for g in added {
            let tap = g.tap.clone();
            if overrides
                .insert(tap.clone(), Some(g.normalized()))
                .is_some()
            {
                return Err(format!("guest {tap} is listed twice"));
            }
        }
        for tap in removed {
            if overrides.insert(tap.clone(), None).is_some() {
                return Err(format!("guest {tap} is listed twice"));
            }
        }
        Ok(RuntimeState { overrides })
    }
}
