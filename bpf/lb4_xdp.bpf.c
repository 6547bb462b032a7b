// SPDX-License-Identifier: GPL-2.0-only
/*
 * lb4_xdp.bpf.c - the lb4 XDP entry point. Parses the frame, passes what is
 * not VIP traffic, drops what a VIP's source lists refuse, keeps established
 * flows on their backend (conntrack), schedules new ones with Maglev,
 * rewrites and transmits; translates NAT replies back to the VIP and handles
 * ICMP errors about VIP flows. The same program (and one set of maps) runs on
 * every interface lb4 is attached to. The helpers live in bpf/lib/; this file
 * only strings them together and turns their result into the verdict
 * (counting every drop by reason, and per VIP and backend).
 */
#include "bpf/lib/common.h"
#include "bpf/lib/conntrack.h"
#include "bpf/lib/filter.h"
#include "bpf/lib/icmp.h"
#include "bpf/lib/iface.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/nat.h"
#include "bpf/lib/parse.h"
#include "bpf/lib/rewrite.h"
#include "bpf/lib/stats.h"
#include "bpf/lib/vip.h"

SEC("xdp")
int lb4_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct lb4_packet pkt = {};
	struct lb4_vip_value *vip;
	struct lb4_backend *backend = NULL;
	__u32 backend_id = 0;
	int ret;

	pkt.len = data_end - data;
	ret = parse_packet(data, data_end, &pkt);
	if (ret != LB4_CONTINUE)
		return stat_verdict(ret);
	ret = ingress_local(ctx);
	if (ret != LB4_CONTINUE)
		return stat_verdict(ret);
	if (pkt.kind == LB4_PKT_ICMP)
		return stat_verdict(handle_icmp(ctx, &pkt));
	if (pkt.kind == LB4_PKT_REPLY)
		return stat_verdict(nat_reply(ctx, &pkt));

	vip = lookup_vip(&pkt);
	if (!vip)
		return stat_verdict(XDP_PASS);

	ret = pkt.first_fragment ? LB4_DROP_FRAGMENT : source_filter(vip, &pkt);
	if (ret == LB4_CONTINUE)
		ret = select_backend(vip, &pkt, &backend_id, &backend);
	if (ret == LB4_CONTINUE)
		ret = rewrite_packet(ctx, &pkt, vip, backend_id, backend);
	if (ret == XDP_TX || ret == XDP_REDIRECT || ret == LB4_KERNEL) {
		stat_traffic(&lb4_vip_stats, vip->vip_id, &pkt);
		stat_traffic(&lb4_backend_stats, backend_id, &pkt);
	} else if (ret < 0) {
		stat_dropped(&lb4_vip_stats, vip->vip_id);
		if (backend_id)
			stat_dropped(&lb4_backend_stats, backend_id);
	}
	return stat_verdict(ret);
}

char LICENSE[] SEC("license") = "GPL";
