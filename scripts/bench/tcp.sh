#!/usr/bin/env bash
# TCP through the router against the kernel routed setup, side by side, same lab, same run.
#
#   sudo scripts/bench/tcp.sh        # ~15 minutes; writes results/tcp.md, results/tcp.svg,
#                                    # results/tcp.tsv and the TCP section of results/latest.md
#
# scripts/bench.sh measures the kernel setup and the router (gso=auto) the same way,
# interleaved with its UDP rounds; this script compares more router setups, TCP only.
# The lab and the measurements are in scripts/bench/tcp_lab.sh.
#
# The lab is scripts/lab.sh's (namespaces hvr-tcp<pid>-*): the VLAN gateway with tx
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
# its TSO: its super-frames arrive whole); optional (TCP_SETUPS) `hvrouter-adaptive`,
# gso = "auto" with poll = "adaptive" (the worker sleeps when idle, giving CPU 1 back to
# the guests); `hvrouter-2w`, gso = "auto" with `workers = 2`, `cpus = [1, 0]` (the uplink
# and hvr-g2 on worker 0, hvr-g1 and hvr-tap3 on worker 1; scripts/bench/workers.sh
# measures it beside one worker and the kernel). Each path
# is one iperf3 run of TCP_SECONDS with 1 and with 4 streams (-P); the figure is the
# receiver's rate. The table gives the median over the rounds and each router's ratio to
# the kernel.
#
# With TCP_PROFILE=1 (default) it also records CPU 1 (the router's core) and CPU 0 (the
# senders, the relay, and the receive work the kernel does in the sender's context) with
# perf during one extra single-stream run per path, first round, for every setup but the
# kernel's (TCP_PROFILE_SETUPS), and keeps who runs there, the top symbols and the
# shares by category (results/tcp-profile.md).
#
# Environment: TCP_ROUNDS (2), TCP_SECONDS (3), TCP_STREAMS ("1 4"), TCP_PATHS (all:
# gw-g1 g1-gw gw-g3 g3-gw g1-g2 g3-g1), TCP_SETUPS ("kernel hvrouter-nogso hvrouter
# hvrouter-genguests"),
# TCP_PROFILE (1), TCP_PROFILE_SETUPS (the router setups), TCP_ROUTER_BEFORE (another
# build, measured as setup `hvrouter-before`: before/after a change), TCP_ROUTER (binary, default target/release/hvrouter), TCP_FRAMES
# (16384: the router's UMEM frames, 64 MiB, as scripts/bench.sh; a 64 KB super-frame
# takes 16 of them), TCP_OUT (results), TCP_BUILD (1: cargo build --release first).
# Figures only, no thresholds: this is a shared 2-vCPU VM. Needs root.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

rounds="${TCP_ROUNDS:-2}"
tcp_seconds="${TCP_SECONDS:-3}"
tcp_streams_list="${TCP_STREAMS:-1 4}"
tcp_paths="${TCP_PATHS:-gw-g1 g1-gw gw-g3 g3-gw g1-g2 g3-g1}"
setups="${TCP_SETUPS:-kernel hvrouter-nogso hvrouter hvrouter-genguests}"
tcp_profile_setups="${TCP_PROFILE_SETUPS:-hvrouter-nogso hvrouter hvrouter-genguests}"
tcp_frames="${TCP_FRAMES:-16384}"
tcp_router_bin="${TCP_ROUTER:-target/release/hvrouter}"
tcp_router_before="${TCP_ROUTER_BEFORE:-}"
out_dir="${TCP_OUT:-results}"
tcp_tag="tcp$$" # unique per run
tcp_prefix=""

[ "$(id -u)" -eq 0 ] || { echo "tcp bench: needs root (namespaces, AF_XDP)" >&2; exit 1; }
command -v iperf3 >/dev/null || scripts/install-deps.sh
if [ "${TCP_PROFILE:-1}" != 1 ]; then
    tcp_profile_setups=""
elif ! command -v perf >/dev/null; then
    echo "tcp bench: note: no perf (linux-perf): profiles skipped"
    tcp_profile_setups=""
fi
if [ "${TCP_BUILD:-1}" = 1 ]; then
    echo "== building (release)"
    cargo build --release --locked -p hvrouter -p hvrouter-netlab --bins 2>&1 | tail -n 1
fi
export HVR_RELAY="$root/target/release/hvr-tap-relay"

tcp_work="$(mktemp -d /tmp/hvr-tcp.XXXXXX)"
tcp_data="$tcp_work/tcp.tsv"
: >"$tcp_data"
# shellcheck source=scripts/bench/tcp_lab.sh
source scripts/bench/tcp_lab.sh
cleanup() { # after lab_on_exit ended every process this script started
    tcp_cleanup
    rm -rf "$tcp_work"
}
lab_on_exit cleanup

for ((round = 1; round <= rounds; round++)); do
    for setup in $setups; do
        echo "== round $round: $setup"
        tcp_run_setup "$setup" "$round"
    done
done

mkdir -p "$out_dir"
grep -v '^tcpprof' "$tcp_data" >"$out_dir/tcp.tsv" || true
touch "$tcp_work/profile.tsv" "$tcp_work/counters.tsv"
info="$(uname -r); $(nproc) vCPU; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
/usr/bin/python3 scripts/bench/tcp_report.py "$tcp_data" "$tcp_work/profile.tsv" "$tcp_work/counters.tsv" \
    "$out_dir" "$info" "$tcp_seconds" "$rounds" "scripts/bench/tcp.sh"
