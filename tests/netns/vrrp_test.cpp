// Active-backup gateways with keepalived (VRRP), on the topology of the
// BGP tests (scripts/netns/ha_topology.sh) without BGP: the router sends
// the VIPs to a VRRP virtual address, 198.18.0.4, that keepalived keeps on
// the master gateway; a track script (`lb4ctl gateway check`) makes a
// gateway that cannot serve the VIP give way. Every lb4d and keepalived is
// started here with its own config, control socket and pid files, and
// stopped here; the teardown removes namespaces, pins and files, also when
// a test fails. Times are printed, never asserted.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/netns/netns_fixture.h"

namespace lb4::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kVip = "198.18.1.100:80/tcp";
constexpr const char* kNextHop = "198.18.0.4";  // the VRRP virtual address
constexpr int kBackends = 3;

struct VrrpGateway {
  int index = 0;
  std::string ns;
  std::string addr;
  std::string mac;
  std::filesystem::path dir;
  std::string socket;
  std::string pinRoot;
  Process lb4d;
  Process keepalived;
};

class VrrpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = "lb4v" + std::to_string(getpid() % 100000);
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
                                   "b" + std::to_string(i), "--port", "80", "--bind", "::"},
          (work_ / ("server" + std::to_string(i) + ".log")).string());
    }
    auto route =
        runCommand({"ip", "-n", ns("rt"), "route", "add", "198.18.1.100/32", "via", kNextHop});
    ASSERT_EQ(route.status, 0) << route.err;
    if (nat_) {
      // NAT: the backends answer through the VRRP address, the gateways
      // route the translated replies to the clients through the router.
      for (int i = 1; i <= kBackends; ++i) {
        auto r = runCommand({"ip", "-n", ns("b" + std::to_string(i)), "route", "replace", "default",
                             "via", kNextHop});
        ASSERT_EQ(r.status, 0) << r.err;
      }
      for (int g = 1; g <= 2; ++g) {
        std::string gw = ns("gw" + std::to_string(g));
        auto r = runCommand({"ip", "-n", gw, "route", "add", "default", "via", "198.18.0.254"});
        ASSERT_EQ(r.status, 0) << r.err;
        r = runCommand({"ip", "netns", "exec", gw, "sysctl", "-qw", "net.ipv4.ip_forward=1"});
        ASSERT_EQ(r.status, 0) << r.err;
      }
    }
    for (int g = 1; g <= 2; ++g) {
      VrrpGateway& gw = gws_[g - 1];
      gw.index = g;
      startLb4d(gw);
      if (HasFatalFailure()) {
        return;
      }
    }
    for (auto& gw : gws_) {
      startKeepalived(gw);
    }
  }

  void TearDown() override {
    for (auto& gw : gws_) {
      gw.keepalived.stop();
      gw.lb4d.stop();
    }
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
           {"gw1/lb4d.log", "gw2/lb4d.log", "gw1/keepalived.log", "gw2/keepalived.log"}) {
        std::ifstream in(work_ / log);
        std::cerr << "---- " << log << " ----\n"
                  << std::string(std::istreambuf_iterator<char>(in), {});
      }
    }
    // A daemon's last log line can land while the tree is removed: retry.
    for (int i = 0; i < 5 && std::filesystem::exists(work_); ++i) {
      std::filesystem::remove_all(work_, ec);
      if (std::filesystem::exists(work_)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  std::string ns(const std::string& name) const { return prefix_ + "-" + name; }

  void startLb4d(VrrpGateway& gw) {
    gw.ns = ns("gw" + std::to_string(gw.index));
    gw.addr = gw.index == 1 ? "198.18.0.2" : "198.18.0.3";
    gw.dir = work_ / ("gw" + std::to_string(gw.index));
    std::filesystem::create_directories(gw.dir);
    gw.socket = (gw.dir / "lb4d.sock").string();
    gw.pinRoot = "/sys/fs/bpf/" + prefix_ + "-gw" + std::to_string(gw.index);
    gw.lb4d = Process({"nsenter", "--net=/run/netns/" + gw.ns, buildPath("userspace/lb4d"),
                       "--socket", gw.socket, "--state-file", (gw.dir / "state.json").string(),
                       "--pin-root", gw.pinRoot, "--log-level", "debug"},
                      (gw.dir / "lb4d.log").string());
    for (int i = 0; i < 250 && !std::filesystem::exists(gw.socket); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(std::filesystem::exists(gw.socket)) << "lb4d did not create its socket";
    ctlOk(gw, {"attach", "eth0"});
    ctlOk(gw, {"add-vip", kVip, "--mode", nat_ ? "nat" : "dr"});
    for (int i = 1; i <= kBackends; ++i) {
      ctlOk(gw, {"add-backend", kVip, "198.18.0.1" + std::to_string(i)});
    }
    auto link = json::parse(runCommand({"ip", "-n", gw.ns, "-j", "link", "show", "eth0"}).out,
                            nullptr, false);
    ASSERT_TRUE(link.is_array() && !link.empty()) << "no eth0 in " << gw.ns;
    gw.mac = link[0].value("address", "");
  }

  // keepalived as docs/ha.md shows it: gateway 1 preferred, unicast
  // adverts every 100 ms (VRRPv3), the track script asking lb4d.
  void startKeepalived(VrrpGateway& gw) {
    std::string conf = (gw.dir / "keepalived.conf").string();
    std::string peer = gw.index == 1 ? "198.18.0.3" : "198.18.0.2";
    std::ofstream(conf) << "global_defs {\n"
                        << "  script_user root\n"
                        << "  vrrp_version 3\n"
                        << "  vrrp_garp_master_delay 0\n"
                        << "}\n"
                        << "vrrp_script lb4_vip {\n"
                        << "  script \"" << buildPath("cli/lb4ctl") << " --socket " << gw.socket
                        << " gateway check 198.18.1.100\"\n"
                        << "  interval 1\n  fall 1\n  rise 1\n}\n"
                        << "vrrp_instance lb4 {\n"
                        << "  state BACKUP\n"
                        << "  interface eth0\n"
                        << "  virtual_router_id 51\n"
                        << "  priority " << (gw.index == 1 ? 150 : 100) << "\n"
                        << "  advert_int 0.1\n"
                        << "  unicast_src_ip " << gw.addr << "\n"
                        << "  unicast_peer {\n    " << peer << "\n  }\n"
                        << "  virtual_ipaddress {\n    " << kNextHop << "/24 dev eth0\n  }\n"
                        << "  track_script {\n    lb4_vip\n  }\n"
                        << "}\n";
    std::string d = gw.dir.string();
    gw.keepalived = Process({"ip",
                             "netns",
                             "exec",
                             gw.ns,
                             "keepalived",
                             "--dont-fork",
                             "--log-console",
                             "--log-detail",
                             "--no-syslog",
                             "--vrrp",
                             "--use-file",
                             conf,
                             "--pid",
                             d + "/keepalived.pid",
                             "--vrrp_pid",
                             d + "/vrrp.pid",
                             "--checkers_pid",
                             d + "/checkers.pid",
                             "--bfd_pid",
                             d + "/bfd.pid"},
                            (gw.dir / "keepalived.log").string());
  }

  CommandResult ctl(const VrrpGateway& gw, std::vector<std::string> args) {
    args.insert(args.begin(), {buildPath("cli/lb4ctl"), "--socket", gw.socket});
    return runCommand(args);
  }
  void ctlOk(const VrrpGateway& gw, std::vector<std::string> args) {
    auto r = ctl(gw, args);
    ASSERT_EQ(r.status, 0) << "gw" << gw.index << ": " << r.out << r.err;
  }

  uint64_t vipPackets(const VrrpGateway& gw) {
    auto r = ctl(gw, {"stats", kVip, "--json"});
    auto j = json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("vips") || j["vips"].empty()) {
      return 0;
    }
    return j["vips"][0].value("packets", uint64_t{0});
  }

  // Which gateway holds the virtual address: the one that has it on eth0.
  int master() {
    int found = 0;
    for (const auto& gw : gws_) {
      auto r = runCommand({"ip", "-n", gw.ns, "-j", "addr", "show", "dev", "eth0"});
      if (r.out.find(std::string("\"") + kNextHop + "\"") != std::string::npos) {
        found = found == 0 ? gw.index : -1;  // -1: both claim it
      }
    }
    return found;
  }

  // The router's neighbour entry for the virtual address: the MAC it sends to.
  std::string routerNextHopMac() {
    auto j = json::parse(runCommand({"ip", "-n", ns("rt"), "-j", "neigh", "show", kNextHop}).out,
                         nullptr, false);
    return j.is_array() && !j.empty() ? j[0].value("lladdr", "") : "";
  }

  // Polls until `gw` holds the address and the router sends to its MAC
  // (bounded); how long it took, or nothing.
  std::optional<std::chrono::milliseconds> awaitMaster(const VrrpGateway& gw,
                                                       std::chrono::milliseconds limit) {
    auto start = Clock::now();
    while (Clock::now() - start < limit) {
      // The router resolves the address once traffic needs it (one UDP
      // datagram to the discard port); an entry it has is updated by the
      // new master's gratuitous ARP.
      runCommand({"ip", "netns", "exec", ns("rt"), "bash", "-c",
                  std::string("echo x > /dev/udp/") + kNextHop + "/9"});
      if (master() == gw.index && routerNextHopMac() == gw.mac) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  json connect(int count) {
    auto r = runCommand({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"),
                         "connect", "--to", kVip, "--count", std::to_string(count), "--timeout-ms",
                         "2000"});
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j.is_discarded() ? json::object() : j;
  }

  std::vector<Process> startHolds(int count, int durationMs) {
    std::vector<Process> holds;
    for (int i = 0; i < count; ++i) {
      holds.emplace_back(
          std::vector<std::string>{"ip", "netns", "exec", ns("cl"),
                                   buildPath("tests/tools/lb4-testnet"), "hold", "--to", kVip,
                                   "--duration-ms", std::to_string(durationMs), "--interval-ms",
                                   "50", "--timeout-ms", "5000"},
          (work_ / ("hold" + std::to_string(i) + ".log")).string());
    }
    return holds;
  }

  int broken(std::vector<Process>& holds) {
    int n = 0;
    for (size_t i = 0; i < holds.size(); ++i) {
      int rc = holds[i].wait(std::chrono::seconds(20));
      if (rc != 0) {
        ++n;
        std::ifstream in(work_ / ("hold" + std::to_string(i) + ".log"));
        std::cerr << "hold " << i << " (exit " << rc
                  << "): " << std::string(std::istreambuf_iterator<char>(in), {}) << "\n";
      }
    }
    return n;
  }

  // Deletes the master's (gateway 1's) link and waits until gateway 2
  // holds the address and the router sends to it; how long that took.
  std::optional<std::chrono::milliseconds> failMaster() {
    auto start = Clock::now();
    auto del = runCommand({"ip", "-n", gws_[0].ns, "link", "del", "eth0"});
    EXPECT_EQ(del.status, 0) << del.err;
    if (del.status != 0 || !awaitMaster(gws_[1], std::chrono::seconds(20))) {
      return std::nullopt;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  }

  uint64_t globalStat(const VrrpGateway& gw, const char* name) {
    auto j = json::parse(ctl(gw, {"stats", "--json"}).out, nullptr, false);
    return j.is_discarded() ? 0 : j["global"].value(name, uint64_t{0});
  }

  bool nat_ = false;  // set by a subclass before SetUp
  std::string prefix_;
  std::filesystem::path work_;
  bool topologyUp_ = false;
  std::vector<Process> servers_;
  VrrpGateway gws_[2];
};

// The same pair with a NAT VIP: replies come back through the master too.
class VrrpNatTest : public VrrpTest {
 protected:
  void SetUp() override {
    nat_ = true;
    VrrpTest::SetUp();
  }
};

TEST_F(VrrpTest, MasterCarriesTheTrafficAndItsFailureMovesItWithoutBreakingFlows) {
  auto took = awaitMaster(gws_[0], std::chrono::seconds(20));
  ASSERT_TRUE(took.has_value()) << "gateway 1 never became master (master: " << master()
                                << ", router sends to " << routerNextHopMac() << ")";
  uint64_t before2 = vipPackets(gws_[1]);
  json r = connect(300);
  EXPECT_EQ(r.value("ok", 0), 300) << r.dump();
  EXPECT_GT(vipPackets(gws_[0]), 300u);
  EXPECT_EQ(vipPackets(gws_[1]), before2) << "the backup forwarded VIP traffic";

  constexpr int kHolds = 8;
  auto holds = startHolds(kHolds, 6000);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto total = failMaster();
  ASSERT_TRUE(total.has_value()) << "gateway 2 never took over (router sends to "
                                 << routerNextHopMac() << ")";
  std::cout << "[ measure ] master's link deleted: gateway 2 holds " << kNextHop
            << " and the router sends to it after " << total->count()
            << " ms (VRRP adverts every 100 ms)" << std::endl;
  r = connect(100);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
  int lost = broken(holds);
  std::cout << "[ measure ] long-lived DR connections broken by the failover: " << lost << " of "
            << kHolds << std::endl;
  EXPECT_EQ(lost, 0);
}

TEST_F(VrrpTest, TrackScriptMakesAGatewayThatCannotServeTheVipGiveWay) {
  ASSERT_TRUE(awaitMaster(gws_[0], std::chrono::seconds(20)).has_value());
  // Gateway 1's own health view: every backend down (probed on a closed port).
  ctlOk(gws_[0], {"set-health", kVip, "--kind", "tcp", "--port", "81", "--interval-ms", "100",
                  "--timeout-ms", "50", "--fall", "1"});
  auto start = Clock::now();
  auto moved = awaitMaster(gws_[1], std::chrono::seconds(20));
  ASSERT_TRUE(moved.has_value()) << "gateway 2 never took over";
  std::cout << "[ measure ] backends down in gateway 1's view: gateway 2 master after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()
            << " ms (track script every 1 s)" << std::endl;
  json r = connect(100);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();

  // Healthy again: the preferred gateway takes the address back.
  ctlOk(gws_[0], {"set-health", kVip, "--kind", "tcp", "--port", "80", "--fall", "3"});
  EXPECT_TRUE(awaitMaster(gws_[0], std::chrono::seconds(20)).has_value());
  r = connect(100);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
}

// After a failover the new master has no reverse entry for the flows the
// old one translated: a backend reply that arrives before the client's next
// packet is translated statelessly (its backend port serves this VIP only),
// and the client's next packet gives the flow its entries again.
TEST_F(VrrpNatTest, NatFlowsSurviveAFailover) {
  ASSERT_TRUE(awaitMaster(gws_[0], std::chrono::seconds(20)).has_value());
  json r = connect(100);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
  EXPECT_GT(globalStat(gws_[0], "nat_reply"), 0u);

  constexpr int kHolds = 8;
  auto holds = startHolds(kHolds, 6000);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto total = failMaster();
  ASSERT_TRUE(total.has_value()) << "gateway 2 never took over";
  std::cout << "[ measure ] NAT: gateway 2 master after " << total->count() << " ms" << std::endl;
  int lost = broken(holds);
  std::cout << "[ measure ] long-lived NAT connections broken by the failover: " << lost << " of "
            << kHolds << "; on gateway 2 " << globalStat(gws_[1], "nat_reply_stateless")
            << " replies translated without state, " << globalStat(gws_[1], "nat_reply") << " with"
            << std::endl;
  EXPECT_EQ(lost, 0) << ctl(gws_[1], {"stats"}).out;
  r = connect(100);
  EXPECT_EQ(r.value("ok", 0), 100) << r.dump();
  // The gateway's own probes to the backends' port are not replies to
  // translate: gateway 2 sees every backend healthy.
  auto list = json::parse(ctl(gws_[1], {"list", "--json"}).out, nullptr, false);
  ASSERT_TRUE(list.is_array() && !list.empty()) << list.dump();
  for (const auto& b : list[0]["backends"]) {
    EXPECT_EQ(b.value("health", ""), "serve") << b.dump();
  }
}

}  // namespace
}  // namespace lb4::test
