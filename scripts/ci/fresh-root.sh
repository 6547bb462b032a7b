#!/usr/bin/env bash
# Runs a command the way a newcomer's fresh machine would: inside a plain
# Debian 12 root (debootstrap --variant=minbase from this machine's apt
# mirror) holding a clean clone of the committed HEAD of this checkout.
# Nothing installed on the host by hand is visible inside, so a missing
# install step fails here instead of hiding.
#
#   sudo scripts/ci/fresh-root.sh [--log FILE] [--timeout MIN] 'COMMAND'
#
# - The minbase root is built once and cached as a tarball in
#   $LB4_CI_CACHE (default /var/cache/lb4-ci); delete it to rebuild.
# - Each run unpacks a new root in /tmp, bind-mounted onto itself (a chroot
#   whose root is not a mount point breaks `ip netns exec`, which runs
#   `mount --make-rslave /`), with /proc, /sys (recursively, so the host's
#   bpffs at /sys/fs/bpf is there), /dev, /dev/pts and a private tmpfs on
#   /run/netns. The project is cloned to /src/project; a ../shared beside
#   the checkout, if there is one, is copied to /src/shared.
# - COMMAND runs from /src/project with a clean environment (CI=true).
#   Its output goes to the log (default /tmp/lb4-fresh-root.log); the last
#   lines, the exit code and the run time are printed at the end.
# - On exit, also on failure or interrupt, every process still running in
#   the root is killed, namespaces created inside are removed, everything
#   is unmounted and the root is deleted.
set -uo pipefail

log=/tmp/lb4-fresh-root.log
timeout_min=85
while [ $# -gt 1 ]; do
  case $1 in
    --log) log=$2; shift 2 ;;
    --timeout) timeout_min=$2; shift 2 ;;
    *) break ;;
  esac
done
cmd=${1:-}
if [ -z "$cmd" ] || [ $# -ne 1 ]; then
  echo "usage: fresh-root.sh [--log FILE] [--timeout MIN] 'COMMAND'" >&2
  exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "fresh-root: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
src=$(cd "$(dirname "$0")" && git rev-parse --show-toplevel 2>/dev/null) ||
  { echo "fresh-root: not inside a git checkout" >&2; exit 2; }

cache=${LB4_CI_CACHE:-/var/cache/lb4-ci}
tarball=$cache/bookworm-minbase.tar

apt_mirror() {
  local m=""
  [ -f /etc/apt/sources.list.d/debian.sources ] &&
    m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [ -n "$m" ] || m=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}"
}

build_tarball() {
  if ! command -v debootstrap >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null ||
      { echo "fresh-root: cannot install debootstrap" >&2; return 1; }
  fi
  local tmp mirror
  mirror=$(apt_mirror)
  tmp=$(mktemp -d /tmp/lb4-debootstrap.XXXXXX)
  echo "fresh-root: debootstrap minbase bookworm from $mirror (cached afterwards in $tarball)"
  if ! debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
    echo "fresh-root: debootstrap failed, see $cache/debootstrap.log" >&2
    rm -rf --one-file-system "$tmp"
    return 1
  fi
  tar -C "$tmp" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  local rc=$?
  rm -rf --one-file-system "$tmp"
  return $rc
}

mkdir -p "$cache"
# One builder of the cache at a time; the others wait for its tarball.
exec 9>"$cache/.lock"
flock 9
if [ ! -f "$tarball" ]; then
  build_tarball || exit 2
fi
flock -u 9

root=$(mktemp -d /tmp/lb4-fresh.XXXXXX)
# The bpffs directories iproute2 and libxdp make for the tests go with the run.
. "$src/scripts/bpffs_leftovers.sh"
bpffs_note

cleanup() {
  local pids p
  # Processes whose root is the fresh root (daemons a failed test left).
  for _ in 1 2 3; do
    pids=""
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids="$pids ${p#/proc/}"
    done
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null
    sleep 0.5
  done
  # Namespaces created inside live as bind mounts under its /run/netns.
  for ns in "$root"/run/netns/*; do
    [ -e "$ns" ] && umount -l "$ns" 2>/dev/null
  done
  umount -R -l "$root" 2>/dev/null
  rm -rf --one-file-system "$root"
  bpffs_clean
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount --bind "$root" "$root"
tar -C "$root" -xf "$tarball"
# mktemp made the root 0700; as / it must be traversable by every user (tests
# run lb4ctl as nobody).
chmod 755 "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/" &&
    rm -f "$root/etc/apt/sources.list"
fi
mkdir -p "$root/src" "$root/run/netns"
git clone -q "$src" "$root/src/project" || { echo "fresh-root: clone of $src failed" >&2; exit 2; }
if [ -d "$src/../shared" ]; then
  cp -r "$src/../shared" "$root/src/shared"
fi
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --make-rslave "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs tmpfs "$root/run/netns"
mount --make-shared "$root/run/netns" 2>/dev/null

echo "fresh-root: $(git -C "$root/src/project" log -1 --format='%h %s') -- $cmd"
start=$(date +%s)
timeout --kill-after=60 "$((timeout_min * 60))" \
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI=true \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c "cd /src/project && $cmd" >"$log" 2>&1
rc=$?
[ $rc -eq 124 ] && echo "fresh-root: timed out after $timeout_min minutes" >>"$log"
echo "fresh-root: rc=$rc seconds=$(( $(date +%s) - start )) log=$log"
tail -8 "$log"
exit $rc
