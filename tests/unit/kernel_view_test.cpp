// buildKernelView: desired state x health verdicts x MACs -> kernel view,
// with the all-down (fail-open) and overload policies and the MACs it lacks.
#include "userspace/daemon/kernel_view.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "common/test_addresses.h"

namespace lb4 {
namespace {

using test::kBackend1Mac;
using test::kBackend1V4;
using test::kBackend2Mac;
using test::kBackend2V4;

const std::string kVip = std::string(test::kVipV4) + ":80/tcp";

ServiceKey vipKey(const std::string& text) { return *ServiceKey::parse(text, true); }
Endpoint ep(const char* text) { return *Endpoint::parse(text); }
IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// One VIP with two backends, neither with a configured MAC.
DesiredState twoBackends(ForwardingMode mode = ForwardingMode::kDr, uint32_t weight2 = 50) {
  DesiredState s;
  EXPECT_TRUE(s.addVip(vipKey(kVip), mode, 13).ok());
  EXPECT_TRUE(s.addBackend(vipKey(kVip), ep(kBackend1V4), 100, std::nullopt).ok());
  EXPECT_TRUE(s.addBackend(vipKey(kVip), ep(kBackend2V4), weight2, std::nullopt).ok());
  return s;
}

MacTable bothMacs() { return {{ip(kBackend1V4), kBackend1Mac}, {ip(kBackend2V4), kBackend2Mac}}; }

HealthVerdicts hostsIn(const DesiredState& s, HostState b1, HostState b2) {
  const VipConfig& vip = s.vips[0];
  HealthVerdicts h;
  h.hosts[healthKey(vip, vip.backends[0])] = HealthVerdict{.state = b1};
  h.hosts[healthKey(vip, vip.backends[1])] = HealthVerdict{.state = b2};
  return h;
}

std::vector<std::pair<uint32_t, uint32_t>> ringOf(const KernelView& view, uint32_t vipId) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& in : view.rings.at(vipId)) {
    out.emplace_back(in.id, in.weight);
  }
  return out;
}

using Ring = std::vector<std::pair<uint32_t, uint32_t>>;

TEST(KernelViewTest, SourceListsBecomeTrieEntriesAndVipFlags) {
  DesiredState s = twoBackends();
  ASSERT_TRUE(
      s.addVip(vipKey(std::string(test::kVipV4) + ":53/udp"), ForwardingMode::kDr, 13).ok());
  ASSERT_TRUE(s.setSources(vipKey(kVip), {*IpPrefix::parse("198.18.0.0/16")},
                           {*IpPrefix::parse("198.18.0.128/25")})
                  .ok());
  auto plan = buildKernelView(s, HealthVerdicts{}, bothMacs(), KernelView{});
  const KernelView& view = plan.view;
  uint32_t vipId = s.vips[0].id;
  const auto& value = view.vips.at(keyBytes(vipKey(kVip).toAbi())).second;
  EXPECT_EQ(value.flags, LB4_VIP_F_SRC_ALLOW | LB4_VIP_F_SRC_DENY);
  const auto& other = view.vips.at(keyBytes(s.vips[1].key.toAbi())).second;
  EXPECT_EQ(other.flags, 0) << "a VIP without lists reads no rule";
  ASSERT_EQ(view.sources.size(), 2u);
  lb4_src_key allow = sourceKey(vipId, *IpPrefix::parse("198.18.0.0/16"));
  EXPECT_EQ(allow.prefixlen, 32u + 16u);
  EXPECT_EQ(allow.vip_id, vipId);
  EXPECT_EQ(allow.addr[0], 198);
  EXPECT_EQ(allow.addr[1], 18);
  EXPECT_EQ(allow.addr[4], 0);
  EXPECT_EQ(view.sources.at(keyBytes(allow)).second.action, uint32_t{LB4_SRC_ALLOW});
  lb4_src_key deny = sourceKey(vipId, *IpPrefix::parse("198.18.0.128/25"));
  EXPECT_EQ(deny.prefixlen, 32u + 25u);
  EXPECT_EQ(view.sources.at(keyBytes(deny)).second.action, uint32_t{LB4_SRC_DENY});
}

TEST(KernelViewTest, NatBackendPortsOfOneVipOnlyGetAStatelessReplyEntry) {
  DesiredState s;
  const std::string vipA = std::string(test::kVipV4) + ":80/tcp";
  const std::string vipB = std::string(test::kVipV4) + ":81/tcp";
  ASSERT_TRUE(s.addVip(vipKey(vipA), ForwardingMode::kNat, 13).ok());
  ASSERT_TRUE(s.addVip(vipKey(vipB), ForwardingMode::kNat, 13).ok());
  // 198.18.2.1:8080 serves A only; 198.18.2.2:9000 serves both; 198.18.2.2
  // without a port takes each VIP's own port (80 for A, 81 for B: distinct).
  ASSERT_TRUE(s.addBackend(vipKey(vipA), ep("198.18.2.1:8080"), 1, std::nullopt).ok());
  ASSERT_TRUE(s.addBackend(vipKey(vipA), ep("198.18.2.2:9000"), 1, std::nullopt).ok());
  ASSERT_TRUE(s.addBackend(vipKey(vipB), ep("198.18.2.2:9000"), 1, std::nullopt).ok());
  ASSERT_TRUE(s.addBackend(vipKey(vipB), ep("198.18.2.3"), 1, std::nullopt).ok());
  auto plan = buildKernelView(s, HealthVerdicts{}, {}, KernelView{});
  std::map<std::string, std::string> origins;
  for (const auto& [bytes, ko] : plan.view.natOrigins) {
    ServiceKey backend = ServiceKey::fromAbi(ko.first);
    lb4_vip_key v{};
    std::memcpy(v.addr, ko.second.vip_addr, 16);
    v.port = ko.second.vip_port;
    v.proto = ko.first.proto;
    v.family = ko.first.family;
    origins[backend.toString()] = ServiceKey::fromAbi(v).toString();
  }
  EXPECT_EQ(origins, (std::map<std::string, std::string>{
                         {"198.18.2.1:8080/tcp", vipA},
                         {"198.18.2.3:81/tcp", vipB},
                     }));
}

TEST(KernelViewTest, HealthyBackendsWithKnownMacsServeAtTheirWeights) {
  DesiredState s = twoBackends();
  ViewPlan p = buildKernelView(s, HealthVerdicts{}, bothMacs(), KernelView{});
  const KernelView& v = p.view;
  ASSERT_EQ(v.vips.size(), 1u);
  const lb4_vip_value& value = v.vips.begin()->second.second;
  EXPECT_EQ(value.vip_id, s.vips[0].id);
  EXPECT_EQ(value.ring_size, 13u);
  EXPECT_EQ(value.mode, LB4_MODE_DR);
  EXPECT_EQ(value.flags, 0u);
  EXPECT_EQ(ringOf(v, s.vips[0].id), (Ring{{1, 100}, {2, 50}}));
  EXPECT_TRUE(v.backendEnabled(1));
  EXPECT_TRUE(v.backendEnabled(2));
  EXPECT_EQ(std::memcmp(v.backends.at(2).mac, kBackend2Mac.data(), 6), 0);
  EXPECT_EQ(v.backends.at(1).gen, s.vips[0].backends[0].gen);
  EXPECT_TRUE(v.natAddrs.empty());
  EXPECT_TRUE(p.missingMacs.empty());
  EXPECT_TRUE(p.allDown.empty());
  EXPECT_EQ(v.effectiveWeight(s.vips[0].id, 2), 50u);
}

// Direct routing: each backend's entry names the attached interface it is
// on; one that no attached interface reaches is disabled and reported, not
// served (and its MAC is not asked for).
TEST(KernelViewTest, BackendOnNoAttachedLinkIsDisabledAndReported) {
  DesiredState s = twoBackends();
  EgressTable egress = {{ip(kBackend1V4), 7}, {ip(kBackend2V4), 0}};
  MacTable macs = {{ip(kBackend1V4), kBackend1Mac}};
  ViewPlan p = buildKernelView(s, HealthVerdicts{}, macs, KernelView{}, &egress);
  EXPECT_TRUE(p.view.backendEnabled(1));
  EXPECT_EQ(p.view.backends.at(1).ifindex, 7u);
  EXPECT_FALSE(p.view.backendEnabled(2));
  EXPECT_EQ(p.unreachable, (std::set<uint32_t>{2}));
  EXPECT_TRUE(p.missingMacs.empty());
  EXPECT_EQ(ringOf(p.view, s.vips[0].id), (Ring{{1, 100}}));
  // Without link knowledge (no interface): the receiving interface, as before.
  ViewPlan q = buildKernelView(s, HealthVerdicts{}, bothMacs(), KernelView{});
  EXPECT_EQ(q.view.backends.at(1).ifindex, 0u);
  EXPECT_TRUE(q.unreachable.empty());
}

TEST(KernelViewTest, BackendWithoutMacIsDisabledAndItsAddressReported) {
  DesiredState s = twoBackends();
  MacTable macs = {{ip(kBackend1V4), kBackend1Mac}};
  ViewPlan p = buildKernelView(s, HealthVerdicts{}, macs, KernelView{});
  EXPECT_EQ(p.missingMacs, (std::set<IpAddress>{ip(kBackend2V4)}));
  EXPECT_TRUE(p.view.backendEnabled(1));
  EXPECT_FALSE(p.view.backendEnabled(2));
  EXPECT_EQ(ringOf(p.view, s.vips[0].id), (Ring{{1, 100}}));
  ASSERT_EQ(macsNeeded(s).size(), 2u);
}

TEST(KernelViewTest, ConfiguredMacNeedsNoLookup) {
  DesiredState s;
  ASSERT_TRUE(s.addVip(vipKey(kVip), ForwardingMode::kDr, 13).ok());
  ASSERT_TRUE(s.addBackend(vipKey(kVip), ep(kBackend1V4), 100, kBackend1Mac).ok());
  EXPECT_TRUE(macsNeeded(s).empty());
  ViewPlan p = buildKernelView(s, HealthVerdicts{}, MacTable{}, KernelView{});
  EXPECT_TRUE(p.missingMacs.empty());
  EXPECT_TRUE(p.view.backendEnabled(1));
}

TEST(KernelViewTest, NatBackendsNeedNoMacAndAreListedAsNatAddresses) {
  DesiredState s = twoBackends(ForwardingMode::kNat);
  EXPECT_TRUE(macsNeeded(s).empty());
  ViewPlan p = buildKernelView(s, HealthVerdicts{}, MacTable{}, KernelView{});
  EXPECT_TRUE(p.missingMacs.empty());
  EXPECT_TRUE(p.view.backendEnabled(1));
  EXPECT_TRUE(p.view.backendEnabled(2));
  EXPECT_EQ(p.view.natAddrs.size(), 2u);
  EXPECT_EQ(p.view.vips.begin()->second.second.mode, LB4_MODE_NAT);
}

TEST(KernelViewTest, AllPortsVipCarriesItsFlag) {
  DesiredState s;
  ASSERT_TRUE(s.addVip(vipKey(std::string(test::kVipV4) + ":0/tcp"), ForwardingMode::kDr, 13).ok());
  ViewPlan p = buildKernelView(s, HealthVerdicts{}, MacTable{}, KernelView{});
  EXPECT_EQ(p.view.vips.begin()->second.second.flags, LB4_VIP_F_ALL_PORTS);
}

TEST(KernelViewTest, RemovedBackendLeavesTheTableAndIsDisabled) {
  DesiredState s = twoBackends();
  ViewPlan p =
      buildKernelView(s, hostsIn(s, HostState::kIdle, HostState::kDown), bothMacs(), KernelView{});
  EXPECT_EQ(ringOf(p.view, s.vips[0].id), (Ring{{1, 100}}));
  EXPECT_FALSE(p.view.backendEnabled(2));
  EXPECT_TRUE(p.allDown.empty());
}

TEST(KernelViewTest, QuiescedBackendStaysEnabledWithoutNewFlows) {
  DesiredState s = twoBackends();
  ViewPlan p = buildKernelView(s, hostsIn(s, HostState::kIdle, HostState::kOverload), bothMacs(),
                               KernelView{});
  EXPECT_EQ(ringOf(p.view, s.vips[0].id), (Ring{{1, 100}}));
  EXPECT_TRUE(p.view.backendEnabled(2));
}

TEST(KernelViewTest, WhenEveryBackendIsOverloadedTheyAllServe) {
  DesiredState s = twoBackends();
  ViewPlan p = buildKernelView(s, hostsIn(s, HostState::kOverload, HostState::kOverload),
                               bothMacs(), KernelView{});
  EXPECT_EQ(ringOf(p.view, s.vips[0].id), (Ring{{1, 100}, {2, 50}}));
}

TEST(KernelViewTest, WhenEveryBackendIsDownTheVipKeepsItsLastTable) {
  DesiredState s = twoBackends();
  ViewPlan healthy = buildKernelView(s, HealthVerdicts{}, bothMacs(), KernelView{});
  ViewPlan down =
      buildKernelView(s, hostsIn(s, HostState::kDown, HostState::kDown), bothMacs(), healthy.view);
  EXPECT_EQ(down.allDown, (std::set<uint32_t>{s.vips[0].id}));
  EXPECT_EQ(ringOf(down.view, s.vips[0].id), (Ring{{1, 100}, {2, 50}}));
  EXPECT_TRUE(down.view.backendEnabled(1));
  EXPECT_TRUE(down.view.backendEnabled(2));
  // A backend coming back ends fail-open.
  ViewPlan back =
      buildKernelView(s, hostsIn(s, HostState::kDown, HostState::kIdle), bothMacs(), down.view);
  EXPECT_TRUE(back.allDown.empty());
  EXPECT_EQ(ringOf(back.view, s.vips[0].id), (Ring{{2, 50}}));
  EXPECT_FALSE(back.view.backendEnabled(1));
}

TEST(KernelViewTest, AllDownWithoutAnEarlierTableIsNotFailOpen) {
  DesiredState s = twoBackends();
  ViewPlan p =
      buildKernelView(s, hostsIn(s, HostState::kDown, HostState::kDown), bothMacs(), KernelView{});
  EXPECT_TRUE(p.allDown.empty());
  EXPECT_TRUE(p.view.rings.at(s.vips[0].id).empty());
  EXPECT_FALSE(p.view.backendEnabled(1));
}

TEST(KernelViewTest, DrainedBackendStaysEnabledOutsideTheTable) {
  DesiredState s = twoBackends();
  ASSERT_TRUE(s.setDrained(vipKey(kVip), ip(kBackend2V4), true).ok());
  ViewPlan p = buildKernelView(s, HealthVerdicts{}, bothMacs(), KernelView{});
  EXPECT_EQ(ringOf(p.view, s.vips[0].id), (Ring{{1, 100}}));
  EXPECT_TRUE(p.view.backendEnabled(2));
}

TEST(KernelViewTest, LatencyFactorScalesTheWeight) {
  DesiredState s = twoBackends();
  HealthVerdicts h = hostsIn(s, HostState::kIdle, HostState::kIdle);
  h.hosts[healthKey(s.vips[0], s.vips[0].backends[0])].weightFactor = 0.25;
  ViewPlan p = buildKernelView(s, h, bothMacs(), KernelView{});
  EXPECT_EQ(ringOf(p.view, s.vips[0].id), (Ring{{1, 25}, {2, 50}}));
}

TEST(KernelViewTest, UnseenProbedBackendStartsRemovedOnlyWithoutStartUp) {
  DesiredState s = twoBackends();
  const VipConfig& vip = s.vips[0];
  EXPECT_EQ(verdictOf(HealthVerdicts{.hosts = {}, .startUp = true}, vip, vip.backends[0]),
            (Verdict{DataplaneAction::kServe, 100}));
  EXPECT_EQ(verdictOf(HealthVerdicts{.hosts = {}, .startUp = false}, vip, vip.backends[0]),
            (Verdict{DataplaneAction::kRemove, 0}));
  // A backend that is not probed serves even then.
  HealthCheck none;
  none.kind = CheckKind::kNone;
  ASSERT_TRUE(s.setHealth(vipKey(kVip), none).ok());
  EXPECT_EQ(
      verdictOf(HealthVerdicts{.hosts = {}, .startUp = false}, s.vips[0], s.vips[0].backends[1]),
      (Verdict{DataplaneAction::kServe, 50}));
}

}  // namespace
}  // namespace lb4
