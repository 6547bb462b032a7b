/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vip.h - the packet as the program sees it after parsing, and the VIP
 * lookups: by address and protocol (lb4_vip_addrs, before the L4 header is
 * read), whose entry usually names the service too, and by the full service
 * key (lb4_vips) for addresses with more services than the entry holds.
 */
#ifndef LB4_BPF_VIP_H
#define LB4_BPF_VIP_H

#include "bpf/lib/common.h"
#include <linux/in.h>

#include "bpf/lib/maps.h"

/* What the parser found (lb4_packet.kind). */
#define LB4_PKT_VIP 0   /* TCP/UDP to a VIP address: schedule and forward */
#define LB4_PKT_REPLY 1 /* TCP/UDP from a NAT backend address: maybe a reply */
#define LB4_PKT_ICMP 2  /* ICMP/ICMPv6: maybe an error about a VIP flow */

struct lb4_packet {
	union {
		struct lb4_flow_key flow; /* the packet's 5-tuple, conntrack key */
		__u32 flow_words[sizeof(struct lb4_flow_key) / 4]; /* for hashing */
	};
	struct lb4_vip_addr *addr; /* LB4_PKT_VIP: the destination's lb4_vip_addrs entry */
	__u32 len;   /* frame length in bytes */
	__u32 now;   /* NAT: ct_now(), read once per packet by select_backend/nat_reply */
	__u16 l3_off; /* offset of the IP header in the frame */
	__u16 l4_off; /* offset of the TCP/UDP/ICMP header */
	__u16 l3_end; /* offset of the end of the IP datagram (total length) */
	__u8 kind;    /* LB4_PKT_* */
	__u8 first_fragment; /* IPv4 MF set, offset 0 */
	__u8 tcp_flags;      /* TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
	__u8 df;             /* IPv4 don't-fragment set (always 1 for IPv6) */
	__u8 l4_proto;       /* IP protocol / next header of the outer packet */
	__u8 family;         /* LB4_AF_* of the outer packet */
	__u8 new_flow;       /* select_backend scheduled it: a new connection */
};

/* False when `addr` is certainly not in region's map (LB4_FILTER_*). */
static __always_inline int addr_filter_may_hold(const __u8 *addr, __u32 region)
{
	__u32 bit = lb4_addr_filter_bit(addr);
	__u32 word = region * LB4_ADDR_FILTER_REGION_WORDS + bit / 64;
	__u64 *w;

	w = bpf_map_lookup_elem(&lb4_addr_filter, &word);
	return w && (*w & (1ULL << (bit % 64)));
}

/* A zeroed service key for the packet's destination (port in network order). */
static __always_inline void build_vip_key(struct lb4_vip_key *key,
					  const struct lb4_packet *pkt,
					  __be16 port)
{
	__builtin_memset(key, 0, sizeof(*key));
	__builtin_memcpy(key->addr, pkt->flow.dst, sizeof(key->addr));
	key->port = port;
	key->proto = pkt->flow.proto;
	key->family = pkt->flow.family;
}

/* Looks the packet's destination address and proto up; true when a VIP lives there. */
static __always_inline int lookup_vip_addr(struct lb4_packet *pkt)
{
	struct lb4_vip_key key;

	pkt->addr = NULL;
	if (!addr_filter_may_hold(pkt->flow.dst, LB4_FILTER_VIP))
		return 0;
	build_vip_key(&key, pkt, 0);
	pkt->addr = bpf_map_lookup_elem(&lb4_vip_addrs, &key);
	return pkt->addr != NULL;
}

/* True when `addr` is a backend of a NAT VIP for this protocol. */
static __always_inline int lookup_nat_addr(const __u8 *addr, __u8 proto,
					   __u8 family)
{
	struct lb4_vip_key key;

	/*
	 * Addresses that are no NAT backend (all of them without NAT VIPs)
	 * skip the hash lookup: the filter is an array, inlined.
	 */
	if (!addr_filter_may_hold(addr, LB4_FILTER_NAT))
		return 0;

	__builtin_memset(&key, 0, sizeof(key));
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	key.proto = proto;
	key.family = family;
	return bpf_map_lookup_elem(&lb4_nat_addrs, &key) != NULL;
}

/* True when `addr` holds a VIP of any protocol (ICMP does not say which). */
static __always_inline int lookup_vip_any(const __u8 *addr, __u8 family)
{
	struct lb4_vip_key key;

	if (!addr_filter_may_hold(addr, LB4_FILTER_VIP))
		return 0;
	__builtin_memset(&key, 0, sizeof(key));
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	key.family = family;
	key.proto = IPPROTO_TCP;
	if (bpf_map_lookup_elem(&lb4_vip_addrs, &key))
		return 1;
	key.proto = IPPROTO_UDP;
	return bpf_map_lookup_elem(&lb4_vip_addrs, &key) != NULL;
}

/*
 * The VIP of a packet whose address lookup matched: exact port first, then
 * the all-ports entry (port 0 with its flag). From the address entry itself
 * when it holds every service of the address, else from lb4_vips.
 */
static __always_inline struct lb4_vip_value *
lookup_vip_in(struct lb4_vip_addr *addr, const struct lb4_packet *pkt)
{
	struct lb4_vip_value *vip, *all = NULL;
	struct lb4_vip_key key;
	__u32 i;

	if (!addr)
		return NULL;
	if (addr->services <= LB4_ADDR_SERVICES) {
		for (i = 0; i < LB4_ADDR_SERVICES; i++) {
			if (i >= addr->services)
				break;
			if (addr->svc[i].port == pkt->flow.dport)
				return &addr->svc[i].vip;
			if (addr->svc[i].port == 0 &&
			    (addr->svc[i].vip.flags & LB4_VIP_F_ALL_PORTS))
				all = &addr->svc[i].vip;
		}
		return all;
	}
	build_vip_key(&key, pkt, pkt->flow.dport);
	vip = bpf_map_lookup_elem(&lb4_vips, &key);
	if (vip)
		return vip;
	key.port = 0;
	vip = bpf_map_lookup_elem(&lb4_vips, &key);
	if (vip && (vip->flags & LB4_VIP_F_ALL_PORTS))
		return vip;
	return NULL;
}

/* The packet's VIP, from the address entry the parser found. */
static __always_inline struct lb4_vip_value *
lookup_vip(const struct lb4_packet *pkt)
{
	return lookup_vip_in(pkt->addr, pkt);
}

/* The packet's VIP as the maps hold it now (a fresh address lookup). */
static __always_inline struct lb4_vip_value *
lookup_vip_again(const struct lb4_packet *pkt)
{
	struct lb4_vip_key key;

	build_vip_key(&key, pkt, 0);
	return lookup_vip_in(bpf_map_lookup_elem(&lb4_vip_addrs, &key), pkt);
}

#endif /* LB4_BPF_VIP_H */
