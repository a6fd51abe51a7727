# The namespace lab's building blocks, shared by scripts/lab.sh (the demo's lab),
# scripts/demo.sh, scripts/bench.sh and scripts/bench/*.sh, and by the Rust tests for the
# kernel routed setup (crates/hvrouter/tests/common/hypervisor.rs runs lab_kernel_routed):
#
#   namespaces and veths   lab_ns_add, lab_ns_del, lab_uplink, lab_veth_guest,
#                          lab_guest_addrs, lab_veth_pairs
#   router configuration   lab_config_networks (extra networks and guests),
#                          lab_worker_cpus (the benchmarks' CPU list for N workers)
#   the kernel routed setup lab_kernel_routed (what hvrouter replaces)
#   processes              lab_start, lab_wait_until, lab_router_start, lab_stop,
#                          lab_kill_pid, lab_track, lab_on_exit (cleanup that runs even
#                          on failure)
#   the tap relay          lab_relay_bin, lab_relay_start, lab_relay_stop
#   reading a namespace    lab_inns, lab_mac, lab_rx, lab_tx
#
# Rules every caller keeps: namespaces and links are named hvr-* with a tag unique to the
# run (the script's pid, or a tag the caller passes), only documentation prefixes are put
# on the wire (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; 2001:db8::/32), nothing
# touches the host's own interfaces or routes, and only processes the script started are
# ended, by pid. Source it from bash.
# shellcheck shell=bash

# The VLAN gateway's address and MAC in every lab (the guests' default route).
LAB_GATEWAY=192.0.2.1
LAB_GATEWAY_MAC=02:00:00:00:01:01
# The kernel routed setup's per-VLAN table (`public_90`, by number: rt_tables is the
# host's).
LAB_TABLE=90

# lab_inns NS CMD...: run CMD in namespace NS (`ip netns exec` execs it, so a command
# started in the background has the command's own pid in $!).
lab_inns() { local n="$1"; shift; ip netns exec "$n" "$@"; }
# lab_mac NS DEV: the MAC of DEV in NS.
lab_mac() { lab_inns "$1" cat "/sys/class/net/$2/address"; }
# lab_rx NS DEV: frames DEV received.
lab_rx() { lab_inns "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }
# lab_tx NS DEV: frames the sender pushed into the link: sent plus dropped on the way into
# the peer (veth counts a full backlog or ring as the sender's tx_dropped).
lab_tx() {
    lab_inns "$1" cat "/sys/class/net/$2/statistics/tx_packets" "/sys/class/net/$2/statistics/tx_dropped" |
        awk '{ s += $1 } END { print s }'
}

# lab_ns_add NS...: create the namespaces, loopback up.
lab_ns_add() {
    local n
    for n in "$@"; do
        ip netns add "$n"
        ip -n "$n" link set lo up
    done
}

# lab_ns_del NS...: delete exactly these namespaces (idempotent: absent ones are
# skipped); their veth ends and the peers of those go with them.
lab_ns_del() {
    [ "$#" -gt 0 ] || return 0
    printf 'netns del %s\n' "$@" | ip -force -batch - 2>/dev/null || true
}

# lab_uplink HV GW ADDR...: the VLAN. hvr-up0 in HV (the router's uplink, standing in
# for bond0.NN) and its peer eth0 in GW: the gateway's MAC, ADDR... on it, checksums
# computed in software (a real VLAN carries complete checksums and no GSO super-frames).
lab_uplink() {
    local hv="$1" gw="$2" a
    shift 2
    ip -n "$hv" link add hvr-up0 type veth peer name eth0 netns "$gw"
    ip -n "$gw" link set eth0 address "$LAB_GATEWAY_MAC"
    for a in "$@"; do ip -n "$gw" addr add "$a" dev eth0; done
    ip -n "$gw" link set eth0 up
    lab_inns "$gw" ethtool -K eth0 tx off >/dev/null
    ip -n "$hv" link set hvr-up0 up
}

# lab_guest_addrs NS IF ADDR...: a guest's interface configured: loopback up, ADDR...,
# link up, default route via the gateway.
lab_guest_addrs() {
    local g="$1" ifname="$2" a
    shift 2
    ip -n "$g" link set lo up
    for a in "$@"; do ip -n "$g" addr add "$a" dev "$ifname"; done
    ip -n "$g" link set "$ifname" up
    ip -n "$g" route add default via "$LAB_GATEWAY" dev "$ifname"
}

# lab_veth_guest HV DEV GNS MAC ADDR...: a guest behind a veth: DEV in HV (the router's
# port), its peer eth0 in GNS with MAC and ADDR..., default via the gateway.
lab_veth_guest() {
    local hv="$1" dev="$2" g="$3" mac="$4"
    shift 4
    ip -n "$hv" link add "$dev" type veth peer name eth0 netns "$g"
    ip -n "$g" link set eth0 address "$mac"
    lab_guest_addrs "$g" eth0 "$@"
    ip -n "$hv" link set "$dev" up
}

# lab_veth_pairs NS PREFIX COUNT: veth pairs PREFIXk / PREFIXkp (k = 1..COUNT) in NS, up,
# without IPv6 link-local addresses (no DAD or MLD frames): devices that only need to
# exist (a router's extra uplinks, guests' taps). One ip -batch, fast for hundreds.
lab_veth_pairs() {
    local ns="$1" prefix="$2" count="$3" k
    for ((k = 1; k <= count; k++)); do
        echo "link add $prefix$k type veth peer name $prefix${k}p"
        echo "link set $prefix$k addrgenmode none"
        echo "link set $prefix${k}p addrgenmode none"
        echo "link set $prefix$k up"
        echo "link set $prefix${k}p up"
    done | ip -n "$ns" -batch -
}

# lab_config_networks NET GUEST COUNT PER: COUNT more networks for a router's
# configuration, on stdout: NET_k on uplink hvr-uk (198.51.100.0/24, gateway
# 198.51.100.1: identical subnets are allowed, one route table each), each with PER guests
# GUESTk-i (MAC 02:00:00:bb:kk:ii, 198.51.100.(i+2), i = 0..PER-1) whose taps need not
# exist (the router marks them down). Up to 4 x 250 guests in documentation space.
lab_config_networks() {
    local net="$1" guest="$2" count="$3" per="$4" k i
    for ((k = 1; k <= count; k++)); do
        printf '\n[networks.%s_%d]\nuplink = "hvr-u%d"\nsubnet = "198.51.100.0/24"\ngateway = "198.51.100.1"\n' \
            "$net" "$k" "$k"
        for ((i = 0; i < per; i++)); do
            printf '\n[guests.%s%d-%d]\nmac = "02:00:00:bb:%02x:%02x"\nips = ["198.51.100.%d"]\nnetwork = "%s_%d"\n' \
                "$guest" "$k" "$i" "$k" "$i" $((i + 2)) "$net" "$k"
        done
    done
}

# lab_worker_cpus N: the `[dataplane] cpus` list the benchmarks give N workers, on
# stdout: worker 0 (the uplinks' worker) on CPU 1 as with one worker, worker 1 on CPU 0
# (the generator's and the senders' CPU on these 2-vCPU machines), worker k >= 2 on CPU k.
lab_worker_cpus() {
    local n="$1" k list="1"
    [ "$n" -lt 2 ] || list="1, 0"
    for ((k = 2; k < n; k++)); do list="$list, $k"; done
    echo "$list"
}

# lab_kernel_routed NS UPLINK SUBNET GATEWAY [DEV=IP[,PREFIX...]]...: the kernel routed
# setup that hvrouter replaces, as Ganeti's routed NIC mode and GRNET's gnt-networking
# build it: forwarding and proxy ARP on the uplink and on every guest device, an
# `iif DEV lookup 90` rule for each, and table 90 with the subnet and the default route
# through the uplink, IP/32 through each guest's device (what kvm-ifup adds), and each
# routed PREFIX via the guest's IP through its device.
lab_kernel_routed() {
    local ns="$1" uplink="$2" subnet="$3" gateway="$4" g d ip prefixes p
    shift 4
    lab_inns "$ns" sysctl -qw net.ipv4.ip_forward=1
    for d in "$uplink" "${@%%=*}"; do
        lab_inns "$ns" sysctl -qw "net.ipv4.conf.$d.proxy_arp=1" "net.ipv4.conf.$d.forwarding=1"
        ip -n "$ns" rule add iif "$d" lookup "$LAB_TABLE"
    done
    ip -n "$ns" route add "$subnet" dev "$uplink" table "$LAB_TABLE"
    ip -n "$ns" route add default via "$gateway" dev "$uplink" table "$LAB_TABLE"
    for g in "$@"; do
        d="${g%%=*}" ip="${g#*=}"
        prefixes=""
        case "$ip" in *,*) prefixes="${ip#*,}" ip="${ip%%,*}" ;; esac
        ip -n "$ns" route add "$ip/32" dev "$d" table "$LAB_TABLE"
        for p in ${prefixes//,/ }; do
            ip -n "$ns" route add "$p" via "$ip" dev "$d" table "$LAB_TABLE"
        done
    done
}

# Processes this script started and has not ended yet (lab_track, lab_kill_pid);
# lab_on_exit's trap ends them.
lab_pids=()
lab_track() { lab_pids+=("$@"); }

# lab_kill_pid PID [SIGNAL]: end a process this script started, and the children it
# forked (by pid): SIGNAL (INT by default), then KILL after 2.5 s.
lab_kill_pid() {
    local p="$1" sig="${2:-INT}" c
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill "-$sig" "$c" 2>/dev/null || true; done
    kill "-$sig" "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    local keep=() q
    for q in "${lab_pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    lab_pids=("${keep[@]}")
}

# lab_stop PID [SIGNAL]: end a process this script started with SIGNAL (TERM by default)
# and wait for it to exit, however long its shutdown takes.
lab_stop() {
    local p="$1" q keep=()
    kill "-${2:-TERM}" "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    for q in "${lab_pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    lab_pids=("${keep[@]}")
}

# lab_on_exit CLEANUP: at exit, however it comes (failure, INT, TERM), end every tracked
# process, then run CLEANUP (a command or function that removes what the script built).
lab_on_exit() {
    # shellcheck disable=SC2064 # the cleanup command is fixed now
    trap "lab_kill_tracked; $1" EXIT
    trap 'exit 130' INT TERM
}
lab_kill_tracked() { # only those still running as this shell's children (no reused pid)
    local p live
    live=" $(jobs -p | tr '\n' ' ') "
    for p in "${lab_pids[@]}"; do
        [[ "$live" != *" $p "* ]] || lab_kill_pid "$p"
    done 2>/dev/null
}

# lab_start NS OUT ERR CMD...: start CMD in namespace NS in the background, stdout to OUT
# and stderr to ERR, tracked; its pid in lab_last_pid.
lab_start() {
    local n="$1" out="$2" err="$3"
    shift 3
    ip netns exec "$n" "$@" >"$out" 2>"$err" &
    lab_last_pid=$!
    lab_track "$lab_last_pid"
}

# lab_wait_until PID TRIES DELAY CMD...: run CMD every DELAY seconds until it succeeds
# (0), process PID has exited or TRIES tries failed (1).
lab_wait_until() {
    local pid="$1" tries="$2" delay="$3"
    shift 3
    for _ in $(seq 1 "$tries"); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep "$delay"
    done
    return 1
}

# lab_router_start NS BIN CONFIG DIR [TRIES [DELAY]]: `BIN run --config CONFIG` in NS,
# stdout and stderr in DIR/router.out and DIR/router.err, tracked, its pid in
# lab_last_pid; waits until it logs event=started (TRIES x DELAY s, 100 x 0.1 by
# default). Fails when it exited or did not start in time (the caller reports it).
lab_router_start() {
    local n="$1" bin="$2" config="$3" dir="$4" tries="${5:-100}" delay="${6:-0.1}"
    lab_start "$n" "$dir/router.out" "$dir/router.err" "$bin" run --config "$config"
    lab_wait_until "$lab_last_pid" "$tries" "$delay" grep -qs 'event=started' "$dir/router.err" ||
        grep -qs 'event=started' "$dir/router.err"
}

# lab_relay_bin ROOT: the tap relay (HVR_RELAY, else ROOT's release build, else its debug
# build); fails with a message when there is none.
lab_relay_bin() {
    if [ -n "${HVR_RELAY:-}" ]; then echo "$HVR_RELAY"; return; fi
    local bin="$1/target/release/hvr-tap-relay"
    [ -x "$bin" ] || bin="$1/target/debug/hvr-tap-relay"
    [ -x "$bin" ] || { echo "lab: build the tap relay first: cargo build -p hvrouter-netlab --bins" >&2; return 1; }
    echo "$bin"
}

# lab_relay_start BIN HV ROUTER_TAP GNS GUEST_TAP PIDFILE: a guest behind a real tap.
# The relay (playing QEMU) opens ROUTER_TAP, left in HV for the router, and GUEST_TAP,
# moved into GNS, and copies frames with their vnet header between them. Its pid goes to
# PIDFILE (it outlives the calling script: lab_relay_stop ends it); returns once ready.
lab_relay_start() {
    local bin="$1" hv="$2" rtap="$3" g="$4" gtap="$5" pidfile="$6" log
    log="$(mktemp)"
    ip netns exec "$hv" "$bin" --router-tap "$rtap" --guest-tap "$gtap" \
        --guest-netns "$g" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        grep -q '^ready' "$log" && break
        sleep 0.05
    done
    grep -q '^ready' "$log" || { cat "$log" >&2; rm -f "$log"; echo "lab: relay did not start" >&2; return 1; }
    rm -f "$log"
}

# lab_relay_stop PIDFILE: end the relay lab_relay_start started, waiting up to 10 s for it
# to exit (its taps go with it; idempotent).
lab_relay_stop() {
    local pidfile="$1" pid
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$pidfile"
}
