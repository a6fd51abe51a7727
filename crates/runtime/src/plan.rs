//! Pure decisions of the control thread, made from facts gathered elsewhere (the
//! worker's tables, the devices): no I/O here, so every case is a unit test.

use hvrouter_control::protocol::GuestSpec;

/// A guest of the same name as one being added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SameName {
    /// Whether it has exactly the data asked for.
    pub same_data: bool,
    /// Its data, for the refusal (`MAC [IPs]`).
    pub describe: String,
}

/// Another guest of the same network holding an address or prefix of the one being
/// added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clash {
    /// Its name.
    pub name: String,
    /// What it holds (an address or prefix).
    pub what: String,
}

/// The guests a new guest meets, read from the tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddCandidates {
    /// A guest of the same name.
    pub same_name: Option<SameName>,
    /// Guests holding its addresses or prefixes.
    pub clashes: Vec<Clash>,
}

/// What a `guest add` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddDecision {
    /// The same guest on a live device: nothing to do.
    Unchanged,
    /// Add it, first removing `stale`: guests it replaces (its name or its addresses)
    /// whose devices are gone (a VM that stopped or migrated away without a down hook).
    Add {
        /// Guests to remove first.
        stale: Vec<String>,
    },
}

/// Decide a `guest add` of `tap` that meets `met`; `gone(name)` says whether the device
/// of guest `name` is gone. A live guest of the same name with other data, or a live
/// guest holding one of its addresses, refuses the add with the fix.
pub fn decide_add(
    tap: &str,
    met: &AddCandidates,
    gone: impl Fn(&str) -> bool,
) -> Result<AddDecision, String> {
    let mut stale = Vec::new();
    if let Some(same) = &met.same_name {
        if gone(tap) {
            stale.push(tap.to_string());
        } else if same.same_data {
            return Ok(AddDecision::Unchanged);
        } else {
            return Err(format!(
                "guest {tap} exists with other data ({}); remove it first",
                same.describe
            ));
        }
    }
    for c in &met.clashes {
        if c.name == tap || stale.contains(&c.name) {
            continue;
        }
        if gone(&c.name) {
            stale.push(c.name.clone());
        } else {
            return Err(format!(
                "{} already belongs to guest {} whose tap is present: refusing it for {tap}; \
                 remove {} first",
                c.what, c.name, c.name
            ));
        }
    }
    Ok(AddDecision::Add { stale })
}

/// What a reload does to the guests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Guests no longer wanted.
    pub remove: Vec<String>,
    /// Guests whose data changed: removed, then added with the new data.
    pub change: Vec<GuestSpec>,
    /// New guests.
    pub add: Vec<GuestSpec>,
    /// Guests left as they are.
    pub unchanged: u32,
}

/// Compare the guests the router has with those now wanted; `same(wanted, current)`
/// says whether a guest stays as it is (what it leaves out is changed in place).
pub fn plan_reload(
    current: &[GuestSpec],
    desired: &[GuestSpec],
    same: impl Fn(&GuestSpec, &GuestSpec) -> bool,
) -> ReloadPlan {
    let mut plan = ReloadPlan::default();
    for g in current {
        match desired.iter().find(|d| d.tap == g.tap) {
            None => plan.remove.push(g.tap.clone()),
            Some(d) if !same(d, g) => plan.change.push(d.clone()),
            Some(_) => plan.unchanged += 1,
        }
    }
    for d in desired {
        if !current.iter().any(|g| g.tap == d.tap) {
            plan.add.push(d.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(same_data: bool) -> Option<SameName> {
        Some(SameName {
            same_data,
            describe: "02:00:00:00:00:0a [192.0.2.10]".into(),
        })
    }

    fn clash(name: &str) -> Clash {
        Clash {
            name: name.into(),
            what: "192.0.2.10".into(),
        }
    }

    #[test]
    fn a_new_guest_is_added() {
        let d = decide_add("tap1", &AddCandidates::default(), |_| false);
        assert_eq!(d, Ok(AddDecision::Add { stale: vec![] }));
    }

    #[test]
    fn the_same_guest_on_a_live_device_is_unchanged_and_other_data_refused() {
        let met = AddCandidates {
            same_name: same(true),
            clashes: vec![],
        };
        assert_eq!(
            decide_add("tap1", &met, |_| false),
            Ok(AddDecision::Unchanged)
        );
        let met = AddCandidates {
            same_name: same(false),
            clashes: vec![],
        };
        let e = decide_add("tap1", &met, |_| false).expect_err("refused");
        assert!(e.contains("exists with other data"), "{e}");
    }

    #[test]
    fn a_guest_whose_device_is_gone_is_replaced_even_with_the_same_data() {
        for data in [true, false] {
            let met = AddCandidates {
                same_name: same(data),
                clashes: vec![clash("tap1")],
            };
            let d = decide_add("tap1", &met, |n| n == "tap1");
            assert_eq!(
                d,
                Ok(AddDecision::Add {
                    stale: vec!["tap1".into()]
                }),
                "its own name is not a clash"
            );
        }
    }

    #[test]
    fn an_address_of_a_live_guest_is_refused_and_of_a_gone_one_taken_over() {
        let met = AddCandidates {
            same_name: None,
            clashes: vec![clash("old1"), clash("old2")],
        };
        let e = decide_add("tap9", &met, |n| n == "old1").expect_err("old2 is live");
        assert!(
            e.contains("192.0.2.10 already belongs to guest old2") && e.contains("remove old2"),
            "{e}"
        );
        let d = decide_add("tap9", &met, |_| true);
        assert_eq!(
            d,
            Ok(AddDecision::Add {
                stale: vec!["old1".into(), "old2".into()]
            })
        );
        let twice = AddCandidates {
            same_name: None,
            clashes: vec![clash("old1"), clash("old1")],
        };
        assert_eq!(
            decide_add("tap9", &twice, |_| true),
            Ok(AddDecision::Add {
                stale: vec!["old1".into()]
            }),
            "a guest clashing twice is removed once"
        );
    }

    /// A guest as a control client sends it (fields added later keep their defaults).
    fn spec(tap: &str, ip: u8) -> GuestSpec {
        let json = format!(
            r#"{{"tap":"{tap}","mac":"02:00:00:00:00:{ip:02x}","ips":["192.0.2.{ip}"],"network":"public_90"}}"#
        );
        serde_json::from_str(&json).expect("guest spec")
    }

    #[test]
    fn a_reload_removes_changes_and_adds() {
        let current = [spec("a", 10), spec("b", 20), spec("c", 30)];
        let desired = [spec("a", 10), spec("b", 21), spec("d", 40)];
        let plan = plan_reload(&current, &desired, GuestSpec::same_as);
        assert_eq!(plan.remove, vec!["c".to_string()]);
        assert_eq!(plan.change, vec![spec("b", 21)]);
        assert_eq!(plan.add, vec![spec("d", 40)]);
        assert_eq!(plan.unchanged, 1);
        assert_eq!(
            plan_reload(&desired, &desired, GuestSpec::same_as).unchanged,
            3
        );
        let by_name = plan_reload(&current, &desired, |a, b| a.tap == b.tap);
        assert!(
            by_name.change.is_empty(),
            "what `same` ignores is no change"
        );
    }
}
