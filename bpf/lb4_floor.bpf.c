// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lb4_floor.bpf.c - trivial XDP programs that are not part of the data plane:
 *   xdp_pass     attached by the namespace topologies to veth ends that
 *                receive XDP_TX/XDP_REDIRECT frames (a veth delivers such
 *                frames promptly only when its receiving end runs XDP);
 *   xdp_drop     the lowest cost an XDP program can have (benchmark floor);
 *   xdp_tx_swap  swaps the Ethernet addresses and sends the frame back out,
 *                the cheapest forwarder (benchmark floor).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_tx_swap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
