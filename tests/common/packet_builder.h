// PacketBuilder: a fluent builder of test frames (Ethernet, one VLAN tag,
// IPv4 with options, IPv6, TCP, UDP, payload), computing lengths and the
// IPv4, TCP and UDP checksums itself, plus a GoogleTest assertion that
// prints a layer-aware hex diff of two frames.
//
//   auto pkt = PacketBuilder().eth(kClientMac, kGatewayMac).ipv4(kClientV4, kVipV4)
//                  .tcp(40000, 80).payload("hello").build();
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/common/checksum.h"

namespace lb4::test {

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline constexpr uint16_t kIpMoreFragments = 0x2000;  // IPv4 flags/fragment field

struct Ipv4Options {
  uint8_t ihl = 5;                                     // header length in 32-bit words
  std::optional<uint16_t> totalLength = std::nullopt;  // default: computed
  uint16_t flagsFragment = 0;  // host order: flags << 13 | offset (8-byte units)
  uint8_t ttl = 64;
  uint8_t version = 4;
  std::optional<uint8_t> protocol = std::nullopt;  // default: from the L4 layer
};

class PacketBuilder {
 public:
  using Mac = std::array<uint8_t, 6>;

  PacketBuilder& eth(const Mac& src, const Mac& dst, uint16_t ethertype = 0) {
    bytes_.insert(bytes_.end(), dst.begin(), dst.end());
    bytes_.insert(bytes_.end(), src.begin(), src.end());
    typeOffset_ = bytes_.size();
    put16(ethertype);
    return *this;
  }

  PacketBuilder& vlan(uint16_t id, uint16_t tpid = 0x8100) {
    set16(typeOffset_, tpid);
    put16(id & 0x0fff);
    typeOffset_ = bytes_.size();
    put16(0);
    return *this;
  }

  PacketBuilder& ipv4(std::string_view src, std::string_view dst, Ipv4Options opts = {}) {
    set16(typeOffset_, 0x0800);
    ipOffset_ = bytes_.size();
    v6_ = false;
    v4opts_ = opts;
    size_t hlen = std::max<size_t>(opts.ihl, 5) * 4;
    bytes_.resize(bytes_.size() + hlen, 0x01);  // options: NOPs
    uint8_t* h = &bytes_[ipOffset_];
    h[0] = static_cast<uint8_t>(opts.version << 4 | (opts.ihl & 0x0f));
    h[1] = 0;
    set16(ipOffset_ + 2, 0);       // total length: in build()
    set16(ipOffset_ + 4, 0x1234);  // id
    set16(ipOffset_ + 6, opts.flagsFragment);
    h[8] = opts.ttl;
    h[9] = opts.protocol.value_or(0);
    set16(ipOffset_ + 10, 0);
    parse(AF_INET, src, &bytes_[ipOffset_ + 12]);
    parse(AF_INET, dst, &bytes_[ipOffset_ + 16]);
    return *this;
  }

  PacketBuilder& ipv6(std::string_view src, std::string_view dst, uint8_t nextHeader = 0) {
    set16(typeOffset_, 0x86dd);
    ipOffset_ = bytes_.size();
    v6_ = true;
    bytes_.resize(bytes_.size() + 40, 0);
    bytes_[ipOffset_] = 0x60;
    bytes_[ipOffset_ + 6] = nextHeader;
    bytes_[ipOffset_ + 7] = 64;  // hop limit
    parse(AF_INET6, src, &bytes_[ipOffset_ + 8]);
    parse(AF_INET6, dst, &bytes_[ipOffset_ + 24]);
    return *this;
  }

  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = kTcpSyn) {
    setL4Proto(6);
    put16(sport);
    put16(dport);
    put32(1000);  // seq
    put32((flags & kTcpAck) ? 2000 : 0);
    bytes_.push_back(5 << 4);  // data offset
    bytes_.push_back(flags);
    put16(65535);  // window
    put16(0);      // checksum: in build()
    put16(0);      // urgent
    return *this;
  }

  PacketBuilder& udp(uint16_t sport, uint16_t dport) {
    setL4Proto(17);
    put16(sport);
    put16(dport);
    put16(0);  // length: in build()
    put16(0);  // checksum: in build()
    return *this;
  }

  // ICMP (over IPv4) or ICMPv6 (over IPv6): type, code and the 4 bytes that
  // follow the checksum (the MTU of "fragmentation needed" / "packet too
  // big"); a quoted packet goes in as payload (see ipPacket()).
  PacketBuilder& icmp(uint8_t type, uint8_t code, uint32_t rest = 0) {
    setL4Proto(v6_ ? 58 : 1);
    bytes_.push_back(type);
    bytes_.push_back(code);
    put16(0);  // checksum: in build()
    put32(rest);
    return *this;
  }

  PacketBuilder& payload(std::string_view data) {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return *this;
  }
  PacketBuilder& payload(const std::vector<uint8_t>& data) {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return *this;
  }

  // Cuts the finished frame to its first n bytes (lengths and checksums
  // still describe the whole packet, as on a frame cut in transit).
  PacketBuilder& truncate(size_t n) {
    truncate_ = n;
    return *this;
  }

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> out = bytes_;
    if (ipOffset_ && l4Offset_) {
      fixL4(out);
    }
    if (ipOffset_ && !v6_) {
      uint16_t total = v4opts_.totalLength.value_or(static_cast<uint16_t>(out.size() - ipOffset_));
      setIn(out, ipOffset_ + 2, total);
      setIn(out, ipOffset_ + 10, 0);
      size_t hlen = std::max<size_t>(v4opts_.ihl, 5) * 4;
      setIn(out, ipOffset_ + 10, checksum(&out[ipOffset_], hlen, 0));
    } else if (ipOffset_ && v6_) {
      setIn(out, ipOffset_ + 4, static_cast<uint16_t>(out.size() - ipOffset_ - 40));
    }
    if (truncate_ && *truncate_ < out.size()) {
      out.resize(*truncate_);
    }
    return out;
  }

  static uint16_t checksum(const uint8_t* data, size_t len, uint32_t sum) {
    return lb4::test::checksum(data, len, sum);
  }

 private:
  static void parse(int af, std::string_view text, uint8_t* out) {
    std::string s(text);
    if (inet_pton(af, s.c_str(), out) != 1) {
      throw std::invalid_argument("PacketBuilder: bad address " + s);
    }
  }
  void put16(uint16_t v) {
    bytes_.push_back(static_cast<uint8_t>(v >> 8));
    bytes_.push_back(static_cast<uint8_t>(v));
  }
  void put32(uint32_t v) {
    put16(static_cast<uint16_t>(v >> 16));
    put16(static_cast<uint16_t>(v));
  }
  void set16(size_t off, uint16_t v) { setIn(bytes_, off, v); }
  static void setIn(std::vector<uint8_t>& b, size_t off, uint16_t v) {
    b[off] = static_cast<uint8_t>(v >> 8);
    b[off + 1] = static_cast<uint8_t>(v);
  }
  void setL4Proto(uint8_t proto) {
    l4Offset_ = bytes_.size();
    l4Proto_ = proto;
    if (v6_) {
      if (bytes_[ipOffset_ + 6] == 0) {
        bytes_[ipOffset_ + 6] = proto;
      }
    } else if (!v4opts_.protocol) {
      bytes_[ipOffset_ + 9] = proto;
    }
  }

  void fixL4(std::vector<uint8_t>& out) const {
    size_t l4len = out.size() - l4Offset_;
    if (l4Proto_ == 1) {  // ICMP: no pseudo-header
      setIn(out, l4Offset_ + 2, 0);
      setIn(out, l4Offset_ + 2, checksum(&out[l4Offset_], l4len, 0));
      return;
    }
    size_t csumOff = l4Offset_ + (l4Proto_ == 6 ? 16 : l4Proto_ == 58 ? 2 : 6);
    if (l4Proto_ == 17) {
      setIn(out, l4Offset_ + 4, static_cast<uint16_t>(l4len));
    }
    setIn(out, csumOff, 0);
    // Pseudo-header: addresses, protocol, L4 length.
    uint32_t sum = 0;
    size_t addrOff = v6_ ? ipOffset_ + 8 : ipOffset_ + 12;
    size_t addrLen = v6_ ? 32 : 8;
    for (size_t i = 0; i < addrLen; i += 2) {
      sum += static_cast<uint32_t>(out[addrOff + i] << 8 | out[addrOff + i + 1]);
    }
    sum += l4Proto_;
    sum += static_cast<uint32_t>(l4len & 0xffff) + static_cast<uint32_t>(l4len >> 16);
    uint16_t c = checksum(&out[l4Offset_], l4len, sum);
    if (l4Proto_ == 17 && c == 0) {
      c = 0xffff;  // UDP: 0 means "no checksum"
    }
    setIn(out, csumOff, c);
  }

  std::vector<uint8_t> bytes_;
  size_t typeOffset_ = 12;
  size_t ipOffset_ = 0;
  size_t l4Offset_ = 0;
  uint8_t l4Proto_ = 0;
  bool v6_ = false;
  Ipv4Options v4opts_;
  std::optional<size_t> truncate_;
};

// The IP packet of a frame built by PacketBuilder (its Ethernet header cut
// off): the quote of an ICMP error.
inline std::vector<uint8_t> ipPacket(const std::vector<uint8_t>& frame) {
  return {frame.begin() + 14, frame.end()};
}

namespace detail {

// Names the header field at `off` of an Ethernet frame (VLAN/IPv4/IPv6
// parsed from the frame itself).
inline std::string describeOffset(const std::vector<uint8_t>& f, size_t off) {
  if (off < 6) {
    return "eth dst MAC";
  }
  if (off < 12) {
    return "eth src MAC";
  }
  if (off < 14) {
    return "ethertype";
  }
  size_t l3 = 14;
  uint16_t type = f.size() >= 14 ? static_cast<uint16_t>(f[12] << 8 | f[13]) : 0;
  if ((type == 0x8100 || type == 0x88a8) && f.size() >= 18) {
    if (off < 18) {
      return "VLAN tag";
    }
    type = static_cast<uint16_t>(f[16] << 8 | f[17]);
    l3 = 18;
  }
  size_t rel = off - l3;
  if (type == 0x0800 && f.size() > l3) {
    size_t hlen = (f[l3] & 0x0f) * 4u;
    if (rel < hlen) {
      return "IPv4 header +" + std::to_string(rel);
    }
    return "IPv4 payload +" + std::to_string(rel - hlen);
  }
  if (type == 0x86dd) {
    if (rel < 40) {
      return "IPv6 header +" + std::to_string(rel);
    }
    return "IPv6 payload +" + std::to_string(rel - 40);
  }
  return "L3 +" + std::to_string(rel);
}

inline std::string hexAround(const std::vector<uint8_t>& f, size_t off) {
  size_t from = off >= 8 ? off - 8 : 0;
  size_t to = std::min(f.size(), off + 8);
  std::string s;
  char buf[8];
  for (size_t i = from; i < to; ++i) {
    std::snprintf(buf, sizeof(buf), i == off ? "[%02x]" : " %02x ", f[i]);
    s += buf;
  }
  return s;
}

}  // namespace detail

// EXPECT_TRUE(FramesEqual(actual, expected)): on mismatch, the first
// differing offset, the field it falls in and the bytes around it.
inline ::testing::AssertionResult FramesEqual(const std::vector<uint8_t>& actual,
                                              const std::vector<uint8_t>& expected) {
  if (actual == expected) {
    return ::testing::AssertionSuccess();
  }
  size_t n = std::min(actual.size(), expected.size());
  size_t off = 0;
  while (off < n && actual[off] == expected[off]) {
    ++off;
  }
  auto r = ::testing::AssertionFailure();
  r << "frames differ (actual " << actual.size() << " bytes, expected " << expected.size()
    << " bytes)";
  if (off < n) {
    char hdr[64];
    std::snprintf(hdr, sizeof(hdr), " first at offset %zu (0x%zx), ", off, off);
    r << hdr << detail::describeOffset(expected, off)
      << "\n  actual:   " << detail::hexAround(actual, off)
      << "\n  expected: " << detail::hexAround(expected, off);
  } else {
    r << "; equal up to the shorter length " << n;
  }
  return r;
}

}  // namespace lb4::test
