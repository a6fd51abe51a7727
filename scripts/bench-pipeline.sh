#!/usr/bin/env bash
# Pipeline micro-benchmark (criterion), then a table of ns per packet.
# Extra arguments go to criterion, e.g. scripts/bench-pipeline.sh --measurement-time 10
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p hvrouter-dataplane --bench pipeline -- "$@"
echo
printf '%-28s %12s %12s\n' benchmark "ns/burst" "ns/packet"
# criterion writes target/criterion/pipeline/<direction>_<burst>/new/estimates.json
for est in target/criterion/pipeline/*/new/estimates.json; do
    name="${est#target/criterion/pipeline/}"
    name="${name%/new/estimates.json}"
    burst="${name##*_}"
    ns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "$est")
    python3 -c 'import sys; n,b,ns=sys.argv[1],int(sys.argv[2]),float(sys.argv[3]); print(f"{n:<28} {ns:12.0f} {ns/b:12.1f}")' "$name" "$burst" "$ns"
done
