#!/usr/bin/env bash
# The BPF build's include rule (cmake/Lb4Bpf.cmake): with the flags every BPF
# object is compiled with, the kernel UAPI and libbpf headers are found and
# no glibc header is. A BPF file that includes one (directly or through
# <linux/icmp.h> -> <linux/if.h>) must fail on this machine too, not only on
# one without the i386 libc headers.
#   bpf_no_libc.sh CLANG FLAGS...
set -uo pipefail
clang=$1; shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
compile() { printf '%s\n' "$@" >"$tmp/t.c"; "$clang" "${FLAGS[@]}" -fsyntax-only "$tmp/t.c" 2>"$tmp/err"; }
FLAGS=("$@")
if ! compile '#include <linux/bpf.h>' '#include <linux/if_ether.h>' '#include <linux/ipv6.h>' \
     '#include <linux/tcp.h>' '#include <bpf/bpf_helpers.h>' '#include <bpf/bpf_endian.h>'; then
  echo "FAIL: UAPI and libbpf headers do not compile for BPF:"; cat "$tmp/err"; exit 1
fi
# Each must fail at a libc header itself (not inside glibc, at its stubs).
for pair in sys/socket.h:sys/socket.h stdio.h:stdio.h string.h:string.h linux/icmp.h:sys/socket.h; do
  h=${pair%%:*}; missing=${pair#*:}
  if compile "#include <$h>"; then
    echo "FAIL: <$h> compiles for BPF; the build would depend on host libc headers"; exit 1
  fi
  if ! grep -q "'$missing' file not found" "$tmp/err"; then
    echo "FAIL: <$h> reached into glibc instead of stopping at <$missing>:"; cat "$tmp/err"; exit 1
  fi
done
echo "ok: UAPI and libbpf headers only; glibc headers are not reachable from BPF code"
