// The shared input rules (userspace/state/rules.h) and their use by every
// way in: the API parser, the config loader and DesiredState refuse the
// same values with the same message.
#include "userspace/state/rules.h"

#include <gtest/gtest.h>

#include "userspace/api/protocol.h"
#include "userspace/config/config.h"
#include "userspace/state/state.h"

namespace lb4 {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
ServiceKey vip(const char* text) { return *ServiceKey::parse(text, true); }

TEST(RulesTest, WeightsAreStrictDecimal) {
  EXPECT_EQ(*parseWeight("0"), 0u);
  EXPECT_EQ(*parseWeight("7"), 7u);
  EXPECT_EQ(*parseWeight("65535"), 65535u);
  for (const char* bad : {"", "0x10", "010", "+5", " 7", "7 ", "1e3", "-0", "abc", "5.0"}) {
    SCOPED_TRACE(bad);
    auto w = parseWeight(bad);
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.error().find("expected a decimal number from 0 to 65535"), std::string::npos)
        << w.error();
  }
  EXPECT_EQ(parseWeight("65536").error(), "weight 65536 out of range 0..65535");
  EXPECT_EQ(parseWeight("99999999999999999999").error(),
            "weight 99999999999999999999 out of range 0..65535");
  EXPECT_EQ(parseWeight("-1").error(), "weight -1 out of range 0..65535");
}

TEST(RulesTest, MacsMustBeOneHostsUnicastAddress) {
  EXPECT_TRUE(validateUnicastMac(*parseMac("02:00:00:00:00:01")).ok());
  EXPECT_NE(validateUnicastMac(*parseMac("00:00:00:00:00:00")).error().find("all-zero"),
            std::string::npos);
  EXPECT_NE(validateUnicastMac(*parseMac("ff:ff:ff:ff:ff:ff")).error().find("broadcast"),
            std::string::npos);
  EXPECT_NE(validateUnicastMac(*parseMac("01:00:5e:00:00:01")).error().find("multicast"),
            std::string::npos);
  EXPECT_NE(validateUnicastMac(*parseMac("33:33:00:00:00:01")).error().find("multicast"),
            std::string::npos);
}

TEST(RulesTest, VipAddressesAreUnicast) {
  EXPECT_TRUE(validateVipAddress(ip("198.18.1.1")).ok());
  EXPECT_TRUE(validateVipAddress(ip("2001:db8::1")).ok());
  const std::pair<const char*, const char*> cases[] = {
      {"0.0.0.0", "unspecified"}, {"255.255.255.255", "broadcast"},
      {"224.0.0.1", "multicast"}, {"239.255.255.255", "multicast"},
      {"127.0.0.1", "loopback"},  {"127.1.2.3", "loopback"},
      {"::", "unspecified"},      {"::1", "loopback"},
      {"ff02::1", "multicast"},   {"::ffff:198.18.1.1", "IPv4-mapped"},
  };
  for (const auto& [text, why] : cases) {
    SCOPED_TRACE(text);
    auto s = validateVipAddress(ip(text));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find(why), std::string::npos) << s.error();
    EXPECT_NE(s.error().find("cannot be a VIP"), std::string::npos) << s.error();
  }
}

TEST(RulesTest, BackendAddressesAreAnotherHostsUnicast) {
  ServiceKey v4 = vip("198.18.1.1:80/tcp");
  ServiceKey v6 = vip("[2001:db8::1]:80/tcp");
  EXPECT_TRUE(validateBackendAddress(v4, ip("198.18.0.11")).ok());
  EXPECT_TRUE(validateBackendAddress(v6, ip("2001:db8::11")).ok());
  const std::tuple<ServiceKey, const char*, const char*> cases[] = {
      {v4, "198.18.1.1", "the VIP's own address"},
      {v4, "0.0.0.0", "unspecified"},
      {v4, "255.255.255.255", "broadcast"},
      {v4, "127.0.0.1", "loopback"},
      {v4, "224.0.0.5", "multicast"},
      {v4, "2001:db8::11", "same address family"},
      {v6, "2001:db8::1", "the VIP's own address"},
      {v6, "::", "unspecified"},
      {v6, "::1", "loopback"},
      {v6, "::ffff:198.18.0.11", "IPv4-mapped"},
  };
  for (const auto& [key, text, why] : cases) {
    SCOPED_TRACE(text);
    auto s = validateBackendAddress(key, ip(text));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find(why), std::string::npos) << s.error();
  }
}

TEST(RulesTest, BackendPortAndMacFollowTheMode) {
  ServiceKey web = vip("198.18.1.1:80/tcp");
  Endpoint plain{ip("198.18.0.11"), 0};
  Endpoint ported{ip("198.18.0.11"), 8080};
  MacAddress mac = *parseMac("02:00:00:00:00:11");
  EXPECT_TRUE(validateBackend(web, ForwardingMode::kDr, plain, mac).ok());
  EXPECT_TRUE(validateBackend(web, ForwardingMode::kNat, ported, std::nullopt).ok());
  EXPECT_NE(
      validateBackend(web, ForwardingMode::kDr, ported, std::nullopt).error().find("nat mode"),
      std::string::npos);
  EXPECT_NE(validateBackend(web, ForwardingMode::kNat, plain, mac).error().find("dr backends only"),
            std::string::npos);
  EXPECT_NE(validateBackend(vip("198.18.1.1/tcp"), ForwardingMode::kNat, ported, std::nullopt)
                .error()
                .find("all-ports"),
            std::string::npos);
  EXPECT_NE(validateBackend(web, ForwardingMode::kDr, plain, *parseMac("ff:ff:ff:ff:ff:ff"))
                .error()
                .find("broadcast"),
            std::string::npos);
}

TEST(RulesTest, SocketPathFitsSockaddrUn) {
  EXPECT_TRUE(validateSocketPath("/run/lb4/lb4d.sock").ok());
  EXPECT_TRUE(validateSocketPath("/" + std::string(106, 'x')).ok());
  auto tooLong = validateSocketPath("/" + std::string(107, 'x'));
  ASSERT_FALSE(tooLong.ok());
  EXPECT_NE(tooLong.error().find("must be 1 to 107 bytes (this one has 108)"), std::string::npos);
  EXPECT_FALSE(validateSocketPath("").ok());
}

// The same refusals through the state, the API and the config file.
TEST(RulesTest, StateApiAndConfigRefuseAlike) {
  DesiredState s;
  ServiceKey web = vip("198.18.1.1:80/tcp");
  ASSERT_TRUE(s.addVip(web, ForwardingMode::kDr, 13).ok());
  ServiceKey natVip = vip("198.18.1.2:80/tcp");
  ASSERT_TRUE(s.addVip(natVip, ForwardingMode::kNat, 13).ok());
  const std::string before = s.toJson().dump();
  EXPECT_NE(s.addVip(vip("127.0.0.1:80/tcp"), ForwardingMode::kDr, 13).error().find("loopback"),
            std::string::npos);
  EXPECT_NE(s.addBackend(web, Endpoint{ip("198.18.1.1"), 0}, 1, std::nullopt)
                .error()
                .find("the VIP's own address"),
            std::string::npos);
  EXPECT_NE(s.addBackend(natVip, Endpoint{ip("198.18.0.5"), 0}, 1, *parseMac("02:00:00:00:00:05"))
                .error()
                .find("dr backends only"),
            std::string::npos);
  EXPECT_NE(s.addBackend(web, Endpoint{ip("198.18.0.5"), 0}, 1, *parseMac("00:00:00:00:00:00"))
                .error()
                .find("all-zero"),
            std::string::npos);
  EXPECT_EQ(s.toJson().dump(), before);

  // A state file with such a backend is refused as a whole.
  nlohmann::json j = s.toJson();
  j["vips"][1]["backends"] = {{{"address", "198.18.0.5"},
                               {"weight", 1},
                               {"drained", false},
                               {"id", 1},
                               {"gen", 0},
                               {"mac", "02:00:00:00:00:05"}}};
  auto loaded = DesiredState::fromJson(j);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find("dr backends only"), std::string::npos) << loaded.error();

  const std::pair<const char*, const char*> api[] = {
      {R"({"v":1,"op":"add-vip","vip":"0.0.0.0:80/tcp"})", "unspecified"},
      {R"({"v":1,"op":"add-vip","vip":"255.255.255.255:80/tcp"})", "broadcast"},
      {R"({"v":1,"op":"add-vip","vip":"224.0.0.1:80/tcp"})", "multicast"},
      {R"({"v":1,"op":"add-vip","vip":"127.0.0.1:80/tcp"})", "loopback"},
      {R"({"v":1,"op":"add-vip","vip":"[::]:80/tcp"})", "unspecified"},
      {R"({"v":1,"op":"add-vip","vip":"[::ffff:198.18.1.1]:80/tcp"})", "IPv4-mapped"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.1.1"})",
       "the VIP's own address"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"0.0.0.0"})",
       "unspecified"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"255.255.255.255"})",
       "broadcast"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"127.0.0.1"})", "loopback"},
      {R"({"v":1,"op":"add-backend","vip":"[2001:db8::1]:80/tcp","backend":"::ffff:198.18.0.1"})",
       "IPv4-mapped"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.0.1","mac":"ff:ff:ff:ff:ff:ff"})",
       "broadcast"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.0.1","mac":"00:00:00:00:00:00"})",
       "all-zero"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.0.1","mac":"01:00:5e:00:00:01"})",
       "multicast"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.0.1","mac":""})",
       "parse MAC"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.0.1","wait_ms":60001})",
       "wait_ms 60001 out of range"},
  };
  for (const auto& [line, why] : api) {
    SCOPED_TRACE(line);
    auto r = parseRequest(line);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find(why), std::string::npos) << r.error();
  }
  // A lookup may name any address: only adding one checks it.
  EXPECT_TRUE(parseRequest(R"({"v":1,"op":"del-vip","vip":"127.0.0.1:80/tcp"})").ok());

  const std::string head =
      "vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 198.18.0.1\n";
  const std::pair<std::string, const char*> config[] = {
      {head + "        weight: ''\n", "lb4.yaml:5: vips[0].backends[0].weight: weight ''"},
      {head + "        weight: 0x10\n", "lb4.yaml:5: vips[0].backends[0].weight: weight '0x10'"},
      {head + "        weight: 010\n", "lb4.yaml:5: vips[0].backends[0].weight: weight '010'"},
      {head + "        weight: +5\n", "lb4.yaml:5: vips[0].backends[0].weight: weight '+5'"},
      {head + "        weight: ' 7'\n", "lb4.yaml:5: vips[0].backends[0].weight: weight ' 7'"},
      {head + "        mac: ''\n", "lb4.yaml:5: vips[0].backends[0].mac: parse MAC ''"},
      {head + "        mac: ff:ff:ff:ff:ff:ff\n", "lb4.yaml:5: vips[0].backends[0].mac: MAC ff:ff"},
      {head + "        mac: 01:00:5e:00:00:01\n", "lb4.yaml:5: vips[0].backends[0].mac: MAC 01:00"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    mode: nat\n    backends:\n"
       "      - {address: 198.18.0.1, mac: '02:00:00:00:00:01'}\n",
       "lb4.yaml:5: vips[0].backends[0]: add backend 198.18.0.1 to 198.18.1.1:80/tcp: a MAC "
       "applies "
       "to dr backends only"},
      {"vips:\n  - vip: 127.0.0.1:80/tcp\n", "lb4.yaml:2: vips[0]: add VIP 127.0.0.1:80/tcp: VIP"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 198.18.1.1\n",
       "lb4.yaml:4: vips[0].backends[0]: add backend 198.18.1.1 to 198.18.1.1:80/tcp: backend "
       "198.18.1.1 is the VIP's own address"},
      {"socket: /" + std::string(107, 's') + "\n", "lb4.yaml:1: socket: socket path"},
  };
  for (const auto& [text, why] : config) {
    SCOPED_TRACE(text);
    auto cfg = parseConfig(text, "lb4.yaml");
    ASSERT_FALSE(cfg.ok());
    EXPECT_NE(cfg.error().find(std::string("config ") + why), std::string::npos) << cfg.error();
  }
}

// yaml-cpp keeps the first of two equal keys: lb4 refuses the file instead.
TEST(RulesTest, ConfigKeyGivenTwiceIsRefusedWithItsLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"socket: /tmp/a.sock\nsocket: /tmp/b.sock\n", "config lb4.yaml:2: socket: given twice"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    mode: dr\n    mode: nat\n",
       "config lb4.yaml:4: vips[0].mode: given twice"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n"
       "      - {address: 198.18.0.1, weight: 1, weight: 2}\n",
       "config lb4.yaml:4: vips[0].backends[0].weight: given twice"},
      {"scoring:\n  err_rate: 0.5\n  err_rate: 0.1\n",
       "config lb4.yaml:3: scoring.err_rate: given twice"},
  };
  for (const auto& [text, why] : cases) {
    SCOPED_TRACE(text);
    auto cfg = parseConfig(text, "lb4.yaml");
    ASSERT_FALSE(cfg.ok());
    EXPECT_NE(cfg.error().find(why), std::string::npos) << cfg.error();
  }
}

TEST(RulesTest, ConfigRecordsWhereEachInterfaceWasGiven) {
  auto cfg = parseConfig("socket: /tmp/x.sock\ninterfaces:\n  - eth0\n  - eth1\n", "lb4.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(cfg->interfaceOrigins, (std::vector<std::string>{"config lb4.yaml:3: interfaces[0]",
                                                             "config lb4.yaml:4: interfaces[1]"}));
}

TEST(RulesTest, UnbracketedIpv6VipSaysToUseBrackets) {
  auto k = ServiceKey::parse("2001:db8::1:80/tcp");
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().find("an IPv6 VIP takes its port after brackets"), std::string::npos)
      << k.error();
  EXPECT_TRUE(ServiceKey::parse("2001:db8::1/tcp", true).ok());  // all ports: no brackets needed
}

}  // namespace
}  // namespace lb4
