/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter.h - per-VIP source prefix lists (allow and deny). One LPM trie,
 * lb4_src_rules, holds every VIP's prefixes keyed by (vip_id, prefix): the
 * longest prefix that matches the client's address decides; with no match
 * the packet passes unless the VIP has an allow list. VIPs without lists
 * (no LB4_VIP_F_SRC_* flag) pay one flag test and no lookup.
 */
#ifndef LB4_BPF_FILTER_H
#define LB4_BPF_FILTER_H

#include "bpf/lib/common.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/vip.h"

/* LB4_CONTINUE when the VIP takes packets from the packet's source. */
static __always_inline int source_filter(const struct lb4_vip_value *vip,
					 const struct lb4_packet *pkt)
{
	struct lb4_src_key key;
	struct lb4_src_rule *rule;

	if (!(vip->flags & (LB4_VIP_F_SRC_ALLOW | LB4_VIP_F_SRC_DENY)))
		return LB4_CONTINUE;
	key.prefixlen = LB4_SRC_KEY_BITS;
	key.vip_id = vip->vip_id;
	__builtin_memcpy(key.addr, pkt->flow.src, sizeof(key.addr));
	rule = bpf_map_lookup_elem(&lb4_src_rules, &key);
	if (rule)
		return rule->action == LB4_SRC_ALLOW ? LB4_CONTINUE
						     : LB4_DROP_SOURCE_DENIED;
	return (vip->flags & LB4_VIP_F_SRC_ALLOW) ? LB4_DROP_SOURCE_NOT_ALLOWED
						  : LB4_CONTINUE;
}

#endif /* LB4_BPF_FILTER_H */
