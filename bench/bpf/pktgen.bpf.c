// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pktgen.bpf.c - lb4's packet generator, run with BPF_PROG_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES on the generator's veth: every run writes a
 * whole frame (live frames are recycled, not reset) from the template in
 * rodata, gives it the next flow's source address and port with correct IP
 * and L4 checksums, and sends it with XDP_TX.
 *
 * Checksums are the template's sums (computed by userspace with the varying
 * words zeroed, not folded) plus the varying words, folded: one's-complement
 * addition does not care where a word sits.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PKTGEN_MAX_FRAME 128

const volatile __u8 tmpl[PKTGEN_MAX_FRAME] = {};
const volatile __u32 tmpl_len = 64; /* frame length, a multiple of 8 */
const volatile __u32 off_src;     /* last 4 bytes of the source address */
const volatile __u32 off_sport;
const volatile __u32 off_l4csum;
const volatile __u32 off_ipcsum;  /* 0: IPv6, no header checksum */
const volatile __u32 ip_sum;      /* IPv4 header sum without the varying word */
const volatile __u32 l4_sum;      /* pseudo header + L4 sum without the varying words */
const volatile __u32 src_base;    /* host order, last 32 bits of the source address */
const volatile __u32 flows = 1;   /* distinct flows: ports x addresses */
const volatile __u32 ports = 1;   /* source ports per address (from 1024) */
const volatile __u8 udp = 1;      /* a zero UDP checksum is sent as 0xffff */

__u64 sent = 0;

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int pktgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = tmpl_len;
	__u64 n = __sync_fetch_and_add(&sent, 1);
	__u32 idx, src, sport, s;
	__u16 c;

	if (len > PKTGEN_MAX_FRAME || len & 7 || data + len > data_end)
		return XDP_ABORTED;
	for (int i = 0; i < PKTGEN_MAX_FRAME; i += 8) {
		if ((__u32)i >= len || data + i + 8 > data_end)
			break;
		*(__u64 *)(data + i) = *(const volatile __u64 *)&tmpl[i];
	}

	idx = (__u32)(n % flows);
	src = src_base + idx / ports;
	sport = 1024 + idx % ports;
	if (data + off_src + 4 > data_end || data + off_sport + 2 > data_end ||
	    data + off_l4csum + 2 > data_end || data + off_ipcsum + 2 > data_end)
		return XDP_ABORTED;
	*(__u32 *)(data + off_src) = __builtin_bswap32(src);
	*(__u16 *)(data + off_sport) = __builtin_bswap16((__u16)sport);

	s = (src >> 16) + (src & 0xffff);
	if (off_ipcsum) {
		c = fold(ip_sum + s);
		*(__u16 *)(data + off_ipcsum) = __builtin_bswap16(c);
	}
	c = fold(l4_sum + s + sport);
	if (udp && c == 0)
		c = 0xffff;
	*(__u16 *)(data + off_l4csum) = __builtin_bswap16(c);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
