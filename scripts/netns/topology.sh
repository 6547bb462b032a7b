#!/usr/bin/env bash
# topology.sh up|down PREFIX [BACKENDS]
#
# The direct-routing test topology, all in namespaces named PREFIX-*:
#
#   PREFIX-cl (client)   eth0 198.18.0.1/24, 2001:db8::1/64
#   PREFIX-gw (gateway)  eth0 198.18.0.2/24, 2001:db8::2/64   <- lb4 attaches here
#   PREFIX-bN (backends) eth0 198.18.0.1N/24, 2001:db8::1N/64, VIPs on lo
#   PREFIX-sw            br0 joining every eth0 above (one L2 segment)
#
# The VIP 198.18.1.100 / 2001:db8:1::100 is routed by the client through the
# gateway; the backends hold it on lo with arp_ignore=1 / arp_announce=2 and
# answer the client directly (LVS-DR). Nothing is created outside these
# namespaces; `down` removes all of them (and is safe to run twice).
set -euo pipefail

cmd=${1:?usage: topology.sh up|down PREFIX [BACKENDS]}
p=${2:?usage: topology.sh up|down PREFIX [BACKENDS]}
n=${3:-3}
VIP4=198.18.1.100
BUILD_DIR=${LB4_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PASS_OBJ=$BUILD_DIR/bpf/lb4_floor.bpf.o
VIP6=2001:db8:1::100

# shellcheck source=scripts/netns/lib.sh
. "$(dirname "$0")/lib.sh"
down() { netns_down; }

# link NS PORT: a veth from the switch's bridge into namespace NS as eth0.
link() { switch_port "$1" "$2" eth0; }

up() {
  down
  [ -f "$PASS_OBJ" ] || { echo "topology.sh: $PASS_OBJ not built" >&2; exit 1; }
  switch_up

  ip netns add "$p-cl"
  link "$p-cl" cl0
  ip -n "$p-cl" addr add 198.18.0.1/24 dev eth0
  ip -n "$p-cl" addr add 2001:db8::1/64 dev eth0 nodad
  ip -n "$p-cl" route add $VIP4/32 via 198.18.0.2
  ip -n "$p-cl" -6 route add $VIP6/128 via 2001:db8::2

  ip netns add "$p-gw"
  link "$p-gw" gw0
  napi "$p-sw" gw0
  ip -n "$p-gw" addr add 198.18.0.2/24 dev eth0
  ip -n "$p-gw" addr add 2001:db8::2/64 dev eth0 nodad

  for i in $(seq 1 "$n"); do
    local ns="$p-b$i"
    ip netns add "$ns"
    link "$ns" "b$i"
    ip -n "$ns" addr add "198.18.0.1$i/24" dev eth0
    ip -n "$ns" addr add "2001:db8::1$i/64" dev eth0 nodad
    ip -n "$ns" addr add $VIP4/32 dev lo
    ip -n "$ns" addr add $VIP6/128 dev lo
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
      net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
  done
  # Full checksums from every sender (lib.sh says why).
  for ns in "$p-cl" "$p-gw" $(seq -f "$p-b%g" 1 "$n"); do
    full_checksums "$ns" eth0
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: topology.sh up|down PREFIX [BACKENDS]" >&2; exit 2 ;;
esac
