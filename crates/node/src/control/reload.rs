//! Reload on the control thread: the configuration is read, parsed and compared here;
//! the worker applies the difference in small batches ([`BATCH`], [`REMOVE_BATCH`]
//! guests per job), so that it never stops forwarding for long however many guests
//! change.

use hvrouter_config::Config;
use hvrouter_control::protocol::{GuestSpec, ReloadSummary};
use hvrouter_runtime::jobs::WorkerGone;
use hvrouter_runtime::plan::{plan_reload, ReloadPlan};

use super::{config_specs, Control};
use crate::log;

/// Guests added per worker job (about 10 us each with 1,000 guests).
pub(super) const BATCH: usize = 32;
/// Guests removed per worker job (about 200 us each with 1,000 guests: the tables'
/// removal is the costly part).
const REMOVE_BATCH: usize = 4;

impl Control {
    /// Re-read the configuration and apply the difference in guests. Network changes
    /// need a restart (they are reported, not applied).
    pub(super) fn reload(&mut self) -> Result<Result<ReloadSummary, String>, WorkerGone> {
        let new = match Config::load(&self.config_path) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e.to_string())),
        };
        log::set_level(new.router.log_level);
        let mut summary = ReloadSummary::default();
        let diff = hvrouter_config::diff(&self.config, &new);
        if !diff.networks_added.is_empty()
            || !diff.networks_removed.is_empty()
            || !diff.networks_changed.is_empty()
        {
            summary
                .notes
                .push("network changes are not applied by reload: restart hvrouter".into());
        }
        let specs = config_specs(&new);
        self.state.prune(&specs);
        let desired = self.state.apply(&specs);
        // DHCP settings and host names change in place (no guest is re-added for them);
        // the IPv6 sides asked for (configuration and runtime guests) are recorded for
        // the guests (re-)added below and those changed in place after.
        let dhcp = new.dhcp_config();
        let hostnames: Vec<(String, Option<String>)> = desired
            .iter()
            .map(|d| (d.tap.clone(), d.hostname.clone()))
            .collect();
        let sides = desired.clone();
        let current: Vec<GuestSpec> = self.run_job(move |p, _| {
            let router = p.router_mut();
            router.set_dhcp_config(dhcp.clone());
            for (tap, name) in &hostnames {
                let _ = router.set_guest_hostname(tap, name.as_deref());
            }
            crate::ipv6::set_overrides(router, &sides);
            let router = p.router();
            router
                .tables()
                .guests()
                .iter()
                .map(|g| crate::views::guest_spec(router, g))
                .collect()
        })?;
        // IPv6 sides alone are changed in place below.
        let plan = plan(&current, &desired);
        summary.unchanged = plan.unchanged;
        let removing: Vec<String> = plan
            .remove
            .iter()
            .cloned()
            .chain(plan.change.iter().map(|g| g.tap.clone()))
            .collect();
        for chunk in removing.chunks(REMOVE_BATCH) {
            let taps = chunk.to_vec();
            let removed = self.run_job(move |p, s| {
                taps.iter().try_for_each(|tap| s.ports.remove_guest(p, tap))
            })?;
            if let Err(e) = removed {
                return Ok(Err(e));
            }
        }
        summary.removed = plan.remove.clone();
        let adding: Vec<(GuestSpec, Option<u32>)> = plan
            .change
            .iter()
            .chain(&plan.add)
            .map(|d| (d.clone(), self.state.device(&d.tap)))
            .collect();
        for chunk in adding.chunks(BATCH) {
            for added in self.add_guests(chunk.to_vec())? {
                if let Err(e) = added {
                    return Ok(Err(e));
                }
            }
        }
        summary.changed = plan.change.iter().map(|g| g.tap.clone()).collect();
        summary.added = plan.add.iter().map(|g| g.tap.clone()).collect();
        // Guests whose IPv6 keys alone changed: applied in place (and announced).
        for tap in self.run_job(|p, s| crate::ipv6::reapply(p, &mut s.ports))? {
            if !summary.changed.contains(&tap) && !summary.added.contains(&tap) {
                summary.unchanged = summary.unchanged.saturating_sub(1);
                summary.changed.push(tap);
            }
        }
        self.config = new;
        self.saver.submit(self.state.clone(), None);
        Ok(Ok(summary))
    }
}

/// What a reload does to the guests the router has (`current`) for those now wanted:
/// guests are compared without their IPv6 sides, which change in place
/// ([`crate::ipv6::reapply`]) instead of re-adding the guest.
fn plan(current: &[GuestSpec], desired: &[GuestSpec]) -> ReloadPlan {
    plan_reload(current, desired, |a, b| {
        without_ipv6(a).same_as(&without_ipv6(b))
    })
}

fn without_ipv6(g: &GuestSpec) -> GuestSpec {
    GuestSpec {
        ipv6: None,
        ..g.clone()
    }
}

#[cfg(test)]
mod tests;
