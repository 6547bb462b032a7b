// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cost_parts.bpf.c - one XDP program per operation the lb4 data plane does
 * on a packet, each doing that operation once and returning XDP_DROP, so
 * that bench/xdp_cost can price each one (ns over the xdp_drop floor) and
 * attribute lb4's per-packet time. The operations use lb4's own map
 * definitions and helpers (bpf/lib/): lb4_vip_addrs (20-byte hash key),
 * lb4_conntrack (40-byte per-CPU LRU key; userspace sizes it), the per-CPU
 * traffic counters. The part_* maps are candidate alternatives lb4 does not
 * use, priced for comparison. Userspace fills the looked-up keys and
 * switches pinning off before load.
 */
#include "bpf/lib/common.h"
#include "bpf/lib/conntrack.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/stats.h"

/* The same with a 16-byte key: what an IPv4-only conntrack would hash. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, __u32[4]);
	__type(value, struct lb4_flow_value);
} part_lru16 SEC(".maps");

/* An IPv4-only address key, for the price of hashing 4 bytes, not 20. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB4_MAX_VIPS);
	__type(key, __u32);
	__type(value, __u32);
} part_hash4 SEC(".maps");

/* A bloom filter of VIP address keys: a candidate early exit for non-VIP traffic. */
struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, LB4_MAX_VIPS);
	__uint(value_size, sizeof(struct lb4_vip_key));
	__uint(map_extra, 3); /* hash functions */
} part_bloom20 SEC(".maps");

/*
 * The keys userspace inserted, as 32-bit words in rodata (set before load).
 * Read word by word through volatile: a plain memcpy from a zero-initialised
 * const lets clang fold the key to zeros.
 */
const volatile __u32 hash20_key[sizeof(struct lb4_vip_key) / 4] = {};
const volatile __u32 lru40_key[sizeof(struct lb4_flow_key) / 4] = {};

#define COPY_WORDS(dst, src)                                                  \
	do {                                                                  \
		__u32 *d_ = (__u32 *)(dst);                                   \
		for (int i_ = 0; i_ < (int)(sizeof(src) / 4); i_++)           \
			d_[i_] = (src)[i_];                                   \
	} while (0)

SEC("xdp")
int part_hash20_lookup(struct xdp_md *ctx)
{
	struct lb4_vip_key key;

	COPY_WORDS(&key, hash20_key);
	if (!bpf_map_lookup_elem(&lb4_vip_addrs, &key))
		return XDP_ABORTED;
	return XDP_DROP;
}

SEC("xdp")
int part_hash4_lookup(struct xdp_md *ctx)
{
	__u32 key = hash20_key[0];

	if (!bpf_map_lookup_elem(&part_hash4, &key))
		return XDP_ABORTED;
	return XDP_DROP;
}

SEC("xdp")
int part_bloom20_peek(struct xdp_md *ctx)
{
	struct lb4_vip_key key;

	COPY_WORDS(&key, hash20_key);
	if (bpf_map_peek_elem(&part_bloom20, &key))
		return XDP_ABORTED;
	return XDP_DROP;
}

SEC("xdp")
int part_lru40_lookup(struct xdp_md *ctx)
{
	struct lb4_flow_key key;

	COPY_WORDS(&key, lru40_key);
	if (!ct_lookup(&key))
		return XDP_ABORTED;
	return XDP_DROP;
}

SEC("xdp")
int part_lru16_lookup(struct xdp_md *ctx)
{
	__u32 key[4];

	for (int i = 0; i < 4; i++)
		key[i] = lru40_key[i];
	if (!bpf_map_lookup_elem(&part_lru16, key))
		return XDP_ABORTED;
	return XDP_DROP;
}

SEC("xdp")
int part_lru40_update(struct xdp_md *ctx)
{
	struct lb4_flow_key key;
	struct lb4_flow_value value = {};

	COPY_WORDS(&key, lru40_key);
	value.backend_id = 1;
	if (bpf_map_update_elem(&lb4_conntrack, &key, &value, BPF_ANY))
		return XDP_ABORTED;
	return XDP_DROP;
}

SEC("xdp")
int part_percpu_add(struct xdp_md *ctx)
{
	struct lb4_packet pkt = {.len = 64};

	stat_traffic(&lb4_backend_stats, 1, &pkt);
	return XDP_DROP;
}

SEC("xdp")
int part_ktime(struct xdp_md *ctx)
{
	return bpf_ktime_get_ns() ? XDP_DROP : XDP_ABORTED;
}

/* A FIB lookup of 198.18.2.2 from the ingress interface (NAT's next hop). */
SEC("xdp")
int part_fib_lookup(struct xdp_md *ctx)
{
	struct bpf_fib_lookup fib = {};

	fib.family = 2; /* AF_INET */
	fib.l4_protocol = 6;
	fib.tot_len = 40;
	fib.ipv4_src = __builtin_bswap32(0xc6124001); /* 198.18.64.1 */
	fib.ipv4_dst = __builtin_bswap32(0xc6120202); /* 198.18.2.2 */
	fib.ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_ABORTED;
	return XDP_DROP;
}

SEC("xdp")
int part_jiffies64(struct xdp_md *ctx)
{
	return bpf_jiffies64() ? XDP_DROP : XDP_ABORTED;
}

char _license[] SEC("license") = "GPL";
