#!/usr/bin/env bash
# Checks the hub's and the node's HTTP APIs against their OpenAPI documents
# (docs/openapi/hub.yaml, docs/openapi/node.yaml) with schemathesis, a third-party fuzzer:
# a real poshub and a real posnode serve on loopback, a real token each (the hub's central
# master data routes a second time with an operator's token, the transfer routes with an
# external system's), stateless checks on
# every operation (no server error, status codes, content types and bodies as documented).
# schemathesis goes into a virtual environment in .build-venv (made here, not system-wide).
#
#   bash Scripts/api-check.sh [--max-examples N]     (default 50; needs the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=50
[ "${1:-}" = "--max-examples" ] && examples="$2"
venv=.build-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
bin="$(swift build --show-bin-path)"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Waits for 'listening on HOST:PORT' in a server's output and prints the port.
port_of() {
  for _ in $(seq 1 300); do
    if grep -q "listening on" "$1" 2>/dev/null; then sed -n 's/.*listening on .*:\([0-9]*\).*/\1/p' "$1" | head -1; return; fi
    sleep 0.1
  done
  echo "no 'listening on' in $1:" >&2; cat "$1" >&2; exit 1
}

"$bin/poshub" init --db "$work/hub.sqlite" >/dev/null
token="$("$bin/poshub" node add --db "$work/hub.sqlite" --node A --site WAW --series K1)"
operator_token="$("$bin/poshub" operator add --db "$work/hub.sqlite" --name api-check)"
system_token="$("$bin/poshub" system add --db "$work/hub.sqlite" --name booking --series BO)"
# Central master data the documents' examples and the store's price routes name.
"$bin/poshub" category add --db "$work/hub.sqlite" --code STD --name Standard --default >/dev/null
"$bin/poshub" offer-category add --db "$work/hub.sqlite" --code TIX --name Tickets >/dev/null
"$bin/poshub" offer add --db "$work/hub.sqlite" --code ADULT --name "Adult ticket" --offer-category TIX --price 20.00 --currency PLN >/dev/null
"$bin/poshub" serve --db "$work/hub.sqlite" --port 0 >"$work/hub.out" 2>"$work/hub.err" & pids+=($!)
hub_port="$(port_of "$work/hub.out")"
"$bin/posnode" init --db "$work/node.sqlite" --node A --site WAW --series K1 --hub "http://127.0.0.1:$hub_port" --token "$token" >/dev/null
# A record the documents' examples name, at the node and at the hub.
"$bin/posnode" partner add --db "$work/node.sqlite" --code 1001 --kind consumer --first-name Anna --last-name Nowak >/dev/null
"$bin/posnode" sync --db "$work/node.sqlite" >/dev/null
"$bin/posnode" serve --db "$work/node.sqlite" --port 0 --no-background-sync >"$work/node.out" 2>"$work/node.err" & pids+=($!)
node_port="$(port_of "$work/node.out")"
api_token="$("$bin/posnode" api-token --db "$work/node.sqlite")"

run() {
  local doc="$1" url="$2" bearer="$3"; shift 3
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=Scripts "$venv/bin/schemathesis" run "$doc" --url "$url" "$@" \
    -H "Authorization: Bearer $bearer" --max-examples "$examples" --phases examples,coverage,fuzzing \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --generation-deterministic --no-color --workers 1
}
status=0
echo "== schemathesis: node API (docs/openapi/node.yaml)"
run docs/openapi/node.yaml "http://127.0.0.1:$node_port" "$api_token" || status=1
echo "== schemathesis: hub API (docs/openapi/hub.yaml)"
run docs/openapi/hub.yaml "http://127.0.0.1:$hub_port" "$token" || status=1
echo "== schemathesis: hub API, central master data with an operator's token (docs/openapi/hub.yaml)"
run docs/openapi/hub.yaml "http://127.0.0.1:$hub_port" "$operator_token" --include-path-regex '^/v1/(central|institutions|customers)' || status=1
echo "== schemathesis: hub API, the back-office transfer with an external system's token (docs/openapi/hub.yaml)"
run docs/openapi/hub.yaml "http://127.0.0.1:$hub_port" "$system_token" --include-path-regex '^/v1/external' || status=1
if [ $status -ne 0 ]; then
  echo "API check failed; hub log:"; tail -20 "$work/hub.err"; echo "node log:"; tail -20 "$work/node.err"
fi
exit $status
