#!/usr/bin/env bash
# nat_topology.sh up|down PREFIX [BACKENDS]
#
# The NAT (LVS-NAT) test topology, all in namespaces named PREFIX-*:
#
#   PREFIX-cl   eth0 198.18.0.1/24  2001:db8::1/64      default via the gateway
#       │ (veth)
#   PREFIX-gw   eth0 198.18.0.2/24  2001:db8::2/64      <- lb4 attaches to eth0 and eth1
#               eth1 198.18.2.254/24 2001:db8:2::fe/64  forwarding on
#       │ (veth to PREFIX-sw's bridge br0)
#   PREFIX-bN   eth0 198.18.2.1N/24 2001:db8:2::1N/64   default via the gateway
#   PREFIX-rt   eth0 198.18.2.253/24 2001:db8:2::fd/64  a router to a far backend,
#               eth1 198.18.4.1/24  2001:db8:4::1/64    MTU 1400 on this link
#       │ (veth, MTU 1400)
#   PREFIX-far  eth0 198.18.4.2/24  2001:db8:4::2/64    MTU 1400, default via rt
#
# Client and backends are in different subnets; the backends hold no VIP and
# route their replies through the gateway, where lb4 translates them back.
# The far backend sits behind a 1400-byte link, but announces an MSS for
# 1500-byte packets (advmss on its route), so a client sending to it needs
# path MTU discovery: rt answers oversized packets with ICMP
# "fragmentation needed" / "packet too big", which crosses lb4 on its way
# to the client. Nothing is created outside these namespaces; `down`
# removes all of them (and is safe to run twice).
set -euo pipefail

cmd=${1:?usage: nat_topology.sh up|down PREFIX [BACKENDS]}
p=${2:?usage: nat_topology.sh up|down PREFIX [BACKENDS]}
n=${3:-3}
BUILD_DIR=${LB4_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PASS_OBJ=$BUILD_DIR/bpf/lb4_floor.bpf.o

# shellcheck source=scripts/netns/lib.sh
. "$(dirname "$0")/lib.sh"
down() { netns_down; }

sysctls() {
  ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

# port NS PORT IF: a veth from the switch's bridge into namespace NS as IF.
port() { switch_port "$1" "$2" "$3"; }

up() {
  down
  [ -f "$PASS_OBJ" ] || { echo "nat_topology.sh: $PASS_OBJ not built" >&2; exit 1; }
  switch_up
  for ns in cl gw rt far $(seq -f "b%g" 1 "$n"); do
    ip netns add "$p-$ns"
    ip -n "$p-$ns" link set lo up
  done

  # client <-> gateway eth0
  ip -n "$p-cl" link add eth0 type veth peer name eth0 netns "$p-gw"
  ip -n "$p-cl" link set eth0 up
  ip -n "$p-gw" link set eth0 up
  ip -n "$p-cl" addr add 198.18.0.1/24 dev eth0
  ip -n "$p-cl" addr add 2001:db8::1/64 dev eth0 nodad
  ip -n "$p-cl" route add default via 198.18.0.2
  ip -n "$p-cl" -6 route add default via 2001:db8::2
  napi "$p-cl" eth0

  # gateway eth1 <-> backend segment
  port "$p-gw" gw1 eth1
  napi "$p-sw" gw1
  ip -n "$p-gw" addr add 198.18.0.2/24 dev eth0
  ip -n "$p-gw" addr add 2001:db8::2/64 dev eth0 nodad
  ip -n "$p-gw" addr add 198.18.2.254/24 dev eth1
  ip -n "$p-gw" addr add 2001:db8:2::fe/64 dev eth1 nodad
  ip -n "$p-gw" route add 198.18.4.0/24 via 198.18.2.253
  ip -n "$p-gw" -6 route add 2001:db8:4::/64 via 2001:db8:2::fd
  sysctls "$p-gw"

  for i in $(seq 1 "$n"); do
    local ns="$p-b$i"
    port "$ns" "b$i" eth0
    ip -n "$ns" addr add "198.18.2.1$i/24" dev eth0
    ip -n "$ns" addr add "2001:db8:2::1$i/64" dev eth0 nodad
    ip -n "$ns" route add default via 198.18.2.254
    ip -n "$ns" -6 route add default via 2001:db8:2::fe
  done

  # router and the far backend behind a 1400-byte link
  port "$p-rt" rt0 eth0
  ip -n "$p-rt" addr add 198.18.2.253/24 dev eth0
  ip -n "$p-rt" addr add 2001:db8:2::fd/64 dev eth0 nodad
  ip -n "$p-rt" route add default via 198.18.2.254
  ip -n "$p-rt" -6 route add default via 2001:db8:2::fe
  ip -n "$p-rt" link add eth1 mtu 1400 type veth peer name eth0 netns "$p-far" mtu 1400
  ip -n "$p-rt" link set eth1 up
  ip -n "$p-far" link set eth0 up
  ip -n "$p-rt" addr add 198.18.4.1/24 dev eth1
  ip -n "$p-rt" addr add 2001:db8:4::1/64 dev eth1 nodad
  sysctls "$p-rt"
  ip -n "$p-far" addr add 198.18.4.2/24 dev eth0
  ip -n "$p-far" addr add 2001:db8:4::2/64 dev eth0 nodad
  ip -n "$p-far" route add default via 198.18.4.1 advmss 1460
  ip -n "$p-far" -6 route add default via 2001:db8:4::1 advmss 1440

  # Full checksums and MTU-sized segments from every sender (lib.sh says why).
  for ns in cl gw rt far $(seq -f "b%g" 1 "$n"); do
    full_checksums "$p-$ns" eth0 eth1
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: nat_topology.sh up|down PREFIX [BACKENDS]" >&2; exit 2 ;;
esac
