#!/usr/bin/python3
"""The table of scripts/bench/workers.sh: two workers beside one worker and the kernel.

usage: workers_report.py DATA.tsv OUT.md INFO ROUNDS STARTED LOAD_START LOAD_END TCP_SECONDS

DATA.tsv lines (scripts/bench/measure.sh, tcp_lab.sh, workers.sh):
  pps SETUP DIR FLOWS SIZE MEDIAN MIN MAX OFFERED CPU1 FILL    one point, one round
  prof SETUP CATEGORY PERCENT                                  CPU 1 profile (profile.py)
  users SETUP CPU COMMAND PERCENT                              who runs on each CPU
  counter SETUP PORT KEY VALUE                                 router counters
  tcp SETUP PATH STREAMS ROUND MBIT/S                          one iperf3 run
  tcp tcpprof SETUP PATH CPU CATEGORY PERCENT                  TCP profile (tcp_profile.py)
  handoff RUN PATH MODE MPPS W0_NS W1_NS TOTAL_NS              hvr-bench-handoff
  note handoff TEXT                                            where that binary comes from
Prints the table (setup, figure, median, ratio to the kernel, ratio to one worker) and
writes it with the rest to OUT.md.
"""
import collections
import statistics
import sys

data, out, info, rounds, started, load_start, load_end, tcp_seconds = sys.argv[1:9]
SETUPS = ("kernel", "hvrouter", "hvrouter-2w", "hvrouter-2w-local")
LABEL = {"kernel": "kernel", "hvrouter": "1 worker", "hvrouter-2w": "2 workers",
         "hvrouter-2w-local": "2 workers, no handoff"}
DIRS = {"v2g": "VLAN->guest", "g2v": "guest->VLAN"}
PATHS = {"gw-g3": "gateway -> tap guest", "g3-gw": "tap guest -> gateway",
         "gw-g1": "gateway -> veth guest", "g1-gw": "veth guest -> gateway",
         "g1-g2": "veth guest -> veth guest", "g3-g1": "tap guest -> veth guest"}
# Which worker each TCP path's frames are received on and sent by, with two workers
# (uplink and hvr-g2 on worker 0, hvr-g1 and hvr-tap3 on worker 1).
HANDED = {"gw-g3": "w0 -> w1", "g3-gw": "w1 -> w0", "gw-g1": "w0 -> w1",
          "g1-gw": "w1 -> w0", "g1-g2": "w1 -> w0", "g3-g1": "w1 only"}

pps = collections.defaultdict(list)   # (setup, dir, flows) -> Mpps per round
fill = collections.defaultdict(list)
tcp = collections.defaultdict(list)   # (setup, path, streams) -> Gbit/s per round
prof, users, counters, tcpprof = {}, [], [], {}
handoff = collections.defaultdict(dict)  # (path, mode) -> {run: (w0, w1, total)}
notes = {}
for line in open(data):
    f = line.rstrip("\n").split("\t")
    if f[0] == "pps" and f[4] == "64":
        pps[(f[1], f[2], f[3])].append(int(f[5]) / 1e6)
        fill[(f[1], f[2], f[3])].append(float(f[10]))
    elif f[0] == "prof":
        prof[(f[1], f[2])] = float(f[3])
    elif f[0] == "users":
        users.append((f[1], int(f[2]), f[3], float(f[4])))
    elif f[0] == "counter":
        counters.append(f[1:])
    elif f[0] == "tcp" and f[1] == "tcpprof":
        tcpprof[(f[2], f[3], f[4], f[5])] = float(f[6])
    elif f[0] == "tcp" and len(f) >= 6:
        tcp[(f[1], f[2], f[3])].append(int(f[5]) / 1e3)
    elif f[0] == "note":
        notes[f[1]] = f[2]
    elif f[0] == "handoff":
        handoff[(f[2], f[3])][f[1]] = tuple(float(x) if x != "-" else None for x in f[5:8])

med = lambda v: statistics.median(v) if v else None
ratio = lambda a, b: "-" if not a or not b else f"{a / b:.2f}x"
spread = lambda v: "" if len(v) < 2 else f" ({min(v):.3g}-{max(v):.3g})"

# figure name, unit, {setup: values per round}
figures = []
for suffix, what in (("", "XDP sinks"), ("-paced", "paced, XDP sinks"), ("-stack", "saturated")):
    for d in DIRS:
        for fl in ("1", "1024"):
            vals = {s: pps.get((s + suffix, d, fl), []) for s in SETUPS}
            if any(vals.values()):
                figures.append((f"UDP 64 B {DIRS[d]}, {fl} flow{'s' if fl != '1' else ''}, {what}", "Mpps", vals))
for p in PATHS:
    for st in ("1", "4"):
        vals = {s: tcp.get((s, p, st), []) for s in SETUPS}
        if any(vals.values()):
            figures.append((f"TCP {PATHS[p]}, {st} stream{'s' if st != '1' else ''}", "Gbit/s", vals))

table = ["| setup | figure | median (range over rounds) | ratio to the kernel | ratio to one worker |",
         "|---|---|---:|---:|---:|"]
wins = collections.Counter()
for name, unit, vals in figures:
    k, one = med(vals["kernel"]), med(vals["hvrouter"])
    for s in SETUPS:
        m = med(vals[s])
        cell = "-" if m is None else f"{m:.3f} {unit}{spread(vals[s])}"
        to_k = "-" if s == "kernel" else ratio(m, k)
        to_1 = ratio(m, one) if s.startswith("hvrouter-2w") else "-"
        table.append(f"| {LABEL[s]} | {name} | {cell} | {to_k} | {to_1} |")
    best = max((s for s in SETUPS if med(vals[s])), key=lambda s: med(vals[s]), default=None)
    if best:
        wins[best] += 1
print("\n".join(table))

lines = [f"# Two workers beside one worker and the kernel: {started} UTC", "",
         f"Machine: {info}.", "",
         f"Produced by `sudo scripts/bench/workers.sh`; {rounds} round(s), the setups interleaved",
         "in each round (order rotating). Load average (1/5/15 min) at the",
         f"start {load_start}, at the end {load_end}. UDP: each round's point is the median of",
         f"its windows; TCP: one iperf3 run of {tcp_seconds} s per round. A shared 2-vCPU VM: compare",
         "rows of this run only.", "",
         "`2 workers`: `workers = 2`, `cpus = [1, 0]`, busy poll. Worker 0 (the uplink, hvr-g2)",
         "on CPU 1 as with one worker; worker 1 (hvr-g1, hvr-tap3) on CPU 0, which the generator,",
         "the iperf3 senders and the tap relay use too. UDP VLAN->guest: received and decided on",
         "worker 0, handed to worker 1 to be sent; guest->VLAN: decided on worker 1, handed to",
         "worker 0, which resolves the gateway and sends. `2 workers, no handoff` (UDP only): the",
         "same, but hvr-g1 is worker 0's (a guest whose tap never appears takes port 1): worker 1",
         "busy-polls idle on CPU 0 and nothing is handed over.", "",
         f"Fastest setup per figure: " + ", ".join(f"{LABEL[s]} {wins[s]}" for s in SETUPS) +
         f" (of {len(figures)}).", "", "## The table", ""] + table + [""]

if prof:
    lines += ["## Where CPU 1 goes (64 B VLAN->guest, sinks, first round)", "",
              "perf on CPU 1 (inclusive shares; scripts/bench/profile.py). With two workers CPU 1 is",
              "worker 0's: receive and decide, no transmit to the guest.", "",
              "| setup | own code | AF_XDP transmit (sendto) | kernel forwarding | receiver's sink | rx wakeups | idle |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for s in SETUPS:
        if (s, "user") in prof or (s, "tx_sendto") in prof:
            g = lambda c: f"{prof.get((s, c), 0.0):.0f} %"
            lines.append(f"| {LABEL[s]} | {g('user')} | {g('tx_sendto')} | {g('kernel_forward')} | {g('sink')} | {g('rx_wakeup')} | {g('idle')} |")
    lines.append("")
if users:
    lines += ["## Who runs on each CPU (64 B VLAN->guest, sinks, first round)", "",
              "perf, all CPUs, by thread, summed by name, share of each CPU; `this run:` this",
              "benchmark's router, sinks and generator threads, the rest is the kernel's threads and",
              "other work on the machine (names below 3 % of a CPU left out).", "",
              "| setup | CPU | who | share |", "|---|---:|---|---:|"]
    summed = collections.defaultdict(float)
    for s, c, who, pct in users:
        summed[(s, c, who)] += pct
    order = lambda k: (SETUPS.index(k[0]) if k[0] in SETUPS else 9, k[1], -summed[k])
    for k in sorted(summed, key=order):
        if summed[k] >= 3:
            lines.append(f"| {LABEL.get(k[0], k[0])} | {k[1]} | {k[2]} | {summed[k]:.0f} % |")
    lines.append("")
if counters:
    lines += ["## The routers' counters after their UDP points with the sinks (first round)", "",
              "| setup | port | counter | value |", "|---|---|---|---:|"]
    lines += [f"| {LABEL.get(c[0], c[0])} | {c[1]} | {c[2]} | {c[3]} |" for c in counters]
    lines.append("")
if tcpprof:
    lines += ["## TCP: the router's share of each CPU (first round, one stream, perf)", "",
              "`router`: the router's threads' share of the CPU (tcp_profile.py). With two workers, CPU 1",
              "is worker 0's and CPU 0 worker 1's, beside the senders and the relay.", "",
              "| path | handed over (2 workers) | 1 worker: CPU 1 | CPU 0 | 2 workers: CPU 1 | CPU 0 |",
              "|---|---|---:|---:|---:|---:|"]
    for p in PATHS:
        g = lambda s, c: "-" if (s, p, c, "router") not in tcpprof else f"{tcpprof[(s, p, c, 'router')]:.0f} %"
        if any((s, p, c, "router") in tcpprof for s in SETUPS for c in "01"):
            lines.append(f"| {PATHS[p]} | {HANDED[p]} | {g('hvrouter', '1')} | {g('hvrouter', '0')} | {g('hvrouter-2w', '1')} | {g('hvrouter-2w', '0')} |")
    lines.append("")
if handoff:
    lines += ["## The handoff's cost per frame (hvr-bench-handoff, in-memory ports)", "",
              "64 B UDP through the whole pipeline on in-memory ports (no AF_XDP): `local` both ports",
              "on one worker; `stepped` two workers joined by the handoff rings, run in turn on one",
              "thread (the handoff's own work); `threads` the two on two threads (cache lines cross",
              "cores; on this shared 2-vCPU VM the two threads also wait for each other's CPU).",
              "ns per frame of each worker's busy time, median over runs (range). Built from:",
              f"{notes.get('handoff', 'unknown')}.", "",
              "| path | mode | worker 0 ns/frame | worker 1 ns/frame | total ns/frame | handoff cost (total - local) |",
              "|---|---|---:|---:|---:|---:|"]
    for path in ("vlan->guest", "guest->vlan"):
        local = handoff.get((path, "local"), {})
        for mode in ("local", "stepped", "threads"):
            runs = handoff.get((path, mode), {})
            if not runs:
                continue
            col = lambda i: [r[i] for r in runs.values() if r[i] is not None]
            cell = lambda v: "-" if not v else f"{med(v):.0f}{spread(v)}"
            costs = [r[2] - local[n][2] for n, r in runs.items() if n in local and r[2] and local[n][2]]
            cost = "-" if mode == "local" else cell(costs)
            lines.append(f"| {path} | {mode} | {cell(col(0))} | {cell(col(1))} | {cell(col(2))} | {cost} |")
    lines.append("")

open(out, "w").write("\n".join(lines) + "\n")
