#!/usr/bin/env bash
# A lab with many guests, built fast (ip -batch): for the scale test
# (crates/hvrouter/tests/scale.rs) and the scale bench (scripts/bench/scale.sh).
#
#   scripts/bench/scale-lab.sh up   TAG N   build it: namespaces hvr-TAG-gw, hvr-TAG-hv and
#                                          hvr-TAG-g1 .. hvr-TAG-gN
#   scripts/bench/scale-lab.sh down TAG     remove them (idempotent)
#   scripts/bench/scale-lab.sh config TAG N DIR [FRAMES] [GUESTS]
#                                          print a router configuration for it on default
#                                          dataplane settings (FRAMES: set dataplane.frames;
#                                          GUESTS: how many of the N guests it lists, all
#                                          by default)
#   scripts/bench/scale-lab.sh guest N      print "TAP MAC IP" of guest N
#
#   hvr-TAG-gw   the VLAN: gateway 192.0.2.1/24 on eth0 (MAC 02:00:00:00:01:01)
#   hvr-TAG-hv   the hypervisor: hvr-up0 (the uplink, peer of gw's eth0) and hvr-gI (peer
#                of guest I's eth0). No addresses: hvrouter routes.
#   hvr-TAG-gI   guest I: 192.0.2.(I+1)/24, MAC 02:00:00:00:HH:LL (I in hex), default
#                via 192.0.2.1. I = 1..250 (192.0.2.2 .. 192.0.2.251).
#
# IPv6 is off on every link (addrgenmode none): no DAD or MLD frames. Built with ip
# -batch (250 guests in seconds) on scripts/lib/lab.sh's conventions. Only 192.0.2.0/24;
# nothing touches the host's own interfaces or routes.
set -euo pipefail

cmd="${1:-}"
tag="${2:-sc}"
ns() { echo "hvr-$tag-$1"; }
max_guests=250
# shellcheck source=scripts/lib/lab.sh
source "$(dirname "$0")/../lib/lab.sh"

guest() { # guest I -> "TAP MAC IP"
    local i="$1"
    printf 'hvr-g%d 02:00:00:00:%02x:%02x 192.0.2.%d\n' "$i" $((i / 256)) $((i % 256)) $((i + 1))
}

up() {
    local n="$1"
    [ "$n" -ge 1 ] && [ "$n" -le "$max_guests" ] || { echo "1..$max_guests guests" >&2; exit 2; }
    down
    local hv gw
    hv="$(ns hv)"
    gw="$(ns gw)"
    {
        echo "netns add $gw"
        echo "netns add $hv"
        for i in $(seq 1 "$n"); do echo "netns add $(ns "g$i")"; done
    } | ip -batch -
    {
        echo "link set lo up"
        echo "link add hvr-up0 type veth peer name eth0 netns $gw"
        echo "link set hvr-up0 addrgenmode none"
        echo "link set hvr-up0 up"
        for i in $(seq 1 "$n"); do
            read -r tap mac _ < <(guest "$i")
            echo "link add $tap type veth peer name eth0 address $mac netns $(ns "g$i")"
            echo "link set $tap addrgenmode none"
            echo "link set $tap up"
        done
    } | ip -n "$hv" -batch -
    {
        echo "link set lo up"
        echo "link set eth0 address $LAB_GATEWAY_MAC"
        echo "link set eth0 addrgenmode none"
        echo "addr add $LAB_GATEWAY/24 dev eth0"
        echo "link set eth0 up"
    } | ip -n "$gw" -batch -
    # A real VLAN carries complete checksums: make the gateway's veth compute them.
    lab_inns "$gw" ethtool -K eth0 tx off >/dev/null
    for i in $(seq 1 "$n"); do
        read -r _ _ ip < <(guest "$i")
        printf '%s\n' "link set lo up" "link set eth0 addrgenmode none" \
            "addr add $ip/24 dev eth0" "link set eth0 up" \
            "route add default via $LAB_GATEWAY dev eth0" | ip -n "$(ns "g$i")" -batch - &
        # A few at a time: each is one short ip process.
        if (( i % 16 == 0 )); then wait; fi
    done
    wait
}

down() { # exactly this lab's namespaces: hvr-TAG-gw, hvr-TAG-hv, hvr-TAG-gN
    local list
    list="$(ip netns list | awk '{print $1}' | grep -E "^hvr-$tag-(gw|hv|g[0-9]+)$" || true)"
    # shellcheck disable=SC2086 # one name per word
    lab_ns_del $list
}

config() { # config N DIR [FRAMES] [GUESTS]
    local n="$1" dir="$2" frames="${3:-}" listed="${4:-$1}"
    cat <<EOF
# Scale lab $tag: $n guests, default dataplane settings except the poll mode.
[router]
control_socket = "$dir/control.sock"
state_dir = "$dir/state"
metrics_listen = "off"

[dataplane]
poll = "adaptive"
EOF
    [ -n "$frames" ] && echo "frames = $frames"
    cat <<EOF

[networks.public_90]
uplink = "hvr-up0"
subnet = "192.0.2.0/24"
gateway = "192.0.2.1"
arp_source = "192.0.2.254"
EOF
    for i in $(seq 1 "$listed"); do
        read -r tap mac ip < <(guest "$i")
        printf '\n[guests.%s]\nmac = "%s"\nips = ["%s"]\nnetwork = "public_90"\n' "$tap" "$mac" "$ip"
    done
}

case "$cmd" in
    up) up "${3:?guest count}" ;;
    down) down ;;
    config) config "${3:?guest count}" "${4:?run directory}" "${5:-}" "${6:-}" ;;
    guest) guest "${2:?guest number}" ;;
    *) echo "usage: $0 up TAG N | down TAG | config TAG N DIR [FRAMES] [GUESTS] | guest N" >&2; exit 2 ;;
esac
