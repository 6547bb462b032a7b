#!/usr/bin/env bash
# Builds the Debian package from this tree and proves it as a user would
# meet it, on a machine where systemd need not be PID 1 (a fresh root in CI):
#   1. cpack -G DEB in a build directory of its own (prefix /usr);
#   2. apt-get install ./lb4_*.deb, with its run-time dependencies;
#   3. lb4d --check-config /etc/lb4/lb4.yaml, systemd-analyze verify of the
#      installed unit;
#   4. the installed lb4d started directly in a network namespace of its own
#      (own socket, state file and pin directory), `lb4ctl status` answers,
#      lb4d stopped with SIGTERM;
#   5. apt-get remove, then purge: no binary, unit, man page or config left.
# Everything it creates (namespace, pins, files, the package if still
# installed, the build directory unless LB4_DEB_BUILD_DIR names one) is
# removed on exit. Needs root. Refuses to run where lb4 is already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD

if [ "$(id -u)" -ne 0 ]; then
  echo "package-test: needs root" >&2
  exit 1
fi
if dpkg-query -W -f='${Status}' lb4 2>/dev/null | grep -q "install ok installed"; then
  echo "package-test: the lb4 package is already installed here; it would be removed" >&2
  exit 1
fi

NAME=lb4pkg$$
WORK=$(mktemp -d /tmp/lb4-package-test.XXXXXX)
chmod 755 "$WORK"  # apt reads the .deb as _apt
if [ -n "${LB4_DEB_BUILD_DIR:-}" ]; then
  B=$LB4_DEB_BUILD_DIR
else
  B=$WORK/build
fi
PIN=/sys/fs/bpf/$NAME
SOCK=$WORK/lb4d.sock
pid=""
installed=0

cleanup() {
  local rc=$?
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  ip netns del "$NAME" 2>/dev/null || true
  rm -rf "$PIN"
  if [ "$installed" = 1 ] && dpkg-query -W lb4 >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq lb4 >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  if [ "$rc" -ne 0 ]; then
    echo "package-test: FAILED (exit $rc)" >&2
  fi
}
trap cleanup EXIT

step() { printf '\n== package-test: %s\n' "$*"; }
fail() {
  echo "package-test: $*" >&2
  exit 1
}

step "build the package (cpack -G DEB, prefix /usr) in $B"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# CMAKE_SKIP_INSTALL_ALL_DEPENDENCY: cpack builds only what is installed.
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON "${launcher[@]}" >/dev/null
cmake --build "$B" -j"$(nproc)" --target lb4d lb4ctl lb4_man
(cd "$B" && cpack -G DEB >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack failed"; }
debs=("$B"/lb4_*.deb)
[ -f "${debs[0]}" ] || fail "no lb4_*.deb in $B"
DEB=$WORK/$(basename "${debs[0]}")
cp "${debs[0]}" "$DEB"
dpkg-deb --field "$DEB" Package Version Architecture Depends
dpkg-deb --contents "$DEB" | awk '{print $NF}' | grep -v '/$' || true
depends=$(dpkg-deb --field "$DEB" Depends)
for lib in libbpf1 libxdp1 libsystemd0 libc6; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
dpkg-deb --contents "$DEB" | grep -q '/usr/local' && fail "the package installs into /usr/local"

step "apt-get install $DEB"
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" >"$WORK/apt.log" 2>&1 ||
  { cat "$WORK/apt.log"; fail "apt-get install failed"; }
for f in /usr/sbin/lb4d /usr/bin/lb4ctl /usr/lib/systemd/system/lb4d.service /etc/lb4/lb4.yaml \
  /usr/share/man/man8/lb4d.8.gz /usr/share/man/man8/lb4ctl.8.gz /usr/share/man/man5/lb4.yaml.5.gz \
  /usr/share/bash-completion/completions/lb4ctl; do
  [ -e "$f" ] || [ -e "${f%.gz}" ] || fail "not installed: $f"
done
dpkg-query -W -f='${Conffiles}\n' lb4 | grep -q '/etc/lb4/lb4.yaml' || fail "/etc/lb4/lb4.yaml is not a conffile"
lb4d --version
lb4ctl --version

step "lb4d --check-config /etc/lb4/lb4.yaml"
lb4d --check-config /etc/lb4/lb4.yaml
if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze verify lb4d.service"
  out=$(systemd-analyze verify --man=no /usr/lib/systemd/system/lb4d.service 2>&1) || fail "$out"
  [ -z "$out" ] || fail "systemd-analyze: $out"
fi

step "lb4d started directly (no systemd) in network namespace $NAME"
ip netns add "$NAME"
nsenter --net=/run/netns/"$NAME" /usr/sbin/lb4d --config /etc/lb4/lb4.yaml --socket "$SOCK" \
  --state-file "$WORK/state.json" --pin-root "$PIN" >"$WORK/lb4d.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  [ -S "$SOCK" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$WORK/lb4d.log"; fail "lb4d exited"; }
  sleep 0.05
done
[ -S "$SOCK" ] || { cat "$WORK/lb4d.log"; fail "no control socket after 10 s"; }
status=$(lb4ctl --socket "$SOCK" status) || { cat "$WORK/lb4d.log"; fail "lb4ctl status failed"; }
echo "$status"
grep -q "^lb4d " <<<"$status" || fail "unexpected status: $status"

step "lb4d stopped (SIGTERM)"
kill -TERM "$pid"
for _ in $(seq 200); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -0 "$pid" 2>/dev/null && fail "lb4d still running 10 s after SIGTERM"
wait "$pid" || { cat "$WORK/lb4d.log"; fail "lb4d exited non-zero after SIGTERM"; }
pid=""

step "apt-get remove lb4"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq lb4 >"$WORK/apt.log" 2>&1 ||
  { cat "$WORK/apt.log"; fail "apt-get remove failed"; }
for f in /usr/sbin/lb4d /usr/bin/lb4ctl /usr/lib/systemd/system/lb4d.service \
  /lib/systemd/system/lb4d.service /etc/systemd/system/multi-user.target.wants/lb4d.service \
  /usr/share/man/man8/lb4d.8.gz /usr/share/bash-completion/completions/lb4ctl; do
  [ ! -e "$f" ] || fail "left behind after remove: $f"
done
step "apt-get purge lb4"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq lb4 >"$WORK/apt.log" 2>&1 ||
  { cat "$WORK/apt.log"; fail "apt-get purge failed"; }
[ ! -e /etc/lb4 ] || fail "left behind after purge: /etc/lb4"
dpkg-query -W -f='${Status}' lb4 2>/dev/null | grep -q "install ok installed" && fail "lb4 still installed"
installed=0
step "passed"
