#!/usr/bin/env bash
# The main job: a real hub and three store nodes on loopback. The stores go offline, each
# registers customer code 1001 and sells to it, the hub comes back, everyone syncs, and a
# report shows who kept the code, who got the store prefix, where the receipts went, and
# that all state hashes agree.
set -euo pipefail
cd "$(dirname "$0")/.."

bash Scripts/install-deps.sh
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building (debug)"
  swift build --product posnode >/dev/null
  swift build --product poshub >/dev/null
fi
BIN="$(swift build --show-bin-path)"
POSNODE="$BIN/posnode"; POSHUB="$BIN/poshub"
WORK="${DEMO_DIR:-$(mktemp -d /tmp/posnode-demo.XXXXXX)}"
mkdir -p "$WORK"
HUB_PID=""
cleanup() { [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

start_hub() {
  "$POSHUB" serve --db "$WORK/hub.sqlite" --port "${HUB_PORT:-0}" >"$WORK/hub.log" 2>&1 &
  HUB_PID=$!
  for _ in $(seq 1 200); do
    grep -q "listening on" "$WORK/hub.log" 2>/dev/null && break
    sleep 0.05
  done
  HUB_PORT=$(sed -n 's/^listening on 127.0.0.1://p' "$WORK/hub.log" | head -1)
}

echo "== hub"
"$POSHUB" init --db "$WORK/hub.sqlite" >/dev/null
start_hub
echo "poshub listening on 127.0.0.1:$HUB_PORT (store $WORK/hub.sqlite)"

declare -A SITE=([WAW1]=WAW [KRK1]=KRK [GDA1]=GDA) SERIES=([WAW1]=K1 [KRK1]=K2 [GDA1]=K3)
NODES=(WAW1 KRK1 GDA1)
for n in "${NODES[@]}"; do
  token=$("$POSHUB" node add --db "$WORK/hub.sqlite" --node "$n" --site "${SITE[$n]}" --series "${SERIES[$n]}")
  "$POSNODE" init --db "$WORK/$n.sqlite" --node "$n" --site "${SITE[$n]}" --series "${SERIES[$n]}" \
    --hub "http://127.0.0.1:$HUB_PORT" --token "$token" >/dev/null
  echo "store node $n: site ${SITE[$n]}, POS series ${SERIES[$n]}"
done

echo "== online: WAW1 registers a business customer; everyone syncs"
"$POSNODE" partner add --db "$WORK/WAW1.sqlite" --code 2000 --kind business --name "Hurtownia Alfa Sp. z o.o." \
  --country PL --vat-id 5260250274 >/dev/null
for n in "${NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done
echo "KRK1 tries to register code 2000 too:"
"$POSNODE" partner add --db "$WORK/KRK1.sqlite" --code 2000 --kind consumer --first-name Jan --last-name Kowalski 2>&1 | sed 's/^/  /' || true

echo "== the network goes down (hub stopped)"
kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true; HUB_PID=""
i=0
for n in "${NODES[@]}"; do
  i=$((i+1))
  "$POSNODE" partner add --db "$WORK/$n.sqlite" --code 1001 --kind consumer --first-name "Klient$i" --last-name "Sklep${SITE[$n]}" \
    --country PL --national-id 44051401359 >/dev/null
  "$POSNODE" address add --db "$WORK/$n.sqlite" --partner 1001 --seq 0 --street "Ulica $i" --city "${SITE[$n]}" >/dev/null
  "$POSNODE" receipt add --db "$WORK/$n.sqlite" --partner 1001 --amount "1$i.50" >/dev/null
  "$POSNODE" partner update --db "$WORK/$n.sqlite" --code 1001 --phone "+48 600 00$i 00$i" >/dev/null
  "$POSNODE" receipt add --db "$WORK/$n.sqlite" --partner 2000 --amount "99.0$i" >/dev/null
  echo "$n (offline): registered customer 1001, 2 receipts; sync attempt says:"
  "$POSNODE" sync --db "$WORK/$n.sqlite" 2>&1 | sed 's/^/  /' || true
done

echo "== the network is back (hub restarted on port $HUB_PORT); every store syncs"
start_hub
for round in 1 2; do
  for n in "${NODES[@]}"; do
    echo "-- $n, round $round"
    "$POSNODE" sync --db "$WORK/$n.sqlite" | sed 's/^/  /'
  done
done

echo
echo "================ REPORT ================"
echo "Partners on GDA1 (the same on every store):"
"$POSNODE" partner list --db "$WORK/GDA1.sqlite" | sed 's/^/  /'
echo "Receipts on WAW1 (each followed its customer's final code):"
"$POSNODE" document list --db "$WORK/WAW1.sqlite" | sed 's/^/  /'
echo "Renames recorded by the hub (store-prefix rule):"
"$POSHUB" audit --db "$WORK/hub.sqlite" --kind rename | awk -F'\t' '{print "  " $2 ": " $6 "  (" $7 ")"}'
echo "State hashes:"
HUB_HASH=$("$POSHUB" state-hash --db "$WORK/hub.sqlite")
echo "  hub   $HUB_HASH"
ok=1
for n in "${NODES[@]}"; do
  h=$("$POSNODE" state-hash --db "$WORK/$n.sqlite")
  pending=$("$POSNODE" status --db "$WORK/$n.sqlite" --json | sed -n 's/.*"pending" : \([0-9]*\).*/\1/p')
  echo "  $n  $h  (pending journal entries: $pending)"
  [ "$h" = "$HUB_HASH" ] && [ "$pending" = 0 ] || ok=0
done
if [ $ok = 1 ]; then echo "converged: yes"; else echo "converged: NO"; exit 1; fi
echo "(stores and logs kept in $WORK)"
