#!/usr/bin/env bash
# Run every cargo-fuzz target (the wire parsers, tcp, and pipeline: random frames on the
# ports of an in-memory router, checked against its invariants) for FUZZ_SECONDS each
# (default 30).
#
#   scripts/fuzz.sh                 # all targets
#   FUZZ_SECONDS=300 scripts/fuzz.sh ipv4 udp
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer=address ...). The project's
# toolchain is stable, so the build runs with RUSTC_BOOTSTRAP=1. Crashes are left in
# fuzz/artifacts/<target>/; add each one as a regression test (crates/wire for a parser,
# crates/dataplane/tests/scenarios.rs for pipeline).
set -euo pipefail

cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(ethernet vlan arp ipv4 icmpv4 udp tcp dhcp ipv6 icmpv6 ndp ipv6_dhcp pipeline pipeline6 pipeline_workers)
fi

cd fuzz

summary=()
for t in "${targets[@]}"; do
    echo "=== fuzz target: $t (${seconds}s)"
    log="$(mktemp)"
    # New inputs go to corpus/<t> (ignored by git); seeds/<t> holds valid packets (committed)
    # so the fuzzer starts past the checksum checks.
    mkdir -p "corpus/$t"
    seeds=()
    if [ -d "seeds/$t" ]; then seeds=("seeds/$t"); fi
    if ! cargo fuzz run "$t" "corpus/$t" "${seeds[@]}" -- -max_total_time="$seconds" 2>&1 | tee "$log"; then
        echo "fuzz.sh: target $t FAILED; see fuzz/artifacts/$t/" >&2
        rm -f "$log"
        exit 1
    fi
    # libFuzzer's last line: "Done N runs in S second(s)".
    runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n1 | grep -Eo '[0-9]+' || echo '?')"
    summary+=("$(printf '%-10s %12s execs in %ss' "$t" "$runs" "$seconds")")
    rm -f "$log"
done

echo
echo "target          execs"
printf '%s\n' "${summary[@]}"
