// Names derived from the ABI: the global counters' names (LB4_STATS in
// lb4_abi.h), services named from lb4_vip_key, and the XDP mode names.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "userspace/common/net.h"
#include "userspace/dataplane/dataplane.h"

namespace lb4 {
namespace {

TEST(AbiNamesTest, EveryCounterHasItsOwnNameInEnumOrder) {
  // The `lb4ctl stats` keys as they were before the list moved into the ABI header.
  const std::vector<std::string> expected = {
      "pass",
      "tx",
      "ct_hit",
      "ct_miss",
      "ct_resched",
      "drop_trunc_eth",
      "drop_trunc_vlan",
      "drop_trunc_ip",
      "drop_bad_ip",
      "drop_trunc_l4",
      "drop_no_backend",
      "drop_fragment",
      "drop_bad_backend",
      "drop_ct_full",
      "redirect",
      "nat_reply",
      "fwd_kernel",
      "icmp_to_backend",
      "icmp_to_client",
      "ct_expired",
      "pass_fragment",
      "pass_icmp",
      "drop_ipv6_ext",
      "drop_fib",
      "drop_frag_needed",
      "drop_bad_icmp",
  };
  ASSERT_EQ(kStatNames.size(), static_cast<size_t>(LB4_STAT_MAX));
  std::set<std::string> seen;
  for (size_t i = 0; i < kStatNames.size(); ++i) {
    EXPECT_FALSE(kStatNames[i].empty()) << i;
    EXPECT_FALSE(kStatHelp[i].empty()) << i;
    EXPECT_TRUE(seen.insert(std::string(kStatNames[i])).second) << kStatNames[i];
    if (i < expected.size()) {
      EXPECT_EQ(kStatNames[i], expected[i]) << i;
    }
  }
  EXPECT_GE(kStatNames.size(), expected.size());
  EXPECT_EQ(kStatNames[LB4_STAT_DROP_CT_FULL], "drop_ct_full");
}

TEST(AbiNamesTest, ServiceKeyFromAbiNamesTheService) {
  lb4_vip_key k{};
  k.addr[0] = 198;
  k.addr[1] = 18;
  k.addr[2] = 1;
  k.addr[3] = 1;
  k.port = htons(80);
  k.proto = IPPROTO_TCP;
  k.family = LB4_AF_INET;
  EXPECT_EQ(ServiceKey::fromAbi(k).toString(), "198.18.1.1:80/tcp");
  auto back = ServiceKey::fromAbi(k).toAbi();
  EXPECT_EQ(std::memcmp(&back, &k, sizeof(k)), 0);

  auto v6 = ServiceKey::parse("[2001:db8::1]:53/udp");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(ServiceKey::fromAbi(v6->toAbi()).toString(), "[2001:db8::1]:53/udp");

  k.proto = IPPROTO_ICMP;
  EXPECT_EQ(ServiceKey::fromAbi(k).toString(), "198.18.1.1:80/?");
}

TEST(AbiNamesTest, XdpModesAreNamedNativeAndGeneric) {
  EXPECT_STREQ(xdpModeName(XdpMode::kNative), "native");
  EXPECT_STREQ(xdpModeName(XdpMode::kGeneric), "generic");
}

}  // namespace
}  // namespace lb4
