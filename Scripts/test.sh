#!/usr/bin/env bash
# Builds the package (products and tests) once, then runs the whole test suite.
# The process tests start the built posnode/poshub binaries from .build/debug.
# Then fuzzes each decoder for 10 s (about a minute to build the targets).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
POSNODE_BIN_DIR="$(swift build --show-bin-path)" swift test --skip-build "$@"
# A short fuzz run of each decoder (Scripts/fuzz.sh; its regression inputs first), unless
# the caller picked tests.
if [ $# -eq 0 ]; then bash Scripts/fuzz.sh --seconds 10; fi
