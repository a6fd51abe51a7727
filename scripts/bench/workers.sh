#!/usr/bin/env bash
# Two packet workers beside one worker and the kernel routed setup, in the same runs:
#
#   sudo scripts/bench/workers.sh      # ~20 minutes; writes results/workers-latest.md
#                                      # and results/workers-latest.tsv
#
# Setups, interleaved in every round (the order rotates from round to round):
#   kernel       the routed setup as Ganeti/GRNET configure it (RPS to CPU 1);
#   hvrouter     one worker, busy poll, on CPU 1 (scripts/bench.sh's router);
#   hvrouter-2w  `workers = 2`, `cpus = [1, 0]`: worker 0 (the uplink) on CPU 1, worker 1
#                on CPU 0. The UDP guest hvr-g1 is port 1, worker 1's: every VLAN->guest
#                frame is received and decided on worker 0 and handed to worker 1 to be
#                sent; every guest->VLAN frame is decided on worker 1 and handed to
#                worker 0, which resolves the gateway and sends it.
#   hvrouter-2w-local  the same two workers, but a guest whose tap never appears takes
#                port 1, so hvr-g1 is port 2, worker 0's: nothing is handed over, worker 1
#                busy-polls idle on CPU 0. UDP only. Against hvrouter-2w it separates the
#                cost of the handoff from that of a second busy thread on the generator's CPU.
# UDP: scripts/bench.sh's topology, generator (CPU 0) and XDP sinks (scripts/bench/
# setups.sh, measure.sh), 64-byte frames both ways, 1 and 1024 flows, and one flow paced
# at BENCH_PACED_RATE; then the same with the receivers' own stacks (saturated). TCP: iperf3 through the lab of scripts/lab.sh
# (scripts/bench/tcp_lab.sh), gateway <-> veth guest, gateway <-> tap guest, veth ->
# veth, tap -> veth, 1 and 4 streams. In the first round, for each router: where CPU 1
# goes during a 64 B VLAN->guest point (perf, scripts/bench/profile.py), who runs on each
# CPU (perf by thread), and the router's counters after its points with the sinks (handoff_full,
# the worker line). At the end, if it is built, hvr-bench-handoff (in-memory ports): the
# cost of one handoff per frame against forwarding on one worker.
#
# These VMs have 2 vCPUs: with two workers the second worker busy-polls on the CPU of the
# generator, the senders and the tap relay. The figures say what that costs here, not
# what a second core would give (see the handoff figures for that).
#
# Environment: BENCH_ROUNDS (3), BENCH_SECONDS (1) per window, BENCH_WINDOWS (3) per point,
# BENCH_WARMUP (1), BENCH_FLOWS ("1 1024"), BENCH_SATURATED (1: the saturated pass),
# BENCH_PACED_RATE (200000: one flow each way with the sinks, the generator paced at that
# many frames/s; empty skips),
# BENCH_TCP (1), BENCH_TCP_STREAMS ("1 4"), BENCH_TCP_SECONDS (3), BENCH_TCP_PATHS (all
# six), BENCH_PROFILE (1), BENCH_ROUTER_FRAMES (16384), BENCH_HANDOFF (the
# hvr-bench-handoff binary; default target/release/hvr-bench-handoff if built, "" skips),
# BENCH_HANDOFF_RUNS (3), BENCH_HANDOFF_SOURCE (where that binary was built from, for the
# report), BENCH_SETUPS (all four; a subset for a quick look), BENCH_OUT
# (results). Figures only, no thresholds. Needs root.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

seconds="${BENCH_SECONDS:-1}"
rounds="${BENCH_ROUNDS:-3}"
windows="${BENCH_WINDOWS:-3}"
warmup="${BENCH_WARMUP:-1}"
sizes=64
flows_list="${BENCH_FLOWS:-1 1024}"
saturated_sizes=64
[ "${BENCH_SATURATED:-1}" = 1 ] || saturated_sizes=""
do_tcp="${BENCH_TCP:-1}"
do_profile="${BENCH_PROFILE:-1}"
router_frames="${BENCH_ROUTER_FRAMES:-16384}"
out_dir="${BENCH_OUT:-results}"
handoff_bin="${BENCH_HANDOFF-target/release/hvr-bench-handoff}"
handoff_runs="${BENCH_HANDOFF_RUNS:-3}"
paced_rate="${BENCH_PACED_RATE-200000}"
gen=hvr-bench-gen sink=xdp kernel_rps=1
tcp_streams_list="${BENCH_TCP_STREAMS:-1 4}"
tcp_seconds="${BENCH_TCP_SECONDS:-3}"
tcp_paths="${BENCH_TCP_PATHS:-gw-g1 g1-gw gw-g3 g3-gw g1-g2 g3-g1}"
setups="${BENCH_SETUPS:-kernel hvrouter hvrouter-2w hvrouter-2w-local}"

[ "$(id -u)" -eq 0 ] || { echo "workers bench: needs root (namespaces, AF_XDP)" >&2; exit 1; }
command -v iperf3 >/dev/null || scripts/install-deps.sh
if [ "$do_profile" = 1 ] && ! command -v perf >/dev/null; then
    echo "workers bench: note: no perf (linux-perf): profiles skipped"
    do_profile=0
fi
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
started="$(date -u '+%Y-%m-%d %H:%M')"
echo "== building (release)"
cargo build --release --locked -p hvrouter -p hvrouter-bench -p hvrouter-netlab --bins 2>&1 | tail -n 1
export HVR_RELAY="$root/target/release/hvr-tap-relay"

# shellcheck source=scripts/bench/setups.sh
source scripts/bench/setups.sh
# shellcheck source=scripts/bench/measure.sh
source scripts/bench/measure.sh
# shellcheck source=scripts/bench/tcp_lab.sh
source scripts/bench/tcp_lab.sh

bench_names "bw$$"
work="$(mktemp -d /tmp/hvr-bench-w.XXXXXX)"
data="$work/data.tsv"
: >"$data"
tcp_tag=bwt$$ tcp_work="$work/tcp" tcp_data="$data" tcp_prefix=$'tcp\t'
tcp_frames="$router_frames" tcp_router_bin=target/release/hvrouter tcp_profile_setups=""
[ "$do_profile" != 1 ] || tcp_profile_setups="hvrouter hvrouter-2w"
mkdir -p "$tcp_work"
cleanup() { # after lab_on_exit ended every process this script started
    tcp_cleanup
    topo_down
    rm -rf "$work" "$rundir"
}
lab_on_exit cleanup

# cpu_users SETUP: who runs on each CPU (perf, all CPUs, by thread) during a 64-byte
# VLAN->guest point: `users` lines, the share of that CPU in percent; this run's router,
# generator and sinks are named as such, anything else (kernel threads, other tenants of
# the machine) by its command.
cpu_users() {
    local setup="$1" p ours=""
    [ "$do_profile" = 1 ] || return 0
    profile_point_start
    for p in ${router_pid:-} "$gen_pid" "${sink_pids[@]}"; do
        ours="$ours $(ls "/proc/$p/task" 2>/dev/null | tr '\n' ' ')"
    done
    if perf record -q -e cpu-clock -a -o "$work/users.data" -- sleep $((2 * seconds)) >"$work/users.out" 2>&1; then
        perf report -q -i "$work/users.data" --no-children --sort cpu,pid --stdio -g none \
            --percent-limit 1 2>/dev/null |
            awk -v s="$setup" -v n="$(nproc)" -v ours="$ours" -v gen="$gen_pid" '
                BEGIN { k = split(ours, t, " "); for (i = 1; i <= k; i++) mine[t[i]] = 1 }
                NF >= 3 { sub("%", "", $1); tid = $3; sub(/:.*/, "", tid); comm = $3; sub(/^[0-9]+:/, "", comm)
                    who = (tid == gen) ? "generator" : (tid in mine) ? "this run: " comm : comm
                    if (tid == 0) who = "idle"
                    printf "users\t%s\t%d\t%s\t%.1f\n", s, $2, who, $1 * n }' |
            tee -a "$data" | awk -F'\t' '{ printf "    CPU %s: %-26s %5.1f %%\n", $3, $4, $5 }'
    else
        echo "    warn: perf record failed: $(tail -n 1 "$work/users.out")"
    fi
    lab_kill_pid "$gen_pid"
}

# router_counters SETUP: after the router's points with the sinks, its worker line and the port
# counters that tell where frames went (received, sent, handed over and dropped).
router_counters() {
    local setup="$1"
    lab_inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" show counters --json |
        /usr/bin/python3 -c '
import json, sys
setup, r = sys.argv[1], json.load(sys.stdin)
w = r["worker"]
share = w["busy_ns"] / max(1, w["busy_ns"] + w["idle_ns"])
fill = w["rx"] / max(1, w["passes"] - w["idle_passes"])
print(f"counter\t{setup}\tworkers\tbusy_share\t{share:.3f}")
print(f"counter\t{setup}\tworkers\tframes_per_busy_pass\t{fill:.1f}")
for p in r["ports"]:
    c, name = p.get("counters", {}), p.get("name")
    for k in ("rx_packets", "tx_packets"):
        print(f"counter\t{setup}\t{name}\t{k}\t{c.get(k, 0)}")
    for k, v in sorted(c.get("drops", {}).items()):
        if v:
            print(f"counter\t{setup}\t{name}\tdrop:{k}\t{v}")
' "$setup" | tee -a "$data" | awk -F'\t' '{ printf "    %-8s %-26s %s\n", $3, $4, $5 }' ||
        echo "    warn: counters unavailable"
}

rotate() { # rotate N WORD...: the words, starting from the (N mod count)-th
    local n="$1"
    shift
    local all=("$@") k=$((n % $#))
    echo "${all[@]:k}" "${all[@]:0:k}"
}

udp_setup() { # udp_setup SETUP ROUND: the 64 B points with the sinks, then saturated
    local setup="$1" round="$2"
    echo "== UDP, $setup, round $round (namespaces hvr-bw$$-*)"
    topo_up
    case "$setup" in
    kernel) kernel_setup && router_pid="" ;;
    hvrouter) router_config "$work/router.toml" 0 0 auto 1 && router_start "$work/router.toml" ;;
    hvrouter-2w) router_config "$work/router.toml" 0 0 auto 2 && router_start "$work/router.toml" ;;
    hvrouter-2w-local)
        ROUTER_PLACEHOLDER_GUEST=1 router_config "$work/router.toml" 0 0 auto 2
        router_start "$work/router.toml"
        ;;
    esac
    warm
    sinks_start
    pps_matrix "$setup"
    if [ "$round" -eq 1 ]; then
        [ "$setup" = kernel ] || router_counters "$setup"
        profile "$setup"
        cpu_users "$setup"
    fi
    # Paced well below every setup's capacity: what arrives when nothing is saturated.
    [ -z "$paced_rate" ] || gen_rate="$paced_rate" flows_list=1 pps_matrix "$setup-paced"
    sinks_stop
    [ -z "$saturated_sizes" ] || saturated_matrix "$setup"
    [ "$setup" = kernel ] || router_stop
    topo_down
}

for ((round = 1; round <= rounds; round++)); do
    # Rotate the order, so no setup always runs first (or last) in a round.
    order="$(rotate $((round - 1)) $setups)"
    for setup in $order; do udp_setup "$setup" "$round"; done
    if [ "$do_tcp" = 1 ]; then
        for setup in $order; do
            [ "$setup" != hvrouter-2w-local ] || continue # UDP only
            echo "== TCP, $setup, round $round (lab of scripts/lab.sh, namespaces hvr-$tcp_tag-*)"
            tcp_run_setup "$setup" "$round"
        done
    fi
done

if [ -n "$handoff_bin" ] && [ -x "$handoff_bin" ]; then
    echo "== handoff cost per frame ($handoff_bin, in-memory ports, $handoff_runs runs)"
    printf 'note\thandoff\t%s\n' "${BENCH_HANDOFF_SOURCE:-$handoff_bin of this tree}" >>"$data"
    for ((i = 1; i <= handoff_runs; i++)); do
        "$handoff_bin" | tee "$work/handoff.out" | sed 's/^/    /'
        awk -v i="$i" '$2 == "local" || $2 == "stepped" || $2 == "threads" {
            printf "handoff\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i, $1, $2, $4, $5, $6, $7 }' \
            "$work/handoff.out" >>"$data"
    done
else
    echo "== handoff cost: no hvr-bench-handoff binary (BENCH_HANDOFF), skipped"
fi

mkdir -p "$out_dir"
cp "$data" "$out_dir/workers-latest.tsv"
touch "$tcp_work/profile.tsv"
grep -h 'CPU [01] by command' "$tcp_work/profile.tsv" | sed 's/^/tcpusers\t/' >>"$out_dir/workers-latest.tsv" || true
info="$(uname -r); $(nproc) vCPU; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
info="$info; hvrouter built from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
/usr/bin/python3 scripts/bench/workers_report.py "$out_dir/workers-latest.tsv" "$out_dir/workers-latest.md" \
    "$info" "$rounds" "$started" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$tcp_seconds"
echo "written: $out_dir/workers-latest.md, $out_dir/workers-latest.tsv"
