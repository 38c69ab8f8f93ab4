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
# The PostgreSQL rows (catchup-pg, hubs-pg) run against a cluster of their own
# (Scripts/pg-cluster.sh, Debian's postgresql-15), started here unless --postgres names one.
extra=()
if [[ " $* " != *" --postgres "* ]] && [ -x /usr/lib/postgresql/15/bin/initdb ]; then
  pgdir="$(mktemp -d /tmp/poshub-bench-pg.XXXXXX)"
  trap 'bash Scripts/pg-cluster.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
  extra=(--postgres "$(bash Scripts/pg-cluster.sh start "$pgdir")")
  export PGPASSWORD="$(cat "$pgdir/password")"
fi
"$BIN/posbench" "${extra[@]}" "$@"
