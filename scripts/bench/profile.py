#!/usr/bin/python3
"""Summarise a `perf record -C 1 -g` of one benchmark point into shares of CPU 1's time.

usage: profile.py SETUP CHILDREN.txt DSO.txt

CHILDREN.txt is `perf report --children --sort sym --stdio -g none` (inclusive shares),
DSO.txt is `perf report --no-children --sort dso --stdio -g none` (self shares). Prints
`prof<TAB>SETUP<TAB>CATEGORY<TAB>PERCENT` lines for bench.sh's data file. Categories
overlap where one path runs inside another (see results/README.md).
"""
import re
import sys

setup, children_path, dso_path = sys.argv[1:4]

# Inclusive share of the first matching symbol, per category.
CATEGORIES = [
    ("tx_sendto", ["__sys_sendto"]),            # AF_XDP TX: skb build, copy, veth xmit
    ("kernel_forward", ["process_backlog"]),    # RPS backlog: ip_rcv, ip_forward, xmit
    ("sink", ["veth_poll"]),                    # the receiving veth's NAPI (the XDP sink)
    ("rx_wakeup", ["__x64_sys_recvfrom", "__x64_sys_poll", "__x64_sys_ppoll"]),
    ("idle", ["do_idle"]),
]

line_re = re.compile(r"^\s*([0-9.]+)%\s+([0-9.]+)%\s+\[([.k])\]\s+(\S+)")
inclusive = {}
for line in open(children_path, errors="replace"):
    m = line_re.match(line)
    if m:
        inclusive.setdefault(m.group(4), float(m.group(1)))

dso_re = re.compile(r"^\s*([0-9.]+)%\s+(\S+)")
user = 0.0
for line in open(dso_path, errors="replace"):
    m = dso_re.match(line)
    if not m or line.lstrip().startswith("#"):
        continue
    dso = m.group(2)
    # Kernel code, BPF programs and the BPF dispatcher run in the kernel.
    if dso.startswith("[kernel") or dso.startswith("bpf_"):
        continue
    user += float(m.group(1))

print(f"prof\t{setup}\tuser\t{user:.1f}")
for name, symbols in CATEGORIES:
    value = next((inclusive[s] for s in symbols if s in inclusive), 0.0)
    print(f"prof\t{setup}\t{name}\t{value:.1f}")
