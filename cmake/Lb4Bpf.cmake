# lb4_bpf_object(NAME SOURCE OUTPUT_DIR): compiles one BPF C file with clang
# -target bpf into OUTPUT_DIR/NAME.bpf.o and generates its libbpf skeleton
# OUTPUT_DIR/NAME.skel.h. Every BPF object of the tree (the data plane, its
# floor, the benchmarks' programs) is built by this one function.
#
# The compile sees no libc: -nostdinc, and the only system headers on the
# path are a directory of links to the kernel's UAPI headers (linux/,
# asm-generic/, the architecture's asm/) and libbpf's bpf/. glibc's headers
# are written for a host target; included from BPF code they select the
# 32-bit stubs, which only the i386 libc package provides, so a BPF file
# that reaches for one must fail here, on every machine, not only on a
# fresh one. Dependencies come from clang's own depfile, so a change in any
# header a program includes rebuilds it.

find_program(LB4_BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(LB4_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

# __TARGET_ARCH_* for bpf_tracing.h, from the machine being built for.
string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" lb4_proc)
if(lb4_proc MATCHES "^(x86_64|amd64|i.86)$")
  set(LB4_BPF_ARCH x86)
elseif(lb4_proc MATCHES "^(aarch64|arm64)")
  set(LB4_BPF_ARCH arm64)
elseif(lb4_proc MATCHES "^arm")
  set(LB4_BPF_ARCH arm)
elseif(lb4_proc MATCHES "^(ppc64|powerpc64)")
  set(LB4_BPF_ARCH powerpc)
elseif(lb4_proc MATCHES "^s390")
  set(LB4_BPF_ARCH s390)
elseif(lb4_proc MATCHES "^riscv")
  set(LB4_BPF_ARCH riscv)
else()
  message(FATAL_ERROR "lb4: no BPF target architecture known for ${CMAKE_SYSTEM_PROCESSOR}")
endif()

# The include sandbox: kernel UAPI and libbpf headers only.
set(LB4_BPF_SYSINC ${CMAKE_BINARY_DIR}/bpf-sysinclude)
set(lb4_asm /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/asm)
if(NOT EXISTS ${lb4_asm})
  set(lb4_asm /usr/include/asm)
endif()
foreach(pair "linux=/usr/include/linux" "asm-generic=/usr/include/asm-generic"
             "asm=${lb4_asm}" "bpf=/usr/include/bpf")
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 link)
  list(GET pair 1 target)
  if(NOT EXISTS ${target})
    message(FATAL_ERROR "lb4: ${target} is missing (scripts/install-deps.sh installs it)")
  endif()
  file(MAKE_DIRECTORY ${LB4_BPF_SYSINC})
  file(CREATE_LINK ${target} ${LB4_BPF_SYSINC}/${link} SYMBOLIC)
endforeach()

set(LB4_BPF_CFLAGS -target bpf -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter
    -nostdinc -isystem ${LB4_BPF_SYSINC} -I${CMAKE_SOURCE_DIR} -D__TARGET_ARCH_${LB4_BPF_ARCH})

function(lb4_bpf_object name source outdir)
  set(obj ${outdir}/${name}.bpf.o)
  set(skel ${outdir}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
    COMMAND ${LB4_BPF_CLANG} ${LB4_BPF_CFLAGS} -MD -MF ${obj}.d -c ${source} -o ${obj}
    DEPENDS ${source}
    DEPFILE ${obj}.d
    COMMENT "BPF ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "${LB4_BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp"
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}.skel.h"
    VERBATIM)
endfunction()
