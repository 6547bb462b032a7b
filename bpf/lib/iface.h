/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * iface.h - is this frame addressed to the gateway? A switch floods unknown
 * unicast, and broadcast and multicast reach every port: such a frame may
 * carry a VIP address without being for lb4, and forwarding it would send
 * a foreign (or group) MAC out as the source. Only frames whose destination
 * MAC is the receiving interface's own (lb4_ifaces) are handled; every other
 * one passes to the kernel untouched. Asked only for frames lb4 would act
 * on (after parsing), so other traffic pays nothing for it.
 */
#ifndef LB4_BPF_IFACE_H
#define LB4_BPF_IFACE_H

#include <linux/if_ether.h>

#include "bpf/lib/common.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/stats.h"

/* The attached interface `ifindex`'s entry, NULL for one lb4 was not given. */
static __always_inline struct lb4_iface *lookup_iface(__u32 ifindex)
{
	struct lb4_iface *iface;

	if (ifindex < LB4_IFACE_SLOTS) {
		iface = bpf_map_lookup_elem(&lb4_iface_slots, &ifindex);
		return iface && iface->present ? iface : NULL;
	}
	return bpf_map_lookup_elem(&lb4_ifaces, &ifindex);
}

/* LB4_CONTINUE when the frame is for this interface's MAC, else XDP_PASS (counted). */
static __always_inline int ingress_local(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 ifindex = ctx->ingress_ifindex;
	struct lb4_iface *iface;

	if ((void *)(eth + 1) > data_end)
		return LB4_DROP_TRUNC_ETH;
	iface = lookup_iface(ifindex);
	if (!iface) {
		stat_inc(LB4_STAT_PASS_UNKNOWN_IFACE);
		return XDP_PASS;
	}
	if (((eth->h_dest[0] ^ iface->mac[0]) | (eth->h_dest[1] ^ iface->mac[1]) |
	     (eth->h_dest[2] ^ iface->mac[2]) | (eth->h_dest[3] ^ iface->mac[3]) |
	     (eth->h_dest[4] ^ iface->mac[4]) | (eth->h_dest[5] ^ iface->mac[5])) != 0) {
		stat_inc(LB4_STAT_PASS_NOT_LOCAL);
		return XDP_PASS;
	}
	return LB4_CONTINUE;
}

#endif /* LB4_BPF_IFACE_H */
