#!/usr/bin/env bash
# Install what hvrouter's demo, tests and benchmarks need on a fresh Debian machine.
# Idempotent: installs only what is missing. Needs root for apt-get (skipped otherwise,
# and the namespace tests then skip with a message).
set -euo pipefail

# Debian packages, each with the command it provides (package:command).
want=(
    iproute2:ip
    ethtool:ethtool
    iputils-ping:ping
    arping:arping
    tcpdump:tcpdump
    iperf3:iperf3
    netsniff-ng:trafgen
    python3-scapy:/usr/share/doc/python3-scapy
    # Real DHCP clients for the DHCP server's namespace test (crates/hvrouter/tests/dhcp.rs).
    busybox:busybox
    isc-dhcp-client:dhclient
    # The package test (crates/hvrouter/tests/package.rs): scripts/package.sh and
    # `systemd-analyze verify` of the installed unit.
    dpkg-dev:dpkg-shlibdeps
    systemd:systemd-analyze
)

missing=()
for pair in "${want[@]}"; do
    pkg="${pair%%:*}"
    cmd="${pair#*:}"
    if [[ "$cmd" == /* ]]; then
        [ -e "$cmd" ] || missing+=("$pkg")
    else
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: not root, cannot install: ${missing[*]} (namespace tests will skip)" >&2
        exit 0
    fi
    echo "install-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
