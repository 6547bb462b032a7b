#!/usr/bin/env bash
# Installs the Debian packages lb4 builds, tests and runs with (as root).
# Runs `apt-get update` once, and only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config make
  clang-14 llvm-14 clang libclang-rt-14-dev
  libbpf-dev libxdp-dev bpftool xdp-tools linux-libc-dev
  libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libasio-dev
  nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev
  iproute2 ethtool util-linux nftables procps
  libsystemd-dev help2man systemd dpkg-dev file
  bird2 keepalived
  prometheus tmux
  clang-format-14
)
# libsystemd-dev: sd_notify for lb4d.service; help2man: the manual pages;
# systemd: systemd-analyze verify in the install tests; dpkg-dev and file:
# the Debian package's Depends (cpack, dpkg-shlibdeps). docs/install.md.
# bird2 and keepalived: the BGP/BFD speaker and the VRRP daemon of the
# high-availability setups and their namespace tests. docs/ha.md.
# prometheus: promtool checks lb4d's exposition and a real Prometheus server
# scrapes lb4d in a namespace test; tmux: the terminal the `lb4ctl top` test
# drives (send-keys, capture-pane). docs/observability.md.
# clang-format-14: the test command checks the C++ formatting first
# (scripts/check-format.sh, .clang-format).

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
