#!/usr/bin/python3
"""Hostile frames from the VLAN side (tests/hostile.rs and tests/faults.rs drive it).

    vlan.py storm IFACE ROUNDS       who-has for 192.0.2.1-254, ROUNDS times, as fast as
                                     scapy sends; prints "sent N", "replies R" and
                                     "answered IP,IP,..." (the addresses some reply claimed)
    vlan.py garp IFACE IP MAC        gratuitous ARP (request and reply forms) claiming IP
                                     for MAC, 3 times each

    vlan.py watch IFACE MAX_SECONDS  until stdin closes: who-has every 20 ms, alternating
                                     unused addresses 192.0.2.100-199 and the guests;
                                     prints "ready", then "probes N hijacked H guests G"
                                     (H: replies for unused addresses, G: for guests)

Run in the gateway namespace. Documentation prefixes only.
"""
import select
import sys
import time

from scapy.all import ARP, Ether, AsyncSniffer, sendp, conf, get_if_hwaddr

conf.verb = 0
BCAST = "ff:ff:ff:ff:ff:ff"


def storm(iface, rounds):
    me = get_if_hwaddr(iface)
    reqs = [Ether(src=me, dst=BCAST) / ARP(op=1, hwsrc=me, psrc="192.0.2.1",
                                            pdst="192.0.2.%d" % i)
            for i in range(1, 255)] * rounds
    sniffer = AsyncSniffer(iface=iface, store=True,
                           lfilter=lambda p: ARP in p and p[ARP].op == 2
                           and p[ARP].hwsrc != me and p[ARP].pdst == "192.0.2.1"
                           and p[ARP].hwdst == me)
    sniffer.start()
    time.sleep(0.5)
    sendp(reqs, iface=iface)
    time.sleep(1.0)
    got = sniffer.stop()
    print("sent %d" % len(reqs))
    print("replies %d" % len(got))
    print("answered %s" % ",".join(sorted({p[ARP].psrc for p in got})))


def garp(iface, ip, mac):
    frames = []
    for _ in range(3):
        frames.append(Ether(src=mac, dst=BCAST) / ARP(
            op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip))
        frames.append(Ether(src=mac, dst=BCAST) / ARP(
            op=2, hwsrc=mac, psrc=ip, hwdst=BCAST, pdst=ip))
    sendp(frames, iface=iface)
    print("sent %d" % len(frames))


def watch(iface, seconds):
    me = get_if_hwaddr(iface)
    guests = {"192.0.2.10", "192.0.2.20", "192.0.2.30"}
    counts = {"probes": 0, "hijacked": 0, "guests": 0}

    def seen(p):
        if p[ARP].op == 2 and p[ARP].hwsrc != me and p[ARP].hwdst == me:
            if p[ARP].psrc in guests:
                counts["guests"] += 1
            elif p[ARP].psrc.startswith("192.0.2.1") and len(p[ARP].psrc) == 11:
                counts["hijacked"] += 1
                print("HIJACK %s" % p.summary(), file=sys.stderr, flush=True)

    sniffer = AsyncSniffer(iface=iface, store=False, prn=seen,
                           lfilter=lambda p: ARP in p)
    sniffer.start()
    time.sleep(0.3)
    print("ready", flush=True)
    deadline = time.time() + seconds
    targets = sorted(guests) + ["192.0.2.%d" % i for i in range(100, 200)]
    i = 0
    while time.time() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 0.02)
        if r and not sys.stdin.read(1):
            break
        # Every other probe is for an unused address.
        t = targets[3 + (i // 2) % 100] if i % 2 else targets[(i // 2) % 3]
        try:
            sendp(Ether(src=me, dst=BCAST) / ARP(op=1, hwsrc=me, psrc="192.0.2.1",
                                                  pdst=t), iface=iface)
            counts["probes"] += 1
        except OSError:
            pass  # the link is down: nothing can answer either
        i += 1
    time.sleep(0.5)
    sniffer.stop()
    print("probes %(probes)d hijacked %(hijacked)d guests %(guests)d" % counts, flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if sys.argv[1] == "storm":
        storm(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "watch":
        watch(sys.argv[2], float(sys.argv[3]))
    elif sys.argv[1] == "garp":
        garp(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
