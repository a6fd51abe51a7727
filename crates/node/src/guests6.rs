//! A runtime guest's IPv6 side (`guest add --ip6 ... --eui64 --routed-prefix6 ...`):
//! the control protocol's form to the core's and back, and the checks made before the
//! guest is added, so that an IPv6 side asked for explicitly is either given or the add
//! is refused with the reason (a guest added without one gets its network's default,
//! and a refusal of that only shows in `show ipv6`, as for the configuration's guests).

use hvrouter_control::protocol::{GuestIpv6, GuestSpec};
use hvrouter_core::ipv6::guest6::{Guest6, Guest6Spec};
use hvrouter_core::router::Router;
use hvrouter_core::{GuestId, NetworkId};

/// The control protocol's form of a core IPv6 side.
pub fn asked(spec: &Guest6Spec) -> GuestIpv6 {
    GuestIpv6 {
        addrs: spec.addrs.clone(),
        eui64: spec.eui64,
        routed_prefixes: spec.prefixes.clone(),
    }
    .normalized()
}

/// The core's form of an IPv6 side asked for in the control protocol.
pub fn wanted(v6: &GuestIpv6) -> Guest6Spec {
    Guest6Spec {
        addrs: v6.addrs.clone(),
        eui64: v6.eui64,
        prefixes: v6.routed_prefixes.clone(),
    }
}

/// Guest `spec`'s IPv6 side resolved against network `net` (its addresses, with the
/// EUI-64 one, and its prefixes), or why it cannot have it. `None` when it asks for
/// nothing explicit.
pub fn resolve(
    router: &Router,
    net: NetworkId,
    spec: &GuestSpec,
) -> Result<Option<Guest6>, String> {
    let Some(v6) = &spec.ipv6 else {
        return Ok(None);
    };
    let tap = &spec.tap;
    let Some(st) = router.ipv6().tables6().network6(net) else {
        return Err(format!(
            "guest {tap}: network {} has no IPv6 (no subnet6 in its configuration): \
             cannot give it {}",
            spec.network,
            describe(v6)
        ));
    };
    // The id is a placeholder: only the addresses are looked at.
    let g6 = Guest6::resolve(GuestId(u32::MAX), net, spec.mac, &st.net, wanted(v6))
        .map_err(|e| format!("guest {tap}: {e}"))?;
    if let Some(a) = g6.addrs.iter().find(|a| Some(**a) == st.net.spec.source6) {
        return Err(format!(
            "guest {tap}: {a} is the router's own address on {} (source6)",
            spec.network
        ));
    }
    Ok(Some(g6))
}

/// What of `new` (another guest's IPv6 side) guest `other` already holds: a shared
/// address or overlapping routed prefixes.
pub fn clash(new: &Guest6, other: &Guest6) -> Option<String> {
    if let Some(a) = new.addrs.iter().find(|a| other.addrs.contains(a)) {
        return Some(a.to_string());
    }
    new.prefixes
        .iter()
        .find(|p| {
            other
                .prefixes
                .iter()
                .any(|q| q.contains(&p.network()) || p.contains(&q.network()))
        })
        .map(ToString::to_string)
}

fn describe(v6: &GuestIpv6) -> String {
    let mut parts: Vec<String> = v6.addrs.iter().map(ToString::to_string).collect();
    if v6.eui64 {
        parts.push("its EUI-64 address".into());
    }
    parts.extend(v6.routed_prefixes.iter().map(|p| format!("prefix {p}")));
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::Ipv6Addr;

    use super::*;
    use crate::fixtures::{self, v6};

    /// The fixture's networks, and guest tap1 on public_90 (its EUI-64 address and
    /// 2001:db8:90::10, prefix 2001:db8:1::/48).
    fn router() -> (Router, NetworkId, NetworkId) {
        let (mut r, n90, n80) = fixtures::router();
        let mut tap1 = fixtures::spec("tap1", "public_90", 0x0a, &["192.0.2.10"]);
        tap1.ipv6 = Some(v6(&["2001:db8:90::10"], true, &["2001:db8:1::/48"]));
        fixtures::add(&mut r, &tap1, 2);
        (r, n90, n80)
    }

    fn spec(network: &str, v6: Option<GuestIpv6>) -> GuestSpec {
        GuestSpec {
            ipv6: v6,
            ..fixtures::spec("tap2", network, 0x14, &[])
        }
    }

    #[test]
    fn an_ipv6_side_asked_for_is_checked_before_the_add() {
        let (r, n90, n80) = router();
        let tap1 = r.tables().guest("tap1").unwrap().id;
        let other = r.ipv6().tables6().guest6(tap1).unwrap().clone();
        // Nothing asked for: nothing to check.
        assert_eq!(resolve(&r, n90, &spec("public_90", None)), Ok(None));
        // A valid side: its addresses, with the EUI-64 one.
        let ok = resolve(
            &r,
            n90,
            &spec("public_90", Some(v6(&["2001:db8:90::20"], true, &[]))),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            ok.addrs,
            vec![
                "2001:db8:90::20".parse::<Ipv6Addr>().unwrap(),
                "2001:db8:90::ff:fe00:14".parse().unwrap()
            ]
        );
        assert_eq!(clash(&ok, &other), None);
        let err = |network: &str, id: NetworkId, side: GuestIpv6| {
            resolve(&r, id, &spec(network, Some(side))).unwrap_err()
        };
        let e = err("public_80", n80, v6(&[], true, &[]));
        assert!(e.contains("network public_80 has no IPv6"), "{e}");
        let e = err("public_90", n90, v6(&["2001:db8:91::5"], false, &[]));
        assert!(e.contains("inside subnet6 2001:db8:90::/64"), "{e}");
        let e = err("public_90", n90, v6(&["2001:db8:90::fe"], false, &[]));
        assert!(e.contains("the router's own address"), "{e}");
        let e = err(
            "public_90",
            n90,
            v6(&["2001:db8:90::5"], false, &["2001:db8:90:0:1::/80"]),
        );
        assert!(e.contains("outside subnet6"), "{e}");
        // Another guest's address or an overlapping prefix: a clash, for the caller to
        // refuse (or replace a guest whose tap is gone).
        let mine = |side| {
            resolve(&r, n90, &spec("public_90", Some(side)))
                .unwrap()
                .unwrap()
        };
        assert_eq!(
            clash(&mine(v6(&["2001:db8:90::10"], false, &[])), &other).as_deref(),
            Some("2001:db8:90::10")
        );
        assert_eq!(
            clash(
                &mine(v6(&["2001:db8:90::11"], false, &["2001:db8:1:5::/64"])),
                &other
            )
            .as_deref(),
            Some("2001:db8:1:5::/64")
        );
    }

    #[test]
    fn round_trip_to_core() {
        let a = v6(&["2001:db8:90::5"], true, &["2001:db8:1::/48"]);
        assert_eq!(asked(&wanted(&a)), a);
    }
}
