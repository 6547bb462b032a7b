#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every
# test (unit, BPF, namespace) through CTest. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build} scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 600 "$@"
