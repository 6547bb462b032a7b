/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * parse.h - cursor-based parsing of Ethernet, one VLAN tag, IPv4 (any IHL),
 * the IPv6 fixed header, TCP and UDP into a struct lb4_packet.
 *
 * Policy: traffic that is not for a VIP is passed untouched, and malformed
 * or truncated VIP traffic is dropped with a reason. Whether a packet is for
 * a VIP is known once its destination address and protocol are read
 * (lb4_vip_addrs), so everything after that point is judged against it.
 * Before that point we cannot tell: a frame too short for an Ethernet header
 * or for its VLAN tag, or whose ethertype says IPv4/IPv6 but is too short
 * for the IP header, is dropped and counted (TRUNC_ETH/TRUNC_VLAN/TRUNC_IP)
 * as no valid frame looks like that; a short frame of any other ethertype is
 * the kernel's business and passes. IPv4 fragments: a non-first fragment has
 * no ports and passes to the kernel (counted PASS_FRAGMENT when it is to a
 * VIP address); a first fragment to a VIP is dropped (DROP_FRAGMENT) by the
 * caller once the VIP lookup matched, since its followers could not be sent
 * to the same backend. IPv6 extension headers are not walked: a packet to a
 * VIP address whose next header is one is dropped (DROP_IPV6_EXT).
 *
 * TCP/UDP from an address that is a backend of a NAT VIP (lb4_nat_addrs) may
 * be a reply to translate back; the caller decides with the reverse
 * conntrack entry. Such packets are never dropped here: a malformed one
 * passes untouched. ICMP/ICMPv6 is handed to icmp.h with its offsets.
 */
#ifndef LB4_BPF_PARSE_H
#define LB4_BPF_PARSE_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "bpf/lib/common.h"
#include "bpf/lib/stats.h"
#include "bpf/lib/vip.h"

/* IPv4 frag_off bits (host order); the kernel keeps these in net/ip.h. */
#define LB4_IP_DF 0x4000
#define LB4_IP_MF 0x2000
#define LB4_IP_OFFSET 0x1fff

struct lb4_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/*
 * Reads the ports (and TCP flags). `l4_len` is the L4 length the IP header
 * claims; the header must fit both in it and in the frame.
 */
static __always_inline int parse_l4(void *l4, void *data_end, __u32 l4_len,
				    struct lb4_packet *pkt)
{
	if (pkt->flow.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || l4_len < sizeof(*th))
			return LB4_DROP_TRUNC_L4;
		pkt->flow.sport = th->source;
		pkt->flow.dport = th->dest;
		pkt->tcp_flags = ((__u8 *)th)[13];
	} else {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end || l4_len < sizeof(*uh))
			return LB4_DROP_TRUNC_L4;
		pkt->flow.sport = uh->source;
		pkt->flow.dport = uh->dest;
	}
	return LB4_CONTINUE;
}

/*
 * The verdict for a malformed packet: dropped when it is VIP traffic,
 * passed untouched when it only might be a NAT reply (not ours to judge).
 */
static __always_inline int parse_bad(const struct lb4_packet *pkt, int reason)
{
	return pkt->kind == LB4_PKT_VIP ? reason : XDP_PASS;
}

static __always_inline int parse_ipv4(void *data, void *cursor, void *data_end,
				      struct lb4_packet *pkt)
{
	struct iphdr *iph = cursor;
	__u32 hlen, tot_len, avail;
	int ret;

	if ((void *)(iph + 1) > data_end)
		return LB4_DROP_TRUNC_IP;
	pkt->family = LB4_AF_INET;
	pkt->l4_proto = iph->protocol;
	pkt->l3_off = cursor - data;
	if (iph->protocol == IPPROTO_ICMP) {
		if (iph->version != 4 || iph->ihl < 5 ||
		    (iph->frag_off & bpf_htons(LB4_IP_MF | LB4_IP_OFFSET)))
			return XDP_PASS;
		hlen = iph->ihl * 4;
		tot_len = bpf_ntohs(iph->tot_len);
		if (tot_len < hlen || tot_len > (__u32)(data_end - cursor))
			return XDP_PASS;
		pkt->kind = LB4_PKT_ICMP;
		pkt->l4_off = pkt->l3_off + hlen;
		pkt->l3_end = pkt->l3_off + tot_len;
		return LB4_CONTINUE;
	}
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	pkt->flow.family = LB4_AF_INET;
	pkt->flow.proto = iph->protocol;
	__builtin_memcpy(pkt->flow.src, &iph->saddr, 4);
	__builtin_memcpy(pkt->flow.dst, &iph->daddr, 4);
	if (lookup_vip_addr(pkt))
		pkt->kind = LB4_PKT_VIP;
	else if (lookup_nat_addr(pkt->flow.src, pkt->flow.proto, LB4_AF_INET))
		pkt->kind = LB4_PKT_REPLY;
	else
		return XDP_PASS;

	if (iph->version != 4 || iph->ihl < 5)
		return parse_bad(pkt, LB4_DROP_BAD_IP);
	hlen = iph->ihl * 4;
	avail = data_end - cursor;
	if (hlen > avail)
		return parse_bad(pkt, LB4_DROP_TRUNC_IP);
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len < hlen)
		return parse_bad(pkt, LB4_DROP_BAD_IP);
	if (iph->frag_off & bpf_htons(LB4_IP_OFFSET)) {
		if (pkt->kind == LB4_PKT_VIP)
			stat_inc(LB4_STAT_PASS_FRAGMENT);
		return XDP_PASS;
	}
	pkt->first_fragment = !!(iph->frag_off & bpf_htons(LB4_IP_MF));
	pkt->df = !!(iph->frag_off & bpf_htons(LB4_IP_DF));
	pkt->l4_off = pkt->l3_off + hlen;
	pkt->l3_end = pkt->l3_off + tot_len;

	ret = parse_l4(cursor + hlen, data_end, tot_len - hlen, pkt);
	if (ret != LB4_CONTINUE)
		return parse_bad(pkt, ret);
	/* The L4 header is there but the datagram claims more than the frame. */
	if (tot_len > avail)
		return parse_bad(pkt, LB4_DROP_BAD_IP);
	return LB4_CONTINUE;
}

/* IPv6 extension headers lb4 does not walk (RFC 8200 section 4). */
static __always_inline int ipv6_is_ext(__u8 nexthdr)
{
	switch (nexthdr) {
	case 0:   /* hop-by-hop options */
	case 43:  /* routing */
	case 44:  /* fragment */
	case 50:  /* ESP */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return 1;
	default:
		return 0;
	}
}

static __always_inline int parse_ipv6(void *data, void *cursor, void *data_end,
				      struct lb4_packet *pkt)
{
	struct ipv6hdr *ip6h = cursor;
	__u32 payload_len, avail;
	int ret;

	if ((void *)(ip6h + 1) > data_end)
		return LB4_DROP_TRUNC_IP;
	pkt->family = LB4_AF_INET6;
	pkt->l4_proto = ip6h->nexthdr;
	pkt->l3_off = cursor - data;
	pkt->df = 1;
	payload_len = bpf_ntohs(ip6h->payload_len);
	avail = data_end - (void *)(ip6h + 1);
	if (ip6h->nexthdr == IPPROTO_ICMPV6) {
		if (ip6h->version != 6 || payload_len > avail)
			return XDP_PASS;
		pkt->kind = LB4_PKT_ICMP;
		pkt->l4_off = pkt->l3_off + sizeof(*ip6h);
		pkt->l3_end = pkt->l4_off + payload_len;
		return LB4_CONTINUE;
	}
	if (ip6h->nexthdr != IPPROTO_TCP && ip6h->nexthdr != IPPROTO_UDP) {
		/* Extension headers are not walked: VIP traffic carrying one is dropped. */
		if (ipv6_is_ext(ip6h->nexthdr) &&
		    lookup_vip_any((__u8 *)&ip6h->daddr, LB4_AF_INET6))
			return LB4_DROP_IPV6_EXT;
		return XDP_PASS;
	}
	pkt->flow.family = LB4_AF_INET6;
	pkt->flow.proto = ip6h->nexthdr;
	__builtin_memcpy(pkt->flow.src, &ip6h->saddr, 16);
	__builtin_memcpy(pkt->flow.dst, &ip6h->daddr, 16);
	if (lookup_vip_addr(pkt))
		pkt->kind = LB4_PKT_VIP;
	else if (lookup_nat_addr(pkt->flow.src, pkt->flow.proto, LB4_AF_INET6))
		pkt->kind = LB4_PKT_REPLY;
	else
		return XDP_PASS;

	if (ip6h->version != 6)
		return parse_bad(pkt, LB4_DROP_BAD_IP);
	pkt->l4_off = pkt->l3_off + sizeof(*ip6h);
	pkt->l3_end = pkt->l4_off + payload_len;
	ret = parse_l4(ip6h + 1, data_end, payload_len, pkt);
	if (ret != LB4_CONTINUE)
		return parse_bad(pkt, ret);
	if (payload_len > avail)
		return parse_bad(pkt, LB4_DROP_BAD_IP);
	return LB4_CONTINUE;
}

/*
 * Returns LB4_CONTINUE with pkt->kind set: TCP/UDP to a VIP address or from
 * a NAT backend address (pkt->flow filled), or ICMP (offsets filled);
 * XDP_PASS for traffic that is not ours, or a drop reason.
 */
static __always_inline int parse_packet(void *data, void *data_end,
					struct lb4_packet *pkt)
{
	struct ethhdr *eth = data;
	void *cursor = eth + 1;
	__be16 proto;

	if (cursor > data_end)
		return LB4_DROP_TRUNC_ETH;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct lb4_vlan_hdr *vh = cursor;

		if ((void *)(vh + 1) > data_end)
			return LB4_DROP_TRUNC_VLAN;
		proto = vh->encap_proto;
		cursor = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(data, cursor, data_end, pkt);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(data, cursor, data_end, pkt);
	return XDP_PASS;
}

#endif /* LB4_BPF_PARSE_H */
