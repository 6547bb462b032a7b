/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * conntrack.h - keeps a flow on its backend. A direct-routing hit whose
 * backend is still enabled with the same generation is used as is: no clock
 * read and no map write on that path. NAT flows also keep a reverse entry
 * in lb4_nat_reverse (the backend's reply 5-tuple -> VIP) and expire: each
 * NAT packet reads the coarse clock, and last_seen is written at most once a
 * second per direction (or when FIN/RST/SYN changes the TCP state), together
 * with the peer entry. A miss, an expired NAT entry or a gone backend
 * (re)schedules the flow through Maglev and writes the entries.
 */
#ifndef LB4_BPF_CONNTRACK_H
#define LB4_BPF_CONNTRACK_H

#include <linux/in.h>

#include "bpf/lib/common.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/select.h"
#include "bpf/lib/stats.h"
#include "bpf/lib/vip.h"

#define LB4_NS_PER_S 1000000000ULL

#define LB4_TCP_FIN 0x01
#define LB4_TCP_SYN 0x02
#define LB4_TCP_RST 0x04
#define LB4_TCP_ACK 0x10

static __always_inline struct lb4_backend *lookup_backend(__u32 id)
{
	return bpf_map_lookup_elem(&lb4_backends, &id);
}

static __always_inline int backend_usable(const struct lb4_backend *b,
					  __u32 gen)
{
	return b && (b->flags & LB4_BACKEND_F_ENABLED) && b->gen == gen;
}

/* The forward entry of a flow, keyed as the client sent it. */
static __always_inline struct lb4_flow_value *
ct_lookup(const struct lb4_flow_key *key)
{
	return bpf_map_lookup_elem(&lb4_conntrack, key);
}

/* The reverse entry of a NAT flow, keyed as the backend replies. */
static __always_inline struct lb4_nat_value *
ct_lookup_reverse(const struct lb4_flow_key *key)
{
	return bpf_map_lookup_elem(&lb4_nat_reverse, key);
}

/*
 * The backend of a forward entry while it may still carry the flow
 * (enabled, and the id not given to another backend since); NULL otherwise.
 */
static __always_inline struct lb4_backend *
ct_backend(const struct lb4_flow_value *ct)
{
	struct lb4_backend *b = lookup_backend(ct->backend_id);

	return backend_usable(b, ct->backend_gen) ? b : NULL;
}

/* Now, in the unit of last_seen: seconds of CLOCK_MONOTONIC_COARSE. */
static __always_inline __u32 ct_now(void)
{
	return bpf_ktime_get_coarse_ns() / LB4_NS_PER_S;
}

/* Idle timeout of a NAT entry in seconds, from lb4_config. */
static __always_inline __u32 ct_timeout(__u8 flags, __u8 proto)
{
	struct lb4_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&lb4_config, &zero);
	if (!cfg)
		return 0;
	if (proto == IPPROTO_TCP)
		return (flags & LB4_FLOW_F_CLOSING) ? cfg->tcp_fin_timeout :
						      cfg->tcp_timeout;
	return cfg->udp_timeout;
}

static __always_inline int ct_expired(__u32 last_seen, __u8 flags, __u8 proto,
				      __u32 now)
{
	return now - last_seen > ct_timeout(flags, proto);
}

/* The entry's flags once this packet is accounted for. */
static __always_inline __u8 ct_next_flags(__u8 flags,
					  const struct lb4_packet *pkt)
{
	if (pkt->flow.proto != IPPROTO_TCP)
		return flags;
	if (pkt->tcp_flags & (LB4_TCP_FIN | LB4_TCP_RST))
		return flags | LB4_FLOW_F_CLOSING;
	if ((pkt->tcp_flags & (LB4_TCP_SYN | LB4_TCP_ACK)) == LB4_TCP_SYN)
		return flags & ~LB4_FLOW_F_CLOSING;
	return flags;
}

/* A TCP SYN without ACK: a client opening a connection (or retrying). */
static __always_inline int syn_only(const struct lb4_packet *pkt)
{
	return pkt->flow.proto == IPPROTO_TCP &&
	       (pkt->tcp_flags & (LB4_TCP_SYN | LB4_TCP_ACK)) == LB4_TCP_SYN;
}

/* The backend's port for this flow: its own, or the VIP port. */
static __always_inline __be16 backend_port(const struct lb4_backend *b,
					   const struct lb4_packet *pkt)
{
	return b->port ? b->port : pkt->flow.dport;
}

/* Fills the parts of a reverse entry that the forward flow decides. */
static __always_inline void ct_fill_reverse(struct lb4_nat_value *rv,
					    const struct lb4_packet *pkt,
					    __u32 backend_id,
					    const struct lb4_flow_value *fwd)
{
	__builtin_memcpy(rv->vip_addr, pkt->flow.dst, sizeof(rv->vip_addr));
	rv->vip_port = pkt->flow.dport;
	rv->flags = fwd->flags;
	rv->last_seen = fwd->last_seen;
	rv->backend_id = backend_id;
}

/*
 * Writes the reverse entry of the forward NAT flow `pkt` scheduled on `b`.
 * An existing entry is refreshed in place, keeping its cached next hop (and
 * sparing an LRU insert); a missing one (new flow, or evicted) is created.
 */
static __always_inline int ct_put_reverse(const struct lb4_packet *pkt,
					  const struct lb4_backend *b,
					  __u32 backend_id,
					  const struct lb4_flow_value *fwd)
{
	struct lb4_nat_value fresh = {}, *rv;
	struct lb4_flow_key rk;

	__builtin_memset(&rk, 0, sizeof(rk));
	__builtin_memcpy(rk.src, b->addr, sizeof(rk.src));
	__builtin_memcpy(rk.dst, pkt->flow.src, sizeof(rk.dst));
	rk.sport = backend_port(b, pkt);
	rk.dport = pkt->flow.sport;
	rk.proto = pkt->flow.proto;
	rk.family = pkt->flow.family;
	rv = ct_lookup_reverse(&rk);
	if (rv) {
		ct_fill_reverse(rv, pkt, backend_id, fwd);
		return 0;
	}
	ct_fill_reverse(&fresh, pkt, backend_id, fwd);
	return bpf_map_update_elem(&lb4_nat_reverse, &rk, &fresh, BPF_ANY);
}

/* A forward NAT hit: refresh last_seen and the TCP state, and the reverse entry. */
static __always_inline void ct_touch_forward(struct lb4_flow_value *ct,
					     const struct lb4_packet *pkt,
					     const struct lb4_backend *b,
					     __u32 backend_id, __u32 now)
{
	__u8 flags = ct_next_flags(ct->flags, pkt);

	if (flags == ct->flags && ct->last_seen == now)
		return;
	ct->flags = flags;
	ct->last_seen = now;
	/* Also recreates the reverse entry if the LRU evicted it. */
	ct_put_reverse(pkt, b, backend_id, ct);
}

/* A reply hit (reverse entry): refresh it and its forward entry. */
static __always_inline void ct_touch_reverse(struct lb4_nat_value *rv,
					     const struct lb4_packet *pkt,
					     __u32 now)
{
	__u8 flags = ct_next_flags(rv->flags, pkt);
	struct lb4_flow_value *fwd;
	struct lb4_flow_key fk;

	if (flags == rv->flags && rv->last_seen == now)
		return;
	rv->flags = flags;
	rv->last_seen = now;
	__builtin_memset(&fk, 0, sizeof(fk));
	__builtin_memcpy(fk.src, pkt->flow.dst, sizeof(fk.src));
	__builtin_memcpy(fk.dst, rv->vip_addr, sizeof(fk.dst));
	fk.sport = pkt->flow.dport;
	fk.dport = rv->vip_port;
	fk.proto = pkt->flow.proto;
	fk.family = pkt->flow.family;
	fwd = ct_lookup(&fk);
	if (fwd) {
		fwd->last_seen = now;
		fwd->flags = (fwd->flags & ~LB4_FLOW_F_CLOSING) |
			     (flags & LB4_FLOW_F_CLOSING);
	}
}

/*
 * Stores the flow's backend in *backend_id / *backend; for NAT also the
 * current second in pkt->now (the clock is read once per packet).
 */
static __always_inline int select_backend(const struct lb4_vip_value *vip,
					  struct lb4_packet *pkt,
					  __u32 *backend_id,
					  struct lb4_backend **backend)
{
	struct lb4_flow_value *ct, entry = {};
	int nat = vip->mode == LB4_MODE_NAT;
	__u32 reason = LB4_STAT_CT_MISS;
	struct lb4_backend *b;
	__u32 now = 0;
	__u32 id = 0;
	int ret;

	ct = ct_lookup(&pkt->flow);
	if (ct) {
		reason = LB4_STAT_CT_RESCHED;
		if (nat) {
			now = ct_now();
			if (!(ct->flags & LB4_FLOW_F_NAT))
				goto schedule;
			if (ct_expired(ct->last_seen, ct->flags,
				       pkt->flow.proto, now)) {
				reason = LB4_STAT_CT_EXPIRED;
				goto schedule;
			}
		}
		id = ct->backend_id;
		b = ct_backend(ct);
		if (b) {
			stat_inc(LB4_STAT_CT_HIT);
			if (nat)
				ct_touch_forward(ct, pkt, b, id, now);
			pkt->now = now;
			*backend_id = id;
			*backend = b;
			return LB4_CONTINUE;
		}
	}

schedule:
	ret = select_maglev(vip, pkt, &id);
	if (ret != LB4_CONTINUE)
		return ret;
	b = lookup_backend(id);
	if (!b || !(b->flags & LB4_BACKEND_F_ENABLED))
		return LB4_DROP_BAD_BACKEND;
	if (!nat && syn_only(pkt)) {
		/*
		 * Direct routing keeps no state for a flow until it is
		 * confirmed: the client's first packet past its SYN finds no
		 * entry, Maglev gives it the same backend (the table did not
		 * change in between, or the flow would move anyway) and that
		 * packet writes the entry. A SYN costs no insert, and a SYN
		 * flood evicts no established flow.
		 */
		stat_inc(LB4_STAT_SYN_UNTRACKED);
		pkt->now = 0;
		*backend_id = id;
		*backend = b;
		return LB4_CONTINUE;
	}
	entry.backend_id = id;
	entry.backend_gen = b->gen;
	if (nat) {
		if (!now)
			now = ct_now();
		entry.last_seen = now;
		entry.flags = ct_next_flags(LB4_FLOW_F_NAT, pkt);
		if (ct_put_reverse(pkt, b, id, &entry))
			return LB4_DROP_CT_FULL;
	}
	if (bpf_map_update_elem(&lb4_conntrack, &pkt->flow, &entry, BPF_ANY))
		return LB4_DROP_CT_FULL;
	stat_inc(reason);
	pkt->new_flow = 1;
	/*
	 * The kernel evicts silently; what shows it is a NAT flow past its
	 * SYN that has no entry any more (counted per CPU, like the LRU
	 * lists). A direct-routing flow's first entry is written by exactly
	 * such a packet, so there an eviction cannot be told apart.
	 */
	if (!ct && nat && pkt->flow.proto == IPPROTO_TCP &&
	    !(pkt->tcp_flags & LB4_TCP_SYN))
		stat_inc(LB4_STAT_CT_EVICTED_LIVE);
	pkt->now = now;
	*backend_id = id;
	*backend = b;
	return LB4_CONTINUE;
}

#endif /* LB4_BPF_CONNTRACK_H */
