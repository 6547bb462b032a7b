/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stats.h - per-CPU counters: global reasons (lb4_stats) and forwarded
 * traffic per VIP and per backend. Per-CPU slots need no atomics.
 */
#ifndef LB4_BPF_STATS_H
#define LB4_BPF_STATS_H

#include "bpf/lib/common.h"
#include "bpf/lib/maps.h"

static __always_inline void stat_inc(__u32 reason)
{
	__u64 *count = bpf_map_lookup_elem(&lb4_stats, &reason);

	if (count)
		*count += 1;
}

static __always_inline void stat_traffic(void *map, __u32 index,
					 const struct lb4_packet *pkt)
{
	struct lb4_traffic *t = bpf_map_lookup_elem(map, &index);

	if (t) {
		t->packets += 1;
		t->bytes += pkt->len;
		t->new_connections += pkt->new_flow;
	}
}

/* One dropped packet of a VIP or backend (lb4_traffic.dropped). */
static __always_inline void stat_dropped(void *map, __u32 index)
{
	struct lb4_traffic *t = bpf_map_lookup_elem(map, &index);

	if (t)
		t->dropped += 1;
}

/* A backend's TCP reply as a health signal: SYN-ACK accepted, RST refused. */
static __always_inline void stat_signal(__u32 backend_id, __u8 tcp_flags)
{
	struct lb4_signals *s;

	if (!(tcp_flags & 0x04) && (tcp_flags & 0x12) != 0x12)
		return; /* neither RST nor SYN-ACK: nothing to say */
	s = bpf_map_lookup_elem(&lb4_backend_signals, &backend_id);
	if (!s)
		return;
	if (tcp_flags & 0x04)
		s->refused += 1;
	else
		s->accepted += 1;
}

/*
 * The one place a helper's result becomes the program's verdict: drop
 * reasons are counted and become XDP_DROP; passes, transmits and redirects
 * are counted; LB4_KERNEL (a translated packet the kernel forwards) becomes
 * XDP_PASS counted as FWD_KERNEL.
 */
static __always_inline int stat_verdict(int ret)
{
	if (ret < 0) {
		stat_inc(-ret);
		return XDP_DROP;
	}
	if (ret == XDP_PASS) {
		stat_inc(LB4_STAT_PASS);
	} else if (ret == XDP_TX) {
		stat_inc(LB4_STAT_TX);
	} else if (ret == XDP_REDIRECT) {
		stat_inc(LB4_STAT_REDIRECT);
	} else if (ret == LB4_KERNEL) {
		stat_inc(LB4_STAT_FWD_KERNEL);
		return XDP_PASS;
	}
	return ret;
}

#endif /* LB4_BPF_STATS_H */
