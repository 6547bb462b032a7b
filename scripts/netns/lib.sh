# scripts/netns/lib.sh - shared by the namespace topologies (topology.sh,
# nat_topology.sh, bench/netns_rate.sh); sourced, not run. The caller sets
# $p, the prefix every namespace of its topology is named after.

# Removes every namespace named "$p-*" and kills what runs in it.
netns_down() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${p}-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

# Namespace "$p-sw" with bridge br0: the switch the ports below plug into.
switch_up() {
  ip netns add "$p-sw"
  ip -n "$p-sw" link add br0 type bridge
  ip -n "$p-sw" link set br0 up
  ip -n "$p-sw" link set lo up
}

# switch_port NS PORT IFNAME [MAC]: a veth from the switch's bridge (PORT)
# into namespace NS as IFNAME, up, optionally with a fixed MAC.
switch_port() {
  local ns=$1 port=$2 ifname=$3 mac=${4:-}
  ip -n "$p-sw" link add "$port" type veth peer name "$ifname" netns "$ns"
  ip -n "$p-sw" link set "$port" master br0 up
  [ -z "$mac" ] || ip -n "$ns" link set "$ifname" address "$mac"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$ifname" up
}

# A veth receives XDP_TX/XDP_REDIRECT frames only on an end with NAPI. With
# just GRO enabled there, this kernel holds the frames until the next
# ordinary packet kicks the queue (seconds of delay); an XDP program on the
# receiving end delivers them at once. napi NS DEV attaches lb4's xdp_pass
# ($PASS_OBJ, the built lb4_floor.bpf.o) to DEV in NS.
napi() {
  ip -n "$1" link set dev "$2" xdpdrv obj "$PASS_OBJ" sec xdp program xdp_pass
}

# full_checksums NS DEV...: senders compute full checksums and keep segments
# MTU-sized. On a veth a packet otherwise carries only a partial checksum
# plus skb metadata saying "finish me"; XDP turns the skb into a bare frame,
# the metadata is lost, and the receiver drops the segment as
# TcpInCsumErrors. A real NIC puts complete checksums on the wire, so this
# is a property of the test links, not of lb4 (which updates checksums
# incrementally and so needs them complete).
full_checksums() {
  local ns=$1
  shift
  for dev in "$@"; do
    ip netns exec "$ns" ethtool -K "$dev" tx off tso off gso off >/dev/null 2>&1 || true
  done
}
