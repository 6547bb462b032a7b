// Pinning tests: maps pinned in a directory survive a restart of the
// program (the daemon's restart path) and a layout mismatch is refused.
// Each test uses its own directory under /sys/fs/bpf and removes it.
#include <bpf/bpf.h>
#include <unistd.h>

#include <filesystem>

#include "userspace/dataplane/pin_dir.h"
#include "xdp_fixture.h"

namespace lb4::test {
namespace {

namespace fs = std::filesystem;

class PinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/sys/fs/bpf/lb4-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);  // pinned maps are files: unlink, then rmdir
    EXPECT_FALSE(fs::exists(dir_)) << "could not remove " << dir_ << ": " << ec.message();
  }

  Result<std::unique_ptr<Dataplane>> open() {
    auto dp = Dataplane::open({.pinDir = dir_, .conntrackSize = 4096});
    if (dp.ok()) {
      XdpFixture::receiveOnLoopback(**dp);
    }
    return dp;
  }

  std::string dir_;
};

TEST_F(PinTest, MapsSurviveReopenFromPinDir) {
  auto key = XdpFixture::vipKey(kVipV4, 80, IPPROTO_TCP);
  // Past the handshake: a direct-routing flow's entry is written by its first non-SYN packet.
  auto frame = PacketBuilder()
                   .eth(kClientMac, kGatewayMac)
                   .ipv4(kClientV4, kVipV4)
                   .tcp(40000, 80, kTcpAck)
                   .build();
  {
    auto dp = open();
    ASSERT_TRUE(dp.ok()) << dp.error();
    EXPECT_FALSE((*dp)->adopted());
    lb4_backend b{};
    std::memcpy(b.mac, kBackend1Mac.data(), 6);
    b.family = LB4_AF_INET;
    b.flags = LB4_BACKEND_F_ENABLED;
    b.gen = 1;
    ASSERT_TRUE((*dp)->setBackend(1, b).ok());
    ASSERT_TRUE(
        (*dp)
            ->upsertVip(key,
                        {.vip_id = 3, .ring_size = 0, .mode = LB4_MODE_DR, .flags = 0, .pad = 0})
            .ok());
    ASSERT_TRUE((*dp)->setRing(3, std::vector<uint32_t>(5, 1)).ok());
    auto out = frame;
    ASSERT_EQ(*(*dp)->testRun(out), XDP_TX);
    for (const char* name :
         {"lb4_vips", "lb4_vip_addrs", "lb4_backends", "lb4_rings", "lb4_conntrack",
          "lb4_nat_reverse", "lb4_config", "lb4_stats", "lb4_vip_stats", "lb4_backend_stats"}) {
      EXPECT_TRUE(fs::exists(dir_ + "/" + name)) << name;
    }
  }

  auto dp = open();
  ASSERT_TRUE(dp.ok()) << dp.error();
  EXPECT_TRUE((*dp)->adopted());
  auto vips = (*dp)->vips();
  ASSERT_TRUE(vips.ok()) << vips.error();
  ASSERT_EQ(vips->size(), 1U);
  EXPECT_EQ(std::memcmp(&(*vips)[0].first, &key, sizeof(key)), 0);
  EXPECT_EQ((*vips)[0].second.vip_id, 3U);
  EXPECT_EQ((*vips)[0].second.ring_size, 5U);
  auto ring = (*dp)->ring(3);
  ASSERT_TRUE(ring.ok()) << ring.error();
  EXPECT_EQ(*ring, std::vector<uint32_t>(5, 1));
  auto flowEntry =
      (*dp)->lookupFlow(XdpFixture::flowKey(kClientV4, kVipV4, 40000, 80, IPPROTO_TCP));
  ASSERT_TRUE(flowEntry.ok() && flowEntry->has_value());
  EXPECT_EQ((*flowEntry)->backend_id, 1U);
  EXPECT_EQ((*dp)->vipTraffic(3)->packets, 1U);

  // The new program forwards with the adopted state: a conntrack hit (its
  // address filter, which is not pinned, was rebuilt from lb4_vip_addrs).
  auto out = frame;
  ASSERT_EQ(*(*dp)->testRun(out), XDP_TX);
  EXPECT_EQ((*(*dp)->globalStats())[LB4_STAT_CT_HIT], 1U);
  EXPECT_EQ((*(*dp)->globalStats())[LB4_STAT_TX], 2U);
}

TEST_F(PinTest, AdoptionRecountsVipAddresses) {
  auto key = XdpFixture::vipKey(kVipV4, 80, IPPROTO_TCP);
  {
    auto dp = open();
    ASSERT_TRUE(dp.ok()) << dp.error();
    ASSERT_TRUE(
        (*dp)
            ->upsertVip(key,
                        {.vip_id = 3, .ring_size = 0, .mode = LB4_MODE_DR, .flags = 0, .pad = 0})
            .ok());
  }
  // A daemon that died half-way: the address entry is missing and a stale
  // one is left for an address without VIPs.
  UniqueFd fd(bpf_obj_get((dir_ + "/lb4_vip_addrs").c_str()));
  ASSERT_TRUE(fd.valid());
  lb4_vip_key addr = key;
  addr.port = 0;
  ASSERT_EQ(bpf_map_delete_elem(fd.get(), &addr), 0);
  lb4_vip_key stale = XdpFixture::vipKey(kOtherV4, 0, IPPROTO_UDP);
  lb4_vip_addr five{};
  five.services = 5;
  ASSERT_EQ(bpf_map_update_elem(fd.get(), &stale, &five, BPF_ANY), 0);

  auto dp = open();
  ASSERT_TRUE(dp.ok()) << dp.error();
  lb4_vip_addr entry{};
  EXPECT_EQ(bpf_map_lookup_elem(fd.get(), &addr, &entry), 0);
  EXPECT_EQ(entry.services, 1U);
  EXPECT_EQ(entry.svc[0].port, htons(80));
  EXPECT_EQ(entry.svc[0].vip.vip_id, 3U);
  EXPECT_NE(bpf_map_lookup_elem(fd.get(), &stale, &entry), 0);
}

TEST_F(PinTest, PinnedConntrackSizeWins) {
  {
    auto dp = open();
    ASSERT_TRUE(dp.ok()) << dp.error();
  }
  auto dp = Dataplane::open({.pinDir = dir_, .conntrackSize = 8192});
  ASSERT_TRUE(dp.ok()) << dp.error();
  EXPECT_TRUE((*dp)->adopted());
}

// The NAT reverse table is sized on its own (nat_reverse_size), not like
// conntrack; a pinned one keeps its size when another is asked for.
TEST_F(PinTest, NatReverseTableIsSizedOnItsOwn) {
  {
    auto dp = Dataplane::open({.pinDir = dir_, .conntrackSize = 65536, .natReverseSize = 2048});
    ASSERT_TRUE(dp.ok()) << dp.error();
  }
  EXPECT_EQ(pinnedMaxEntries((dir_ + "/lb4_conntrack").c_str()), 65536U);
  EXPECT_EQ(pinnedMaxEntries((dir_ + "/lb4_nat_reverse").c_str()), 2048U);
  auto dp = Dataplane::open({.pinDir = dir_, .conntrackSize = 65536, .natReverseSize = 8192});
  ASSERT_TRUE(dp.ok()) << dp.error();
  EXPECT_TRUE((*dp)->adopted());
  EXPECT_EQ(pinnedMaxEntries((dir_ + "/lb4_nat_reverse").c_str()), 2048U);
}

TEST_F(PinTest, WrongAbiVersionIsRefused) {
  {
    auto dp = open();
    ASSERT_TRUE(dp.ok()) << dp.error();
  }
  UniqueFd fd(bpf_obj_get((dir_ + "/lb4_config").c_str()));
  ASSERT_TRUE(fd.valid());
  uint32_t key = 0;
  lb4_config cfg{};
  ASSERT_EQ(bpf_map_lookup_elem(fd.get(), &key, &cfg), 0);
  EXPECT_EQ(cfg.abi_version, static_cast<uint32_t>(LB4_ABI_VERSION));
  cfg.abi_version = 99;
  ASSERT_EQ(bpf_map_update_elem(fd.get(), &key, &cfg, BPF_ANY), 0);

  auto dp = open();
  ASSERT_FALSE(dp.ok());
  std::string expected = "adopt maps in " + dir_ + ": layout version 99, this build needs " +
                         std::to_string(LB4_ABI_VERSION) + "; detach and remove " + dir_ + " first";
  EXPECT_EQ(dp.error(), expected);
}

TEST_F(PinTest, UnpinAllRemovesThePinDirectory) {
  auto dp = open();
  ASSERT_TRUE(dp.ok()) << dp.error();
  ASSERT_TRUE(fs::exists(dir_ + "/lb4_vips"));
  auto st = (*dp)->unpinAll();
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_FALSE(fs::exists(dir_));
}

}  // namespace
}  // namespace lb4::test
