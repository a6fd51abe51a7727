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
///
/// A guest added at run time belongs to the tap *device* it was added on (its ifindex,
/// valid within one boot of the machine, [`RuntimeState::boot_id`]), not to its name:
/// the kernel hands `tapN` names out again to the next VM. See [`RuntimeState::keep_live`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeState {
    /// `Some(spec)`: the guest is present with this data (added at run time, or a
    /// configured guest replaced); `None`: a configured guest removed at run time.
    overrides: BTreeMap<String, Option<GuestSpec>>,
    /// The device (ifindex) each runtime guest was added on.
    devices: BTreeMap<String, u32>,
    /// The boot the ifindexes belong to (`/proc/sys/kernel/random/boot_id`).
    boot_id: Option<String>,
}

/// Why a runtime guest was not kept by [`RuntimeState::keep_live`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotKept {
    /// The state was written during another boot: every tap it knew is gone.
    Rebooted,
    /// No device has the guest's tap name now.
    DeviceGone,
    /// The name now belongs to another device (a later VM got the same `tapN`).
    NameReused,
}

impl std::fmt::Display for NotKept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotKept::Rebooted => "the machine rebooted since it was added",
            NotKept::DeviceGone => "its tap device is gone",
            NotKept::NameReused => "its tap name now belongs to another device",
        })
    }
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

    /// The device (ifindex) the runtime guest on `tap` was added on.
    pub fn device(&self, tap: &str) -> Option<u32> {
        self.devices.get(tap).copied()
    }

    /// The boot the recorded devices belong to.
    pub fn boot_id(&self) -> Option<&str> {
        self.boot_id.as_deref()
    }

    /// Record a successful `guest add`. `configured` is the configuration's guest on the
    /// same tap, if any: adding exactly that guest back just drops the override.
    /// `device`: the ifindex a runtime guest was added on. Returns whether the state
    /// changed (and so needs saving).
    pub fn record_add(
        &mut self,
        spec: &GuestSpec,
        configured: Option<&GuestSpec>,
        device: Option<u32>,
    ) -> bool {
        let spec = spec.clone().normalized();
        // The same guest with another host name is a runtime change too (it is kept).
        if configured.is_some_and(|c| c.same_as(&spec) && c.hostname == spec.hostname) {
            let had_device = self.devices.remove(&spec.tap).is_some();
            return self.overrides.remove(&spec.tap).is_some() || had_device;
        }
        let tap = spec.tap.clone();
        let entry = Some(spec);
        let device_changed = match device {
            Some(d) => self.devices.insert(tap.clone(), d) != Some(d),
            None => self.devices.remove(&tap).is_some(),
        };
        if self.overrides.get(&tap) == Some(&entry) {
            return device_changed;
        }
        self.overrides.insert(tap, entry);
        true
    }

    /// Record a successful `guest del` of `tap`. `configured`: whether the configuration
    /// lists a guest on that tap. Returns whether the state changed.
    pub fn record_del(&mut self, tap: &str, configured: bool) -> bool {
        let had_device = self.devices.remove(tap).is_some();
        let changed = if configured {
            self.overrides.insert(tap.to_string(), None) != Some(None)
        } else {
            self.overrides.remove(tap).is_some()
        };
        changed || had_device
    }

    /// Forget the runtime guest on `tap` because its device is gone: the override is
    /// dropped, so a guest the configuration lists on that name follows the file again.
    /// Returns whether the state changed.
    pub fn forget(&mut self, tap: &str) -> bool {
        let had_device = self.devices.remove(tap).is_some();
        self.overrides.remove(tap).is_some() || had_device
    }

    /// At start: keep only the runtime guests whose device is still there. `boot_id` is
    /// this boot's id; `ifindex_of(tap)` the device that has the name now, if any. A
    /// state from another boot keeps none of its runtime guests (their taps died with
    /// it; the cluster manager adds them again when their VMs start); within the same
    /// boot, a guest is kept when its name still names the device it was added on. A
    /// guest recorded without a device (a state file from before device binding) is
    /// bound to the device that has its name now, if any. Removals of configured guests
    /// are kept. Returns what was dropped and why; the state then belongs to `boot_id`.
    pub fn keep_live(
        &mut self,
        boot_id: &str,
        mut ifindex_of: impl FnMut(&str) -> Option<u32>,
    ) -> Vec<(String, NotKept)> {
        let same_boot = match self.boot_id.as_deref() {
            Some(b) => b == boot_id,
            None => true, // an older file: judge by the devices present
        };
        let mut dropped = Vec::new();
        let added: Vec<String> = self.added().map(|g| g.tap.clone()).collect();
        for tap in added {
            let verdict = if !same_boot {
                Err(NotKept::Rebooted)
            } else {
                match (self.devices.get(&tap).copied(), ifindex_of(&tap)) {
                    (_, None) => Err(NotKept::DeviceGone),
                    (Some(want), Some(now)) if want != now => Err(NotKept::NameReused),
                    (_, Some(now)) => Ok(now),
                }
            };
            match verdict {
                Ok(now) => {
                    self.devices.insert(tap, now);
                }
                Err(why) => {
                    self.forget(&tap);
                    dropped.push((tap, why));
                }
            }
        }
        self.boot_id = Some(boot_id.to_string());
        dropped
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
                (Some(spec), Some(c)) => !c.same_as(spec) || c.hostname != spec.hostname,
                (None, None) => false,
                _ => true,
            }
        });
        self.overrides.len() != before
    }

    /// Build from the file's lists; a tap may appear once; a device only for an added
    /// guest.
    fn from_lists(
        added: Vec<GuestSpec>,
        removed: Vec<String>,
        devices: BTreeMap<String, u32>,
        boot_id: Option<String>,
    ) -> Result<RuntimeState, String> {
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
        if let Some(tap) = devices
            .keys()
            .find(|t| !matches!(overrides.get(*t), Some(Some(_))))
        {
            return Err(format!(
                "device recorded for {tap}, which is no added guest"
            ));
        }
        Ok(RuntimeState {
            overrides,
            devices,
            boot_id,
        })
    }
}
