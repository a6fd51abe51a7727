# Sourced by scripts/bench.sh: the topology and the three setups it measures (the
# kernel routed setup, hvrouter, the raw AF_XDP forwarder), and the receivers. Uses
# bench.sh's settings and helpers (inns, mac_of, kill_pid, pids, work, rundir).
# shellcheck shell=bash

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

# router_config FILE EXTRA_NETWORKS GUESTS_PER_EXTRA_NETWORK [UPLINK_XDP_MODE]: with
# UPLINK_XDP_MODE (generic: a bond0.NN VLAN device has no native XDP), the uplink's
# program runs in that mode and the guests' stays "auto".
router_config() {
    local f="$1" nets="$2" per="$3" mode="${4:-auto}" k i guest_mode=""
    [ "$mode" = auto ] || guest_mode='guest_xdp_mode = "auto"'
    cat >"$f" <<CFG
[router]
control_socket = "$rundir/control.sock"
state_dir = "$rundir/state"
log_level = "warn"

[dataplane]
xdp_mode = "$mode"
$guest_mode
workers = 1
poll = "busy"
cpus = [1]
burst = 64
frame_size = 4096
frames = ${router_frames}

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
