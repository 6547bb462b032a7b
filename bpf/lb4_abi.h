/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lb4_abi.h - the one header shared by the XDP program (bpf/) and the control
 * plane (userspace/). Fixed-width types only, byte order named in the type,
 * explicit padding; every struct is followed by a size assertion. Keys must be
 * zero-initialised by whoever builds them: padding bytes are part of a hash
 * key. Any change to a struct here bumps LB4_ABI_VERSION.
 */
#ifndef LB4_ABI_H
#define LB4_ABI_H

#include <linux/types.h>

#ifdef __cplusplus
#define LB4_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define LB4_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Layout version of every pinned map; stored in lb4_config.abi_version. */
#define LB4_ABI_VERSION 14

#define LB4_MAX_VIPS 1024
#define LB4_MAX_BACKENDS 4096
/* Largest Maglev ring the program accepts (inner array max_entries). */
#define LB4_MAX_RING_SIZE 655373
#define LB4_DEFAULT_RING_SIZE 65537
#define LB4_DEFAULT_CT_SIZE 1048576
/* Entries of lb4_nat_reverse (one per NAT flow); nat_reverse_size. */
#define LB4_DEFAULT_NAT_REVERSE_SIZE 65536
/* Maximum number of interfaces in lb4_tx_ports. */
#define LB4_MAX_IFACES 64
/* NAT conntrack timeouts (seconds), defaults of lb4_config. */
#define LB4_DEFAULT_TCP_TIMEOUT 900
#define LB4_DEFAULT_TCP_FIN_TIMEOUT 30
#define LB4_DEFAULT_UDP_TIMEOUT 120

/* Address families, as in AF_INET / AF_INET6. */
#define LB4_AF_INET 2
#define LB4_AF_INET6 10

/* Forwarding modes (lb4_vip_value.mode). */
#define LB4_MODE_DR 0  /* rewrite MACs, XDP_TX; backends answer the client directly */
#define LB4_MODE_NAT 1 /* rewrite destination (and port), route; replies come back through lb4 */

/* lb4_vip_value.flags */
#define LB4_VIP_F_ALL_PORTS (1U << 0) /* key.port == 0 matches every port */
#define LB4_VIP_F_SRC_ALLOW (1U << 1) /* has an allow list: other sources are dropped */
#define LB4_VIP_F_SRC_DENY (1U << 2)  /* has a deny list (lb4_src_rules) */

/* lb4_backend.flags */
#define LB4_BACKEND_F_ENABLED (1U << 0) /* may carry flows (existing and new) */

/* Key of lb4_vips. IPv4 addresses use the first 4 bytes of addr. */
struct lb4_vip_key {
	__u8 addr[16]; /* network byte order */
	__be16 port;   /* 0 = all ports (with LB4_VIP_F_ALL_PORTS) */
	__u8 proto;    /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;   /* LB4_AF_INET or LB4_AF_INET6 */
};
LB4_STATIC_ASSERT(sizeof(struct lb4_vip_key) == 20, "lb4_vip_key size");

struct lb4_vip_value {
	__u32 vip_id;    /* index into lb4_rings and lb4_vip_stats */
	__u32 ring_size; /* entries of this VIP's Maglev ring (prime) */
	__u8 mode;       /* LB4_MODE_* */
	__u8 flags;      /* LB4_VIP_F_* */
	__u16 pad;
};
LB4_STATIC_ASSERT(sizeof(struct lb4_vip_value) == 12, "lb4_vip_value size");

/* Services an lb4_vip_addrs entry carries inline (lb4_vip_addr.svc). */
#define LB4_ADDR_SERVICES 4

/* One service of an address, as lb4_vips has it: its port and its value. */
struct lb4_addr_service {
	__be16 port; /* lb4_vip_key.port */
	__u16 pad;
	struct lb4_vip_value vip;
};
LB4_STATIC_ASSERT(sizeof(struct lb4_addr_service) == 16, "lb4_addr_service size");

/*
 * Value of lb4_vip_addrs (key: lb4_vip_key with port 0): the services on
 * one address and protocol. When there are at most LB4_ADDR_SERVICES of
 * them, svc holds every one (in no particular order) and the program finds
 * the VIP with this single lookup; with more, it looks the full key up in
 * lb4_vips. Derived from lb4_vips by the daemon.
 */
struct lb4_vip_addr {
	__u32 services; /* lb4_vips entries on this address and protocol */
	__u32 pad;
	struct lb4_addr_service svc[LB4_ADDR_SERVICES];
};
LB4_STATIC_ASSERT(sizeof(struct lb4_vip_addr) == 72, "lb4_vip_addr size");

/* Value of lb4_backends, indexed by backend id (0 is never used). */
struct lb4_backend {
	__u8 addr[16]; /* network byte order */
	__u8 mac[6];   /* next-hop MAC for direct routing */
	__be16 port;   /* backend port (0 = same as the VIP's) */
	__u8 family;   /* LB4_AF_* */
	__u8 flags;    /* LB4_BACKEND_F_* */
	__u16 pad;
	__u32 gen; /* bumped each time the id is given to a new backend */
	__u32 ifindex; /* direct routing: attached interface the backend is on (0: the receiving one) */
	__u32 pad2;
};
LB4_STATIC_ASSERT(sizeof(struct lb4_backend) == 40, "lb4_backend size");

/* Key of lb4_conntrack: the flow as the client sent it. */
struct lb4_flow_key {
	__u8 src[16]; /* network byte order */
	__u8 dst[16]; /* network byte order */
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
};
LB4_STATIC_ASSERT(sizeof(struct lb4_flow_key) == 40, "lb4_flow_key size");

/* lb4_flow_value.flags and lb4_nat_value.flags */
#define LB4_FLOW_F_NAT (1U << 0)     /* NAT flow: last_seen kept, entry expires */
#define LB4_FLOW_F_CLOSING (1U << 1) /* TCP FIN or RST seen: tcp_fin_timeout applies */

/*
 * Value of lb4_conntrack, keyed by the client's 5-tuple as sent to the VIP.
 * Kept small (16 bytes) because every established packet reads it and
 * conntrack holds up to millions: a direct-routing entry is written once and
 * only read afterwards. last_seen is in seconds of CLOCK_MONOTONIC_COARSE
 * (bpf_ktime_get_coarse_ns() / 10^9).
 */
struct lb4_flow_value {
	__u32 backend_id;
	__u32 backend_gen; /* lb4_backend.gen when the flow was scheduled */
	__u32 last_seen;   /* NAT only: refreshed at most once a second */
	__u8 flags;        /* LB4_FLOW_F_* */
	__u8 pad[3];
};
LB4_STATIC_ASSERT(sizeof(struct lb4_flow_value) == 16, "lb4_flow_value size");

/*
 * A cached answer of the kernel FIB for one destination: valid while
 * `stamp` is the current second (seconds of CLOCK_MONOTONIC_COARSE), the
 * backend's generation is `gen` (0 where no backend is involved), the
 * packet came in on `ingress` and is no longer than `len_ok` (the longest
 * packet the FIB passed for this route this second: a longer one is looked
 * up again, so that the FIB still checks the egress MTU). `ifindex` 0 is
 * empty. Kept per backend in lb4_nexthops and per NAT flow in its reverse
 * entry.
 */
struct lb4_nexthop {
	__u32 ingress;
	__u32 ifindex; /* egress */
	__u32 stamp;
	__u32 gen;
	__u16 len_ok;
	__u8 smac[6];
	__u8 dmac[6];
	__u16 pad;
};
LB4_STATIC_ASSERT(sizeof(struct lb4_nexthop) == 32, "lb4_nexthop size");

/*
 * Value of lb4_nat_reverse, keyed by a NAT backend's reply (src backend:port,
 * dst client:port, as lb4_flow_key): the VIP address and port the reply's
 * source is translated back to, and the next hop towards the client.
 * Created with the forward entry (with an empty `hop`), refreshed in place
 * by it at most once a second.
 */
struct lb4_nat_value {
	__u8 vip_addr[16]; /* network byte order */
	__be16 vip_port;
	__u8 flags;        /* LB4_FLOW_F_* (NAT, CLOSING) */
	__u8 pad;
	__u32 last_seen;   /* as lb4_flow_value.last_seen */
	__u32 backend_id;  /* for the passive health signals */
	struct lb4_nexthop hop; /* replies' next hop, filled by the reply path */
};
LB4_STATIC_ASSERT(sizeof(struct lb4_nat_value) == 60, "lb4_nat_value size");

/*
 * The single entry of lb4_config, written by the daemon. One program and
 * one set of maps serve every attached interface, so nothing here is
 * per interface.
 */
struct lb4_config {
	__u32 abi_version;       /* LB4_ABI_VERSION of the daemon that created the maps */
	__u32 tcp_timeout;       /* NAT: seconds an idle established TCP flow is kept */
	__u32 tcp_fin_timeout;   /* NAT: seconds a TCP flow is kept after FIN/RST (idle) */
	__u32 udp_timeout;       /* NAT: seconds an idle UDP flow is kept */
	__u32 nat_backends;      /* entries of lb4_nat_addrs (kept by Dataplane) */
};
LB4_STATIC_ASSERT(sizeof(struct lb4_config) == 20, "lb4_config size");

/*
 * lb4_addr_filter: two bitmaps of 2^LB4_ADDR_FILTER_LOG2 bits in u64 words,
 * region LB4_FILTER_VIP (the addresses of lb4_vip_addrs) then
 * LB4_FILTER_NAT (those of lb4_nat_addrs). An address's bit is
 * lb4_addr_filter_bit(); a clear bit means the address is in no entry of
 * that map, so the program skips the hash lookup (a set bit may be shared:
 * the lookup decides). Written by Dataplane after every change of either
 * map: bits are set after an entry is added and cleared after it is gone.
 */
#define LB4_ADDR_FILTER_LOG2 16
#define LB4_ADDR_FILTER_REGION_WORDS ((1U << LB4_ADDR_FILTER_LOG2) / 64)
#define LB4_FILTER_VIP 0
#define LB4_FILTER_NAT 1

/* An address's bit in either region (IPv4 in the first 4 bytes, rest 0). */
static inline __attribute__((always_inline)) __u32 lb4_addr_filter_bit(const __u8 *addr)
{
	__u32 w[4];

	__builtin_memcpy(w, addr, sizeof(w));
	return ((w[0] ^ w[1] ^ w[2] ^ w[3]) * 0x9e3779b1U) >> (32 - LB4_ADDR_FILTER_LOG2);
}

/*
 * Value of lb4_ifaces, keyed by ifindex (host order): the MAC of an
 * interface lb4 is attached to. VIP traffic is only handled when it was
 * sent to this MAC, so direct routing's new source MAC (the frame's old
 * destination) is always the receiving interface's own.
 */
struct lb4_iface {
	__u8 mac[6];
	__u8 present; /* lb4_iface_slots: 1 where the slot holds an interface */
	__u8 pad;
};

/*
 * Interfaces with an ifindex below this are also in lb4_iface_slots, an
 * array the verifier inlines (lb4_ifaces is a hash: a helper call per
 * lookup); those above it are found in lb4_ifaces only.
 */
#define LB4_IFACE_SLOTS 4096
LB4_STATIC_ASSERT(sizeof(struct lb4_iface) == 8, "lb4_iface size");

/*
 * Passive health signals, per CPU, per backend id: what a backend's own
 * replies say about new connections. Counted on the NAT reply path, the
 * only mode whose replies pass through lb4; read by lb4d's health model.
 */
struct lb4_signals {
	__u64 accepted; /* SYN-ACKs from the backend */
	__u64 refused;  /* RSTs from the backend */
};
LB4_STATIC_ASSERT(sizeof(struct lb4_signals) == 16, "lb4_signals size");

/*
 * Value of lb4_nat_origins (key: lb4_vip_key of a NAT backend's address,
 * port and protocol): the one NAT VIP that backend port serves. A reply
 * with no reverse entry (its flow was translated by another gateway before
 * a failover) is translated back to this VIP without state. Written by the
 * daemon only for backend ports that serve exactly one NAT VIP.
 */
struct lb4_nat_origin {
	__u8 vip_addr[16]; /* network byte order */
	__be16 vip_port;
	__u16 pad;
	__u32 backend_id;
};
LB4_STATIC_ASSERT(sizeof(struct lb4_nat_origin) == 24, "lb4_nat_origin size");

/*
 * Key of lb4_src_rules, an LPM trie of every VIP's source prefixes. The
 * prefix covers vip_id whole, then the address: prefixlen = 32 + the
 * prefix's length (IPv4 in the first 4 bytes of addr, like lb4_flow_key).
 * The program looks up 32 + 128 bits, the client's address.
 */
struct lb4_src_key {
	__u32 prefixlen;
	__u32 vip_id;
	__u8 addr[16]; /* network byte order */
};
LB4_STATIC_ASSERT(sizeof(struct lb4_src_key) == 24, "lb4_src_key size");

#define LB4_SRC_KEY_BITS (32 + 128)
#define LB4_MAX_SRC_RULES 16384

/* lb4_src_rule.action */
#define LB4_SRC_ALLOW 1
#define LB4_SRC_DENY 2

/* Value of lb4_src_rules: what the longest matching prefix says. */
struct lb4_src_rule {
	__u32 action; /* LB4_SRC_* */
};
LB4_STATIC_ASSERT(sizeof(struct lb4_src_rule) == 4, "lb4_src_rule size");

/*
 * Traffic, per CPU, per VIP and per backend: packets and bytes forwarded,
 * new connections (flows the program scheduled and gave a conntrack entry:
 * a first packet, or a flow whose entry was gone or stale), and packets
 * dropped once the VIP (or the backend) was known, for any reason.
 */
struct lb4_traffic {
	__u64 packets;
	__u64 bytes;
	__u64 new_connections;
	__u64 dropped;
};
LB4_STATIC_ASSERT(sizeof(struct lb4_traffic) == 32, "lb4_traffic size");

/*
 * Global reasons, the index of lb4_stats (per CPU), defined once here:
 * X(NAME, name, help) per counter, in index order. LB4_STAT_<NAME> is the
 * enum value, `name` the key of `lb4ctl stats` and of lb4d's JSON, `help`
 * one line of what it counts. Drop reasons are the negative return codes of
 * the BPF helpers (LB4_DROP_x == -LB4_STAT_x). The index is part of the ABI
 * (lb4_stats is pinned): append only.
 */
#define LB4_STATS(X) \
	X(PASS, "pass", "not for a VIP: handed to the kernel") \
	X(TX, "tx", "forwarded with XDP_TX") \
	X(CT_HIT, "ct_hit", "conntrack entry found and still valid") \
	X(CT_MISS, "ct_miss", "new flow scheduled through Maglev, entry created") \
	X(CT_RESCHED, "ct_resched", "entry's backend gone: flow rescheduled") \
	X(DROP_TRUNC_ETH, "drop_trunc_eth", "frame shorter than an Ethernet header") \
	X(DROP_TRUNC_VLAN, "drop_trunc_vlan", "frame cut inside a VLAN tag") \
	X(DROP_TRUNC_IP, "drop_trunc_ip", "frame cut inside the IP header") \
	X(DROP_BAD_IP, "drop_bad_ip", "IHL < 5, bad version, bad total length") \
	X(DROP_TRUNC_L4, "drop_trunc_l4", "frame cut inside the TCP/UDP header") \
	X(DROP_NO_BACKEND, "drop_no_backend", "VIP has no ring or no usable backend") \
	X(DROP_FRAGMENT, "drop_fragment", "IPv4 fragment addressed to a VIP") \
	X(DROP_BAD_BACKEND, "drop_bad_backend", "ring names a backend not enabled") \
	X(DROP_CT_FULL, "drop_ct_full", "conntrack insert failed") \
	X(REDIRECT, "redirect", \
	  "forwarded with XDP_REDIRECT to another attached interface (lb4_tx_ports)") \
	X(NAT_REPLY, "nat_reply", "NAT: backend reply translated back to the VIP") \
	X(FWD_KERNEL, "fwd_kernel", \
	  "NAT: translated, left to the kernel (no neighbour entry yet, or egress not in " \
	  "lb4_tx_ports)") \
	X(ICMP_TO_BACKEND, "icmp_to_backend", "ICMP error about a VIP flow sent to its backend") \
	X(ICMP_TO_CLIENT, "icmp_to_client", "ICMP error about a NAT flow translated to the client") \
	X(CT_EXPIRED, "ct_expired", "NAT entry past its timeout: flow scheduled anew") \
	X(PASS_FRAGMENT, "pass_fragment", "non-first IPv4 fragment to a VIP address: passed") \
	X(PASS_ICMP, "pass_icmp", "ICMP to a VIP that is not an error (echo...): passed") \
	X(DROP_IPV6_EXT, "drop_ipv6_ext", "IPv6 extension header on traffic to a VIP address") \
	X(DROP_FIB, "drop_fib", "NAT: no route (unreachable, blackhole, forwarding off)") \
	X(DROP_FRAG_NEEDED, "drop_frag_needed", "NAT: larger than the egress MTU") \
	X(DROP_BAD_ICMP, "drop_bad_icmp", "truncated ICMP error about a VIP flow") \
	X(PASS_NOT_LOCAL, "pass_not_local", \
	  "frame not addressed to the receiving interface's MAC (broadcast, multicast, another " \
	  "host's): passed") \
	X(PASS_UNKNOWN_IFACE, "pass_unknown_iface", \
	  "received on an interface whose MAC lb4 was not given (lb4_ifaces): passed") \
	X(DROP_NO_EGRESS, "drop_no_egress", \
	  "DR: the backend's interface is not attached (any more): no lb4_ifaces/lb4_tx_ports entry") \
	X(CT_EVICTED_LIVE, "ct_evicted_live", \
	  "NAT: TCP packet without SYN found no conntrack entry: a live flow's entry was evicted " \
	  "(table pressure on this CPU), or the flow began before this table saw it") \
	X(DROP_SOURCE_DENIED, "drop_source_denied", \
	  "source address in a deny prefix of the VIP (its longest matching prefix)") \
	X(DROP_SOURCE_NOT_ALLOWED, "drop_source_not_allowed", \
	  "source address in no allow prefix of a VIP that has an allow list") \
	X(NAT_REPLY_STATELESS, "nat_reply_stateless", \
	  "NAT: reply without a (live) reverse entry translated back to its backend port's only " \
	  "NAT VIP (lb4_nat_origins): a flow another gateway translated before a failover") \
	X(SYN_UNTRACKED, "syn_untracked", \
	  "DR: TCP SYN of a flow without an entry sent to its Maglev backend without creating one " \
	  "(the flow's first packet past the SYN creates it, counted ct_miss)")

enum lb4_stat {
#define LB4_STAT_ENUM(NAME, name, help) LB4_STAT_##NAME,
	LB4_STATS(LB4_STAT_ENUM)
#undef LB4_STAT_ENUM
	LB4_STAT_MAX,
};
/* Indices of the pinned lb4_stats: a reordered list would change them. */
LB4_STATIC_ASSERT(LB4_STAT_DROP_CT_FULL == 13 && LB4_STAT_DROP_BAD_ICMP == 25,
		  "lb4_stat indices are part of the ABI: append only");

#endif /* LB4_ABI_H */
