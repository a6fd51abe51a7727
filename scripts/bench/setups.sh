# Sourced by scripts/bench.sh and scripts/bench/fastpath.sh: the topology and the three
# setups they measure (the kernel routed setup, hvrouter, the raw AF_XDP forwarder), and
# the receivers. Built from scripts/lib/lab.sh (sourced here); uses the caller's settings
# (work, router_frames, kernel_rps, sink).
# shellcheck shell=bash
# shellcheck source=scripts/lib/lab.sh
source scripts/lib/lab.sh

# bench_names TAG: the topology's namespaces hvr-TAG-{gw,hv,g1}, its addresses and the
# router's run directory /run/hvrouter-TAG.
bench_names() {
    NS_GW="hvr-$1-gw" NS_HV="hvr-$1-hv" NS_G1="hvr-$1-g1"
    GW_IP=192.0.2.1 G1_IP=192.0.2.10 FAR_IP=198.51.100.1
    rundir="/run/hvrouter-$1"
}

topo_up() { # same topology as scripts/lab.sh (uplink, one veth guest), no addresses on hv
    topo_down
    lab_ns_add $NS_GW $NS_HV $NS_G1
    lab_uplink $NS_HV $NS_GW $GW_IP/24
    ip -n $NS_GW addr add $FAR_IP/24 dev lo
    ip -n $NS_GW route add 203.0.113.0/24 via $G1_IP dev eth0 2>/dev/null || true
    lab_veth_guest $NS_HV hvr-g1 $NS_G1 02:00:00:00:00:0a $G1_IP/24
    lab_inns $NS_G1 ethtool -K eth0 tx off >/dev/null
}
topo_down() { lab_ns_del $NS_G1 $NS_HV $NS_GW; }

kernel_setup() { # Ganeti/GRNET routed NIC mode, as the incident report shows it
    lab_kernel_routed $NS_HV hvr-up0 192.0.2.0/24 $GW_IP "hvr-g1=$G1_IP"
    if [ "$kernel_rps" = 1 ]; then
        for d in hvr-up0 hvr-g1; do
            lab_inns $NS_HV sh -c "echo 2 > /sys/class/net/$d/queues/rx-0/rps_cpus"
        done
    fi
}

# router_config FILE EXTRA_NETWORKS GUESTS_PER_EXTRA_NETWORK [UPLINK_XDP_MODE [WORKERS]]:
# with UPLINK_XDP_MODE (generic: a bond0.NN VLAN device has no native XDP), the uplink's
# program runs in that mode and the guests' stays "auto". WORKERS (1) packet workers on
# the CPUs of lab_worker_cpus: worker 0 on CPU 1, worker 1 on CPU 0. The guest hvr-g1 is
# port 1: with two workers it is worker 1's, so every frame to or from it is handed over.
router_config() {
    local f="$1" nets="$2" per="$3" mode="${4:-auto}" workers="${5:-1}" guest_mode="" first=""
    [ "$mode" = auto ] || guest_mode='guest_xdp_mode = "auto"'
    # ROUTER_PLACEHOLDER_GUEST=1: a guest whose tap never appears takes port 1, so that
    # hvr-g1 is port 2 (with two workers, worker 0's: nothing is handed over).
    [ "${ROUTER_PLACEHOLDER_GUEST:-0}" = 1 ] && first='
[guests.hvr-g0]
mac = "02:00:00:00:00:09"
ips = ["192.0.2.9"]
network = "public_90"
'
    cat >"$f" <<CFG
[router]
control_socket = "$rundir/control.sock"
state_dir = "$rundir/state"
log_level = "warn"

[dataplane]
xdp_mode = "$mode"
$guest_mode
workers = $workers
poll = "busy"
cpus = [$(lab_worker_cpus "$workers")]
burst = 64
frame_size = 4096
frames = ${router_frames}

[networks.public_90]
uplink = "hvr-up0"
subnet = "192.0.2.0/24"
gateway = "$GW_IP"
arp_source = "192.0.2.254"
$first
[guests.hvr-g1]
mac = "02:00:00:00:00:0a"
ips = ["$G1_IP"]
network = "public_90"
CFG
    # Extra networks for the reload figure (their taps do not exist).
    lab_config_networks bench hvb "$nets" "$per" >>"$f"
}

router_start() { # router_start CONFIG: until it answers on its control socket
    rm -rf "$rundir"
    mkdir -p "$rundir"
    lab_start $NS_HV "$work/router.out" "$work/router.err" target/release/hvrouter run --config "$1"
    router_pid=$lab_last_pid
    lab_wait_until "$router_pid" 150 0.1 \
        lab_inns $NS_HV target/release/hvrouter --socket "$rundir/control.sock" ping >/dev/null 2>&1 && return 0
    cat "$work/router.err" >&2
    echo "bench: hvrouter did not start" >&2
    exit 1
}
router_stop() { lab_kill_pid "$router_pid"; }

fwd_start() {
    target/release/hvr-bench-fwd --ns $NS_HV --cpu 1 --stats "$work/fwd.stats" \
        --a hvr-up0 --a-mac "$(lab_mac $NS_HV hvr-up0)" --a-peer "$(lab_mac $NS_GW eth0)" \
        --b hvr-g1 --b-mac "$(lab_mac $NS_HV hvr-g1)" --b-peer "$(lab_mac $NS_G1 eth0)" \
        >"$work/fwd.out" 2>&1 &
    fwd_pid=$!
    lab_track "$fwd_pid"
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
    lab_inns $NS_GW ping -c 2 -i 0.2 -W 2 $G1_IP >/dev/null || echo "    warn: gateway -> guest ping failed"
    lab_inns $NS_G1 ping -c 2 -i 0.2 -W 2 $FAR_IP >/dev/null || echo "    warn: guest -> VLAN ping failed"
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
        lab_track $!
    done
    for n in $NS_GW $NS_G1; do
        for _ in $(seq 1 50); do grep -q '^ready' "$work/sink.$n" && break; sleep 0.1; done
        grep -q '^ready' "$work/sink.$n" || { cat "$work/sink.$n" >&2; echo "bench: sink did not start" >&2; exit 1; }
    done
}
sinks_stop() {
    [ "$sink" = xdp ] || return 0
    local p
    for p in "${sink_pids[@]}"; do lab_kill_pid "$p"; done
}
