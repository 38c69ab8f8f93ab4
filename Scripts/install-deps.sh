#!/usr/bin/env bash
# Installs the Debian packages the project links or uses (SQLite, zlib, the sqlite3 shell,
# openssl for the tests' certificates, chromium to render the access report in a test,
# chromium-driver for the console's browser test, python3-venv for the tests' Python tools),
# only where missing. Used by .ci/run and Scripts/demo.sh.
set -euo pipefail
need=()
for pkg in libsqlite3-dev zlib1g-dev sqlite3 openssl chromium chromium-driver python3-venv postgresql-15; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
