#!/usr/bin/env bash
# hvrouter against the kernel "routed" setup it replaces, side by side, in one run.
#
#   sudo scripts/bench.sh              # ~4 minutes; writes results/<date>-<host>.md,
#                                      # results/latest.md and results/*.svg
#
# Builds the same namespace topology twice (hvr-b-gw: the VLAN gateway, hvr-b-hv: the
# hypervisor, hvr-b-g1: a guest behind a veth; only 192.0.2.0/24, 198.51.100.0/24 and
# 203.0.113.0/24 on the wire) and measures:
#   1. kernel: the routed setup exactly as Ganeti/GRNET configure it (proxy_arp and
#      forwarding on the uplink and the guest's interface, `ip rule iif ... lookup 90`,
#      table 90 with default via the gateway, the subnet and the guest /32);
#   2. hvrouter: release build, `hvrouter run`, one worker, poll = busy, pinned to CPU 1;
#   3. raw: the ceiling, hvr-bench-fwd (AF_XDP, one shared UMEM, address hand-over plus a
#      MAC rewrite) on the same veths, pinned to CPU 1.
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
# Then: ARP answer time and first-packet delay from a fresh ARP cache (kernel proxy ARP
# waits up to proxy_delay = 0.8 s), route lookup / guest add scale figures
# (hvr-bench-scale), reload time with 1,000 guests, and a perf profile of CPU 1 at one
# point per setup (BENCH_PROFILE=0 skips it; perf comes from Debian's linux-perf).
#
# Environment: BENCH_SECONDS (1) per window, BENCH_WINDOWS (3) per point, BENCH_WARMUP
# (1), BENCH_SIZES ("64 512 1500"), BENCH_FLOWS ("1 1024"), BENCH_ARP_SAMPLES (8),
# BENCH_RELOAD_GUESTS (1000), BENCH_GEN (hvr-bench-gen | trafgen), BENCH_SINK (xdp |
# stack), BENCH_KERNEL_RPS (1 with hvr-bench-gen, 0 with trafgen), BENCH_OUT (results).
# Figures only, no thresholds: this is a shared 2-vCPU VM. Needs root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

seconds="${BENCH_SECONDS:-1}"
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
out_dir="${BENCH_OUT:-results}"

[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (namespaces, AF_XDP)" >&2; exit 1; }
scripts/install-deps.sh
if [ "$do_profile" = 1 ] && ! command -v perf >/dev/null; then
    apt-get install -y -qq --no-install-recommends linux-perf >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-perf >/dev/null 2>&1; } || true
    command -v perf >/dev/null || { echo "bench: note: no perf (linux-perf): CPU 1 profile skipped"; do_profile=0; }
fi
if [ "$gen" = trafgen ]; then
    command -v trafgen >/dev/null || { echo "bench: trafgen missing (apt-get install netsniff-ng)" >&2; exit 1; }
fi
if [ -e /proc/net/pktgen ]; then
    echo "bench: note: kernel pktgen is present; this script drives $gen in all setups"
fi
echo "== building (release)"
cargo build --release --locked -p hvrouter -p hvrouter-bench 2>&1 | tail -n 1

NS_GW=hvr-b-gw NS_HV=hvr-b-hv NS_G1=hvr-b-g1
GW_IP=192.0.2.1 G1_IP=192.0.2.10 FAR_IP=198.51.100.1
work="$(mktemp -d /tmp/hvr-bench.XXXXXX)"
data="$work/data.tsv"
: >"$data"
rundir=/run/hvrouter-b
pids=()

kill_pid() { # kill a process we started, and the children it forked (by pid)
    local p="$1" c
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill -INT "$c" 2>/dev/null || true; done
    kill -INT "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    local keep=() q
    for q in "${pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    pids=("${keep[@]}")
}
topo_down() {
    for n in $NS_G1 $NS_HV $NS_GW; do ip netns del "$n" 2>/dev/null || true; done
}
cleanup() {
    local p
    for p in "${pids[@]}"; do kill_pid "$p"; done 2>/dev/null
    topo_down
    rm -rf "$work" "$rundir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inns() { local n="$1"; shift; ip netns exec "$n" "$@"; }
mac_of() { inns "$1" cat "/sys/class/net/$2/address"; }
rx_of() { inns "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }
# Frames the sender pushed into the link: sent plus dropped on the way into the peer
# (veth counts a full backlog or ring as the sender's tx_dropped).
tx_of() {
    inns "$1" cat "/sys/class/net/$2/statistics/tx_packets" "/sys/class/net/$2/statistics/tx_dropped" |
        awk '{ s += $1 } END { print s }'
}

topo_up() { # same topology as scripts/lab.sh (uplink, one veth guest), no addresses on hv
    topo_down
    for n in $NS_GW $NS_HV $NS_G1; do ip netns add "$n"; ip -n "$n" link set lo up; done
    ip -n $NS_HV link add hvr-up0 type veth peer name eth0 netns $NS_GW
    ip -n $NS_GW link set eth0 address 02:00:00:00:01:01
    ip -n $NS_GW addr add $GW_IP/24 dev eth0
    ip -n $NS_GW addr add $FAR_IP/24 dev lo
    ip -n $NS_GW link set eth0 up
    inns $NS_GW ethtool -K eth0 tx off >/dev/null
    ip -n $NS_GW route add 203.0.113.0/24 via $G1_IP dev eth0 2>/dev/null || true
    ip -n $NS_HV link add hvr-g1 type veth peer name eth0 netns $NS_G1
    ip -n $NS_G1 link set eth0 address 02:00:00:00:00:0a
    ip -n $NS_G1 addr add $G1_IP/24 dev eth0
    ip -n $NS_G1 link set eth0 up
    inns $NS_G1 ethtool -K eth0 tx off >/dev/null
    ip -n $NS_G1 route add default via $GW_IP dev eth0
    ip -n $NS_HV link set hvr-up0 up
    ip -n $NS_HV link set hvr-g1 up
}

kernel_setup() { # Ganeti/GRNET routed NIC mode, as the incident report shows it
    inns $NS_HV sysctl -qw net.ipv4.ip_forward=1
    for d in hvr-up0 hvr-g1; do
        inns $NS_HV sysctl -qw "net.ipv4.conf.$d.proxy_arp=1" "net.ipv4.conf.$d.forwarding=1"
    done
    ip -n $NS_HV rule add iif hvr-up0 lookup 90
    ip -n $NS_HV rule add iif hvr-g1 lookup 90
    ip -n $NS_HV route add 192.0.2.0/24 dev hvr-up0 table 90
    ip -n $NS_HV route add default via $GW_IP dev hvr-up0 table 90
    ip -n $NS_HV route add $G1_IP/32 dev hvr-g1 table 90
    if [ "$kernel_rps" = 1 ]; then
        for d in hvr-up0 hvr-g1; do
            inns $NS_HV sh -c "echo 2 > /sys/class/net/$d/queues/rx-0/rps_cpus"
        done
    fi
}

router_config() { # router_config FILE EXTRA_NETWORKS GUESTS_PER_EXTRA_NETWORK
    local f="$1" nets="$2" per="$3" k i
    cat >"$f" <<CFG
[router]
control_socket = "$rundir/control.sock"
state_dir = "$rundir/state"
log_level = "warn"

[dataplane]
xdp_mode = "auto"
workers = 1
poll = "busy"
cpus = [1]
burst = 64
frame_size = 4096
frames = 16384

[networks.public_90]
uplink = "hvr-up0"
subnet = "192.0.2.0/24"
gateway = "$GW_IP"
arp_source = "192.0.2.254"

[guests.hvr-g1]
mac = "02:00:00:00:00:0a"
ips = ["$G1_IP"]
network = "public_90"
CFG
    # Extra networks for the reload figure: identical subnets are allowed (one route
    # table each), so 4 x 250 guests fit in documentation space. Their taps do not
    # exist: the router marks them down.
    for ((k = 1; k <= nets; k++)); do
        printf '\n[networks.bench_%d]\nuplink = "hvr-u%d"\nsubnet = "198.51.100.0/24"\ngateway = "198.51.100.1"\n' "$k" "$k" >>"$f"
        for ((i = 0; i < per; i++)); do
            printf '\n[guests.hvb%d-%d]\nmac = "02:00:00:bb:%02x:%02x"\nips = ["198.51.100.%d"]\nnetwork = "bench_%d"\n' \
                "$k" "$i" "$k" "$i" $((i + 2)) "$k" >>"$f"
        done
    done
}

router_start() { # router_start CONFIG
    rm -rf "$rundir"
    mkdir -p "$rundir"
    inns $NS_HV target/release/hvrouter run --config "$1" >"$work/router.out" 2>"$work/router.err" &
    router_pid=$!
    pids+=("$router_pid")
    for _ in $(seq 1 150); do
        inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" ping >/dev/null 2>&1 && return 0
        kill -0 "$router_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$work/router.err" >&2
    echo "bench: hvrouter did not start" >&2
    exit 1
}
router_stop() { kill_pid "$router_pid"; }

fwd_start() {
    target/release/hvr-bench-fwd --ns $NS_HV --cpu 1 --stats "$work/fwd.stats" \
        --a hvr-up0 --a-mac "$(mac_of $NS_HV hvr-up0)" --a-peer "$(mac_of $NS_GW eth0)" \
        --b hvr-g1 --b-mac "$(mac_of $NS_HV hvr-g1)" --b-peer "$(mac_of $NS_G1 eth0)" \
        >"$work/fwd.out" 2>&1 &
    fwd_pid=$!
    pids+=("$fwd_pid")
    for _ in $(seq 1 100); do
        grep -qs '^ready' "$work/fwd.out" && { sed 's/^/    /' "$work/fwd.out"; return 0; }
        kill -0 "$fwd_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$work/fwd.out" >&2
    echo "bench: hvr-bench-fwd did not start" >&2
    exit 1
}

warm() { # resolve neighbors both ways so the measured window has no ARP in it
    inns $NS_GW ping -c 2 -i 0.2 -W 2 $G1_IP >/dev/null || echo "    warn: gateway -> guest ping failed"
    inns $NS_G1 ping -c 2 -i 0.2 -W 2 $FAR_IP >/dev/null || echo "    warn: guest -> VLAN ping failed"
}

# CPU 1's busy jiffies and all jiffies, from /proc/stat.
cpu1_jiffies() { awk '/^cpu1 /{b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6}' /proc/stat; }

# passes_of SETUP: the forwarder's cumulative "frames busy_passes": frames received and
# poll passes that received any (hvrouter: its worker's counters; raw: hvr-bench-fwd's
# stats file). Their ratio is the mean burst, which nears the configured burst (64)
# only when the forwarder cannot keep up. The kernel has no such count: "0 0".
passes_of() {
    case "$1" in
    hvrouter)
        inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" show counters --json |
            /usr/bin/python3 -c 'import json, sys; w = json.load(sys.stdin)["worker"]; print(w["rx"], w["passes"] - w["idle_passes"])'
        ;;
    raw) awk '{ print $3, $4 }' "$work/fwd.stats" ;;
    *) echo 0 0 ;;
    esac
}

# gen_start SNS DA SRC DST FLOWS SIZE SECONDS: the generator on CPU 0, in the background
# (pid in gen_pid).
gen_start() {
    local sns="$1" da="$2" src="$3" dst="$4" flows="$5" size="$6" secs="$7"
    if [ "$gen" = trafgen ]; then
        local sp=1024
        [ "$flows" -le 1 ] || sp="dinc(1024, $((1024 + flows - 1)))"
        # Frame without FCS = size - 4; payload = that - 14 (Ethernet) - 20 (IPv4) - 8 (UDP).
        printf '{ eth(da=%s, sa=%s), ipv4(saddr=%s, daddr=%s, ttl=64), udp(sp=%s, dp=9), fill(0, %d) }\n' \
            "$da" "$(mac_of "$sns" eth0)" "$src" "$dst" "$sp" $((size - 4 - 42)) >"$work/tg.cfg"
        inns "$sns" taskset -c 0 timeout "$secs" trafgen -i "$work/tg.cfg" -o eth0 -P 1 -q -C \
            >"$work/gen.out" 2>&1 &
    else
        target/release/hvr-bench-gen --ns "$sns" --dev eth0 --cpu 0 --dst-mac "$da" \
            --src-ip "$src" --dst-ip "$dst" --flows "$flows" --size "$size" --seconds "$secs" \
            >"$work/gen.out" 2>&1 &
    fi
    gen_pid=$!
    pids+=("$gen_pid")
}

# pps SETUP DIR FLOWS SIZE: the generator in the sender namespace on CPU 0; after the
# warm-up, $windows windows of $seconds each, counted at the receiver (rx_packets of its
# eth0) and at the sender ("offered": what it pushed into the link, see tx_of).
pps() {
    local setup="$1" dir="$2" flows="$3" size="$4"
    local sns rns da src dst
    if [ "$dir" = v2g ]; then
        sns=$NS_GW rns=$NS_G1 src=$FAR_IP dst=$G1_IP
        da="$(ip -n $NS_GW neigh show $G1_IP dev eth0 | awk '/lladdr/{print $3}')"
        [ -n "$da" ] || da="$(mac_of $NS_HV hvr-up0)"
    else
        sns=$NS_G1 rns=$NS_GW src=$G1_IP dst=$FAR_IP
        da="$(ip -n $NS_G1 neigh show $GW_IP dev eth0 | awk '/lladdr/{print $3}')"
        [ -n "$da" ] || da="$(mac_of $NS_HV hvr-g1)"
    fi
    gen_start "$sns" "$da" "$src" "$dst" "$flows" "$size" $((warmup + windows * seconds + 2))
    sleep "$warmup"
    local w rx0 rx1 tx0 tx1 c0 c1 l0 l1 t0 t1 rates=() offered=() busy=() fills=()
    for ((w = 0; w < windows; w++)); do
        t0="$(date +%s%N)" rx0="$(rx_of "$rns" eth0)" tx0="$(tx_of "$sns" eth0)" c0="$(cpu1_jiffies)"
        l0="$(passes_of "$setup")"
        sleep "$seconds"
        t1="$(date +%s%N)" rx1="$(rx_of "$rns" eth0)" tx1="$(tx_of "$sns" eth0)" c1="$(cpu1_jiffies)"
        l1="$(passes_of "$setup")"
        fills+=("$(echo "$l0 $l1" | awk '{ p = $4 - $2; printf "%.1f", (p > 0) ? ($3 - $1) / p : 0 }')")
        # Per second of the window as timed (the counter reads take a few ms each).
        rates+=("$(((rx1 - rx0) * 1000000000 / (t1 - t0)))")
        offered+=("$(((tx1 - tx0) * 1000000000 / (t1 - t0)))")
        busy+=("$(echo "$c0 $c1" | awk '{ t = $4 - $2; printf "%.0f", (t > 0) ? 100 * ($3 - $1) / t : 0 }')")
    done
    kill_pid "$gen_pid"
    if ! grep -q . "$work/gen.out" && [ "$gen" != trafgen ]; then
        echo "    warn: generator printed nothing"
    fi
    # median, min, max of the windows; median offered; median CPU 1 busy %.
    local line
    line="$(printf '%s\n' "${rates[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)], v[1], v[NR]}')"
    line="$line $(printf '%s\n' "${offered[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    line="$line $(printf '%s\n' "${busy[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    line="$line $(printf '%s\n' "${fills[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    read -r med lo hi off cpu fill <<<"$line"
    printf 'pps\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setup" "$dir" "$flows" "$size" \
        "$med" "$lo" "$hi" "$off" "$cpu" "$fill" >>"$data"
    awk -v s="$setup" -v d="$dir" -v f="$flows" -v z="$size" -v m="$med" -v lo="$lo" -v hi="$hi" \
        -v o="$off" -v c="$cpu" -v b="$fill" 'BEGIN { printf "    %-8s %-4s flows=%-5s %5s B  %7.3f Mpps (%.3f-%.3f)  offered %.3f  cpu1 %s%%%s\n", s, d, f, z, m / 1e6, lo / 1e6, hi / 1e6, o / 1e6, c, (b > 0) ? "  burst " b : "" }'
}

# profile SETUP: CPU 1 sampled with perf (cpu-clock, call graphs) during one 64-byte
# VLAN->guest point, summarised by scripts/bench/profile.py: where the forwarder's core
# goes. Skipped without perf (BENCH_PROFILE=0 skips it too).
profile() {
    local setup="$1" da
    [ "$do_profile" = 1 ] || return 0
    da="$(ip -n $NS_GW neigh show $G1_IP dev eth0 | awk '/lladdr/{print $3}')"
    [ -n "$da" ] || da="$(mac_of $NS_HV hvr-up0)"
    gen_start $NS_GW "$da" $FAR_IP $G1_IP 1 64 $((warmup + 2 * seconds + 3))
    sleep "$warmup"
    if perf record -q -e cpu-clock -C 1 -g -o "$work/perf.data" -- sleep $((2 * seconds)) \
        >"$work/perf.out" 2>&1; then
        perf report -i "$work/perf.data" --children --sort sym --stdio -g none \
            >"$work/perf.children" 2>/dev/null || true
        perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none \
            >"$work/perf.dso" 2>/dev/null || true
        /usr/bin/python3 scripts/bench/profile.py "$setup" "$work/perf.children" "$work/perf.dso" |
            tee -a "$data" | awk -F'\t' '{ printf "    profile %s: %s %s%%\n", $2, $3, $4 }'
    else
        echo "    warn: perf record failed: $(tail -n 1 "$work/perf.out")"
    fi
    kill_pid "$gen_pid"
}

# sinks_start / sinks_stop: the XDP receivers on both ends (BENCH_SINK=xdp), so the
# receiver's stack does not run on the forwarder's CPU; ARP still resolves.
sinks_start() {
    [ "$sink" = xdp ] || return 0
    local n
    sink_pids=()
    for n in $NS_GW $NS_G1; do
        target/release/hvr-bench-sink --ns "$n" --dev eth0 >"$work/sink.$n" 2>&1 &
        sink_pids+=($!)
        pids+=($!)
    done
    for n in $NS_GW $NS_G1; do
        for _ in $(seq 1 50); do grep -q '^ready' "$work/sink.$n" && break; sleep 0.1; done
        grep -q '^ready' "$work/sink.$n" || { cat "$work/sink.$n" >&2; echo "bench: sink did not start" >&2; exit 1; }
    done
}
sinks_stop() {
    [ "$sink" = xdp ] || return 0
    local p
    for p in "${sink_pids[@]}"; do kill_pid "$p"; done
}

pps_matrix() {
    local setup="$1" dir flows size
    for dir in v2g g2v; do
        for flows in $flows_list; do
            for size in $sizes; do pps "$setup" "$dir" "$flows" "$size"; done
        done
    done
}

# arping's reply time in ms: it prints "time=52.304 usec" for fast answers and
# "time=283.1 msec" for slow ones.
arping_ms() {
    sed -n 's/.*time=\([0-9.]*\) \(usec\|msec\|sec\).*/\1 \2/p' | head -n 1 |
        awk '{ f = ($2 == "usec") ? 0.001 : (($2 == "sec") ? 1000 : 1); printf "%.3f", $1 * f }'
}

# ARP answer time (arping's reply time) and first-packet delay from a fresh ARP cache
# (ping's first RTT, which includes the resolution), both sides.
arp_timing() {
    local setup="$1" i t
    for ((i = 0; i < arp_samples; i++)); do
        t="$(inns $NS_GW arping -c 1 -w 2 -I eth0 $G1_IP 2>/dev/null | arping_ms)"
        printf 'arp\t%s\tvlan_arp\t%s\n' "$setup" "${t:-timeout}" >>"$data"
        t="$(inns $NS_G1 arping -c 1 -w 2 -I eth0 $GW_IP 2>/dev/null | arping_ms)"
        printf 'arp\t%s\tguest_arp\t%s\n' "$setup" "${t:-timeout}" >>"$data"
        for n in $NS_GW $NS_G1; do ip -n "$n" neigh flush all 2>/dev/null || true; done
        [ "$setup" = kernel ] && ip -n $NS_HV neigh flush all 2>/dev/null || true
        t="$(inns $NS_GW ping -c 1 -W 3 $G1_IP 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p')"
        printf 'arp\t%s\tvlan_first_ping\t%s\n' "$setup" "${t:-timeout}" >>"$data"
        for n in $NS_GW $NS_G1; do ip -n "$n" neigh flush all 2>/dev/null || true; done
        [ "$setup" = kernel ] && ip -n $NS_HV neigh flush all 2>/dev/null || true
        t="$(inns $NS_G1 ping -c 1 -W 3 $FAR_IP 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p')"
        printf 'arp\t%s\tguest_first_ping\t%s\n' "$setup" "${t:-timeout}" >>"$data"
    done
    awk -F'\t' -v s="$setup" '$1=="arp" && $2==s {print "    " $3 ": " $4 " ms"}' "$data" |
        sort | awk -F': ' '{a[$1]=a[$1] " " $2} END {for (k in a) print k ":" a[k]}' | sort
}

echo "== 1/3 kernel routed setup (namespaces hvr-b-*)"
topo_up
kernel_setup
warm
arp_timing kernel
warm
sinks_start
pps_matrix kernel
profile kernel
sinks_stop
topo_down

echo "== 2/3 hvrouter (same topology, rebuilt)"
topo_up
router_config "$work/router.toml" 0 0
router_start "$work/router.toml"
warm
arp_timing hvrouter
warm
sinks_start
pps_matrix hvrouter
profile hvrouter
sinks_stop
router_stop

echo "== reload with $reload_guests guests"
per=250
nets=$(((reload_guests + per - 1) / per))
for ((k = 1; k <= nets; k++)); do
    ip -n $NS_HV link add "hvr-u$k" type veth peer name "hvr-u${k}p"
    ip -n $NS_HV link set "hvr-u$k" up
    ip -n $NS_HV link set "hvr-u${k}p" up
done
router_config "$work/r0.toml" "$nets" 0
router_config "$work/r1.toml" "$nets" "$per"
cp "$work/r0.toml" "$work/reload.toml"
router_start "$work/reload.toml"
for round in 1 2 3; do
    for target in r1 r0; do
        cp "$work/$target.toml" "$work/reload.toml"
        t0=$(date +%s%N)
        inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" reload >"$work/reload.out" 2>&1 ||
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

echo "== 3/3 raw AF_XDP forwarder (the ceiling, same veths)"
fwd_start
sinks_start
pps_matrix raw
profile raw
sinks_stop
kill_pid "$fwd_pid"
topo_down

echo "== scale (in memory, hvrouter-core Tables)"
target/release/hvr-bench-scale | tee "$work/scale.out"
grep '^scale' "$work/scale.out" >>"$data"

echo "== results"
host="$(hostname -s)"
mkdir -p "$out_dir"
info="$(uname -r); $(nproc) vCPU; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
/usr/bin/python3 scripts/bench/report.py "$data" "$out_dir" "$host" "$info" "$seconds" "$kernel_rps" \
    "$windows" "$gen" "$sink"
