#!/usr/bin/python3
"""Turn scripts/bench.sh's data.tsv into results/<date>-<host>.md, results/latest.md and
SVG plots (drawn by hand: no plotting library needed on a fresh machine).

usage: report.py DATA.tsv OUT_DIR HOST MACHINE_INFO SECONDS KERNEL_RPS WINDOWS GEN SINK [ROUNDS [PREVIOUS.tsv]]

PREVIOUS.tsv: an earlier run's data (the previous results/latest.tsv): its 64 B figures
are set beside this run's.
"""
import datetime
import os
import statistics
import sys

data, out_dir, host, info, seconds, rps, windows, gen, sink = sys.argv[1:10]
rounds = sys.argv[10] if len(sys.argv) > 10 else "1"
previous_path = sys.argv[11] if len(sys.argv) > 11 else None
pps = {}      # (setup, dir, flows, size) -> median pps
detail = {}   # (setup, dir, flows, size) -> (median, min, max, offered, cpu1 busy %,
              #                            mean burst: frames per busy poll pass)
# When a forwarder counts as saturated (its rate is its capacity): the kernel setup when
# CPU 1, where it forwards, is this busy (hvr-bench-gen is closed-loop against it: each
# generated skb is the one the kernel forwards, and it returns to the generator's
# completion ring only once delivered, so its "offered" follows the kernel's rate);
# hvrouter and raw when their mean burst (frames per busy poll pass) reaches this share
# of the configured 64. Otherwise the forwarder had headroom: (g), a lower bound.
SATURATED_CPU = 95.0
SATURATED_BURST = 32.0
arp = {}      # (setup, kind) -> [ms or None]
reload = []   # (what, guests, ms)
prof = {}     # (setup, category) -> % of CPU 1
rows = {}     # (setup, dir, flows, size) -> [detail tuple per round]
scale = []    # (guests, lookup_ns, add_mean_ns, churn_ns)
guests = []   # (guests, reach_both, reach_out, reach_in, umem_bytes, rss_bytes, add_ms, tcp_mbps)
for line in open(data):
    f = line.rstrip("\n").split("\t")
    if f[0] == "pps":
        key = (f[1], f[2], int(f[3]), int(f[4]))
        rows.setdefault(key, []).append(tuple(float(x) for x in f[5:11]))
    elif f[0] == "arp":
        arp.setdefault((f[1], f[2]), []).append(None if f[3] == "timeout" else float(f[3]))
    elif f[0] == "prof":
        prof[(f[1], f[2])] = float(f[3])
    elif f[0] == "reload":
        reload.append((f[1], int(f[2]), float(f[3])))
    elif f[0] == "scale":
        scale.append((int(f[1]), float(f[2]), float(f[3]), float(f[4])))
    elif f[0] == "guests":
        num = lambda x: None if x == "-" else float(x)
        guests.append((int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6]),
                       num(f[7]), num(f[8])))



def previous_pps(path):
    """(setup, dir, flows, size) -> median over rounds of the received rate, of an earlier
    run's data file."""
    got = {}
    try:
        with open(path) as fh:
            for line in fh:
                f = line.rstrip("\n").split("\t")
                if f[0] == "pps" and len(f) >= 6:
                    got.setdefault((f[1], f[2], int(f[3]), int(f[4])), []).append(float(f[5]))
    except (OSError, ValueError):
        return {}
    return {k: statistics.median(v) for k, v in got.items()}


previous = previous_pps(previous_path) if previous_path else {}

# A point measured in several rounds: the median of each field over the rounds (the
# min and max of the received rate: over every window of every round).
for key, rs in rows.items():
    med = tuple(statistics.median(r[i] for r in rs) for i in range(len(rs[0])))
    lo = min(r[1] for r in rs)
    hi = max(r[2] for r in rs)
    detail[key] = (med[0], lo, hi) + med[3:]
    pps[key] = med[0]

DIRS = {"v2g": "VLAN->guest", "g2v": "guest->VLAN"}
points = sorted({k[1:] for k in pps}, key=lambda k: (k[0] != "v2g", k[1], k[2]))


def mpps(v):
    return "-" if v is None else f"{v / 1e6:.3f}"


def headroom(key):
    """True when the forwarder was not saturated at this point (see SATURATED_*)."""
    d = detail.get(key)
    if d is None:
        return False
    if key[0].startswith("kernel"):
        return d[4] < SATURATED_CPU
    return len(d) > 5 and d[5] < SATURATED_BURST


def cell(key):
    v = pps.get(key)
    return mpps(v) + (" (g)" if v is not None and headroom(key) else "")


def ratio(a_key, b_key):
    a, b = pps.get(a_key), pps.get(b_key)
    if a is None or not b or b < 1000:
        return "-"
    r = f"{a / b:.2f}x"
    a_g, b_g = headroom(a_key), headroom(b_key)
    if a_g and not b_g:
        return ">= " + r  # a had headroom (a lower bound), b was at capacity
    if b_g and not a_g:
        return "<= " + r
    if a_g and b_g:
        return r + " (both g)"
    return r


now = datetime.datetime.now(datetime.timezone.utc)
generator = ("hvr-bench-gen (AF_XDP TX, copy mode)" if gen == "hvr-bench-gen"
             else "trafgen (netsniff-ng)")
receiver = ("hvr-bench-sink (XDP program dropping IPv4 on the receiving eth0)" if sink == "xdp"
            else "the receiving namespace's own stack")
lines = [
    f"# hvrouter vs kernel routed setup: {now:%Y-%m-%d %H:%M} UTC on `{host}`",
    "",
    f"Machine: {info}. Produced by `sudo scripts/bench.sh`.",
    "",
    f"- Generator: {generator} on CPU 0. Receiver: {receiver}; counted as the",
    "  receiving `eth0`'s rx_packets.",
    "- Forwarder on CPU 1: hvrouter (one worker, busy poll) and the raw AF_XDP forwarder",
    "  pinned there; the kernel setup's forwarding "
    + ("steered there by RPS." if rps == "1" else "inline on CPU 0 with the generator (no RPS)."),
    f"- Each point: {rounds} round(s) over the setups in turn, each {windows} windows of",
    f"  {seconds} s after a warm-up; shown: the median over the rounds of each round's median.",
    "  Frame sizes include the FCS (64 B = 60 B in the buffer).",
    "- (g): the forwarder had headroom, so the figure is a lower bound on its capacity:",
    f"  for hvrouter and raw, a mean burst below {SATURATED_BURST:.0f} frames per busy poll pass",
    f"  (of 64); for the kernel, CPU 1 below {SATURATED_CPU:.0f} % busy. Unmarked: at capacity.",
    "  `>=` marks a ratio whose numerator is such a lower bound and whose denominator is",
    "  not.",
    "- A shared, noisy 2-vCPU VM: compare columns of the same run, not runs with each other.",
    "",
    "## Packet rate (Mpps)",
    "",
    "| direction | flows | frame | kernel | hvrouter | raw AF_XDP | hvrouter/kernel | hvrouter/raw |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
]
for d, fl, sz in points:
    k, h, r = (("kernel", d, fl, sz), ("hvrouter", d, fl, sz), ("raw", d, fl, sz))
    lines.append(f"| {DIRS.get(d, d)} | {fl} | {sz} | {cell(k)} | {cell(h)} | {cell(r)} | "
                 f"{ratio(h, k)} | {ratio(h, r)} |")

gen_points = sorted({k[1:] for k in pps if k[0] == "hvrouter-genup"},
                    key=lambda k: (k[0] != "v2g", k[1], k[2]))
if gen_points:
    lines += ["", "## hvrouter with the uplink in generic XDP mode (Mpps)", "",
              "A `bond0.NN` VLAN device has no native XDP: on a real node the uplink's program",
              "runs in generic (skb) mode. Same run, same sink, the guest's program native;",
              "`hvrouter` is the native-uplink column of the table above.", "",
              "| direction | flows | frame | kernel | hvrouter | hvrouter, uplink generic | "
              "generic/kernel | generic/native |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for d, fl, sz in gen_points:
        k, h, g = (("kernel", d, fl, sz), ("hvrouter", d, fl, sz), ("hvrouter-genup", d, fl, sz))
        lines.append(f"| {DIRS.get(d, d)} | {fl} | {sz} | {cell(k)} | {cell(h)} | {cell(g)} | "
                     f"{ratio(g, k)} | {ratio(g, h)} |")

prev_rows = [(rx, p) for rx in ("", "-stack") for p in sorted(
    {k[1:] for k in pps if k[0] == "hvrouter" + rx and k[3] == 64},
    key=lambda k: (k[0] != "v2g", k[1])) if ("hvrouter" + rx, *p) in previous]
if prev_rows:
    lines += ["", "## 64 B against the previous run (Mpps)", "",
              "The previous `results/latest.tsv` (an earlier run on the same kind of VM, under",
              "its own load: compare the same-run ratios first, the rates second). receiver:",
              "sink (the XDP sink, hvrouter mostly with headroom) or stack (saturated pass).", "",
              "| direction | flows | receiver | kernel before | kernel now | hvrouter before | "
              "hvrouter now | hvrouter/kernel before | hvrouter/kernel now |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for rx, p in prev_rows:
        kb, hb = previous.get(("kernel" + rx, *p)), previous.get(("hvrouter" + rx, *p))
        kn, hn = pps.get(("kernel" + rx, *p)), pps.get(("hvrouter" + rx, *p))
        rb = f"{hb / kb:.2f}x" if hb and kb else "-"
        rn = f"{hn / kn:.2f}x" if hn and kn else "-"
        lines.append(f"| {DIRS.get(p[0], p[0])} | {p[1]} | {'stack' if rx else 'sink'} | "
                     f"{mpps(kb)} | {mpps(kn)} | {mpps(hb)} | {mpps(hn)} | {rb} | {rn} |")

sat = sorted({k[1:] for k in pps if k[0].endswith("-stack")},
             key=lambda k: (k[0] != "v2g", k[1], k[2]))
if sat:
    lines += ["", "## Saturated: the receivers' own stacks (Mpps)", "",
              "The same points with no sink: each receiver's full receive (IP, UDP, an ICMP",
              "port unreachable attempt) runs on CPU 1 too, and that saturates every forwarder",
              "(bursts near 64 for hvrouter and raw, CPU 1 at 100 % for the kernel). So these",
              "rates compare the forwarders at full load; each carries the same receiver cost,",
              "so the ratios understate the difference in the forwarders' own costs.", "",
              "| direction | flows | frame | kernel | hvrouter | raw AF_XDP | hvrouter/kernel | hvrouter/raw |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for d, fl, sz in sat:
        k, h, r = (("kernel-stack", d, fl, sz), ("hvrouter-stack", d, fl, sz),
                   ("raw-stack", d, fl, sz))
        lines.append(f"| {DIRS.get(d, d)} | {fl} | {sz} | {cell(k)} | {cell(h)} | {cell(r)} | "
                     f"{ratio(h, k)} | {ratio(h, r)} |")

lines += ["", "### Per point", "",
          "Received: median (min-max over every window of every round). Offered: what the sender pushed into",
          "the link (its `eth0` tx_packets + tx_dropped; median). Lost: the share of that which did",
          "not arrive. CPU 1: its busy share (hvrouter and raw busy-poll, so 100 % there says",
          "nothing about load). Burst: frames per poll pass that received any (hvrouter's",
          "worker counters, the same count in the raw forwarder; median over the windows). It",
          "is 1 at a trickle and nears the configured burst, 64, only when the forwarder falls",
          "behind: well below 64, the forwarder had headroom and the rate is the generator's.", "",
          "| setup | direction | flows | frame | received | offered | lost | CPU 1 | burst |",
          "|---|---|---:|---:|---|---:|---:|---:|---:|"]
for setup in ["kernel", "hvrouter", "raw", "hvrouter-genup", "kernel-stack", "hvrouter-stack",
              "raw-stack"]:
    for d, fl, sz in points:
        v = detail.get((setup, d, fl, sz))
        if v is None:
            continue
        med, lo, hi, off, cpu = v[:5]
        burst = f"{v[5]:.1f}" if len(v) > 5 and v[5] > 0 else "-"
        lost = f"{max(0.0, 1 - med / off):.0%}" if off > 0 else "-"
        lines.append(f"| {setup} | {DIRS.get(d, d)} | {fl} | {sz} | {mpps(med)} "
                     f"({mpps(lo)}-{mpps(hi)}) | {mpps(off)} | {lost} | {cpu:.0f} % | {burst} |")

if prof:
    lines += ["", "### Where CPU 1 goes (64 B VLAN->guest, 1 flow)", "",
              "`perf record -e cpu-clock -C 1 -g` during that point, inclusive shares of CPU 1's",
              "samples. user space: the forwarder's own code (hvrouter's router and poll loop;",
              "busy polling counts here too). AF_XDP TX: `sendto` on the TX ring, the kernel's",
              "copy-mode transmit (skb build, copy, veth xmit) *including* the receiving veth's",
              "NAPI poll when it runs inline. Backlog: the kernel setup's forwarding (RPS backlog:",
              "ip_rcv, ip_forward, xmit). Sink: the receiving veth's NAPI poll with the XDP drop,",
              "inside AF_XDP TX for hvrouter and raw.", "",
              "| setup | user space | AF_XDP TX (sendto) | backlog (kernel forwarding) | sink | idle |",
              "|---|---:|---:|---:|---:|---:|"]
    for setup in ["kernel", "hvrouter", "raw"]:
        if (setup, "user") not in prof:
            continue
        g = lambda c: f"{prof.get((setup, c), 0.0):.0f} %"
        lines.append(f"| {setup} | {g('user')} | {g('tx_sendto')} | {g('kernel_forward')} | "
                     f"{g('sink')} | {g('idle')} |")

lines += ["", "## Proxy ARP: answer time and first-packet delay (ms)", "",
          "Samples per row: see n. `vlan_arp`: arping from the gateway for the guest;",
          "`guest_arp`: arping from the guest for the gateway; `*_first_ping`: first ping RTT",
          "after flushing the ARP caches (gateway, guest, and the kernel hypervisor's; the",
          "router's own cache is not flushed), so it includes the resolution.", "",
          "| what | setup | n | answered | median | max |", "|---|---|---:|---:|---:|---:|"]
for kind in ["vlan_arp", "guest_arp", "vlan_first_ping", "guest_first_ping"]:
    for setup in ["kernel", "hvrouter"]:
        v = arp.get((setup, kind), [])
        ok = [x for x in v if x is not None]
        med = f"{statistics.median(ok):.2f}" if ok else "-"
        mx = f"{max(ok):.2f}" if ok else "-"
        lines.append(f"| {kind} | {setup} | {len(v)} | {len(ok)} | {med} | {mx} |")

lines += ["", "## Scale", "",
          "Route lookup and guest add over `hvrouter-core` `Tables` (in memory, one network,",
          "one /32 per guest; 3 of 4 lookups hit a guest). Reload: `hvrouter reload` CLI round",
          "trip against the running router, adding or removing all guests at once (their taps",
          "do not exist: they are marked down).", "",
          "| guests | route lookup (ns) | guest add, mean while building (ns) | add+remove one at that size (ns) |",
          "|---:|---:|---:|---:|"]
for g, lk, add, ch in scale:
    lines.append(f"| {g} | {lk:.1f} | {add:.0f} | {ch:.0f} |")
if guests:
    base = next((g[7] for g in guests if g[0] == 1), None)
    rss1 = next((g[5] for g in guests if g[0] == 1), None)
    lines += ["", "With veth guests, each in its own namespace (scripts/bench/scale.sh), the router",
              "on default dataplane settings. Reachable: the guest pings the gateway and the",
              "gateway pings the guest. UMEM: pinned by `XDP_UMEM_REG`, hence resident. RSS:",
              "the router's whole resident set (UMEM, the sockets' rings, heap), and what each",
              "guest adds to it over the 1-guest run. Guest add: the",
              "last guests added at run time, `hvrouter guest add` CLI round trip (median).",
              "TCP: one iperf3 stream gateway -> guest 1 while the others idle (median of",
              "rounds), and its ratio to the same stream with one guest attached.", "",
              "| guests | reachable | UMEM (MiB) | UMEM per guest (KiB) | RSS (MiB) | RSS per added guest (KiB) | guest add (ms) | TCP (Mbit/s) | TCP vs 1 guest |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, both, out, inb, umem, rss, add, tcp in guests:
        add_s = "-" if add is None else f"{add:.1f}"
        tcp_s = "-" if tcp is None else f"{tcp:.0f}"
        ratio = "-" if tcp is None or not base else f"{tcp / base:.2f}"
        per = "-" if rss1 is None or n == 1 else f"{(rss - rss1) / (n - 1) / 1024:.0f}"
        lines.append(f"| {n} | {both} of {n} | {umem / 2**20:.0f} | {umem / n / 1024:.0f} | "
                     f"{rss / 2**20:.1f} | {per} | {add_s} | {tcp_s} | {ratio} |")
if reload:
    lines += ["", "| reload | guests | CLI round trip (ms), each round |", "|---|---:|---|"]
    for what in ["add", "remove"]:
        r = [x for x in reload if x[0] == what]
        if r:
            lines.append(f"| {what} | {r[0][1]} | " + ", ".join(f"{x[2]:.1f}" for x in r) + " |")


def bar_svg(path, title, groups, series, colors, unit):
    """groups: [label]; series: [(name, [value or None per group])]."""
    w_bar, gap = 14, 18
    gw = w_bar * len(series) + gap
    left, top, h = 60, 40, 260
    width = left + gw * len(groups) + 20
    height = top + h + 110
    vmax = max([v for _, vs in series for v in vs if v is not None] + [1e-9]) * 1.1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14">{title}</text>']
    for i in range(6):
        v = vmax * i / 5
        y = top + h - h * i / 5
        out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    out.append(f'<text x="12" y="{top + h / 2}" transform="rotate(-90 12 {top + h / 2})" '
               f'text-anchor="middle">{unit}</text>')
    for gi, label in enumerate(groups):
        x0 = left + gi * gw + gap / 2
        for si, (_, vs) in enumerate(series):
            v = vs[gi]
            if v is None:
                continue
            bh = h * v / vmax
            out.append(f'<rect x="{x0 + si * w_bar:.1f}" y="{top + h - bh:.1f}" width="{w_bar - 1}" '
                       f'height="{bh:.1f}" fill="{colors[si]}"/>')
        cx = x0 + w_bar * len(series) / 2
        out.append(f'<text x="{cx:.1f}" y="{top + h + 12}" text-anchor="end" '
                   f'transform="rotate(-45 {cx:.1f} {top + h + 12})">{label}</text>')
    for si, (name, _) in enumerate(series):
        x = left + si * 110
        out.append(f'<rect x="{x}" y="{height - 18}" width="10" height="10" fill="{colors[si]}"/>')
        out.append(f'<text x="{x + 14}" y="{height - 9}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


colors = ["#888888", "#1f77b4", "#2ca02c"]
groups = [f"{DIRS.get(d, d)} {fl}f {sz}B" for d, fl, sz in points]
series = [(s, [None if pps.get((s, *p)) is None else pps[(s, *p)] / 1e6 for p in points])
          for s in ["kernel", "hvrouter", "raw"]]
bar_svg(os.path.join(out_dir, "pps.svg"), f"Packet rate, {host}, {now:%Y-%m-%d}", groups,
        series, colors, "Mpps")
kinds = ["vlan_arp", "guest_arp", "vlan_first_ping", "guest_first_ping"]
aseries = []
for setup in ["kernel", "hvrouter"]:
    for stat, fn in [("median", statistics.median), ("max", max)]:
        vals = []
        for kind in kinds:
            ok = [x for x in arp.get((setup, kind), []) if x is not None]
            vals.append(fn(ok) if ok else None)
        aseries.append((f"{setup} {stat}", vals))
bar_svg(os.path.join(out_dir, "arp.svg"), f"Proxy ARP delays, {host}, {now:%Y-%m-%d}", kinds,
        aseries, ["#bbbbbb", "#666666", "#9ecae1", "#1f77b4"], "ms")
lines += ["", "![packet rate](pps.svg)", "", "![proxy ARP delays](arp.svg)", ""]

text = "\n".join(lines)
name = f"{now:%Y-%m-%d}-{host}.md"
for fname in [name, "latest.md"]:
    with open(os.path.join(out_dir, fname), "w") as fh:
        fh.write(text)
print(text)
print(f"\nwritten: {out_dir}/{name}, {out_dir}/latest.md, {out_dir}/pps.svg, {out_dir}/arp.svg")
