#!/usr/bin/env bash
# Scale figures with real guests: for each guest count, a lab of veth guests
# (scripts/bench/scale-lab.sh), the router on default dataplane settings (no `frames`),
# and per count:
#   - reachability: guests that ping the gateway, and that the gateway pings;
#   - frame memory: the UMEM (all of it pinned by XDP_UMEM_REG, and resident), and the
#     router's resident set (VmRSS), per guest;
#   - guest add time: `hvrouter guest add` of the last GUESTS_ADDED guests at run time
#     (the others are in the configuration), median round trip;
#   - TCP: one iperf3 stream gateway -> guest 1 (TCP_SECONDS each, median of TCP_ROUNDS
#     runs), to divide by the same stream with one guest attached (the first count
#     should be 1).
#
#   scripts/bench/scale.sh [ROUTER_BIN] [COUNTS]      (root; default target/release/hvrouter, 1,40,100,250)
#
# Prints one line per count:
#   guests N reach_both reach_out reach_in umem_bytes rss_bytes add_ms tcp_mbps
# Namespaces hvr-scbPID-*; removed at the end, also on failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
router="${1:-$root/target/release/hvrouter}"
counts="${2:-1,40,100,250}"
added="${GUESTS_ADDED:-5}"
tcp_seconds="${TCP_SECONDS:-5}"
tcp_rounds="${TCP_ROUNDS:-3}"
tag="scb$$" # unique per run
lab="$root/scripts/bench/scale-lab.sh"
dir="$(mktemp -d /tmp/hvr-scale-bench.XXXXXX)"
pid=""
iperf_pid=""
# shellcheck source=scripts/lib/lab.sh
source "$root/scripts/lib/lab.sh"

cleanup() { # after lab_on_exit ended the router and iperf3
    "$lab" down "$tag" || true
    rm -rf "$dir"
}
lab_on_exit cleanup

ns() { echo "hvr-$tag-$1"; }
t_start=$(date +%s)
phase() { echo "# $(( $(date +%s) - t_start ))s: $*" >&2; }

# reach N: "both out in" counts of guests reachable (guest -> gateway, gateway -> guest).
reach() {
    local n="$1" out=0 in=0 both=0 i
    local res="$dir/reach"
    rm -rf "$res"; mkdir -p "$res"
    for i in $(seq 1 "$n"); do
        read -r _ _ ip < <("$lab" guest "$i")
        ( ip netns exec "$(ns "g$i")" ping -q -c 1 -i 0.2 -w 4 192.0.2.1 >/dev/null 2>&1 && touch "$res/out$i" ) &
        ( ip netns exec "$(ns gw)" ping -q -c 1 -i 0.2 -w 4 "$ip" >/dev/null 2>&1 && touch "$res/in$i" ) &
        if (( i % 25 == 0 )); then wait; fi
    done
    wait
    for i in $(seq 1 "$n"); do
        [ -e "$res/out$i" ] && out=$((out + 1))
        [ -e "$res/in$i" ] && in=$((in + 1))
        [ -e "$res/out$i" ] && [ -e "$res/in$i" ] && both=$((both + 1))
    done
    echo "$both $out $in"
}

start_router() {
    local n="$1" listed="$2"
    "$lab" config "$tag" "$n" "$dir/run" "" "$listed" >"$dir/router.toml"
    mkdir -p "$dir/run"
    if lab_router_start "$(ns hv)" "$router" "$dir/router.toml" "$dir" 600 0.05; then
        pid=$lab_last_pid
        return 0
    fi
    echo "router did not start" >&2
    cat "$dir/router.err" >&2
    exit 1
}

stop_router() {
    lab_stop "$pid"
    pid=""
}

echo "# guests reach_both reach_out reach_in umem_bytes rss_bytes add_ms tcp_mbps"
for n in ${counts//,/ }; do
    phase "$n guests: lab"
    "$lab" up "$tag" "$n"
    phase "router"
    k=$(( n > added ? added : n - 1 ))
    start_router "$n" $((n - k))
    # Guest add time: the last k guests at run time, one CLI round trip each.
    times=()
    for i in $(seq $((n - k + 1)) "$n"); do
        read -r tap mac ip < <("$lab" guest "$i")
        t0=$(date +%s%N)
        out=$("$router" --socket "$dir/run/control.sock" guest add --tap "$tap" --mac "$mac" \
            --network public_90 --ip "$ip" 2>&1) || echo "guest add $tap refused: $out" >&2
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000 )))
    done
    add_ms="-"
    if [ "${#times[@]}" -gt 0 ]; then
        add_ms=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}')
    fi
    phase "reachability"
    sleep 1
    read -r both outr inr < <(reach "$n")
    pinned=$( (grep -o 'pinned_bytes=[0-9]*' "$dir/router.err" || true) | tail -1 | cut -d= -f2)
    # Routers that do not log it use the default UMEM: 4096 frames of 4096 bytes.
    pinned="${pinned:-16777216}"
    rss=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$pid/status")
    phase "tcp"
    # One TCP stream to guest 1 while the others idle: the median of TCP_ROUNDS runs.
    rates=()
    for _ in $(seq 1 "$tcp_rounds"); do
        lab_start "$(ns g1)" /dev/null /dev/null iperf3 -s -1 -p 5201
        iperf_pid=$lab_last_pid
        sleep 0.3
        rates+=("$(ip netns exec "$(ns gw)" iperf3 -c 192.0.2.2 -p 5201 -t "$tcp_seconds" -J 2>/dev/null |
            python3 -c 'import json,sys
try: print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception: print("-")')")
        lab_stop "$iperf_pid"
        iperf_pid=""
    done
    echo "# tcp Mbit/s: ${rates[*]}" >&2
    mbps=$(printf '%s\n' "${rates[@]}" | grep -v '^-$' | sort -n |
        awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}')
    grep -oE 'event=(port_no_frames|umem_small|guest_rejected|umem_grown)' "$dir/router.err" | sort | uniq -c | sed 's/^/# /' >&2 || true
    phase "stop"
    stop_router
    printf 'guests\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$both" "$outr" "$inr" "$pinned" "$rss" "$add_ms" "$mbps"
done
