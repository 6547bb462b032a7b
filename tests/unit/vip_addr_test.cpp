// The lb4_vip_addrs entry derived from an address's lb4_vips entries.
#include "userspace/dataplane/vip_addr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace lb4 {
namespace {

lb4_vip_key key(uint8_t last, uint16_t port, uint8_t proto = IPPROTO_TCP) {
  lb4_vip_key k{};
  k.addr[0] = 198;
  k.addr[1] = 18;
  k.addr[3] = last;
  k.port = htons(port);
  k.proto = proto;
  k.family = LB4_AF_INET;
  return k;
}

VipEntry service(uint16_t port, uint32_t vipId, uint8_t flags = 0) {
  lb4_vip_value v{};
  v.vip_id = vipId;
  v.ring_size = 65537;
  v.mode = LB4_MODE_NAT;
  v.flags = flags;
  v.pad = 0xffff;  // must not reach the map
  return {key(1, port), v};
}

TEST(VipAddrTest, AddressKeyDropsThePort) {
  lb4_vip_key a = addrKeyOf(key(1, 80));
  EXPECT_EQ(a.port, 0);
  EXPECT_TRUE(sameAddr(key(1, 80), key(1, 443)));
  EXPECT_FALSE(sameAddr(key(1, 80), key(2, 80)));
  EXPECT_FALSE(sameAddr(key(1, 80), key(1, 80, IPPROTO_UDP)));
}

TEST(VipAddrTest, FewServicesAreHeldInlineAndReadBack) {
  std::vector<VipEntry> services{service(80, 1), service(0, 2, LB4_VIP_F_ALL_PORTS)};
  lb4_vip_addr entry = vipAddrOf(services);
  EXPECT_EQ(entry.services, 2U);
  EXPECT_EQ(entry.svc[0].port, htons(80));
  EXPECT_EQ(entry.svc[0].vip.vip_id, 1U);
  EXPECT_EQ(entry.svc[0].vip.pad, 0);
  EXPECT_EQ(entry.svc[1].vip.flags, LB4_VIP_F_ALL_PORTS);
  lb4_addr_service zero{};
  EXPECT_EQ(std::memcmp(&entry.svc[2], &zero, sizeof(zero)), 0);

  auto back = inlineServices(addrKeyOf(key(1, 0)), entry);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2U);
  EXPECT_EQ(std::memcmp(&(*back)[0].first, &services[0].first, sizeof(lb4_vip_key)), 0);
  EXPECT_EQ((*back)[1].second.vip_id, 2U);
}

TEST(VipAddrTest, ManyServicesAreOnlyCounted) {
  std::vector<VipEntry> services;
  for (uint16_t i = 0; i < LB4_ADDR_SERVICES + 1; ++i) {
    services.push_back(service(1000 + i, i));
  }
  lb4_vip_addr entry = vipAddrOf(services);
  EXPECT_EQ(entry.services, LB4_ADDR_SERVICES + 1U);
  lb4_addr_service zero{};
  EXPECT_EQ(std::memcmp(&entry.svc[0], &zero, sizeof(zero)), 0);
  EXPECT_FALSE(inlineServices(addrKeyOf(key(1, 0)), entry).has_value());
}

TEST(VipAddrTest, PutReplacesTheSameKeyAndDropRemovesIt) {
  std::vector<VipEntry> services{service(80, 1)};
  putService(services, service(80, 7));
  ASSERT_EQ(services.size(), 1U);
  EXPECT_EQ(services[0].second.vip_id, 7U);
  putService(services, service(443, 8));
  EXPECT_EQ(services.size(), 2U);
  EXPECT_FALSE(dropService(services, key(1, 22)));
  EXPECT_TRUE(dropService(services, key(1, 80)));
  ASSERT_EQ(services.size(), 1U);
  EXPECT_EQ(services[0].second.vip_id, 8U);
}

}  // namespace
}  // namespace lb4
