#!/usr/bin/python3
"""Shares of one CPU's time during a TCP stream, by category, from a perf profile.

usage: tcp_profile.py SETUP PATH CPU CHILDREN.txt [ROUTER_TIDS]

CHILDREN.txt is `perf report --children --sort pid,dso,sym --stdio -g none` of a
`perf record -g -C CPU` (columns: inclusive %, self %, tid:command, object, [k]/[.],
symbol). ROUTER_TIDS: the measured router's threads, comma-separated: `router` is their
share of the CPU, `router_user` the part in its own code, and the transmit categories
count only their samples (other routers may run on a shared machine).
Prints `tcpprof<TAB>SETUP<TAB>PATH<TAB>CPU<TAB>CATEGORY<TAB>PERCENT` lines. Categories
overlap where one runs inside another (a GSO send or an AF_XDP kick transmits into a
veth, whose receiver's stack may run inline); `copy` is the self time of the kernel's
byte-copy routines wherever they are called from.
"""
import re
import sys

setup, path, cpu, children_path = sys.argv[1:5]
router_tids = set(sys.argv[5].split(",")) if len(sys.argv) > 5 and sys.argv[5] else set()
# Categories of the router's own sending: counted for its threads only.
ROUTER_ONLY = {"afxdp_tx", "afxdp_tx_build_skb", "gso_send"}

# Inclusive shares: the first symbol of each list that the profile has (kernel 6.x names).
INCLUSIVE = [
    # copy-mode AF_XDP receive: the frame copied from the skb into a UMEM chunk
    # (__xsk_rcv: native XDP's redirect; xsk_generic_rcv: generic XDP).
    ("afxdp_rx_copy", ["__xsk_rcv", "xsk_rcv", "__xsk_map_redirect"]),
    ("afxdp_rx_generic", ["xsk_generic_rcv"]),
    # generic XDP on a multi-buffer skb: the skb is copied first (tun, veth with TSO).
    ("generic_xdp_cow", ["skb_cow_data_for_xdp"]),
    ("generic_xdp", ["do_xdp_generic", "netif_receive_generic_xdp"]),
    # copy-mode AF_XDP transmit: the sendto kick builds an skb per frame (a copy) and
    # transmits it; the receiving veth's stack can run inside it.
    ("afxdp_tx", ["__sys_sendto", "__x64_sys_sendto"]),
    ("afxdp_tx_build_skb", ["xsk_build_skb"]),
    # GSO sends: AF_PACKET sendmsg with a virtio-net header, one skb per super-frame.
    ("gso_send", ["packet_sendmsg", "packet_snd"]),
    ("tcp_recv_stack", ["tcp_v4_rcv"]),
    ("idle", ["do_idle"]),
]
# Self time of the byte copies.
COPY = re.compile(r"memcpy|memmove|copy_from_iter|copy_to_iter|copy_user|rep_movs|"
                  r"csum_partial_copy|copy_page")

line_re = re.compile(r"^\s*([0-9.]+)%\s+([0-9.]+)%\s+(\d+):(\S.*?)\s+(\S+)\s+\[([.kg])\]\s+(\S+)")
inclusive = {}
inclusive_router = {}
by_comm = {}
copy = 0.0
router = router_user = 0.0
for line in open(children_path, errors="replace"):
    if line.lstrip().startswith("#"):
        continue
    m = line_re.match(line)
    if not m:
        continue
    incl, self_, tid, comm, dso, sym = (float(m.group(1)), float(m.group(2)), m.group(3),
                                        m.group(4), m.group(5), m.group(7))
    inclusive[sym] = inclusive.get(sym, 0.0) + incl
    by_comm[comm] = by_comm.get(comm, 0.0) + self_
    if COPY.search(sym):
        copy += self_
    if tid in router_tids:
        inclusive_router[sym] = inclusive_router.get(sym, 0.0) + incl
        router += self_
        if not (dso.startswith("[kernel") or dso.startswith("bpf")):
            router_user += self_

out = []
for name, symbols in INCLUSIVE:
    source = inclusive_router if name in ROUTER_ONLY and router_tids else inclusive
    value = next((source[s] for s in symbols if s in source), 0.0)
    out.append((name, value))
out.append(("copy", copy))
out.append(("router", router))
out.append(("router_user", router_user))
for comm, share in sorted(by_comm.items(), key=lambda kv: -kv[1])[:4]:
    if share >= 3.0:
        out.append((f"comm:{comm}", share))
for name, value in out:
    print(f"tcpprof\t{setup}\t{path}\t{cpu}\t{name}\t{value:.1f}")
