// Conntrack tests: established flows keep their backend across ring
// changes and are rescheduled when their backend goes away; a direct-routing
// TCP flow gets its entry from its first packet past the SYN.
#include "xdp_fixture.h"

namespace lb4::test {
namespace {

class ConntrackTest : public XdpFixture {
 protected:
  void SetUp() override {
    XdpFixture::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    addBackend(1, kBackend1Mac, kBackend1V4);
    addBackend(2, kBackend2Mac, kBackend2V4);
    addVip(kVipV4, 80, IPPROTO_TCP, 1);
    addVip(kVipV6, 80, IPPROTO_TCP, 2);
    setRing(1, std::vector<uint32_t>(13, 1));
    setRing(2, std::vector<uint32_t>(13, 1));
  }

  static std::vector<uint8_t> flow(const char* client, uint16_t sport, uint8_t flags = kTcpAck) {
    const bool v6 = std::strchr(client, ':') != nullptr;
    PacketBuilder b;
    b.eth(kClientMac, kGatewayMac);
    if (v6) {
      b.ipv6(client, kVipV6);
    } else {
      b.ipv4(client, kVipV4);
    }
    return b.tcp(sport, 80, flags).payload("data").build();
  }

  // Opens a flow as a client does: the SYN (sent to its Maglev backend, no
  // entry), then the handshake's ACK, which creates the entry. Returns the
  // backend MAC both went to.
  Mac open(const char* client, uint16_t sport) {
    Mac syn = sentTo(flow(client, sport, kTcpSyn));
    Mac ack = sentTo(flow(client, sport));
    EXPECT_EQ(syn, ack) << "the SYN and its ACK must reach the same backend";
    return ack;
  }

  // The backend MAC the frame was sent to, after checking it was XDP_TX.
  Mac sentTo(const std::vector<uint8_t>& frame) {
    RunResult r = run(frame);
    EXPECT_EQ(r.action, XDP_TX);
    Mac mac{};
    if (r.frame.size() >= 6) {
      std::memcpy(mac.data(), r.frame.data(), 6);
    }
    return mac;
  }
};

TEST_F(ConntrackTest, FlowKeepsItsBackendWhenTheRingChanges) {
  EXPECT_EQ(open(kClientV4, 40000), kBackend1Mac);
  EXPECT_EQ(stat(LB4_STAT_SYN_UNTRACKED), 1U);
  EXPECT_EQ(stat(LB4_STAT_CT_MISS), 1U);

  // Backend 2 added: the new ring names only it.
  setRing(1, std::vector<uint32_t>(13, 2));
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend1Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
  EXPECT_EQ(sentTo(flow(kClientV4, 40001, kTcpSyn)), kBackend2Mac);
  EXPECT_EQ(sentTo(flow(kClient2V4, 40000, kTcpSyn)), kBackend2Mac);
  EXPECT_EQ(stat(LB4_STAT_SYN_UNTRACKED), 3U);
  EXPECT_EQ(stat(LB4_STAT_CT_MISS), 1U);
  EXPECT_EQ(stat(LB4_STAT_CT_RESCHED), 0U);
}

TEST_F(ConntrackTest, Ipv6FlowKeepsItsBackendWhenTheRingChanges) {
  EXPECT_EQ(open(kClientV6, 40000), kBackend1Mac);
  setRing(2, std::vector<uint32_t>(13, 2));
  EXPECT_EQ(sentTo(flow(kClientV6, 40000)), kBackend1Mac);
  EXPECT_EQ(sentTo(flow(kClientV6, 40001, kTcpSyn)), kBackend2Mac);
}

// A SYN is scheduled without state: no entry, no insert, no new
// connection counted; SYN retries of the same flow reach the same backend.
TEST_F(ConntrackTest, SynCreatesNoEntry) {
  for (const char* client : {kClientV4, kClientV6}) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(sentTo(flow(client, 40000, kTcpSyn)), kBackend1Mac);
    }
    const char* vip = std::strchr(client, ':') ? kVipV6 : kVipV4;
    auto entry = dp_->lookupFlow(flowKey(client, vip, 40000, 80, IPPROTO_TCP));
    ASSERT_TRUE(entry.ok()) << entry.error();
    EXPECT_FALSE(entry->has_value()) << client;
  }
  EXPECT_EQ(stat(LB4_STAT_SYN_UNTRACKED), 6U);
  EXPECT_EQ(stat(LB4_STAT_CT_MISS), 0U);
  auto traffic = dp_->vipTraffic(1);
  ASSERT_TRUE(traffic.ok()) << traffic.error();
  EXPECT_EQ(traffic->packets, 3U);
  EXPECT_EQ(traffic->new_connections, 0U);
  // The handshake's ACK confirms the flow: one entry, one new connection.
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend1Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_MISS), 1U);
  EXPECT_EQ(stat(LB4_STAT_CT_EVICTED_LIVE), 0U) << "a confirmation is not an eviction";
  traffic = dp_->vipTraffic(1);
  ASSERT_TRUE(traffic.ok()) << traffic.error();
  EXPECT_EQ(traffic->new_connections, 1U);
}

// The table changing between a SYN and its ACK moves the flow (it has no
// entry yet): the ACK follows the table that is current when it arrives.
TEST_F(ConntrackTest, TableChangeBeforeTheAckMovesTheUnconfirmedFlow) {
  EXPECT_EQ(sentTo(flow(kClientV4, 40000, kTcpSyn)), kBackend1Mac);
  setRing(1, std::vector<uint32_t>(13, 2));
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend2Mac);
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend2Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
}

// A SYN of a flow that has an entry (a client reusing its port, a SYN
// retry crossing the ACK) follows the entry, like every other packet.
TEST_F(ConntrackTest, SynOfAConfirmedFlowFollowsItsEntry) {
  EXPECT_EQ(open(kClientV4, 40000), kBackend1Mac);
  setRing(1, std::vector<uint32_t>(13, 2));
  EXPECT_EQ(sentTo(flow(kClientV4, 40000, kTcpSyn)), kBackend1Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
  EXPECT_EQ(stat(LB4_STAT_SYN_UNTRACKED), 1U);
}

TEST_F(ConntrackTest, EntryRecordsBackendAndGeneration) {
  EXPECT_EQ(open(kClientV4, 40000), kBackend1Mac);
  auto entry = dp_->lookupFlow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP));
  ASSERT_TRUE(entry.ok()) << entry.error();
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->backend_id, 1U);
  EXPECT_EQ((*entry)->backend_gen, 1U);
  EXPECT_EQ((*entry)->flags, 0U);  // direct routing: no clock, no expiry

  // A hit writes nothing: the entry is bit-for-bit the same afterwards.
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend1Mac);
  auto again = dp_->lookupFlow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP));
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ(std::memcmp(&**again, &**entry, sizeof(lb4_flow_value)), 0);

  auto none = dp_->lookupFlow(flowKey(kClientV4, kVipV4, 40009, 80, IPPROTO_TCP));
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_FALSE(none->has_value());
}

TEST_F(ConntrackTest, InsertedFlowIsHonoured) {
  lb4_flow_value v{};
  v.backend_id = 2;
  v.backend_gen = 1;
  ASSERT_TRUE(dp_->insertFlow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP), v).ok());
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend2Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
}

TEST_F(ConntrackTest, FlowOfDisabledBackendIsRescheduled) {
  EXPECT_EQ(open(kClientV4, 40000), kBackend1Mac);
  setRing(1, std::vector<uint32_t>(13, 2));
  addBackend(1, kBackend1Mac, kBackend1V4, 1, /*enabled=*/false);
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend2Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_RESCHED), 1U);
  // The entry now names backend 2, and the next packet is a plain hit.
  auto entry = dp_->lookupFlow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->backend_id, 2U);
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend2Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
  EXPECT_EQ(stat(LB4_STAT_CT_RESCHED), 1U);
}

TEST_F(ConntrackTest, FlowOfClearedBackendIsRescheduled) {
  EXPECT_EQ(open(kClientV4, 40000), kBackend1Mac);
  setRing(1, std::vector<uint32_t>(13, 2));
  ASSERT_TRUE(dp_->clearBackend(1).ok());
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend2Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_RESCHED), 1U);
}

TEST_F(ConntrackTest, FlowIsRescheduledWhenItsBackendIdIsReused) {
  EXPECT_EQ(open(kClientV4, 40000), kBackend1Mac);
  // Id 1 now belongs to a different machine (generation 2); the ring still
  // names id 1, so the flow is rescheduled onto the new holder of the id.
  addBackend(1, kBackend3Mac, kBackend2V4, /*gen=*/2);
  EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend3Mac);
  EXPECT_EQ(stat(LB4_STAT_CT_RESCHED), 1U);
  auto entry = dp_->lookupFlow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->backend_gen, 2U);
}

TEST_F(ConntrackTest, DrainedBackendKeepsItsFlows) {
  // Weight 0: out of the ring, still enabled.
  EXPECT_EQ(open(kClientV4, 40000), kBackend1Mac);
  setRing(1, std::vector<uint32_t>(13, 2));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sentTo(flow(kClientV4, 40000)), kBackend1Mac);
  }
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 3U);  // the ACK of open() created the entry
  EXPECT_EQ(stat(LB4_STAT_CT_RESCHED), 0U);
}

TEST_F(ConntrackTest, RescheduleWithoutUsableRingDrops) {
  EXPECT_EQ(open(kClientV4, 40000), kBackend1Mac);
  ASSERT_TRUE(dp_->clearBackend(1).ok());
  // The ring still names the cleared backend only.
  RunResult r = run(flow(kClientV4, 40000));
  EXPECT_EQ(r.action, XDP_DROP);
  EXPECT_EQ(stat(LB4_STAT_DROP_BAD_BACKEND), 1U);
}

}  // namespace
}  // namespace lb4::test
