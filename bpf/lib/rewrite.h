/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rewrite.h - turns a scheduled packet into the frame sent to its backend.
 * Direct routing (LVS-DR) only rewrites the MACs: destination := backend,
 * source := the frame's old destination, which is the MAC of the interface
 * it arrived on: only frames sent to that MAC get here (iface.h). That
 * keeps one program right on every interface without a second lookup. A
 * backend on another attached link (lb4_backend.ifindex, set by lb4d from
 * its route) is reached with XDP_REDIRECT through lb4_tx_ports, with that
 * interface's own MAC (lb4_ifaces) as the source. IP and L4 stay as the
 * client sent them. NAT is in nat.h.
 */
#ifndef LB4_BPF_REWRITE_H
#define LB4_BPF_REWRITE_H

#include <linux/if_ether.h>

#include "bpf/lib/common.h"
#include "bpf/lib/iface.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/nat.h"

static __always_inline int rewrite_dr(struct xdp_md *ctx,
				      const struct lb4_backend *backend)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 out = backend->ifindex;
	struct lb4_iface *iface;
	int action;

	if ((void *)(eth + 1) > data_end)
		return LB4_DROP_TRUNC_ETH;
	if (out == 0 || out == ctx->ingress_ifindex) {
		__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, backend->mac, ETH_ALEN);
		return XDP_TX;
	}
	/* The backend is on another attached link: its MAC as the source. */
	iface = lookup_iface(out);
	if (!iface)
		return LB4_DROP_NO_EGRESS;
	action = bpf_redirect_map(&lb4_tx_ports, out, 0);
	if (action != XDP_REDIRECT)
		return LB4_DROP_NO_EGRESS;
	__builtin_memcpy(eth->h_source, iface->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, backend->mac, ETH_ALEN);
	return XDP_REDIRECT;
}

static __always_inline int rewrite_packet(struct xdp_md *ctx,
					  const struct lb4_packet *pkt,
					  const struct lb4_vip_value *vip,
					  __u32 backend_id,
					  const struct lb4_backend *backend)
{
	switch (vip->mode) {
	case LB4_MODE_DR:
		return rewrite_dr(ctx, backend);
	case LB4_MODE_NAT:
		return nat_forward(ctx, pkt, backend_id, backend);
	default:
		return XDP_ABORTED; /* userspace writes only known modes */
	}
}

#endif /* LB4_BPF_REWRITE_H */
