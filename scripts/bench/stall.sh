#!/usr/bin/env bash
# Does the control plane stall forwarding? A timestamped 10 kpps UDP stream from the VLAN
# to a guest, through hvrouter, while the control plane works; the receiver prints the
# longest gap between arrivals and how many gaps exceed 5 ms.
#
#   sudo scripts/bench/stall.sh            # STALL_RUNS (3) runs of every scenario
#
# Scenarios, each in its own window of the stream:
#   quiet          nothing happens (the noise floor of this machine)
#   guests         100 guests added, then removed, through the control socket
#                  (`hvrouter guest add/del`, one CLI call each; their veths exist)
#   reload-add     SIGHUP reload of a configuration with 1,000 more guests (4 networks
#                  x 250; their devices are absent, the 4 networks' uplinks present)
#   reload-remove  SIGHUP reload back to the configuration without them
# Columns: longest gap between arrivals and gaps over 5 ms at the receiver, the most a
# datagram was delayed beyond the path's own delay (a stall holds or loses what arrives
# meanwhile), datagrams lost, the sender's own longest gap (a noisy machine stalls the
# sender too: a gap the sender also had is not the router's), and the router's own
# figures: its worker's longest housekeeping call in the window (`show counters`: the
# longest it stopped polling, for control jobs between bursts), and the longest among
# the calls during which no other task preempted it (its own work and waits: on a
# loaded machine other tasks also take the worker's CPU). The router is started afresh
# for each window, the reloads' on the configuration they start from.
#
# Namespaces hvr-st<pid>-{gw,hv,g1}: the VLAN gateway 192.0.2.1, the hypervisor (the
# uplink hvr-up0, guest veth hvr-g1, the extra guests' veths hvr-sN / hvr-sNp, the extra
# networks' uplinks hvr-uK / hvr-uKp), the guest 192.0.2.10. Only 192.0.2.0/24 and
# 198.51.100.0/24; removed on exit. Release binaries: cargo build --release -p hvrouter
# -p hvrouter-bench. Figures only, no thresholds: a shared 2-vCPU VM. Needs root.
set -euo pipefail
[ -n "${STALL_TRACE:-}" ] && set -x
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

runs="${STALL_RUNS:-3}"
rate="${STALL_RATE:-10000}"
n_guests="${STALL_GUESTS:-100}"
per_net=250
nets=4
tag="hvr-st$$"
NS_GW="$tag-gw"
NS_HV="$tag-hv"
NS_G1="$tag-g1"
work="$(mktemp -d /tmp/hvr-stall.XXXXXX)"
rundir="$work/run"
router="${STALL_ROUTER:-target/release/hvrouter}"
meter=target/release/hvr-bench-stall
# shellcheck source=scripts/lib/lab.sh
source scripts/lib/lab.sh

[ "$(id -u)" = 0 ] || { echo "stall.sh: needs root" >&2; exit 1; }
for b in "$router" "$meter"; do
    [ -x "$b" ] || { echo "stall.sh: build first: cargo build --release -p hvrouter -p hvrouter-bench" >&2; exit 1; }
done

# Processes started in the background run `ip netns exec` directly (it execs the tool),
# so that $! is the tool's pid.
cleanup() { # after lab_on_exit ended every process this script started
    lab_ns_del $NS_GW $NS_HV $NS_G1
    rm -rf "$work"
}
lab_on_exit cleanup

topo_up() {
    lab_ns_add $NS_GW $NS_HV $NS_G1
    lab_uplink $NS_HV $NS_GW 192.0.2.1/24
    lab_veth_guest $NS_HV hvr-g1 $NS_G1 02:00:00:00:00:0a 192.0.2.10/24
    lab_veth_pairs $NS_HV hvr-s "$n_guests"
    lab_veth_pairs $NS_HV hvr-u "$nets"
}

config() { # config FILE WITH_RELOAD_GUESTS(0|1)
    local f="$1" with="$2"
    cat >"$f" <<CFG
[router]
control_socket = "$rundir/control.sock"
state_dir = "$rundir/state"
log_level = "warn"

[dataplane]
frames = 16384

[networks.public_90]
uplink = "hvr-up0"
subnet = "192.0.2.0/24"
gateway = "192.0.2.1"
arp_source = "192.0.2.254"

[guests.hvr-g1]
mac = "02:00:00:00:00:0a"
ips = ["192.0.2.10"]
network = "public_90"
CFG
    lab_config_networks st hvst "$nets" $((with * per_net)) >>"$f"
}

ctl() { lab_inns $NS_HV "$router" --socket "$rundir/control.sock" "$@"; }

router_start() { # router_start CONFIG
    rm -rf "$rundir"
    mkdir -p "$rundir"
    cp "$1" "$work/router.toml"
    lab_start $NS_HV "$work/router.out" "$work/router.err" "$router" run --config "$work/router.toml"
    router_pid=$lab_last_pid
    lab_wait_until "$router_pid" 150 0.1 ctl ping >/dev/null 2>&1 && return 0
    cat "$work/router.err" >&2
    echo "stall.sh: hvrouter did not start" >&2
    exit 1
}

guest_count() { ctl guest list --json | grep -o '"tap"' | wc -l; }

wait_guests() { # wait_guests N: until the router lists N guests (up to 120 s)
    for _ in $(seq 1 1200); do
        [ "$(guest_count)" = "$1" ] && return 0
        sleep 0.1
    done
    echo "stall.sh: the router never listed $1 guests" >&2
    return 1
}

act_quiet() { sleep 2; }
# A request the router did not answer in time ("router busy": the CLI waits 2 s) is
# retried (add and del are idempotent) and counted: that is a stall of its own.
busy=0
ctl_retry() {
    local try
    for try in 1 2 3 4 5; do
        ctl "$@" >/dev/null 2>"$work/ctl.err" && return 0
        grep -q 'router busy' "$work/ctl.err" || { cat "$work/ctl.err" >&2; return 1; }
        busy=$((busy + 1))
    done
    cat "$work/ctl.err" >&2
    return 1
}
act_guests() {
    local i
    for ((i = 1; i <= n_guests; i++)); do
        ctl_retry guest add --tap "hvr-s$i" --mac "$(printf '02:00:00:00:aa:%02x' "$i")" \
            --network public_90 --ip "192.0.2.$((100 + i))"
    done
    for ((i = 1; i <= n_guests; i++)); do ctl_retry guest del --tap "hvr-s$i"; done
    [ "$busy" = 0 ] || echo "    guests: $busy requests answered 'router busy' (over 2 s) and retried" >&2
    busy=0
}
act_reload_add() {
    cp "$work/big.toml" "$work/router.toml"
    kill -HUP "$router_pid"
    wait_guests $((1 + nets * per_net))
}
act_reload_remove() {
    cp "$work/base.toml" "$work/router.toml"
    kill -HUP "$router_pid"
    wait_guests 1
}

# The worker's longest housekeeping call since the router started, in ms, and the
# longest among those during which it was not preempted ("-" from a router that does
# not report them).
router_pause() {
    local json key ns out=()
    json="$(ctl show counters --json)"
    for key in longest_housekeeping_ns longest_unpreempted_housekeeping_ns; do
        ns="$(echo "$json" | grep -o "\"$key\": *[0-9]*" | grep -o '[0-9]*$' || true)"
        if [ -n "$ns" ]; then out+=("$(echo "scale=2; $ns / 1000000" | bc)"); else out+=("-"); fi
    done
    echo "${out[0]} ${out[1]}"
}

window() { # window NAME ACTION CONFIG: a router started on CONFIG; the stream runs from
    # 1 s before ACTION to 1 s after it
    local name="$1" act="$2" rx_pid tx_pid t0 t1 pause own
    router_start "$3"
    lab_inns $NS_GW ping -c 2 -i 0.2 -W 2 192.0.2.10 >/dev/null || echo "warn: gateway -> guest ping failed"
    ip netns exec $NS_G1 "$meter" --role recv --port 9000 --secs 300 >"$work/rx" 2>&1 &
    rx_pid=$!
    lab_track "$rx_pid"
    for _ in $(seq 1 50); do grep -qs '^ready' "$work/rx" && break; sleep 0.1; done
    ip netns exec $NS_GW "$meter" --role send --to 192.0.2.10:9000 --rate "$rate" >"$work/tx" 2>&1 &
    tx_pid=$!
    lab_track "$tx_pid"
    sleep 1
    t0=$(date +%s.%N)
    "$act"
    t1=$(date +%s.%N)
    sleep 1
    lab_stop "$tx_pid"
    wait "$rx_pid" 2>/dev/null || true
    read -r pause own < <(router_pause)
    lab_stop "$router_pid"
    local rx tx
    grep -q '^received' "$work/rx" || sed 's/^/    receiver: /' "$work/rx" >&2
    grep -q '^sent' "$work/tx" || sed 's/^/    sender: /' "$work/tx" >&2
    rx="$(grep '^received' "$work/rx" || echo "received ? lost ? longest_gap_ms ? gaps_over_5ms ? max_added_delay_ms ?")"
    tx="$(grep '^sent' "$work/tx" || echo "sent ? send_errors ? longest_send_gap_ms ?")"
    # shellcheck disable=SC2086
    set -- $rx
    local gap="$6" over="$8" delay="${10}" lost="$4"
    # shellcheck disable=SC2086
    set -- $tx
    printf '%-4s %-14s %8.2fs %14s %10s %16s %8s %15s %16s %16s\n' "$run" "$name" \
        "$(echo "$t1 - $t0" | bc)" "$gap" "$over" "$delay" "$lost" "$6" "$pause" "$own"
}

topo_up
config "$work/base.toml" 0
config "$work/big.toml" 1
lab_inns $NS_G1 ping -c 1 -W 1 192.0.2.1 >/dev/null 2>&1 || true
echo "$router ($(git rev-parse --short HEAD 2>/dev/null || echo "?") tree), $rate pps VLAN -> guest, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %-14s %9s %14s %10s %16s %8s %15s %16s %16s\n' run scenario action longest_gap_ms \
    gaps_gt_5ms max_added_delay_ms lost send_gap_ms router_pause_ms own_pause_ms
for ((run = 1; run <= runs; run++)); do
    window quiet act_quiet "$work/base.toml"
    window guests act_guests "$work/base.toml"
    window reload-add act_reload_add "$work/base.toml"
    window reload-remove act_reload_remove "$work/big.toml"
done
