// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * rate_parts.bpf.c - the other XDP programs of the packet-rate benchmark
 * (bench/netns_rate.cpp):
 *   l2_switch   on every port of the switch namespace: known unicast MACs
 *               are redirected to their port (switch_ports), everything else
 *               goes to the kernel bridge the ports are also enslaved to;
 *   sink        on each backend's eth0: counts frames from the generator's
 *               source ranges, then drops them (rate runs) or passes them to
 *               the stack (correctness bursts), per sink_mode;
 *   pass        XDP_PASS, for veth ends that must run XDP to receive
 *               redirected frames but are not under test;
 *   floor_tx    the forwarding floor on the gateway: picks a backend MAC by
 *               source port, rewrites both MACs and sends with XDP_TX;
 *               stateless, no lookups but one array read.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>

struct mac_key {
	__u8 addr[ETH_ALEN];
	__u16 pad;
};

/* Destination MAC -> switch port ifindex (index into switch_tx). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct mac_key);
	__type(value, __u32);
} switch_macs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} switch_tx SEC(".maps");

SEC("xdp")
int l2_switch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct mac_key key = {};
	__u32 *port;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	__builtin_memcpy(key.addr, eth->h_dest, ETH_ALEN);
	port = bpf_map_lookup_elem(&switch_macs, &key);
	if (!port)
		return XDP_PASS;
	return bpf_redirect_map(&switch_tx, *port, XDP_PASS);
}

/* [0] frames counted, [1] bytes; per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sink_count SEC(".maps");

/* [0]: 0 = drop counted frames, 1 = pass them to the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sink_mode SEC(".maps");

/* Generator sources: 198.18.64.0/18 and 2001:db8:40::/48. */
static __always_inline int from_generator(void *data, void *data_end)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto == __builtin_bswap16(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return 0;
		return (__builtin_bswap32(iph->saddr) & 0xffffc000) == 0xc6124000;
	}
	if (eth->h_proto == __builtin_bswap16(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return 0;
		return ip6h->saddr.in6_u.u6_addr32[0] == __builtin_bswap32(0x20010db8) &&
		       ip6h->saddr.in6_u.u6_addr16[2] == __builtin_bswap16(0x0040);
	}
	return 0;
}

SEC("xdp")
int sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0, one = 1;
	__u64 *count, *bytes;
	__u32 *mode;

	if (!from_generator(data, data_end))
		return XDP_PASS;
	count = bpf_map_lookup_elem(&sink_count, &zero);
	bytes = bpf_map_lookup_elem(&sink_count, &one);
	if (count && bytes) {
		*count += 1;
		*bytes += data_end - data;
	}
	mode = bpf_map_lookup_elem(&sink_mode, &zero);
	return mode && *mode ? XDP_PASS : XDP_DROP;
}

/* Backend i -> its MAC (first 6 bytes); floor_backends[0][6..7] unused. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct mac_key);
} floor_backends SEC(".maps");

const volatile __u32 floor_n = 1;
const volatile __u8 floor_mac[ETH_ALEN] = {};

SEC("xdp")
int floor_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct mac_key *mac;
	__u32 i = 0, n = floor_n ? floor_n : 1;
	__u8 *l4;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	/* The source port sits at the same place for TCP and UDP. */
	l4 = (__u8 *)(eth + 1) + (eth->h_proto == __builtin_bswap16(ETH_P_IPV6) ? 40 : 20);
	if ((void *)(l4 + 2) <= data_end)
		i = ((__u32)l4[0] << 8 | l4[1]) % n;
	mac = bpf_map_lookup_elem(&floor_backends, &i);
	if (!mac)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, mac->addr, ETH_ALEN);
	eth->h_source[0] = floor_mac[0];
	eth->h_source[1] = floor_mac[1];
	eth->h_source[2] = floor_mac[2];
	eth->h_source[3] = floor_mac[3];
	eth->h_source[4] = floor_mac[4];
	eth->h_source[5] = floor_mac[5];
	return XDP_TX;
}

SEC("xdp")
int pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
