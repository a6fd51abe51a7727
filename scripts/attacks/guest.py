#!/usr/bin/python3
"""Hostile frames a guest sends toward its router (tests/hostile.rs drives it).

    guest.py ATTACK IFACE ROUTER_MAC [COUNT]

Run inside a guest namespace. Every frame that must never reach the VLAN or another guest
carries the marker b"HVRATTACK" (in its payload or padding) or a source MAC from
ATTACKER_MACS, so sniff.py can recognise a leak. Frames a router may legitimately forward
(fragments, IP options with the guest's own source) carry b"HVRLEGIT" instead. Prints
"sent N" (and, for ttl1, "icmp_errors M": the ICMP errors that came back).
Documentation prefixes only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).
"""
import sys
import time

from scapy.all import (  # noqa: F401
    ARP, IP, UDP, ICMP, Dot1Q, Ether, IPv6, ICMPv6EchoRequest, Raw, AsyncSniffer,
    BOOTP, DHCP, IPOption_NOP, IPOption_RR, fragment, sendp, conf,
)

conf.verb = 0
MARK = b"HVRATTACK"
LEGIT = b"HVRLEGIT"
GUEST_MAC = "02:00:00:00:00:0a"   # guest 1's own MAC (the router knows it)
GUEST_IP = "192.0.2.10"
GW = "192.0.2.1"
OTHER = "192.0.2.20"              # guest 2
FAKE_MAC = "02:66:66:66:66:01"    # in sniff.py's ATTACKER_MACS
BCAST = "ff:ff:ff:ff:ff:ff"


def udp(src=GUEST_IP, dst=GW, mac=GUEST_MAC, to=None, ttl=64, payload=MARK, dport=9):
    return Ether(src=mac, dst=to) / IP(src=src, dst=dst, ttl=ttl) / UDP(
        sport=40000, dport=dport) / Raw(payload)


def attack(name, rmac, count):
    pk = []
    if name == "spoof_ip":
        # Another guest's address, an unused subnet address, an outside address, the
        # gateway's own address, 0.0.0.0: toward the VLAN, beyond it and guest 2.
        for src in [OTHER, "192.0.2.77", "198.51.100.5", GW, "0.0.0.0", "203.0.113.2"]:
            for dst in [GW, "198.51.100.1", OTHER]:
                pk.append(udp(src=src, dst=dst, to=rmac))
    elif name == "spoof_mac":
        for mac in [FAKE_MAC, "02:00:00:00:00:14", "02:00:00:00:01:01"]:
            for dst in [GW, "198.51.100.1", OTHER]:
                pk.append(udp(mac=mac, dst=dst, to=rmac))
    elif name == "arp_spoof":
        # Replies and gratuitous ARP claiming the gateway, guest 2 and an unused address,
        # with the guest's MAC and a fake one, unicast to the router and broadcast.
        for claim in [GW, OTHER, "192.0.2.77"]:
            for mac in [GUEST_MAC, FAKE_MAC]:
                for to in [rmac, BCAST]:
                    pk.append(Ether(src=mac, dst=to) / ARP(
                        op=2, hwsrc=mac, psrc=claim, hwdst=to, pdst=GW) / Raw(MARK))
                    pk.append(Ether(src=mac, dst=BCAST) / ARP(
                        op=1, hwsrc=mac, psrc=claim, hwdst="00:00:00:00:00:00",
                        pdst=claim) / Raw(MARK))
    elif name == "arp_flood":
        # Who-has for every subnet address, with the guest's own sender fields.
        for i in range(count):
            pk.append(Ether(src=GUEST_MAC, dst=BCAST) / ARP(
                op=1, hwsrc=GUEST_MAC, psrc=GUEST_IP, pdst="192.0.2.%d" % (i % 254 + 1))
                / Raw(MARK))
    elif name == "bcast_mcast":
        pk.append(udp(dst="255.255.255.255", to=BCAST))
        pk.append(udp(dst="192.0.2.255", to=BCAST))
        pk.append(udp(dst="192.0.2.255", to=rmac))
        pk.append(udp(dst="224.0.0.1", to="01:00:5e:00:00:01"))
        pk.append(udp(dst="239.1.2.3", to="01:00:5e:01:02:03"))
        pk.append(udp(dst="224.0.0.1", to=rmac))
        pk.append(udp(dst=GW, to=BCAST))
        pk.append(udp(dst=OTHER, to="01:00:5e:00:00:01"))
    elif name == "ethertypes":
        pk.append(Ether(src=GUEST_MAC, dst=rmac) / IPv6(
            src="fe80::1", dst="ff02::1") / ICMPv6EchoRequest(data=MARK))
        pk.append(Ether(src=GUEST_MAC, dst="33:33:00:00:00:01") / IPv6(
            src="fe80::1", dst="ff02::1") / ICMPv6EchoRequest(data=MARK))
        pk.append(Ether(src=GUEST_MAC, dst=rmac) / Dot1Q(vlan=90) / IP(
            src=GUEST_IP, dst=GW) / UDP(dport=9) / Raw(MARK))
        pk.append(Ether(src=GUEST_MAC, dst=BCAST) / Dot1Q(vlan=90) / ARP(
            op=1, hwsrc=GUEST_MAC, psrc=GUEST_IP, pdst=GW) / Raw(MARK))
        pk.append(Ether(src=GUEST_MAC, dst="01:80:c2:00:00:0e", type=0x88cc) /
                  Raw(b"\x02\x07\x04" + b"\x02\x00\x00\x00\x00\x0a" + MARK))
        pk.append(Ether(src=GUEST_MAC, dst=rmac, type=0x88cc) / Raw(MARK))
        pk.append(Ether(src=GUEST_MAC, dst=rmac, type=0x8863) / Raw(MARK))
    elif name == "frag_opts":
        big = IP(src=GUEST_IP, dst="198.51.100.1") / UDP(sport=40001, dport=9) / Raw(
            LEGIT * 300)
        for f in fragment(big, fragsize=1000):
            pk.append(Ether(src=GUEST_MAC, dst=rmac) / f)
        pk.append(Ether(src=GUEST_MAC, dst=rmac) / IP(
            src=GUEST_IP, dst="198.51.100.1", options=[IPOption_NOP(), IPOption_RR()]) /
            UDP(sport=40002, dport=9) / Raw(LEGIT))
        # The same with a spoofed source: never forwarded.
        spoof = IP(src="192.0.2.77", dst="198.51.100.1") / UDP(dport=9) / Raw(MARK * 300)
        for f in fragment(spoof, fragsize=1000):
            pk.append(Ether(src=GUEST_MAC, dst=rmac) / f)
        pk.append(Ether(src=GUEST_MAC, dst=rmac) / IP(
            src="192.0.2.77", dst="198.51.100.1", options=[IPOption_NOP()]) /
            UDP(dport=9) / Raw(MARK))
    elif name == "malformed":
        good = bytes(udp(to=rmac, dst="198.51.100.1"))
        pk.append(Raw(good[:13]))                      # not even an Ethernet header
        pk.append(Raw(good[:14 + 10]))                 # truncated IPv4 header
        pk.append(Raw(good[:14 + 20 + 4]))             # IPv4 total length > frame
        bad = bytearray(good)
        bad[14 + 10] ^= 0xff                           # IPv4 header checksum
        pk.append(Raw(bytes(bad)))
        bad = bytearray(good)
        bad[14] = 0x65                                 # version 6 in an IPv4 ethertype
        pk.append(Raw(bytes(bad)))
        bad = bytearray(good)
        bad[14] = 0x43                                 # IHL 3 (< 5)
        pk.append(Raw(bytes(bad)))
        arp = bytes(Ether(src=GUEST_MAC, dst=BCAST) / ARP(
            op=1, hwsrc=GUEST_MAC, psrc=GUEST_IP, pdst=GW))
        pk.append(Raw(arp[:14 + 20]))                  # truncated ARP
        bad = bytearray(arp)
        bad[14 + 4] = 16                               # hardware length 16
        pk.append(Raw(bytes(bad) + MARK))
        bad = bytearray(arp)
        bad[14 + 7] = 9                                # ARP op 9
        pk.append(Raw(bytes(bad) + MARK))
    elif name == "dhcp":
        for to in [BCAST, rmac]:
            pk.append(Ether(src=GUEST_MAC, dst=to) / IP(src="0.0.0.0", dst="255.255.255.255")
                      / UDP(sport=68, dport=67) / BOOTP(chaddr=b"\x02\x00\x00\x00\x00\x0a")
                      / DHCP(options=[("message-type", "discover"), "end"]) / Raw(MARK))
        # A DHCP offer a rogue server in the guest would send to the VLAN.
        pk.append(Ether(src=GUEST_MAC, dst=BCAST) / IP(src=GUEST_IP, dst="255.255.255.255")
                  / UDP(sport=67, dport=68) / BOOTP(op=2, yiaddr="192.0.2.77")
                  / DHCP(options=[("message-type", "offer"), "end"]) / Raw(MARK))
        pk.append(udp(dst="192.0.2.255", to=BCAST, dport=67))
    elif name == "oversized":
        # From guest 3 (a tap: QEMU may write frames larger than the MTU; raise the
        # guest's MTU first): larger than the VLAN's 1500 with and without DF, one
        # chunk and several (multi-buffer).
        mac, src = "02:00:00:00:00:1e", "192.0.2.30"
        for size in [3000, 8000]:
            for flags in ["DF", 0]:
                pk.append(Ether(src=mac, dst=rmac) / IP(
                    src=src, dst="198.51.100.1", flags=flags) / UDP(dport=9) /
                    Raw((MARK * (size // len(MARK) + 1))[:size]))
    elif name == "ttl1":
        pk = [udp(dst="198.51.100.1", to=rmac, ttl=1, dport=33434 + i % 100)
              for i in range(count)]
        sniffer = AsyncSniffer(
            iface=IFACE, store=True,
            lfilter=lambda p: ICMP in p and p[ICMP].type == 11 and p[IP].dst == GUEST_IP)
        sniffer.start()
        time.sleep(0.5)
        sendp(pk, iface=IFACE)
        time.sleep(1.0)
        got = sniffer.stop()
        print("sent %d" % len(pk))
        print("icmp_errors %d" % len(got))
        return
    else:
        sys.exit("unknown attack %s" % name)
    sendp(pk, iface=IFACE)
    print("sent %d" % len(pk))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    IFACE = sys.argv[2]
    attack(sys.argv[1], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 100)
