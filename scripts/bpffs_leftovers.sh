# Sourced by scripts that run tests: iproute2 and libxdp make their own bpffs
# directories (tc/globals, the "ip" link to it, xdp/globals) the first time a
# test uses them. bpffs_note records what is there before; bpffs_clean
# removes the ones made since, if they are empty (never a pin). It runs from
# an EXIT trap of `set -e` scripts, so no command in it may fail: one that did
# would turn a passing run's exit status into 1.
bpffs_note() {
  bpffs_before=$(ls -A /sys/fs/bpf 2>/dev/null | tr '\n' ' ')
}
bpffs_clean() {
  local d
  for d in ip tc xdp; do
    case " ${bpffs_before:-} " in *" $d "*) continue ;; esac
    if [ -L "/sys/fs/bpf/$d" ]; then
      rm -f "/sys/fs/bpf/$d" || true
    elif [ -d "/sys/fs/bpf/$d" ]; then
      rmdir "/sys/fs/bpf/$d/globals" 2>/dev/null || true
      rmdir "/sys/fs/bpf/$d" 2>/dev/null || true
    fi
  done
  return 0
}
