/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * common.h - includes and return-code conventions shared by every lb4 BPF
 * helper. A helper returns an XDP_* action (final), LB4_CONTINUE (go on with
 * the next stage) or a negative drop reason LB4_DROP_* (== -LB4_STAT_DROP_*);
 * only the entry point turns a reason into XDP_DROP and counts it.
 */
#ifndef LB4_BPF_COMMON_H
#define LB4_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/lb4_abi.h"

/* Not an XDP action (those are 0..4) and not negative. */
#define LB4_CONTINUE 0x100
/* Final: XDP_PASS a translated packet for the kernel to forward (FWD_KERNEL). */
#define LB4_KERNEL 0x101

#define LB4_DROP_TRUNC_ETH (-LB4_STAT_DROP_TRUNC_ETH)
#define LB4_DROP_TRUNC_VLAN (-LB4_STAT_DROP_TRUNC_VLAN)
#define LB4_DROP_TRUNC_IP (-LB4_STAT_DROP_TRUNC_IP)
#define LB4_DROP_BAD_IP (-LB4_STAT_DROP_BAD_IP)
#define LB4_DROP_TRUNC_L4 (-LB4_STAT_DROP_TRUNC_L4)
#define LB4_DROP_NO_BACKEND (-LB4_STAT_DROP_NO_BACKEND)
#define LB4_DROP_FRAGMENT (-LB4_STAT_DROP_FRAGMENT)
#define LB4_DROP_BAD_BACKEND (-LB4_STAT_DROP_BAD_BACKEND)
#define LB4_DROP_CT_FULL (-LB4_STAT_DROP_CT_FULL)
#define LB4_DROP_IPV6_EXT (-LB4_STAT_DROP_IPV6_EXT)
#define LB4_DROP_FIB (-LB4_STAT_DROP_FIB)
#define LB4_DROP_FRAG_NEEDED (-LB4_STAT_DROP_FRAG_NEEDED)
#define LB4_DROP_BAD_ICMP (-LB4_STAT_DROP_BAD_ICMP)
#define LB4_DROP_NO_EGRESS (-LB4_STAT_DROP_NO_EGRESS)
#define LB4_DROP_SOURCE_DENIED (-LB4_STAT_DROP_SOURCE_DENIED)
#define LB4_DROP_SOURCE_NOT_ALLOWED (-LB4_STAT_DROP_SOURCE_NOT_ALLOWED)

#endif /* LB4_BPF_COMMON_H */
