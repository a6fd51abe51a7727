#!/usr/bin/env bash
# The demo/test lab in network namespaces, matching configs/demo.toml.
#
#   scripts/lab.sh up   [TAG]   build it (namespaces hvr-TAG-{gw,hv,g1,g2,g3})
#   scripts/lab.sh down [TAG]   remove it (idempotent; kills only the relay it started)
#   scripts/lab.sh relink [TAG] delete and recreate the uplink pair (ifdown/ifup of a VLAN)
#   scripts/lab.sh veth-guest TAG NAME DEV MAC ADDR...
#                               (re)create a veth guest in hvr-TAG-NAME behind DEV (a VM boot)
#   scripts/lab.sh tap-guest TAG       start guest 3's relay and configure it (a VM boot)
#   scripts/lab.sh tap-guest-down TAG  stop guest 3's relay: both taps go (a VM shutdown)
#
#   hvr-TAG-gw   the VLAN: gateway 192.0.2.1/24 on eth0 (MAC 02:00:00:00:01:01), plus
#                198.51.100.1/24 on lo ("the internet" behind the gateway) and a
#                second VLAN host 192.0.2.99 in the same namespace.
#   hvr-TAG-hv   the hypervisor: hvr-up0 (peer of gw's eth0, stands in for bond0.90),
#                hvr-g1 / hvr-g2 (peers of the guests' eth0), hvr-tap3 (a real tap whose
#                fd a relay process holds, playing QEMU). No addresses: hvrouter routes.
#   hvr-TAG-g1   guest 192.0.2.10/24 (MAC 02:00:00:00:00:0a), default via 192.0.2.1
#   hvr-TAG-g2   guest 192.0.2.20/24 (MAC 02:00:00:00:00:14)
#   hvr-TAG-g3   guest 192.0.2.30/24 + 203.0.113.1/28 (MAC 02:00:00:00:00:1e) on a tap
#
# The building blocks are scripts/lib/lab.sh's. Only documentation prefixes; nothing
# touches the host's own interfaces or routes.
set -euo pipefail

cmd="${1:-}"
tag="${2:-demo}"
ns() { echo "hvr-$tag-$1"; }
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib/lab.sh
source "$root/scripts/lib/lab.sh"
relay_pidfile="/run/hvr-$tag-relay.pid"
# Optional: HVR_RELAY=/path/to/hvr-tap-relay (default: target/release, then target/debug).

vlan() { # the VLAN: the router's uplink hvr-up0 and the gateway's eth0
    lab_uplink "$(ns hv)" "$(ns gw)" 192.0.2.1/24 192.0.2.99/24
    # The gateway routes guest 3's extra prefix to the guest's address, as a real VLAN
    # router is configured for routed prefixes.
    ip -n "$(ns gw)" route add 203.0.113.0/28 via 192.0.2.30 dev eth0
}

# Delete the uplink (and its peer) and create it again: what ifdown/ifup of a VLAN
# interface does.
relink() {
    ip -n "$(ns hv)" link del hvr-up0
    vlan
}

veth_guest() { # veth_guest NAME DEV MAC ADDR...: guest NAME behind veth DEV
    local name="$1" dev="$2" mac="$3"
    shift 3
    lab_veth_guest "$(ns hv)" "$dev" "$(ns "$name")" "$mac" "$@"
}

tap_guest() { # guest 3 behind a real tap: the relay holds both taps' fds, as QEMU would
    local relay
    relay="$(lab_relay_bin "$root")"
    lab_relay_start "$relay" "$(ns hv)" hvr-tap3 "$(ns g3)" eth0 "$relay_pidfile"
    ip -n "$(ns g3)" link set eth0 address 02:00:00:00:00:1e
    lab_guest_addrs "$(ns g3)" eth0 192.0.2.30/24 203.0.113.1/28
    ip -n "$(ns hv)" link set hvr-tap3 up
}

up() {
    down 2>/dev/null || true
    lab_relay_bin "$root" >/dev/null
    lab_ns_add "$(ns gw)" "$(ns hv)" "$(ns g1)" "$(ns g2)" "$(ns g3)"
    ip -n "$(ns gw)" addr add 198.51.100.1/24 dev lo
    ip netns exec "$(ns gw)" sysctl -qw net.ipv4.ip_forward=1
    vlan

    veth_guest g1 hvr-g1 02:00:00:00:00:0a 192.0.2.10/24
    veth_guest g2 hvr-g2 02:00:00:00:00:14 192.0.2.20/24
    tap_guest
}

down() {
    lab_relay_stop "$relay_pidfile"
    lab_ns_del "$(ns g3)" "$(ns g2)" "$(ns g1)" "$(ns hv)" "$(ns gw)"
}

case "$cmd" in
    up) up ;;
    down) down ;;
    relink) relink ;;
    veth-guest) shift 2; veth_guest "$@" ;;
    tap-guest) tap_guest ;;
    tap-guest-down) lab_relay_stop "$relay_pidfile" ;;
    *) echo "usage: $0 up|down|relink [TAG] | veth-guest TAG NAME DEV MAC ADDR... | tap-guest[-down] TAG" >&2; exit 2 ;;
esac
