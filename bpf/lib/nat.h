/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * nat.h - LVS-NAT in XDP. The forward path rewrites the destination address
 * (and port) to the backend's, the reply path rewrites the source back to
 * the VIP's (found in the reverse conntrack entry); both update the IPv4
 * header checksum and the TCP/UDP checksum incrementally (a UDP datagram
 * without checksum over IPv4 keeps none; a computed 0 is sent as 0xffff).
 * Then nat_route() asks the kernel FIB for the next hop: the TTL/hop limit
 * is decremented like any router does, the MACs come from the FIB, and the
 * frame leaves with XDP_TX (egress is the ingress interface) or
 * XDP_REDIRECT through lb4_tx_ports. The FIB's answer is kept for the
 * rest of the current second, per backend and CPU on the forward path
 * (lb4_nexthops) and per flow on the reply path (in its reverse entry), so
 * a busy backend or flow costs one FIB lookup a second instead of one per
 * packet; a route or neighbour change is seen within a second. Where XDP cannot finish the job (no
 * neighbour entry yet, egress not attached, TTL expiring, a datagram that
 * must be fragmented) the translated packet goes to the kernel, which
 * forwards it (and resolves ARP/ND) the slow way.
 */
#ifndef LB4_BPF_NAT_H
#define LB4_BPF_NAT_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "bpf/lib/common.h"
#include "bpf/lib/conntrack.h"
#include "bpf/lib/csum.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/stats.h"
#include "bpf/lib/vip.h"

/* Offsets of the header fields rewritten here, from the IP header. */
#define LB4_V4_SADDR 12
#define LB4_V4_DADDR 16
#define LB4_V6_SADDR 8
#define LB4_V6_DADDR 24
/*
 * Header offsets are masked with this before they index the packet: the
 * verifier only accepts a variable packet offset it can bound, and a
 * comparison done on one register copy does not bound another. Parsed
 * offsets are far below it (IP header at 14 or 18, a quoted L4 header at
 * most 18 + 60 + 8 + 60).
 */
#define LB4_HDR_MASK 0x1ff

/*
 * Replaces the address at `off` from the IP header (4 or 16 bytes by
 * family); fixes the IPv4 header checksum. Returns the checksum delta of
 * the address (for the checksums whose pseudo-header covers it), or 0 after
 * setting *err.
 */
static __always_inline __u32 nat_put_ip_addr(void *data, void *data_end,
					     __u32 l3, __u8 family, __u32 off,
					     const __u16 *addr, int *err)
{
	__u32 delta;

	l3 &= LB4_HDR_MASK;
	if (family == LB4_AF_INET) {
		struct iphdr *iph = data + l3;
		__u16 *p = data + l3 + (off & 31);

		if ((void *)(iph + 1) > data_end || (void *)(p + 2) > data_end) {
			*err = LB4_DROP_TRUNC_IP;
			return 0;
		}
		delta = csum_put_addr4(p, addr);
		iph->check = csum_apply(iph->check, delta);
		return delta;
	}
	{
		__u16 *p = data + l3 + (off & 31);

		if ((void *)(p + 8) > data_end) {
			*err = LB4_DROP_TRUNC_IP;
			return 0;
		}
		return csum_put_addr16(p, addr);
	}
}

/*
 * Rewrites the source (dst == 0) or destination (dst == 1) address and port
 * of the TCP/UDP packet `pkt`, with checksums.
 */
static __always_inline int nat_rewrite(struct xdp_md *ctx,
				       const struct lb4_packet *pkt, int dst,
				       const __u16 *addr, __be16 port)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 l4 = pkt->l4_off & LB4_HDR_MASK;
	__u32 delta, off;
	__u16 *portp;
	int err = 0;

	if (pkt->flow.proto == IPPROTO_TCP) {
		struct tcphdr *th = data + l4;

		if ((void *)(th + 1) > data_end)
			return LB4_DROP_TRUNC_L4;
		portp = dst ? &th->dest : &th->source;
	} else {
		struct udphdr *uh = data + l4;

		if ((void *)(uh + 1) > data_end)
			return LB4_DROP_TRUNC_L4;
		portp = dst ? &uh->dest : &uh->source;
	}
	delta = csum_put16(portp, port);

	if (pkt->family == LB4_AF_INET)
		off = dst ? LB4_V4_DADDR : LB4_V4_SADDR;
	else
		off = dst ? LB4_V6_DADDR : LB4_V6_SADDR;
	delta += nat_put_ip_addr(data, data_end, pkt->l3_off, pkt->family, off,
				 addr, &err);
	if (err)
		return err;

	/* Re-derive the L4 pointer: the verifier forgets it across the calls above. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (pkt->flow.proto == IPPROTO_TCP) {
		struct tcphdr *th = data + l4;

		if ((void *)(th + 1) > data_end)
			return LB4_DROP_TRUNC_L4;
		th->check = csum_apply(th->check, delta);
	} else {
		struct udphdr *uh = data + l4;
		__u16 c;

		if ((void *)(uh + 1) > data_end)
			return LB4_DROP_TRUNC_L4;
		if (uh->check == 0 && pkt->family == LB4_AF_INET)
			return LB4_CONTINUE; /* no checksum, and it stays so */
		c = csum_apply(uh->check, delta);
		uh->check = c ? c : 0xffff;
	}
	return LB4_CONTINUE;
}

/*
 * Routes a translated packet: the next hop from the FIB, or from `nh`, a
 * cached answer (NULL: none, as for ICMP errors) that is refreshed from the
 * FIB when it is stale (pkt->now is the current second); TTL/hop limit decremented, MACs rewritten, then
 * XDP_TX or XDP_REDIRECT. `gen` is the backend generation the cached answer
 * must carry.
 */
static __always_inline int nat_route(struct xdp_md *ctx,
				     const struct lb4_packet *pkt,
				     struct lb4_nexthop *nh, __u32 gen)
{
	__u32 now = pkt->now;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib;
	__u32 l3 = pkt->l3_off & LB4_HDR_MASK;
	struct ethhdr *eth = data;
	__u16 tot_len;
	__u32 ifindex;
	int action, rc;

	if ((void *)(eth + 1) > data_end)
		return LB4_DROP_TRUNC_ETH;
	__builtin_memset(&fib, 0, sizeof(fib));
	if (pkt->family == LB4_AF_INET) {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end)
			return LB4_DROP_TRUNC_IP;
		if (iph->ttl <= 1)
			return LB4_KERNEL; /* the kernel sends time exceeded */
		fib.family = LB4_AF_INET;
		fib.tos = iph->tos;
		fib.l4_protocol = iph->protocol;
		fib.tot_len = bpf_ntohs(iph->tot_len);
		fib.ipv4_src = iph->saddr;
		fib.ipv4_dst = iph->daddr;
	} else {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return LB4_DROP_TRUNC_IP;
		if (ip6h->hop_limit <= 1)
			return LB4_KERNEL;
		fib.family = LB4_AF_INET6;
		fib.flowinfo = *(__be32 *)ip6h & bpf_htonl(0x0fffffff);
		fib.l4_protocol = ip6h->nexthdr;
		fib.tot_len = bpf_ntohs(ip6h->payload_len) + sizeof(*ip6h);
		__builtin_memcpy(fib.ipv6_src, &ip6h->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, &ip6h->daddr, 16);
	}
	fib.ifindex = ctx->ingress_ifindex;
	tot_len = fib.tot_len;

	if (nh && nh->ifindex && nh->stamp == now && nh->gen == gen &&
	    nh->ingress == ctx->ingress_ifindex && tot_len <= nh->len_ok) {
		ifindex = nh->ifindex;
		__builtin_memcpy(fib.smac, nh->smac, ETH_ALEN);
		__builtin_memcpy(fib.dmac, nh->dmac, ETH_ALEN);
	} else {
		/*
		 * NO_NEIGH: the route is known but the next hop's MAC is not;
		 * the kernel resolves it when it forwards the packet itself.
		 * NOT_FWDED: the destination is local (or the packet is not
		 * routable by the FIB helper); UNSUPP_LWT: an encapsulating
		 * route. FRAG_NEEDED: larger than the egress MTU; lb4 does not
		 * originate ICMP, so a DF packet is dropped and counted,
		 * anything else the kernel fragments.
		 */
		rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
		switch (rc) {
		case BPF_FIB_LKUP_RET_SUCCESS:
			break;
		case BPF_FIB_LKUP_RET_NO_NEIGH:
		case BPF_FIB_LKUP_RET_NOT_FWDED:
		case BPF_FIB_LKUP_RET_UNSUPP_LWT:
			return LB4_KERNEL;
		case BPF_FIB_LKUP_RET_FRAG_NEEDED:
			return pkt->df ? LB4_DROP_FRAG_NEEDED : LB4_KERNEL;
		default:
			return LB4_DROP_FIB;
		}
		ifindex = fib.ifindex;
		if (nh) {
			/* Same route this second: only the length limit grows. */
			if (!(nh->ifindex == ifindex && nh->stamp == now &&
			      nh->gen == gen &&
			      nh->ingress == ctx->ingress_ifindex &&
			      nh->len_ok > tot_len))
				nh->len_ok = tot_len;
			nh->ingress = ctx->ingress_ifindex;
			nh->ifindex = ifindex;
			nh->stamp = now;
			nh->gen = gen;
			__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
			__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
		}
	}

	if (ifindex == ctx->ingress_ifindex) {
		action = XDP_TX;
	} else {
		/* Not in lb4_tx_ports (not attached): the kernel forwards it. */
		action = bpf_redirect_map(&lb4_tx_ports, ifindex, 0);
		if (action != XDP_REDIRECT)
			return LB4_KERNEL;
	}

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return LB4_DROP_TRUNC_ETH;
	if (pkt->family == LB4_AF_INET) {
		struct iphdr *iph = data + l3;
		__u16 old;

		if ((void *)(iph + 1) > data_end)
			return LB4_DROP_TRUNC_IP;
		old = *(__u16 *)&iph->ttl;
		iph->ttl--;
		iph->check = csum_apply(iph->check,
					csum_delta16(0, old, *(__u16 *)&iph->ttl));
	} else {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return LB4_DROP_TRUNC_IP;
		ip6h->hop_limit--;
	}
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return action;
}

/* Forward path: the packet to `backend`, destination translated. */
static __always_inline int nat_forward(struct xdp_md *ctx,
				       const struct lb4_packet *pkt,
				       __u32 backend_id,
				       const struct lb4_backend *backend)
{
	__u16 addr[8];
	int ret;

	__builtin_memcpy(addr, backend->addr, sizeof(addr));
	ret = nat_rewrite(ctx, pkt, 1, addr, backend_port(backend, pkt));
	if (ret != LB4_CONTINUE)
		return ret;
	return nat_route(ctx, pkt, bpf_map_lookup_elem(&lb4_nexthops, &backend_id),
			 backend->gen);
}

/*
 * Reply path: TCP/UDP from a NAT backend address. With a live reverse
 * entry the source becomes the VIP again; anything else is not ours.
 */
/*
 * True when the packet is addressed to this host (the FIB does not forward
 * it): the gateway's own connections to a backend, such as lb4d's health
 * probes, which come from the same backend port as the VIP's replies.
 */
static __always_inline int to_this_host(struct xdp_md *ctx,
					const struct lb4_packet *pkt)
{
	struct bpf_fib_lookup fib;

	__builtin_memset(&fib, 0, sizeof(fib));
	fib.family = pkt->family;
	fib.l4_protocol = pkt->flow.proto;
	fib.ifindex = ctx->ingress_ifindex;
	if (pkt->family == LB4_AF_INET) {
		__builtin_memcpy(&fib.ipv4_src, pkt->flow.src, 4);
		__builtin_memcpy(&fib.ipv4_dst, pkt->flow.dst, 4);
	} else {
		__builtin_memcpy(fib.ipv6_src, pkt->flow.src, 16);
		__builtin_memcpy(fib.ipv6_dst, pkt->flow.dst, 16);
	}
	return bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) ==
	       BPF_FIB_LKUP_RET_NOT_FWDED;
}

/*
 * The VIP a reply that has no live reverse entry belongs to: the flow was
 * translated by another gateway (before a failover) or its entry expired.
 * When the backend port serves exactly one NAT VIP (lb4_nat_origins) the
 * reply is translated back to that VIP without state; the client's next
 * packet gives the flow its entries here again. NULL otherwise, and for
 * packets to this host itself: the kernel gets those.
 */
static __always_inline struct lb4_nat_origin *
nat_origin(struct xdp_md *ctx, const struct lb4_packet *pkt)
{
	struct lb4_nat_origin *origin;
	struct lb4_vip_key key;

	__builtin_memset(&key, 0, sizeof(key));
	__builtin_memcpy(key.addr, pkt->flow.src, sizeof(key.addr));
	key.port = pkt->flow.sport;
	key.proto = pkt->flow.proto;
	key.family = pkt->flow.family;
	origin = bpf_map_lookup_elem(&lb4_nat_origins, &key);
	if (!origin || to_this_host(ctx, pkt))
		return NULL;
	return origin;
}

static __always_inline int nat_reply(struct xdp_md *ctx,
				     struct lb4_packet *pkt)
{
	struct lb4_nexthop *hop = NULL;
	struct lb4_nat_origin *origin;
	struct lb4_nat_value *rv;
	__be16 port;
	__u16 addr[8];
	int ret;

	rv = ct_lookup_reverse(&pkt->flow);
	if (rv) {
		pkt->now = ct_now();
		if (ct_expired(rv->last_seen, rv->flags, pkt->flow.proto,
			       pkt->now)) {
			stat_inc(LB4_STAT_CT_EXPIRED);
			rv = NULL;
		}
	}
	if (rv) {
		ct_touch_reverse(rv, pkt, pkt->now);
		if (pkt->flow.proto == IPPROTO_TCP)
			stat_signal(rv->backend_id, pkt->tcp_flags);
		__builtin_memcpy(addr, rv->vip_addr, sizeof(addr));
		port = rv->vip_port;
		hop = &rv->hop;
	} else {
		origin = nat_origin(ctx, pkt);
		if (!origin)
			return XDP_PASS;
		__builtin_memcpy(addr, origin->vip_addr, sizeof(addr));
		port = origin->vip_port;
	}
	ret = nat_rewrite(ctx, pkt, 0, addr, port);
	if (ret != LB4_CONTINUE)
		return ret;
	stat_inc(hop ? LB4_STAT_NAT_REPLY : LB4_STAT_NAT_REPLY_STATELESS);
	return nat_route(ctx, pkt, hop, 0);
}

#endif /* LB4_BPF_NAT_H */
