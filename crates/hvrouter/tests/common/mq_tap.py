#!/usr/bin/python3
"""A guest behind a multi-queue tap, as QEMU holds one with several virtio-net queues.

Usage: mq_tap.py TAP GUEST_MAC GUEST_IP GATEWAY_IP

Creates TAP with IFF_TAP|IFF_NO_PI|IFF_MULTI_QUEUE and one queue attached, prints
"ready", then obeys lines on stdin:
  attach      attach one more queue (another file descriptor on the same tap)
  send Q      send an ARP who-has GATEWAY_IP from the guest on queue Q and wait up to
              2 s for the answer on any queue: prints "reply Q MAC" or "none Q"
  quit        exit (closing every queue: the tap disappears)
"""
import fcntl
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_MULTI_QUEUE = 0x0100


def open_queue(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def who_has(src_mac, src_ip, target_ip):
    eth = b"\xff" * 6 + src_mac + b"\x08\x06"
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
    arp += src_mac + socket.inet_aton(src_ip) + b"\x00" * 6 + socket.inet_aton(target_ip)
    return (eth + arp).ljust(60, b"\x00")


def main():
    tap, mac, ip, gw = sys.argv[1:5]
    src = mac_bytes(mac)
    queues = [open_queue(tap)]
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "attach":
            queues.append(open_queue(tap))
            print("attached", len(queues), flush=True)
        elif words[0] == "send":
            q = int(words[1])
            for fd in queues:  # drain what is pending (announcements)
                try:
                    while os.read(fd, 65536):
                        pass
                except BlockingIOError:
                    pass
            os.write(queues[q], who_has(src, ip, gw))
            deadline = time.monotonic() + 2.0
            answer = None
            while answer is None and time.monotonic() < deadline:
                ready, _, _ = select.select(queues, [], [], 0.1)
                for fd in ready:
                    try:
                        frame = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    if (
                        len(frame) >= 42
                        and frame[12:14] == b"\x08\x06"
                        and frame[20:22] == b"\x00\x02"
                        and frame[28:32] == socket.inet_aton(gw)
                        and frame[0:6] == src
                    ):
                        answer = frame[22:28].hex(":")
            if answer:
                print("reply", q, answer, flush=True)
            else:
                print("none", q, flush=True)
        elif words[0] == "quit":
            break


if __name__ == "__main__":
    main()
