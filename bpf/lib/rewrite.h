/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rewrite.h - turns a scheduled packet into the frame sent to its backend.
 * Direct routing (LVS-DR) only rewrites the MACs: destination := backend,
 * source := the gateway's interface; IP and L4 stay as the client sent them.
 */
#ifndef LB4_BPF_REWRITE_H
#define LB4_BPF_REWRITE_H

#include <linux/if_ether.h>

#include "bpf/lib/common.h"
#include "bpf/lib/maps.h"

static __always_inline int rewrite_dr(struct xdp_md *ctx,
				      const struct lb4_backend *backend)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct lb4_config *cfg;
	__u32 zero = 0;

	if ((void *)(eth + 1) > data_end)
		return LB4_DROP_TRUNC_ETH;
	cfg = bpf_map_lookup_elem(&lb4_config, &zero);
	if (!cfg)
		return XDP_ABORTED; /* single-entry array: cannot happen */
	__builtin_memcpy(eth->h_dest, backend->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->mac, ETH_ALEN);
	return XDP_TX;
}

static __always_inline int rewrite_packet(struct xdp_md *ctx,
					  const struct lb4_vip_value *vip,
					  const struct lb4_backend *backend)
{
	switch (vip->mode) {
	case LB4_MODE_DR:
		return rewrite_dr(ctx, backend);
	default:
		return XDP_ABORTED; /* userspace writes only known modes */
	}
}

#endif /* LB4_BPF_REWRITE_H */
