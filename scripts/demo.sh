#!/usr/bin/env bash
# The main job: a self-contained demo of hvrouter on real packets.
#
# Builds the lab of scripts/lab.sh in network namespaces (a VLAN gateway, the
# hypervisor running hvrouter on configs/demo.toml, two guests behind veths and one
# behind a real tap held by a relay process that plays QEMU), then shows:
#   - ping both ways, guest to guest, and to "the internet" behind the gateway;
#   - ARP from the VLAN: answered for guests, silence for every other address;
#   - DHCP: guest2 drops its address and gets it back from hvrouter (busybox udhcpc);
#   - IPv6 (the demo gives the network subnet6 2001:db8:90::/64): guests take their
#     SLAAC address and default route from hvrouter's RA, ping6 the gateway both ways,
#     proxy NDP answers the guests only; when hvrouter stops, its final RA (router
#     lifetime 0) removes the guests' default route;
#   - iperf3 TCP VLAN->guest, guest->VLAN, tap guest, guest to guest;
#   - the router's counters;
# and removes everything, even on failure. Only documentation prefixes are used.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# shellcheck source=scripts/lib/lab.sh
source scripts/lib/lab.sh
tag="${HVR_TAG:-demo}"
ns() { echo "hvr-$tag-$1"; }
iperf_seconds="${IPERF_SECONDS:-3}"

scripts/install-deps.sh
echo "== building (release)"
cargo build --release --locked -p hvrouter -p hvrouter-netlab --bins 2>&1 | tail -n 1

log="$(mktemp -d)"
cleanup() { # after lab_on_exit ended the router and the iperf3 servers
    scripts/lab.sh down "$tag"
    rm -rf "$log" "/run/hvrouter-$tag"
}
lab_on_exit cleanup

echo "== building the lab (namespaces $(ns '*'))"
scripts/lab.sh up "$tag"
cfg="$log/demo.toml"
# configs/demo.toml plus IPv6 on the network (the lab tests add it where they need it).
sed -e "s|/run/hvrouter-demo|/run/hvrouter-$tag|" \
    -e 's|^gateway = "192.0.2.1"$|&\nsubnet6 = "2001:db8:90::/64"\ngateway6 = "2001:db8:90::1"|' \
    configs/demo.toml >"$cfg"
grep -q '^subnet6 = ' "$cfg" || { echo "demo: could not add subnet6 to the configuration" >&2; exit 1; }
ip -n "$(ns gw)" -6 addr add 2001:db8:90::1/64 dev eth0 nodad
mkdir -p "/run/hvrouter-$tag"

echo "== starting hvrouter in $(ns hv)"
if ! lab_router_start "$(ns hv)" target/release/hvrouter "$cfg" "$log"; then
    cat "$log/router.err" >&2
    echo "demo: hvrouter did not start" >&2
    exit 1
fi
router_pid=$lab_last_pid
sed 's/^/    /' "$log/router.err"

fails=0
check() { # check DESCRIPTION COMMAND...
    local what="$1"
    shift
    if "$@" >"$log/check.out" 2>&1; then
        printf '  ok    %s\n' "$what"
    else
        printf '  FAIL  %s\n' "$what"
        sed 's/^/        /' "$log/check.out" | tail -n 5
        fails=$((fails + 1))
    fi
}
silent() { ! "$@"; }
inns() { local n="$1"; shift; lab_inns "$(ns "$n")" "$@"; }

echo "== ping"
check "guest1 (veth) -> gateway 192.0.2.1" inns g1 ping -c 2 -W 1 192.0.2.1
check "gateway -> guest2 (veth) 192.0.2.20" inns gw ping -c 2 -W 1 192.0.2.20
check "guest3 (tap) -> internet 198.51.100.1" inns g3 ping -c 2 -W 1 198.51.100.1
check "gateway -> guest3 routed prefix 203.0.113.1" inns gw ping -c 2 -W 1 203.0.113.1
check "guest1 -> guest2 (routed by hvrouter)" inns g1 ping -c 2 -W 1 192.0.2.20
check "guest2 -> guest3 (veth to tap)" inns g2 ping -c 2 -W 1 192.0.2.30

echo "== DHCP: guest2 forgets its address and asks hvrouter (busybox udhcpc)"
cat >"$log/udhcpc.sh" <<'SCRIPT'
#!/bin/sh
# Record and apply what the server gave (no /etc/resolv.conf change).
echo "$1 ip=$ip subnet=$subnet router=$router mtu=$mtu lease=$lease serverid=$serverid" >>"${0%.sh}.events"
case "$1" in
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/$subnet" dev "$interface"
        [ -z "$mtu" ] || ip link set dev "$interface" mtu "$mtu"
        [ -z "$router" ] || ip route replace default via "$router" dev "$interface" ;;
esac
SCRIPT
chmod 755 "$log/udhcpc.sh"
inns g2 ip addr flush dev eth0
inns g2 ip link set dev eth0 mtu 1280
check "guest2 gets a lease" inns g2 busybox udhcpc -f -q -n -t 5 -T 1 -i eth0 -s "$log/udhcpc.sh"
sed 's/^/        received: /' "$log/udhcpc.events" 2>/dev/null || true
check "guest2 has 192.0.2.20/24, MTU 1500, default via 192.0.2.1" sh -c \
    "ip -n $(ns g2) -4 addr show dev eth0 | grep -q 'inet 192.0.2.20/24' &&
     ip -n $(ns g2) link show dev eth0 | grep -q 'mtu 1500' &&
     ip -n $(ns g2) route show default | grep -q 'via 192.0.2.1'"
check "guest2 (configured by DHCP) -> gateway" inns g2 ping -c 2 -W 1 192.0.2.1
target/release/hvrouter --socket "/run/hvrouter-$tag/control.sock" show dhcp | sed 's/^/    /'

echo "== proxy ARP from the VLAN"
for ip in 192.0.2.10 192.0.2.20 192.0.2.30; do
    check "who-has $ip (guest): answered" inns gw arping -c 1 -w 2 -I eth0 "$ip"
done
for ip in 192.0.2.2 192.0.2.50 192.0.2.254 192.0.2.200; do
    check "who-has $ip (not a guest): no answer" silent inns gw arping -c 1 -w 1 -I eth0 "$ip"
done

echo "== IPv6: SLAAC from hvrouter's router advertisements, proxy NDP for guests only"
g1_6=2001:db8:90::ff:fe00:a   # EUI-64 of 02:00:00:00:00:0a (gnt-networking's mac2eui64)
g3_6=2001:db8:90::ff:fe00:1e
router_ll=fe80::fcff:ffff:feff:ffff
slaac() { # slaac NS ADDRESS: the address is configured and no longer tentative
    for _ in $(seq 1 100); do
        ip -n "$(ns "$1")" -6 addr show dev eth0 | grep "$2" | grep -vq tentative && return 0
        sleep 0.1
    done
    return 1
}
check "guest1 (veth) takes $g1_6 by SLAAC" slaac g1 "$g1_6"
check "guest3 (tap) takes $g3_6 by SLAAC" slaac g3 "$g3_6"
check "guest1's default route is hvrouter ($router_ll)" sh -c \
    "ip -n $(ns g1) -6 route show default | grep -q 'via $router_ll'"
ip -n "$(ns g1)" -6 addr show dev eth0 scope global | sed -n 's/^ *\(inet6 .*\)/    guest1: \1/p'
ip -n "$(ns g1)" -6 route show default | sed 's/^/    guest1: /'
check "guest1 -> gateway 2001:db8:90::1 (ping6)" inns g1 ping -6 -c 2 -W 1 2001:db8:90::1
check "gateway -> guest3 (tap) $g3_6 (ping6)" inns gw ping -6 -c 2 -W 1 "$g3_6"
check "guest1 -> guest3 (routed by hvrouter, ping6)" inns g1 ping -6 -c 2 -W 1 "$g3_6"
solicited() { # solicited ADDRESS: the gateway learned a link-layer address for it
    inns gw ip -6 neigh flush dev eth0
    inns gw ping -6 -c 1 -W 1 "$1" >/dev/null 2>&1 || true
    inns gw ip -6 neigh show "$1" dev eth0 | grep -q lladdr
}
check "neighbor solicitation for $g1_6 (guest): answered" solicited "$g1_6"
for a in 2001:db8:90::2 2001:db8:90::4242 2001:db8:90::ff:fe00:63; do
    check "neighbor solicitation for $a (not a guest): no answer" silent solicited "$a"
done
target/release/hvrouter --socket "/run/hvrouter-$tag/control.sock" show ipv6 | sed 's/^/    /'

echo "== iperf3 TCP (${iperf_seconds}s each)"
port=5300
tcp() { # tcp DESCRIPTION SERVER_NS CLIENT_NS SERVER_IP [iperf3 args]
    local what="$1" sns="$2" cns="$3" sip="$4"
    shift 4
    port=$((port + 1))
    inns "$sns" iperf3 -s -1 -p "$port" >"$log/iperf-server.out" 2>&1 &
    lab_track $!
    sleep 0.3
    if inns "$cns" iperf3 -c "$sip" -p "$port" -t "$iperf_seconds" -f m "$@" >"$log/iperf.out" 2>&1; then
        local rate
        rate="$(grep -E 'receiver' "$log/iperf.out" | awk '{print $(NF-2), $(NF-1)}')"
        printf '  ok    %-44s %s\n' "$what" "$rate"
    else
        printf '  FAIL  %s\n' "$what"
        tail -n 3 "$log/iperf.out" | sed 's/^/        /'
        fails=$((fails + 1))
    fi
}
tcp "gateway -> guest1 (VLAN to veth guest)" g1 gw 192.0.2.10
tcp "guest1 -> gateway (veth guest to VLAN)" g1 gw 192.0.2.10 -R
tcp "gateway -> guest3 (VLAN to tap guest)" g3 gw 192.0.2.30
tcp "guest3 -> gateway (tap guest to VLAN)" g3 gw 192.0.2.30 -R
tcp "guest1 -> guest2 (guest to guest)" g2 g1 192.0.2.20

echo "== stopping hvrouter; its counters"
lab_stop "$router_pid"
cat "$log/router.out"
if ip -n "$(ns hv)" -d link show | grep -q 'prog/xdp'; then
    echo "  FAIL  an XDP program is still attached after exit"
    fails=$((fails + 1))
else
    echo "  ok    no XDP program left attached after exit"
fi
# RFC 4861 6.2.5: the final advertisement (router lifetime 0) sent at SIGTERM.
check "guest1 dropped its default route through hvrouter when it stopped" sh -c \
    "! ip -n $(ns g1) -6 route show default | grep -q 'via $router_ll'"

if [ "$fails" -ne 0 ]; then
    echo "demo: $fails check(s) failed" >&2
    exit 1
fi
echo "demo: all checks passed"
