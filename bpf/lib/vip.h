/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vip.h - the packet as the program sees it after parsing, and the two VIP
 * lookups: by address and protocol only (lb4_vip_addrs, before the L4
 * header is read) and by the full service key (lb4_vips).
 */
#ifndef LB4_BPF_VIP_H
#define LB4_BPF_VIP_H

#include "bpf/lib/common.h"
#include "bpf/lib/maps.h"

struct lb4_packet {
	union {
		struct lb4_flow_key flow; /* the client's 5-tuple, conntrack key */
		__u32 flow_words[sizeof(struct lb4_flow_key) / 4]; /* for hashing */
	};
	__u32 len;   /* frame length in bytes */
	__u8 first_fragment; /* IPv4 MF set, offset 0 */
};

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

/* True when some VIP lives on the packet's destination address and proto. */
static __always_inline int lookup_vip_addr(const struct lb4_packet *pkt)
{
	struct lb4_vip_key key;

	build_vip_key(&key, pkt, 0);
	return bpf_map_lookup_elem(&lb4_vip_addrs, &key) != NULL;
}

/* Exact port first, then the all-ports entry (port 0 with its flag). */
static __always_inline struct lb4_vip_value *
lookup_vip(const struct lb4_packet *pkt)
{
	struct lb4_vip_value *vip;
	struct lb4_vip_key key;

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

#endif /* LB4_BPF_VIP_H */
