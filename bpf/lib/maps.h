/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * maps.h - every map of the lb4 XDP program, declared once. Maps holding
 * state that must outlive the daemon (configuration, conntrack, counters) are
 * pinned by name under the pin directory userspace chooses; bpffs refuses
 * names containing dots, so no map name has one.
 */
#ifndef LB4_BPF_MAPS_H
#define LB4_BPF_MAPS_H

#include "bpf/lib/common.h"

/* VIP:port/proto -> VIP; written by the daemon; addr and port network order. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB4_MAX_VIPS);
	__type(key, struct lb4_vip_key);
	__type(value, struct lb4_vip_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_vips SEC(".maps");

/*
 * VIP address/proto (lb4_vip_key with port 0) -> the services on it
 * (struct lb4_vip_addr); maintained by Dataplane::upsertVip/deleteVip/
 * setRing; addr network order. One lookup, before the L4 header is read,
 * tells whether a packet could be VIP traffic at all (the early exit for
 * non-VIP traffic, and the test that decides whether a malformed packet is
 * dropped or passed) and, for an address with few services, which VIP it
 * is: the established fast path does no other VIP lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB4_MAX_VIPS);
	__type(key, struct lb4_vip_key);
	__type(value, struct lb4_vip_addr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_vip_addrs SEC(".maps");

/* Backend id (host order, 0 unused) -> backend; written by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB4_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb4_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_backends SEC(".maps");

/*
 * Template of one Maglev ring: slot (host order) -> backend id. With
 * BPF_F_INNER_MAP the kernel does not compare max_entries of inner arrays,
 * so the daemon creates each ring with exactly the VIP's ring size (up to
 * this maximum). BPF_F_MMAPABLE lets the daemon fill a new ring through
 * mmap instead of a syscall per slot. Both flags must be set on every
 * inner array too, because map_flags are compared.
 */
struct lb4_ring {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB4_MAX_RING_SIZE);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

/* vip_id (host order) -> that VIP's Maglev ring; inner maps swapped whole by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, LB4_MAX_VIPS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct lb4_ring); /* must be the last member */
} lb4_rings SEC(".maps");

/*
 * Client 5-tuple as sent (addresses and ports network order) -> backend;
 * written by this program, read by the daemon. Per-CPU LRU lists avoid a
 * global LRU lock; max_entries is set by userspace before load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB4_DEFAULT_CT_SIZE);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct lb4_flow_key);
	__type(value, struct lb4_flow_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_conntrack SEC(".maps");

/*
 * NAT flows only: the backend's reply 5-tuple -> VIP (reverse entry). A map
 * of its own so that lb4_conntrack entries stay small; sized by userspace
 * (nat_reverse_size), as only NAT flows need an entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB4_DEFAULT_NAT_REVERSE_SIZE);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct lb4_flow_key);
	__type(value, struct lb4_nat_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_nat_reverse SEC(".maps");

/*
 * Backend address/proto (lb4_vip_key with port 0) of NAT VIPs -> 1; written
 * by the daemon; addr network order. Gates the reverse (reply) conntrack
 * lookup so that other traffic pays one hash lookup, not an LRU lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB4_MAX_BACKENDS);
	__type(key, struct lb4_vip_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_nat_addrs SEC(".maps");

/*
 * NAT backend {addr, port, proto, family} (lb4_vip_key, network order) ->
 * its only NAT VIP: the stateless reply translation after a failover;
 * written by the daemon.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB4_MAX_BACKENDS);
	__type(key, struct lb4_vip_key);
	__type(value, struct lb4_nat_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_nat_origins SEC(".maps");

/*
 * ifindex (host order) -> ifindex: the interfaces NAT may XDP_REDIRECT to
 * (every interface lb4 is attached to); written by the daemon, which must
 * run in the gateway's network namespace (ifindexes resolve there). Not
 * pinned: the daemon refills it from its interface list before it attaches
 * (a program it replaces keeps its own copy until then), and libbpf cannot
 * reuse a pinned devmap anyway (the kernel adds BPF_F_RDONLY_PROG to its
 * flags but refuses that flag at creation, so the definitions never match).
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, LB4_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} lb4_tx_ports SEC(".maps");

/*
 * ifindex (host order) -> that interface's MAC (struct lb4_iface), for every
 * interface lb4 is attached to; written by the daemon with lb4_tx_ports.
 * Not pinned, for the same reason as lb4_tx_ports: the daemon refills it
 * before it attaches.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB4_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct lb4_iface);
} lb4_ifaces SEC(".maps");

/*
 * ifindex (host order, < LB4_IFACE_SLOTS) -> the same lb4_iface as in
 * lb4_ifaces, `present` set; written by the daemon together with
 * lb4_ifaces. The program's lookup is inlined (an array), so a packet pays
 * no helper call for it. Not pinned, like lb4_ifaces.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB4_IFACE_SLOTS);
	__type(key, __u32);
	__type(value, struct lb4_iface);
} lb4_iface_slots SEC(".maps");

/*
 * Word index -> 64 bits of the address filter (lb4_abi.h): whether an
 * address may be in lb4_vip_addrs / lb4_nat_addrs at all. An array, so its
 * lookup is inlined: traffic for no VIP and from no NAT backend costs no
 * hash lookup. Not pinned: Dataplane computes it from those maps when it
 * opens (before lb4d attaches) and after each change.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * LB4_ADDR_FILTER_REGION_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} lb4_addr_filter SEC(".maps");

/* Backend id -> cached next hop, per CPU. A cache: not pinned, starts empty. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB4_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb4_nexthop);
} lb4_nexthops SEC(".maps");

/*
 * (vip_id, source prefix) -> allow or deny, longest prefix first; written
 * by the daemon, read only for VIPs with an LB4_VIP_F_SRC_* flag.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LB4_MAX_SRC_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lb4_src_key);
	__type(value, struct lb4_src_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_src_rules SEC(".maps");

/* Key 0 -> gateway configuration; written by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb4_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_config SEC(".maps");

/* enum lb4_stat (host order) -> packets, per CPU; written by this program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB4_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_stats SEC(".maps");

/* vip_id (host order) -> forwarded traffic, per CPU; written by this program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB4_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb4_traffic);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_vip_stats SEC(".maps");

/* Backend id (host order) -> forwarded traffic, per CPU; written by this program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB4_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb4_traffic);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_backend_stats SEC(".maps");

/* Passive health signals per backend id (NAT replies); per CPU; read by lb4d. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB4_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb4_signals);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb4_backend_signals SEC(".maps");

#endif /* LB4_BPF_MAPS_H */
