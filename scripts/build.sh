#!/usr/bin/env bash
# Configures and builds lb4 into BUILD_DIR (default: build/).
#   scripts/build.sh [--target T]... [CMAKE_CONFIGURE_ARGS...]
# Without --target everything is built (every test and fuzz target too);
# each --target T builds only T and what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
targets=()
configure=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target) targets+=(--target "$2"); shift 2 ;;
    --target=*) targets+=(--target "${1#--target=}"); shift ;;
    *) configure+=("$1"); shift ;;
  esac
done
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${configure[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" "${targets[@]}"
