/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * conntrack.h - keeps a flow on its backend. A hit whose backend is still
 * enabled with the same generation is used as is: no clock read and no map
 * write on that path. Otherwise the flow is (re)scheduled through Maglev and
 * the entry written.
 */
#ifndef LB4_BPF_CONNTRACK_H
#define LB4_BPF_CONNTRACK_H

#include "bpf/lib/common.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/select.h"
#include "bpf/lib/stats.h"
#include "bpf/lib/vip.h"

static __always_inline struct lb4_backend *lookup_backend(__u32 id)
{
	return bpf_map_lookup_elem(&lb4_backends, &id);
}

/* Stores the flow's backend in *backend_id / *backend. */
static __always_inline int select_backend(const struct lb4_vip_value *vip,
					  const struct lb4_packet *pkt,
					  __u32 *backend_id,
					  struct lb4_backend **backend)
{
	struct lb4_flow_value *ct, entry = {};
	struct lb4_backend *b;
	__u32 reason = LB4_STAT_CT_MISS;
	__u32 id = 0;
	int ret;

	ct = bpf_map_lookup_elem(&lb4_conntrack, &pkt->flow);
	if (ct) {
		id = ct->backend_id;
		b = lookup_backend(id);
		if (b && (b->flags & LB4_BACKEND_F_ENABLED) &&
		    b->gen == ct->backend_gen) {
			stat_inc(LB4_STAT_CT_HIT);
			*backend_id = id;
			*backend = b;
			return LB4_CONTINUE;
		}
		reason = LB4_STAT_CT_RESCHED;
	}

	ret = select_maglev(vip, pkt, &id);
	if (ret != LB4_CONTINUE)
		return ret;
	b = lookup_backend(id);
	if (!b || !(b->flags & LB4_BACKEND_F_ENABLED))
		return LB4_DROP_BAD_BACKEND;
	entry.backend_id = id;
	entry.backend_gen = b->gen;
	entry.created_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&lb4_conntrack, &pkt->flow, &entry, BPF_ANY))
		return LB4_DROP_CT_FULL;
	stat_inc(reason);
	*backend_id = id;
	*backend = b;
	return LB4_CONTINUE;
}

#endif /* LB4_BPF_CONNTRACK_H */
