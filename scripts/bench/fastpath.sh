#!/usr/bin/env bash
# The in-kernel fast path (`[dataplane] fast_path = "on"`) beside hvrouter without it
# and the kernel routed setup, in one run, on scripts/bench.sh's topology, generator
# and receivers (scripts/bench/setups.sh, scripts/bench/measure.sh):
#
#   sudo scripts/bench/fastpath.sh     # ~5 minutes; writes results/fastpath-latest.md
#
# Rows: kernel (RPS to CPU 1), hvrouter (one worker, busy poll on CPU 1), hvrouter-fp
# (the same with fast_path = "on", poll = "adaptive" and the worker on CPU 0: frames the
# XDP program forwards never wake it, and it must not take CPU 1 from the fast path). The fast path runs in the ingress veth's NAPI poll, which veth
# schedules on the sending CPU (CPU 0, the generator's); here the NAPI of hvr-up0 and
# hvr-g1 is threaded and its kernel threads pinned to CPU 1 (SCHED_FIFO, as softirq work
# preempts tasks), so the fast path forwards on the forwarder's CPU as the kernel setup
# does with RPS. A veth takes redirected frames
# only when its peer runs NAPI: the receivers' XDP sinks do; for the saturated pass (no
# sink) GRO is turned on on both receivers' eth0 in the hvrouter-fp rounds.
#
# Packet rate: 64 B (BENCH_SIZES), VLAN->guest and guest->VLAN, 1 and 1024 flows, the
# sink's count as in bench.sh, then the same with the receivers' stacks (saturated).
# CPU per packet: the generator paced at BENCH_FIXED_RATE (200000) frames/s; the
# forwarder's own CPU time per frame received: the kernel setup's CPU 1 softirq time, the
# fast path's NAPI threads' time (see own_ticks; hvrouter busy-polls, so it has none).
# Each paced run also prints where frames were lost on the way (loss_counters).
#
# Environment as bench.sh: BENCH_ROUNDS (2), BENCH_SECONDS (1), BENCH_WINDOWS (3),
# BENCH_WARMUP (1), BENCH_SIZES ("64"), BENCH_FLOWS ("1 1024"), BENCH_ROUTER_FRAMES
# (16384), BENCH_OUT (results); BENCH_FIXED_RATE. Figures only, no thresholds. Needs root.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

seconds="${BENCH_SECONDS:-1}"
rounds="${BENCH_ROUNDS:-2}"
windows="${BENCH_WINDOWS:-3}"
warmup="${BENCH_WARMUP:-1}"
sizes="${BENCH_SIZES:-64}"
flows_list="${BENCH_FLOWS:-1 1024}"
fixed_rate="${BENCH_FIXED_RATE:-200000}"
router_frames="${BENCH_ROUTER_FRAMES:-16384}"
out_dir="${BENCH_OUT:-results}"
gen=hvr-bench-gen sink=xdp kernel_rps=1 saturated_sizes=64

[ "$(id -u)" -eq 0 ] || { echo "fastpath: needs root (namespaces, AF_XDP)" >&2; exit 1; }
echo "== building (release)"
cargo build --release --locked -p hvrouter -p hvrouter-bench 2>&1 | tail -n 1

# shellcheck source=scripts/bench/setups.sh
source scripts/bench/setups.sh
# shellcheck source=scripts/bench/measure.sh
source scripts/bench/measure.sh

# Names unique per run, as bench.sh's (namespaces hvr-b<pid>-*).
bench_names "b$$"
work="$(mktemp -d /tmp/hvr-bench-fp.XXXXXX)"
data="$work/data.tsv"
: >"$data"
cleanup() { # after lab_on_exit ended every process this script started
    topo_down
    rm -rf "$work" "$rundir"
}
lab_on_exit cleanup

fp_config() { # the bench's configuration with the fast path on, the (idle) worker on CPU 0
    router_config "$1" 0 0
    sed -i -e 's/^poll = "busy"/poll = "adaptive"/' -e 's/^cpus = \[1\]/cpus = [0]/' \
        -e 's/^frames = .*/&\nfast_path = "on"/' "$1"
}

napi_pin() { # threaded NAPI on the router's veths, its new kernel threads on CPU 1
    local before after d p
    before="$(ps -eo pid=,comm= | awk '$2 ~ /^napi\// {print $1}' | sort)"
    for d in hvr-up0 hvr-g1; do
        lab_inns $NS_HV sh -c "echo 1 > /sys/class/net/$d/threaded" ||
            echo "    warn: no threaded NAPI on $d"
    done
    after="$(ps -eo pid=,comm= | awk '$2 ~ /^napi\// {print $1}' | sort)"
    napi_pids="$(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
    for p in $napi_pids; do
        taskset -pc 1 "$p" >/dev/null
        # Softirq work (the kernel setup's RPS forwarding) preempts every task; a NAPI
        # thread is a task: as a real-time one it is not starved by other processes.
        chrt -f -p 1 "$p" || echo "    warn: NAPI thread $p stays SCHED_OTHER"
    done
}
napi_pids=""

# The forwarder's own CPU time, in USER_HZ ticks: for the kernel setup CPU 1's softirq
# time (RPS runs its forwarding there), for the fast path its NAPI threads' time (the
# receivers' NAPI, scheduled from them, runs inside them too). Other tenants' processes
# on a shared machine are in neither.
own_ticks() { # own_ticks SETUP
    case "$1" in
    kernel) awk '/^cpu1 /{print $8}' /proc/stat ;;
    *)
        local p t=0 st
        for p in $napi_pids; do
            st="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
            t=$((t + $(echo "${st##*) }" | awk '{print $12 + $13}')))
        done
        echo "$t"
        ;;
    esac
}

# Where frames can be lost between the generator and the sink, as NAME VALUE lines: the
# veths' own counters (veth_xmit drops as tx_dropped; a full or NAPI-less receive ring
# of a redirect as tx_queue_*_xdp_xmit_errors; rx_queue_*_drops), softnet's dropped and
# time_squeeze per CPU, and, with the fast path, the router's drops and refused
# redirects. The sinks' own XDP drops are their work, not losses.
loss_counters() {
    local ns d
    for ns in "$NS_GW:eth0" "$NS_HV:hvr-up0" "$NS_HV:hvr-g1" "$NS_G1:eth0"; do
        d="${ns#*:}" ns="${ns%%:*}"
        lab_inns "$ns" ethtool -S "$d" 2>/dev/null |
            awk -v p="${ns##*-}/$d" '$1 ~ /(drops|errors?):$/ && $1 !~ /xdp_drops/ {print p "." $1, $2}'
        lab_inns "$ns" cat "/sys/class/net/$d/statistics/tx_dropped" "/sys/class/net/$d/statistics/rx_dropped" |
            paste - - | awk -v p="${ns##*-}/$d" '{print p ".tx_dropped", $1; print p ".rx_dropped", $2}'
    done
    local cpu=0 processed dropped squeezed rest
    while read -r processed dropped squeezed rest; do
        echo "softnet.cpu$cpu.dropped $((16#$dropped))"
        echo "softnet.cpu$cpu.squeezed $((16#$squeezed))"
        cpu=$((cpu + 1))
    done </proc/net/softnet_stat
    [ -S "$rundir/control.sock" ] || return 0
    lab_inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" show counters 2>/dev/null |
        awk '$2 == "fast_path_redirect_failed" || $2 == "drop" {n = $1 "." $2; if ($2 == "drop") n = n "." $3; print "router." n, $NF}'
}

# fixed SETUP DIR: the generator paced at $fixed_rate; CPU 1's busy share and what
# arrived, over $windows windows.
fixed() {
    local setup="$1" dir="$2" sns rns src dst da
    if [ "$dir" = v2g ]; then
        sns=$NS_GW rns=$NS_G1 src=$FAR_IP dst=$G1_IP
        da="$(ip -n $NS_GW neigh show $G1_IP dev eth0 | awk '/lladdr/{print $3}')"
    else
        sns=$NS_G1 rns=$NS_GW src=$G1_IP dst=$FAR_IP
        da="$(ip -n $NS_G1 neigh show $GW_IP dev eth0 | awk '/lladdr/{print $3}')"
    fi
    target/release/hvr-bench-gen --ns "$sns" --dev eth0 --cpu 0 --dst-mac "$da" \
        --src-ip "$src" --dst-ip "$dst" --flows 1 --size 64 --rate "$fixed_rate" \
        --seconds $((warmup + windows * seconds + 2)) >"$work/gen.out" 2>&1 &
    gen_pid=$!
    lab_track "$gen_pid"
    sleep "$warmup"
    loss_counters >"$work/loss.0" || true
    local w t0 t1 rx0 rx1 tx0 tx1 c0 c1 o0 o1 rates=() busy=() offered=() own=()
    for ((w = 0; w < windows; w++)); do
        t0="$(date +%s%N)" rx0="$(lab_rx "$rns" eth0)" tx0="$(lab_tx "$sns" eth0)" c0="$(cpu1_jiffies)"
        o0="$(own_ticks "$setup")"
        sleep "$seconds"
        t1="$(date +%s%N)" rx1="$(lab_rx "$rns" eth0)" tx1="$(lab_tx "$sns" eth0)" c1="$(cpu1_jiffies)"
        o1="$(own_ticks "$setup")"
        own+=("$(echo "$o0 $o1 $rx0 $rx1" | awk '{ n = $4 - $3; printf "%.3f", (n > 0) ? ($2 - $1) * 10000 / n : 0 }')")
        rates+=("$(((rx1 - rx0) * 1000000000 / (t1 - t0)))")
        offered+=("$(((tx1 - tx0) * 1000000000 / (t1 - t0)))")
        busy+=("$(echo "$c0 $c1" | awk '{ t = $4 - $2; printf "%.1f", (t > 0) ? 100 * ($3 - $1) / t : 0 }')")
    done
    loss_counters >"$work/loss.1" || true
    lab_kill_pid "$gen_pid"
    echo "    losses over the windows: $(awk 'NR == FNR {v[$1] = $2; next} $2 - v[$1] > 0 {printf "%s +%d  ", $1, $2 - v[$1]}' "$work/loss.0" "$work/loss.1")"
    local med cpu off us
    med="$(printf '%s\n' "${rates[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    off="$(printf '%s\n' "${offered[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    us="$(printf '%s\n' "${own[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    echo "    generator: $(cat "$work/gen.out" | tr '\n' ' ')"
    cpu="$(printf '%s\n' "${busy[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    printf 'fixed\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setup" "$dir" "$fixed_rate" "$med" "$cpu" "$off" "$us" >>"$data"
    awk -v s="$setup" -v d="$dir" -v m="$med" -v c="$cpu" -v o="$off" -v u="$us" 'BEGIN {
        printf "    %-11s %-4s paced: offered %.3f, received %.3f Mpps, cpu1 %s%%, forwarder %s us per frame\n",
            s, d, o / 1e6, m / 1e6, c, u }'
}

for ((round = 1; round <= rounds; round++)); do
    echo "== kernel routed setup, round $round"
    topo_up
    kernel_setup
    warm
    sinks_start
    pps_matrix kernel
    for dir in v2g g2v; do fixed kernel "$dir"; done
    sinks_stop
    saturated_matrix kernel
    topo_down

    echo "== hvrouter, round $round"
    topo_up
    router_config "$work/router.toml" 0 0
    router_start "$work/router.toml"
    warm
    sinks_start
    pps_matrix hvrouter
    sinks_stop
    saturated_matrix hvrouter
    router_stop
    topo_down

    echo "== hvrouter with the fast path, round $round"
    topo_up
    for n in $NS_GW $NS_G1; do lab_inns "$n" ethtool -K eth0 gro on >/dev/null; done
    fp_config "$work/router-fp.toml"
    router_start "$work/router-fp.toml"
    napi_pin
    warm
    warm
    sinks_start
    pps_matrix hvrouter-fp
    for dir in v2g g2v; do fixed hvrouter-fp "$dir"; done
    sinks_stop
    saturated_matrix hvrouter-fp
    lab_inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" show counters |
        grep -E 'fast_path|rx_packets|tx_packets' | sed 's/^/    /' || true
    router_stop
    topo_down
done

mkdir -p "$out_dir"
cp "$data" "$out_dir/fastpath-latest.tsv"
/usr/bin/python3 - "$data" "$out_dir/fastpath-latest.md" "$(uname -r); $(nproc) vCPU" "$rounds" "$fixed_rate" <<'PY'
import collections, statistics, sys, time
data, out, info, rounds, rate = sys.argv[1:6]
pps, fixed = collections.defaultdict(list), collections.defaultdict(list)
for line in open(data):
    f = line.rstrip("\n").split("\t")
    if f[0] == "pps":
        pps[(f[1], f[2], f[3], f[4])].append(int(f[5]))
    elif f[0] == "fixed":
        fixed[(f[1], f[2])].append((int(f[4]), float(f[5]), int(f[6]), float(f[7])))
med = lambda v: statistics.median(v) if v else None
fmt = lambda v: "-" if v is None else f"{v / 1e6:.3f}"
ratio = lambda a, b: "-" if not a or not b else f"{a / b:.2f}x"
name = {"v2g": "VLAN->guest", "g2v": "guest->VLAN"}
lines = [f"# The fast path beside hvrouter and the kernel setup: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC",
         "", f"Machine: {info}. Produced by `sudo scripts/bench/fastpath.sh`; {rounds} round(s),",
         "each point the median over rounds of each round's median window. A shared, noisy VM:",
         "compare columns of one run only.", ""]
for title, suffix in (("Packet rate with the XDP sinks (Mpps)", ""),
                      ("Saturated: the receivers' own stacks (Mpps)", "-stack")):
    lines += [f"## {title}", "",
              "| direction | flows | frame | kernel | hvrouter | hvrouter fast path | fast path/kernel | fast path/hvrouter |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    keys = sorted({k[1:] for k in pps if k[0] == "kernel" + suffix}, key=lambda k: (k[0] != "v2g", int(k[1]), int(k[2])))
    for d, fl, sz in keys:
        k, h, f = (med(pps[(s + suffix, d, fl, sz)]) for s in ("kernel", "hvrouter", "hvrouter-fp"))
        lines.append(f"| {name[d]} | {fl} | {sz} | {fmt(k)} | {fmt(h)} | {fmt(f)} | {ratio(f, k)} | {ratio(f, h)} |")
    lines.append("")
lines += ["## The forwarder's CPU time per frame at a fixed offered rate", "",
          f"64 B, one flow, the generator paced at {int(rate):,} frames/s. Forwarder time: the kernel",
          "setup's CPU 1 softirq time (RPS forwarding, and the receiver's XDP sink it runs), the",
          "fast path's NAPI threads' time (the program, the redirect and the receiver's sink), in",
          "USER_HZ ticks over the frames received (median window). CPU 1 busy: the whole CPU,",
          "other tenants of the shared machine included. hvrouter without the fast path",
          "busy-polls CPU 1 (always 100 %), so it has no such figure here.", "",
          "| direction | kernel offered | received | CPU 1 busy | us/frame | fast path offered | received | CPU 1 busy | us/frame | fast path/kernel |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for d in ("v2g", "g2v"):
    row = []
    for s in ("kernel", "hvrouter-fp"):
        v = fixed.get((s, d), [])
        rx = med([x[0] for x in v])
        cpu = med([x[1] for x in v])
        off = med([x[2] for x in v])
        us = med([x[3] for x in v])
        row.append((off, rx, cpu, us))
    (ko, kr, kc, ku), (fo, fr, fc, fu) = row
    f2 = lambda v: "-" if v is None else f"{v:.2f}"
    lines.append(f"| {name[d]} | {fmt(ko)} | {fmt(kr)} | {f2(kc)} % | {f2(ku)} | {fmt(fo)} | {fmt(fr)} | {f2(fc)} % | {f2(fu)} | {ratio(fu, ku)} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
