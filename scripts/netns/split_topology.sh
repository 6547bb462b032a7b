#!/usr/bin/env bash
# split_topology.sh up|down PREFIX [BACKENDS]
#
# Direct routing with clients and backends on different links of the
# gateway, all in namespaces named PREFIX-*:
#
#   PREFIX-cl (client)   eth0 198.18.0.1/24         -- veth --  PREFIX-gw eth0 198.18.0.2/24
#   PREFIX-gw (gateway)  eth1 198.18.2.2/24  <- lb4 attaches to eth0 and eth1
#   PREFIX-bN (backends) eth0 198.18.2.1N/24, VIP on lo, default route via 198.18.2.2
#   PREFIX-sw            br0 joining the gateway's eth1 and every backend
#
# The client routes the VIP 198.18.1.100 through the gateway's eth0; lb4
# forwards each frame out of eth1 to its backend's MAC; the backend answers
# the client from the VIP through the gateway, which routes it (ip_forward,
# rp_filter off: the VIP source has no route back on the gateway). Nothing
# is created outside these namespaces; `down` removes all of them.
set -euo pipefail

cmd=${1:?usage: split_topology.sh up|down PREFIX [BACKENDS]}
p=${2:?usage: split_topology.sh up|down PREFIX [BACKENDS]}
n=${3:-3}
VIP4=198.18.1.100
BUILD_DIR=${LB4_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PASS_OBJ=$BUILD_DIR/bpf/lb4_floor.bpf.o

# shellcheck source=scripts/netns/lib.sh
. "$(dirname "$0")/lib.sh"
down() { netns_down; }

up() {
  down
  [ -f "$PASS_OBJ" ] || { echo "split_topology.sh: $PASS_OBJ not built" >&2; exit 1; }
  switch_up

  ip netns add "$p-cl"
  ip netns add "$p-gw"
  ip -n "$p-cl" link add eth0 type veth peer name eth0 netns "$p-gw"
  for ns in "$p-cl" "$p-gw"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
  done
  ip -n "$p-cl" addr add 198.18.0.1/24 dev eth0
  ip -n "$p-cl" route add $VIP4/32 via 198.18.0.2
  ip -n "$p-gw" addr add 198.18.0.2/24 dev eth0

  switch_port "$p-gw" gw1 eth1
  napi "$p-sw" gw1
  ip -n "$p-gw" addr add 198.18.2.2/24 dev eth1
  ip netns exec "$p-gw" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0

  for i in $(seq 1 "$n"); do
    local ns="$p-b$i"
    ip netns add "$ns"
    switch_port "$ns" "b$i" eth0
    ip -n "$ns" addr add "198.18.2.1$i/24" dev eth0
    ip -n "$ns" addr add $VIP4/32 dev lo
    ip -n "$ns" route add default via 198.18.2.2
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
      net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
  done
  full_checksums "$p-cl" eth0
  full_checksums "$p-gw" eth0 eth1
  for i in $(seq 1 "$n"); do
    full_checksums "$p-b$i" eth0
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: split_topology.sh up|down PREFIX [BACKENDS]" >&2; exit 2 ;;
esac
