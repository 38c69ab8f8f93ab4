#!/usr/bin/env bash
# Builds the package (products and tests) once, then runs the whole test suite.
# The process tests start the built posnode/poshub binaries from .build/debug.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
POSNODE_BIN_DIR="$(swift build --show-bin-path)" swift test --skip-build "$@"
