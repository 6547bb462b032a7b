// The frames of the direct-routing path probe: header fields, checksums
// verified by an independent one's-complement sum, and the reply parser.
#include "userspace/health/path_probe.h"

#include <gtest/gtest.h>

namespace lb4 {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// Sum over 16-bit words, folded; a correct checksummed block gives 0xffff.
uint16_t onesSum(const std::vector<uint8_t>& bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 2) {
    uint32_t hi = bytes[i];
    uint32_t lo = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    sum += hi << 8 | lo;
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}

PathHop hop(Family family) {
  return PathHop{.ifindex = 2,
                 .srcMac = {0x02, 0, 0, 0, 0, 0x02},
                 .dstMac = {0x02, 0, 0, 0, 0, 0x11},
                 .srcAddr = family == Family::kIpv4 ? ip("198.18.0.2") : ip("2001:db8::2")};
}

// Pseudo-header + TCP segment of `frame` (IP header of `ipLen` bytes).
std::vector<uint8_t> tcpWithPseudo(const std::vector<uint8_t>& frame, size_t ipLen, bool v4) {
  size_t alen = v4 ? 4 : 16;
  size_t srcAt = 14 + (v4 ? 12 : 8);
  std::vector<uint8_t> out(frame.begin() + static_cast<long>(srcAt),
                           frame.begin() + static_cast<long>(srcAt + 2 * alen));
  size_t tcpLen = frame.size() - 14 - ipLen;
  out.insert(out.end(), {0, 6, 0, static_cast<uint8_t>(tcpLen)});
  out.insert(out.end(), frame.begin() + static_cast<long>(14 + ipLen), frame.end());
  return out;
}

TEST(PathProbeTest, Ipv4SynHasTheDataPlanesAddressesAndValidChecksums) {
  Endpoint vip{ip("198.18.1.100"), 80};
  auto f = buildTcpSyn(hop(Family::kIpv4), vip, 40000, 0x01020304);
  ASSERT_EQ(f.size(), 14u + 20u + 24u);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 14),
            (std::vector<uint8_t>{2, 0, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 2, 0x08, 0x00}));
  EXPECT_EQ(f[14], 0x45);
  EXPECT_EQ(f[14 + 9], 6);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 26, f.begin() + 34),
            (std::vector<uint8_t>{198, 18, 0, 2, 198, 18, 1, 100}));
  EXPECT_EQ(onesSum(std::vector<uint8_t>(f.begin() + 14, f.begin() + 34)), 0xffff);
  EXPECT_EQ(f[34] << 8 | f[35], 40000);
  EXPECT_EQ(f[36] << 8 | f[37], 80);
  EXPECT_EQ(f[34 + 13], 0x02);  // SYN only
  EXPECT_EQ(onesSum(tcpWithPseudo(f, 20, true)), 0xffff);
  // A changed byte breaks the checksum: the check above is not vacuous.
  auto broken = f;
  broken[34 + 4] ^= 1;
  EXPECT_NE(onesSum(tcpWithPseudo(broken, 20, true)), 0xffff);
}

TEST(PathProbeTest, Ipv6SynHasValidTcpChecksum) {
  Endpoint vip{ip("2001:db8:1::100"), 443};
  auto f = buildTcpSyn(hop(Family::kIpv6), vip, 51000, 7);
  ASSERT_EQ(f.size(), 14u + 40u + 24u);
  EXPECT_EQ(f[12], 0x86);
  EXPECT_EQ(f[13], 0xdd);
  EXPECT_EQ(f[14] >> 4, 6);
  EXPECT_EQ(f[14 + 4] << 8 | f[14 + 5], 24);  // payload length
  EXPECT_EQ(f[14 + 6], 6);
  EXPECT_EQ(f[54 + 2] << 8 | f[54 + 3], 443);
  EXPECT_EQ(onesSum(tcpWithPseudo(f, 40, false)), 0xffff);
}

// The backend's answer, made with the builder from the other side.
std::vector<uint8_t> answer(const Endpoint& vip, const IpAddress& local, uint16_t localPort,
                            uint8_t flags) {
  PathHop back{.ifindex = 2, .srcMac = {}, .dstMac = {}, .srcAddr = vip.addr};
  auto f = buildTcpSyn(back, Endpoint{local, localPort}, vip.port, 9);
  size_t tcp = 14 + (vip.addr.family == Family::kIpv4 ? 20 : 40);
  f[tcp + 13] = flags;
  return f;
}

TEST(PathProbeTest, ParserAcceptsOnlyTheAnswerToItsOwnSyn) {
  for (const char* v : {"198.18.1.100", "2001:db8:1::100"}) {
    Endpoint vip{ip(v), 80};
    IpAddress local = vip.addr.family == Family::kIpv4 ? ip("198.18.0.2") : ip("2001:db8::2");
    auto synAck = answer(vip, local, 40000, 0x12);
    EXPECT_EQ(parsePathReply(synAck.data(), synAck.size(), vip, local, 40000), PathReply::kSynAck)
        << v;
    auto rst = answer(vip, local, 40000, 0x14);
    EXPECT_EQ(parsePathReply(rst.data(), rst.size(), vip, local, 40000), PathReply::kReset) << v;
    EXPECT_EQ(parsePathReply(synAck.data(), synAck.size(), vip, local, 40001), std::nullopt) << v;
    Endpoint otherPort{vip.addr, 81};
    EXPECT_EQ(parsePathReply(synAck.data(), synAck.size(), otherPort, local, 40000), std::nullopt)
        << v;
    auto fromElsewhere = answer(Endpoint{local, 80}, local, 40000, 0x12);
    EXPECT_EQ(parsePathReply(fromElsewhere.data(), fromElsewhere.size(), vip, local, 40000),
              std::nullopt)
        << v;
    auto ack = answer(vip, local, 40000, 0x10);
    EXPECT_EQ(parsePathReply(ack.data(), ack.size(), vip, local, 40000), std::nullopt) << v;
    EXPECT_EQ(parsePathReply(synAck.data(), 20, vip, local, 40000), std::nullopt) << v;
  }
}

}  // namespace
}  // namespace lb4
