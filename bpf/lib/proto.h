/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * proto.h - the protocol constants lb4 needs from headers it may not include.
 * <linux/icmp.h> pulls <linux/if.h> and through it glibc's <sys/socket.h>,
 * which does not build for -target bpf without the i386 libc headers; the
 * BPF build sees no libc at all (see bpf/CMakeLists.txt), so the few ICMP
 * types are declared here, with the values of RFC 792.
 */
#ifndef LB4_BPF_PROTO_H
#define LB4_BPF_PROTO_H

#define LB4_ICMP_DEST_UNREACH 3
#define LB4_ICMP_TIME_EXCEEDED 11

#endif /* LB4_BPF_PROTO_H */
