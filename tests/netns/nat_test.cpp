// Real TCP and UDP through lb4 in NAT mode (LVS-NAT), between network
// namespaces built by scripts/netns/nat_topology.sh: client and backends in
// different subnets, backends routing through the gateway, lb4 attached to
// both of the gateway's interfaces, and a far backend behind a link with a
// smaller MTU (path MTU discovery through lb4).
#include "netns_fixture.h"

namespace lb4::test {
namespace {

class NatTopologyTest : public DaemonTopologyTest {
 protected:
  static constexpr int kBackends = 3;

  void SetUp() override {
    setUpTopology("lb4t", "scripts/netns/nat_topology.sh", kBackends);
    if (HasFatalFailure()) {
      return;
    }
    // Backends listen on 8080 (the VIPs use 80: port mapping); the far one on 80.
    for (int i = 1; i <= kBackends; ++i) {
      servers_.emplace_back(
          std::vector<std::string>{"ip", "netns", "exec", ns("b" + std::to_string(i)),
                                   buildPath("tests/tools/lb4-testnet"), "serve", "--name",
                                   "b" + std::to_string(i), "--port", "8080", "--bind",
                                   "::", "--udp"},
          (work_ / ("server" + std::to_string(i) + ".log")).string());
    }
    servers_.emplace_back(std::vector<std::string>{"ip", "netns", "exec", ns("far"),
                                                   buildPath("tests/tools/lb4-testnet"), "serve",
                                                   "--name", "far", "--port", "80", "--bind", "::"},
                          (work_ / "far.log").string());
    startDaemon();
  }

  // NAT VIPs on port 80 (TCP and UDP, both families) over the three
  // backends' port 8080, and port 80 of the far backend.
  void configureNat() {
    ctlOk({"attach", "eth0", "eth1"});
    for (const char* proto : {"tcp", "udp"}) {
      std::string v4 = std::string("198.18.1.100:80/") + proto;
      std::string v6 = std::string("[2001:db8:1::100]:80/") + proto;
      ctlOk({"add-vip", v4, "--mode", "nat"});
      ctlOk({"add-vip", v6, "--mode", "nat"});
      for (int i = 1; i <= kBackends; ++i) {
        ctlOk({"add-backend", v4, "198.18.2.1" + std::to_string(i) + ":8080"});
        ctlOk({"add-backend", v6, "[2001:db8:2::1" + std::to_string(i) + "]:8080"});
      }
    }
    ctlOk({"add-vip", "198.18.1.101:80/tcp", "--mode", "nat"});
    ctlOk({"add-backend", "198.18.1.101:80/tcp", "198.18.4.2"});
    ctlOk({"add-vip", "[2001:db8:1::101]:80/tcp", "--mode", "nat"});
    ctlOk({"add-backend", "[2001:db8:1::101]:80/tcp", "2001:db8:4::2"});
  }

  nlohmann::json tool(std::vector<std::string> args) {
    args.insert(args.begin(),
                {"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet")});
    auto r = runCommand(args);
    auto json = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << r.out << r.err;
    return json.is_discarded() ? nlohmann::json::object() : json;
  }

  void expectSpread(const nlohmann::json& result, int total) {
    for (int i = 1; i <= kBackends; ++i) {
      int got = result["by_backend"].value("b" + std::to_string(i), 0);
      EXPECT_GE(got, total * 23 / 100) << result.dump();
      EXPECT_LE(got, total * 43 / 100) << result.dump();
    }
  }

  nlohmann::json stats() {
    auto r = ctl({"stats", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
};

TEST_F(NatTopologyTest, ThreeHundredTcpConnectionsPerFamilySpreadOverThreeBackends) {
  configureNat();
  auto status = nlohmann::json::parse(ctl({"status", "--json"}).out, nullptr, false);
  ASSERT_FALSE(status.is_discarded());
  ASSERT_EQ(status["interfaces"].size(), 2u);
  for (const auto& i : status["interfaces"]) {
    EXPECT_EQ(i["mode"], "native");
    EXPECT_EQ(i["pin_dir"], pinRoot_ + "/maps");  // one map set for both
  }
  for (const char* vip : {"198.18.1.100:80/tcp", "[2001:db8:1::100]:80/tcp"}) {
    // A connection is only established when the SYN-ACK comes from the VIP.
    auto result = tool({"connect", "--to", vip, "--count", "300", "--timeout-ms", "2000"});
    ASSERT_EQ(result.value("ok", 0), 300) << vip << " " << result.dump();
    expectSpread(result, 300);
  }
  auto js = stats();
  EXPECT_GE(js["global"]["ct_miss"].get<uint64_t>(), 600u);
  EXPECT_GE(js["global"]["nat_reply"].get<uint64_t>(), 1800u);  // SYN-ACK, greeting, FIN
  EXPECT_GE(js["global"]["redirect"].get<uint64_t>(), 3600u);
  EXPECT_EQ(js["global"]["drop_fib"].get<uint64_t>(), 0u);
}

TEST_F(NatTopologyTest, UdpRequestsAreAnsweredFromTheVip) {
  configureNat();
  for (const char* vip : {"198.18.1.100:80/udp", "[2001:db8:1::100]:80/udp"}) {
    auto result = tool({"udp", "--to", vip, "--count", "300", "--timeout-ms", "2000"});
    ASSERT_EQ(result.value("ok", 0), 300) << vip << " " << result.dump();
    EXPECT_EQ(result.value("wrong_source", -1), 0) << result.dump();
    expectSpread(result, 300);
  }
  EXPECT_GE(stats()["global"]["nat_reply"].get<uint64_t>(), 600u);
}

TEST_F(NatTopologyTest, TransferLargerThanThePathMtuCrossesTheSmallLink) {
  configureNat();
  // 1500-byte segments from the client meet the 1400-byte link behind the
  // router: its ICMP errors must reach the client translated, or the
  // transfer stalls.
  for (const char* vip : {"198.18.1.101:80/tcp", "[2001:db8:1::101]:80/tcp"}) {
    auto result = tool({"bulk", "--to", vip, "--bytes", "400000", "--timeout-ms", "10000"});
    EXPECT_EQ(result.value("backend", ""), "far") << result.dump();
    EXPECT_TRUE(result.value("intact", false)) << vip << " " << result.dump();
  }
  EXPECT_GE(stats()["global"]["icmp_to_client"].get<uint64_t>(), 2u);
}

TEST_F(NatTopologyTest, RestartedDaemonKeepsNatFlowsAndState) {
  configureNat();
  ASSERT_EQ(tool({"connect", "--to", "198.18.1.100:80/tcp", "--count", "30"}).value("ok", 0), 30);
  daemon_.stop(SIGKILL);
  // The programs stay attached with their maps: NAT keeps working.
  EXPECT_EQ(tool({"connect", "--to", "198.18.1.100:80/tcp", "--count", "30"}).value("ok", 0), 30);
  startDaemon();
  auto status = nlohmann::json::parse(ctl({"status", "--json"}).out, nullptr, false);
  ASSERT_FALSE(status.is_discarded());
  EXPECT_EQ(status["interfaces"].size(), 2u);
  EXPECT_EQ(tool({"connect", "--to", "[2001:db8:1::100]:80/tcp", "--count", "30"}).value("ok", 0),
            30);
  EXPECT_EQ(tool({"udp", "--to", "198.18.1.100:80/udp", "--count", "30"}).value("ok", 0), 30);
}

TEST_F(NatTopologyTest, DetachingTheLastInterfaceRemovesThePinnedMaps) {
  configureNat();
  ctlOk({"detach", "eth1"});
  EXPECT_TRUE(std::filesystem::exists(pinRoot_ + "/maps/lb4_conntrack"));
  ctlOk({"detach", "eth0"});
  EXPECT_FALSE(std::filesystem::exists(pinRoot_ + "/maps"));
  ctlOk({"attach", "eth0", "eth1"});
  EXPECT_EQ(tool({"connect", "--to", "198.18.1.100:80/tcp", "--count", "30"}).value("ok", 0), 30);
}

}  // namespace
}  // namespace lb4::test

namespace lb4::test {
namespace {

// In NAT mode the backends' replies pass through lb4: every SYN-ACK is a
// passive success report in the backend's host_info, on top of the probes.
TEST_F(NatTopologyTest, BackendRepliesFeedTheHealthModel) {
  configureNat();
  auto result =
      tool({"connect", "--to", "198.18.1.100:80/tcp", "--count", "150", "--timeout-ms", "2000"});
  ASSERT_EQ(result.value("ok", 0), 150) << result.dump();
  uint64_t reports = 0;
  for (int i = 0; i < 40 && reports < 150; ++i) {  // read once a second by lb4d
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto rows =
        nlohmann::json::parse(ctl({"health", "198.18.1.100:80/tcp", "--json"}).out, nullptr, false);
    ASSERT_FALSE(rows.is_discarded());
    reports = 0;
    for (const auto& row : rows) {
      reports += row["rsucc"].get<uint64_t>();
      EXPECT_EQ(row["state"], "idle") << row.dump();
    }
  }
  // Probes alone give a handful of successes in this time; 150 SYN-ACKs more.
  EXPECT_GE(reports, 150u);
}

}  // namespace
}  // namespace lb4::test
