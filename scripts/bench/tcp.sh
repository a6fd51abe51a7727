#!/usr/bin/env bash
# TCP through the router against the kernel routed setup, side by side, same lab, same run.
#
#   sudo scripts/bench/tcp.sh        # ~6 minutes; writes results/tcp.md, results/tcp.svg,
#                                    # results/tcp.tsv and the TCP section of results/latest.md
#
# The lab is scripts/lab.sh's (namespaces hvr-tcp-*): the VLAN gateway with tx
# checksumming off (as a real VLAN: complete checksums, MTU-size segments), two guests
# behind veths (g1, g2) and one behind a real tap held by the QEMU-like relay (g3: vnet
# headers, TSO, 64 KB GSO frames, partial checksums). Each round builds it once per
# setup, in turn: `kernel`, the routed setup exactly as Ganeti/GRNET configure it
# (proxy_arp and forwarding, `ip rule iif <dev> lookup 90`, table 90); `hvrouter`,
# `hvrouter run` (release, one worker, poll = busy, CPU 1, configs/demo.toml otherwise)
# with `[dataplane] gso = "auto"` (super-frames whole, segments coalesced, sent through a
# packet socket with virtio-net headers); `hvrouter-nogso`, the same with gso = "off"
# (software segmentation, every frame through AF_XDP: the router before GSO);
# `hvrouter-genguests`, gso = "auto" with guest_xdp_mode = "generic" (a veth guest keeps
# its TSO: its super-frames arrive whole). Each path
# is one iperf3 run of TCP_SECONDS with 1 and with 4 streams (-P); the figure is the
# receiver's rate. The table gives the median over the rounds and each router's ratio to
# the kernel.
#
# With TCP_PROFILE=1 (default) it also records CPU 1 (the router's core) and CPU 0 (the
# senders, the relay, and the receive work the kernel does in the sender's context) with
# perf during one extra single-stream run per path, first round, and keeps who runs there
# and the top symbols (results/tcp-profile.md).
#
# Environment: TCP_ROUNDS (2), TCP_SECONDS (3), TCP_STREAMS ("1 4"), TCP_PATHS (all:
# gw-g1 g1-gw gw-g3 g3-gw g1-g2 g3-g1), TCP_SETUPS ("kernel hvrouter-nogso hvrouter
# hvrouter-genguests"),
# TCP_PROFILE (1), TCP_ROUTER (binary, default target/release/hvrouter), TCP_FRAMES
# (16384: the router's UMEM frames, 64 MiB, as scripts/bench.sh; a 64 KB super-frame
# takes 16 of them), TCP_OUT (results), TCP_BUILD (1: cargo build --release first).
# Figures only, no thresholds: this is a shared 2-vCPU VM. Needs root.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

rounds="${TCP_ROUNDS:-2}"
seconds="${TCP_SECONDS:-3}"
streams_list="${TCP_STREAMS:-1 4}"
paths="${TCP_PATHS:-gw-g1 g1-gw gw-g3 g3-gw g1-g2 g3-g1}"
do_profile="${TCP_PROFILE:-1}"
setups="${TCP_SETUPS:-kernel hvrouter-nogso hvrouter hvrouter-genguests}"
frames="${TCP_FRAMES:-16384}"
router_bin="${TCP_ROUTER:-target/release/hvrouter}"
out_dir="${TCP_OUT:-results}"
tag=tcp
ns() { echo "hvr-$tag-$1"; }
inns() { local n="$1"; shift; ip netns exec "$(ns "$n")" "$@"; }

[ "$(id -u)" -eq 0 ] || { echo "tcp bench: needs root (namespaces, AF_XDP)" >&2; exit 1; }
command -v iperf3 >/dev/null || scripts/install-deps.sh
if [ "$do_profile" = 1 ] && ! command -v perf >/dev/null; then
    echo "tcp bench: note: no perf (linux-perf): profiles skipped"
    do_profile=0
fi
if [ "${TCP_BUILD:-1}" = 1 ]; then
    echo "== building (release)"
    cargo build --release --locked -p hvrouter -p hvrouter-netlab --bins 2>&1 | tail -n 1
fi
export HVR_RELAY="$root/target/release/hvr-tap-relay"

work="$(mktemp -d /tmp/hvr-tcp.XXXXXX)"
data="$work/tcp.tsv"
: >"$data"
rundir="/run/hvrouter-$tag"
router_pid=""
cleanup() {
    if [ -n "$router_pid" ]; then
        kill -TERM "$router_pid" 2>/dev/null || true
        wait "$router_pid" 2>/dev/null || true
    fi
    scripts/lab.sh down "$tag" >/dev/null 2>&1 || true
    rm -rf "$work" "$rundir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip_of() { case "$1" in gw) echo 192.0.2.1 ;; g1) echo 192.0.2.10 ;; g2) echo 192.0.2.20 ;; g3) echo 192.0.2.30 ;; esac; }
describe() {
    case "$1" in
    gw-g1) echo "gateway -> veth guest" ;; g1-gw) echo "veth guest -> gateway" ;;
    gw-g3) echo "gateway -> tap guest" ;; g3-gw) echo "tap guest -> gateway" ;;
    g1-g2) echo "veth guest -> veth guest" ;; g3-g1) echo "tap guest -> veth guest" ;;
    *) echo "$1" ;;
    esac
}

kernel_setup() { # Ganeti/GRNET routed NIC mode on the lab's hypervisor namespace
    local hv d
    hv="$(ns hv)"
    inns hv sysctl -qw net.ipv4.ip_forward=1
    for d in hvr-up0 hvr-g1 hvr-g2 hvr-tap3; do
        inns hv sysctl -qw "net.ipv4.conf.$d.proxy_arp=1" "net.ipv4.conf.$d.forwarding=1"
        ip -n "$hv" rule add iif "$d" lookup 90
    done
    ip -n "$hv" route add 192.0.2.0/24 dev hvr-up0 table 90
    ip -n "$hv" route add default via 192.0.2.1 dev hvr-up0 table 90
    ip -n "$hv" route add 192.0.2.10/32 dev hvr-g1 table 90
    ip -n "$hv" route add 192.0.2.20/32 dev hvr-g2 table 90
    ip -n "$hv" route add 192.0.2.30/32 dev hvr-tap3 table 90
    ip -n "$hv" route add 203.0.113.0/28 via 192.0.2.30 dev hvr-tap3 table 90
}

router_start() { # router_start GSO ("auto", "off", or "" to leave the key out) [GUEST_XDP_MODE]
    local gso="$1" guest_mode="${2:-}"
    rm -rf "$rundir"
    mkdir -p "$rundir"
    local extra=""
    # An empty TCP_GSO leaves the key out (a build from before the key existed).
    [ -z "$gso" ] || extra="\\ngso = \"$gso\""
    [ -z "$guest_mode" ] || extra="$extra\\nguest_xdp_mode = \"$guest_mode\""
    sed -e "s|/run/hvrouter-demo|$rundir|" -e 's|^metrics_listen.*||' -e "s|^frames = .*|frames = $frames|" \
        -e "s|^poll = .*|poll = \"busy\"\\ncpus = [1]$extra|" configs/demo.toml >"$work/router.toml"
    # `ip netns exec` execs the router: $! is its pid (a shell function would fork).
    ip netns exec "$(ns hv)" "$router_bin" run --config "$work/router.toml" \
        >"$work/router.out" 2>"$work/router.err" &
    router_pid=$!
    for _ in $(seq 1 100); do
        grep -qs 'event=started' "$work/router.err" && return 0
        kill -0 "$router_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$work/router.err" >&2
    echo "tcp bench: hvrouter did not start" >&2
    exit 1
}
router_stop() {
    [ -n "$router_pid" ] || return 0
    kill -TERM "$router_pid" 2>/dev/null || true
    wait "$router_pid" 2>/dev/null || true
    router_pid=""
}

warm() { # neighbors resolved everywhere (kernel proxy ARP answers after up to 0.8 s)
    local n
    for n in g1 g2 g3; do
        inns gw ping -c 2 -i 0.3 -W 2 "$(ip_of "$n")" >/dev/null 2>&1 || echo "    warn: gateway -> $n ping failed"
    done
    inns g1 ping -c 2 -i 0.3 -W 2 192.0.2.20 >/dev/null 2>&1 || echo "    warn: g1 -> g2 ping failed"
    inns g3 ping -c 2 -i 0.3 -W 2 192.0.2.10 >/dev/null 2>&1 || echo "    warn: g3 -> g1 ping failed"
}

port=5400
iperf() { # iperf SRC DST STREAMS SECONDS -> Mbit/s (receiver) on stdout, 0 on failure
    local src="$1" dst="$2" streams="$3" secs="$4" spid rate
    port=$((port + 1))
    ip netns exec "$(ns "$dst")" iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
    spid=$!
    sleep 0.2
    rate="$(inns "$src" iperf3 -c "$(ip_of "$dst")" -p "$port" -t "$secs" -P "$streams" -J 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys
try:
    print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    print(0)')"
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    echo "${rate:-0}"
}

profile() { # profile SETUP PATH: perf on CPU 1 (the router's) and CPU 0 during one stream
    local setup="$1" path="$2" src="${2%-*}" dst="${2#*-}" cpu
    [ "$do_profile" = 1 ] || return 0
    local out="$work/perf.$setup.$path"
    (sleep 1; perf record -q -C 1 -o "$out.1.data" -- sleep 2 >/dev/null 2>&1) &
    local p1=$!
    (sleep 1; perf record -q -C 0 -o "$out.0.data" -- sleep 2 >/dev/null 2>&1) &
    local p0=$!
    iperf "$src" "$dst" 1 4 >/dev/null
    wait "$p1" "$p0" 2>/dev/null || true
    for cpu in 1 0; do
        # Who runs there (by command), then the hottest symbols.
        perf report -q -i "$out.$cpu.data" --no-children --sort comm --percent-limit 3 --stdio 2>/dev/null |
            grep -v '^$' | head -n 6 | sed "s/^/$setup\t$path\tCPU $cpu by command:/" >>"$work/profile.tsv" || true
        perf report -q -i "$out.$cpu.data" --no-children --sort comm,sym --percent-limit 2 --stdio 2>/dev/null |
            grep -v '^$' | head -n 10 | sed "s/^/$setup\t$path\tCPU $cpu:/" >>"$work/profile.tsv" || true
        rm -f "$out.$cpu.data"
    done
}

counters() { # counters SETUP: the router's per-port counters after the run, for the record
    inns hv "$router_bin" --socket "$rundir/control.sock" show ports --json 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys
keys = ("tx_packets", "gso_sent", "gro_merged", "gso_fallback")
try:
    for p in json.load(sys.stdin):
        c = p.get("counters", {})
        print(sys.argv[1], p.get("name"), *("%s=%s" % (k, c.get(k, "-")) for k in keys), sep="\t")
except Exception as e:
    print(sys.argv[1], "counters unavailable: %s" % e, sep="\t")' "$1" | tee -a "$work/counters.tsv" | sed 's/^/    /' || true
}

run_setup() { # run_setup SETUP ROUND
    local setup="$1" round="$2" p s r
    scripts/lab.sh up "$tag" >/dev/null
    case "$setup" in
    kernel) kernel_setup ;;
    hvrouter) router_start auto ;;
    hvrouter-nogso) router_start off ;;
    hvrouter-genguests) router_start auto generic ;;
    hvrouter-nokey) router_start "" ;; # a build from before the gso key
    *) echo "tcp bench: unknown setup $setup" >&2; exit 1 ;;
    esac
    warm
    for p in $paths; do
        for s in $streams_list; do
            r="$(iperf "${p%-*}" "${p#*-}" "$s" "$seconds")"
            printf '%s\t%s\t%s\t%s\t%s\n' "$setup" "$p" "$s" "$round" "$r" >>"$data"
            printf '    %-8s %-26s P=%s  %6s Mbit/s\n' "$setup" "$(describe "$p")" "$s" "$r"
        done
        [ "$round" -gt 1 ] || profile "$setup" "$p"
    done
    if [ -n "$router_pid" ]; then
        counters "$setup"
        router_stop
    fi
    scripts/lab.sh down "$tag" >/dev/null
}

for ((round = 1; round <= rounds; round++)); do
    for setup in $setups; do
        echo "== round $round: $setup"
        run_setup "$setup" "$round"
    done
done

mkdir -p "$out_dir"
cp "$data" "$out_dir/tcp.tsv"
touch "$work/profile.tsv"
info="$(uname -r); $(nproc) vCPU; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
touch "$work/counters.tsv"
/usr/bin/python3 scripts/bench/tcp_report.py "$data" "$work/profile.tsv" "$work/counters.tsv" \
    "$out_dir" "$info" "$seconds" "$rounds"
