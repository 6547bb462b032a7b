// What an operator watches, against real traffic: the new-connection
// counters of `lb4ctl stats` equal the connections made, and `lb4ctl top`
// draws them live on a real terminal (tmux: send-keys, capture-pane).
#include <fstream>
#include <sstream>

#include "netns_fixture.h"

namespace lb4::test {
namespace {

class ObserveTest : public DrTopologyTest {
 protected:
  void TearDown() override {
    if (!tmuxSocket_.empty()) {
      runCommand({"tmux", "-S", tmuxSocket_, "kill-server"});
    }
    DrTopologyTest::TearDown();
  }

  nlohmann::json statsJson() {
    auto r = ctl({"stats", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  CommandResult tmux(std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-S", tmuxSocket_});
    return runCommand(args);
  }

  std::string capture() { return tmux({"capture-pane", "-p", "-t", "top"}).out; }

  // The whitespace-separated fields of the pane's line that starts with
  // `name` (after indentation); empty if there is none.
  static std::vector<std::string> rowOf(const std::string& screen, const std::string& name) {
    std::istringstream in(screen);
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::vector<std::string> f;
      for (std::string w; fields >> w;) {
        f.push_back(w);
      }
      if (!f.empty() && f[0] == name) {
        return f;
      }
    }
    return {};
  }

  // Captures the pane until `ok` holds for it (at most ~10 s); the last capture.
  template <typename Pred>
  std::string waitForPane(Pred ok) {
    std::string screen;
    for (int i = 0; i < 100; ++i) {
      screen = capture();
      if (ok(screen)) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return screen;
  }

  std::string tmuxSocket_;
};

TEST_F(ObserveTest, NewConnectionsEqualTheConnectionsMadePerVipAndBackend) {
  configureDr();
  auto made = connect(60);
  ASSERT_EQ(made.value("ok", 0), 60) << made.dump();
  auto stats = statsJson();
  ASSERT_EQ(stats["vips"].size(), 1u) << stats.dump();
  const auto& vip = stats["vips"][0];
  EXPECT_EQ(vip["new_connections"].get<uint64_t>(), 60u) << stats.dump();
  // Each connection is several packets but one new connection.
  EXPECT_GT(vip["packets"].get<uint64_t>(), 60u * 2) << stats.dump();
  uint64_t sum = 0;
  for (const auto& b : vip["backends"]) {
    std::string addr = b["address"].get<std::string>();  // 198.18.0.1N serves as bN
    std::string name = "b" + addr.substr(addr.size() - 1);
    uint64_t reached = made["by_backend"].value(name, uint64_t{0});
    EXPECT_EQ(b["new_connections"].get<uint64_t>(), reached) << name << " " << stats.dump();
    sum += b["new_connections"].get<uint64_t>();
  }
  EXPECT_EQ(sum, 60u);
}

TEST_F(ObserveTest, TopDrawsVipsAndBackendsLiveAndQuitsOnQ) {
  configureDr();
  ASSERT_EQ(connect(30).value("ok", 0), 30);
  tmuxSocket_ = (work_ / "tmux.sock").string();
  // The shell records lb4ctl's exit status: tmux does not always have it
  // for a pane whose process just ended.
  const std::string exitFile = (work_ / "top.exit").string();
  std::string cmd = "sh -c '" + buildPath("cli/lb4ctl") + " --socket " + socket_ +
                    " top --interval 0.3; echo $? > " + exitFile + "'";
  auto started = tmux({"new-session", "-d", "-s", "top", "-x", "132", "-y", "30", cmd});
  ASSERT_EQ(started.status, 0) << started.err;
  // Keep the pane when lb4ctl exits, to read how it exited.
  ASSERT_EQ(tmux({"set-option", "-t", "top", "remain-on-exit", "on"}).status, 0);

  // The table: the VIP with its 30 connections, three serving backends.
  std::string screen = waitForPane([&](const std::string& s) {
    auto v = rowOf(s, "198.18.1.100:80/tcp");
    return !v.empty() && v.back() == "30" && rowOf(s, "198.18.0.13").size() > 2;
  });
  auto vipRow = rowOf(screen, "198.18.1.100:80/tcp");
  ASSERT_FALSE(vipRow.empty()) << screen;
  EXPECT_EQ(vipRow.back(), "30") << screen;
  EXPECT_NE(screen.find("(q quits)"), std::string::npos) << screen;
  for (const char* b : {"198.18.0.11", "198.18.0.12", "198.18.0.13"}) {
    auto row = rowOf(screen, b);
    ASSERT_GE(row.size(), 3u) << b << "\n" << screen;
    EXPECT_EQ(row[1], "serving") << screen;
    EXPECT_EQ(row[2], "100/100") << screen;
  }

  // Traffic while it runs shows up as a packet rate on the VIP's line.
  Process hold({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"), "hold",
                "--to", kVip, "--duration-ms", "4000", "--interval-ms", "10"},
               (work_ / "hold.log").string());
  screen = waitForPane([&](const std::string& s) {
    auto v = rowOf(s, "198.18.1.100:80/tcp");
    return v.size() > 2 && v[2] != "-" && v[2] != "0";
  });
  vipRow = rowOf(screen, "198.18.1.100:80/tcp");
  ASSERT_GT(vipRow.size(), 2u) << screen;
  EXPECT_GT(std::stod(vipRow[2]), 0.0) << screen;

  // A change made elsewhere is drawn in place.
  ctlOk({"drain", kVip, "198.18.0.12"});
  screen = waitForPane([&](const std::string& s) {
    auto row = rowOf(s, "198.18.0.12");
    return row.size() > 1 && row[1] == "drained";
  });
  auto drained = rowOf(screen, "198.18.0.12");
  ASSERT_GT(drained.size(), 1u) << screen;
  EXPECT_EQ(drained[1], "drained") << screen;

  // q quits with status 0 and leaves the alternate screen.
  ASSERT_EQ(tmux({"send-keys", "-t", "top", "q"}).status, 0);
  std::string status;
  for (int i = 0; i < 50 && status.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(exitFile);
    std::getline(in, status);
  }
  EXPECT_EQ(status, "0") << "lb4ctl top's exit status after q";
  std::string state;
  for (int i = 0; i < 50; ++i) {
    state = tmux({"display-message", "-p", "-t", "top", "#{pane_dead} #{alternate_on}"}).out;
    if (state.rfind("1 ", 0) == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(state, "1 0\n") << "pane_dead alternate_on";
}

}  // namespace
}  // namespace lb4::test
