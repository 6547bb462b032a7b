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

down() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${p}-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

# link NS IFNAME: a veth from the switch's bridge into namespace NS as eth0.
link() {
  local ns=$1 port=$2
  ip -n "$p-sw" link add "$port" type veth peer name eth0 netns "$ns"
  ip -n "$p-sw" link set "$port" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}

# A veth receives XDP_TX/XDP_REDIRECT frames only on an end with NAPI. With
# just GRO enabled there, this kernel holds the frames until the next
# ordinary packet kicks the queue (seconds of delay); an XDP program on the
# receiving end delivers them at once.
napi() {
  local ns=$1 dev=$2
  ip -n "$ns" link set dev "$dev" xdpdrv obj "$PASS_OBJ" sec xdp program xdp_pass
}

up() {
  down
  [ -f "$PASS_OBJ" ] || { echo "topology.sh: $PASS_OBJ not built" >&2; exit 1; }
  ip netns add "$p-sw"
  ip -n "$p-sw" link add br0 type bridge
  ip -n "$p-sw" link set br0 up
  ip -n "$p-sw" link set lo up

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
  # Senders compute full checksums and keep segments MTU-sized. On a veth
  # a packet otherwise carries only a partial checksum plus skb metadata
  # saying "finish me"; XDP turns the skb into a bare frame, the metadata is
  # lost, and the backend drops the segment as TcpInCsumErrors. A real NIC
  # puts complete checksums on the wire, so this is a property of the test
  # links, not of lb4.
  for ns in "$p-cl" "$p-gw" $(seq -f "$p-b%g" 1 "$n"); do
    ip netns exec "$ns" ethtool -K eth0 tx off tso off gso off >/dev/null 2>&1 || true
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: topology.sh up|down PREFIX [BACKENDS]" >&2; exit 2 ;;
esac
