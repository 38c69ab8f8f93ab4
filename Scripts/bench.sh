#!/usr/bin/env bash
# Builds in release mode and prints the benchmark table: each row beside its reference
# measured in the same run by the same binary. Not part of the tests; nothing asserts on time.
# Arguments go to posbench, e.g.:  bash Scripts/bench.sh --only write,catchup --json
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=.build-release
swift build -c release --scratch-path "$SCRATCH" --product posnode
swift build -c release --scratch-path "$SCRATCH" --product poshub
swift build -c release --scratch-path "$SCRATCH" --product posbench
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB memory, $(uname -sr)" >&2
"$BIN/posbench" "$@"
