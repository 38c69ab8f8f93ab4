#!/usr/bin/env bash
# Fuzzes the decoders that read bytes from outside with libFuzzer (swiftc -sanitize=fuzzer,address):
#   batch         BatchCodec.decode: a pushed body or a pulled page, header and CRC first
#   entries       the entry decoder behind the CRC (an inflated payload)
#   journal-json  FlatJSON, the journal's JSON reader, and BatchWriter.appendJournal
# Each target first replays its regression inputs (Fuzz/regressions/TARGET, inputs that once
# failed), then starts from seeds made the way a store makes its pushes (Fuzz/Seeds.swift).
#
#   bash Scripts/fuzz.sh [--runs N | --seconds S] [TARGET...]
#
# Default: 1,000,000 inputs per target. A failure stops the script non-zero; libFuzzer's
# input is in .build-fuzz/crashes/TARGET/: fix the cause, then add the input to
# Fuzz/regressions/TARGET/ so every later run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1000000
seconds=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    batch|entries|journal-json) targets+=("$1"); shift ;;
    *) echo "unknown argument: $1 (targets: batch, entries, journal-json)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(batch entries journal-json)

out=.build-fuzz
mkdir -p "$out"
flags=(-sanitize=fuzzer,address -O -parse-as-library -I "$out" -I Sources/CZlib)
# The two libraries, instrumented, as static archives with their modules (testable: the
# entry decoder and FlatJSON's decoder are internal).
stamp="$out/.sources"
sources_now="$(cat Sources/SyncModel/*.swift Sources/SyncWire/*.swift Fuzz/*.swift | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sources_now" ]; then
  echo "building the fuzz targets in $out"
  swiftc "${flags[@]}" -enable-testing -module-name SyncModel -emit-module -emit-module-path "$out/SyncModel.swiftmodule" \
    -static -emit-library -o "$out/libSyncModel.a" Sources/SyncModel/*.swift
  swiftc "${flags[@]}" -enable-testing -module-name SyncWire -emit-module -emit-module-path "$out/SyncWire.swiftmodule" \
    -static -emit-library -o "$out/libSyncWire.a" Sources/SyncWire/*.swift
  for t in batch entries journal-json; do
    case "$t" in batch) file=FuzzBatch ;; entries) file=FuzzEntries ;; journal-json) file=FuzzJournalJSON ;; esac
    # (ld.gold warns about ASan's local symbols; harmless.)
    swiftc "${flags[@]}" "Fuzz/$file.swift" Fuzz/Seeds.swift -L "$out" -lSyncWire -lSyncModel -lz -o "$out/fuzz-$t" 2>&1 \
      | grep -v "ld.gold: warning: Cannot export local symbol" || true
  done
  echo "$sources_now" > "$stamp"
fi

printf '%-14s %12s %10s %8s\n' target inputs seconds result
for t in "${targets[@]}"; do
  bin="$out/fuzz-$t"
  corpus="$out/corpus/$t"; seeds="$out/seeds/$t"; crashes="$out/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  rm -rf "$seeds"; POSNODE_FUZZ_SEEDS="$seeds" "$bin" >/dev/null 2>&1
  regressions=(Fuzz/regressions/"$t"/*)
  if [ -e "${regressions[0]}" ]; then
    "$bin" "${regressions[@]}" >"$out/$t-regressions.log" 2>&1 || { echo "$t: a regression input fails again:"; tail -30 "$out/$t-regressions.log"; exit 1; }
  fi
  limit=(-runs="$runs")
  [ -n "$seconds" ] && limit=(-max_total_time="$seconds")
  start=$(date +%s)
  if ! "$bin" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$seeds" >"$out/$t.log" 2>&1; then
    echo "$t: libFuzzer found a failing input (in $crashes):"; tail -40 "$out/$t.log"; exit 1
  fi
  done_runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$out/$t.log" | grep -o '[0-9]*$')
  printf '%-14s %12s %10s %8s\n' "$t" "$done_runs" "$(( $(date +%s) - start ))" ok
done
