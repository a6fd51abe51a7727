#!/usr/bin/env bash
# hvrouter against the kernel "routed" setup it replaces, side by side, in one run.
#
#   sudo scripts/bench.sh              # ~20 minutes; writes results/<date>-<host>.md,
#                                      # results/latest.md (+ .tsv) and results/*.svg
#   BENCH_QUICK=1 sudo -E scripts/bench.sh   # ~4 minutes: one round, 64 B, 1 flow,
#                                      # TCP with 1 stream, no profiles, small scale lab
#
# Builds the same namespace topology twice (hvr-bPID-gw: the VLAN gateway, hvr-bPID-hv: the
# hypervisor, hvr-bPID-g1: a guest behind a veth, PID this script's; only 192.0.2.0/24, 198.51.100.0/24 and
# 203.0.113.0/24 on the wire) and measures:
#   1. kernel: the routed setup exactly as Ganeti/GRNET configure it (proxy_arp and
#      forwarding on the uplink and the guest's interface, `ip rule iif ... lookup 90`,
#      table 90 with default via the gateway, the subnet and the guest /32);
#   2. hvrouter: release build, `hvrouter run`, one worker, poll = busy, pinned to CPU 1;
#   3. raw: the ceiling, hvr-bench-fwd (AF_XDP, one shared UMEM, address hand-over plus a
#      MAC rewrite) on the same veths, pinned to CPU 1;
#   and hvrouter again with the uplink's XDP program in generic mode (`xdp_mode =
#   "generic"`, the guest native), at BENCH_GENERIC_SIZES: a bond0.NN VLAN device has no
#   native XDP, so that is what a real node's uplink gets.
# UDP from hvr-bench-gen (AF_XDP TX in copy mode, pinned to CPU 0; BENCH_GEN=trafgen uses
# netsniff-ng's trafgen instead; kernel pktgen, where /proc/net/pktgen exists, is not wired
# up: this kernel has none), VLAN->guest and guest->VLAN, one flow and 1024 flows (source
# ports), frames of 64, 512 and 1500 bytes (with FCS, as RFC 2544 counts them). Counted at
# the receiver (rx_packets of the receiving namespace's eth0) over BENCH_WINDOWS windows
# after a warm-up; the table gives the median and the spread, next to the rate the sender
# got into the forwarder's device ("offered") and CPU 1's busy share.
#
# Where the work runs (2 vCPUs; see results/README.md):
#   - CPU 0: the generator, and the receive path of the forwarder's ingress veth up to
#     the point where the forwarder takes over (veth hands frames over on the sender's
#     CPU): for hvrouter and raw, the XDP program and the copy into the UMEM; for the
#     kernel, the enqueue to CPU 1's backlog (RPS).
#   - CPU 1: the forwarder. hvrouter/raw busy-poll there; the kernel setup's forwarding
#     softirq is steered there with RPS (BENCH_KERNEL_RPS=1, the default with
#     hvr-bench-gen; 0 forwards inline on CPU 0, sharing it with the generator, which is
#     what trafgen needs: it aborts on the first ENOBUFS that a full backlog causes).
#   - The receiver is hvr-bench-sink (BENCH_SINK=xdp): an XDP program on the receiving
#     eth0 that drops IPv4 and passes ARP. veth delivers on the transmitting CPU, so a
#     full receive (IP, UDP, ICMP port unreachable) would run on CPU 1 and be charged to
#     the forwarder; BENCH_SINK=stack measures that way anyway.
# TCP, interleaved: after each round's UDP setups, the lab of scripts/lab.sh (veth guests
# and a tap guest behind the QEMU-like relay) with the kernel setup and then hvrouter
# (gso = "auto"), iperf3 on six paths (gateway <-> veth guest, gateway <-> tap guest,
# veth -> veth, tap -> veth) with 1 and 4 streams; perf on both CPUs for each path in the
# first round (scripts/bench/tcp_lab.sh; scripts/bench/tcp.sh compares more router
# setups, TCP only).
# Then: ARP answer time and first-packet delay from a fresh ARP cache (kernel proxy ARP
# waits up to proxy_delay = 0.8 s), route lookup / guest add scale figures
# (hvr-bench-scale), with 1, 40, 100 and 250 veth guests (scripts/bench/scale.sh:
# reachability both ways, frame memory per guest, guest add time, one TCP stream as a
# ratio against one guest attached), reload time with 1,000 guests, and a perf profile of CPU 1 at one
# point per setup (BENCH_PROFILE=0 skips it; perf comes from Debian's linux-perf).
#
# Environment: BENCH_ROUNDS (2) rounds over the setups in turn, BENCH_SECONDS (1) per
# window, BENCH_WINDOWS (3) per point, BENCH_WARMUP
# (1), BENCH_SIZES ("64 512 1500"), BENCH_FLOWS ("1 1024"), BENCH_ARP_SAMPLES (8),
# BENCH_RELOAD_GUESTS (1000), BENCH_GEN (hvr-bench-gen | trafgen), BENCH_SINK (xdp |
# stack), BENCH_KERNEL_RPS (1 with hvr-bench-gen, 0 with trafgen), BENCH_SATURATED_SIZES
# ("64": frame sizes measured again with the receivers' stacks, which saturate every
# forwarder; empty skips), BENCH_PROFILE (1), BENCH_ROUTER_FRAMES (16384: hvrouter's UMEM
# chunks), BENCH_SCALE_GUESTS ("1,40,100,250": guest counts of the scale lab),
# BENCH_GENERIC_SIZES ("64": frame sizes with the uplink generic; empty skips), BENCH_TCP
# (1), BENCH_TCP_STREAMS ("1 4"), BENCH_TCP_SECONDS (3), BENCH_TCP_PATHS (all six),
# BENCH_TCP_PROFILE_SETUPS ("kernel hvrouter"), BENCH_QUICK (0), BENCH_OUT (results).
# Figures only, no thresholds: this is a shared 2-vCPU VM. Needs root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

quick="${BENCH_QUICK:-0}"
if [ "$quick" = 1 ]; then # a check that everything runs, not figures to compare
    : "${BENCH_ROUNDS:=1}" "${BENCH_SIZES:=64}" "${BENCH_FLOWS:=1}" "${BENCH_ARP_SAMPLES:=2}"
    : "${BENCH_RELOAD_GUESTS:=250}" "${BENCH_PROFILE:=0}" "${BENCH_SATURATED_SIZES=}"
    : "${BENCH_SCALE_GUESTS:=1,10}" "${BENCH_TCP_STREAMS:=1}" "${BENCH_TCP_SECONDS:=2}"
fi
seconds="${BENCH_SECONDS:-1}"
rounds="${BENCH_ROUNDS:-2}"
windows="${BENCH_WINDOWS:-3}"
warmup="${BENCH_WARMUP:-1}"
sizes="${BENCH_SIZES:-64 512 1500}"
flows_list="${BENCH_FLOWS:-1 1024}"
arp_samples="${BENCH_ARP_SAMPLES:-8}"
reload_guests="${BENCH_RELOAD_GUESTS:-1000}"
gen="${BENCH_GEN:-hvr-bench-gen}"
sink="${BENCH_SINK:-xdp}"
case "$gen" in
hvr-bench-gen) kernel_rps="${BENCH_KERNEL_RPS:-1}" ;;
trafgen) kernel_rps="${BENCH_KERNEL_RPS:-0}" ;;
*) echo "bench: BENCH_GEN must be hvr-bench-gen or trafgen" >&2; exit 1 ;;
esac
case "$sink" in xdp | stack) ;; *) echo "bench: BENCH_SINK must be xdp or stack" >&2; exit 1 ;; esac
do_profile="${BENCH_PROFILE:-1}"
saturated_sizes="${BENCH_SATURATED_SIZES-64}"
router_frames="${BENCH_ROUTER_FRAMES:-16384}"
out_dir="${BENCH_OUT:-results}"
scale_guests="${BENCH_SCALE_GUESTS:-1,40,100,250}"
generic_sizes="${BENCH_GENERIC_SIZES-64}"
do_tcp="${BENCH_TCP:-1}"
tcp_streams_list="${BENCH_TCP_STREAMS:-1 4}"
tcp_seconds="${BENCH_TCP_SECONDS:-3}"
tcp_paths="${BENCH_TCP_PATHS:-gw-g1 g1-gw gw-g3 g3-gw g1-g2 g3-g1}"
tcp_profile_setups="${BENCH_TCP_PROFILE_SETUPS:-kernel hvrouter}"

[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (namespaces, AF_XDP)" >&2; exit 1; }
scripts/install-deps.sh
if [ "$do_profile" = 1 ] && ! command -v perf >/dev/null; then
    apt-get install -y -qq --no-install-recommends linux-perf >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-perf >/dev/null 2>&1; } || true
    command -v perf >/dev/null || { echo "bench: note: no perf (linux-perf): CPU 1 profile skipped"; do_profile=0; }
fi
[ "$do_profile" = 1 ] || tcp_profile_setups=""
if [ "$gen" = trafgen ]; then
    command -v trafgen >/dev/null || { echo "bench: trafgen missing (apt-get install netsniff-ng)" >&2; exit 1; }
fi
if [ -e /proc/net/pktgen ]; then
    echo "bench: note: kernel pktgen is present; this script drives $gen in all setups"
fi
load_start="$(cut -d' ' -f1-3 /proc/loadavg)" # other work on the machine, for the report
echo "== building (release)"
cargo build --release --locked -p hvrouter -p hvrouter-bench -p hvrouter-netlab --bins 2>&1 | tail -n 1
export HVR_RELAY="$root/target/release/hvr-tap-relay" # the tap guest's relay (scripts/lab.sh)

# shellcheck source=scripts/bench/setups.sh
source scripts/bench/setups.sh
# shellcheck source=scripts/bench/measure.sh
source scripts/bench/measure.sh
# shellcheck source=scripts/bench/tcp_lab.sh
source scripts/bench/tcp_lab.sh

# Names unique per run: two runs on one machine (or another script's lab) never share a
# namespace, a run directory or a lab tag.
bench_names "b$$"
work="$(mktemp -d /tmp/hvr-bench.XXXXXX)"
data="$work/data.tsv"
: >"$data"
# The TCP lab (scripts/bench/tcp_lab.sh): its lines go to the same data file.
tcp_tag=bt$$ tcp_work="$work/tcp" tcp_data="$data" tcp_prefix=$'tcp\t'
tcp_frames="$router_frames" tcp_router_bin=target/release/hvrouter
mkdir -p "$tcp_work"

cleanup() { # after lab_on_exit ended every process this script started
    tcp_cleanup
    topo_down
    rm -rf "$work" "$rundir"
}
lab_on_exit cleanup

# One round of packet-rate points for each setup, in turn. ARP timing and the CPU 1
# profile are taken in the first round only; report.py takes each point's median over
# the rounds, so the setups are compared over interleaved stretches of machine time.
kernel_round() { # kernel_round ROUND
    echo "== kernel routed setup, round $1 (namespaces hvr-b$$-*)"
    topo_up
    kernel_setup
    warm
    [ "$1" -gt 1 ] || { arp_timing kernel; warm; }
    sinks_start
    pps_matrix kernel
    [ "$1" -gt 1 ] || profile kernel
    sinks_stop
    [ "$sink" != xdp ] || saturated_matrix kernel
    topo_down
}
hvrouter_and_raw_round() { # hvrouter_and_raw_round ROUND: hvrouter, then raw on the same veths
    echo "== hvrouter, round $1 (same topology, rebuilt)"
    topo_up
    router_config "$work/router.toml" 0 0
    router_start "$work/router.toml"
    warm
    [ "$1" -gt 1 ] || { arp_timing hvrouter; warm; }
    sinks_start
    pps_matrix hvrouter
    [ "$1" -gt 1 ] || profile hvrouter
    sinks_stop
    [ "$sink" != xdp ] || saturated_matrix hvrouter
    router_stop
    if [ -n "$generic_sizes" ]; then
        echo "== hvrouter, uplink in generic XDP mode (as on a bond0.NN device), round $1"
        router_config "$work/router-generic.toml" 0 0 generic
        router_start "$work/router-generic.toml"
        warm
        sinks_start
        pps_matrix hvrouter-genup "$generic_sizes"
        sinks_stop
        router_stop
    fi
    echo "== raw AF_XDP forwarder (the ceiling, same veths), round $1"
    fwd_start
    sinks_start
    pps_matrix raw
    [ "$1" -gt 1 ] || profile raw
    sinks_stop
    [ "$sink" != xdp ] || saturated_matrix raw
    lab_kill_pid "$fwd_pid"
    topo_down
}
tcp_round() { # tcp_round ROUND: TCP through the kernel setup, then through hvrouter
    local setup
    for setup in kernel hvrouter; do
        echo "== TCP, $setup, round $1 (lab of scripts/lab.sh, namespaces hvr-$tcp_tag-*)"
        tcp_run_setup "$setup" "$1"
    done
}
for ((round = 1; round <= rounds; round++)); do
    kernel_round "$round"
    hvrouter_and_raw_round "$round"
    [ "$do_tcp" != 1 ] || tcp_round "$round"
done

echo "== reload with $reload_guests guests"
topo_up
per=250
nets=$(((reload_guests + per - 1) / per))
lab_veth_pairs $NS_HV hvr-u "$nets"
router_config "$work/r0.toml" "$nets" 0
router_config "$work/r1.toml" "$nets" "$per"
cp "$work/r0.toml" "$work/reload.toml"
router_start "$work/reload.toml"
for round in 1 2 3; do
    for target in r1 r0; do
        cp "$work/$target.toml" "$work/reload.toml"
        t0=$(date +%s%N)
        lab_inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" reload >"$work/reload.out" 2>&1 ||
            { cat "$work/reload.out" >&2; echo "    warn: reload failed"; }
        t1=$(date +%s%N)
        what=add
        [ "$target" = r0 ] && what=remove
        ms="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1e6}')"
        printf 'reload\t%s\t%s\t%s\n' "$what" "$((nets * per))" "$ms" >>"$data"
        echo "    reload round $round: $what $((nets * per)) guests: $ms ms (CLI round trip)"
    done
done
router_stop
topo_down

echo "== scale (in memory, hvrouter-core Tables)"
target/release/hvr-bench-scale | tee "$work/scale.out"
grep '^scale' "$work/scale.out" >>"$data"

echo "== scale with guests (veth guests in namespaces, default dataplane settings)"
scripts/bench/scale.sh target/release/hvrouter "$scale_guests" | tee "$work/guests.out"
grep '^guests' "$work/guests.out" >>"$data"

echo "== results"
host="$(hostname -s)"
mkdir -p "$out_dir"
info="$(uname -r); $(nproc) vCPU; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
info="$info; load average (1/5/15 min) at the start $load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
# The previous run's figures, for the 64 B comparison in the report.
previous="$work/previous.tsv"
cp "$out_dir/latest.tsv" "$previous" 2>/dev/null || : >"$previous"
cp "$data" "$out_dir/latest.tsv" # the raw figures: report.py can be re-run on them
/usr/bin/python3 scripts/bench/report.py "$data" "$out_dir" "$host" "$info" "$seconds" "$kernel_rps" \
    "$windows" "$gen" "$sink" "$rounds" "$previous"
if [ "$do_tcp" = 1 ]; then
    # The TCP table, plot and profiles, appended to latest.md (tcp.md, tcp.svg,
    # tcp-profile.md).
    sed -n 's/^tcp\t//p; /^tcpprof\t/p' "$data" >"$work/tcp.tsv"
    grep -v '^tcpprof' "$work/tcp.tsv" >"$out_dir/tcp.tsv" || true
    touch "$tcp_work/profile.tsv" "$tcp_work/counters.tsv"
    /usr/bin/python3 scripts/bench/tcp_report.py "$work/tcp.tsv" "$tcp_work/profile.tsv" \
        "$tcp_work/counters.tsv" "$out_dir" "$info" "$tcp_seconds" "$rounds" scripts/bench.sh >/dev/null
    cp "$out_dir/latest.md" "$out_dir/$(date -u +%F)-$host.md"
    echo "written: $out_dir/tcp.md, $out_dir/tcp.tsv, $out_dir/tcp.svg, $out_dir/tcp-profile.md (TCP section of latest.md)"
fi
