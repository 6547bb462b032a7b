// lb4d's logs: a state change is one line naming what changed (never the
// raw request), --log-format json writes one JSON object per line, and
// `lb4ctl log-level` shows and changes the level at run time.
#include "daemon_fixture.h"

namespace lb4::test {
namespace {

class LogTest : public DaemonTest {
 protected:
  std::string log() {
    std::ifstream in(work_ / "lb4d.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_F(LogTest, JsonLinesNameEachChangeAndTheLevelChangesAtRunTime) {
  startDaemon({"--log-format", "json"});
  ASSERT_EQ(ctl({"add-vip", "198.18.1.100:80/tcp"}).status, 0);
  ASSERT_EQ(ctl({"add-backend", "198.18.1.100:80/tcp", "198.18.0.13", "--mac", "02:00:00:00:00:01"})
                .status,
            0);
  auto shown = ctl({"log-level"});
  EXPECT_EQ(shown.status, 0) << shown.err;
  EXPECT_EQ(shown.out, "info\n");
  auto set = ctl({"log-level", "debug"});
  EXPECT_EQ(set.status, 0) << set.err;
  EXPECT_EQ(set.out, "log level debug (was info)\n");
  EXPECT_EQ(ctl({"log-level"}).out, "debug\n");
  auto bad = ctl({"log-level", "loud"});
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(bad.err, "lb4ctl: log level 'loud': expected trace, debug, info, warn or error\n");
  ASSERT_EQ(ctl({"set-weight", "198.18.1.100:80/tcp", "198.18.0.13", "50"}).status, 0);

  std::vector<nlohmann::json> records;
  std::istringstream lines(log());
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
    ASSERT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    records.push_back(j);
  }
  auto has = [&](const std::string& msg) {
    for (const auto& r : records) {
      if (r["msg"] == msg) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(has("add-vip 198.18.1.100:80/tcp mode dr ring 65537")) << log();
  EXPECT_TRUE(
      has("add-backend 198.18.0.13 to 198.18.1.100:80/tcp weight 100 mac 02:00:00:00:00:01"))
      << log();
  EXPECT_TRUE(has("log level info -> debug (log-level request)")) << log();
  EXPECT_TRUE(has("set-weight 198.18.0.13 of 198.18.1.100:80/tcp to 50")) << log();
  for (const auto& r : records) {
    EXPECT_EQ(r["msg"].get<std::string>().find("\"op\""), std::string::npos) << r.dump();
  }
}

TEST_F(LogTest, BadLogFormatIsOneLineBeforeAnythingIsCreated) {
  auto r = runCommand(daemonArgv({"--log-format", "xml"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out + r.err, "lb4d: log format 'xml': expected text or json\n");
  EXPECT_FALSE(std::filesystem::exists(state_));
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

// stats --watch: JSON lines with rates from the second round on, and no
// terminal control codes when stdout is not a terminal (here a file).
TEST_F(LogTest, StatsWatchPrintsRatesAsJsonLinesAndNoTerminalCodesToAFile) {
  startDaemon();
  ASSERT_EQ(ctl({"add-vip", "198.18.1.100:80/tcp"}).status, 0);
  ASSERT_EQ(ctl({"add-backend", "198.18.1.100:80/tcp", "198.18.0.13", "--mac", "02:00:00:00:00:01"})
                .status,
            0);
  auto r = ctl({"stats", "--watch", "0.2", "--count", "3", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> rounds;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    rounds.push_back(j);
  }
  ASSERT_EQ(rounds.size(), 3u) << r.out;
  EXPECT_FALSE(rounds[0].contains("rates"));
  for (size_t i = 1; i < rounds.size(); ++i) {
    const auto& rates = rounds[i]["rates"];
    EXPECT_GE(rates["interval_s"].get<double>(), 0.2) << rates.dump();
    ASSERT_EQ(rates["vips"].size(), 1u) << rates.dump();
    EXPECT_EQ(rates["vips"][0]["vip"], "198.18.1.100:80/tcp");
    EXPECT_EQ(rates["vips"][0]["packets_per_s"], 0.0);
    ASSERT_EQ(rates["vips"][0]["backends"].size(), 1u);
    EXPECT_EQ(rates["vips"][0]["backends"][0]["address"], "198.18.0.13");
  }
  auto text = ctl({"stats", "--watch", "0.1", "--count", "2"});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("rates:\n  198.18.1.100:80/tcp  0 pkt/s  0 B/s"), std::string::npos)
      << text.out;
}

}  // namespace
}  // namespace lb4::test
