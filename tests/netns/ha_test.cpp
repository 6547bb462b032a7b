// Active-active gateways over BGP/ECMP (scripts/netns/ha_topology.sh): a
// router namespace running BIRD with multipath and BFD, two gateways each
// running lb4d and BIRD, three DR backends on the segment both reach. Every
// daemon is started here with its own config, control socket and pid file,
// and stopped here; the teardown removes namespaces, pins and files, also
// when a test fails. Times (BFD withdrawal) are printed, never asserted.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/netns/netns_fixture.h"

namespace lb4::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kVip1 = "198.18.1.100:80/tcp";
constexpr const char* kVip2 = "198.18.1.101:80/tcp";
constexpr const char* kGw1 = "198.18.0.2";
constexpr const char* kGw2 = "198.18.0.3";
constexpr int kBackends = 3;

struct Gateway {
  int index = 0;
  std::string ns;
  std::string addr;
  std::filesystem::path dir;
  std::string socket;
  std::string pinRoot;
  Process lb4d;
  Process bird;
};

class HaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = "lb4h" + std::to_string(getpid() % 100000);
    work_ = std::filesystem::temp_directory_path() / prefix_;
    std::filesystem::remove_all(work_);
    std::filesystem::create_directories(work_);
    ::setenv("LB4_BUILD_DIR", LB4_BUILD_DIR, 1);
    topologyUp_ = true;
    auto up = runCommand(
        {sourcePath("scripts/netns/ha_topology.sh"), "up", prefix_, std::to_string(kBackends)});
    ASSERT_EQ(up.status, 0) << up.out << up.err;
    for (int i = 1; i <= kBackends; ++i) {
      servers_.emplace_back(
          std::vector<std::string>{"ip", "netns", "exec", ns("b" + std::to_string(i)),
                                   buildPath("tests/tools/lb4-testnet"), "serve", "--name",
                                   "b" + std::to_string(i), "--port", "80", "--bind",
                                   "::", "--http-port", "8080"},
          (work_ / ("server" + std::to_string(i) + ".log")).string());
    }
    startRouter();
    for (int g = 1; g <= 2; ++g) {
      gws_[g - 1].index = g;
      startGateway(gws_[g - 1]);
      if (HasFatalFailure()) {
        return;
      }
      configure(gws_[g - 1]);
      if (HasFatalFailure()) {
        return;
      }
    }
  }

  void TearDown() override {
    for (auto& gw : gws_) {
      gw.lb4d.stop();
      gw.bird.stop();
    }
    router_.stop();
    servers_.clear();
    if (topologyUp_) {
      runCommand({sourcePath("scripts/netns/ha_topology.sh"), "down", prefix_});
    }
    std::error_code ec;
    for (auto& gw : gws_) {
      if (!gw.pinRoot.empty()) {
        std::filesystem::remove_all(gw.pinRoot, ec);
        std::filesystem::remove(pinRootLockPath(gw.pinRoot), ec);
      }
    }
    if (HasFailure()) {
      for (const char* log :
           {"gw1/lb4d.log", "gw2/lb4d.log", "gw1/bird.log", "gw2/bird.log", "router-bird.log"}) {
        std::ifstream in(work_ / log);
        std::cerr << "---- " << log << " ----\n"
                  << std::string(std::istreambuf_iterator<char>(in), {});
      }
    }
    std::filesystem::remove_all(work_, ec);
  }

  std::string ns(const std::string& name) const { return prefix_ + "-" + name; }

  void startRouter() {
    std::string conf = (work_ / "router-bird.conf").string();
    std::ofstream(conf) << "router id 198.18.0.254;\n"
                        << "log \"" << (work_ / "router-bird.log").string() << "\" all;\n"
                        << R"(protocol device { scan time 10; }
protocol kernel {
  ipv4 { import none; export all; };
  merge paths yes;
}
protocol bfd {
  interface "eth1" { interval 100 ms; multiplier 3; };
}
template bgp lb4gw {
  local 198.18.0.254 as 65000;
  bfd on;
  ipv4 { import all; export none; };
}
protocol bgp gw1 from lb4gw { neighbor 198.18.0.2 as 65001; }
protocol bgp gw2 from lb4gw { neighbor 198.18.0.3 as 65001; }
)";
    routerSocket_ = (work_ / "router-bird.ctl").string();
    router_ = Process({"ip", "netns", "exec", ns("rt"), "bird", "-f", "-c", conf, "-s",
                       routerSocket_, "-P", (work_ / "router-bird.pid").string()},
                      (work_ / "router-bird.out").string());
  }

  void startGateway(Gateway& gw) {
    gw.ns = ns("gw" + std::to_string(gw.index));
    gw.addr = gw.index == 1 ? kGw1 : kGw2;
    gw.dir = work_ / ("gw" + std::to_string(gw.index));
    std::filesystem::create_directories(gw.dir);
    gw.socket = (gw.dir / "lb4d.sock").string();
    gw.pinRoot = "/sys/fs/bpf/" + prefix_ + "-gw" + std::to_string(gw.index);
    std::string include = (gw.dir / "vips.conf").string();
    std::string birdSocket = (gw.dir / "bird.ctl").string();
    std::string lb4Conf = (gw.dir / "lb4.yaml").string();
    std::ofstream(lb4Conf) << "bgp:\n  enabled: true\n  include_file: " << include
                           << "\n  bird_socket: " << birdSocket
                           << "\n  retry_ms: 200\n  timeout_ms: 1000\n";
    // lb4d first: it writes the include BIRD's config needs, and retries
    // `configure` until BIRD is up.
    gw.lb4d =
        Process({"nsenter", "--net=/run/netns/" + gw.ns, buildPath("userspace/lb4d"), "--config",
                 lb4Conf, "--socket", gw.socket, "--state-file", (gw.dir / "state.json").string(),
                 "--pin-root", gw.pinRoot, "--log-level", "debug"},
                (gw.dir / "lb4d.log").string());
    for (int i = 0;
         i < 250 && !(std::filesystem::exists(gw.socket) && std::filesystem::exists(include));
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(std::filesystem::exists(gw.socket)) << "lb4d did not create its socket";
    ASSERT_TRUE(std::filesystem::exists(include)) << "lb4d did not write " << include;
    std::string conf = (gw.dir / "bird.conf").string();
    std::ofstream(conf) << "router id " << gw.addr << ";\n"
                        << "log \"" << (gw.dir / "bird.log").string() << "\" all;\n"
                        << "protocol device { scan time 10; }\n"
                        << "include \"" << include << "\";\n"
                        << R"(protocol bfd {
  interface "eth0" { interval 100 ms; multiplier 3; };
}
protocol bgp uplink {
  local )" << gw.addr << R"( as 65001;
  neighbor 198.18.0.254 as 65000;
  bfd on;
  ipv4 { import none; export where proto = "lb4_vips4"; };
}
)";
    gw.bird = Process({"ip", "netns", "exec", gw.ns, "bird", "-f", "-c", conf, "-s", birdSocket,
                       "-P", (gw.dir / "bird.pid").string()},
                      (gw.dir / "bird.out").string());
  }

  CommandResult ctl(const Gateway& gw, std::vector<std::string> args) {
    args.insert(args.begin(), {buildPath("cli/lb4ctl"), "--socket", gw.socket});
    return runCommand(args);
  }
  void ctlOk(const Gateway& gw, std::vector<std::string> args) {
    auto r = ctl(gw, args);
    ASSERT_EQ(r.status, 0) << "gw" << gw.index << ": " << r.out << r.err;
  }
  json ctlJson(const Gateway& gw, std::vector<std::string> args) {
    args.push_back("--json");
    auto r = ctl(gw, args);
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j.is_discarded() ? json::object() : j;
  }

  void configure(const Gateway& gw) {
    ctlOk(gw, {"attach", "eth0"});
    for (const char* vip : {kVip1, kVip2}) {
      ctlOk(gw, {"add-vip", vip, "--mode", "dr"});
      for (int i = 1; i <= kBackends; ++i) {
        ctlOk(gw, {"add-backend", vip, "198.18.0.1" + std::to_string(i)});
      }
    }
  }

  // The router's next hops for a VIP (empty: no route).
  std::set<std::string> nextHops(const char* vip) {
    std::string addr = std::string(vip).substr(0, std::string(vip).find(':'));
    auto r = runCommand({"ip", "-n", ns("rt"), "-j", "route", "show", addr + "/32"});
    auto routes = json::parse(r.out, nullptr, false);
    std::set<std::string> hops;
    if (routes.is_discarded() || !routes.is_array()) {
      return hops;
    }
    for (const auto& route : routes) {
      if (route.contains("gateway")) {
        hops.insert(route["gateway"].get<std::string>());
      }
      for (const auto& nh : route.value("nexthops", json::array())) {
        hops.insert(nh.value("gateway", ""));
      }
    }
    return hops;
  }

  // Polls the router until the VIP's next hops are `want` (bounded);
  // returns how long it took, or nothing.
  std::optional<std::chrono::milliseconds> awaitHops(const char* vip,
                                                     const std::set<std::string>& want,
                                                     std::chrono::milliseconds limit) {
    auto start = Clock::now();
    while (Clock::now() - start < limit) {
      if (nextHops(vip) == want) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  void expectHops(const char* vip, const std::set<std::string>& want) {
    auto took = awaitHops(vip, want, std::chrono::seconds(20));
    auto have = nextHops(vip);
    EXPECT_TRUE(took.has_value()) << vip << ": router next hops " << json(have).dump() << ", want "
                                  << json(want).dump();
  }

  uint64_t vipPackets(const Gateway& gw, const char* vip) {
    json stats = ctlJson(gw, {"stats", vip});
    return stats["vips"].empty() ? 0 : stats["vips"][0].value("packets", uint64_t{0});
  }

  // N sequential connections from the client (new source port each).
  json connect(int count, const char* vip) {
    auto r = runCommand({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"),
                         "connect", "--to", vip, "--count", std::to_string(count), "--timeout-ms",
                         "2000"});
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j.is_discarded() ? json::object() : j;
  }

  std::string prefix_;
  std::filesystem::path work_;
  bool topologyUp_ = false;
  std::vector<Process> servers_;
  Process router_;
  std::string routerSocket_;
  Gateway gws_[2];
};

TEST_F(HaTest, BothGatewaysAnnounceAndShareTheConnections) {
  expectHops(kVip1, {kGw1, kGw2});
  expectHops(kVip2, {kGw1, kGw2});
  json bgp = ctlJson(gws_[0], {"status"})["gateway"]["bgp"];
  EXPECT_TRUE(bgp["in_sync"].get<bool>()) << bgp.dump();
  EXPECT_EQ(bgp["announced"], json({"198.18.1.100/32", "198.18.1.101/32"})) << bgp.dump();

  constexpr int kConnections = 300;
  uint64_t before1 = vipPackets(gws_[0], kVip1);
  uint64_t before2 = vipPackets(gws_[1], kVip1);
  json r = connect(kConnections, kVip1);
  EXPECT_EQ(r.value("ok", 0), kConnections) << r.dump();
  EXPECT_EQ(r.value("failed", -1), 0) << r.dump();
  double p1 = static_cast<double>(vipPackets(gws_[0], kVip1) - before1);
  double p2 = static_cast<double>(vipPackets(gws_[1], kVip1) - before2);
  ASSERT_GT(p1 + p2, 0);
  double share1 = p1 / (p1 + p2);
  std::cout << "[ measure ] " << kConnections << " connections: gateway 1 carried "
            << static_cast<int>(share1 * 100 + 0.5) << "% of the VIP packets, gateway 2 "
            << static_cast<int>((1 - share1) * 100 + 0.5) << "%; by backend "
            << r["by_backend"].dump() << std::endl;
  EXPECT_GE(share1, 0.3);
  EXPECT_LE(share1, 0.7);
}

TEST_F(HaTest, DrainedGatewayIsWithdrawnAndTheOtherCarriesEverything) {
  expectHops(kVip1, {kGw1, kGw2});
  auto drain = ctl(gws_[0], {"gateway", "drain", "--wait", "--quiet", "1", "--timeout", "30"});
  EXPECT_EQ(drain.status, 0) << drain.out << drain.err;
  EXPECT_NE(drain.out.find("every VIP withdrawn"), std::string::npos) << drain.out;
  expectHops(kVip1, {kGw2});
  expectHops(kVip2, {kGw2});
  json gw = ctlJson(gws_[0], {"status"})["gateway"];
  EXPECT_TRUE(gw["drained"].get<bool>());
  EXPECT_TRUE(gw["bgp"]["announced"].empty()) << gw.dump();
  json state = json::parse(std::ifstream(gws_[0].dir / "state.json"), nullptr, false);
  EXPECT_EQ(state.value("gateway_drained", false), true);

  uint64_t drained = vipPackets(gws_[0], kVip1);
  json r = connect(100, kVip1);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
  EXPECT_EQ(vipPackets(gws_[0], kVip1), drained) << "a drained gateway got new traffic";

  ctlOk(gws_[0], {"gateway", "undrain"});
  expectHops(kVip1, {kGw1, kGw2});
  EXPECT_FALSE(ctlJson(gws_[0], {"status"})["gateway"]["drained"].get<bool>());
}

TEST_F(HaTest, DeadGatewayIsRoutedAroundWithinBfdDetection) {
  expectHops(kVip1, {kGw1, kGw2});
  // Long-lived connections (a line every 50 ms), spread over both gateways.
  constexpr int kHolds = 8;
  std::vector<Process> holds;
  uint64_t gw1Before = vipPackets(gws_[0], kVip1);
  for (int i = 0; i < kHolds; ++i) {
    holds.emplace_back(std::vector<std::string>{"ip", "netns", "exec", ns("cl"),
                                                buildPath("tests/tools/lb4-testnet"), "hold",
                                                "--to", kVip1, "--duration-ms", "6000",
                                                "--interval-ms", "50", "--timeout-ms", "5000"},
                       (work_ / ("hold" + std::to_string(i) + ".log")).string());
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::cout << "[ measure ] before the failure gateway 1 carried "
            << vipPackets(gws_[0], kVip1) - gw1Before << " packets of the " << kHolds
            << " long-lived connections" << std::endl;
  auto start = Clock::now();
  auto del = runCommand({"ip", "-n", gws_[0].ns, "link", "del", "eth0"});
  ASSERT_EQ(del.status, 0) << del.err;
  auto took = awaitHops(kVip1, {kGw2}, std::chrono::seconds(30));
  ASSERT_TRUE(took.has_value()) << "router still has " << json(nextHops(kVip1)).dump();
  auto total = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  std::cout << "[ measure ] gateway link deleted: router withdrew it after " << total.count()
            << " ms (BFD 100 ms x 3 = 300 ms detection)" << std::endl;
  json r = connect(100, kVip1);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
  EXPECT_EQ(r.value("failed", -1), 0) << r.dump();
  // The connections that ran through the dead gateway continue through the
  // other: no conntrack entry there, but the same Maglev table.
  int broken = 0;
  for (int i = 0; i < kHolds; ++i) {
    int rc = holds[i].wait(std::chrono::seconds(15));
    if (rc != 0) {
      ++broken;
      std::ifstream in(work_ / ("hold" + std::to_string(i) + ".log"));
      std::cerr << "hold " << i << " (exit " << rc
                << "): " << std::string(std::istreambuf_iterator<char>(in), {}) << "\n";
    }
  }
  std::cout << "[ measure ] long-lived connections broken by the gateway failure: " << broken
            << " of " << kHolds << std::endl;
  EXPECT_EQ(broken, 0);
}

TEST_F(HaTest, VipWhoseBackendsAreAllDownOnOneGatewayIsWithdrawnThereOnly) {
  expectHops(kVip2, {kGw1, kGw2});
  // Gateway 1's own health view: VIP 2's backends are probed on a port
  // nothing listens on, so every one of them is down there (and only there).
  ctlOk(gws_[0], {"set-health", kVip2, "--kind", "tcp", "--port", "81", "--interval-ms", "100",
                  "--timeout-ms", "50", "--fall", "1"});
  expectHops(kVip2, {kGw2});
  expectHops(kVip1, {kGw1, kGw2});
  // The router may see the withdrawal before lb4d has BIRD's answer.
  json bgp;
  for (int i = 0; i < 100; ++i) {
    bgp = ctlJson(gws_[0], {"status"})["gateway"]["bgp"];
    if (bgp.value("in_sync", false)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(bgp["announced"], json({"198.18.1.100/32"})) << bgp.dump();
  // What a keepalived track script asks: exit 0 only where the VIP can be served.
  EXPECT_EQ(ctl(gws_[0], {"gateway", "check", "198.18.1.101"}).status, 1);
  EXPECT_EQ(ctl(gws_[0], {"gateway", "check", "198.18.1.100"}).status, 0);
  EXPECT_EQ(ctl(gws_[1], {"gateway", "check", "198.18.1.101"}).status, 0);
  auto bad = ctl(gws_[0], {"gateway", "check", "198.18.1"});
  EXPECT_EQ(bad.status, 2) << bad.out << bad.err;
  json r = connect(100, kVip2);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
}

TEST_F(HaTest, CrashKeepsTheRoutesAndAGracefulStopWithdrawsThem) {
  expectHops(kVip1, {kGw1, kGw2});
  // kill -9: the include file stays, BIRD keeps announcing, XDP keeps forwarding.
  gws_[1].lb4d.stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(nextHops(kVip1), (std::set<std::string>{kGw1, kGw2}));
  json r = connect(100, kVip1);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
  // SIGTERM: lb4d withdraws every VIP before it exits.
  gws_[0].lb4d.signal(SIGTERM);
  EXPECT_EQ(gws_[0].lb4d.wait(std::chrono::seconds(10)), 0);
  expectHops(kVip1, {kGw2});
  expectHops(kVip2, {kGw2});
  r = connect(100, kVip1);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
}

}  // namespace
}  // namespace lb4::test
