//! The router's DHCP server against real clients in the namespace lab: busybox udhcpc
//! behind a veth (guest 1), ISC dhclient behind the tap relay (guest 3), each starting
//! unconfigured, gets its address, mask, default route, DNS and MTU from hvrouter and
//! pings the gateway; both renew across a router restart; a client asking for another
//! guest's address (a dhclient lease file naming guest 1's) is refused with a NAK and
//! ends up with its own. Needs root, busybox and isc-dhcp-client; skips otherwise.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ok, skip_unless_lab, Lab};

/// Records what the client was given (one line per event, in the file @OUT@ is replaced
/// with: dhclient gives its script a fresh environment) and applies address, MTU and
/// default route with `ip`, like the clients' own scripts but without touching
/// /etc/resolv.conf. udhcpc passes the event as $1 and options as $ip, $subnet ...;
/// dhclient as $reason and $new_ip_address, $new_subnet_mask ...
const CLIENT_SCRIPT: &str = r#"#!/bin/sh
OUT=@OUT@
if [ -n "$reason" ]; then
    event=$reason a=$new_ip_address m=$new_subnet_mask r=$new_routers u=$new_interface_mtu
    d=$new_domain_name_servers dom=$new_domain_name s=$new_domain_search h=$new_host_name
    l=$new_dhcp_lease_time
else
    event=$1 a=$ip m=$subnet r=$router u=$mtu d=$dns dom=$domain s=$search h=$hostname l=$lease
fi
echo "event=$event ip=$a mask=$m router=$r mtu=$u dns=$d domain=$dom search=$s hostname=$h lease=$l" >>"$OUT"
case "$event" in
    bound|renew|BOUND|RENEW|REBIND|REBOOT)
        ip addr flush dev "$interface"
        ip addr add "$a/$m" dev "$interface"
        [ -n "$u" ] && ip link set dev "$interface" mtu "$u"
        [ -n "$r" ] && ip route replace default via "${r%% *}" dev "$interface"
        ;;
    deconfig|EXPIRE|FAIL|RELEASE|STOP)
        ip addr flush dev "$interface"
        ;;
    PREINIT)
        ip link set dev "$interface" up
        ;;
esac
exit 0
"#;

const DHCLIENT_CONF: &str = "request subnet-mask, broadcast-address, routers, domain-name, \
                             domain-name-servers, domain-search, host-name, interface-mtu;\n";

fn clients_missing() -> Option<String> {
    for (tool, pkg) in [("busybox", "busybox"), ("dhclient", "isc-dhcp-client")] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Some(format!(
                "{tool} is missing (scripts/install-deps.sh installs {pkg})"
            ));
        }
    }
    None
}

/// The DHCP keys the test turns on, applied by reload (they are not network changes).
fn configure_dhcp(lab: &Lab) {
    lab.edit_config(|t| {
        t.replace(
            "arp_source = \"192.0.2.254\"",
            "arp_source = \"192.0.2.254\"\ndns_servers = [\"198.51.100.53\", \"198.51.100.54\"]\n\
             domain = \"example.org\"\nsearch = [\"example.org\", \"lab.example.org\"]\n\
             lease_time = 3600",
        )
        .replace(
            "ips = [\"192.0.2.10\"]",
            "ips = [\"192.0.2.10\"]\nhostname = \"vm1\"",
        )
        .replace(
            "ips = [\"192.0.2.30\"]",
            "ips = [\"192.0.2.30\"]\nhostname = \"vm3\"",
        )
    });
    ok(lab.cli(&["reload"]));
}

/// Drop a guest's configuration (what the lab gave it) and set a small MTU, so that
/// whatever it has afterwards came from DHCP.
fn unconfigure(lab: &Lab, guest: &str) {
    ok(lab.exec(guest, &["ip", "addr", "flush", "dev", "eth0"]));
    ok(lab.exec(guest, &["ip", "link", "set", "dev", "eth0", "mtu", "1280"]));
    let addrs = ok(lab.exec(guest, &["ip", "-4", "addr", "show", "dev", "eth0"]));
    assert!(!addrs.contains("inet "), "{addrs}");
}

/// Events recorded by the client script for `guest`.
fn events(dir: &Path, guest: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(format!("events-{guest}")))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn wait_for(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// What the guest's interface and routes say once its client script has run (it records
/// the event before it applies the address, the MTU and the route).
fn assert_configured(lab: &Lab, guest: &str, ip: &str) {
    let show = || ok(lab.exec(guest, &["ip", "-4", "addr", "show", "dev", "eth0"]));
    let applied = |a: &str| a.contains(&format!("inet {ip}/24")) && a.contains("mtu 1500");
    wait_for(Duration::from_secs(5), || {
        applied(&show())
            && ok(lab.exec(guest, &["ip", "route", "show", "default"])).contains("default via")
    });
    let addr = show();
    assert!(addr.contains(&format!("inet {ip}/24")), "{guest}: {addr}");
    assert!(
        addr.contains("mtu 1500"),
        "{guest}: MTU from option 26: {addr}"
    );
    let route = ok(lab.exec(guest, &["ip", "route", "show", "default"]));
    assert!(
        route.contains("default via 192.0.2.1 dev eth0"),
        "{guest}: {route}"
    );
    assert!(lab.ping(guest, "192.0.2.1"), "{guest} pings the gateway");
}

fn assert_offer_fields(line: &str, ip: &str, hostname: &str) {
    // dhclient writes search domains as absolute names (`example.org.`).
    let line = &line.replace(". ", " ");
    for want in [
        format!("ip={ip} "),
        "mask=255.255.255.0 ".into(),
        "router=192.0.2.1 ".into(),
        "mtu=1500 ".into(),
        "dns=198.51.100.53 198.51.100.54 ".into(),
        "domain=example.org ".into(),
        "search=example.org lab.example.org ".into(),
        format!("hostname={hostname} "),
        "lease=3600".into(),
    ] {
        assert!(line.contains(&want), "{want:?} missing in {line:?}");
    }
}

struct Client {
    dir: PathBuf,
}

impl Client {
    fn new(lab: &Lab) -> Client {
        let dir = lab.dir.join("dhcp");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dhclient.conf"), DHCLIENT_CONF).unwrap();
        Client { dir }
    }

    /// The script for `guest`'s client, recording into `events-GUEST`.
    fn script(&self, guest: &str) -> String {
        let script = self.dir.join(format!("client-{guest}.sh"));
        let out = self.dir.join(format!("events-{guest}"));
        let text = CLIENT_SCRIPT.replace("@OUT@", &format!("'{}'", out.display()));
        std::fs::write(&script, text).unwrap();
        ok(Command::new("chmod")
            .arg("755")
            .arg(&script)
            .output()
            .unwrap());
        script.display().to_string()
    }
}

#[test]
fn real_dhcp_clients_get_their_configuration_from_the_router() {
    skip_unless_lab!();
    if let Some(why) = clients_missing() {
        eprintln!("SKIP {}: {why}", module_path!());
        return;
    }
    let mut lab = Lab::up("dh");
    configure_dhcp(&lab);
    let c = Client::new(&lab);

    // Guest 1 (veth) with busybox udhcpc, kept running to renew later.
    unconfigure(&lab, "g1");
    let udhcpc_pid = c.dir.join("udhcpc.pid").display().to_string();
    let udhcpc = lab.spawn(
        "g1",
        &[
            "busybox",
            "udhcpc",
            "-f",
            "-i",
            "eth0",
            "-s",
            &c.script("g1"),
            "-t",
            "5",
            "-T",
            "1",
            "-A",
            "1",
            "-p",
            &udhcpc_pid,
        ],
    );
    assert!(
        wait_for(Duration::from_secs(15), || events(&c.dir, "g1")
            .iter()
            .any(|e| e.starts_with("event=bound"))),
        "udhcpc got no lease: {:?}\n{}",
        events(&c.dir, "g1"),
        lab.router_log()
    );
    let bound = events(&c.dir, "g1")
        .into_iter()
        .find(|e| e.starts_with("event=bound"))
        .unwrap();
    eprintln!("udhcpc (veth guest 1) received: {bound}");
    assert_offer_fields(&bound, "192.0.2.10", "vm1");
    assert_configured(&lab, "g1", "192.0.2.10");

    // Guest 3 (tap behind the relay) with ISC dhclient.
    unconfigure(&lab, "g3");
    let lease3 = c.dir.join("g3.leases").display().to_string();
    let dhclient = |lab: &mut Lab, guest: &str, lease: &str| {
        let conf = c.dir.join("dhclient.conf").display().to_string();
        let pid = c.dir.join(format!("{guest}.pid")).display().to_string();
        lab.spawn(
            guest,
            &[
                "dhclient",
                "-d",
                "-1",
                "-cf",
                &conf,
                "-lf",
                lease,
                "-pf",
                &pid,
                "-sf",
                &c.script(guest),
                "eth0",
            ],
        )
    };
    let d3 = dhclient(&mut lab, "g3", &lease3);
    let bound3 = |c: &Client| {
        events(&c.dir, "g3")
            .into_iter()
            .filter(|e| e.starts_with("event=BOUND") || e.starts_with("event=REBOOT"))
            .collect::<Vec<_>>()
    };
    assert!(
        wait_for(Duration::from_secs(20), || !bound3(&c).is_empty()),
        "dhclient got no lease: {:?}\n{}",
        events(&c.dir, "g3"),
        lab.router_log()
    );
    eprintln!("dhclient (tap guest 3) received: {}", bound3(&c)[0]);
    assert_offer_fields(&bound3(&c)[0], "192.0.2.30", "vm3");
    assert_configured(&lab, "g3", "192.0.2.30");
    lab.kill_spawned(d3);
    lab.wait_spawned(d3);
    // And udhcpc behind the tap too (it exits once bound).
    unconfigure(&lab, "g3");
    let before = events(&c.dir, "g3").len();
    ok(lab.exec(
        "g3",
        &[
            "busybox",
            "udhcpc",
            "-f",
            "-q",
            "-n",
            "-t",
            "5",
            "-T",
            "1",
            "-i",
            "eth0",
            "-s",
            &c.script("g3"),
        ],
    ));
    let udhcpc3 = events(&c.dir, "g3")
        .into_iter()
        .skip(before)
        .find(|e| e.starts_with("event=bound"))
        .expect("udhcpc behind the tap got a lease");
    eprintln!("udhcpc (tap guest 3) received: {udhcpc3}");
    assert_offer_fields(&udhcpc3, "192.0.2.30", "vm3");
    assert_configured(&lab, "g3", "192.0.2.30");

    // Guest 2 asks (init-reboot, from a lease file) for guest 1's address: NAK, then it
    // gets its own. The CLI gives it a host name at run time.
    ok(lab.guest_add_g2(&["--ip", "192.0.2.20", "--hostname", "vm2"]));
    unconfigure(&lab, "g2");
    let lease2 = c.dir.join("g2.leases");
    std::fs::write(
        &lease2,
        "lease {\n  interface \"eth0\";\n  fixed-address 192.0.2.10;\n  option subnet-mask \
         255.255.255.0;\n  option dhcp-server-identifier 192.0.2.1;\n  renew 4 2037/01/01 \
         00:00:00;\n  rebind 4 2037/01/01 00:00:00;\n  expire 4 2037/01/01 00:00:00;\n}\n",
    )
    .unwrap();
    let naks_before = nak_count(&lab);
    let d2 = dhclient(&mut lab, "g2", &lease2.display().to_string());
    assert!(
        wait_for(Duration::from_secs(30), || events(&c.dir, "g2")
            .iter()
            .any(|e| e.starts_with("event=BOUND"))),
        "guest 2 got no lease: {:?}",
        events(&c.dir, "g2")
    );
    lab.kill_spawned(d2);
    lab.wait_spawned(d2);
    let ev2 = events(&c.dir, "g2");
    eprintln!("dhclient (veth guest 2, asked for 192.0.2.10) events: {ev2:?}");
    assert!(
        ev2.iter().all(|e| !e.contains("ip=192.0.2.10 ")),
        "never given guest 1's address: {ev2:?}"
    );
    let bound2 = ev2.iter().find(|e| e.starts_with("event=BOUND")).unwrap();
    assert!(
        bound2.contains("ip=192.0.2.20 ") && bound2.contains("hostname=vm2 "),
        "{bound2}"
    );
    assert!(
        nak_count(&lab) > naks_before,
        "the request for 192.0.2.10 was refused with a NAK"
    );
    // The metrics endpoint (refreshed every second) counts the NAK and the drops by
    // DHCP reason.
    let get = "import urllib.request;print(urllib.request.urlopen(\
               'http://127.0.0.1:9477/metrics',timeout=5).read().decode())";
    let mut metrics = String::new();
    assert!(
        wait_for(Duration::from_secs(5), || {
            metrics = ok(lab.exec("hv", &["python3", "-c", get]));
            metrics.contains("hvrouter_dhcp_messages_total{direction=\"sent\",type=\"nak\"} 1")
        }),
        "{metrics}"
    );
    assert!(
        metrics.contains("hvrouter_drops_total{port=\"hvr-g2\",reason=\"dhcp_spoofed_chaddr\"} 0"),
        "{metrics}"
    );
    let explain = ok(lab.cli(&["explain", "dhcp", "hvr-g2"]));
    eprintln!("explain dhcp hvr-g2:\n{explain}");
    assert!(explain.contains("DHCPOFFER of 192.0.2.20/24"), "{explain}");
    let show = ok(lab.cli(&["show", "dhcp"]));
    eprintln!("show dhcp:\n{show}");
    for want in [
        "hvr-g1", "vm1", "hvr-g2", "vm2", "hvr-tap3", "vm3", "sent nak",
    ] {
        assert!(show.contains(want), "{want:?} missing in\n{show}");
    }

    // Renewals across a router restart: udhcpc (still running) renews on SIGUSR1;
    // dhclient starts again from its lease file (init-reboot).
    lab.stop_router("TERM");
    lab.start_router();
    configure_dhcp(&lab);
    let renews_before = events(&c.dir, "g1")
        .iter()
        .filter(|e| e.starts_with("event=renew"))
        .count();
    let pid = std::fs::read_to_string(&udhcpc_pid).unwrap();
    ok(Command::new("kill")
        .args(["-USR1", pid.trim()])
        .output()
        .unwrap());
    assert!(
        wait_for(Duration::from_secs(15), || events(&c.dir, "g1")
            .iter()
            .filter(|e| e.starts_with("event=renew"))
            .count()
            > renews_before),
        "udhcpc did not renew after the restart: {:?}\n{}",
        events(&c.dir, "g1"),
        lab.router_log()
    );
    let renew = events(&c.dir, "g1")
        .into_iter()
        .rfind(|e| e.starts_with("event=renew"))
        .unwrap();
    eprintln!("udhcpc renewal after the restart: {renew}");
    assert_offer_fields(&renew, "192.0.2.10", "vm1");
    assert!(lab.ping("g1", "192.0.2.1"));
    let before3 = bound3(&c).len();
    let d3 = dhclient(&mut lab, "g3", &lease3);
    assert!(
        wait_for(Duration::from_secs(20), || bound3(&c).len() > before3),
        "dhclient did not get its lease back after the restart: {:?}",
        events(&c.dir, "g3")
    );
    let again = bound3(&c).pop().unwrap();
    eprintln!("dhclient after the restart: {again}");
    assert!(again.contains("ip=192.0.2.30 "), "{again}");
    lab.kill_spawned(d3);
    lab.wait_spawned(d3);
    assert!(lab.ping("g3", "192.0.2.1"));
    lab.kill_spawned(udhcpc);
    lab.wait_spawned(udhcpc);
}

/// DHCPNAKs the router has sent (the totals line of `show dhcp`).
fn nak_count(lab: &Lab) -> u64 {
    let show = ok(lab.cli(&["show", "dhcp"]));
    show.lines()
        .find(|l| l.starts_with("messages: "))
        .and_then(|l| {
            l.split(", ")
                .find_map(|m| m.trim_start_matches("messages: ").strip_prefix("sent nak "))
        })
        .map_or(0, |n| n.trim().parse().unwrap())
}
