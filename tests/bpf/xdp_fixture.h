// Fixture of the bpf-tier tests: a fresh Dataplane (no pinning) per test,
// helpers that fill its maps through the same API the daemon uses, and a
// runner returning the action and the output frame.
#pragma once

#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/packet_builder.h"
#include "common/test_addresses.h"
#include "userspace/common/net.h"
#include "userspace/dataplane/dataplane.h"

namespace lb4::test {

struct RunResult {
  uint32_t action = 0;
  std::vector<uint8_t> frame;
};

class XdpFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dp = Dataplane::open({.pinDir = "", .conntrackSize = 4096});
    ASSERT_TRUE(dp.ok()) << dp.error();
    dp_ = std::move(*dp);
    lb4_config cfg{};
    cfg.tcp_timeout = LB4_DEFAULT_TCP_TIMEOUT;
    cfg.tcp_fin_timeout = LB4_DEFAULT_TCP_FIN_TIMEOUT;
    cfg.udp_timeout = LB4_DEFAULT_UDP_TIMEOUT;
    ASSERT_TRUE(dp_->setConfig(cfg).ok());
    receiveOnLoopback(*dp_);
  }

 public:
  // BPF_PROG_TEST_RUN without a context receives on the loopback device:
  // give it the MAC the tests' frames are sent to (kGatewayMac), as lb4d
  // does for every interface it attaches to.
  static void receiveOnLoopback(Dataplane& dp) {
    auto st = dp.setInterfaceMac(if_nametoindex("lo"), kGatewayMac);
    ASSERT_TRUE(st.ok()) << st.error();
  }

  // Key builders, also used by tests without the fixture.
  static std::array<uint8_t, 16> addr(const char* text) {
    auto a = IpAddress::parse(text);
    EXPECT_TRUE(a.ok()) << a.error();
    return a.ok() ? a->bytes : std::array<uint8_t, 16>{};
  }
  static uint8_t familyOf(const char* text) {
    return std::strchr(text, ':') ? LB4_AF_INET6 : LB4_AF_INET;
  }

  static lb4_vip_key vipKey(const char* address, uint16_t port, uint8_t proto) {
    lb4_vip_key key{};
    auto a = addr(address);
    std::memcpy(key.addr, a.data(), 16);
    key.port = htons(port);
    key.proto = proto;
    key.family = familyOf(address);
    return key;
  }

  static lb4_flow_key flowKey(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                              uint8_t proto) {
    lb4_flow_key k{};
    auto s = addr(src);
    auto d = addr(dst);
    std::memcpy(k.src, s.data(), 16);
    std::memcpy(k.dst, d.data(), 16);
    k.sport = htons(sport);
    k.dport = htons(dport);
    k.proto = proto;
    k.family = familyOf(src);
    return k;
  }

 protected:
  void addVip(const char* address, uint16_t port, uint8_t proto, uint32_t vipId,
              uint8_t flags = 0) {
    lb4_vip_value v{};
    v.vip_id = vipId;
    v.ring_size = 0;
    v.mode = LB4_MODE_DR;
    v.flags = flags;
    auto st = dp_->upsertVip(vipKey(address, port, proto), v);
    ASSERT_TRUE(st.ok()) << st.error();
  }

  void addBackend(uint32_t id, const Mac& mac, const char* address = kBackend1V4, uint32_t gen = 1,
                  bool enabled = true) {
    lb4_backend b{};
    auto a = addr(address);
    std::memcpy(b.addr, a.data(), 16);
    std::memcpy(b.mac, mac.data(), 6);
    b.family = familyOf(address);
    b.flags = enabled ? LB4_BACKEND_F_ENABLED : 0;
    b.gen = gen;
    auto st = dp_->setBackend(id, b);
    ASSERT_TRUE(st.ok()) << st.error();
  }

  void setRing(uint32_t vipId, std::vector<uint32_t> ring) {
    auto st = dp_->setRing(vipId, ring);
    ASSERT_TRUE(st.ok()) << st.error();
  }

  // One VIP (TCP and UDP port 80 on kVipV4 and kVipV6, vip ids 1..4) whose
  // ring names backend 1 only.
  void addDefaultService() {
    addBackend(1, kBackend1Mac);
    addVip(kVipV4, 80, IPPROTO_TCP, 1);
    addVip(kVipV4, 53, IPPROTO_UDP, 2);
    addVip(kVipV6, 80, IPPROTO_TCP, 3);
    addVip(kVipV6, 53, IPPROTO_UDP, 4);
    for (uint32_t id = 1; id <= 4; ++id) {
      setRing(id, std::vector<uint32_t>(7, 1));
    }
  }

  RunResult run(std::vector<uint8_t> frame) {
    RunResult r;
    auto action = dp_->testRun(frame);
    EXPECT_TRUE(action.ok()) << action.error();
    r.action = action.ok() ? *action : ~0U;
    r.frame = std::move(frame);
    return r;
  }

  uint64_t stat(lb4_stat s) {
    auto st = dp_->globalStats();
    EXPECT_TRUE(st.ok()) << st.error();
    return st.ok() ? (*st)[s] : 0;
  }

  // Only the MACs change in direct routing.
  static std::vector<uint8_t> withMacs(std::vector<uint8_t> frame, const Mac& dst, const Mac& src) {
    std::memcpy(frame.data(), dst.data(), 6);
    std::memcpy(frame.data() + 6, src.data(), 6);
    return frame;
  }

  std::unique_ptr<Dataplane> dp_;
};

}  // namespace lb4::test
