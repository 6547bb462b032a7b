/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vip.h - the packet as the program sees it after parsing, and the two VIP
 * lookups: by address and protocol only (lb4_vip_addrs, before the L4
 * header is read) and by the full service key (lb4_vips).
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
	__u32 len;   /* frame length in bytes */
	__u16 l3_off; /* offset of the IP header in the frame */
	__u16 l4_off; /* offset of the TCP/UDP/ICMP header */
	__u16 l3_end; /* offset of the end of the IP datagram (total length) */
	__u8 kind;    /* LB4_PKT_* */
	__u8 first_fragment; /* IPv4 MF set, offset 0 */
	__u8 tcp_flags;      /* TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
	__u8 df;             /* IPv4 don't-fragment set (always 1 for IPv6) */
	__u8 l4_proto;       /* IP protocol / next header of the outer packet */
	__u8 family;         /* LB4_AF_* of the outer packet */
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

/* True when `addr` is a backend of a NAT VIP for this protocol. */
static __always_inline int lookup_nat_addr(const __u8 *addr, __u8 proto,
					   __u8 family)
{
	struct lb4_vip_key key;
	struct lb4_config *cfg;
	__u32 zero = 0;

	/*
	 * Without NAT VIPs (direct routing only) the hash lookup is skipped:
	 * lb4_config is an array, whose lookup the verifier inlines, so traffic
	 * that is not for a VIP costs one hash lookup instead of two.
	 */
	cfg = bpf_map_lookup_elem(&lb4_config, &zero);
	if (!cfg || cfg->nat_backends == 0)
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

	__builtin_memset(&key, 0, sizeof(key));
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	key.family = family;
	key.proto = IPPROTO_TCP;
	if (bpf_map_lookup_elem(&lb4_vip_addrs, &key))
		return 1;
	key.proto = IPPROTO_UDP;
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
