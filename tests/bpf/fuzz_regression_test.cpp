// Regression frames from the XDP fuzzer (fuzz_test.cpp): each class of frame
// it flagged or that pinned down a policy, rebuilt here by hand with the
// verdict and counter it must keep.
//   - Frames cut inside a VLAN tag are dropped as TRUNC_VLAN (the fuzzer's
//     model first took them for "not IP"; the program's policy is right).
//   - UDP length and TCP data offset are not read by the program: in direct
//     routing a datagram whose IP lengths are consistent is forwarded even
//     when those L4 fields disagree with them; the backend's stack, which
//     validates them, decides. Only the MACs change.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include "common/packet_builder.h"
#include "common/test_addresses.h"
#include "fuzz_model.h"
#include "userspace/common/net.h"
#include "userspace/dataplane/dataplane.h"
#include "xdp_fixture.h"

namespace lb4::test {
namespace {

class FuzzRegressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dp = Dataplane::open({.pinDir = "", .conntrackSize = 4096});
    ASSERT_TRUE(dp.ok()) << dp.error();
    dp_ = std::move(*dp);
    XdpFixture::receiveOnLoopback(*dp_);
    lb4_backend b{};
    std::memcpy(b.mac, kBackend1Mac.data(), 6);
    b.family = LB4_AF_INET;
    b.flags = LB4_BACKEND_F_ENABLED;
    b.gen = 1;
    ASSERT_TRUE(dp_->setBackend(1, b).ok());
    b.family = LB4_AF_INET6;
    ASSERT_TRUE(dp_->setBackend(2, b).ok());
    uint32_t vipId = 0;
    for (const char* vip : {"198.18.1.1:80/tcp", "198.18.1.1:53/udp", "[2001:db8:1::1]:80/tcp"}) {
      auto key = ServiceKey::parse(vip);
      ASSERT_TRUE(key.ok());
      ASSERT_TRUE(dp_->setRing(vipId, std::vector<uint32_t>(7, vipId == 2 ? 2 : 1)).ok());
      lb4_vip_value v{};
      v.vip_id = vipId++;
      v.mode = LB4_MODE_DR;
      ASSERT_TRUE(dp_->upsertVip(key->toAbi(), v).ok());
    }
  }

  uint32_t run(std::vector<uint8_t>& frame) {
    auto action = dp_->testRun(frame);
    EXPECT_TRUE(action.ok()) << action.error();
    return action.ok() ? *action : ~0U;
  }

  uint64_t stat(lb4_stat s) {
    auto st = dp_->globalStats();
    return st.ok() ? (*st)[s] : ~0ULL;
  }

  void expectForwardedWithOnlyMacsChanged(const std::vector<uint8_t>& in) {
    auto out = in;
    ASSERT_EQ(run(out), XDP_TX);
    ASSERT_EQ(out.size(), in.size());
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, kBackend1Mac.begin()));
    EXPECT_TRUE(std::equal(in.begin() + 12, in.end(), out.begin() + 12));
  }

  std::unique_ptr<Dataplane> dp_;
};

TEST_F(FuzzRegressionTest, FrameCutInsideAVlanTagIsDroppedAsTruncVlan) {
  for (size_t len : {14u, 15u, 17u}) {
    auto frame = PacketBuilder()
                     .eth(kClientMac, kGatewayMac)
                     .vlan(7)
                     .ipv4(kClientV4, kVipV4)
                     .tcp(40000, 80)
                     .truncate(len)
                     .build();
    uint64_t before = stat(LB4_STAT_DROP_TRUNC_VLAN);
    EXPECT_EQ(run(frame), XDP_DROP) << len;
    EXPECT_EQ(stat(LB4_STAT_DROP_TRUNC_VLAN), before + 1) << len;
  }
}

TEST_F(FuzzRegressionTest, UdpLengthDisagreeingWithIpLengthIsForwardedUnchanged) {
  for (uint16_t udpLen : {0, 7, 9, 88, 0xffff}) {
    auto frame = PacketBuilder()
                     .eth(kClientMac, kGatewayMac)
                     .ipv4(kClientV4, kVipV4)
                     .udp(40000, 53)
                     .payload("query")
                     .build();
    fuzz::put16(frame, 14 + 20 + 4, udpLen);
    expectForwardedWithOnlyMacsChanged(frame);
  }
}

TEST_F(FuzzRegressionTest, TcpDataOffsetOutsideTheSegmentIsForwardedUnchanged) {
  for (uint8_t doff : {0, 4, 15}) {
    auto frame = PacketBuilder()
                     .eth(kClientMac, kGatewayMac)
                     .ipv6(kClientV6, kVipV6)
                     .tcp(40000, 80)
                     .payload("x")
                     .build();
    frame[14 + 40 + 12] = static_cast<uint8_t>(doff << 4);
    expectForwardedWithOnlyMacsChanged(frame);
  }
}

TEST_F(FuzzRegressionTest, ChecksumOfAForwardedFrameIsLeftAsTheClientSentIt) {
  // Valid checksums stay valid; a bad one is not "repaired" (the backend drops it).
  auto good = PacketBuilder()
                  .eth(kClientMac, kGatewayMac)
                  .ipv4(kClientV4, kVipV4)
                  .tcp(40001, 80)
                  .payload("abc")
                  .build();
  auto bad = good;
  bad[14 + 20 + 20] ^= 0x01;  // first payload byte
  for (const auto& in : {good, bad}) {
    auto out = in;
    ASSERT_EQ(run(out), XDP_TX);
    auto x = fuzz::layersOf(out);
    EXPECT_TRUE(fuzz::ipv4HeaderChecksumOk(out, x));
    EXPECT_EQ(fuzz::l4ChecksumOk(out, x), in == good);
  }
}

}  // namespace
}  // namespace lb4::test
