/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * icmp.h - ICMP and ICMPv6 errors (destination unreachable, incl.
 * fragmentation needed; packet too big; time exceeded) about VIP flows.
 * The quoted packet inside the error names the flow:
 *   - an error sent to a VIP quotes a reply of the VIP (src VIP, dst
 *     client); its forward conntrack entry names the backend. In DR mode
 *     the error is sent on to that backend's MAC unchanged; in NAT mode the
 *     outer destination and the quoted source become the backend's.
 *   - an error from the backend side quotes a translated forward packet
 *     (src client, dst backend) and is on its way to the client; its reverse
 *     entry names the VIP. The quoted destination (and the outer source, when
 *     the backend itself sent the error) become the VIP's again.
 * Every checksum is kept right: the outer IPv4 header, the ICMP checksum
 * (with the ICMPv6 pseudo-header), the quoted IPv4 header and the quoted
 * TCP/UDP checksum when the quote holds it. So path MTU discovery works
 * through lb4 in both directions. Other ICMP to a VIP (echo requests...)
 * passes to the kernel, counted PASS_ICMP: the gateway answers pings to a
 * VIP address only if it holds that address itself.
 */
#ifndef LB4_BPF_ICMP_H
#define LB4_BPF_ICMP_H

#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include "bpf/lib/common.h"
#include "bpf/lib/conntrack.h"
#include "bpf/lib/csum.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/nat.h"
#include "bpf/lib/proto.h"
#include "bpf/lib/rewrite.h"
#include "bpf/lib/stats.h"
#include "bpf/lib/vip.h"

static __always_inline int icmp_is_error(__u8 family, __u8 type)
{
	if (family == LB4_AF_INET)
		return type == LB4_ICMP_DEST_UNREACH || type == LB4_ICMP_TIME_EXCEEDED;
	return type == ICMPV6_DEST_UNREACH || type == ICMPV6_PKT_TOOBIG ||
	       type == ICMPV6_TIME_EXCEED;
}

static __always_inline int addr16_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* Where the quote is, and the 5-tuple of the quoted packet. */
struct lb4_icmp_quote {
	struct lb4_flow_key flow; /* as the quoted packet was sent */
	__u16 ip_off;             /* quoted IP header */
	__u16 l4_off;             /* quoted TCP/UDP header */
};

/* Parses the quoted IP header and the first 8 bytes of its L4 header. */
static __always_inline int icmp_parse_quote(void *data, void *data_end,
					    const struct lb4_packet *pkt,
					    struct lb4_icmp_quote *q)
{
	__u32 ip = (pkt->l4_off + 8) & LB4_HDR_MASK;
	__u32 end = pkt->l3_end;
	__u32 l4;
	__u16 *ports;

	if (pkt->family == LB4_AF_INET) {
		struct iphdr *iph = data + ip;

		if ((void *)(iph + 1) > data_end || iph->version != 4 ||
		    iph->ihl < 5)
			return -1;
		if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
			return -1;
		q->l4_off = ip + iph->ihl * 4;
		q->flow.proto = iph->protocol;
		q->flow.family = LB4_AF_INET;
		__builtin_memcpy(q->flow.src, &iph->saddr, 4);
		__builtin_memcpy(q->flow.dst, &iph->daddr, 4);
	} else {
		struct ipv6hdr *ip6h = data + ip;

		if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
			return -1;
		if (ip6h->nexthdr != IPPROTO_TCP && ip6h->nexthdr != IPPROTO_UDP)
			return -1;
		q->l4_off = ip + sizeof(*ip6h);
		q->flow.proto = ip6h->nexthdr;
		q->flow.family = LB4_AF_INET6;
		__builtin_memcpy(q->flow.src, &ip6h->saddr, 16);
		__builtin_memcpy(q->flow.dst, &ip6h->daddr, 16);
	}
	q->ip_off = ip;
	l4 = q->l4_off & LB4_HDR_MASK;
	if (l4 != q->l4_off || l4 + 8 > end)
		return -1;
	ports = data + l4;
	if ((void *)(ports + 4) > data_end)
		return -1;
	q->flow.sport = ports[0];
	q->flow.dport = ports[1];
	return 0;
}

/*
 * Translates an ICMP error: the quoted source (inner_dst == 0) or
 * destination address and port become addr:port; when outer_off is not 0
 * the outer address at that offset becomes addr too. Keeps every checksum.
 */
static __always_inline int icmp_translate(struct xdp_md *ctx,
					  const struct lb4_packet *pkt,
					  const struct lb4_icmp_quote *q,
					  int inner_dst, __u32 outer_off,
					  const __u16 *addr, __be16 port)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 qip = q->ip_off & LB4_HDR_MASK;
	__u32 ql4 = q->l4_off & LB4_HDR_MASK;
	__u32 l4 = pkt->l4_off & LB4_HDR_MASK;
	__u32 d_addr, d_icmp = 0;
	__u16 *p, *check;
	int err = 0;

	/* The quoted address; the quoted IPv4 header checksum. */
	if (pkt->family == LB4_AF_INET) {
		struct iphdr *iph = data + qip;
		__u16 old;

		if ((void *)(iph + 1) > data_end)
			return LB4_DROP_BAD_ICMP;
		p = inner_dst ? (__u16 *)&iph->daddr : (__u16 *)&iph->saddr;
		d_addr = csum_put_addr4(p, addr);
		old = iph->check;
		iph->check = csum_apply(old, d_addr);
		d_icmp = csum_delta16(d_icmp, old, iph->check);
	} else {
		struct ipv6hdr *ip6h = data + qip;

		if ((void *)(ip6h + 1) > data_end)
			return LB4_DROP_BAD_ICMP;
		p = inner_dst ? (__u16 *)&ip6h->daddr : (__u16 *)&ip6h->saddr;
		d_addr = csum_put_addr16(p, addr);
	}
	d_icmp += d_addr;

	/* The quoted port, and the quoted L4 checksum if the quote holds it. */
	p = data + ql4;
	if ((void *)(p + 4) > data_end)
		return LB4_DROP_BAD_ICMP;
	{
		__u32 d_port = csum_put16(inner_dst ? &p[1] : &p[0], port);
		__u32 csum_off = q->flow.proto == IPPROTO_TCP ? 16 : 6;

		d_icmp += d_port;
		check = data + ql4 + csum_off;
		if ((void *)(check + 1) <= data_end &&
		    ql4 + csum_off + 2 <= pkt->l3_end &&
		    !(q->flow.proto == IPPROTO_UDP && *check == 0 &&
		      pkt->family == LB4_AF_INET)) {
			__u16 old = *check;
			__u16 c = csum_apply(old, d_addr + d_port);

			if (q->flow.proto == IPPROTO_UDP && c == 0)
				c = 0xffff;
			*check = c;
			d_icmp = csum_delta16(d_icmp, old, c);
		}
	}

	/* The outer address (ICMPv6 covers it in its pseudo-header). */
	if (outer_off) {
		__u32 d_outer = nat_put_ip_addr(data, data_end, pkt->l3_off,
						pkt->family, outer_off, addr,
						&err);

		if (err)
			return err;
		if (pkt->family == LB4_AF_INET6)
			d_icmp += d_outer;
	}

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	check = data + l4 + 2;
	if ((void *)(check + 1) > data_end)
		return LB4_DROP_BAD_ICMP;
	*check = csum_apply(*check, d_icmp);
	return LB4_CONTINUE;
}

static __always_inline int handle_icmp(struct xdp_md *ctx,
				       const struct lb4_packet *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct lb4_icmp_quote q = {};
	struct lb4_flow_value *ct;
	struct lb4_nat_value *rv;
	struct lb4_flow_key key;
	struct lb4_backend *b;
	__u32 l3 = pkt->l3_off & LB4_HDR_MASK;
	__u32 l4 = pkt->l4_off & LB4_HDR_MASK;
	__u8 *icmph, type;
	int to_vip, ret;
	__u16 addr[8];
	icmph = data + l4;
	if ((void *)(icmph + 8) > data_end)
		return XDP_PASS;
	type = icmph[0];
	__builtin_memset(addr, 0, sizeof(addr));
	if (pkt->family == LB4_AF_INET) {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end)
			return XDP_PASS;
		__builtin_memcpy(addr, &iph->daddr, 4);
	} else {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		__builtin_memcpy(addr, &ip6h->daddr, 16);
	}
	to_vip = lookup_vip_any((__u8 *)addr, pkt->family);
	if (!icmp_is_error(pkt->family, type)) {
		if (to_vip)
			stat_inc(LB4_STAT_PASS_ICMP);
		return XDP_PASS;
	}
	if (icmp_parse_quote(data, data_end, pkt, &q))
		return to_vip ? LB4_DROP_BAD_ICMP : XDP_PASS;

	/* Both cases look up the quoted packet's 5-tuple reversed. */
	__builtin_memset(&key, 0, sizeof(key));
	__builtin_memcpy(key.src, q.flow.dst, sizeof(key.src));
	__builtin_memcpy(key.dst, q.flow.src, sizeof(key.dst));
	key.sport = q.flow.dport;
	key.dport = q.flow.sport;
	key.proto = q.flow.proto;
	key.family = q.flow.family;

	if (to_vip) {
		ct = ct_lookup(&key);
		b = ct ? ct_backend(ct) : NULL;
		if (!b) {
			stat_inc(LB4_STAT_PASS_ICMP);
			return XDP_PASS;
		}
		stat_inc(LB4_STAT_ICMP_TO_BACKEND);
		if (!(ct->flags & LB4_FLOW_F_NAT))
			return rewrite_dr(ctx, b);
		__builtin_memcpy(addr, b->addr, sizeof(addr));
		ret = icmp_translate(ctx, pkt, &q, 0,
				     pkt->family == LB4_AF_INET ? LB4_V4_DADDR :
								  LB4_V6_DADDR,
				     addr, b->port ? b->port : key.dport);
		if (ret != LB4_CONTINUE)
			return ret;
		return nat_route(ctx, pkt, NULL, 0);
	}

	if (!lookup_nat_addr(q.flow.dst, q.flow.proto, q.flow.family))
		return XDP_PASS;
	rv = ct_lookup_reverse(&key);
	if (!rv)
		return XDP_PASS;
	__builtin_memcpy(addr, rv->vip_addr, sizeof(addr));
	/* Sent by the backend itself: its address is the outer source too. */
	{
		__u32 outer_off = 0;

		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (pkt->family == LB4_AF_INET) {
			struct iphdr *iph = data + l3;

			if ((void *)(iph + 1) > data_end)
				return XDP_PASS;
			if (iph->saddr == *(__u32 *)q.flow.dst)
				outer_off = LB4_V4_SADDR;
		} else {
			struct ipv6hdr *ip6h = data + l3;

			if ((void *)(ip6h + 1) > data_end)
				return XDP_PASS;
			if (addr16_eq((__u32 *)&ip6h->saddr, (__u32 *)q.flow.dst))
				outer_off = LB4_V6_SADDR;
		}
		ret = icmp_translate(ctx, pkt, &q, 1, outer_off, addr,
				     rv->vip_port);
	}
	if (ret != LB4_CONTINUE)
		return ret;
	stat_inc(LB4_STAT_ICMP_TO_CLIENT);
	return nat_route(ctx, pkt, NULL, 0);
}

#endif /* LB4_BPF_ICMP_H */
