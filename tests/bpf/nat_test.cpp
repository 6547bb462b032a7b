// Packet tests of NAT mode: forward and reply translation, FIB next hops
// (XDP_REDIRECT, XDP_TX, kernel fallback), ICMP errors in both directions,
// conntrack expiry, and the fragment / extension header / echo policies;
// and direct routing to a backend on the other link of this two-link gateway.
// Every expected frame is built from scratch by PacketBuilder, which
// computes all checksums itself; the program's incremental arithmetic is
// never trusted.
//
// bpf_fib_lookup() consults the routing table of the caller's network
// namespace, so each test builds its own namespace (two veth pairs with
// static neighbours) and runs the program from inside it.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "xdp_fixture.h"

namespace lb4::test {
namespace {

// The gateway's backend-side MAC (the client side uses kGatewayMac).
constexpr Mac kGatewayBackendMac = {0x02, 0x00, 0x00, 0x00, 0x01, 0x02};
constexpr const char* kRouterV4 = "198.18.0.254";  // a router on the client side
constexpr const char* kBackendRouterV4 = "198.18.2.253";
constexpr const char* kBackendRouterV6 = "2001:db8:2::fd";
constexpr const char* kBackend3V4 = "198.18.2.3";  // routed, no neighbour entry

// The clock of lb4_flow_value.last_seen: seconds of CLOCK_MONOTONIC_COARSE.
uint32_t nowS() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint32_t>(ts.tv_sec);
}

std::string macText(const Mac& m) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  return buf;
}

class NatTest : public XdpFixture {
 protected:
  void SetUp() override {
    ns_ = "lb4bt" + std::to_string(::getpid());
    std::string n = "ip -n " + ns_ + " ";
    std::string script =
        "set -e; ip netns del " + ns_ + " 2>/dev/null || true; ip netns add " + ns_ + "; " + n +
        "link set lo up; " + n + "link add lbc address " + macText(kGatewayMac) +
        " type veth peer name lbcp; " + n + "link add lbb address " + macText(kGatewayBackendMac) +
        " type veth peer name lbbp; " + "for d in lbc lbcp lbb lbbp; do " + n +
        "link set $d up; done; " + n + "addr add 198.18.0.1/24 dev lbc; " + n +
        "addr add 2001:db8::1/64 dev lbc nodad; " + n + "addr add 198.18.2.254/24 dev lbb; " + n +
        "addr add 2001:db8:2::fe/64 dev lbb nodad; " + n + "neigh add " + kClientV4 + " lladdr " +
        macText(kClientMac) + " dev lbc nud permanent; " + n + "neigh add " + kClientV6 +
        " lladdr " + macText(kClientMac) + " dev lbc nud permanent; " + n + "neigh add " +
        kBackend1V4 + " lladdr " + macText(kBackend1Mac) + " dev lbb nud permanent; " + n +
        "neigh add " + kBackend1V6 + " lladdr " + macText(kBackend1Mac) +
        " dev lbb nud permanent; " + "ip netns exec " + ns_ +
        " sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1";
    ASSERT_EQ(std::system(script.c_str()), 0) << script;
    created_ = true;
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = ::open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(home_, 0);
    ASSERT_GE(target, 0);
    ASSERT_EQ(::setns(target, CLONE_NEWNET), 0) << std::strerror(errno);
    ::close(target);
    clientIf_ = if_nametoindex("lbc");
    backendIf_ = if_nametoindex("lbb");
    ASSERT_NE(clientIf_, 0U);
    ASSERT_NE(backendIf_, 0U);

    XdpFixture::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    ASSERT_TRUE(dp_->addTxPort(clientIf_).ok());
    ASSERT_TRUE(dp_->addTxPort(backendIf_).ok());
    // NAT VIPs: TCP 80 -> backend port 8080, UDP 53 -> same port, on both families.
    addNatBackend(1, kBackend1V4, 8080);
    addNatBackend(2, kBackend1V4, 0);
    addNatBackend(3, kBackend1V6, 8080);
    addNatBackend(4, kBackend1V6, 0);
    addNatVip(kVipV4, 80, IPPROTO_TCP, 1, 1);
    addNatVip(kVipV4, 53, IPPROTO_UDP, 2, 2);
    addNatVip(kVipV6, 80, IPPROTO_TCP, 3, 3);
    addNatVip(kVipV6, 53, IPPROTO_UDP, 4, 4);
  }

  void TearDown() override {
    dp_.reset();
    if (home_ >= 0) {
      EXPECT_EQ(::setns(home_, CLONE_NEWNET), 0);
      ::close(home_);
    }
    if (created_) {
      std::system(("ip netns del " + ns_).c_str());
    }
  }

  void addNatBackend(uint32_t id, const char* address, uint16_t port) {
    lb4_backend b{};
    auto a = addr(address);
    std::memcpy(b.addr, a.data(), 16);
    b.port = htons(port);
    b.family = familyOf(address);
    b.flags = LB4_BACKEND_F_ENABLED;
    b.gen = 1;
    ASSERT_TRUE(dp_->setBackend(id, b).ok());
    lb4_vip_key nat{};
    std::memcpy(nat.addr, a.data(), 16);
    nat.family = b.family;
    for (uint8_t proto : {IPPROTO_TCP, IPPROTO_UDP}) {
      nat.proto = proto;
      ASSERT_TRUE(dp_->addNatAddr(nat).ok());
    }
  }

  void addNatVip(const char* address, uint16_t port, uint8_t proto, uint32_t vipId,
                 uint32_t backendId) {
    lb4_vip_value v{};
    v.vip_id = vipId;
    v.mode = LB4_MODE_NAT;
    ASSERT_TRUE(dp_->upsertVip(vipKey(address, port, proto), v).ok());
    setRing(vipId, std::vector<uint32_t>(7, backendId));
  }

  RunResult runOn(std::vector<uint8_t> frame, uint32_t ifindex) {
    RunResult r;
    auto action = dp_->testRun(frame, ifindex);
    EXPECT_TRUE(action.ok()) << action.error();
    r.action = action.ok() ? *action : ~0U;
    r.frame = std::move(frame);
    return r;
  }

  // Runs `in` (received on `ifindex`) and expects `action` and exactly `out`.
  void expectFrame(const std::vector<uint8_t>& in, uint32_t ifindex, uint32_t action,
                   const std::vector<uint8_t>& out) {
    RunResult r = runOn(in, ifindex);
    EXPECT_EQ(r.action, action);
    EXPECT_TRUE(FramesEqual(r.frame, out));
  }

  lb4_flow_value flow(const lb4_flow_key& key) {
    auto v = dp_->lookupFlow(key);
    EXPECT_TRUE(v.ok() && v->has_value());
    return v.ok() && v->has_value() ? **v : lb4_flow_value{};
  }
  lb4_nat_value reverse(const lb4_flow_key& key) {
    auto v = dp_->lookupNatReverse(key);
    EXPECT_TRUE(v.ok() && v->has_value());
    return v.ok() && v->has_value() ? **v : lb4_nat_value{};
  }

  static PacketBuilder fromClient() { return PacketBuilder().eth(kClientMac, kGatewayMac); }
  static PacketBuilder toBackend() { return PacketBuilder().eth(kGatewayBackendMac, kBackend1Mac); }
  static PacketBuilder fromBackend() {
    return PacketBuilder().eth(kBackend1Mac, kGatewayBackendMac);
  }
  static PacketBuilder toClient() { return PacketBuilder().eth(kGatewayMac, kClientMac); }
  static Ipv4Options ttl(uint8_t t) { return Ipv4Options{.ttl = t}; }
  // PacketBuilder sends IPv6 with hop limit 64; a router hop makes it 63.
  static std::vector<uint8_t> hop63(std::vector<uint8_t> f) {
    f[14 + 7] = 63;
    return f;
  }

  std::string ns_;
  bool created_ = false;
  int home_ = -1;
  uint32_t clientIf_ = 0;
  uint32_t backendIf_ = 0;
};

// ---- forward path ------------------------------------------------------------

TEST_F(NatTest, Ipv4TcpWithPortMappingIsTranslatedAndRedirected) {
  expectFrame(
      fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80).payload("GET /").build(), clientIf_,
      XDP_REDIRECT,
      toBackend().ipv4(kClientV4, kBackend1V4, ttl(63)).tcp(40000, 8080).payload("GET /").build());
  EXPECT_EQ(stat(LB4_STAT_REDIRECT), 1U);
  EXPECT_EQ(stat(LB4_STAT_CT_MISS), 1U);
  EXPECT_EQ(dp_->vipTraffic(1)->packets, 1U);
  EXPECT_EQ(dp_->backendTraffic(1)->packets, 1U);
}

TEST_F(NatTest, Ipv4UdpWithoutPortMappingIsTranslated) {
  expectFrame(
      fromClient().ipv4(kClientV4, kVipV4).udp(40000, 53).payload("query").build(), clientIf_,
      XDP_REDIRECT,
      toBackend().ipv4(kClientV4, kBackend1V4, ttl(63)).udp(40000, 53).payload("query").build());
}

TEST_F(NatTest, Ipv4UdpWithoutChecksumKeepsNone) {
  auto in = fromClient().ipv4(kClientV4, kVipV4).udp(40000, 53).payload("query").build();
  auto out =
      toBackend().ipv4(kClientV4, kBackend1V4, ttl(63)).udp(40000, 53).payload("query").build();
  in[14 + 20 + 6] = in[14 + 20 + 7] = 0;
  out[14 + 20 + 6] = out[14 + 20 + 7] = 0;
  expectFrame(in, clientIf_, XDP_REDIRECT, out);
}

TEST_F(NatTest, Ipv6TcpWithPortMappingIsTranslated) {
  expectFrame(
      fromClient().ipv6(kClientV6, kVipV6).tcp(40000, 80).payload("GET /").build(), clientIf_,
      XDP_REDIRECT,
      hop63(toBackend().ipv6(kClientV6, kBackend1V6).tcp(40000, 8080).payload("GET /").build()));
}

TEST_F(NatTest, Ipv6UdpWithoutPortMappingIsTranslated) {
  expectFrame(
      fromClient().ipv6(kClientV6, kVipV6).udp(40000, 53).payload("query").build(), clientIf_,
      XDP_REDIRECT,
      hop63(toBackend().ipv6(kClientV6, kBackend1V6).udp(40000, 53).payload("query").build()));
}

TEST_F(NatTest, Ipv6UdpChecksumIsNeverZero) {
  // Find a payload whose translated datagram sums to zero: the checksum
  // must then be sent as 0xffff, never as 0 ("no checksum" is IPv4 only).
  for (uint32_t i = 0; i < 70000; ++i) {
    std::string p = {static_cast<char>(i >> 8), static_cast<char>(i)};
    auto out = hop63(toBackend().ipv6(kClientV6, kBackend1V6).udp(40000, 53).payload(p).build());
    if (out[14 + 40 + 6] == 0xff && out[14 + 40 + 7] == 0xff) {
      expectFrame(fromClient().ipv6(kClientV6, kVipV6).udp(40000, 53).payload(p).build(), clientIf_,
                  XDP_REDIRECT, out);
      return;
    }
  }
  FAIL() << "no payload with a 0xffff checksum found";
}

TEST_F(NatTest, EgressEqualToIngressIsXdpTx) {
  // A client on the backend-side link: the next hop is out of the same interface.
  auto in = PacketBuilder()
                .eth(kClientMac, kGatewayBackendMac)
                .ipv4(kClientV4, kVipV4)
                .tcp(40001, 80)
                .build();
  auto out = toBackend().ipv4(kClientV4, kBackend1V4, ttl(63)).tcp(40001, 8080).build();
  expectFrame(in, backendIf_, XDP_TX, out);
  EXPECT_EQ(stat(LB4_STAT_TX), 1U);
}

TEST_F(NatTest, NoNeighbourLeavesTheTranslatedPacketToTheKernel) {
  addNatBackend(5, kBackend3V4, 0);
  addNatVip(kVipV4, 443, IPPROTO_TCP, 5, 5);
  // Translated, but MACs and TTL untouched: the kernel forwards it and resolves ARP.
  expectFrame(fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 443).build(), clientIf_, XDP_PASS,
              fromClient().ipv4(kClientV4, kBackend3V4).tcp(40000, 443).build());
  EXPECT_EQ(stat(LB4_STAT_FWD_KERNEL), 1U);
  EXPECT_EQ(stat(LB4_STAT_PASS), 0U);
}

TEST_F(NatTest, EgressNotAttachedLeavesTheTranslatedPacketToTheKernel) {
  ASSERT_TRUE(dp_->deleteTxPort(backendIf_).ok());
  expectFrame(fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80).build(), clientIf_, XDP_PASS,
              fromClient().ipv4(kClientV4, kBackend1V4).tcp(40000, 8080).build());
  EXPECT_EQ(stat(LB4_STAT_FWD_KERNEL), 1U);
}

TEST_F(NatTest, OversizedDontFragmentPacketIsDroppedAndCounted) {
  std::system(("ip -n " + ns_ + " link set lbb mtu 1280").c_str());
  auto in = fromClient()
                .ipv4(kClientV4, kVipV4, {.flagsFragment = 0x4000})
                .tcp(40000, 80)
                .payload(std::string(1400, 'x'))
                .build();
  RunResult r = runOn(in, clientIf_);
  EXPECT_EQ(r.action, XDP_DROP);
  EXPECT_EQ(stat(LB4_STAT_DROP_FRAG_NEEDED), 1U);
}

// The forward path keeps the FIB's answer per backend for the current
// second (lb4_nexthops). A longer packet than the cache has seen still goes
// to the FIB, which checks the egress MTU.
TEST_F(NatTest, CachedNextHopStillChecksTheMtuOfLongerPackets) {
  auto small = fromClient()
                   .ipv4(kClientV4, kVipV4, {.flagsFragment = 0x4000})
                   .tcp(40000, 80)
                   .payload("x")
                   .build();
  ASSERT_EQ(runOn(small, clientIf_).action, XDP_REDIRECT);
  std::system(("ip -n " + ns_ + " link set lbb mtu 1280").c_str());
  auto big = fromClient()
                 .ipv4(kClientV4, kVipV4, {.flagsFragment = 0x4000})
                 .tcp(40000, 80)
                 .payload(std::string(1400, 'x'))
                 .build();
  EXPECT_EQ(runOn(big, clientIf_).action, XDP_DROP);
  EXPECT_EQ(stat(LB4_STAT_DROP_FRAG_NEEDED), 1U);
  EXPECT_EQ(runOn(small, clientIf_).action, XDP_REDIRECT);
}

// A neighbour change reaches NAT traffic within a second: the cached next
// hops (per backend forward, per flow on replies) last for the current
// second of the coarse clock only.
class NatNextHopTest : public NatTest {
 protected:
  // Sends `in` on `ifindex`, moves `neighbour` on `dev` to a new MAC, and
  // expects the same packet to go to that MAC once the second has turned.
  void expectMoveSeen(const std::vector<uint8_t>& in, uint32_t ifindex, const char* neighbour,
                      const char* dev) {
    ASSERT_EQ(runOn(in, ifindex).action, XDP_REDIRECT);
    constexpr Mac kMoved = {0x02, 0x00, 0x00, 0x00, 0x02, 0x99};
    ASSERT_EQ(std::system(("ip -n " + ns_ + " neigh replace " + neighbour + " lladdr " +
                           macText(kMoved) + " dev " + dev + " nud permanent")
                              .c_str()),
              0);
    uint32_t start = nowS();
    while (nowS() == start) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    RunResult r = runOn(in, ifindex);
    EXPECT_EQ(r.action, XDP_REDIRECT);
    ASSERT_GE(r.frame.size(), 6U);
    EXPECT_TRUE(std::equal(kMoved.begin(), kMoved.end(), r.frame.begin()));
  }
};

TEST_F(NatNextHopTest, BackendMoveIsSeenWithinASecond) {
  expectMoveSeen(fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80).build(), clientIf_,
                 kBackend1V4, "lbb");
}

TEST_F(NatNextHopTest, ClientMoveIsSeenWithinASecond) {
  ASSERT_EQ(runOn(fromClient().ipv6(kClientV6, kVipV6).tcp(40000, 80).build(), clientIf_).action,
            XDP_REDIRECT);
  expectMoveSeen(fromBackend().ipv6(kBackend1V6, kClientV6).tcp(8080, 40000, kTcpAck).build(),
                 backendIf_, kClientV6, "lbc");
}

// ---- reply path --------------------------------------------------------------

TEST_F(NatTest, Ipv4TcpReplyIsTranslatedBackToTheVip) {
  ASSERT_EQ(runOn(fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80).build(), clientIf_).action,
            XDP_REDIRECT);
  expectFrame(fromBackend()
                  .ipv4(kBackend1V4, kClientV4)
                  .tcp(8080, 40000, kTcpSyn | kTcpAck)
                  .payload("hello")
                  .build(),
              backendIf_, XDP_REDIRECT,
              toClient()
                  .ipv4(kVipV4, kClientV4, ttl(63))
                  .tcp(80, 40000, kTcpSyn | kTcpAck)
                  .payload("hello")
                  .build());
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY), 1U);
}

TEST_F(NatTest, BackendSynAckAndResetAreCountedAsHealthSignals) {
  ASSERT_EQ(runOn(fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80).build(), clientIf_).action,
            XDP_REDIRECT);
  auto before = dp_->backendSignals(1);
  ASSERT_TRUE(before.ok()) << before.error();
  EXPECT_EQ(before->accepted, 0U);
  EXPECT_EQ(before->refused, 0U);
  runOn(fromBackend().ipv4(kBackend1V4, kClientV4).tcp(8080, 40000, kTcpSyn | kTcpAck).build(),
        backendIf_);
  runOn(fromBackend().ipv4(kBackend1V4, kClientV4).tcp(8080, 40000, kTcpAck).build(), backendIf_);
  auto accepted = dp_->backendSignals(1);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->accepted, 1U);
  EXPECT_EQ(accepted->refused, 0U);
  runOn(fromBackend().ipv4(kBackend1V4, kClientV4).tcp(8080, 40000, kTcpRst).build(), backendIf_);
  auto refused = dp_->backendSignals(1);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->accepted, 1U);
  EXPECT_EQ(refused->refused, 1U);
  // A new backend on the same id starts from zero.
  ASSERT_TRUE(dp_->resetBackendTraffic(1).ok());
  EXPECT_EQ(dp_->backendSignals(1)->refused, 0U);
}

TEST_F(NatTest, Ipv4UdpReplyIsTranslatedBackToTheVip) {
  ASSERT_EQ(runOn(fromClient().ipv4(kClientV4, kVipV4).udp(40000, 53).build(), clientIf_).action,
            XDP_REDIRECT);
  expectFrame(fromBackend().ipv4(kBackend1V4, kClientV4).udp(53, 40000).payload("answer").build(),
              backendIf_, XDP_REDIRECT,
              toClient().ipv4(kVipV4, kClientV4, ttl(63)).udp(53, 40000).payload("answer").build());
}

TEST_F(NatTest, Ipv6TcpReplyIsTranslatedBackToTheVip) {
  ASSERT_EQ(runOn(fromClient().ipv6(kClientV6, kVipV6).tcp(40000, 80).build(), clientIf_).action,
            XDP_REDIRECT);
  expectFrame(
      fromBackend().ipv6(kBackend1V6, kClientV6).tcp(8080, 40000, kTcpAck).payload("hello").build(),
      backendIf_, XDP_REDIRECT,
      hop63(toClient().ipv6(kVipV6, kClientV6).tcp(80, 40000, kTcpAck).payload("hello").build()));
}

TEST_F(NatTest, Ipv6UdpReplyIsTranslatedBackToTheVip) {
  ASSERT_EQ(runOn(fromClient().ipv6(kClientV6, kVipV6).udp(40000, 53).build(), clientIf_).action,
            XDP_REDIRECT);
  expectFrame(fromBackend().ipv6(kBackend1V6, kClientV6).udp(53, 40000).payload("answer").build(),
              backendIf_, XDP_REDIRECT,
              hop63(toClient().ipv6(kVipV6, kClientV6).udp(53, 40000).payload("answer").build()));
}

TEST_F(NatTest, BackendTrafficOutsideAnyFlowPassesUntouched) {
  auto in = fromBackend().ipv4(kBackend1V4, kClientV4).tcp(8080, 40999, kTcpAck).build();
  RunResult r = runOn(in, backendIf_);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_TRUE(FramesEqual(r.frame, in));
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY), 0U);
}

// After a failover the new gateway has no reverse entry for a flow the old
// one translated: a backend port that serves one NAT VIP only is translated
// back to it without state (lb4_nat_origins).
TEST_F(NatTest, ReplyWithoutReverseEntryIsTranslatedByItsBackendPortsOnlyVip) {
  auto reply = [](const char* src, const char* dst, uint16_t sport) {
    return fromBackend().ipv4(src, dst).tcp(sport, 40999, kTcpAck).payload("late").build();
  };
  auto plain = reply(kBackend1V4, kClientV4, 8080);
  RunResult r = runOn(plain, backendIf_);
  EXPECT_EQ(r.action, XDP_PASS) << "no origin entry: the kernel gets it";
  EXPECT_TRUE(FramesEqual(r.frame, plain));

  lb4_vip_key origin{};
  auto b = addr(kBackend1V4);
  std::memcpy(origin.addr, b.data(), 16);
  origin.port = htons(8080);
  origin.proto = IPPROTO_TCP;
  origin.family = LB4_AF_INET;
  lb4_nat_origin vip{};
  auto v = addr(kVipV4);
  std::memcpy(vip.vip_addr, v.data(), 16);
  vip.vip_port = htons(80);
  vip.backend_id = 1;
  ASSERT_TRUE(dp_->setNatOrigin(origin, vip).ok());

  expectFrame(
      plain, backendIf_, XDP_REDIRECT,
      toClient().ipv4(kVipV4, kClientV4, ttl(63)).tcp(80, 40999, kTcpAck).payload("late").build());
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY_STATELESS), 1U);
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY), 0U);
  // The gateway's own connection to the backend port (lb4d's health probe
  // to 198.18.2.254, an address of this host) is not a reply: untouched.
  auto probe =
      fromBackend().ipv4(kBackend1V4, "198.18.2.254").tcp(8080, 50000, kTcpSyn | kTcpAck).build();
  r = runOn(probe, backendIf_);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_TRUE(FramesEqual(r.frame, probe));
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY_STATELESS), 1U);
  // Another port of the same backend is not that VIP's: untouched.
  auto other = reply(kBackend1V4, kClientV4, 9090);
  r = runOn(other, backendIf_);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_TRUE(FramesEqual(r.frame, other));
  // A flow with its reverse entry still takes the stateful path.
  ASSERT_EQ(runOn(fromClient().ipv4(kClientV4, kVipV4).tcp(41000, 80).build(), clientIf_).action,
            XDP_REDIRECT);
  runOn(fromBackend().ipv4(kBackend1V4, kClientV4).tcp(8080, 41000, kTcpAck).build(), backendIf_);
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY), 1U);
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY_STATELESS), 1U);
}

TEST_F(NatTest, ForwardEntryHasItsReverseEntry) {
  runOn(fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80).build(), clientIf_);
  auto fwd = flow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP));
  EXPECT_EQ(fwd.flags, LB4_FLOW_F_NAT);
  EXPECT_EQ(fwd.backend_id, 1U);
  EXPECT_GE(fwd.last_seen, nowS() - 1);
  // The reverse entry lives in its own map, not in conntrack.
  EXPECT_FALSE(
      dp_->lookupFlow(flowKey(kBackend1V4, kClientV4, 8080, 40000, IPPROTO_TCP))->has_value());
  auto rev = reverse(flowKey(kBackend1V4, kClientV4, 8080, 40000, IPPROTO_TCP));
  EXPECT_EQ(rev.flags, LB4_FLOW_F_NAT);
  EXPECT_EQ(std::memcmp(rev.vip_addr, addr(kVipV4).data(), 16), 0);
  EXPECT_EQ(ntohs(rev.vip_port), 80);
  EXPECT_EQ(rev.backend_id, 1U);
  EXPECT_EQ(rev.last_seen, fwd.last_seen);
}

// ---- ICMP ---------------------------------------------------------------------

TEST_F(NatTest, Ipv4FragNeededToVipReachesTheBackendTranslated) {
  runOn(fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80).build(), clientIf_);
  // A router on the client side could not forward the VIP's reply.
  auto quoted = ipPacket(
      fromBackend().ipv4(kVipV4, kClientV4).tcp(80, 40000, kTcpAck).payload("0123456789").build());
  auto quotedOut = ipPacket(fromBackend()
                                .ipv4(kBackend1V4, kClientV4)
                                .tcp(8080, 40000, kTcpAck)
                                .payload("0123456789")
                                .build());
  expectFrame(fromClient().ipv4(kRouterV4, kVipV4).icmp(3, 4, 1400).payload(quoted).build(),
              clientIf_, XDP_REDIRECT,
              toBackend()
                  .ipv4(kRouterV4, kBackend1V4, ttl(63))
                  .icmp(3, 4, 1400)
                  .payload(quotedOut)
                  .build());
  EXPECT_EQ(stat(LB4_STAT_ICMP_TO_BACKEND), 1U);
}

TEST_F(NatTest, Ipv4FragNeededWithShortQuoteToVipIsTranslated) {
  runOn(fromClient().ipv4(kClientV4, kVipV4).udp(40000, 53).build(), clientIf_);
  // Only the IP header and 8 bytes of UDP are quoted (RFC 792 minimum).
  auto quoted =
      ipPacket(fromBackend().ipv4(kVipV4, kClientV4).udp(53, 40000).payload("data").build());
  auto quotedOut =
      ipPacket(fromBackend().ipv4(kBackend1V4, kClientV4).udp(53, 40000).payload("data").build());
  // The quoted UDP checksum is inside the quote: it is translated too. Cut both quotes.
  quoted.resize(28);
  quotedOut.resize(28);
  expectFrame(fromClient().ipv4(kRouterV4, kVipV4).icmp(3, 4, 1400).payload(quoted).build(),
              clientIf_, XDP_REDIRECT,
              toBackend()
                  .ipv4(kRouterV4, kBackend1V4, ttl(63))
                  .icmp(3, 4, 1400)
                  .payload(quotedOut)
                  .build());
}

TEST_F(NatTest, Ipv4FragNeededFromBackendSideReachesTheClientTranslated) {
  runOn(fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80).build(), clientIf_);
  // A router behind the gateway could not forward the translated request.
  auto quoted = ipPacket(toBackend()
                             .ipv4(kClientV4, kBackend1V4, ttl(62))
                             .tcp(40000, 8080)
                             .payload(std::string(32, 'u'))
                             .build());
  auto quotedOut = ipPacket(toBackend()
                                .ipv4(kClientV4, kVipV4, ttl(62))
                                .tcp(40000, 80)
                                .payload(std::string(32, 'u'))
                                .build());
  expectFrame(
      fromBackend().ipv4(kBackendRouterV4, kClientV4).icmp(3, 4, 1400).payload(quoted).build(),
      backendIf_, XDP_REDIRECT,
      toClient()
          .ipv4(kBackendRouterV4, kClientV4, ttl(63))
          .icmp(3, 4, 1400)
          .payload(quotedOut)
          .build());
  EXPECT_EQ(stat(LB4_STAT_ICMP_TO_CLIENT), 1U);
}

TEST_F(NatTest, Ipv4PortUnreachableFromBackendHasTheVipAsSource) {
  runOn(fromClient().ipv4(kClientV4, kVipV4).udp(40000, 53).build(), clientIf_);
  auto quoted = ipPacket(
      toBackend().ipv4(kClientV4, kBackend1V4, ttl(63)).udp(40000, 53).payload("q").build());
  auto quotedOut =
      ipPacket(toBackend().ipv4(kClientV4, kVipV4, ttl(63)).udp(40000, 53).payload("q").build());
  expectFrame(fromBackend().ipv4(kBackend1V4, kClientV4).icmp(3, 3).payload(quoted).build(),
              backendIf_, XDP_REDIRECT,
              toClient().ipv4(kVipV4, kClientV4, ttl(63)).icmp(3, 3).payload(quotedOut).build());
}

TEST_F(NatTest, Ipv6PacketTooBigToVipReachesTheBackendTranslated) {
  runOn(fromClient().ipv6(kClientV6, kVipV6).tcp(40000, 80).build(), clientIf_);
  auto quoted = ipPacket(
      fromBackend().ipv6(kVipV6, kClientV6).tcp(80, 40000, kTcpAck).payload("0123456789").build());
  auto quotedOut = ipPacket(fromBackend()
                                .ipv6(kBackend1V6, kClientV6)
                                .tcp(8080, 40000, kTcpAck)
                                .payload("0123456789")
                                .build());
  expectFrame(fromClient().ipv6("2001:db8::fe", kVipV6).icmp(2, 0, 1280).payload(quoted).build(),
              clientIf_, XDP_REDIRECT,
              hop63(toBackend()
                        .ipv6("2001:db8::fe", kBackend1V6)
                        .icmp(2, 0, 1280)
                        .payload(quotedOut)
                        .build()));
  EXPECT_EQ(stat(LB4_STAT_ICMP_TO_BACKEND), 1U);
}

TEST_F(NatTest, Ipv6PacketTooBigFromBackendSideReachesTheClientTranslated) {
  runOn(fromClient().ipv6(kClientV6, kVipV6).udp(40000, 53).build(), clientIf_);
  auto quoted = ipPacket(toBackend()
                             .ipv6(kClientV6, kBackend1V6)
                             .udp(40000, 53)
                             .payload(std::string(40, 'u'))
                             .build());
  auto quotedOut = ipPacket(
      toBackend().ipv6(kClientV6, kVipV6).udp(40000, 53).payload(std::string(40, 'u')).build());
  expectFrame(
      fromBackend().ipv6(kBackendRouterV6, kClientV6).icmp(2, 0, 1280).payload(quoted).build(),
      backendIf_, XDP_REDIRECT,
      hop63(toClient()
                .ipv6(kBackendRouterV6, kClientV6)
                .icmp(2, 0, 1280)
                .payload(quotedOut)
                .build()));
  EXPECT_EQ(stat(LB4_STAT_ICMP_TO_CLIENT), 1U);
}

TEST_F(NatTest, Ipv6UnreachableSentByBackendHasTheVipAsSource) {
  runOn(fromClient().ipv6(kClientV6, kVipV6).udp(40000, 53).build(), clientIf_);
  auto quoted =
      ipPacket(toBackend().ipv6(kClientV6, kBackend1V6).udp(40000, 53).payload("q").build());
  auto quotedOut =
      ipPacket(toBackend().ipv6(kClientV6, kVipV6).udp(40000, 53).payload("q").build());
  expectFrame(fromBackend().ipv6(kBackend1V6, kClientV6).icmp(1, 4).payload(quoted).build(),
              backendIf_, XDP_REDIRECT,
              hop63(toClient().ipv6(kVipV6, kClientV6).icmp(1, 4).payload(quotedOut).build()));
}

TEST_F(NatTest, IcmpErrorAboutUnknownFlowPasses) {
  auto quoted = ipPacket(fromBackend().ipv4(kVipV4, kClientV4).tcp(80, 41234, kTcpAck).build());
  auto in = fromClient().ipv4(kRouterV4, kVipV4).icmp(3, 4, 1400).payload(quoted).build();
  RunResult r = runOn(in, clientIf_);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_TRUE(FramesEqual(r.frame, in));
  EXPECT_EQ(stat(LB4_STAT_PASS_ICMP), 1U);
}

TEST_F(NatTest, TruncatedIcmpErrorToVipIsDropped) {
  auto quoted = ipPacket(fromBackend().ipv4(kVipV4, kClientV4).tcp(80, 40000).build());
  quoted.resize(24);  // IP header and half the ports
  RunResult r = runOn(fromClient().ipv4(kRouterV4, kVipV4).icmp(3, 4, 1400).payload(quoted).build(),
                      clientIf_);
  EXPECT_EQ(r.action, XDP_DROP);
  EXPECT_EQ(stat(LB4_STAT_DROP_BAD_ICMP), 1U);
}

TEST_F(NatTest, EchoRequestToVipPassesToTheKernel) {
  auto in = fromClient().ipv4(kClientV4, kVipV4).icmp(8, 0, 0x00010001).payload("ping").build();
  RunResult r = runOn(in, clientIf_);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_TRUE(FramesEqual(r.frame, in));
  EXPECT_EQ(stat(LB4_STAT_PASS_ICMP), 1U);
  auto in6 = fromClient().ipv6(kClientV6, kVipV6).icmp(128, 0, 0x00010001).payload("ping").build();
  EXPECT_EQ(runOn(in6, clientIf_).action, XDP_PASS);
  EXPECT_EQ(stat(LB4_STAT_PASS_ICMP), 2U);
}

TEST_F(NatTest, DirectRoutingIcmpErrorGoesToTheBackendUnchanged) {
  addBackend(6, kBackend2Mac, kBackend2V4);
  addVip(kOtherV4, 80, IPPROTO_TCP, 6);  // a DR VIP
  setRing(6, {6});
  // The flow's first packet past its SYN writes the entry the error is matched to.
  ASSERT_EQ(run(fromClient().ipv4(kClientV4, kOtherV4).tcp(40000, 80, kTcpAck).build()).action,
            XDP_TX);
  auto quoted = ipPacket(fromBackend().ipv4(kOtherV4, kClientV4).tcp(80, 40000, kTcpAck).build());
  auto in = fromClient().ipv4(kRouterV4, kOtherV4).icmp(3, 4, 1400).payload(quoted).build();
  expectFrame(in, clientIf_, XDP_TX, withMacs(in, kBackend2Mac, kGatewayMac));
  EXPECT_EQ(stat(LB4_STAT_ICMP_TO_BACKEND), 1U);
}

// ---- fragments and extension headers -------------------------------------------

TEST_F(NatTest, NonFirstFragmentToVipPassesAndIsCounted) {
  auto in = fromClient()
                .ipv4(kClientV4, kVipV4, {.flagsFragment = 10, .protocol = 6})
                .payload(std::string(16, 'x'))
                .build();
  RunResult r = runOn(in, clientIf_);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_EQ(stat(LB4_STAT_PASS_FRAGMENT), 1U);
}

TEST_F(NatTest, FirstFragmentToVipIsDropped) {
  auto in = fromClient()
                .ipv4(kClientV4, kVipV4, {.flagsFragment = kIpMoreFragments})
                .udp(40000, 53)
                .payload(std::string(64, 'x'))
                .build();
  EXPECT_EQ(runOn(in, clientIf_).action, XDP_DROP);
  EXPECT_EQ(stat(LB4_STAT_DROP_FRAGMENT), 1U);
}

TEST_F(NatTest, Ipv6ExtensionHeaderToVipIsDropped) {
  // A fragment header (44) in front of the UDP header.
  auto in = fromClient().ipv6(kClientV6, kVipV6, 44).payload(std::string(24, '\0')).build();
  EXPECT_EQ(runOn(in, clientIf_).action, XDP_DROP);
  EXPECT_EQ(stat(LB4_STAT_DROP_IPV6_EXT), 1U);
  // Not to a VIP address: not ours.
  auto other = fromClient().ipv6(kClientV6, kOtherV6, 44).payload(std::string(24, '\0')).build();
  EXPECT_EQ(runOn(other, clientIf_).action, XDP_PASS);
}

// ---- expiry -----------------------------------------------------------------------

class NatExpiryTest : public NatTest {
 protected:
  // Inserts the forward and reverse entries of client:40000 -> VIP:80 (TCP)
  // or :53 (UDP) on backend `id`, last seen `ageS` seconds ago.
  void insertFlow(uint8_t proto, uint64_t ageS, uint8_t extraFlags = 0) {
    uint16_t vport = proto == IPPROTO_TCP ? 80 : 53;
    uint16_t bport = proto == IPPROTO_TCP ? 8080 : 53;
    lb4_flow_value v{};
    v.backend_id = proto == IPPROTO_TCP ? 1 : 2;
    v.backend_gen = 1;
    v.last_seen = nowS() - static_cast<uint32_t>(ageS);  // modular, like the program
    v.flags = LB4_FLOW_F_NAT | extraFlags;
    ASSERT_TRUE(dp_->insertFlow(flowKey(kClientV4, kVipV4, 40000, vport, proto), v).ok());
    lb4_nat_value rv{};
    auto a = addr(kVipV4);
    std::memcpy(rv.vip_addr, a.data(), 16);
    rv.vip_port = htons(vport);
    rv.flags = v.flags;
    rv.last_seen = v.last_seen;
    rv.backend_id = v.backend_id;
    ASSERT_TRUE(
        dp_->insertNatReverse(flowKey(kBackend1V4, kClientV4, bport, 40000, proto), rv).ok());
  }

  std::vector<uint8_t> tcpFromClient(uint8_t flags = kTcpAck) {
    return fromClient().ipv4(kClientV4, kVipV4).tcp(40000, 80, flags).build();
  }
  std::vector<uint8_t> tcpReply(uint8_t flags = kTcpAck) {
    return fromBackend().ipv4(kBackend1V4, kClientV4).tcp(8080, 40000, flags).build();
  }
};

TEST_F(NatExpiryTest, IdleTcpFlowWithinTimeoutIsAHit) {
  insertFlow(IPPROTO_TCP, LB4_DEFAULT_TCP_TIMEOUT - 100);
  EXPECT_EQ(runOn(tcpFromClient(), clientIf_).action, XDP_REDIRECT);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
  EXPECT_EQ(runOn(tcpReply(), backendIf_).action, XDP_REDIRECT);
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY), 1U);
  // The hit refreshed last_seen (it was far older than a second).
  auto fwd = flow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP));
  EXPECT_GE(fwd.last_seen, nowS() - 5);
}

TEST_F(NatExpiryTest, IdleTcpFlowPastTimeoutIsScheduledAnew) {
  insertFlow(IPPROTO_TCP, LB4_DEFAULT_TCP_TIMEOUT + 10);
  // The reply direction has expired too: it passes untranslated.
  auto reply = tcpReply();
  RunResult r = runOn(reply, backendIf_);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_TRUE(FramesEqual(r.frame, reply));
  EXPECT_EQ(stat(LB4_STAT_CT_EXPIRED), 1U);
  EXPECT_EQ(stat(LB4_STAT_NAT_REPLY), 0U);
  // The next client packet schedules the flow again and renews both entries.
  EXPECT_EQ(runOn(tcpFromClient(kTcpSyn), clientIf_).action, XDP_REDIRECT);
  EXPECT_EQ(stat(LB4_STAT_CT_EXPIRED), 2U);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 0U);
  auto rev = reverse(flowKey(kBackend1V4, kClientV4, 8080, 40000, IPPROTO_TCP));
  EXPECT_GE(rev.last_seen, nowS() - 5);
  EXPECT_EQ(runOn(tcpReply(), backendIf_).action, XDP_REDIRECT);
}

TEST_F(NatExpiryTest, UdpFlowPastItsTimeoutExpires) {
  insertFlow(IPPROTO_UDP, LB4_DEFAULT_UDP_TIMEOUT + 10);
  EXPECT_EQ(runOn(fromClient().ipv4(kClientV4, kVipV4).udp(40000, 53).build(), clientIf_).action,
            XDP_REDIRECT);
  EXPECT_EQ(stat(LB4_STAT_CT_EXPIRED), 1U);
}

TEST_F(NatExpiryTest, UdpFlowWithinItsTimeoutIsAHit) {
  insertFlow(IPPROTO_UDP, LB4_DEFAULT_UDP_TIMEOUT - 10);
  EXPECT_EQ(runOn(fromClient().ipv4(kClientV4, kVipV4).udp(40000, 53).build(), clientIf_).action,
            XDP_REDIRECT);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
}

TEST_F(NatExpiryTest, FinMarksBothEntriesClosing) {
  insertFlow(IPPROTO_TCP, 0);
  EXPECT_EQ(runOn(tcpFromClient(kTcpFin | kTcpAck), clientIf_).action, XDP_REDIRECT);
  EXPECT_TRUE(flow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP)).flags & LB4_FLOW_F_CLOSING);
  EXPECT_TRUE(reverse(flowKey(kBackend1V4, kClientV4, 8080, 40000, IPPROTO_TCP)).flags &
              LB4_FLOW_F_CLOSING);
}

TEST_F(NatExpiryTest, RstFromBackendMarksBothEntriesClosing) {
  insertFlow(IPPROTO_TCP, 0);
  EXPECT_EQ(runOn(tcpReply(kTcpRst | kTcpAck), backendIf_).action, XDP_REDIRECT);
  EXPECT_TRUE(flow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP)).flags & LB4_FLOW_F_CLOSING);
  EXPECT_TRUE(reverse(flowKey(kBackend1V4, kClientV4, 8080, 40000, IPPROTO_TCP)).flags &
              LB4_FLOW_F_CLOSING);
}

TEST_F(NatExpiryTest, ClosingFlowExpiresAfterTheShortLinger) {
  // Idle longer than the FIN linger but far shorter than the TCP timeout.
  insertFlow(IPPROTO_TCP, LB4_DEFAULT_TCP_FIN_TIMEOUT + 5, LB4_FLOW_F_CLOSING);
  EXPECT_EQ(runOn(tcpFromClient(kTcpSyn), clientIf_).action, XDP_REDIRECT);
  EXPECT_EQ(stat(LB4_STAT_CT_EXPIRED), 1U);
  // The new connection's entry is not closing any more.
  EXPECT_FALSE(flow(flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP)).flags & LB4_FLOW_F_CLOSING);
}

TEST_F(NatExpiryTest, ClosingFlowWithinTheLingerIsAHit) {
  insertFlow(IPPROTO_TCP, LB4_DEFAULT_TCP_FIN_TIMEOUT - 5, LB4_FLOW_F_CLOSING);
  EXPECT_EQ(runOn(tcpFromClient(), clientIf_).action, XDP_REDIRECT);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
}

TEST_F(NatExpiryTest, ConfiguredTimeoutsApply) {
  lb4_config cfg{};
  cfg.tcp_timeout = 5;
  cfg.tcp_fin_timeout = 1;
  cfg.udp_timeout = 5;
  ASSERT_TRUE(dp_->setConfig(cfg).ok());
  insertFlow(IPPROTO_TCP, 10);
  EXPECT_EQ(runOn(tcpFromClient(), clientIf_).action, XDP_REDIRECT);
  EXPECT_EQ(stat(LB4_STAT_CT_EXPIRED), 1U);
}

// Direct routing with clients on one link and the backend on the other
// (issue 12 item 3): the frame leaves through the backend's interface
// (XDP_REDIRECT via lb4_tx_ports) with that interface's own MAC as source;
// a backend on the receiving link is still sent back with XDP_TX; a backend
// whose interface is no longer attached is dropped, counted, never sent
// back out of the client link.
TEST_F(NatTest, DirectRoutingToABackendOnAnotherLinkLeavesThroughThatLink) {
  auto addDr = [&](uint32_t ifindex) {
    lb4_backend b{};
    auto a = addr(kBackend2V4);
    std::memcpy(b.addr, a.data(), 16);
    std::memcpy(b.mac, kBackend2Mac.data(), 6);
    b.family = LB4_AF_INET;
    b.flags = LB4_BACKEND_F_ENABLED;
    b.gen = 1;
    b.ifindex = ifindex;
    ASSERT_TRUE(dp_->setBackend(9, b).ok());
  };
  addDr(backendIf_);
  addVip(kOtherV4, 80, IPPROTO_TCP, 9);
  setRing(9, {9});
  auto in = fromClient().ipv4(kClientV4, kOtherV4).tcp(40000, 80).build();
  expectFrame(in, clientIf_, XDP_REDIRECT, withMacs(in, kBackend2Mac, kGatewayBackendMac));
  EXPECT_EQ(stat(LB4_STAT_REDIRECT), 1U);
  EXPECT_EQ(stat(LB4_STAT_TX), 0U);

  // The same backend entry, received on the backend's own link: XDP_TX.
  auto onBackendLink = PacketBuilder()
                           .eth(kClientMac, kGatewayBackendMac)
                           .ipv4(kClientV4, kOtherV4)
                           .tcp(40001, 80)
                           .build();
  expectFrame(onBackendLink, backendIf_, XDP_TX,
              withMacs(onBackendLink, kBackend2Mac, kGatewayBackendMac));
  EXPECT_EQ(stat(LB4_STAT_TX), 1U);

  // Its interface detached (no lb4_ifaces / lb4_tx_ports entry): dropped.
  ASSERT_TRUE(dp_->deleteTxPort(backendIf_).ok());
  RunResult r = runOn(in, clientIf_);
  EXPECT_EQ(r.action, XDP_DROP);
  EXPECT_EQ(stat(LB4_STAT_DROP_NO_EGRESS), 1U);
  EXPECT_EQ(stat(LB4_STAT_TX), 1U);
}

TEST_F(NatExpiryTest, DirectRoutingEntriesNeverExpire) {
  addBackend(6, kBackend2Mac, kBackend2V4);
  addVip(kOtherV4, 80, IPPROTO_TCP, 6);
  setRing(6, {6});
  lb4_flow_value v{};
  v.backend_id = 6;
  v.backend_gen = 1;
  v.last_seen = nowS() - LB4_DEFAULT_TCP_TIMEOUT * 2;  // long idle
  ASSERT_TRUE(dp_->insertFlow(flowKey(kClientV4, kOtherV4, 40000, 80, IPPROTO_TCP), v).ok());
  EXPECT_EQ(run(fromClient().ipv4(kClientV4, kOtherV4).tcp(40000, 80, kTcpAck).build()).action,
            XDP_TX);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), 1U);
  EXPECT_EQ(stat(LB4_STAT_CT_EXPIRED), 0U);
  // A DR hit writes nothing.
  EXPECT_EQ(flow(flowKey(kClientV4, kOtherV4, 40000, 80, IPPROTO_TCP)).last_seen,
            nowS() - LB4_DEFAULT_TCP_TIMEOUT * 2);
}

}  // namespace
}  // namespace lb4::test
