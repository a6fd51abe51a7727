#!/usr/bin/python3
"""Hostile IPv6 frames a guest sends toward its router, and an NDP storm from the VLAN
(tests/hostile6.rs drives it).

    guest6.py ATTACK IFACE ROUTER_MAC [COUNT]
    guest6.py ns_storm IFACE ROUNDS GUEST_ADDR...
    guest6.py mld_query IFACE GROUP     an MLDv2 query (GROUP :: for a general one) from
                                        the VLAN; prints "reports N groups G,G,..." (the
                                        MLDv2 reports heard within 3 s and their groups)

Every frame that must never reach the VLAN or another guest carries the marker
b"HVRATTACK" (in its payload) or comes from guest 1's own MAC, so sniff.py recognises a
leak. Prints "sent N"; ns_storm prints "answered A strangers S" (neighbor advertisements
received for the guest addresses / for the solicited non-guest addresses; advertisements
for other targets, e.g. the router's own link-local address answering the gateway's
solicitation, are listed apart). Documentation prefixes only
(2001:db8::/32).
"""
import socket
import sys
import time

from scapy.all import (  # noqa: F401
    Ether, IPv6, UDP, Raw, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, RouterAlert,
    ICMPv6ND_RA, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_Redirect, ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr, ICMPv6NDOptPrefixInfo, ICMPv6MLReport2, ICMPv6EchoRequest,
    ICMPv6MLQuery, ICMPv6MLQuery2, ICMPv6MLDMultAddrRec,
    AsyncSniffer, sendp, conf, in6_getnsmac, inet_pton,
)

conf.verb = 0
MARK = b"HVRATTACK"
GUEST_MAC = "02:00:00:00:00:0a"          # guest 1's own MAC
GUEST = "2001:db8:90::ff:fe00:a"        # its SLAAC address
GUEST_LL = "fe80::ff:fe00:a"
GW6 = "2001:db8:90::1"
OTHER = "2001:db8:90::ff:fe00:14"       # guest 2
ALL_NODES_MAC = "33:33:00:00:00:01"


def attack(name, rmac, count):
    pk = []
    if name == "rogue_ra":
        # A router advertisement for a rogue prefix and default route, to all nodes.
        for _ in range(3):
            pk.append(Ether(src=GUEST_MAC, dst=ALL_NODES_MAC) / IPv6(src=GUEST_LL, dst="ff02::1", hlim=255)
                      / ICMPv6ND_RA(routerlifetime=1800) / ICMPv6NDOptSrcLLAddr(lladdr=GUEST_MAC)
                      / ICMPv6NDOptPrefixInfo(prefix="2001:db8:66::", prefixlen=64) / Raw(MARK))
    elif name == "redirect":
        for dst in [GW6, OTHER]:
            pk.append(Ether(src=GUEST_MAC, dst=rmac) / IPv6(src=GUEST_LL, dst="fe80::1", hlim=255)
                      / ICMPv6ND_Redirect(tgt=GUEST_LL, dst=dst) / Raw(MARK))
    elif name == "forged_na":
        # Claim the gateway's and guest 2's addresses with the guest's MAC (override).
        for tgt in [GW6, OTHER]:
            for to, dst in [(ALL_NODES_MAC, "ff02::1"), (rmac, "fe80::fcff:ffff:feff:ffff")]:
                # No marker: bytes after the option would be read as a malformed option.
                # sniff.py recognises the guest's own MAC.
                pk.append(Ether(src=GUEST_MAC, dst=to) / IPv6(src=GUEST_LL, dst=dst, hlim=255)
                          / ICMPv6ND_NA(tgt=tgt, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=GUEST_MAC))
    elif name == "spoof6":
        for src in [OTHER, "2001:db8:90::4242", "2001:db8:1::5", GW6]:
            for dst in [GW6, "2001:db8:1::1", OTHER]:
                pk.append(Ether(src=GUEST_MAC, dst=rmac) / IPv6(src=src, dst=dst)
                          / UDP(sport=40000, dport=9) / Raw(MARK))
    elif name == "ext_headers":
        # Ten destination-options headers; a hop-by-hop header that is not first.
        deep = IPv6(src=GUEST, dst=GW6)
        for _ in range(10):
            deep = deep / IPv6ExtHdrDestOpt()
        pk.append(Ether(src=GUEST_MAC, dst=rmac) / deep / UDP(sport=40000, dport=9) / Raw(MARK))
        pk.append(Ether(src=GUEST_MAC, dst=rmac) / IPv6(src=GUEST, dst=GW6) / IPv6ExtHdrDestOpt()
                  / IPv6ExtHdrHopByHop() / UDP(sport=40000, dport=9) / Raw(MARK))
    elif name == "mld":
        # A report, and queries in both versions (a guest posing as the querier).
        pk.append(Ether(src=GUEST_MAC, dst="33:33:00:00:00:16") / IPv6(src=GUEST_LL, dst="ff02::16", hlim=1)
                  / IPv6ExtHdrHopByHop(options=[RouterAlert()]) / ICMPv6MLReport2() / Raw(MARK))
        for q in [ICMPv6MLQuery(mrd=1000), ICMPv6MLQuery2(mrd=1000)]:
            pk.append(Ether(src=GUEST_MAC, dst=ALL_NODES_MAC) / IPv6(src=GUEST_LL, dst="ff02::1", hlim=1)
                      / IPv6ExtHdrHopByHop(options=[RouterAlert()]) / q / Raw(MARK))
    elif name == "dhcp6_server":
        # A DHCPv6 Advertise (type 2) from port 547 to the client port: a rogue server.
        pk.append(Ether(src=GUEST_MAC, dst="33:33:00:01:00:02") / IPv6(src=GUEST_LL, dst="ff02::1:2")
                  / UDP(sport=547, dport=546) / Raw(b"\x02\x00\x00\x01" + MARK))
    elif name == "hlim1":
        for i in range(count):
            pk.append(Ether(src=GUEST_MAC, dst=rmac) / IPv6(src=GUEST, dst="2001:db8:1::1", hlim=1)
                      / UDP(sport=40000 + i % 1000, dport=9) / Raw(MARK))
    else:
        raise SystemExit("unknown attack " + name)
    sendp(pk, iface=IFACE)
    print("sent %d" % len(pk), flush=True)


def ns_storm(rounds, guests):
    """Neighbor solicitations from the gateway for every ::1:0/112-ish stranger and for
    the guests; count the advertisements that come back."""
    strangers = ["2001:db8:90::%x:%x" % (0x100 + r, i) for r in range(rounds) for i in range(1, 51)]
    targets = strangers + guests * rounds
    answered, other, unrelated = set(), set(), set()
    asked = set(strangers)
    mac = open("/sys/class/net/%s/address" % IFACE).read().strip()

    def seen(p):
        # Advertisements received: not this host's own (its kernel answers the router's
        # solicitations for the gateway's address meanwhile).
        if ICMPv6ND_NA in p and p[Ether].src != mac:
            t = p[ICMPv6ND_NA].tgt
            if t in guests:
                answered.add(t)
            elif t in asked:
                other.add(t)
            else:
                unrelated.add(t)

    s = AsyncSniffer(iface=IFACE, store=False, prn=seen, filter="icmp6")
    s.start()
    time.sleep(0.5)
    pk = []
    for t in targets:
        b = __import__("ipaddress").IPv6Address(t).packed
        grp = "ff02::1:ff%02x:%02x%02x" % (b[13], b[14], b[15])
        pk.append(Ether(src=mac, dst="33:33:ff:%02x:%02x:%02x" % (b[13], b[14], b[15]))
                  / IPv6(src=GW6, dst=grp, hlim=255) / ICMPv6ND_NS(tgt=t) / ICMPv6NDOptSrcLLAddr(lladdr=mac))
    sendp(pk, iface=IFACE)
    time.sleep(1.5)
    s.stop()
    print("sent %d" % len(pk))
    print("answered %d strangers %d" % (len(answered), len(other)), flush=True)
    if other:
        print("stranger targets answered: %s" % ",".join(sorted(other)), flush=True)
    if unrelated:
        print("other advertisements: %s" % ",".join(sorted(unrelated)), flush=True)


def mld_query(group):
    """An MLDv2 query from this host's link-local address; the reports heard after."""
    groups, n = set(), [0]

    def seen(p):
        if ICMPv6MLReport2 in p:
            n[0] += 1
            # scapy nests each record in the previous one's payload.
            for r in p[ICMPv6MLReport2].records:
                while isinstance(r, ICMPv6MLDMultAddrRec):
                    groups.add(r.dst)
                    r = r.payload

    # Not "icmp6": reports carry a Hop-by-Hop header, which that filter does not skip.
    s = AsyncSniffer(iface=IFACE, store=False, prn=seen, filter="ip6")
    s.start()
    time.sleep(0.5)
    mac = open("/sys/class/net/%s/address" % IFACE).read().strip()
    b = [int(x, 16) for x in mac.split(":")]
    ll = "fe80::%02x%02x:%02xff:fe%02x:%02x%02x" % (b[0] ^ 2, b[1], b[2], b[3], b[4], b[5])
    dst = "ff02::1" if group == "::" else group
    sendp(Ether(src=mac, dst=in6_getnsmac(inet_pton(socket.AF_INET6, dst)))
          / IPv6(src=ll, dst=dst, hlim=1) / IPv6ExtHdrHopByHop(options=[RouterAlert()])
          / ICMPv6MLQuery2(mrd=1000, mladdr=group), iface=IFACE)
    time.sleep(3)
    s.stop()
    print("reports %d groups %s" % (n[0], ",".join(sorted(groups))), flush=True)


if __name__ == "__main__":
    IFACE = sys.argv[2]
    if sys.argv[1] == "ns_storm":
        ns_storm(int(sys.argv[3]), sys.argv[4:])
    elif sys.argv[1] == "mld_query":
        mld_query(sys.argv[3])
    else:
        attack(sys.argv[1], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
