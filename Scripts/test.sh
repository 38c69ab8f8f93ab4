#!/usr/bin/env bash
# Builds the package (products and tests) once, then runs the whole test suite.
# The process tests start the built posnode/poshub binaries from .build/debug.
# Then checks both APIs with schemathesis (about 30 s) and fuzzes each decoder for 10 s
# (about a minute to build the targets).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
BIN="$(swift build --show-bin-path)"
# A real SMTP server for the accounting connector's tests (aiosmtpd, Scripts/smtp-sink.py) and
# Selenium for the console's browser test (Debian's chromium and chromium-driver), in the
# virtual environment the API check uses too (made here, not system-wide).
venv=.build-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import aiosmtpd" 2>/dev/null || "$venv/bin/pip" install -q "aiosmtpd==1.4.6"
"$venv/bin/python" -c "import selenium" 2>/dev/null || "$venv/bin/pip" install -q "selenium==4.51.0"
export POS_PYTHON="$PWD/$venv/bin/python"
# The tests stop the hubs and stores they start, on failure too; a test process that crashes
# cannot. Whatever of them is still running when this script ends is named and stopped.
stop_leftovers() {
  local left
  left="$(pgrep -f "^$BIN/(posnode|poshub|poserp) |smtp-sink.py|chromedriver" || true)"
  if [ -n "$left" ]; then
    echo "stopping processes left running by the tests: $(echo $left)" >&2
    pkill -KILL -f "^$BIN/(posnode|poshub|poserp) |smtp-sink.py|chromedriver" || true
  fi
}
# PostgreSQL 15 for the hub's tests on both stores (Scripts/pg-cluster.sh): a cluster of its own
# on a free loopback port, as the postgres user, stopped and removed at the end. Without
# Debian's postgresql-15 the hub's tests run on SQLite alone (and say so).
pgdir=""
stop_postgres() {
  if [ -n "$pgdir" ]; then bash Scripts/pg-cluster.sh stop "$pgdir"; rm -rf "$pgdir"; fi
}
trap 'stop_leftovers; stop_postgres' EXIT
if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
  pgdir="$(mktemp -d /tmp/poshub-test-pg.XXXXXX)"
  export POS_TEST_POSTGRES="$(bash Scripts/pg-cluster.sh start "$pgdir")"
  export PGPASSWORD="$(cat "$pgdir/password")"
  echo "PostgreSQL for the tests: $POS_TEST_POSTGRES"
else
  echo "postgresql-15 is not installed: the hub's tests run on SQLite only" >&2
fi
POSNODE_BIN_DIR="$BIN" swift test --skip-build "$@"
# Unless the caller picked tests: the APIs against their OpenAPI documents (schemathesis,
# Scripts/api-check.sh), and a short fuzz run of each decoder (Scripts/fuzz.sh; its
# regression inputs first).
if [ $# -eq 0 ]; then
  bash Scripts/api-check.sh --max-examples 50
  bash Scripts/fuzz.sh --seconds 10
fi
