#!/usr/bin/env bash
# The README's demo: installs what is missing, builds lb4, then runs real
# clients through lb4 to real backends in network namespaces:
#
#   client ──▶ gateway (lb4d, XDP on eth0) ──XDP_TX──▶ backend b1|b2|b3
#      ▲                                                     │
#      └──────────── replies straight from the VIP ◀─────────┘ (direct routing)
#
# Everything is configured through lb4ctl; the demo prints each command, how
# many connections each backend answered, and `lb4ctl stats`, then removes
# everything it created. Needs root.
#   scripts/demo.sh [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${1:-300}
scripts/install-deps.sh
scripts/build.sh

B=$PWD/build
P=lb4demo
WORK=$(mktemp -d /tmp/lb4demo.XXXXXX)
SOCK=$WORK/lb4d.sock
PIN=/sys/fs/bpf/$P
VIP=198.18.1.100:80/tcp
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/netns/topology.sh down $P
  rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { printf '$ lb4ctl %s\n' "$*"; "$B/cli/lb4ctl" --socket "$SOCK" "$@"; }

step "topology: client, gateway and 3 backends on 198.18.0.0/24, VIP ${VIP}"
scripts/netns/topology.sh up $P 3
for i in 1 2 3; do
  ip netns exec $P-b$i "$B/tests/tools/lb4-testnet" serve --name "backend-$i" --port 80 \
    --bind 0.0.0.0 >"$WORK/b$i.log" 2>&1 &
  pids+=($!)
done

step "lb4d in the gateway namespace"
nsenter --net=/run/netns/$P-gw "$B/userspace/lb4d" --socket "$SOCK" \
  --state-file "$WORK/state.json" --pin-root "$PIN" >"$WORK/lb4d.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done

step "configure through lb4ctl"
ctl attach eth0
ctl add-vip $VIP --mode dr
for i in 1 2 3; do ctl add-backend $VIP 198.18.0.1$i; done
ctl list

step "$CONNECTIONS client connections to $VIP"
ip netns exec $P-cl "$B/tests/tools/lb4-testnet" connect --to $VIP --count "$CONNECTIONS" --human

step "drain backend-3: new connections avoid it"
ctl drain $VIP 198.18.0.13
ip netns exec $P-cl "$B/tests/tools/lb4-testnet" connect --to $VIP --count 60 --human

step "health: every backend probed (TCP connect), host_info state per backend"
ctl health

step "lb4ctl stats"
ctl stats
step "lb4d log"
cat "$WORK/lb4d.log"
