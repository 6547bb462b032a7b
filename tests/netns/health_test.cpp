// Health checks with real backends: a dead backend is taken out and comes
// back, a flaky one is quiesced (overload) and returns after probation.
#include "netns_fixture.h"

namespace lb4::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kIntervalMs = 500;
constexpr int kFall = 3;
constexpr int kRise = 2;

class HealthTest : public DrTopologyTest {
 protected:
  HealthTest() {
    configYaml_ = R"(scoring:
  err_rate: 0.3
  min_samples: 4
  initial_vsucc: 2
  contin_err_limit: 0
  succ_rate: 0.95
  contin_succ_limit: 0
  overload_timeout_ms: 2500
  idle_timeout_ms: 60000
)";
  }

  void configureChecked() {
    configureDr();
    ctlOk({"set-health", kVip, "--kind", "http", "--port", "8080", "--path", "/health",
           "--interval-ms", std::to_string(kIntervalMs), "--timeout-ms", "400", "--rise",
           std::to_string(kRise), "--fall", std::to_string(kFall)});
  }

  // The health row of backend 198.18.0.1<i>.
  nlohmann::json row(int i) {
    auto r = ctl({"health", "--json"});
    auto rows = nlohmann::json::parse(r.out, nullptr, false);
    if (rows.is_discarded()) {
      return {};
    }
    for (const auto& row : rows) {
      if (row["backend"] == "198.18.0.1" + std::to_string(i)) {
        return row;
      }
    }
    return {};
  }

  // Polls until backend i is in `state`; returns how long it took (or
  // nullopt after `limit`).
  std::optional<std::chrono::milliseconds> waitForState(int i, const std::string& state,
                                                        std::chrono::milliseconds limit) {
    auto start = Clock::now();
    while (Clock::now() - start < limit) {
      auto r = row(i);
      if (!r.is_null() && r.value("state", "") == state) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }
};

TEST_F(HealthTest, DeadBackendIsRemovedAndComesBackAfterRise) {
  configureChecked();
  ASSERT_TRUE(waitForState(2, "idle", std::chrono::seconds(3))) << row(2).dump();
  ASSERT_EQ(connect(60).value("ok", 0), 60);

  // A long-lived connection to another backend must not notice anything.
  std::string holdLog = (work_ / "hold.log").string();
  Process hold({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"), "hold",
                "--to", kVip, "--duration-ms", "3000", "--interval-ms", "50"},
               holdLog);
  // Kill b2 only once the connection is up: a SYN hashed to b2 after its
  // death would fail, which is not what this test is about.
  for (int i = 0; i < 150; ++i) {
    std::ifstream in(holdLog);
    std::string text(std::istreambuf_iterator<char>(in), {});
    if (text.find("connected to ") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  servers_[1].stop(SIGKILL);  // b2 dies
  auto tookDown = waitForState(2, "down", std::chrono::seconds(5));
  ASSERT_TRUE(tookDown) << row(2).dump();
  // Down within interval x fall plus one interval (and scheduling slack).
  EXPECT_LE(tookDown->count(), kIntervalMs * kFall + kIntervalMs + 500) << row(2).dump();
  EXPECT_NE(row(2)["last_reason"].get<std::string>().find("consecutive probe failures"),
            std::string::npos);

  auto during = connect(150);
  EXPECT_EQ(during.value("ok", 0), 150) << during.dump();
  EXPECT_EQ(during["by_backend"].value("b2", 0), 0) << during.dump();

  int holdExit = hold.wait(std::chrono::seconds(10));
  std::ifstream in(holdLog);
  std::string all(std::istreambuf_iterator<char>(in), {});
  auto j = nlohmann::json::parse(all.substr(all.rfind('{')), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << all;
  if (j["backend"] != "b2") {  // a connection held by b2 itself died with it
    EXPECT_EQ(holdExit, 0) << all;
    EXPECT_EQ(j["errors"], 0) << all;
  }

  startServer(2);  // b2 is back
  auto tookUp = waitForState(2, "idle", std::chrono::seconds(5));
  ASSERT_TRUE(tookUp) << row(2).dump();
  EXPECT_NE(row(2)["last_reason"].get<std::string>().find("rise"), std::string::npos)
      << row(2).dump();
  auto after = connect(150);
  EXPECT_EQ(after.value("ok", 0), 150) << after.dump();
  EXPECT_GT(after["by_backend"].value("b2", 0), 0) << after.dump();
}

TEST_F(HealthTest, FlakyBackendGoesToOverloadAndReturnsAfterProbation) {
  configureChecked();
  ASSERT_TRUE(waitForState(3, "idle", std::chrono::seconds(3)));
  startServer(3, {"--fail-every", "2"});  // half of b3's health requests fail

  auto overloaded = waitForState(3, "overload", std::chrono::seconds(10));
  ASSERT_TRUE(overloaded) << row(3).dump();
  EXPECT_NE(row(3)["last_reason"].get<std::string>().find("error rate"), std::string::npos)
      << row(3).dump();
  // Quiesced: no new flows while it is in the overload queue.
  auto during = connect(60);
  bool stillOverloaded = row(3).value("state", "") == "overload";
  EXPECT_EQ(during.value("ok", 0), 60) << during.dump();
  if (stillOverloaded) {
    EXPECT_EQ(during["by_backend"].value("b3", 0), 0) << during.dump();
  }

  // Probation (2.5 s) ends and it is judged again in a fresh idle window.
  auto back = waitForState(3, "idle", std::chrono::seconds(6));
  ASSERT_TRUE(back) << row(3).dump();
  auto logText = [&] {
    std::ifstream log(work_ / "lb4d.log");
    return std::string(std::istreambuf_iterator<char>(log), {});
  }();
  EXPECT_NE(logText.find("overload→idle"), std::string::npos);
  EXPECT_NE(logText.find("probation"), std::string::npos);
}

TEST_F(HealthTest, OneBackendsOwnCheckOverridesTheVips) {
  configureChecked();
  ASSERT_TRUE(waitForState(3, "idle", std::chrono::seconds(3)));
  // Only b3 is probed on a port nothing answers: only b3 goes down.
  ctlOk({"set-health", kVip, "--backend", "198.18.0.13", "--port", "8081"});
  ASSERT_TRUE(waitForState(3, "down", std::chrono::seconds(5))) << row(3).dump();
  EXPECT_EQ(row(1).value("state", ""), "idle");
  EXPECT_EQ(row(2).value("state", ""), "idle");
  EXPECT_NE(row(3)["check"].get<std::string>().find(":8081"), std::string::npos) << row(3).dump();
  auto result = connect(60);
  EXPECT_EQ(result.value("ok", 0), 60) << result.dump();
  EXPECT_EQ(result["by_backend"].value("b3", 0), 0) << result.dump();
  auto bad = ctl({"set-health", kVip, "--backend", "198.18.0.99", "--port", "1"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("no such backend"), std::string::npos) << bad.err;
}

TEST_F(HealthTest, AllBackendsDownKeepsTheLastTable) {
  configureChecked();
  for (int i = 1; i <= kBackends; ++i) {
    ASSERT_TRUE(waitForState(i, "idle", std::chrono::seconds(3)));
  }
  // The probes fail (health endpoint gone) but the service port still works:
  // lb4 fails open instead of dropping the VIP.
  ctlOk({"set-health", kVip, "--port", "8081"});
  for (int i = 1; i <= kBackends; ++i) {
    ASSERT_TRUE(waitForState(i, "down", std::chrono::seconds(5))) << row(i).dump();
  }
  auto list = nlohmann::json::parse(ctl({"list", "--json"}).out);
  EXPECT_TRUE(list[0]["all_backends_down"].get<bool>()) << list.dump();
  auto result = connect(60);
  EXPECT_EQ(result.value("ok", 0), 60) << result.dump();
}

// The default tcp check of a DR VIP sends its SYN the way traffic goes (to
// VIP:80 at the backend's MAC): a backend that lost the VIP on lo, or one
// configured with a wrong MAC, is blackholed by the data plane and must go
// down, although its own address still answers. The address probe stays
// available (and is blind to both).
TEST_F(HealthTest, PathProbeTakesDownBackendsTheDataPlaneCannotReach) {
  configureDr();
  ctlOk({"set-health", kVip, "--kind", "tcp", "--interval-ms", std::to_string(kIntervalMs),
         "--timeout-ms", "400", "--rise", std::to_string(kRise), "--fall", std::to_string(kFall)});
  for (int i = 1; i <= kBackends; ++i) {
    ASSERT_TRUE(waitForState(i, "idle", std::chrono::seconds(5))) << row(i).dump();
  }
  // A new check starts idle: wait for its first probe's verdict.
  for (int i = 0; i < 100 && row(1).value("last_probe", "") != "ok"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(row(1).value("check", ""), "tcp-path 198.18.1.100:80 at 198.18.0.11") << row(1).dump();
  EXPECT_EQ(row(1).value("last_probe", ""), "ok") << row(1).dump();

  // b1 loses the VIP: its address still accepts connections on port 80.
  auto del = runCommand({"ip", "-n", ns("b1"), "addr", "del", "198.18.1.100/32", "dev", "lo"});
  ASSERT_EQ(del.status, 0) << del.err;
  ASSERT_TRUE(waitForState(1, "down", std::chrono::seconds(5))) << row(1).dump();
  auto during = connect(90);
  EXPECT_EQ(during.value("ok", 0), 90) << during.dump();
  EXPECT_EQ(during["by_backend"].value("b1", 0), 0) << during.dump();
  auto list = nlohmann::json::parse(ctl({"list", "--json"}).out, nullptr, false);
  ASSERT_TRUE(list.is_array()) << list.dump();
  for (const auto& b : list[0]["backends"]) {
    if (b.value("address", "").rfind("198.18.0.11", 0) == 0) {
      EXPECT_EQ(b.value("health", ""), "remove") << b.dump();
      EXPECT_EQ(b.value("enabled", true), false) << b.dump();
    }
  }

  // The address probe is blind to it: b1 comes up again under it.
  ctlOk({"set-health", kVip, "--probe", "address"});
  ASSERT_TRUE(waitForState(1, "idle", std::chrono::seconds(5))) << row(1).dump();
  EXPECT_EQ(row(1).value("check", ""), "tcp 198.18.0.11:80") << row(1).dump();
  ctlOk({"set-health", kVip, "--probe", "path"});
  ASSERT_TRUE(waitForState(1, "down", std::chrono::seconds(5))) << row(1).dump();

  auto add = runCommand({"ip", "-n", ns("b1"), "addr", "add", "198.18.1.100/32", "dev", "lo"});
  ASSERT_EQ(add.status, 0) << add.err;
  ASSERT_TRUE(waitForState(1, "idle", std::chrono::seconds(5))) << row(1).dump();

  // b2 configured with a MAC no host has: the data plane would send its
  // flows nowhere, and the probe goes there too.
  ctlOk({"del-backend", kVip, "198.18.0.12"});
  ctlOk({"add-backend", kVip, "198.18.0.12", "--mac", "02:00:5e:99:99:12"});
  ASSERT_TRUE(waitForState(2, "down", std::chrono::seconds(5))) << row(2).dump();
  auto wrongMac = connect(90);
  EXPECT_EQ(wrongMac.value("ok", 0), 90) << wrongMac.dump();
  EXPECT_EQ(wrongMac["by_backend"].value("b2", 0), 0) << wrongMac.dump();

  ctlOk({"del-backend", kVip, "198.18.0.12"});
  ctlOk({"add-backend", kVip, "198.18.0.12"});
  ASSERT_TRUE(waitForState(2, "idle", std::chrono::seconds(5))) << row(2).dump();
  auto after = connect(150);
  EXPECT_EQ(after.value("ok", 0), 150) << after.dump();
  EXPECT_GT(after["by_backend"].value("b1", 0), 0) << after.dump();
  EXPECT_GT(after["by_backend"].value("b2", 0), 0) << after.dump();
}

}  // namespace
}  // namespace lb4::test
