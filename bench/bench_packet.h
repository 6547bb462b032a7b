// Frames for the benchmarks: Ethernet + IPv4/IPv6 + TCP/UDP with correct
// IP and L4 checksums, built in one call, plus the small helpers every
// benchmark runner shares (CPU pinning, order statistics, one-line output).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/common/checksum.h"

namespace lb4::bench {

using Mac = std::array<uint8_t, 6>;

struct FrameSpec {
  bool v6 = false;
  uint8_t proto = IPPROTO_TCP;
  std::array<uint8_t, 16> src{};  // network order; IPv4 in the first 4 bytes
  std::array<uint8_t, 16> dst{};
  uint16_t sport = 0;  // host order
  uint16_t dport = 0;
  uint8_t tcpFlags = 0x10;  // ACK: an established-flow segment
  Mac srcMac{0x02, 0, 0, 0, 0, 0x10};
  Mac dstMac{0x02, 0, 0, 0, 0x01, 0x01};
  size_t payload = 0;  // bytes of zero payload after the L4 header
};

inline std::array<uint8_t, 16> parseAddr(const char* text) {
  std::array<uint8_t, 16> out{};
  if (std::strchr(text, ':') != nullptr) {
    inet_pton(AF_INET6, text, out.data());
  } else {
    inet_pton(AF_INET, text, out.data());
  }
  return out;
}

using lb4::test::checksum;
using lb4::test::sumWords;

inline void put16(std::vector<uint8_t>& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

inline std::vector<uint8_t> buildFrame(const FrameSpec& s) {
  const size_t ipLen = s.v6 ? 40 : 20;
  const size_t l4Len = (s.proto == IPPROTO_TCP ? 20 : 8) + s.payload;
  std::vector<uint8_t> f(14 + ipLen + l4Len, 0);
  std::memcpy(&f[0], s.dstMac.data(), 6);
  std::memcpy(&f[6], s.srcMac.data(), 6);
  put16(f, 12, s.v6 ? 0x86dd : 0x0800);
  const size_t ip = 14;
  const size_t l4 = ip + ipLen;
  uint32_t pseudo = 0;
  if (s.v6) {
    f[ip] = 0x60;
    put16(f, ip + 4, static_cast<uint16_t>(l4Len));
    f[ip + 6] = s.proto;
    f[ip + 7] = 64;
    std::memcpy(&f[ip + 8], s.src.data(), 16);
    std::memcpy(&f[ip + 24], s.dst.data(), 16);
    pseudo = sumWords(&f[ip + 8], 32, 0);
  } else {
    f[ip] = 0x45;
    put16(f, ip + 2, static_cast<uint16_t>(ipLen + l4Len));
    f[ip + 8] = 64;
    f[ip + 9] = s.proto;
    std::memcpy(&f[ip + 12], s.src.data(), 4);
    std::memcpy(&f[ip + 16], s.dst.data(), 4);
    put16(f, ip + 10, checksum(&f[ip], 20));
    pseudo = sumWords(&f[ip + 12], 8, 0);
  }
  pseudo += s.proto + static_cast<uint32_t>(l4Len);
  put16(f, l4, s.sport);
  put16(f, l4 + 2, s.dport);
  size_t csum = 0;
  if (s.proto == IPPROTO_TCP) {
    f[l4 + 12] = 0x50;
    f[l4 + 13] = s.tcpFlags;
    put16(f, l4 + 14, 65535);
    csum = l4 + 16;
  } else {
    put16(f, l4 + 4, static_cast<uint16_t>(l4Len));
    csum = l4 + 6;
  }
  uint16_t c = checksum(&f[l4], l4Len, pseudo);
  if (s.proto == IPPROTO_UDP && c == 0) {
    c = 0xffff;
  }
  put16(f, csum, c);
  return f;
}

// Pins the calling thread to one CPU: per-CPU maps and LRU lists then
// belong to that CPU, and figures do not mix two cores.
inline bool pinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

struct Summary {
  double median = 0;
  double min = 0;
  double max = 0;
};

inline Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) {
    return s;
  }
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

// p-th percentile (0..100) by nearest rank.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.5);
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

}  // namespace lb4::bench
