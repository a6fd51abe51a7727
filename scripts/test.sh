#!/usr/bin/env bash
# Every test hvrouter has, from a fresh clone on a fresh machine:
#   1. installs what the tests need (Debian packages, cargo-fuzz);
#   2. formatting and lints (cargo fmt --check, clippy -D warnings);
#   3. cargo test for the whole workspace: unit, scenario and property tests (no root),
#      and, when run as root, the namespace tests (real AF_XDP on veth pairs in
#      namespaces named hvr-*, removed afterwards even on failure);
#   4. as root, the router's end-to-end, hostile and fault tests again with two packet
#      workers (HVR_TEST_WORKERS=2: guests spread over both, frames handed between them);
#   5. a short run of every fuzz target (FUZZ_SECONDS each, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "=== cargo fmt --check"
cargo fmt --all -- --check

echo "=== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "=== cargo test"
cargo test --workspace --locked 2>&1 | tee target/test.log
# One line of totals over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d ignored\n", p, f, i }' target/test.log

if [ "$(id -u)" = 0 ]; then
    echo "=== lab tests with two workers"
    HVR_TEST_WORKERS=2 cargo test --locked -p hvrouter \
        --test e2e --test control_e2e --test hostile --test hostile6 --test faults \
        --test dhcp --test ipv6 --test capture --test cutover --test gso --test migration \
        --test multiqueue --test tap_lifecycle --test uplinks --test umem_sharing --test scale 2>&1 |
        tee target/test-workers2.log
    awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests with two workers: %d passed, %d failed, %d ignored\n", p, f, i }' target/test-workers2.log
fi

echo "=== fuzz (${FUZZ_SECONDS:-30}s per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz.sh
