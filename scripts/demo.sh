#!/usr/bin/env bash
# The README's demo: installs what is missing, builds lb4, then runs real
# clients through lb4 to real backends in network namespaces:
#
#   client ──▶ gateway (lb4d, XDP on eth0) ──XDP_TX──▶ backend b1|b2|b3
#      ▲                                                     │
#      └──────────── replies straight from the VIP ◀─────────┘ (direct routing)
#
# With --nat, the same through lb4 as an LVS-NAT gateway
# (scripts/netns/nat_topology.sh): backends on their own subnet, requests
# translated to backend:8080, replies translated back to the VIP, and a bulk
# transfer to a backend behind a 1400-byte link (path MTU through lb4).
#
# Everything is configured through lb4ctl; the demo prints each command, how
# many connections each backend answered, and `lb4ctl stats`, then removes
# everything it created. Needs root.
#   scripts/demo.sh [--nat] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
NAT=0
if [ "${1:-}" = "--nat" ]; then
  NAT=1
  shift
fi
CONNECTIONS=${1:-300}
scripts/install-deps.sh
# Only what the demo runs: the daemon, the CLI, the BPF objects and the
# traffic tool (no tests, no fuzzers).
scripts/build.sh --target lb4d --target lb4ctl --target lb4_bpf --target lb4-testnet

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
  scripts/netns/nat_topology.sh down $P
  rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { printf '$ lb4ctl %s\n' "$*"; "$B/cli/lb4ctl" --socket "$SOCK" "$@"; }

if [ "$NAT" = 1 ]; then
  export LB4_BUILD_DIR=$B
  T="ip netns exec $P-cl $B/tests/tools/lb4-testnet"
  step "NAT topology: client 198.18.0.1, gateway, backends 198.18.2.11-13 (port 8080), far backend 198.18.4.2 behind a 1400-byte link"
  scripts/netns/nat_topology.sh up $P 3
  for i in 1 2 3; do
    ip netns exec $P-b$i "$B/tests/tools/lb4-testnet" serve --name "backend-$i" --port 8080 \
      --bind :: --udp >"$WORK/b$i.log" 2>&1 &
    pids+=($!)
  done
  ip netns exec $P-far "$B/tests/tools/lb4-testnet" serve --name far --port 80 --bind :: \
    >"$WORK/far.log" 2>&1 &
  pids+=($!)
  step "lb4d in the gateway namespace"
  nsenter --net=/run/netns/$P-gw "$B/userspace/lb4d" --socket "$SOCK" \
    --state-file "$WORK/state.json" --pin-root "$PIN" >"$WORK/lb4d.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
  step "configure through lb4ctl: lb4 on both gateway interfaces"
  ctl attach eth0 eth1
  for vip in 198.18.1.100:80/tcp 198.18.1.100:80/udp; do
    ctl add-vip $vip --mode nat
    for i in 1 2 3; do ctl add-backend $vip 198.18.2.1$i:8080; done
  done
  ctl add-vip '[2001:db8:1::100]:80/tcp' --mode nat
  for i in 1 2 3; do ctl add-backend '[2001:db8:1::100]:80/tcp' "[2001:db8:2::1$i]:8080"; done
  ctl add-vip 198.18.1.101:80/tcp --mode nat
  ctl add-backend 198.18.1.101:80/tcp 198.18.4.2
  ctl list
  step "$CONNECTIONS TCP connections to 198.18.1.100:80 (IPv4), then to [2001:db8:1::100]:80"
  $T connect --to 198.18.1.100:80/tcp --count "$CONNECTIONS" --human
  $T connect --to '[2001:db8:1::100]:80/tcp' --count "$CONNECTIONS" --human
  step "100 UDP requests: every reply comes from the VIP"
  $T udp --to 198.18.1.100:80/udp --count 100
  step "1 MB echoed through a 1400-byte link: ICMP 'fragmentation needed' crosses lb4 translated"
  $T bulk --to 198.18.1.101:80/tcp --bytes 1000000 --timeout-ms 10000
  step "lb4ctl stats"
  ctl stats
  exit 0
fi

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
