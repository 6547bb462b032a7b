// Map limits and atomicity of the XDP program's maps: a full VIP or backend
// table gives a clear error, a full conntrack evicts (LRU) and the evicted
// flow is scheduled again to the same backend, and Maglev tables swapped
// continuously under a packet stream never leave a packet without a backend.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "common/packet_builder.h"
#include "common/test_addresses.h"
#include "userspace/common/net.h"
#include "userspace/dataplane/dataplane.h"
#include "userspace/maglev/maglev.h"
#include "xdp_fixture.h"

namespace lb4::test {
namespace {

const std::array<Mac, 4> kMacs = {Mac{0x02, 0, 0, 0, 0x02, 0x01}, Mac{0x02, 0, 0, 0, 0x02, 0x02},
                                  Mac{0x02, 0, 0, 0, 0x02, 0x03}, Mac{0x02, 0, 0, 0, 0x02, 0x04}};

class LimitsTest : public ::testing::Test {
 protected:
  void open(uint32_t conntrackSize = 4096) {
    auto dp = Dataplane::open({.pinDir = "", .conntrackSize = conntrackSize});
    ASSERT_TRUE(dp.ok()) << dp.error();
    dp_ = std::move(*dp);
    XdpFixture::receiveOnLoopback(*dp_);
  }

  void addBackends() {
    for (uint32_t id = 1; id <= 4; ++id) {
      lb4_backend b{};
      auto a = IpAddress::parse(fmt::format("198.18.2.{}", id));
      std::memcpy(b.addr, a->bytes.data(), 16);
      std::memcpy(b.mac, kMacs[id - 1].data(), 6);
      b.family = LB4_AF_INET;
      b.flags = LB4_BACKEND_F_ENABLED;
      b.gen = id;
      ASSERT_TRUE(dp_->setBackend(id, b).ok());
    }
  }

  void addVip(uint32_t vipId, const std::vector<uint32_t>& ring) {
    ASSERT_TRUE(dp_->setRing(vipId, ring).ok());
    lb4_vip_value v{};
    v.vip_id = vipId;
    v.mode = LB4_MODE_DR;
    auto key = ServiceKey::parse(kVip)->toAbi();
    auto st = dp_->upsertVip(key, v);
    ASSERT_TRUE(st.ok()) << st.error();
  }

  static std::vector<uint32_t> ringOf(std::vector<uint32_t> ids, uint32_t size) {
    std::vector<MaglevBackend> in;
    for (uint32_t id : ids) {
      in.push_back({.id = id, .weight = 100, .key = fmt::format("198.18.2.{}", id)});
    }
    return buildMaglevRing(in, size);
  }

  static std::vector<uint8_t> syn(uint32_t n) {
    return PacketBuilder()
        .eth(kClientMac, kGatewayMac)
        .ipv4(fmt::format("198.18.{}.{}", 64 + (n >> 16) % 64, (n >> 8) & 0xff), "198.18.1.1")
        .tcp(static_cast<uint16_t>(1024 + (n & 0xff) * 200 + (n >> 24)), 80)
        .build();
  }

  // A packet past the handshake of flow n: what creates a direct-routing
  // flow's entry when it has none.
  static std::vector<uint8_t> ack(uint32_t n) {
    auto f = syn(n);
    f[14 + 20 + 13] = kTcpAck;  // TCP flags; the checksum does not matter to lb4
    return f;
  }

  // Runs the test thread on CPU 0 (its per-CPU LRU share) until TearDown.
  void pinToCpu0() {
    ASSERT_EQ(sched_getaffinity(0, sizeof(oldAffinity_), &oldAffinity_), 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    pinned_ = true;
  }
  void TearDown() override {
    if (pinned_) {
      EXPECT_EQ(sched_setaffinity(0, sizeof(oldAffinity_), &oldAffinity_), 0);
    }
  }

  // Entries of conntrack one CPU's LRU list holds (BPF_F_NO_COMMON_LRU).
  uint32_t cpuShare() const {
    return dp_->conntrackCapacity() / static_cast<uint32_t>(libbpf_num_possible_cpus());
  }

  uint64_t stat(lb4_stat s) {
    auto st = dp_->globalStats();
    EXPECT_TRUE(st.ok());
    return st.ok() ? (*st)[s] : 0;
  }

  static constexpr const char* kVip = "198.18.1.1:80/tcp";
  std::unique_ptr<Dataplane> dp_;
  cpu_set_t oldAffinity_{};
  bool pinned_ = false;
};

TEST_F(LimitsTest, FullVipTableGivesAClearError) {
  open();
  lb4_vip_value v{};
  v.mode = LB4_MODE_DR;
  for (uint32_t i = 0; i < LB4_MAX_VIPS; ++i) {
    auto key =
        ServiceKey::parse(fmt::format("198.18.{}.{}:80/tcp", 100 + i / 256, i % 256))->toAbi();
    v.vip_id = i;
    auto st = dp_->upsertVip(key, v);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error();
  }
  auto key = ServiceKey::parse("198.18.120.1:80/tcp")->toAbi();
  v.vip_id = 0;
  auto st = dp_->upsertVip(key, v);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("update map lb4_vip"), std::string::npos) << st.error();
  EXPECT_NE(st.error().find("198.18.120.1:80/tcp"), std::string::npos) << st.error();
  // Nothing half-written: the address count was rolled back.
  auto vips = dp_->vips();
  ASSERT_TRUE(vips.ok());
  EXPECT_EQ(vips->size(), LB4_MAX_VIPS);
  auto frame = PacketBuilder()
                   .eth(kClientMac, kGatewayMac)
                   .ipv4(kClientV4, "198.18.120.1")
                   .tcp(40000, 80)
                   .build();
  auto out = frame;
  EXPECT_EQ(*dp_->testRun(out), XDP_PASS);
}

TEST_F(LimitsTest, BackendIdsBeyondTheTableAreRefused) {
  open();
  lb4_backend b{};
  b.family = LB4_AF_INET;
  EXPECT_TRUE(dp_->setBackend(LB4_MAX_BACKENDS - 1, b).ok());
  auto st = dp_->setBackend(LB4_MAX_BACKENDS, b);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("out of range"), std::string::npos) << st.error();
  auto ring = dp_->setRing(0, std::vector<uint32_t>(7, LB4_MAX_BACKENDS));
  ASSERT_FALSE(ring.ok());
  EXPECT_NE(ring.error().find("out of range"), std::string::npos) << ring.error();
}

// A conntrack LRU at capacity evicts its least recently used entries: an
// insert never fails (no DROP_CT_FULL), and an evicted flow that sends
// again is a counted ct_miss scheduled by Maglev to the same backend, since
// the backend set has not changed.
TEST_F(LimitsTest, FullConntrackEvictsAndEvictedFlowsKeepTheirBackend) {
  open(1024);
  addBackends();
  addVip(1, ringOf({1, 2, 3, 4}, 251));
  constexpr uint32_t kFlows = 20000;
  std::vector<Mac> first(kFlows);
  for (uint32_t i = 0; i < kFlows; ++i) {
    auto out = ack(i);
    ASSERT_EQ(*dp_->testRun(out), XDP_TX) << i;
    std::memcpy(first[i].data(), out.data(), 6);
  }
  EXPECT_EQ(stat(LB4_STAT_DROP_CT_FULL), 0u);
  EXPECT_EQ(stat(LB4_STAT_CT_MISS), kFlows);
  uint64_t missBefore = stat(LB4_STAT_CT_MISS);
  uint32_t evicted = 0;
  for (uint32_t i = 0; i < 1000; ++i) {
    auto out = ack(i);
    ASSERT_EQ(*dp_->testRun(out), XDP_TX) << i;
    Mac mac;
    std::memcpy(mac.data(), out.data(), 6);
    EXPECT_EQ(mac, first[i]) << "flow " << i << " changed backend after eviction";
  }
  evicted = static_cast<uint32_t>(stat(LB4_STAT_CT_MISS) - missBefore);
  EXPECT_GT(evicted, 900u) << "the oldest flows should have been evicted";
  EXPECT_EQ(stat(LB4_STAT_DROP_CT_FULL), 0u);
}

// Table pressure (issue 12 item 7): with the test thread on one CPU, that
// CPU's share of a per-CPU LRU (size / possible CPUs) fills; new entries
// are counted per CPU (ct_miss). A direct-routing flow's entry is created by
// its first packet past the SYN, so an evicted flow sending again looks the
// same: it is a ct_miss, never a ct_evicted_live (which NAT counts), and a
// flow still in the table is a hit.
TEST_F(LimitsTest, NewEntriesAreCountedPerCpu) {
  pinToCpu0();
  open(256);
  addBackends();
  addVip(1, ringOf({1, 2, 3, 4}, 251));
  const uint32_t share = cpuShare();
  const uint32_t flows = share + 100;
  for (uint32_t i = 0; i < flows; ++i) {
    auto out = ack(i);
    ASSERT_EQ(*dp_->testRun(out), XDP_TX) << i;
  }
  uint64_t hits = stat(LB4_STAT_CT_HIT);
  auto oldest = ack(0);
  ASSERT_EQ(*dp_->testRun(oldest), XDP_TX);
  auto newest = ack(flows - 1);
  ASSERT_EQ(*dp_->testRun(newest), XDP_TX);
  EXPECT_EQ(stat(LB4_STAT_CT_HIT), hits + 1) << "the newest flow is still in the table";
  EXPECT_EQ(stat(LB4_STAT_CT_EVICTED_LIVE), 0u);
  auto inserted = dp_->perCpuStat(LB4_STAT_CT_MISS);
  ASSERT_TRUE(inserted.ok());
  EXPECT_EQ((*inserted)[0], flows + 1);
}

// A SYN flood creates no state: with the table's share on this CPU full of
// established flows, 20 times as many SYNs of new flows evict none of them.
TEST_F(LimitsTest, SynFloodEvictsNoEstablishedFlow) {
  pinToCpu0();
  open(1024);
  addBackends();
  addVip(1, ringOf({1, 2, 3, 4}, 251));
  const uint32_t share = cpuShare();
  const uint32_t established = share - share / 8;  // below the share: no eviction of its own
  for (uint32_t i = 0; i < established; ++i) {
    auto out = ack(i);
    ASSERT_EQ(*dp_->testRun(out), XDP_TX) << i;
  }
  const uint64_t missBefore = stat(LB4_STAT_CT_MISS);
  const uint32_t flood = 20 * share;
  for (uint32_t i = 0; i < flood; ++i) {
    auto out = syn(1000000 + i);
    ASSERT_EQ(*dp_->testRun(out), XDP_TX) << i;
  }
  EXPECT_EQ(stat(LB4_STAT_SYN_UNTRACKED), flood);
  EXPECT_EQ(stat(LB4_STAT_CT_MISS), missBefore) << "a SYN inserted an entry";
  const uint64_t hitsBefore = stat(LB4_STAT_CT_HIT);
  for (uint32_t i = 0; i < established; ++i) {
    auto out = ack(i);
    ASSERT_EQ(*dp_->testRun(out), XDP_TX) << i;
  }
  EXPECT_EQ(stat(LB4_STAT_CT_HIT) - hitsBefore, established) << "established flows were evicted";
  EXPECT_EQ(stat(LB4_STAT_CT_MISS), missBefore);
}

// Every map reports the memory the kernel charges for it.
TEST_F(LimitsTest, EveryMapReportsItsMemory) {
  open(4096);
  auto maps = dp_->mapMemory();
  ASSERT_TRUE(maps.ok()) << maps.error();
  bool sawConntrack = false;
  for (const auto& m : *maps) {
    if (m.name == "lb4_ring_tables") {
      EXPECT_EQ(m.memlock, 0u) << "no VIP, no ring";
      continue;
    }
    if (m.name == "lb4_src_rules") {
      continue;  // allocated per entry (no prealloc): 0 while empty, below
    }
    EXPECT_GT(m.memlock, 0u) << m.name;
    if (m.name == "lb4_conntrack") {
      sawConntrack = true;
      EXPECT_EQ(m.maxEntries, 4096u);
      EXPECT_GE(m.memlock, 4096u * (sizeof(lb4_flow_key) + sizeof(lb4_flow_value)));
    }
  }
  EXPECT_TRUE(sawConntrack);
  EXPECT_GE(maps->size(), 12u);

  // The rings row sums every VIP's table: entries are their slots.
  addBackends();
  addVip(1, ringOf({1, 2}, 251));
  addVip(2, ringOf({3, 4}, 4099));
  maps = dp_->mapMemory();
  ASSERT_TRUE(maps.ok()) << maps.error();
  auto rings = std::find_if(maps->begin(), maps->end(),
                            [](const MapMemory& m) { return m.name == "lb4_ring_tables"; });
  ASSERT_NE(rings, maps->end());
  EXPECT_EQ(rings->maxEntries, 251u + 4099u);
  EXPECT_GE(rings->memlock, (251u + 4099u) * sizeof(uint32_t));

  // The source trie is charged as it fills.
  auto trieMemory = [&]() -> uint64_t {
    auto m = dp_->mapMemory();
    EXPECT_TRUE(m.ok()) << m.error();
    for (const auto& e : m.ok() ? *m : std::vector<MapMemory>{}) {
      if (e.name == "lb4_src_rules") {
        return e.memlock;
      }
    }
    ADD_FAILURE() << "no lb4_src_rules row";
    return 0;
  };
  uint64_t empty = trieMemory();
  for (uint32_t i = 0; i < 64; ++i) {
    lb4_src_key key{};
    key.prefixlen = 32 + 32;
    key.vip_id = 1;
    key.addr[0] = 198;
    key.addr[1] = 18;
    key.addr[3] = static_cast<uint8_t>(i);
    ASSERT_TRUE(dp_->setSourceRule(key, lb4_src_rule{.action = LB4_SRC_DENY}).ok());
  }
  EXPECT_GT(trieMemory(), empty + 64 * sizeof(lb4_src_key));
}

// The daemon swaps a VIP's whole Maglev table in one map update (and moves
// the modulus around the swap so it never exceeds the installed table).
// Here one thread swaps tables of changing sizes and backend sets while
// this one sends new flows: every packet must find a backend.
TEST_F(LimitsTest, RingSwapsUnderTrafficNeverLeaveAPacketWithoutBackend) {
  open(65536);
  addBackends();
  addVip(1, ringOf({1, 2, 3}, 13));
  const std::vector<std::vector<uint32_t>> sets = {{1, 2, 3}, {2, 3, 4}, {1, 4}, {3}, {1, 2, 3, 4}};
  const std::vector<uint32_t> sizes = {13, 4099, 251, 16411, 7};
  std::vector<std::vector<uint32_t>> rings;
  for (size_t i = 0; i < sets.size() * sizes.size(); ++i) {
    rings.push_back(ringOf(sets[i % sets.size()], sizes[i % sizes.size()]));
  }
  constexpr int kSwaps = 150;
  std::atomic<bool> done{false};
  std::atomic<int> swapErrors{0};
  std::thread swapper([&] {
    for (int i = 0; i < kSwaps; ++i) {
      if (!dp_->setRing(1, rings[i % rings.size()]).ok()) {
        ++swapErrors;
      }
    }
    done = true;
  });
  uint64_t sent = 0;
  uint64_t notTx = 0;
  std::set<Mac> seen;
  // Bounded in count; the swapper normally finishes long before.
  for (uint32_t n = 0; (!done || sent < 1000) && n < 2000000; ++n) {
    auto out = syn(n);
    auto action = dp_->testRun(out);
    ASSERT_TRUE(action.ok()) << action.error();
    ++sent;
    if (*action != XDP_TX) {
      ++notTx;
      continue;
    }
    Mac mac;
    std::memcpy(mac.data(), out.data(), 6);
    seen.insert(mac);
  }
  swapper.join();
  std::cout << sent << " packets during " << kSwaps << " table swaps\n";
  EXPECT_EQ(swapErrors, 0);
  EXPECT_EQ(notTx, 0u);
  EXPECT_EQ(stat(LB4_STAT_DROP_NO_BACKEND), 0u);
  EXPECT_EQ(stat(LB4_STAT_DROP_BAD_BACKEND), 0u);
  EXPECT_EQ(stat(LB4_STAT_TX), sent);
  for (const auto& mac : seen) {
    EXPECT_NE(std::find(kMacs.begin(), kMacs.end(), mac), kMacs.end());
  }
}

// A ring of unchanged size is rewritten in place, slot by slot, under a
// packet stream: every packet reads one slot, so each gets a backend of the
// old or the new table, never none, and the final table is exactly the new
// one.
TEST_F(LimitsTest, InPlaceRingRewritesUnderTrafficNeverLeaveAPacketWithoutBackend) {
  open(65536);
  addBackends();
  const std::vector<std::vector<uint32_t>> sets = {{1, 2}, {3, 4}, {1, 2, 3, 4}, {2}};
  std::vector<std::vector<uint32_t>> rings;
  for (const auto& set : sets) {
    rings.push_back(ringOf(set, 16411));
  }
  addVip(1, rings[0]);
  constexpr int kRewrites = 400;
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::thread writer([&] {
    for (int i = 1; i <= kRewrites; ++i) {
      if (!dp_->setRing(1, rings[i % rings.size()]).ok()) {
        ++errors;
      }
    }
    done = true;
  });
  uint64_t sent = 0;
  uint64_t notTx = 0;
  for (uint32_t n = 0; (!done || sent < 1000) && n < 2000000; ++n) {
    auto out = syn(n);
    auto action = dp_->testRun(out);
    ASSERT_TRUE(action.ok()) << action.error();
    ++sent;
    notTx += *action != XDP_TX;
  }
  writer.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(notTx, 0u);
  EXPECT_EQ(stat(LB4_STAT_DROP_NO_BACKEND), 0u);
  EXPECT_EQ(stat(LB4_STAT_DROP_BAD_BACKEND), 0u);
  auto now = dp_->ring(1);
  ASSERT_TRUE(now.ok()) << now.error();
  EXPECT_EQ(*now, rings[kRewrites % rings.size()]);
  auto vips = dp_->vips();
  ASSERT_TRUE(vips.ok() && vips->size() == 1);
  EXPECT_EQ((*vips)[0].second.ring_size, 16411u);
}

}  // namespace
}  // namespace lb4::test
