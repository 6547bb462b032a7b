// Two gateways given the same backends build the same slot -> backend
// *address* table, whatever order the backends were added, removed and
// re-added in: backend and VIP ids differ between the gateways, what a packet
// reaches does not. The whole path is exercised: DesiredState mutations ->
// buildKernelView -> buildMaglevRing -> lb4_backend entries.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "userspace/daemon/kernel_view.h"
#include "userspace/maglev/maglev.h"

namespace lb4 {
namespace {

constexpr uint32_t kRing = 1021;
const char* const kVip4 = "198.18.1.1:80/tcp";
const char* const kVip6 = "[2001:db8:1::1]:443/tcp";
const char* const kOtherVip = "198.18.1.9:80/tcp";

ServiceKey vipKey(const char* text) { return *ServiceKey::parse(text, true); }
Endpoint ep(const std::string& text) { return *Endpoint::parse(text); }

std::string backend4(int i) { return "198.18.2." + std::to_string(i) + ":80"; }
std::string backend6(int i) { return "[2001:db8:2::" + std::to_string(i) + "]:443"; }

MacAddress macOf(int i) { return MacAddress{0x02, 0, 0, 0, 0x02, static_cast<uint8_t>(i)}; }

void add(DesiredState& s, const char* vip, const std::string& backend, int i, uint32_t weight) {
  ASSERT_TRUE(s.addBackend(vipKey(vip), ep(backend), weight, macOf(i)).ok()) << backend;
}
void del(DesiredState& s, const char* vip, const std::string& backend) {
  ASSERT_TRUE(s.delBackend(vipKey(vip), ep(backend).addr).ok()) << backend;
}

// slot -> backend address ("" for an empty slot) of one VIP, as the kernel
// would resolve it.
std::vector<std::string> addressTable(const DesiredState& state, const char* vip) {
  ViewPlan plan = buildKernelView(state, HealthVerdicts{}, MacTable{}, KernelView{});
  const VipConfig* v = state.findVip(vipKey(vip));
  EXPECT_NE(v, nullptr);
  std::vector<MaglevBackend> inputs;
  for (const auto& in : plan.view.rings.at(v->id)) {
    inputs.push_back(MaglevBackend{.id = in.id, .weight = in.weight, .key = in.key});
  }
  std::vector<std::string> out;
  for (uint32_t id : buildMaglevRing(inputs, v->ringSize)) {
    if (id == 0) {
      out.emplace_back();
      continue;
    }
    const lb4_backend& b = plan.view.backends.at(id);
    IpAddress addr;
    addr.family = static_cast<Family>(b.family);
    std::memcpy(addr.bytes.data(), b.addr, 16);
    out.push_back(Endpoint{.addr = addr, .port = ntohs(b.port)}.toString());
  }
  return out;
}

std::set<uint32_t> idsOf(const DesiredState& s, const char* vip) {
  std::set<uint32_t> ids;
  for (const auto& b : s.findVip(vipKey(vip))->backends) {
    ids.insert(b.id);
  }
  return ids;
}

// Gateway A: the backends in order, one removed and re-added, a weight set.
DesiredState historyA() {
  DesiredState s;
  EXPECT_TRUE(s.addVip(vipKey(kVip4), ForwardingMode::kDr, kRing).ok());
  EXPECT_TRUE(s.addVip(vipKey(kVip6), ForwardingMode::kDr, kRing).ok());
  for (int i = 1; i <= 5; ++i) {
    add(s, kVip4, backend4(i), i, 100);
    add(s, kVip6, backend6(i), i, 100);
  }
  del(s, kVip4, backend4(2));
  add(s, kVip4, backend4(2), 2, 100);
  EXPECT_TRUE(s.setWeight(vipKey(kVip4), ep(backend4(4)).addr, 300).ok());
  del(s, kVip6, backend6(5));
  return s;
}

// Gateway B: another VIP first (so VIP ids differ), backends in reverse
// order with a backend that comes and goes, weights given at once.
DesiredState historyB() {
  DesiredState s;
  EXPECT_TRUE(s.addVip(vipKey(kOtherVip), ForwardingMode::kDr, kRing).ok());
  add(s, kOtherVip, backend4(9), 9, 100);
  EXPECT_TRUE(s.addVip(vipKey(kVip4), ForwardingMode::kDr, kRing).ok());
  EXPECT_TRUE(s.addVip(vipKey(kVip6), ForwardingMode::kDr, kRing).ok());
  add(s, kVip4, backend4(7), 7, 100);
  for (int i = 5; i >= 1; --i) {
    add(s, kVip4, backend4(i), i, i == 4 ? 300 : 100);
  }
  del(s, kVip4, backend4(7));
  for (int i : {3, 1, 4, 2}) {
    add(s, kVip6, backend6(i), i, 100);
  }
  del(s, kVip6, backend6(1));
  add(s, kVip6, backend6(1), 1, 100);
  EXPECT_TRUE(s.delVip(vipKey(kOtherVip)).ok());
  return s;
}

TEST(GatewayConsistencyTest, DifferentHistoriesGiveTheSameAddressTable) {
  DesiredState a = historyA();
  DesiredState b = historyB();
  for (const char* vip : {kVip4, kVip6}) {
    SCOPED_TRACE(vip);
    // The histories really do hand out different ids.
    EXPECT_NE(a.findVip(vipKey(vip))->id, b.findVip(vipKey(vip))->id);
    EXPECT_NE(idsOf(a, vip), idsOf(b, vip));
    auto ta = addressTable(a, vip);
    auto tb = addressTable(b, vip);
    ASSERT_EQ(ta.size(), kRing);
    EXPECT_EQ(std::count(ta.begin(), ta.end(), std::string()), 0);
    size_t differing = 0;
    for (size_t slot = 0; slot < kRing; ++slot) {
      differing += ta[slot] != tb[slot];
    }
    EXPECT_EQ(differing, 0u) << "slots mapping to different addresses";
  }
}

TEST(GatewayConsistencyTest, DifferentBackendSetsGiveDifferentTables) {
  // The comparison above can fail: one backend fewer changes the table.
  DesiredState a = historyA();
  DesiredState b = historyB();
  del(b, kVip4, backend4(3));
  EXPECT_NE(addressTable(a, kVip4), addressTable(b, kVip4));
}

TEST(GatewayConsistencyTest, DrainedBackendLeavesTheSameSlotsOnBothGateways) {
  DesiredState a = historyA();
  DesiredState b = historyB();
  for (DesiredState* s : {&a, &b}) {
    ASSERT_TRUE(s->setDrained(vipKey(kVip4), ep(backend4(5)).addr, true).ok());
  }
  auto ta = addressTable(a, kVip4);
  EXPECT_EQ(ta, addressTable(b, kVip4));
  EXPECT_EQ(std::count(ta.begin(), ta.end(), backend4(5)), 0);
}

}  // namespace
}  // namespace lb4
