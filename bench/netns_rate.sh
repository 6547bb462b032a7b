#!/usr/bin/env bash
# netns_rate.sh up|down PREFIX [BACKENDS]
#
# Topology of the packet-rate benchmark (bench/netns_rate.cpp), all in
# namespaces named PREFIX-*:
#
#   PREFIX-gen  eth0 198.18.0.1/24, 2001:db8::1/64   generator (live frames)
#   PREFIX-gw   eth0 198.18.0.2/24, 2001:db8::2/64   subject under test
#   PREFIX-bN   eth0 198.18.0.1N/24, 2001:db8::1N/64 backends, VIPs on lo
#   PREFIX-sw   one port per namespace above, in a bridge
#
# Known unicast is switched by an XDP program on every switch port (loaded
# by netns_rate.cpp), so a frame goes generator -> gateway -> backend without
# an skb; the bridge only carries ARP/ND and other broadcasts. The DR VIPs
# 198.18.1.100 and 2001:db8:1::100 live on the backends' lo (LVS-DR). The
# NAT VIPs 198.18.1.101 and 2001:db8:1::101 live nowhere: lb4 rewrites the
# destination to the backend's eth0 address and sends the frame back out of
# the gateway's eth0 (bpf_fib_lookup, XDP_TX). The gateway forwards (for
# nftables DNAT, and because bpf_fib_lookup refuses to route without it)
# without sending redirects; netns_rate.cpp adds static neighbours for the
# backends. The backends have no route to the generator's ranges
# (198.18.64.0/18, 2001:db8:40::/48) and do not forward, so whatever they
# answer (ICMP port unreachable, RST) dies in their own stack: no replies
# reach the gateway and nothing loops. Nothing is created outside these
# namespaces; `down` removes all of them.
set -euo pipefail

cmd=${1:?usage: netns_rate.sh up|down PREFIX [BACKENDS]}
p=${2:?usage: netns_rate.sh up|down PREFIX [BACKENDS]}
n=${3:-2}
VIP4=198.18.1.100
VIP6=2001:db8:1::100

# shellcheck source=scripts/netns/lib.sh
. "$(dirname "$0")/../scripts/netns/lib.sh"
down() { netns_down; }

# port NS NAME MAC: a veth from the switch into NS as eth0 with a fixed MAC,
# sending full checksums.
port() {
  switch_port "$1" "$2" eth0 "$3"
  full_checksums "$1" eth0
}

up() {
  down
  switch_up

  ip netns add "$p-gen"
  port "$p-gen" sgen 02:00:00:00:00:01
  ip -n "$p-gen" addr add 198.18.0.1/24 dev eth0
  ip -n "$p-gen" addr add 2001:db8::1/64 dev eth0 nodad

  ip netns add "$p-gw"
  port "$p-gw" sgw 02:00:00:00:00:02
  ip -n "$p-gw" addr add 198.18.0.2/24 dev eth0
  ip -n "$p-gw" addr add 2001:db8::2/64 dev eth0 nodad
  ip netns exec "$p-gw" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0

  for i in $(seq 1 "$n"); do
    local ns="$p-b$i"
    ip netns add "$ns"
    port "$ns" "sb$i" "$(printf '02:00:00:00:01:%02x' "$i")"
    ip -n "$ns" addr add "198.18.0.1$i/24" dev eth0
    ip -n "$ns" addr add "2001:db8::1$i/64" dev eth0 nodad
    ip -n "$ns" addr add $VIP4/32 dev lo
    ip -n "$ns" addr add $VIP6/128 dev lo
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
      net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 \
      net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 \
      net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: netns_rate.sh up|down PREFIX [BACKENDS]" >&2; exit 2 ;;
esac
