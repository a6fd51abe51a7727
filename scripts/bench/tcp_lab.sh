# Sourced by scripts/bench.sh and scripts/bench/tcp.sh: TCP (iperf3) through the router
# against the kernel routed setup, in the lab of scripts/lab.sh (namespaces
# hvr-$tcp_tag-*): the VLAN gateway with tx checksumming off (as a real VLAN: complete
# checksums, MTU-size segments), two guests behind veths (g1, g2) and one behind a real
# tap held by the QEMU-like relay (g3: vnet headers, TSO, 64 KB GSO frames, partial
# checksums).
#
# Settings (set them before calling tcp_run_setup): tcp_tag, tcp_work (a scratch
# directory), tcp_data (the file result lines are appended to), tcp_prefix (put in front
# of each line: "tcp<TAB>" in bench.sh's data file, empty in tcp.sh's), tcp_paths,
# tcp_streams_list, tcp_seconds, tcp_frames (the router's UMEM frames), tcp_router_bin,
# tcp_profile_setups (setups perf records during the first round; empty: none),
# tcp_router_before (the binary of the `hvrouter-before` setup, if measured).
#
# Lines appended to $tcp_data: SETUP PATH STREAMS ROUND MBIT/S; profile lines to
# $tcp_work/profile.tsv (top symbols) and $tcp_data (tcpprof: shares of each CPU by
# category, scripts/bench/tcp_profile.py); router counters to $tcp_work/counters.tsv.
# Built from scripts/lib/lab.sh (sourced here).
# shellcheck shell=bash
# shellcheck source=scripts/lib/lab.sh
source scripts/lib/lab.sh

tcp_router_pid=""
tcp_port=5400

tcp_ns() { echo "hvr-$tcp_tag-$1"; }
tcp_inns() { local n="$1"; shift; lab_inns "$(tcp_ns "$n")" "$@"; }
tcp_ip_of() { case "$1" in gw) echo 192.0.2.1 ;; g1) echo 192.0.2.10 ;; g2) echo 192.0.2.20 ;; g3) echo 192.0.2.30 ;; esac; }
tcp_describe() {
    case "$1" in
    gw-g1) echo "gateway -> veth guest" ;; g1-gw) echo "veth guest -> gateway" ;;
    gw-g3) echo "gateway -> tap guest" ;; g3-gw) echo "tap guest -> gateway" ;;
    g1-g2) echo "veth guest -> veth guest" ;; g3-g1) echo "tap guest -> veth guest" ;;
    *) echo "$1" ;;
    esac
}

tcp_kernel_setup() { # Ganeti/GRNET routed NIC mode on the lab's hypervisor namespace
    lab_kernel_routed "$(tcp_ns hv)" hvr-up0 192.0.2.0/24 192.0.2.1 hvr-g1=192.0.2.10 \
        hvr-g2=192.0.2.20 hvr-tap3=192.0.2.30,203.0.113.0/28
}

tcp_rundir() { echo "/run/hvrouter-$tcp_tag"; }

# tcp_router_start GSO ("auto", "off", or "" to leave the key out) [GUEST_XDP_MODE [POLL
# [FAST_PATH [WORKERS]]]]: WORKERS (1) packet workers on lab_worker_cpus' CPUs (worker 0
# on CPU 1).
tcp_router_start() {
    local gso="$1" guest_mode="${2:-}" poll="${3:-busy}" workers="${5:-1}" rundir extra=""
    rundir="$(tcp_rundir)"
    rm -rf "$rundir"
    mkdir -p "$rundir"
    # An empty GSO leaves the key out (a build from before the key existed).
    [ -z "$gso" ] || extra="\\ngso = \"$gso\""
    [ -z "$guest_mode" ] || extra="$extra\\nguest_xdp_mode = \"$guest_mode\""
    [ -z "${4:-}" ] || extra="$extra\\nfast_path = \"$4\""
    sed -e "s|/run/hvrouter-demo|$rundir|" -e 's|^metrics_listen.*||' -e "s|^frames = .*|frames = $tcp_frames|" \
        -e "s|^workers = .*|workers = $workers|" \
        -e "s|^poll = .*|poll = \"$poll\"\\ncpus = [$(lab_worker_cpus "$workers")]$extra|" \
        configs/demo.toml >"$tcp_work/router.toml"
    if lab_router_start "$(tcp_ns hv)" "$tcp_router_bin" "$tcp_work/router.toml" "$tcp_work"; then
        tcp_router_pid=$lab_last_pid
        return 0
    fi
    tcp_router_pid=$lab_last_pid
    cat "$tcp_work/router.err" >&2
    echo "tcp bench: hvrouter did not start" >&2
    exit 1
}
tcp_router_stop() {
    [ -n "$tcp_router_pid" ] || return 0
    lab_stop "$tcp_router_pid"
    tcp_router_pid=""
}
tcp_cleanup() { # the router, the lab, the run directory (for the caller's EXIT trap)
    tcp_router_stop
    scripts/lab.sh down "$tcp_tag" >/dev/null 2>&1 || true
    rm -rf "$(tcp_rundir)"
}

tcp_warm() { # neighbors resolved everywhere (kernel proxy ARP answers after up to 0.8 s)
    local n
    for n in g1 g2 g3; do
        tcp_inns gw ping -c 2 -i 0.3 -W 2 "$(tcp_ip_of "$n")" >/dev/null 2>&1 || echo "    warn: gateway -> $n ping failed"
    done
    tcp_inns g1 ping -c 2 -i 0.3 -W 2 192.0.2.20 >/dev/null 2>&1 || echo "    warn: g1 -> g2 ping failed"
    tcp_inns g3 ping -c 2 -i 0.3 -W 2 192.0.2.10 >/dev/null 2>&1 || echo "    warn: g3 -> g1 ping failed"
}

tcp_iperf() { # tcp_iperf SRC DST STREAMS SECONDS -> Mbit/s (receiver) on stdout, 0 on failure
    local src="$1" dst="$2" streams="$3" secs="$4" spid rate
    tcp_port=$((tcp_port + 1))
    lab_start "$(tcp_ns "$dst")" /dev/null /dev/null iperf3 -s -1 -p "$tcp_port"
    spid=$lab_last_pid
    sleep 0.2
    rate="$(tcp_inns "$src" iperf3 -c "$(tcp_ip_of "$dst")" -p "$tcp_port" -t "$secs" -P "$streams" -J 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys
try:
    print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    print(0)')"
    lab_stop "$spid"
    echo "${rate:-0}"
}

# tcp_profile SETUP PATH: perf (call graphs) on CPU 1 (the router's core) and CPU 0 (the
# senders, the relay, and the receive work the kernel does in the sender's context) for
# 2 s of one single-stream run: who runs there and the top symbols (profile.tsv), and
# each CPU's shares by category (tcp_profile.py: AF_XDP receive copy, AF_XDP transmit,
# GSO sends, bytes copied, the router's own code, idle).
tcp_profile() {
    local setup="$1" path="$2" src="${2%-*}" dst="${2#*-}" cpu out tids=""
    out="$tcp_work/perf.$setup.$path"
    # The router's threads (its worker is one): other routers may run on the machine.
    if [ -n "$tcp_router_pid" ]; then
        tids="$(ls "/proc/$tcp_router_pid/task" 2>/dev/null | paste -sd, -)"
    fi
    (sleep 1; perf record -q -g -C 1 -o "$out.1.data" -- sleep 2 >/dev/null 2>&1) &
    local p1=$!
    (sleep 1; perf record -q -g -C 0 -o "$out.0.data" -- sleep 2 >/dev/null 2>&1) &
    local p0=$!
    tcp_iperf "$src" "$dst" 1 4 >/dev/null
    wait "$p1" "$p0" 2>/dev/null || true
    for cpu in 1 0; do
        [ -s "$out.$cpu.data" ] || { echo "    warn: no perf data for CPU $cpu"; continue; }
        perf report -q -i "$out.$cpu.data" --no-children --sort comm --percent-limit 3 --stdio -g none 2>/dev/null |
            grep -v '^$' | head -n 6 | sed "s/^/$setup\t$path\tCPU $cpu by command:/" >>"$tcp_work/profile.tsv" || true
        perf report -q -i "$out.$cpu.data" --no-children --sort comm,sym --percent-limit 2 --stdio -g none 2>/dev/null |
            grep -v '^$' | head -n 10 | sed "s/^/$setup\t$path\tCPU $cpu:/" >>"$tcp_work/profile.tsv" || true
        perf report -i "$out.$cpu.data" --children --sort pid,dso,sym --stdio -g none \
            >"$out.$cpu.children" 2>/dev/null || true
        /usr/bin/python3 scripts/bench/tcp_profile.py "$setup" "$path" "$cpu" "$out.$cpu.children" "$tids" |
            sed "s/^/$tcp_prefix/" >>"$tcp_data" || true
        rm -f "$out.$cpu.data" "$out.$cpu.children"
    done
}

tcp_counters() { # tcp_counters SETUP: the router's per-port counters after the run, for the record
    tcp_inns hv "$tcp_router_bin" --socket "$(tcp_rundir)/control.sock" show ports --json 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys
keys = ("rx_packets", "tx_packets", "gso_sent", "gro_merged", "gso_fallback")
# Frames the kernel dropped before the router saw them, by cause (docs/FRAMES.md): no
# fill chunk (rx_no_frame), RX ring full (rx_ring_full); a build from before the split
# counts both as rx_no_frame.
drops = ("rx_no_frame", "rx_ring_full", "rx_invalid_desc")
try:
    for p in json.load(sys.stdin):
        c = p.get("counters", {})
        d = c.get("drops", {})
        f = p.get("frames") or {}
        print(sys.argv[1], p.get("name"), "gso=%s" % p.get("gso", "-"),
              *("%s=%s" % (k, c.get(k, "-")) for k in keys),
              *("%s=%s" % (k, d[k]) for k in drops if k in d),
              "fill=%s/%s" % (f.get("target", "-"), f.get("max", "-")),
              "held_back=%s" % f.get("held_back", "-"), sep="\t")
except Exception as e:
    print(sys.argv[1], "counters unavailable: %s" % e, sep="\t")' "$1" | tee -a "$tcp_work/counters.tsv" | sed 's/^/    /' || true
}

tcp_run_setup() { # tcp_run_setup SETUP ROUND: build the lab, every path and stream count, tear down
    local setup="$1" round="$2" p s r
    scripts/lab.sh up "$tcp_tag" >/dev/null
    case "$setup" in
    kernel) tcp_kernel_setup ;;
    hvrouter) tcp_router_start auto ;;
    hvrouter-nogso) tcp_router_start off ;;
    hvrouter-genguests) tcp_router_start auto generic ;;
    hvrouter-adaptive) tcp_router_start auto "" adaptive ;; # CPU 1 given up when idle
    hvrouter-fast) # the in-kernel fast path; veths in native mode need GRO on their peers
        for n in gw g1 g2; do tcp_inns "$n" ethtool -K eth0 gro on >/dev/null; done
        tcp_router_start auto "" busy on ;;
    # Two workers: the uplink and hvr-g2 (port 2) on worker 0 (CPU 1), hvr-g1 and
    # hvr-tap3 (ports 1 and 3) on worker 1 (CPU 0).
    hvrouter-2w) tcp_router_start auto "" busy "" 2 ;;
    hvrouter-before) # another build (tcp_router_before), same settings: before/after a change
        local bin="$tcp_router_bin"
        tcp_router_bin="$tcp_router_before"
        tcp_router_start auto
        tcp_router_bin="$bin"
        ;;
    hvrouter-nokey) tcp_router_start "" ;; # a build from before the gso key
    *) echo "tcp bench: unknown setup $setup" >&2; exit 1 ;;
    esac
    tcp_warm
    for p in $tcp_paths; do
        for s in $tcp_streams_list; do
            r="$(tcp_iperf "${p%-*}" "${p#*-}" "$s" "$tcp_seconds")"
            printf '%s%s\t%s\t%s\t%s\t%s\n' "$tcp_prefix" "$setup" "$p" "$s" "$round" "$r" >>"$tcp_data"
            printf '    %-8s %-26s P=%s  %6s Mbit/s\n' "$setup" "$(tcp_describe "$p")" "$s" "$r"
        done
        if [ "$round" -eq 1 ] && [[ " $tcp_profile_setups " == *" $setup "* ]]; then
            tcp_profile "$setup" "$p"
        fi
    done
    if [ -n "$tcp_router_pid" ]; then
        tcp_counters "$setup"
        tcp_router_stop
    fi
    scripts/lab.sh down "$tcp_tag" >/dev/null
}
