#!/usr/bin/env bash
# bench/failover.sh BUILD_DIR RUNS - failover figures from the namespace HA
# tests (tests/netns/ha_test.cpp, vrrp_test.cpp), RUNS runs of each:
#
#   failover.<case> median_ms= min_ms= max_ms= runs= ratio_to_detection= broken=B of M
#
# <case>: bgp_bfd (a gateway's link deleted, the router withdraws it; BFD
# 100 ms x 3), vrrp_dr and vrrp_nat (the master's link deleted, the backup
# holds the VRRP address and the router sends to it; adverts every 100 ms,
# master down after 3 of them). ratio_to_detection is the median over the
# protocol's own detection time (300 ms for both), so it carries over to
# other timers; broken counts long-lived connections over all runs. Times
# on a shared 2-core host are noisy: read the ratio and the broken count.
set -euo pipefail
build=${1:?usage: bench/failover.sh BUILD_DIR RUNS}
runs=${2:-5}
bin=$build/tests/netns/lb4_ha_netns_tests
[ -x "$bin" ] || { echo "failover.sh: $bin not built" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$bin" --gtest_repeat="$runs" \
  --gtest_filter='HaTest.DeadGatewayIsRoutedAroundWithinBfdDetection:VrrpTest.MasterCarries*:VrrpNatTest.*' \
  >"$log" 2>&1 || { grep -E "FAILED|Failure" "$log" >&2; exit 1; }

# figure NAME TIME_REGEX BROKEN_REGEX: one line from the measure lines.
figure() {
  local name=$1 time=$2 broken=$3
  grep '^\[ measure \]' "$log" | awk -v name="$name" -v tre="$time" -v bre="$broken" '
    function num(line, re,   m) { if (match(line, re)) { m = substr(line, RSTART, RLENGTH); gsub(/[^0-9 ]/, "", m); return m } return "" }
    $0 ~ tre { t[n++] = num($0, "after [0-9]+ ms") + 0 }
    $0 ~ bre { split(num($0, "[0-9]+ of [0-9]+"), b, " "); lost += b[1]; total += b[2] }
    END {
      if (n == 0) { printf "failover.%s NOT REPORTED (no measure line)\n", name; exit }
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
      med = n % 2 ? t[(n - 1) / 2] : (t[n / 2 - 1] + t[n / 2]) / 2
      printf "failover.%s median_ms=%.0f min_ms=%d max_ms=%d runs=%d ratio_to_detection=%.2f broken=%d of %d\n",
        name, med, t[0], t[n - 1], n, med / 300, lost, total
    }'
}
figure bgp_bfd "router withdrew it after" "broken by the gateway failure"
figure vrrp_dr "holds 198.18.0.4 and the router sends to it after" "DR connections broken by the failover"
figure vrrp_nat "NAT: gateway 2 master after" "NAT connections broken by the failover"
