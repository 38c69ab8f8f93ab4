#!/usr/bin/env bash
# Builds the package (products and tests) once, then runs the whole test suite.
# The process tests start the built posnode/poshub binaries from .build/debug.
# Then checks both APIs with schemathesis (about 30 s) and fuzzes each decoder for 10 s
# (about a minute to build the targets).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
POSNODE_BIN_DIR="$(swift build --show-bin-path)" swift test --skip-build "$@"
# Unless the caller picked tests: the APIs against their OpenAPI documents (schemathesis,
# Scripts/api-check.sh), and a short fuzz run of each decoder (Scripts/fuzz.sh; its
# regression inputs first).
if [ $# -eq 0 ]; then
  bash Scripts/api-check.sh --max-examples 50
  bash Scripts/fuzz.sh --seconds 10
fi
