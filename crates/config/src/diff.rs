//! What changed between two configurations, for `reload`.

use crate::model::Config;

/// The differences between an old and a new [`Config`], by name, in the new (for added
/// and changed) or old (for removed) file's order.
///
/// A guest is listed as changed only when its own keys changed. Guests of a changed
/// network are not listed unless they changed too: whoever applies the diff re-adds them
/// if the network had to be re-created (see [`ConfigDiff::guests_to_reapply`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    /// Networks only in the new configuration.
    pub networks_added: Vec<String>,
    /// Networks only in the old configuration.
    pub networks_removed: Vec<String>,
    /// Networks in both, with different settings.
    pub networks_changed: Vec<String>,
    /// Guests (taps) only in the new configuration.
    pub guests_added: Vec<String>,
    /// Guests only in the old configuration.
    pub guests_removed: Vec<String>,
    /// Guests in both, with a different MAC, addresses, network or routed prefixes
    /// (order of the lists does not matter).
    pub guests_changed: Vec<String>,
    /// `[router]` differs (these settings take effect on restart).
    pub router_changed: bool,
    /// `[dataplane]` differs (these settings take effect on restart).
    pub dataplane_changed: bool,
    /// `[icmp]` differs.
    pub icmp_changed: bool,
}

impl ConfigDiff {
    /// No differences at all.
    pub fn is_empty(&self) -> bool {
        *self == ConfigDiff::default()
    }

    /// Guests of the new configuration that must be (re)applied: the added and changed
    /// ones, and every guest of an added or changed network, in `new`'s order.
    pub fn guests_to_reapply<'a>(&self, new: &'a Config) -> Vec<&'a str> {
        new.guests
            .iter()
            .filter(|g| {
                self.guests_added.contains(&g.tap)
                    || self.guests_changed.contains(&g.tap)
                    || self.networks_added.contains(&g.network)
                    || self.networks_changed.contains(&g.network)
            })
            .map(|g| g.tap.as_str())
            .collect()
    }
}

/// Compare two configurations.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let mut d = ConfigDiff {
        router_changed: old.router != new.router,
        dataplane_changed: old.dataplane != new.dataplane,
        icmp_changed: old.icmp != new.icmp,
        ..ConfigDiff::default()
    };
    for n in &new.networks {
        match old.network(&n.name) {
            None => d.networks_added.push(n.name.clone()),
            // DHCP settings are applied by reload: not a network change.
            Some(o) if !o.same_but_dhcp(n) => d.networks_changed.push(n.name.clone()),
            Some(_) => {}
        }
    }
    for o in &old.networks {
        if new.network(&o.name).is_none() {
            d.networks_removed.push(o.name.clone());
        }
    }
    for g in &new.guests {
        match old.guest(&g.tap) {
            None => d.guests_added.push(g.tap.clone()),
            Some(o) if !o.same_as(g) => d.guests_changed.push(g.tap.clone()),
            Some(_) => {}
        }
    }
    for o in &old.guests {
        if new.guest(&o.tap).is_none() {
            d.guests_removed.push(o.tap.clone());
        }
    }
    d
}
