// The userspace port of the flow hash (userspace/dataplane/flow_hash.h,
// used by `lb4ctl trace`) against the XDP program itself: for random IPv4
// and IPv6 TCP and UDP flows, the slot the program takes (seen as the
// backend MAC it forwards to) is the slot the C++ code computes.
#include "userspace/dataplane/flow_hash.h"

#include <linux/bpf.h>
#include <netinet/in.h>

#include <cstdio>
#include <random>
#include <string>

#include "xdp_fixture.h"

namespace lb4::test {
namespace {

// A prime ring whose slot i names backend i + 1; backend n's MAC ends in n.
constexpr uint32_t kRingSize = 1021;

Mac macOf(uint32_t id) { return {0x02, 0x4c, 0x42, 0x00, uint8_t(id >> 8), uint8_t(id & 0xff)}; }

class FlowHashTest : public XdpFixture {
 protected:
  void SetUp() override {
    XdpFixture::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    std::vector<uint32_t> ring(kRingSize);
    for (uint32_t i = 0; i < kRingSize; ++i) {
      ring[i] = i + 1;
      addBackend(i + 1, macOf(i + 1));
    }
    uint32_t vipId = 1;
    for (const char* vip : {kVipV4, kVipV6}) {
      for (auto [port, proto] : {std::pair{80, IPPROTO_TCP}, std::pair{53, IPPROTO_UDP}}) {
        lb4_vip_value v{};
        v.vip_id = vipId;
        v.ring_size = kRingSize;
        v.mode = LB4_MODE_DR;
        auto st = dp_->upsertVip(vipKey(vip, port, proto), v);
        ASSERT_TRUE(st.ok()) << st.error();
        setRing(vipId, ring);
        ++vipId;
      }
    }
  }
};

TEST_F(FlowHashTest, UserspaceSlotIsTheSlotTheProgramTakes) {
  std::mt19937 rng(0x4c42);
  constexpr int kFlows = 2000;
  int checked = 0;
  for (int n = 0; n < kFlows; ++n) {
    bool v6 = n % 2 == 1;
    bool tcp = (n / 2) % 2 == 0;
    char client[64];
    if (v6) {
      std::snprintf(client, sizeof(client), "2001:db8:%x:%x:%x:%x:%x:%x", unsigned(rng() & 0xffff),
                    unsigned(rng() & 0xffff), unsigned(rng() & 0xffff), unsigned(rng() & 0xffff),
                    unsigned(rng() & 0xffff), unsigned(rng() & 0xffff));
    } else {
      std::snprintf(client, sizeof(client), "198.%u.%u.%u", 18 + unsigned(rng() & 1),
                    unsigned(rng() & 0xff), unsigned(rng() & 0xff));
    }
    const char* vip = v6 ? kVipV6 : kVipV4;
    auto sport = static_cast<uint16_t>(1 + rng() % 65535);
    uint16_t dport = tcp ? 80 : 53;
    PacketBuilder b = PacketBuilder().eth(kClientMac, kGatewayMac);
    if (v6) {
      b.ipv6(client, vip);
    } else {
      b.ipv4(client, vip);
    }
    if (tcp) {
      b.tcp(sport, dport);
    } else {
      b.udp(sport, dport);
    }
    RunResult r = run(b.payload("x").build());
    ASSERT_EQ(r.action, XDP_TX) << client << " port " << sport;
    uint32_t taken = (uint32_t(r.frame[4]) << 8 | r.frame[5]) - 1;

    auto c = IpAddress::parse(client);
    auto d = IpAddress::parse(vip);
    ASSERT_TRUE(c.ok() && d.ok());
    lb4_flow_key key = makeFlowKey(*c, sport, *d, dport, tcp ? Proto::kTcp : Proto::kUdp);
    ASSERT_EQ(flowSlot(key, kRingSize), taken) << client << " port " << sport;
    ++checked;
  }
  EXPECT_EQ(checked, kFlows);
}

// The key trace builds is the conntrack key the program writes.
TEST_F(FlowHashTest, UserspaceKeyIsTheConntrackKey) {
  for (const char* client : {kClientV4, kClientV6}) {
    bool v6 = std::string(client).find(':') != std::string::npos;
    const char* vip = v6 ? kVipV6 : kVipV4;
    PacketBuilder b = PacketBuilder().eth(kClientMac, kGatewayMac);
    if (v6) {
      b.ipv6(client, vip);
    } else {
      b.ipv4(client, vip);
    }
    RunResult r = run(b.tcp(41234, 80, kTcpAck).payload("x").build());  // writes the entry
    ASSERT_EQ(r.action, XDP_TX);
    auto c = IpAddress::parse(client);
    auto d = IpAddress::parse(vip);
    ASSERT_TRUE(c.ok() && d.ok());
    auto entry = dp_->lookupFlow(makeFlowKey(*c, 41234, *d, 80, Proto::kTcp));
    ASSERT_TRUE(entry.ok()) << entry.error();
    ASSERT_TRUE(entry->has_value()) << client;
    EXPECT_EQ((*entry)->backend_id,
              flowSlot(makeFlowKey(*c, 41234, *d, 80, Proto::kTcp), kRingSize) + 1);
  }
}

}  // namespace
}  // namespace lb4::test
