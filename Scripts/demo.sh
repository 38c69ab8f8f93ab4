#!/usr/bin/env bash
# The main job: a real hub and three store nodes on loopback. The hub publishes categories,
# offers and a price table; the stores go offline, each registers customer code 1001 and
# sells to it, one sells to a school's teacher at the school's discount while the hub lowers
# the price, another registers the same school code; the hub comes back, everyone syncs, and
# a report shows who kept the codes, who got the store prefix, where the documents went, the
# institution's listing, the sale at the old price, a new base price a store then prices by,
# a data-subject access report and erasure, the hub restored from a backup (the stores send
# again what it lost), the accounting connector against the test ERP (an invoice created,
# posted and dunned in the ERP, the store showing it, the mails received by a real SMTP
# server), a hub on PostgreSQL with two hub processes that two stores sync through (their
# clashing customer codes reconciled as on SQLite), and that all state hashes agree.
set -euo pipefail
cd "$(dirname "$0")/.."

bash Scripts/install-deps.sh
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building (debug)"
  swift build --product posnode >/dev/null
  swift build --product poshub >/dev/null
  swift build --product poserp >/dev/null
fi
BIN="$(swift build --show-bin-path)"
POSNODE="$BIN/posnode"; POSHUB="$BIN/poshub"
WORK="${DEMO_DIR:-$(mktemp -d /tmp/posnode-demo.XXXXXX)}"
mkdir -p "$WORK"
HUB_PID=""
ERP_PID=""; SINK_PID=""; PG_HUB_PIDS=(); PG_DIR=""
# KEEP_HUB=1 leaves the hub serving at the end, to look at its operator console.
cleanup() {
  [ "${KEEP_HUB:-0}" = 1 ] && HUB_PID=""
  for p in "$HUB_PID" "$ERP_PID" "$SINK_PID" "${PG_HUB_PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  if [ -n "$PG_DIR" ]; then wait "${PG_HUB_PIDS[@]}" 2>/dev/null || true; bash Scripts/pg-cluster.sh stop "$PG_DIR"; rm -rf "$PG_DIR"; fi
  [ "${KEEP_HUB:-0}" = 1 ] || wait 2>/dev/null || true
}
trap cleanup EXIT

# The port a server announces in its log ("listening on 127.0.0.1:PORT"), once it has.
wait_port() {
  for _ in $(seq 1 200); do grep -q "listening on" "$1" 2>/dev/null && break; sleep 0.05; done
  sed -n 's/^listening on 127.0.0.1://p' "$1" | head -1
}

# The hub's accounting scheduler looks once an hour here: the demo runs the connector by hand.
start_hub() {
  "$POSHUB" serve --db "$WORK/hub.sqlite" --port "${HUB_PORT:-0}" --erp-poll 3600 >"$WORK/hub.log" 2>&1 &
  HUB_PID=$!
  HUB_PORT=$(wait_port "$WORK/hub.log")
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

echo "== the chain's operator publishes categories, offers and the price table (while the hub serves)"
"$POSHUB" category add --db "$WORK/hub.sqlite" --code STD --name Standard --default
"$POSHUB" category add --db "$WORK/hub.sqlite" --code SCH --name "Schools"
"$POSHUB" offer-category add --db "$WORK/hub.sqlite" --code TIX --name Tickets
"$POSHUB" offer add --db "$WORK/hub.sqlite" --code ADULT --name "Adult ticket" --offer-category TIX --price 20.00 --currency PLN
"$POSHUB" price set --db "$WORK/hub.sqlite" --customer-category SCH --offer-category TIX --amount 12.50 --currency PLN

echo "== online: WAW1 registers a business customer; everyone syncs"
"$POSNODE" partner add --db "$WORK/WAW1.sqlite" --code 2000 --kind business --name "Hurtownia Alfa Sp. z o.o." \
  --country PL --vat-id 5260250274 >/dev/null
for n in "${NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done
echo "KRK1 tries to register code 2000 too:"
"$POSNODE" partner add --db "$WORK/KRK1.sqlite" --code 2000 --kind consumer --first-name Jan --last-name Kowalski 2>&1 | sed 's/^/  /' || true

echo "WAW1 registers a school; its discount is central data, set at the hub"
"$POSNODE" institution add --db "$WORK/WAW1.sqlite" --code SZK1 --name "Szkoła Podstawowa nr 1" --kind organisation >/dev/null
"$POSNODE" sync --db "$WORK/WAW1.sqlite" >/dev/null
"$POSHUB" institution update --db "$WORK/hub.sqlite" --code SZK1 --discount 10 | sed 's/^/  /'
"$POSNODE" sync --db "$WORK/WAW1.sqlite" >/dev/null

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

echo "WAW1 (offline): a school books a group visit; its teacher orders with her address at the school"
"$POSNODE" partner add --db "$WORK/WAW1.sqlite" --code 3001 --kind consumer --first-name Ewa --last-name Nauczycielka --category SCH --offline >/dev/null
"$POSNODE" address add --db "$WORK/WAW1.sqlite" --partner 3001 --seq 1 --street "Szkolna 1" --city Warszawa --institution SZK1 >/dev/null
"$POSNODE" order add --db "$WORK/WAW1.sqlite" --partner 3001 --address 1 --line ADULT:25 | sed 's/^/  /'
"$POSNODE" receipt add --db "$WORK/WAW1.sqlite" --line ADULT:2 | sed 's/^/  /'
echo "KRK1 (offline): another school registered under the same institution code"
"$POSNODE" institution add --db "$WORK/KRK1.sqlite" --code SZK1 --name "Szkoła Podstawowa nr 1 Kraków" --kind organisation >/dev/null
echo "hub (while the stores are cut off): the schools' ticket price goes down to 11.00"
"$POSHUB" price set --db "$WORK/hub.sqlite" --customer-category SCH --offer-category TIX --amount 11.00 --currency PLN | sed 's/^/  /'

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
echo "Documents on WAW1 (each followed its customer's final code):"
"$POSNODE" document list --db "$WORK/WAW1.sqlite" | sed 's/^/  /'
echo "Renames recorded by the hub (store-prefix rule):"
"$POSHUB" audit --db "$WORK/hub.sqlite" --kind rename | awk -F'\t' '{print "  " $2 ": " $6 "  (" $7 ")"}'
echo "Institution SZK1 at GDA1 (its member and the order placed with her address at it, sold at 12.50 less 10 %):"
"$POSNODE" institution show --db "$WORK/GDA1.sqlite" --code SZK1 | sed 's/^/  /'
echo "Institutions on GDA1 (KRK1's clashing code got its store prefix):"
"$POSNODE" institution list --db "$WORK/GDA1.sqlite" | sed 's/^/  /'
echo "Sales priced with a price that had changed at the hub (audit kind old-price):"
"$POSHUB" audit --db "$WORK/hub.sqlite" --kind old-price | awk -F'\t' '{print "  " $4 ": " $7}'
echo
echo "== the hub raises the adult ticket's base price to 22.00 (while it serves); KRK1 prices by it after its sync"
"$POSHUB" offer update --db "$WORK/hub.sqlite" --code ADULT --price 22.00 | sed 's/^/  /'
"$POSNODE" sync --db "$WORK/KRK1.sqlite" >/dev/null
"$POSNODE" price --db "$WORK/KRK1.sqlite" --offer ADULT | sed 's/^/  /'
echo
echo "== the museum's back office (booking) transfers a customer with its invoice; the club arrives by name"
BO_TOKEN=$("$POSHUB" system add --db "$WORK/hub.sqlite" --name booking --series BO)
cat > "$WORK/transfer.json" <<'JSON'
[{"external_customer_id": "GM-501", "external_address_id": "GM-501-A1", "trigger": "invoice", "first_name": "Marta",
  "last_name": "Zielińska", "street": "Długa 5", "city": "Gdańsk", "postal_code": "80-001", "country": "PL",
  "institution": "Towarzystwo Przyjaciół Muzeum", "debtor_number": "D-7781",
  "invoice": {"external_number": "R-1", "currency": "PLN", "lines": [{"offer": "ADULT", "quantity": 2, "unit_price": "20.00"}]}}]
JSON
python3 Scripts/backoffice-client.py transfer "$WORK/transfer.json" --url "http://127.0.0.1:$HUB_PORT" --token "$BO_TOKEN" | sed 's/^/  /'
for n in "${NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done
echo "GDA1 hands her goods with a delivery note; the back office fetches it and acknowledges it"
"$POSNODE" document add --db "$WORK/GDA1.sqlite" --kind delivery-note --partner BO1 --line ADULT:2 | sed 's/^/  /'
"$POSNODE" sync --db "$WORK/GDA1.sqlite" >/dev/null
python3 Scripts/backoffice-client.py delivery-notes --ack --url "http://127.0.0.1:$HUB_PORT" --token "$BO_TOKEN" | sed 's/^/  /'
for n in "${NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done
echo
echo "== data-subject request: the teacher (customer 3001) asks what the chain holds about her (GDPR Art. 15)"
CASE=$("$POSHUB" access-request add --db "$WORK/hub.sqlite" --partner 3001 --json | sed -n 's/.*"case" : "\([^"]*\)".*/\1/p')
"$POSHUB" access-request list --db "$WORK/hub.sqlite" | sed 's/^/  /'
for n in "${NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done
"$POSHUB" access-request report --db "$WORK/hub.sqlite" --case "$CASE" --format html --out "$WORK/$CASE.html" | sed 's/^/  /'
"$POSHUB" access-request report --db "$WORK/hub.sqlite" --case "$CASE" --format json > "$WORK/$CASE.json"
echo "  categories held: $(tr -d '\n ' < "$WORK/$CASE.json" | sed -n 's/.*"categories":\[\([^]]*\)\].*/\1/p' | tr -d '"')"
echo "  stores that answered: $(grep -c '"answered_at" : "' "$WORK/$CASE.json") of ${#NODES[@]}"
echo "== she asks for erasure (Art. 17); every store syncs"
"$POSHUB" erase --db "$WORK/hub.sqlite" --case "$CASE" --reason "written request" | sed 's/^/  /'
for round in 1 2; do for n in "${NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done; done
echo "Customer 3001 on GDA1 now:"
"$POSNODE" partner show --db "$WORK/GDA1.sqlite" --code 3001 | sed 's/^/  /'
held=$( (grep -l -a "Nauczycielka" "$WORK"/*.sqlite* 2>/dev/null || true) | xargs -r -n1 basename | tr '\n' ' ')
echo "Database, -wal and -shm files of hub and stores still holding her last name: ${held:-none}"

echo
echo "== the hub's machine is backed up (stopped, its file copied); the stores keep selling and syncing"
kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true; HUB_PID=""
cp "$WORK/hub.sqlite" "$WORK/hub-backup.sqlite"
start_hub
"$POSNODE" receipt add --db "$WORK/WAW1.sqlite" --partner 2000 --amount 42.00 | sed 's/^/  WAW1: /'
"$POSNODE" partner add --db "$WORK/KRK1.sqlite" --code 4001 --kind consumer --first-name Jan --last-name Po-Kopii >/dev/null
echo "  KRK1: registered customer 4001"
for n in "${NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done
echo "== the hub's disk fails; IT restores the backup (the hub has lost the 42.00 sale and customer 4001)"
kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true; HUB_PID=""
rm -f "$WORK/hub.sqlite" "$WORK/hub.sqlite-wal" "$WORK/hub.sqlite-shm"
cp "$WORK/hub-backup.sqlite" "$WORK/hub.sqlite"
start_hub
for round in 1 2; do
  for n in "${NODES[@]}"; do
    "$POSNODE" sync --db "$WORK/$n.sqlite" | grep "hub restored" | sed "s/^/  $n: /" || true
  done
done
echo "Customer 4001 on GDA1 (registered after the backup, sent again by KRK1):"
"$POSNODE" partner show --db "$WORK/GDA1.sqlite" --code 4001 | sed -n '1p' | sed 's/^/  /'
echo "WAW1's 42.00 receipt (sold after the backup, sent again) on GDA1: $("$POSNODE" document list --db "$WORK/GDA1.sqlite" --json | grep -c '"amount_minor" : 4200') time(s)"

echo
echo "== accounting: the hub is configured against the test ERP (poserp) and a real SMTP server (aiosmtpd)"
VENV=.build-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import aiosmtpd" 2>/dev/null || "$VENV/bin/pip" install -q "aiosmtpd==1.4.6"
echo "erp-demo-password" > "$WORK/erp-password"
"$BIN/poserp" serve --port 0 --password-file "$WORK/erp-password" >"$WORK/erp.log" 2>&1 &
ERP_PID=$!
"$VENV/bin/python" Scripts/smtp-sink.py "$WORK/mail" >"$WORK/smtp.log" 2>&1 &
SINK_PID=$!
ERP_PORT=$(wait_port "$WORK/erp.log"); SMTP_PORT=$(wait_port "$WORK/smtp.log")
ERP="http://127.0.0.1:$ERP_PORT"
curl -s -X POST "$ERP/_control/seed" -d '{"salespeople": [{"code": "AH", "name": "Anna Hofer"}], "paymentTerms": ["14D", "30D"],
  "paymentMethods": ["BANK"], "items": [{"number": "4711", "displayName": "Adult ticket"}]}' >/dev/null
"$POSHUB" erp configure --db "$WORK/hub.sqlite" --base-url "$ERP/api/v2.0" --company CRONUS --user erp \
  --password-file "$WORK/erp-password" --smtp "127.0.0.1:$SMTP_PORT" --mail-from pos-hub@chain.example \
  --mail-to accounting@chain.example,it@chain.example | sed 's/^/  /'
echo "WAW1 invoices customer 2000 on account: 240.00 in 2 installments, bank transfer, 14 days"
INVOICE=$("$POSNODE" document add --db "$WORK/WAW1.sqlite" --kind invoice --partner 2000 --amount 240.00 --currency PLN \
  --invoice-status open --payment-method BANK --payment-terms 14D --installments 2 --salesperson AH --json | sed -n 's/.*"id" : "\([^"]*\)".*/\1/p' | head -1)
"$POSNODE" sync --db "$WORK/WAW1.sqlite" >/dev/null
echo "poshub erp run --now:"
"$POSHUB" erp run --db "$WORK/hub.sqlite" --now | sed 's/^/  /' || true
echo "accounting posts both invoices in the ERP; months later the ERP sends the second dunning letter"
curl -s -X POST "$ERP/_control/post" -d '{"all": true}' >/dev/null
for n in 1 2; do
  curl -s -X POST "$ERP/_control/remind" -d "{\"externalDocumentNumber\": \"$INVOICE/$n\", \"level\": 3}" >/dev/null
done
"$POSHUB" erp run --db "$WORK/hub.sqlite" --now | sed 's/^/  /' || true
for n in "${NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done
echo "Invoice $INVOICE at GDA1 (another store) after its sync:"
"$POSNODE" document show --db "$WORK/GDA1.sqlite" --id "$INVOICE" | grep -E "invoice status|reference|payment status|booking" | sed 's/^/  /'
echo "Mails received by the SMTP server:"
for f in "$WORK"/mail/*.eml; do
  "$VENV/bin/python" -c "import email,sys; m=email.message_from_bytes(open(sys.argv[1],'rb').read()); print('  ' + m['Subject'])" "$f"
done

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
echo
echo "== a larger chain: the hub's store on PostgreSQL, two hub processes on it"
# (A folder of its own that the postgres user can reach: the demo's folder is its owner's only.)
PG_DIR="$(mktemp -d /tmp/posnode-demo-pg.XXXXXX)"
PG_URL="$(bash Scripts/pg-cluster.sh start "$PG_DIR")"
export PGPASSWORD="$(cat "$PG_DIR/password")"
"$POSHUB" init --db "$PG_URL" >/dev/null
echo "PostgreSQL 15; poshub init --db $PG_URL"
PG_PORTS=()
for i in 1 2; do
  "$POSHUB" serve --db "$PG_URL" --port 0 --erp-poll 3600 >"$WORK/pghub$i.log" 2>&1 &
  PG_HUB_PIDS+=($!)
  PG_PORTS+=("$(wait_port "$WORK/pghub$i.log")")
done
echo "poshub serve processes on 127.0.0.1:${PG_PORTS[0]} and 127.0.0.1:${PG_PORTS[1]}, one database"
declare -A PG_SITE=([POZ1]=POZ [LOD1]=LOD) PG_SERIES=([POZ1]=P1 [LOD1]=P2) PG_HUB=([POZ1]=0 [LOD1]=1)
PG_NODES=(POZ1 LOD1)
for n in "${PG_NODES[@]}"; do
  token=$("$POSHUB" node add --db "$PG_URL" --node "$n" --site "${PG_SITE[$n]}" --series "${PG_SERIES[$n]}")
  "$POSNODE" init --db "$WORK/$n.sqlite" --node "$n" --site "${PG_SITE[$n]}" --series "${PG_SERIES[$n]}" \
    --hub "http://127.0.0.1:${PG_PORTS[${PG_HUB[$n]}]}" --token "$token" >/dev/null
  "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null
  echo "store node $n syncs with the hub process on 127.0.0.1:${PG_PORTS[${PG_HUB[$n]}]}"
done
echo "both stores register customer 5001 while offline, and sell to her"
"$POSNODE" partner add --db "$WORK/POZ1.sqlite" --code 5001 --kind consumer --first-name Zofia --last-name Poznańska --offline >/dev/null
"$POSNODE" receipt add --db "$WORK/POZ1.sqlite" --partner 5001 --amount 15.00 >/dev/null
"$POSNODE" partner add --db "$WORK/LOD1.sqlite" --code 5001 --kind consumer --first-name Łucja --last-name Łódzka --offline >/dev/null
"$POSNODE" receipt add --db "$WORK/LOD1.sqlite" --partner 5001 --amount 25.00 >/dev/null
for _ in 1 2; do for n in "${PG_NODES[@]}"; do "$POSNODE" sync --db "$WORK/$n.sqlite" >/dev/null; done; done
echo "Partners on LOD1 after both synced (each through its own hub process):"
"$POSNODE" partner list --db "$WORK/LOD1.sqlite" | sed 's/^/  /'
PG_HASH=$("$POSHUB" state-hash --db "$PG_URL")
echo "  hub on PostgreSQL  $PG_HASH"
for n in "${PG_NODES[@]}"; do
  h=$("$POSNODE" state-hash --db "$WORK/$n.sqlite")
  echo "  $n  $h"
  [ "$h" = "$PG_HASH" ] || ok=0
done
echo
echo "== the operator console"
echo "an IT colleague with a console login (role operator)"
echo "demo-console-password" > "$WORK/console-password"
"$POSHUB" operator add --db "$WORK/hub.sqlite" --name it-demo --role operator --password-file "$WORK/console-password" >/dev/null
sleep 2.5  # the hub writes what it noted of the stores' rounds every 2 s
echo "Stores as the console lists them (poshub node status):"
"$POSHUB" node status --db "$WORK/hub.sqlite" | cut -f1-4,7-8 | sed 's/^/  /'
echo "console: http://127.0.0.1:$HUB_PORT/console   login: it-demo / $(cat "$WORK/console-password")"
if [ "${KEEP_HUB:-0}" = 1 ]; then echo "(the hub keeps serving: pid $HUB_PID)"; else echo "(run with KEEP_HUB=1 to keep the hub serving and open the console)"; fi
if [ $ok = 1 ]; then echo "converged: yes"; else echo "converged: NO"; exit 1; fi
echo "(stores and logs kept in $WORK)"
