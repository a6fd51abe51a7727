# Sourced by scripts/bench.sh: the measurements (packet rate per point, CPU 1
# profile, ARP timing). Each appends tab-separated lines to $data for report.py.
# Uses bench.sh's settings and helpers and scripts/bench/setups.sh.
# shellcheck shell=bash

# CPU 1's busy jiffies and all jiffies, from /proc/stat.
cpu1_jiffies() { awk '/^cpu1 /{b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6}' /proc/stat; }

# passes_of SETUP: the forwarder's cumulative "frames busy_passes": frames received and
# poll passes that received any (hvrouter: its worker's counters; raw: hvr-bench-fwd's
# stats file). Their ratio is the mean burst, which nears the configured burst (64)
# only when the forwarder cannot keep up. The kernel has no such count: "0 0".
passes_of() {
    case "$1" in
    hvrouter*) # "0 0" when the router does not answer in time (a starved worker)
        lab_inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" show counters --json 2>/dev/null |
            /usr/bin/python3 -c 'import json, sys; w = json.load(sys.stdin)["worker"]; print(w["rx"], w["passes"] - w["idle_passes"])' \
                2>/dev/null || echo 0 0
        ;;
    raw*) awk '{ print $3, $4 }' "$work/fwd.stats" ;;
    *) echo 0 0 ;;
    esac
}

# gen_start SNS DA SRC DST FLOWS SIZE SECONDS: the generator on CPU 0, in the background
# (pid in gen_pid). With gen_rate set (hvr-bench-gen only), paced at that many frames/s.
gen_start() {
    local sns="$1" da="$2" src="$3" dst="$4" flows="$5" size="$6" secs="$7"
    if [ "$gen" = trafgen ]; then
        local sp=1024
        [ "$flows" -le 1 ] || sp="dinc(1024, $((1024 + flows - 1)))"
        # Frame without FCS = size - 4; payload = that - 14 (Ethernet) - 20 (IPv4) - 8 (UDP).
        printf '{ eth(da=%s, sa=%s), ipv4(saddr=%s, daddr=%s, ttl=64), udp(sp=%s, dp=9), fill(0, %d) }\n' \
            "$da" "$(lab_mac "$sns" eth0)" "$src" "$dst" "$sp" $((size - 4 - 42)) >"$work/tg.cfg"
        lab_inns "$sns" taskset -c 0 timeout "$secs" trafgen -i "$work/tg.cfg" -o eth0 -P 1 -q -C \
            >"$work/gen.out" 2>&1 &
    else
        target/release/hvr-bench-gen --ns "$sns" --dev eth0 --cpu 0 --dst-mac "$da" \
            --src-ip "$src" --dst-ip "$dst" --flows "$flows" --size "$size" --seconds "$secs" \
            ${gen_rate:+--rate "$gen_rate"} >"$work/gen.out" 2>&1 &
    fi
    gen_pid=$!
    lab_track "$gen_pid"
}

# dst_mac_of DIR: the destination MAC the sender of DIR (v2g: the gateway, g2v: the
# guest) resolved for the other end (the forwarder's device when it has none).
dst_mac_of() {
    if [ "$1" = v2g ]; then
        ip -n $NS_GW neigh show $G1_IP dev eth0 | awk '/lladdr/{print $3}' | grep . || lab_mac $NS_HV hvr-up0
    else
        ip -n $NS_G1 neigh show $GW_IP dev eth0 | awk '/lladdr/{print $3}' | grep . || lab_mac $NS_HV hvr-g1
    fi
}

# profile_point_start: the generator on one 64-byte VLAN->guest flow for long enough to
# profile 2 windows, past the warm-up (pid in gen_pid; the caller ends it).
profile_point_start() {
    gen_start $NS_GW "$(dst_mac_of v2g)" $FAR_IP $G1_IP 1 64 $((warmup + 2 * seconds + 3))
    sleep "$warmup"
}

# pps SETUP DIR FLOWS SIZE: the generator in the sender namespace on CPU 0; after the
# warm-up, $windows windows of $seconds each, counted at the receiver (rx_packets of its
# eth0) and at the sender ("offered": what it pushed into the link, see tx_of).
pps() {
    local setup="$1" dir="$2" flows="$3" size="$4"
    local sns rns da src dst
    if [ "$dir" = v2g ]; then
        sns=$NS_GW rns=$NS_G1 src=$FAR_IP dst=$G1_IP
    else
        sns=$NS_G1 rns=$NS_GW src=$G1_IP dst=$FAR_IP
    fi
    da="$(dst_mac_of "$dir")"
    gen_start "$sns" "$da" "$src" "$dst" "$flows" "$size" $((warmup + windows * seconds + 2))
    sleep "$warmup"
    local w rx0 rx1 tx0 tx1 c0 c1 l0 l1 t0 t1 rates=() offered=() busy=() fills=()
    for ((w = 0; w < windows; w++)); do
        t0="$(date +%s%N)" rx0="$(lab_rx "$rns" eth0)" tx0="$(lab_tx "$sns" eth0)" c0="$(cpu1_jiffies)"
        l0="$(passes_of "$setup")"
        sleep "$seconds"
        t1="$(date +%s%N)" rx1="$(lab_rx "$rns" eth0)" tx1="$(lab_tx "$sns" eth0)" c1="$(cpu1_jiffies)"
        l1="$(passes_of "$setup")"
        fills+=("$(echo "$l0 $l1" | awk '{ p = $4 - $2; printf "%.1f", (p > 0 && $2 > 0) ? ($3 - $1) / p : 0 }')")
        # Per second of the window as timed (the counter reads take a few ms each).
        rates+=("$(((rx1 - rx0) * 1000000000 / (t1 - t0)))")
        offered+=("$(((tx1 - tx0) * 1000000000 / (t1 - t0)))")
        busy+=("$(echo "$c0 $c1" | awk '{ t = $4 - $2; printf "%.0f", (t > 0) ? 100 * ($3 - $1) / t : 0 }')")
    done
    lab_kill_pid "$gen_pid"
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
    local setup="$1"
    [ "$do_profile" = 1 ] || return 0
    profile_point_start
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
    lab_kill_pid "$gen_pid"
}

# pps_matrix SETUP [SIZES]: every direction and flow count at each size ($sizes by
# default).
pps_matrix() {
    local setup="$1" list="${2-$sizes}" dir flows size
    for dir in v2g g2v; do
        for flows in $flows_list; do
            for size in $list; do pps "$setup" "$dir" "$flows" "$size"; done
        done
    done
}

# saturated_matrix SETUP: the $saturated_sizes points again with the receivers' own
# stacks (no sink): their full receive (IP, UDP, an ICMP port unreachable) runs on CPU 1
# and saturates every forwarder, so the rates compare forwarders at full load, each
# carrying the same receiver cost. Recorded as SETUP-stack. Call with the sinks stopped.
saturated_matrix() { pps_matrix "$1-stack" "$saturated_sizes"; }

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
        t="$(lab_inns $NS_GW arping -c 1 -w 2 -I eth0 $G1_IP 2>/dev/null | arping_ms)"
        printf 'arp\t%s\tvlan_arp\t%s\n' "$setup" "${t:-timeout}" >>"$data"
        t="$(lab_inns $NS_G1 arping -c 1 -w 2 -I eth0 $GW_IP 2>/dev/null | arping_ms)"
        printf 'arp\t%s\tguest_arp\t%s\n' "$setup" "${t:-timeout}" >>"$data"
        for n in $NS_GW $NS_G1; do ip -n "$n" neigh flush all 2>/dev/null || true; done
        [ "$setup" = kernel ] && ip -n $NS_HV neigh flush all 2>/dev/null || true
        t="$(lab_inns $NS_GW ping -c 1 -W 3 $G1_IP 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p')"
        printf 'arp\t%s\tvlan_first_ping\t%s\n' "$setup" "${t:-timeout}" >>"$data"
        for n in $NS_GW $NS_G1; do ip -n "$n" neigh flush all 2>/dev/null || true; done
        [ "$setup" = kernel ] && ip -n $NS_HV neigh flush all 2>/dev/null || true
        t="$(lab_inns $NS_G1 ping -c 1 -W 3 $FAR_IP 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p')"
        printf 'arp\t%s\tguest_first_ping\t%s\n' "$setup" "${t:-timeout}" >>"$data"
    done
    awk -F'\t' -v s="$setup" '$1=="arp" && $2==s {print "    " $3 ": " $4 " ms"}' "$data" |
        sort | awk -F': ' '{a[$1]=a[$1] " " $2} END {for (k in a) print k ":" a[k]}' | sort
}
