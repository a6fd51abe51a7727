#!/usr/bin/python3
"""Count frames on IFACE that a hostile guest must never get through the router.

    sniff.py IFACE MAX_SECONDS

Prints "ready" once capturing, then, when its stdin closes (or after MAX_SECONDS): "leaked N legit M arp_claims K", where
leaked counts frames carrying b"HVRATTACK" or a source MAC (Ethernet or ARP sender) of
ATTACKER_MACS (a guest's own MAC must never appear beyond the router: it rewrites every
forwarded frame), legit counts frames carrying b"HVRLEGIT", and arp_claims counts ARP
frames whose sender MAC is an attacker's.
"""
import select
import sys
import time

from scapy.all import ARP, Ether, AsyncSniffer, conf

conf.verb = 0
ATTACKER_MACS = {"02:66:66:66:66:01", "02:00:00:00:00:0a"}


def main():
    iface, seconds = sys.argv[1], float(sys.argv[2])
    counts = {"leaked": 0, "legit": 0, "arp_claims": 0}

    def seen(p):
        raw = bytes(p)
        bad = Ether in p and p[Ether].src in ATTACKER_MACS
        if ARP in p and p[ARP].hwsrc in ATTACKER_MACS:
            counts["arp_claims"] += 1
            bad = True
        if bad or b"HVRATTACK" in raw:
            counts["leaked"] += 1
            print("LEAK %s" % p.summary(), file=sys.stderr)
        if b"HVRLEGIT" in raw:
            counts["legit"] += 1

    s = AsyncSniffer(iface=iface, store=False, prn=seen)
    s.start()
    time.sleep(0.3)
    print("ready", flush=True)
    deadline = time.time() + seconds
    while time.time() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 0.1)
        if r and not sys.stdin.read(1):
            break
    time.sleep(0.3)  # frames still in flight
    s.stop()
    print("leaked %(leaked)d legit %(legit)d arp_claims %(arp_claims)d" % counts, flush=True)


if __name__ == "__main__":
    main()
