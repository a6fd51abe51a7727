#!/usr/bin/env python3
"""TCP table, plot and profile summary for scripts/bench/tcp.sh.

usage: tcp_report.py DATA.tsv PROFILE.tsv COUNTERS.tsv OUT_DIR MACHINE SECONDS ROUNDS [PRODUCER]

DATA rows: setup, path, streams, round, Mbit/s; and `tcpprof` rows (setup, path, CPU,
category, % of that CPU: scripts/bench/tcp_profile.py). PROFILE rows: setup, path, then
a line of `perf report --sort comm,sym` output. COUNTERS rows: setup, port, counters.
PRODUCER: the command that ran (scripts/bench/tcp.sh or scripts/bench.sh). Writes
OUT_DIR/tcp.md, OUT_DIR/tcp.svg,
OUT_DIR/tcp-profile.md and replaces the TCP section of OUT_DIR/latest.md (between the
markers below; appended if absent), leaving the rest of that file alone.
"""
import os
import statistics
import sys
import time

BEGIN = "<!-- tcp:begin (scripts/bench/tcp.sh) -->"
END = "<!-- tcp:end -->"
PATHS = {
    "gw-g1": "gateway -> veth guest",
    "g1-gw": "veth guest -> gateway",
    "gw-g3": "gateway -> tap guest",
    "g3-gw": "tap guest -> gateway",
    "g1-g2": "veth guest -> veth guest",
    "g3-g1": "tap guest -> veth guest",
}


# Each path's target: hvrouter / kernel at least this, 1 and 4 streams.
TARGETS = {"gw-g3": 1.0, "g3-gw": 1.0, "g1-g2": 1.0, "g3-g1": 1.0, "gw-g1": 0.8, "g1-gw": 0.8}


def load(path):
    """(runs: (path, streams) -> setup -> [Mbit/s], shares: (setup, path, cpu) -> {category: %})"""
    runs, shares = {}, {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 6 and parts[0] == "tcpprof":
                _, setup, p, cpu, cat, pct = parts
                shares.setdefault((setup, p, cpu), {})[cat] = float(pct)
                continue
            if len(parts) != 5:
                continue
            setup, p, streams, _round, mbps = parts
            runs.setdefault((p, int(streams)), {}).setdefault(setup, []).append(float(mbps))
    return runs, shares


def targets_md(ratios):
    """Each path's target, its ratios with 1 and 4 streams, and whether both meet it."""
    by_path = {}
    for p, streams, q in ratios:
        by_path.setdefault(p, {})[streams] = q
    rows = ["| path | target | hvrouter / kernel (by streams) | met |", "|---|---:|---|---|"]
    for p, want in TARGETS.items():
        got = by_path.get(p)
        if not got:
            continue
        cells = ", ".join(f"P={s}: {q:.2f}x" for s, q in sorted(got.items()))
        met = [s for s, q in sorted(got.items()) if q >= want]
        verdict = ("yes" if len(met) == len(got) else
                   ("no" if not met else "only P=" + ",".join(str(s) for s in met)))
        rows.append(f"| {PATHS.get(p, p)} | >= {want:.1f}x | {cells} | {verdict} |")
    return "\n".join(rows)


# Categories of tcp_profile.py shown in the tables, with their headings.
SHARE_COLUMNS = [
    ("router", "router (all)"),
    ("router_user", "router code"),
    ("afxdp_tx", "AF_XDP TX (sendto)"),
    ("gso_send", "GSO sends (AF_PACKET)"),
    ("afxdp_rx_copy", "AF_XDP RX copy (native)"),
    ("afxdp_rx_generic", "AF_XDP RX (generic XDP)"),
    ("generic_xdp_cow", "skb copy for generic XDP"),
    ("copy", "byte copies (self)"),
    ("tcp_recv_stack", "TCP receive (tcp_v4_rcv)"),
    ("idle", "idle"),
]


def shares_md(shares):
    """One row per (setup, path, CPU): the categories' shares of that CPU."""
    if not shares:
        return ""
    rows = ["| setup | path | CPU | " + " | ".join(h for _, h in SHARE_COLUMNS) + " | busiest commands |",
            "|---|---|---:|" + "---:|" * len(SHARE_COLUMNS) + "---|"]
    order = list(PATHS)
    for (setup, p, cpu), cats in sorted(
            shares.items(), key=lambda kv: (order.index(kv[0][1]) if kv[0][1] in order else 99,
                                            kv[0][0], kv[0][2] != "1")):
        comms = ", ".join(f"{k[5:]} {v:.0f} %" for k, v in cats.items() if k.startswith("comm:"))
        cells = " | ".join(f"{cats.get(c, 0.0):.0f}" for c, _ in SHARE_COLUMNS)
        rows.append(f"| {setup} | {PATHS.get(p, p)} | {cpu} | {cells} | {comms} |")
    return "\n".join(rows)


def fmt_range(values):
    lo, hi = min(values), max(values)
    return f"{statistics.median(values):.0f}" + (f" ({lo:.0f}-{hi:.0f})" if len(values) > 1 else "")


SETUPS = ["kernel", "hvrouter-nogso", "hvrouter-nokey", "hvrouter", "hvrouter-genguests",
          "hvrouter-adaptive", "hvrouter-before"]
NAMES = {
    "kernel": "kernel",
    "hvrouter-nogso": "hvrouter gso=off",
    "hvrouter-nokey": "hvrouter (other build)",
    "hvrouter": "hvrouter gso=auto",
    "hvrouter-genguests": "hvrouter gso=auto, guests generic",
    "hvrouter-adaptive": "hvrouter gso=auto, poll adaptive",
    "hvrouter-before": "hvrouter, build before the change",
}


def ratio(num, den):
    if num and den and statistics.median(den) > 0:
        return statistics.median(num) / statistics.median(den)
    return None


def table(runs):
    present = [s for s in SETUPS if any(s in r for r in runs.values())]
    others = [s for s in present if s != "kernel"]
    head = "| path | streams | " + " | ".join(f"{NAMES[s]} Mbit/s" for s in present)
    head += " | " + " | ".join(f"{NAMES[s]} / kernel" for s in others) + " |"
    rows = [head, "|---|---:|" + "---:|" * (len(present) + len(others))]
    order = [p for p in PATHS if any(k[0] == p for k in runs)]
    ratios = []
    for p in order:
        for streams in sorted({k[1] for k in runs if k[0] == p}):
            r = runs[(p, streams)]
            cells = [fmt_range(r[s]) if r.get(s) else "-" for s in present]
            qs = []
            for s in others:
                q = ratio(r.get(s), r.get("kernel"))
                qs.append(f"{q:.2f}x" if q is not None else "")
                if q is not None and s == "hvrouter":
                    ratios.append((p, streams, q))
            rows.append(f"| {PATHS.get(p, p)} | {streams} | " + " | ".join(cells + qs) + " |")
    return "\n".join(rows), ratios


def svg(ratios, path):
    """Horizontal bars of hvrouter/kernel per path and stream count, 1.0 marked."""
    width, bar_h, left = 640, 18, 250
    height = 40 + bar_h * len(ratios) + 30
    top = max([q for _, _, q in ratios] + [1.2])
    scale = (width - left - 60) / top
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="10" y="20" font-size="14">TCP: hvrouter / kernel routed setup '
        "(same run; 1.0 = equal)</text>",
    ]
    for i, (p, streams, q) in enumerate(ratios):
        y = 35 + i * bar_h
        colour = "#3a7" if q >= 1.0 else ("#db3" if q >= 0.8 else "#c44")
        out.append(f'<text x="10" y="{y + 13}">{PATHS.get(p, p)}, P={streams}</text>')
        out.append(
            f'<rect x="{left}" y="{y + 2}" width="{q * scale:.1f}" height="{bar_h - 4}" '
            f'fill="{colour}"/>'
        )
        out.append(f'<text x="{left + q * scale + 4:.1f}" y="{y + 13}">{q:.2f}x</text>')
    x1 = left + scale
    y_end = 35 + bar_h * len(ratios)
    out.append(f'<line x1="{x1:.1f}" y1="30" x2="{x1:.1f}" y2="{y_end}" stroke="#000" '
               'stroke-dasharray="4 3"/>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def profile_md(path):
    rows = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 3:
                    rows.setdefault((parts[0], parts[1]), []).append(parts[2].strip())
    if not rows:
        return "No profile (TCP_PROFILE=0 or no perf).\n"
    out = []
    for (setup, p), lines in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        out.append(f"### {PATHS.get(p, p)}: {setup}\n\n```")
        out.extend(lines)
        out.append("```\n")
    return "\n".join(out)


def counters_md(path):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return ""
    out = ["Router counters after each setup's last path (GSO sends, segments coalesced, "
           "fallbacks):", "", "```"]
    with open(path) as f:
        out.extend(line.rstrip("\n") for line in f)
    out.append("```")
    return "\n".join(out)


def main():
    data, prof, counters, out_dir, machine, seconds, rounds = sys.argv[1:8]
    producer = sys.argv[8] if len(sys.argv) > 8 else "scripts/bench/tcp.sh"
    runs, shares = load(data)
    present = {s for r in runs.values() for s in r}
    notes = ""
    if "hvrouter-nogso" in present:
        notes += ("gso=off is the router before GSO (software segmentation, every frame "
                  "through AF_XDP). ")
    if "hvrouter-genguests" in present:
        notes += "guests generic adds `guest_xdp_mode = \"generic\"`. "
    interleaved = ", interleaved with the UDP rounds" if producer.endswith("bench.sh") else ""
    tbl, ratios = table(runs)
    svg(ratios, os.path.join(out_dir, "tcp.svg"))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    section = "\n".join([
        BEGIN,
        "## TCP (iperf3), hvrouter vs kernel routed setup",
        "",
        f"{stamp}; {machine}. Produced by `sudo {producer}` (lab of "
        f"`scripts/lab.sh`: gateway with tx checksumming off, veth guests, tap guest behind "
        f"the QEMU-like relay with vnet headers and TSO). {rounds} round(s), the setups in "
        f"turn{interleaved}; each cell is the median of the rounds (range in brackets) of a "
        f"{seconds} s iperf3 run, receiver's rate. hvrouter: one worker, busy poll on CPU 1, "
        f"16384 UMEM frames, xdp_mode auto, gso=auto (the default). "
        + notes
        + "Ratio plot (gso=auto, defaults): tcp.svg. Profiles: tcp-profile.md.",
        "",
        tbl,
        "",
        "Targets (hvrouter gso=auto against the kernel setup, same run):",
        "",
        targets_md(ratios),
        "",
        ("Where each CPU goes during one stream (perf, % of that CPU; categories overlap: "
         "a send runs the receiving veth's stack inline; see tcp-profile.md):\n\n"
         + shares_md(shares) + "\n") if shares else "",
        counters_md(counters),
        END,
    ])
    with open(os.path.join(out_dir, "tcp.md"), "w") as f:
        f.write(section + "\n")
    with open(os.path.join(out_dir, "tcp-profile.md"), "w") as f:
        f.write(f"# Where the two CPUs go during one TCP stream ({stamp})\n\n")
        f.write("`perf record` on CPU 1 (the router's core; the kernel setup's forwarding "
                "runs wherever the packets arrive) and CPU 0 (senders, relay, and the receive "
                "work done in the sender's context) for 2 s during a single-stream run, first "
                "round: share by command (above 3 %), then by command and symbol (above 2 %). "
                "The router busy-polls: its idle time shows as `worker::run` and "
                "`clock_gettime`.\n\n")
        if shares:
            f.write("## Shares by category\n\n`scripts/bench/tcp_profile.py` over `perf "
                    "record -g` of each CPU: inclusive shares of the AF_XDP transmit kick "
                    "(`__sys_sendto`: an skb built and the frame copied per frame, then the "
                    "veth transmit and, inline, the receiver's stack), the GSO send "
                    "(`packet_sendmsg`: one skb per super-frame), the AF_XDP receive copy into "
                    "UMEM (`__xsk_rcv` native, `xsk_generic_rcv` generic), generic XDP's skb "
                    "copy (`skb_cow_data_for_xdp`), the TCP receive (`tcp_v4_rcv`); self time "
                    "of the byte copies (memcpy, copy_from_iter, ...); the measured router's "
                    "threads (router (all): kernel work in its context included; router code: "
                    "its own code, busy polling included). The sending categories count the "
                    "router's threads only; the rest every process on that CPU (other work on "
                    "this shared machine shows under busiest commands).\n\n")
            f.write(shares_md(shares) + "\n\n## Top symbols\n\n")
        f.write(profile_md(prof))
    latest = os.path.join(out_dir, "latest.md")
    text = open(latest).read() if os.path.exists(latest) else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(latest, "w") as f:
        f.write(text)
    print(section)


if __name__ == "__main__":
    main()
