#!/usr/bin/python3
"""Hostile frames from the VLAN side (tests/hostile.rs and tests/faults.rs drive it).

    vlan.py storm IFACE ROUNDS       who-has for 192.0.2.1-254, ROUNDS times, as fast as
                                     scapy sends; prints "sent N", "replies R" and
                                     "answered IP,IP,..." (the addresses some reply claimed)
    vlan.py garp IFACE IP MAC        gratuitous ARP (request and reply forms) claiming IP
                                     for MAC, 3 times each

Run in the gateway namespace. Documentation prefixes only.
"""
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


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if sys.argv[1] == "storm":
        storm(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "garp":
        garp(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
