// Real TCP through lb4 in direct-routing mode, between network namespaces,
// with the XDP program attached in native mode to the gateway's veth.
#include <fcntl.h>

#include "netns_fixture.h"

namespace lb4::test {
namespace {

TEST_F(DrTopologyTest, ThreeHundredConnectionsSpreadOverThreeBackends) {
  configureDr();
  auto status = ctl({"status", "--json"});
  ASSERT_EQ(status.status, 0) << status.err;
  auto s = nlohmann::json::parse(status.out);
  ASSERT_EQ(s["interfaces"].size(), 1u);
  EXPECT_EQ(s["interfaces"][0]["mode"], "native");

  auto result = connect(300);
  ASSERT_EQ(result.value("ok", 0), 300) << result.dump();
  for (int i = 1; i <= kBackends; ++i) {
    int got = result["by_backend"].value("b" + std::to_string(i), 0);
    EXPECT_GE(got, 300 * 23 / 100) << result.dump();
    EXPECT_LE(got, 300 * 43 / 100) << result.dump();
  }

  auto stats = ctl({"stats", "--json"});
  ASSERT_EQ(stats.status, 0) << stats.err;
  auto js = nlohmann::json::parse(stats.out);
  EXPECT_GE(js["global"]["ct_miss"].get<uint64_t>(), 300u);
  EXPECT_GE(js["global"]["tx"].get<uint64_t>(), 900u);  // SYN, ACK, FIN at least
  uint64_t perBackend = 0;
  for (const auto& b : js["vips"][0]["backends"]) {
    perBackend += b["packets"].get<uint64_t>();
  }
  EXPECT_EQ(perBackend, js["vips"][0]["packets"].get<uint64_t>());
}

TEST_F(DrTopologyTest, DeletedBackendGetsNoNewFlowsAndOtherFlowsContinue) {
  configureDr();
  // A long-lived connection, exchanging a line every 50 ms for 4 s.
  std::string holdLog = (work_ / "hold.log").string();
  Process hold({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"), "hold",
                "--to", kVip, "--duration-ms", "4000", "--interval-ms", "50"},
               holdLog);
  std::string held;
  for (int i = 0; i < 150 && held.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(holdLog);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("connected to ", 0) == 0) {
        held = line.substr(13);
      }
    }
  }
  ASSERT_FALSE(held.empty()) << "the long-lived connection did not start";
  // Remove a backend that is not the one holding the connection.
  int victim = held == "b1" ? 2 : 1;
  ctlOk({"del-backend", kVip, "198.18.0.1" + std::to_string(victim)});

  auto result = connect(300);
  EXPECT_EQ(result.value("ok", 0), 300) << result.dump();
  EXPECT_EQ(result["by_backend"].value("b" + std::to_string(victim), 0), 0) << result.dump();

  EXPECT_EQ(hold.wait(std::chrono::seconds(10)), 0);
  std::ifstream in(holdLog);
  std::string all(std::istreambuf_iterator<char>(in), {});
  auto last = all.substr(all.rfind('{'));
  auto j = nlohmann::json::parse(last, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << all;
  EXPECT_EQ(j["errors"], 0) << all;
  EXPECT_EQ(j["backend"], held);
  EXPECT_GE(j["exchanges"].get<int>(), 40) << all;
}

// A backend's MAC changes (NIC swap, VM migration): lb4 follows the
// gateway's neighbour table, rewrites the backend entry and shows where the
// MAC came from; new connections reach the backend at its new MAC, also
// after del-backend + add-backend.
TEST_F(DrTopologyTest, BackendMacChangeIsFollowedFromTheNeighbourTable) {
  configureDr();
  auto before = connect(60);
  ASSERT_EQ(before.value("ok", 0), 60) << before.dump();
  auto backendOf = [&](const std::string& addr) {
    auto r = ctl({"list", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_array() && !j.empty()) {
      for (const auto& b : j[0]["backends"]) {
        if (b["address"].get<std::string>().rfind(addr, 0) == 0) {
          return b;
        }
      }
    }
    return nlohmann::json::object();
  };
  auto b1 = backendOf("198.18.0.11");
  ASSERT_TRUE(b1["mac"].is_string()) << b1.dump();
  EXPECT_EQ(b1["mac_source"], "neighbour") << b1.dump();
  EXPECT_TRUE(b1["mac_age_s"].is_number()) << b1.dump();
  const std::string kNewMac = "02:00:5e:12:00:11";
  ASSERT_NE(b1["mac"], kNewMac);

  auto set = runCommand({"ip", "-n", ns("b1"), "link", "set", "dev", "eth0", "address", kNewMac});
  ASSERT_EQ(set.status, 0) << set.err;
  auto neigh = runCommand({"ip", "-n", ns("gw"), "neigh", "replace", "198.18.0.11", "lladdr",
                           kNewMac, "dev", "eth0", "nud", "reachable"});
  ASSERT_EQ(neigh.status, 0) << neigh.err;
  for (int i = 0; i < 200 && backendOf("198.18.0.11")["mac"] != kNewMac; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(backendOf("198.18.0.11")["mac"], kNewMac);

  auto after = connect(60);
  EXPECT_EQ(after.value("ok", 0), 60) << after.dump();
  EXPECT_GT(after["by_backend"].value("b1", 0), 0) << after.dump();

  ctlOk({"del-backend", kVip, "198.18.0.11"});
  ctlOk({"add-backend", kVip, "198.18.0.11"});
  EXPECT_EQ(backendOf("198.18.0.11")["mac"], kNewMac);
  auto readded = connect(60);
  EXPECT_EQ(readded.value("ok", 0), 60) << readded.dump();
}

// `stats` shows conntrack pressure per CPU and `status` each map's memory
// (issue 12 item 7): 1 200 new flows through a 1 024-entry table.
class SmallConntrackTest : public DrTopologyTest {
 protected:
  void SetUp() override {
    configYaml_ = "conntrack_size: 1024\n";
    DrTopologyTest::SetUp();
  }
};

TEST_F(SmallConntrackTest, StatsShowTablePressureAndStatusShowsMapMemory) {
  configureDr();
  ASSERT_EQ(connect(1200).value("ok", 0), 1200);
  auto r = ctl({"stats", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("conntrack")) << r.out;
  const auto& ct = j["conntrack"];
  EXPECT_EQ(ct["size"], 1024);
  uint64_t cpus = ct["cpus"].get<uint64_t>();
  ASSERT_GT(cpus, 0u);
  EXPECT_EQ(ct["share_per_cpu"], 1024 / cpus);
  uint64_t newFlows = 0, evictions = 0;
  for (const auto& c : ct["per_cpu"]) {
    newFlows += c["new_flows"].get<uint64_t>();
    evictions += c["evictions"].get<uint64_t>();
    EXPECT_LE(c["entries"].get<uint64_t>(), 1024 / cpus) << c.dump();
  }
  EXPECT_EQ(newFlows, j["global"]["ct_miss"].get<uint64_t>());
  EXPECT_GE(newFlows, 1200u);
  EXPECT_GE(evictions, newFlows - 1024) << ct.dump();
  auto human = ctl({"stats"});
  EXPECT_NE(human.out.find("conntrack: 1024 entries over"), std::string::npos) << human.out;

  auto st = ctl({"status", "--json"});
  auto s = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_TRUE(s.is_object()) << st.out;
  bool sawConntrack = false;
  for (const auto& m : s["maps"]) {
    if (m["name"] == "lb4_src_rules") {
      continue;  // allocated per entry: no source list here, nothing charged
    }
    EXPECT_GT(m["memlock_bytes"].get<uint64_t>(), 0u) << m.dump();
    if (m["name"] == "lb4_conntrack") {
      sawConntrack = true;
      EXPECT_EQ(m["entries"], 1024);
    }
  }
  EXPECT_TRUE(sawConntrack) << s.dump();
  auto humanStatus = ctl({"status"});
  EXPECT_NE(humanStatus.out.find("lb4_conntrack"), std::string::npos) << humanStatus.out;
}

TEST_F(DrTopologyTest, BadArgumentsFailClearlyAndChangeNothing) {
  configureDr();
  auto before = listState();
  const std::vector<std::vector<std::string>> bad = {
      {"add-vip", "198.18.1.300:80/tcp"},
      {"add-vip", "198.18.1.100:0/tcp"},
      {"add-vip", "198.18.1.100:80/tcp"},  // duplicate
      {"add-vip", "198.18.1.101:80/tcp", "--mode", "teleport"},
      {"add-backend", "198.18.1.99:80/tcp", "198.18.0.11"},  // unknown VIP
      {"add-backend", kVip, "198.18.0.11"},                  // duplicate backend
      {"add-backend", kVip, "198.18.0.14", "--weight", "70000"},
      {"add-backend", kVip, "not-an-address"},
      {"add-backend", kVip, "2001:db8::11"},
      {"del-backend", kVip, "198.18.0.99"},
      {"set-weight", kVip, "198.18.0.11", "-1"},
      {"del-vip", "198.18.1.1:80/tcp"},
      {"attach", "eth0"},
      {"attach", "nosuchif0"},
      {"frobnicate"},
  };
  for (const auto& args : bad) {
    auto r = ctl(args);
    std::string joined;
    for (const auto& a : args) {
      joined += a + " ";
    }
    EXPECT_NE(r.status, 0) << joined;
    EXPECT_TRUE(r.out.empty()) << joined << ": " << r.out;
    ASSERT_FALSE(r.err.empty()) << joined;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << joined << ": " << r.err;
    EXPECT_EQ(r.err.rfind("lb4ctl: ", 0), 0u) << joined << ": " << r.err;
  }
  EXPECT_EQ(listState(), before);
}

TEST_F(DrTopologyTest, RestartedDaemonRestoresStateAndForwardingContinues) {
  configureDr();
  auto before = listState();
  ASSERT_EQ(connect(30).value("ok", 0), 30);
  daemon_.stop(SIGKILL);
  // The program stays attached with its pinned maps: traffic still flows.
  EXPECT_EQ(connect(30).value("ok", 0), 30);
  startDaemon();
  EXPECT_EQ(listState(), before);
  auto status = nlohmann::json::parse(ctl({"status", "--json"}).out);
  EXPECT_EQ(status["interfaces"].size(), 1u);
  EXPECT_EQ(connect(60).value("ok", 0), 60);
}

}  // namespace
}  // namespace lb4::test
