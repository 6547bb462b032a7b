// The fuzzer's independent view of a frame: a small parser and checksum
// verifier written from the RFCs, sharing no code with the XDP program, used
// to judge what the program did with a random or mutated frame.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "tests/common/checksum.h"

namespace lb4::test::fuzz {

inline uint16_t get16(const std::vector<uint8_t>& f, size_t off) {
  return static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
}
inline void put16(std::vector<uint8_t>& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;

// Layer offsets of an Ethernet frame carrying IPv4 or IPv6, as far as the
// frame allows. `complete` is set when the IP header and the whole L4
// segment the IP header announces lie inside the frame.
struct Layers {
  size_t l3 = 0;
  uint16_t ethertype = 0;
  bool v6 = false;
  bool ipHeader = false;  // fixed IP header (20 / 40 bytes) inside the frame
  uint8_t proto = 0;      // IPv4 protocol / IPv6 next header
  const uint8_t* dst = nullptr;
  const uint8_t* src = nullptr;
  size_t hlen = 0;   // IP header length (IHL*4 or 40)
  size_t ipLen = 0;  // total length (IPv4) or 40 + payload length (IPv6)
  size_t l4 = 0;
  size_t l4len = 0;  // L4 bytes announced by the IP header
  bool complete = false;
};

inline Layers layersOf(const std::vector<uint8_t>& f) {
  Layers x;
  if (f.size() < 14) {
    return x;
  }
  x.l3 = 14;
  x.ethertype = get16(f, 12);
  if (x.ethertype == 0x8100 || x.ethertype == 0x88a8) {
    if (f.size() < 18) {
      return Layers{};  // truncated tag
    }
    x.ethertype = get16(f, 16);
    x.l3 = 18;
  }
  size_t avail = f.size() - x.l3;
  if (x.ethertype == 0x0800 && avail >= 20) {
    const uint8_t* h = &f[x.l3];
    x.ipHeader = true;
    x.proto = h[9];
    x.src = h + 12;
    x.dst = h + 16;
    x.hlen = (h[0] & 0x0f) * 4u;
    x.ipLen = get16(f, x.l3 + 2);
    if ((h[0] >> 4) == 4 && x.hlen >= 20 && x.hlen <= x.ipLen && x.ipLen <= avail) {
      x.l4 = x.l3 + x.hlen;
      x.l4len = x.ipLen - x.hlen;
      x.complete = true;
    }
  } else if (x.ethertype == 0x86dd && avail >= 40) {
    const uint8_t* h = &f[x.l3];
    x.v6 = true;
    x.ipHeader = true;
    x.proto = h[6];
    x.src = h + 8;
    x.dst = h + 24;
    x.hlen = 40;
    x.ipLen = 40u + get16(f, x.l3 + 4);
    if ((h[0] >> 4) == 6 && x.ipLen <= avail) {
      x.l4 = x.l3 + 40;
      x.l4len = x.ipLen - 40;
      x.complete = true;
    }
  }
  return x;
}

inline bool ipv4HeaderChecksumOk(const std::vector<uint8_t>& f, const Layers& x) {
  return x.complete && !x.v6 && foldSum(sumWords(&f[x.l3], x.hlen)) == 0xffff;
}

// TCP or UDP checksum over the L4 length the IP header announces.
inline bool l4ChecksumOk(const std::vector<uint8_t>& f, const Layers& x) {
  if (!x.complete || (x.proto != kTcp && x.proto != kUdp)) {
    return false;
  }
  if (x.proto == kUdp && !x.v6 && x.l4len >= 8 && get16(f, x.l4 + 6) == 0) {
    return true;  // IPv4 UDP without a checksum
  }
  uint32_t sum = sumWords(x.src, x.v6 ? 16 : 4);
  sum = sumWords(x.dst, x.v6 ? 16 : 4, sum);
  sum += x.proto;
  sum += static_cast<uint32_t>(x.l4len >> 16) + static_cast<uint32_t>(x.l4len & 0xffff);
  sum = sumWords(&f[x.l4], x.l4len, sum);
  return foldSum(sum) == 0xffff;
}

// Recomputes the IPv4 header checksum and the L4 checksum where the frame
// holds what they cover (used to make mutated frames pass checksum checks).
inline void fixChecksums(std::vector<uint8_t>& f) {
  Layers x = layersOf(f);
  if (x.ipHeader && !x.v6) {
    size_t hlen = std::max<size_t>(x.hlen, 20);
    if (x.l3 + hlen <= f.size()) {
      put16(f, x.l3 + 10, 0);
      put16(f, x.l3 + 10, checksum(&f[x.l3], hlen));
    }
  }
  x = layersOf(f);
  if (!x.complete || (x.proto != kTcp && x.proto != kUdp)) {
    return;
  }
  size_t csumOff = x.l4 + (x.proto == kTcp ? 16 : 6);
  if (csumOff + 2 > x.l4 + x.l4len) {
    return;
  }
  put16(f, csumOff, 0);
  uint32_t sum = sumWords(x.src, x.v6 ? 16 : 4);
  sum = sumWords(x.dst, x.v6 ? 16 : 4, sum);
  sum += x.proto;
  sum += static_cast<uint32_t>(x.l4len >> 16) + static_cast<uint32_t>(x.l4len & 0xffff);
  uint16_t c = checksum(&f[x.l4], x.l4len, sum);
  put16(f, csumOff, x.proto == kUdp && c == 0 ? 0xffff : c);
}

// Why a frame the program forwarded is not a well-formed TCP/UDP datagram
// it may forward; empty when it is.
inline std::string malformedForwarded(const std::vector<uint8_t>& f) {
  Layers x = layersOf(f);
  if (x.ethertype != 0x0800 && x.ethertype != 0x86dd) {
    return "not IPv4/IPv6";
  }
  if (!x.ipHeader) {
    return "IP header truncated";
  }
  if (!x.complete) {
    return "IP version or lengths inconsistent with the frame";
  }
  if (!x.v6 && (get16(f, x.l3 + 6) & 0x3fff) != 0) {
    return "IPv4 fragment";
  }
  if (x.proto == (x.v6 ? 58 : 1)) {
    // An ICMP error about a VIP flow, sent on to the flow's backend.
    return x.l4len >= 8 ? std::string() : "ICMP header beyond the IP length";
  }
  if (x.proto != kTcp && x.proto != kUdp) {
    return "not TCP/UDP/ICMP";
  }
  if (x.l4len < (x.proto == kTcp ? 20u : 8u)) {
    return "L4 header beyond the IP length";
  }
  return {};
}

// L4 header fields the program does not read but the backend will: a UDP
// length that disagrees with the IP length, a TCP data offset below 5 or
// past the segment. Empty when consistent.
inline std::string l4LengthProblem(const std::vector<uint8_t>& f) {
  Layers x = layersOf(f);
  if (!x.complete || x.l4len < 8) {
    return {};
  }
  if (x.proto == kUdp) {
    uint16_t ulen = get16(f, x.l4 + 4);
    if (ulen < 8 || ulen > x.l4len) {
      return "UDP length " + std::to_string(ulen) + " vs " + std::to_string(x.l4len);
    }
  } else if (x.proto == kTcp && x.l4len >= 20) {
    size_t doff = (f[x.l4 + 12] >> 4) * 4u;
    if (doff < 20 || doff > x.l4len) {
      return "TCP data offset " + std::to_string(doff) + " vs " + std::to_string(x.l4len);
    }
  }
  return {};
}

}  // namespace lb4::test::fuzz
