#!/usr/bin/env bash
# The demo/test lab in network namespaces, matching configs/demo.toml.
#
#   scripts/lab.sh up   [TAG]   build it (namespaces hvr-TAG-{gw,hv,g1,g2,g3})
#   scripts/lab.sh down [TAG]   remove it (idempotent; kills only the relay it started)
#   scripts/lab.sh relink [TAG] delete and recreate the uplink pair (ifdown/ifup of a VLAN)
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
# Only documentation prefixes; nothing touches the host's own interfaces or routes.
set -euo pipefail

cmd="${1:-}"
tag="${2:-demo}"
ns() { echo "hvr-$tag-$1"; }
root="$(cd "$(dirname "$0")/.." && pwd)"
relay_pidfile="/run/hvr-$tag-relay.pid"
# Optional: HVR_RELAY=/path/to/hvr-tap-relay (default: target/release, then target/debug).

relay_bin() {
    if [ -n "${HVR_RELAY:-}" ]; then echo "$HVR_RELAY"; return; fi
    local bin="$root/target/release/hvr-tap-relay"
    [ -x "$bin" ] || bin="$root/target/debug/hvr-tap-relay"
    [ -x "$bin" ] || { echo "lab.sh: build first: cargo build --release" >&2; exit 1; }
    echo "$bin"
}

guest() { # guest NAME HV_IF MAC ADDR...
    local name="$1" hvif="$2" mac="$3"
    shift 3
    local g
    g="$(ns "$name")"
    ip -n "$(ns hv)" link add "$hvif" type veth peer name eth0 netns "$g"
    ip -n "$g" link set eth0 address "$mac"
    configure_guest "$g" eth0 "$@"
    ip -n "$(ns hv)" link set "$hvif" up
}

configure_guest() { # configure_guest NS IF ADDR...
    local g="$1" ifname="$2"
    shift 2
    ip -n "$g" link set lo up
    for a in "$@"; do ip -n "$g" addr add "$a" dev "$ifname"; done
    ip -n "$g" link set "$ifname" up
    ip -n "$g" route add default via 192.0.2.1 dev "$ifname"
}

vlan() { # the VLAN: the router's uplink hvr-up0 and the gateway's eth0
    local gw hv
    gw="$(ns gw)"
    hv="$(ns hv)"
    ip -n "$hv" link add hvr-up0 type veth peer name eth0 netns "$gw"
    ip -n "$gw" link set eth0 address 02:00:00:00:01:01
    ip -n "$gw" addr add 192.0.2.1/24 dev eth0
    ip -n "$gw" addr add 192.0.2.99/24 dev eth0
    ip -n "$gw" link set eth0 up
    # A real VLAN carries complete checksums and no GSO super-frames: the gateway is a
    # veth here, so make it compute checksums in software like a physical sender.
    ip netns exec "$gw" ethtool -K eth0 tx off >/dev/null
    # The gateway routes guest 3's extra prefix to the guest's address, as a real VLAN
    # router is configured for routed prefixes.
    ip -n "$gw" route add 203.0.113.0/28 via 192.0.2.30 dev eth0
    ip -n "$hv" link set hvr-up0 up
}

# Delete the uplink (and its peer) and create it again: what ifdown/ifup of a VLAN
# interface does.
relink() {
    ip -n "$(ns hv)" link del hvr-up0
    vlan
}

up() {
    down 2>/dev/null || true
    for n in gw hv g1 g2 g3; do ip netns add "$(ns "$n")"; done
    local gw hv
    gw="$(ns gw)"
    hv="$(ns hv)"
    for n in gw hv; do ip -n "$(ns "$n")" link set lo up; done

    ip -n "$gw" addr add 198.51.100.1/24 dev lo
    ip netns exec "$gw" sysctl -qw net.ipv4.ip_forward=1
    vlan


    guest g1 hvr-g1 02:00:00:00:00:0a 192.0.2.10/24
    guest g2 hvr-g2 02:00:00:00:00:14 192.0.2.20/24

    # Guest 3 behind a real tap: the relay holds both taps' fds, as QEMU would.
    local relay log
    relay="$(relay_bin)"
    log="$(mktemp)"
    ip netns exec "$hv" "$relay" --router-tap hvr-tap3 --guest-tap eth0 \
        --guest-netns "$(ns g3)" >"$log" 2>&1 &
    echo $! >"$relay_pidfile"
    for _ in $(seq 1 100); do
        grep -q '^ready' "$log" && break
        sleep 0.05
    done
    grep -q '^ready' "$log" || { cat "$log" >&2; echo "lab.sh: relay did not start" >&2; exit 1; }
    rm -f "$log"
    ip -n "$(ns g3)" link set eth0 address 02:00:00:00:00:1e
    configure_guest "$(ns g3)" eth0 192.0.2.30/24 203.0.113.1/28
    ip -n "$hv" link set hvr-tap3 up
}

down() {
    if [ -f "$relay_pidfile" ]; then
        local pid
        pid="$(cat "$relay_pidfile")"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        rm -f "$relay_pidfile"
    fi
    for n in g3 g2 g1 hv gw; do
        ip netns del "$(ns "$n")" 2>/dev/null || true
    done
}

case "$cmd" in
    up) up ;;
    down) down ;;
    relink) relink ;;
    *) echo "usage: $0 up|down|relink [TAG]" >&2; exit 2 ;;
esac
