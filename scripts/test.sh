#!/usr/bin/env bash
# The README's test command: installs what is missing, checks the C++
# formatting (scripts/check-format.sh), builds, and runs every
# test (unit, BPF, namespace, daemon, fuzz) through CTest. Then it builds the
# userspace a second time with AddressSanitizer + UBSan (LB4_SANITIZE=ON, in
# build-asan/) and runs the unit and daemon tiers there; any sanitizer report
# fails its test. Needs root. Arguments go to the first ctest run;
# LB4_SKIP_ASAN=1 skips the sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
# The bpffs directories the tests make (libxdp's xdp/globals, iproute2's
# tc/globals) are removed when the run ends, pass or fail.
. scripts/bpffs_leftovers.sh
bpffs_note
trap bpffs_clean EXIT
scripts/install-deps.sh
scripts/check-format.sh
BUILD_DIR=${BUILD_DIR:-build} scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 600 "$@"

if [ "${LB4_SKIP_ASAN:-0}" != 1 ]; then
  ASAN_DIR=${ASAN_BUILD_DIR:-build-asan}
  cmake -S . -B "$ASAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLB4_SANITIZE=ON >/dev/null
  cmake --build "$ASAN_DIR" -j"$(nproc)" --target lb4_userspace_tests
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$ASAN_DIR" --output-on-failure --timeout 600 -L 'unit|daemon'
fi
