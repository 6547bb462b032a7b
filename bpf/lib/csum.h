/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * csum.h - incremental Internet checksum updates (RFC 1624, eq. 3:
 * HC' = ~(~HC + ~m + m')). Words are 16-bit values as they lie in the
 * packet; one's complement sums do not depend on byte order, so no
 * conversion is needed. A rewrite collects the changes of all its words in
 * one delta and applies it to every checksum that covers them.
 */
#ifndef LB4_BPF_CSUM_H
#define LB4_BPF_CSUM_H

#include "bpf/lib/common.h"

static __always_inline __u32 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* Adds the change of one word from `from` to `to` to a delta. */
static __always_inline __u32 csum_delta16(__u32 delta, __u16 from, __u16 to)
{
	return delta + (__u16)~from + to;
}

/* The checksum `check` after the words it covers changed by `delta`. */
static __always_inline __u16 csum_apply(__u16 check, __u32 delta)
{
	__u32 sum = (__u16)~check;

	sum += csum_fold32(delta);
	return (__u16)~csum_fold32(sum);
}

/* Replaces the 4-byte address at p (in the packet) by `addr`; returns the delta. */
static __always_inline __u32 csum_put_addr4(__u16 *p, const __u16 *addr)
{
	__u32 delta = 0;

	delta = csum_delta16(delta, p[0], addr[0]);
	delta = csum_delta16(delta, p[1], addr[1]);
	p[0] = addr[0];
	p[1] = addr[1];
	return delta;
}

/* Replaces the 16-byte address at p (in the packet) by `addr`; returns the delta. */
static __always_inline __u32 csum_put_addr16(__u16 *p, const __u16 *addr)
{
	__u32 delta = 0;
	int i;

#pragma unroll
	for (i = 0; i < 8; i++) {
		delta = csum_delta16(delta, p[i], addr[i]);
		p[i] = addr[i];
	}
	return delta;
}

/* Replaces one 16-bit word at p by `v`; returns the delta. */
static __always_inline __u32 csum_put16(__u16 *p, __u16 v)
{
	__u32 delta = csum_delta16(0, *p, v);

	*p = v;
	return delta;
}

#endif /* LB4_BPF_CSUM_H */
