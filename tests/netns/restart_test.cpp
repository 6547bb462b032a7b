// Restart and crash safety with real TCP through lb4 (direct routing,
// namespaces): long-lived connections and new connections during the gap
// survive `kill -9` and a graceful stop/start of lb4d (the XDP program and
// its pinned maps keep forwarding, the new daemon adopts them without
// resetting conntrack); a pinned map layout from another build is refused
// with a clear message and left untouched; a backend whose link disappears
// takes only its own flows with it.
#include <fcntl.h>

#include <regex>

#include "netns_fixture.h"

namespace lb4::test {
namespace {

class RestartTest : public DrTopologyTest {
 protected:
  struct Hold {
    Process process;
    std::string log;
    std::string backend;  // "b<i>" once connected
  };

  // Starts `count` long-lived connections (a line every 50 ms for
  // `durationMs`) and waits until each knows its backend.
  void startHolds(int count, int durationMs) {
    for (int i = 0; i < count; ++i) {
      auto h = std::make_unique<Hold>();
      h->log = (work_ / ("hold" + std::to_string(i) + ".log")).string();
      h->process = Process(
          {"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"), "hold", "--to",
           kVip, "--duration-ms", std::to_string(durationMs), "--interval-ms", "50"},
          h->log);
      holds_.push_back(std::move(h));
    }
    for (auto& h : holds_) {
      for (int i = 0; i < 250 && h->backend.empty(); ++i) {
        std::ifstream in(h->log);
        std::string line;
        while (std::getline(in, line)) {
          if (line.rfind("connected to ", 0) == 0) {
            h->backend = line.substr(13);
          }
        }
        if (h->backend.empty()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      ASSERT_FALSE(h->backend.empty()) << "a long-lived connection did not start";
    }
  }

  // Waits for a hold to finish; true when it never missed an exchange.
  bool holdSurvived(Hold& h, bool report = true) {
    int rc = h.process.wait(std::chrono::seconds(30));
    std::ifstream in(h.log);
    std::string all(std::istreambuf_iterator<char>(in), {});
    auto pos = all.rfind('{');
    auto j = pos == std::string::npos ? nlohmann::json()
                                      : nlohmann::json::parse(all.substr(pos), nullptr, false);
    bool ok = rc == 0 && j.is_object() && j.value("errors", 1) == 0 && j.value("exchanges", 0) > 0;
    if (!ok && report) {
      std::cerr << "hold " << h.log << " (exit " << rc << "): " << all << "\n";
    }
    return ok;
  }

  nlohmann::json status() {
    auto r = ctl({"status", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  std::string daemonLog() {
    std::ifstream in(work_ / "lb4d.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Stops lb4d with `sig`, opens connections while it is gone, starts it
  // again, opens more: counts every connection that broke.
  void restartUnderTraffic(int sig) {
    configureDr();
    EXPECT_EQ(status().value("adopted", true), false) << "fresh maps reported as adopted";
    ASSERT_EQ(connect(30).value("ok", 0), 30) << "the service does not work before the restart";
    auto before = listState();
    constexpr int kHolds = 6;
    constexpr int kGap = 60;
    constexpr int kAfter = 60;
    startHolds(kHolds, 6000);
    ASSERT_FALSE(HasFatalFailure());
    daemon_.stop(sig);
    auto gap = connect(kGap);
    startDaemon();
    ASSERT_FALSE(HasFatalFailure());
    auto after = connect(kAfter);
    int brokenHolds = 0;
    for (auto& h : holds_) {
      brokenHolds += holdSurvived(*h) ? 0 : 1;
    }
    int total = kHolds + kGap + kAfter;
    int broken = brokenHolds + (kGap - gap.value("ok", 0)) + (kAfter - after.value("ok", 0));
    std::cout << "restart with signal " << sig << ": connections broken " << broken << " of "
              << total << " (" << kHolds << " long-lived, " << kGap << " opened while lb4d was "
              << "down, " << kAfter << " after)\n";
    EXPECT_EQ(broken, 0) << "gap " << gap.dump() << " after " << after.dump();
    // The new daemon adopted the pinned maps and restored the same state.
    EXPECT_NE(daemonLog().find("maps adopted in"), std::string::npos);
    auto s = status();
    EXPECT_EQ(s.value("adopted", false), true) << s.dump();
    EXPECT_EQ(listState(), before);
  }

  // The pinned lb4_config map (under the pin root, wherever the daemon
  // keeps its maps).
  std::string pinnedConfigMap() {
    for (const auto& e : std::filesystem::recursive_directory_iterator(pinRoot_)) {
      if (e.path().filename() == "lb4_config") {
        return e.path().string();
      }
    }
    return {};
  }

  std::vector<std::unique_ptr<Hold>> holds_;
};

TEST_F(RestartTest, KillNineRestartBreaksNoConnection) { restartUnderTraffic(SIGKILL); }

TEST_F(RestartTest, GracefulStopStartBreaksNoConnection) { restartUnderTraffic(SIGTERM); }

// An "upgrade" to a build with another map layout: the pinned lb4_config
// says layout 99. The new daemon must refuse to adopt the maps with a clear
// message and change nothing: the running program keeps forwarding, and
// once the layout matches again a daemon starts normally.
TEST_F(RestartTest, IncompatibleMapLayoutIsRefusedClearlyAndNothingIsCorrupted) {
  configureDr();
  ASSERT_EQ(connect(30).value("ok", 0), 30);
  auto before = listState();
  daemon_.stop(SIGTERM);
  std::string map = pinnedConfigMap();
  ASSERT_FALSE(map.empty()) << "no pinned lb4_config under " << pinRoot_;
  auto dump =
      runCommand({"bpftool", "-j", "map", "lookup", "pinned", map, "key", "0", "0", "0", "0"});
  ASSERT_EQ(dump.status, 0) << dump.err;
  auto j = nlohmann::json::parse(dump.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("value")) << dump.out;
  std::vector<std::string> original;
  for (const auto& b : j["value"]) {
    original.push_back(std::to_string(std::stoi(b.get<std::string>(), nullptr, 16)));
  }
  ASSERT_GE(original.size(), 4u);
  auto write = [&](std::vector<std::string> value) {
    std::vector<std::string> argv = {"bpftool", "map", "update", "pinned", map,    "key",
                                     "0",       "0",   "0",      "0",      "value"};
    argv.insert(argv.end(), value.begin(), value.end());
    auto r = runCommand(argv);
    ASSERT_EQ(r.status, 0) << r.err;
  };
  auto wrong = original;
  wrong[0] = "99";
  wrong[1] = wrong[2] = wrong[3] = "0";
  write(wrong);

  auto r = runCommand({"timeout", "30", "nsenter", "--net=/run/netns/" + ns("gw"),
                       buildPath("userspace/lb4d"), "--socket", socket_, "--state-file",
                       (work_ / "state.json").string(), "--pin-root", pinRoot_});
  std::string out = r.out + r.err;
  EXPECT_NE(r.status, 0) << out;
  EXPECT_NE(r.status, 124) << "lb4d started on an incompatible map layout";
  EXPECT_NE(out.find("layout version 99"), std::string::npos) << out;
  EXPECT_NE(out.find("detach and remove"), std::string::npos) << out;
  // Forwarding continues on the untouched maps.
  EXPECT_EQ(connect(30).value("ok", 0), 30);
  auto still =
      runCommand({"bpftool", "-j", "map", "lookup", "pinned", map, "key", "0", "0", "0", "0"});
  EXPECT_EQ(nlohmann::json::parse(still.out, nullptr, false)["value"][0], "0x63") << still.out;

  write(original);
  startDaemon();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(listState(), before);
  EXPECT_EQ(connect(30).value("ok", 0), 30);
}

// A backend's link disappears in the middle of long-lived transfers: its
// own connections break, every other backend's connections continue.
TEST_F(RestartTest, BackendLinkDisappearingLeavesOtherBackendsFlowsUndisturbed) {
  configureDr();
  startHolds(9, 4000);
  ASSERT_FALSE(HasFatalFailure());
  std::string victim = holds_[0]->backend;
  int others = 0;
  for (const auto& h : holds_) {
    others += h->backend != victim ? 1 : 0;
  }
  ASSERT_GT(others, 0) << "every connection went to " << victim;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // b<i> is the switch-side end of backend i's veth: deleting it removes
  // both ends, mid-transfer.
  auto del = runCommand({"ip", "-n", ns("sw"), "link", "del", victim});
  ASSERT_EQ(del.status, 0) << del.err;
  int undisturbed = 0;
  for (auto& h : holds_) {
    bool ok = holdSurvived(*h, h->backend != victim);
    if (h->backend != victim) {
      EXPECT_TRUE(ok) << "a connection to " << h->backend << " broke when " << victim
                      << " lost its link";
      undisturbed += ok ? 1 : 0;
    }
  }
  std::cout << victim << " lost its link: " << undisturbed << " of " << others
            << " connections to other backends undisturbed\n";
}

}  // namespace
}  // namespace lb4::test
