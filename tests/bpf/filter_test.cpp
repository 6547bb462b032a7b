// Packet tests of the per-VIP source lists (bpf/lib/filter.h): the longest
// matching prefix of the VIP decides, an allow list drops every other
// source, a VIP without lists reads no rule. Each drop is counted by reason
// and on the VIP. Keys are built here from the ABI, not with lb4d's code.
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "xdp_fixture.h"

namespace lb4::test {
namespace {

class SourceFilterTest : public XdpFixture {
 protected:
  void SetUp() override {
    XdpFixture::SetUp();
    if (!HasFatalFailure()) {
      addDefaultService();
    }
  }

  // The lb4_src_rules key of `prefix` on a VIP, built from the ABI here.
  static lb4_src_key ruleKey(uint32_t vipId, const char* prefix) {
    auto p = IpPrefix::parse(prefix);
    EXPECT_TRUE(p.ok()) << p.error();
    lb4_src_key key{};
    if (p.ok()) {
      key.prefixlen = 32 + p->length;
      key.vip_id = vipId;
      std::memcpy(key.addr, p->addr.bytes.data(), sizeof(key.addr));
    }
    return key;
  }

  void addRule(uint32_t vipId, const char* prefix, uint32_t action) {
    auto st = dp_->setSourceRule(ruleKey(vipId, prefix), lb4_src_rule{.action = action});
    ASSERT_TRUE(st.ok()) << st.error();
  }

  void removeRule(uint32_t vipId, const char* prefix) {
    auto st = dp_->deleteSourceRule(ruleKey(vipId, prefix));
    ASSERT_TRUE(st.ok()) << st.error();
  }

  // The action, and that exactly `reason` moved among the global counters
  // a dropped packet can touch.
  uint32_t runCounted(const std::vector<uint8_t>& frame, lb4_stat reason, uint32_t expected) {
    auto before = dp_->globalStats();
    EXPECT_TRUE(before.ok());
    RunResult r = run(frame);
    auto after = dp_->globalStats();
    EXPECT_TRUE(after.ok());
    if (before.ok() && after.ok()) {
      for (lb4_stat s : {LB4_STAT_DROP_SOURCE_DENIED, LB4_STAT_DROP_SOURCE_NOT_ALLOWED, LB4_STAT_TX,
                         LB4_STAT_CT_MISS}) {
        if (s != reason && !(s == LB4_STAT_CT_MISS && reason == LB4_STAT_TX)) {
          EXPECT_EQ((*after)[s], (*before)[s]) << "counter " << s;
        }
      }
      EXPECT_EQ((*after)[reason], (*before)[reason] + 1) << "counter " << reason;
    }
    EXPECT_EQ(r.action, expected);
    return r.action;
  }

  static std::vector<uint8_t> tcp4(const char* src, uint16_t sport = 40000) {
    return PacketBuilder().eth(kClientMac, kGatewayMac).ipv4(src, kVipV4).tcp(sport, 80).build();
  }
  static std::vector<uint8_t> tcp6(const char* src, uint16_t sport = 40000) {
    return PacketBuilder().eth(kClientMac, kGatewayMac).ipv6(src, kVipV6).tcp(sport, 80).build();
  }
};

TEST_F(SourceFilterTest, Ipv4AllowListTakesItsPrefixesAndTheLongestMatchDecides) {
  addRule(1, "198.18.0.0/28", LB4_SRC_ALLOW);  // .0 - .15: both test clients
  addRule(1, "198.18.0.11/32", LB4_SRC_DENY);  // but not this one
  addRule(1, "198.18.0.8/29", LB4_SRC_ALLOW);  // inside the /28, also allow
  addVip(kVipV4, 80, IPPROTO_TCP, 1, LB4_VIP_F_SRC_ALLOW | LB4_VIP_F_SRC_DENY);

  runCounted(tcp4(kClientV4), LB4_STAT_TX, XDP_TX);
  runCounted(tcp4("198.18.0.3"), LB4_STAT_TX, XDP_TX);
  runCounted(tcp4(kClient2V4), LB4_STAT_DROP_SOURCE_DENIED, XDP_DROP);
  runCounted(tcp4("198.18.0.16"), LB4_STAT_DROP_SOURCE_NOT_ALLOWED, XDP_DROP);
  runCounted(tcp4("203.0.113.1"), LB4_STAT_DROP_SOURCE_NOT_ALLOWED, XDP_DROP);

  // The UDP service on the same address has no list: every source.
  runCounted(PacketBuilder()
                 .eth(kClientMac, kGatewayMac)
                 .ipv4("198.18.0.16", kVipV4)
                 .udp(40000, 53)
                 .build(),
             LB4_STAT_TX, XDP_TX);

  EXPECT_EQ(dp_->vipTraffic(1)->packets, 2u);
  EXPECT_EQ(dp_->vipTraffic(1)->dropped, 3u);
  EXPECT_EQ(dp_->vipTraffic(2)->dropped, 0u);
  EXPECT_EQ(dp_->backendTraffic(1)->dropped, 0u) << "no backend was chosen for a filtered packet";
}

TEST_F(SourceFilterTest, Ipv6DenyListDropsItsPrefixesOnlyAndAnAllowInsideItReopens) {
  addRule(3, "2001:db8::/64", LB4_SRC_DENY);
  addRule(3, "2001:db8::10/128", LB4_SRC_ALLOW);
  addVip(kVipV6, 80, IPPROTO_TCP, 3, LB4_VIP_F_SRC_DENY | LB4_VIP_F_SRC_ALLOW);
  // With an allow entry the VIP has an allow list: only 2001:db8::10 is in it.
  runCounted(tcp6(kClientV6), LB4_STAT_TX, XDP_TX);
  runCounted(tcp6("2001:db8::11"), LB4_STAT_DROP_SOURCE_DENIED, XDP_DROP);
  runCounted(tcp6("2001:db8:5::1"), LB4_STAT_DROP_SOURCE_NOT_ALLOWED, XDP_DROP);

  // Deny only: what no prefix names passes.
  removeRule(3, "2001:db8::10/128");
  addVip(kVipV6, 80, IPPROTO_TCP, 3, LB4_VIP_F_SRC_DENY);
  runCounted(tcp6(kClientV6, 40001), LB4_STAT_DROP_SOURCE_DENIED, XDP_DROP);
  runCounted(tcp6("2001:db8:5::1", 40001), LB4_STAT_TX, XDP_TX);
  EXPECT_EQ(dp_->vipTraffic(3)->dropped, 3u);
}

TEST_F(SourceFilterTest, AZeroLengthPrefixMatchesEverySourceOfItsVipOnly) {
  addRule(1, "0.0.0.0/0", LB4_SRC_DENY);
  addRule(1, "198.18.0.10/32", LB4_SRC_ALLOW);
  // The same prefix on another VIP id does not leak into VIP 1's lookups.
  addRule(2, "198.18.0.0/15", LB4_SRC_ALLOW);
  addVip(kVipV4, 80, IPPROTO_TCP, 1, LB4_VIP_F_SRC_DENY | LB4_VIP_F_SRC_ALLOW);
  runCounted(tcp4(kClientV4), LB4_STAT_TX, XDP_TX);
  runCounted(tcp4(kClient2V4), LB4_STAT_DROP_SOURCE_DENIED, XDP_DROP);
  runCounted(tcp4("203.0.113.7"), LB4_STAT_DROP_SOURCE_DENIED, XDP_DROP);
}

TEST_F(SourceFilterTest, RulesOfAVipWithoutFlagsAreNotRead) {
  // lb4d writes the rules before the flags; until then nothing changes.
  addRule(1, "198.18.0.0/15", LB4_SRC_DENY);
  runCounted(tcp4(kClientV4), LB4_STAT_TX, XDP_TX);
}

TEST_F(SourceFilterTest, ADenyAddedLaterStopsAnEstablishedFlow) {
  auto syn = tcp4(kClientV4, 41000);
  auto ack = PacketBuilder()
                 .eth(kClientMac, kGatewayMac)
                 .ipv4(kClientV4, kVipV4)
                 .tcp(41000, 80, kTcpAck)
                 .payload("x")
                 .build();
  runCounted(syn, LB4_STAT_TX, XDP_TX);
  EXPECT_EQ(run(ack).action, static_cast<uint32_t>(XDP_TX));
  addRule(1, "198.18.0.10/32", LB4_SRC_DENY);
  addVip(kVipV4, 80, IPPROTO_TCP, 1, LB4_VIP_F_SRC_DENY);
  runCounted(ack, LB4_STAT_DROP_SOURCE_DENIED, XDP_DROP);
  EXPECT_EQ(dp_->vipTraffic(1)->dropped, 1u);
  EXPECT_EQ(dp_->vipTraffic(1)->packets, 2u);
}

}  // namespace
}  // namespace lb4::test
