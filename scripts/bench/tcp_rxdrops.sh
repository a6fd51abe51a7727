#!/usr/bin/env bash
# Guest-sender TCP through two router builds, alternating, with the frames the kernel
# dropped before the router saw them (docs/FRAMES.md): a before/after comparison of a
# change to the fill policy, in one run.
#
#   sudo RXD_BEFORE=/path/to/old/hvrouter scripts/bench/tcp_rxdrops.sh
#
# Each round builds the lab of scripts/lab.sh (namespaces hvr-$RXD_TAG-*, as
# scripts/bench/tcp_lab.sh: a VLAN gateway, veth guests g1 and g2, the tap guest g3
# behind the QEMU-like relay) once per build and UMEM size, in turn, and runs each path
# (iperf3, RXD_SECONDS, 1 and 4 streams). Around each run it reads every port's counters
# (`show ports --json`): the sender's port's received frames and its kernel drops by
# cause, `rx_no_frame` (no fill entry) and `rx_ring_full` (RX ring full); a build from
# before the split counts both as `rx_no_frame`. Prints a table: Mbit/s median (range)
# per build, and the sender port's drops as a share of the frames that reached it.
#
# Environment: RXD_BEFORE (required: the old binary), RXD_AFTER (target/release/hvrouter),
# RXD_ROUNDS (3), RXD_SECONDS (3), RXD_STREAMS ("1 4"), RXD_PATHS ("g3-gw g1-gw g1-g2"),
# RXD_FRAMES ("4096 16384": the UMEM frames, each measured), RXD_TAG (rxd<pid>), RXD_OUT (a
# directory to keep the raw rows in; default: a temporary one, removed).
# Figures only, no thresholds: this is a shared 2-vCPU VM. Needs root.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

[ "$(id -u)" -eq 0 ] || { echo "tcp_rxdrops: needs root (namespaces, AF_XDP)" >&2; exit 1; }
before="${RXD_BEFORE:?set RXD_BEFORE to the old build}"
after="${RXD_AFTER:-target/release/hvrouter}"
rounds="${RXD_ROUNDS:-3}"
tcp_seconds="${RXD_SECONDS:-3}"
tcp_streams_list="${RXD_STREAMS:-1 4}"
tcp_paths="${RXD_PATHS:-g3-gw g1-gw g1-g2}"
frames_list="${RXD_FRAMES:-4096 16384}"
tcp_tag="${RXD_TAG:-rxd$$}" # unique per run
tcp_prefix=""
tcp_profile_setups=""
tcp_router_before=""
command -v iperf3 >/dev/null || scripts/install-deps.sh
export HVR_RELAY="${HVR_RELAY:-$root/target/release/hvr-tap-relay}"
[ -x "$HVR_RELAY" ] || { echo "tcp_rxdrops: no tap relay at $HVR_RELAY (cargo build --release -p hvrouter-netlab --bins)" >&2; exit 1; }

tcp_work="$(mktemp -d /tmp/hvr-rxd.XXXXXX)"
tcp_data="$tcp_work/unused.tsv"
rows="$tcp_work/rows.tsv"
: >"$rows"
# shellcheck source=scripts/bench/tcp_lab.sh
source scripts/bench/tcp_lab.sh
cleanup() { # after lab_on_exit ended every process this script started
    tcp_cleanup
    if [ -n "${RXD_OUT:-}" ]; then mkdir -p "$RXD_OUT" && cp "$rows" "$RXD_OUT/"; fi
    rm -rf "$tcp_work"
}
lab_on_exit cleanup

port_of() { case "$1" in g1) echo hvr-g1 ;; g2) echo hvr-g2 ;; g3) echo hvr-tap3 ;; gw) echo hvr-up0 ;; esac; }

# counters PORT: "rx_packets rx_no_frame rx_ring_full" of one port, now
counters() {
    tcp_inns hv "$tcp_router_bin" --socket "$(tcp_rundir)/control.sock" show ports --json 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys
for p in json.load(sys.stdin):
    if p.get("name") == sys.argv[1]:
        c = p.get("counters", {}); d = c.get("drops", {})
        print(c.get("rx_packets", 0), d.get("rx_no_frame", 0), d.get("rx_ring_full", 0))
        break
else:
    print("0 0 0")' "$1"
}

run_build() { # run_build NAME BINARY FRAMES ROUND
    local name="$1" bin="$2" frames="$3" round="$4" p s r port b a
    tcp_router_bin="$bin"
    tcp_frames="$frames"
    scripts/lab.sh up "$tcp_tag" >/dev/null
    tcp_router_start auto
    tcp_warm
    for p in $tcp_paths; do
        port="$(port_of "${p%-*}")"
        for s in $tcp_streams_list; do
            read -r -a b <<<"$(counters "$port")"
            r="$(tcp_iperf "${p%-*}" "${p#*-}" "$s" "$tcp_seconds")"
            sleep 0.2 # the router reads the kernel's counters every few ticks of 10 ms
            read -r -a a <<<"$(counters "$port")"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$frames" "$p" "$s" "$round" "$r" \
                "$((a[0] - b[0]))" "$((a[1] - b[1]))" "$((a[2] - b[2]))" >>"$rows"
            printf '    %-6s frames=%-5s %-26s P=%s %6s Mbit/s  %s rx %s, rx_no_frame +%s, rx_ring_full +%s\n' \
                "$name" "$frames" "$(tcp_describe "$p")" "$s" "$r" "$port" \
                "$((a[0] - b[0]))" "$((a[1] - b[1]))" "$((a[2] - b[2]))"
        done
    done
    tcp_router_stop
    scripts/lab.sh down "$tcp_tag" >/dev/null
}

loads=()
for ((round = 1; round <= rounds; round++)); do
    loads+=("$(cut -d' ' -f1 /proc/loadavg)")
    for frames in $frames_list; do
        # Alternate which build goes first.
        if ((round % 2)); then order="before after"; else order="after before"; fi
        for name in $order; do
            echo "== round $round: $name, $frames frames (load $(cut -d' ' -f1-3 /proc/loadavg))"
            if [ "$name" = before ]; then run_build before "$before" "$frames" "$round"; else run_build after "$after" "$frames" "$round"; fi
        done
    done
done
loads+=("$(cut -d' ' -f1 /proc/loadavg)")

/usr/bin/python3 - "$rows" "${loads[*]}" <<'EOF'
import statistics, sys
rows, loads = sys.argv[1], sys.argv[2].split()
names = {"g3-gw": "tap guest -> gateway", "g1-gw": "veth guest -> gateway",
         "g1-g2": "veth guest -> veth guest", "g3-g1": "tap guest -> veth guest",
         "gw-g1": "gateway -> veth guest", "gw-g3": "gateway -> tap guest"}
data = {}
for line in open(rows):
    build, frames, path, streams, _round, mbps, rx, nofill, ringfull = line.split("\t")
    d = data.setdefault((int(frames), path, int(streams)), {}).setdefault(build, [])
    d.append((float(mbps), int(rx), int(nofill), int(ringfull)))
def rate(v):
    m = [x[0] for x in v]
    return "%.0f (%.0f-%.0f)" % (statistics.median(m), min(m), max(m))
def drops(v):
    rx = sum(x[1] for x in v); nf = sum(x[2] for x in v); rf = sum(x[3] for x in v)
    share = 100.0 * (nf + rf) / (rx + nf + rf) if rx + nf + rf else 0.0
    return "%.1f %% (%d + %d)" % (share, nf, rf)
print()
print("Mbit/s median (range) over %d rounds; drops: the sender's port's kernel drops as a share of the" % len(next(iter(data.values()))["before"]))
print("frames that reached it (rx_no_frame + rx_ring_full, summed over the rounds). Load average (1 min) at each")
print("round's start and at the end: %s." % ", ".join(loads))
print()
print("| frames | path | streams | before Mbit/s | after Mbit/s | after/before | before drops | after drops |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
for (frames, path, streams), v in sorted(data.items()):
    b, a = v.get("before", []), v.get("after", [])
    q = statistics.median(x[0] for x in a) / statistics.median(x[0] for x in b) if a and b and statistics.median(x[0] for x in b) else float("nan")
    print("| %d | %s | %d | %s | %s | %.2fx | %s | %s |" % (frames, names.get(path, path), streams,
          rate(b) if b else "-", rate(a) if a else "-", q, drops(b) if b else "-", drops(a) if a else "-"))
EOF
