#!/usr/bin/env bash
# ha_topology.sh up|down PREFIX [BACKENDS]
#
# Two lb4 gateways behind one ECMP router, all in namespaces named PREFIX-*:
#
#   PREFIX-cl (client)   eth0 198.18.10.1/24, default via the router
#   PREFIX-rt (router)   eth0 198.18.10.2/24 (clients), eth1 198.18.0.254/24
#                        (segment); forwards, L4 multipath hash
#   PREFIX-gw1, -gw2     eth0 198.18.0.2/24 and 198.18.0.3/24  <- lb4 here
#   PREFIX-bN (backends) eth0 198.18.0.1N/24, default via the router, the
#                        VIPs 198.18.1.100 and 198.18.1.101 on lo
#   PREFIX-sw            br0 joining the router's eth1, both gateways and the
#                        backends (one L2 segment)
#
# The router learns the VIPs from the gateways over BGP (the test runs BIRD
# in PREFIX-rt, -gw1 and -gw2); backends answer clients directly (LVS-DR)
# through the router. Nothing is created outside these namespaces; `down`
# removes all of them (and is safe to run twice).
set -euo pipefail

cmd=${1:?usage: ha_topology.sh up|down PREFIX [BACKENDS]}
p=${2:?usage: ha_topology.sh up|down PREFIX [BACKENDS]}
n=${3:-3}
BUILD_DIR=${LB4_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PASS_OBJ=$BUILD_DIR/bpf/lb4_floor.bpf.o
VIPS="198.18.1.100 198.18.1.101"

# shellcheck source=scripts/netns/lib.sh
. "$(dirname "$0")/lib.sh"
down() { netns_down; }

up() {
  down
  [ -f "$PASS_OBJ" ] || { echo "ha_topology.sh: $PASS_OBJ not built" >&2; exit 1; }
  switch_up

  ip netns add "$p-cl"
  ip netns add "$p-rt"
  ip -n "$p-cl" link add eth0 type veth peer name eth0 netns "$p-rt"
  for ns in "$p-cl" "$p-rt"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
  done
  ip -n "$p-cl" addr add 198.18.10.1/24 dev eth0
  ip -n "$p-cl" route add default via 198.18.10.2
  ip -n "$p-rt" addr add 198.18.10.2/24 dev eth0
  switch_port "$p-rt" rt1 eth1
  ip -n "$p-rt" addr add 198.18.0.254/24 dev eth1
  # Forward with an L4 hash over the next hops of a multipath route.
  ip netns exec "$p-rt" sysctl -qw net.ipv4.ip_forward=1 \
    net.ipv4.fib_multipath_hash_policy=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 \
    net.ipv4.conf.eth1.rp_filter=0

  for g in 1 2; do
    local ns="$p-gw$g"
    ip netns add "$ns"
    switch_port "$ns" "gw$g" eth0
    # lb4 sends with XDP_TX back into the bridge port: it needs NAPI.
    napi "$p-sw" "gw$g"
    ip -n "$ns" addr add "198.18.0.$((g + 1))/24" dev eth0
  done

  for i in $(seq 1 "$n"); do
    local ns="$p-b$i"
    ip netns add "$ns"
    switch_port "$ns" "b$i" eth0
    ip -n "$ns" addr add "198.18.0.1$i/24" dev eth0
    ip -n "$ns" route add default via 198.18.0.254
    for v in $VIPS; do
      ip -n "$ns" addr add "$v/32" dev lo
    done
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
      net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
  done
  # Full checksums from every sender (lib.sh says why).
  full_checksums "$p-cl" eth0
  full_checksums "$p-rt" eth0 eth1
  for ns in "$p-gw1" "$p-gw2" $(seq -f "$p-b%g" 1 "$n"); do
    full_checksums "$ns" eth0
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: ha_topology.sh up|down PREFIX [BACKENDS]" >&2; exit 2 ;;
esac
