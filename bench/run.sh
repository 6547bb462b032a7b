#!/usr/bin/env bash
# bench/run.sh [--quick] [--out DIR] [--plots DIR] - lb4's benchmarks, one
# line per figure on stdout (and in DIR/results.txt, with JSON next to it).
#
#   1. xdp_cost        per-packet cost with BPF_PROG_TEST_RUN vs floors
#   2. control_bench   Maglev build, disruption, health probing
#   3. update_latency  lb4ctl change until the new table is live (lb4d)
#   4. netns_rate      packet rate through namespaces: lb4 (DR, NAT), floor, nftables
#   5. failover        gateway failover time and broken connections (BGP/BFD,
#                      keepalived DR and NAT), from the namespace HA tests
#
# Needs root. Every part runs under `timeout`; the whole run stays under
# 15 minutes on 2 cores (--quick: under 3 minutes). Builds what is missing
# in $BUILD_DIR (default build/). --plots DIR draws PNGs from the JSON with
# python3-matplotlib (installed with apt-get when missing).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build}
quick=0
out=""
plots=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --plots) plots=$2; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--out DIR] [--plots DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: needs root" >&2; exit 1; }
out=${out:-$build/bench-results}
mkdir -p "$out"
: >"$out/results.txt"

# Leftovers of runs that died (their creator's pid is gone): namespaces and pins.
cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^lb4(r|bu)[0-9]+(-|$)' || true); do
    pid=$(echo "$ns" | sed -E 's/^lb4(r|bu)([0-9]+).*/\2/')
    if ! kill -0 "$pid" 2>/dev/null; then ip netns del "$ns" 2>/dev/null || true; fi
  done
  for d in /sys/fs/bpf/lb4r* /sys/fs/bpf/lb4bu*; do
    [ -e "$d" ] || continue
    pid=$(basename "$d" | sed -E 's/^lb4(r|bu)//')
    if ! kill -0 "$pid" 2>/dev/null; then rm -rf "$d"; fi
  done
}
trap cleanup EXIT

targets="lb4_xdp_cost lb4_control_bench lb4_update_latency lb4_netns_rate lb4d lb4ctl
  lb4_ha_netns_tests lb4-testnet"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" >/dev/null
fi
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" --target $targets >/dev/null

say() { echo "# $*" | tee -a "$out/results.txt"; }
part() { # part SECONDS CMD...: run with a bound, keep figure lines
  local limit=$1; shift
  if ! timeout --signal=TERM --kill-after=15 "$limit" "$@" 2>>"$out/stderr.txt" | tee -a "$out/results.txt"; then
    say "FAILED: $(basename "$1") (see $out/stderr.txt)"
    failed=1
  fi
}
failed=0

say "lb4 benchmarks $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$src" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
b=$build/bench
if [ $quick -eq 1 ]; then
  part 40 "$b/lb4_xdp_cost" --rounds 5 --repeat 200000 --batch 20000 --flows 65536 --json "$out/xdp_cost.json"
  part 20 "$b/lb4_control_bench" --quick --benchmark_min_time=0.05 \
    --benchmark_filter='ring:65537/backends:(10|1000)/mixed:0'
  part 30 "$b/lb4_update_latency" --updates 50 --build-dir "$build"
  part 60 "$b/lb4_netns_rate" --quick --rounds 2 --seconds 1 --lb4-build-dir "$build" --json "$out/rate.json"
  part 120 "$src/bench/failover.sh" "$build" 1
else
  part 240 "$b/lb4_xdp_cost" --rounds 7 --repeat 1000000 --batch 100000 --flows 1048576 --json "$out/xdp_cost.json"
  part 120 "$b/lb4_control_bench" --benchmark_min_time=0.2 --benchmark_format=console \
    --benchmark_out="$out/control_bench.json" --benchmark_out_format=json
  part 330 "$b/lb4_update_latency" --updates 1000 --build-dir "$build"
  part 420 "$b/lb4_netns_rate" --rounds 5 --seconds 1.5 --lb4-build-dir "$build" --json "$out/rate.json"
  part 300 "$src/bench/failover.sh" "$build" 5
fi
grep -h "^control.disruption" "$out/results.txt" >"$out/disruption.txt" || true

if [ -n "$plots" ]; then
  if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib >/dev/null
  fi
  /usr/bin/python3 "$src/bench/plot.py" "$out" "$plots"
fi
say "done; results in $out"
exit $failed
