#!/usr/bin/env bash
# Long fault runs, not part of CI: 200 crash rounds of the multi-site harness (kill -9 of a
# node mid-push and of the hub mid-apply), the network-fault relay, and possim over several
# seeds with crashes, in-process and over loopback HTTP. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-200}"
SEEDS="${SEEDS:-1 2 3 4 5}"

swift build --build-tests
BIN="$(swift build --show-bin-path)"
echo "== harness: $ROUNDS crash rounds + network faults"
POSNODE_CRASH_ROUNDS="$ROUNDS" POSNODE_BIN_DIR="$BIN" swift test --skip-build --filter FaultTests
echo "== possim over seeds: $SEEDS"
for seed in $SEEDS; do
  "$BIN/possim" --nodes 10 --ops-per-node 300 --offline-fraction 0.5 --clash-rate 0.2 --move-rate 0.05 --crash-rate 0.05 --seed "$seed" | tail -3
  "$BIN/possim" --nodes 5 --ops-per-node 200 --crash-rate 0.05 --seed "$seed" --http | tail -2
done
echo "soak: all passed"
