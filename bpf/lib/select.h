/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * select.h - Maglev scheduling of a new flow: hash the 5-tuple, index the
 * VIP's ring (lb4_rings[vip_id]) with hash % ring_size, return the backend
 * id found there.
 */
#ifndef LB4_BPF_SELECT_H
#define LB4_BPF_SELECT_H

#include "bpf/lib/common.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/vip.h"

static __always_inline __u32 rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* MurmurHash3 (x86_32) over the ten words of the flow key, seed fixed. */
static __always_inline __u32 hash_flow(const struct lb4_packet *pkt)
{
	__u32 h = 0x4c423400; /* "LB4" */
	int i;

#pragma unroll
	for (i = 0; i < (int)(sizeof(pkt->flow_words) / 4); i++) {
		__u32 k = pkt->flow_words[i] * 0xcc9e2d51;

		k = rotl32(k, 15) * 0x1b873593;
		h ^= k;
		h = rotl32(h, 13) * 5 + 0xe6546b64;
	}
	h ^= sizeof(pkt->flow_words);
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/*
 * The slot `hash % ring_size` of the VIP's current ring; NULL when there is
 * no ring or the slot lies beyond it.
 */
static __always_inline __u32 *ring_slot(__u32 vip_id, __u32 ring_size,
					__u32 hash)
{
	__u32 slot;
	void *ring;

	if (ring_size == 0)
		return NULL;
	ring = bpf_map_lookup_elem(&lb4_rings, &vip_id);
	if (!ring)
		return NULL;
	slot = hash % ring_size;
	return bpf_map_lookup_elem(ring, &slot);
}

/* Stores the ring's backend id for this flow in *backend_id. */
static __always_inline int select_maglev(const struct lb4_vip_value *vip,
					 const struct lb4_packet *pkt,
					 __u32 *backend_id)
{
	__u32 hash = hash_flow(pkt);
	__u32 *id;

	id = ring_slot(vip->vip_id, vip->ring_size, hash);
	if (!id && vip->ring_size) {
		/*
		 * The daemon shrinks ring_size before it swaps in a smaller
		 * ring: a packet that read the VIP entry before the shrink and
		 * the ring after the swap indexes past it. The entry read now
		 * has the new size (one retry; only on this path).
		 */
		vip = lookup_vip_again(pkt);
		if (vip)
			id = ring_slot(vip->vip_id, vip->ring_size, hash);
	}
	if (!id || *id == 0)
		return LB4_DROP_NO_BACKEND;
	*backend_id = *id;
	return LB4_CONTINUE;
}

#endif /* LB4_BPF_SELECT_H */
