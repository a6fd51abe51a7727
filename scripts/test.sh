#!/usr/bin/env bash
# Every test hvrouter has, from a fresh clone on a fresh machine:
#   1. installs what the tests need (Debian packages, cargo-fuzz);
#   2. formatting and lints (cargo fmt --check, clippy -D warnings);
#   3. cargo test for the whole workspace: unit, scenario and property tests (no root),
#      and, when run as root, the namespace tests (real AF_XDP on veth pairs in
#      namespaces named hvr-*, removed afterwards even on failure);
#   4. a short run of every fuzz target (FUZZ_SECONDS each, default 30).
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

echo "=== fuzz (${FUZZ_SECONDS:-30}s per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz.sh
