#!/usr/bin/env bash
# The long versions of the fault tests (tests/faults.rs), and the hostile-guest suite
# (tests/hostile.rs) repeated. CI runs the short versions through scripts/test.sh.
#
#   sudo scripts/soak.sh                       # 100 uplink flaps, 100 VM restarts, 3 rounds
#   HVR_SOAK_FLAPS=500 HVR_SOAK_RECREATE=300 ROUNDS=10 sudo scripts/soak.sh
#   FUZZ_SECONDS=600 sudo scripts/soak.sh      # also fuzz every target for 10 minutes
#
# Everything runs in namespaces hvr-* removed afterwards (tests/common), on documentation
# prefixes only. Needs root (the tests skip otherwise) and python3-scapy.
set -euo pipefail

cd "$(dirname "$0")/.."

export HVR_SOAK_FLAPS="${HVR_SOAK_FLAPS:-100}"
export HVR_SOAK_RECREATE="${HVR_SOAK_RECREATE:-100}"
rounds="${ROUNDS:-3}"

cargo build -p hvrouter -p hvrouter-netlab --bins
for r in $(seq 1 "$rounds"); do
    echo "=== soak round $r/$rounds: $HVR_SOAK_FLAPS flaps, $HVR_SOAK_RECREATE VM restarts"
    cargo test -p hvrouter --test faults -- --nocapture --test-threads=1
    cargo test -p hvrouter --test hostile -- --nocapture --test-threads=1
done

if [ -n "${FUZZ_SECONDS:-}" ]; then
    scripts/fuzz.sh
fi
echo "soak: all rounds passed"
