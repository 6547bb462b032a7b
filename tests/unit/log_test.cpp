// Log lines of lb4d: a state change names what changed, never the raw
// request; the JSON log format is one object per line; log-level requests.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "userspace/api/handlers.h"
#include "userspace/daemon/logging.h"

namespace lb4 {
namespace {

Request parsed(const std::string& line) {
  auto r = parseRequest(line);
  EXPECT_TRUE(r) << r.error();
  return r ? *r : Request{};
}

TEST(LogTest, StateChangesAreDescribedNotDumped) {
  DesiredState state;
  auto vip = ServiceKey::parse("198.18.1.100:80/tcp").value();
  ASSERT_TRUE(state.addVip(vip, ForwardingMode::kDr, 65537));
  EXPECT_EQ(describeChange(parsed(R"({"v":1,"op":"add-vip","vip":"198.18.1.100:80/tcp"})"), state),
            "add-vip 198.18.1.100:80/tcp mode dr ring 65537");
  EXPECT_EQ(describeChange(parsed(R"({"v":1,"op":"add-backend","vip":"198.18.1.100:80/tcp",)"
                                  R"("backend":"198.18.0.13","weight":100,"wait_ms":10})"),
                           state),
            "add-backend 198.18.0.13 to 198.18.1.100:80/tcp weight 100");
  EXPECT_EQ(describeChange(parsed(R"({"v":1,"op":"add-backend","vip":"198.18.1.100:80/tcp",)"
                                  R"("backend":"198.18.0.13","mac":"02:00:00:00:00:01"})"),
                           state),
            "add-backend 198.18.0.13 to 198.18.1.100:80/tcp weight 100 mac 02:00:00:00:00:01");
  EXPECT_EQ(describeChange(parsed(R"({"v":1,"op":"set-weight","vip":"198.18.1.100:80/tcp",)"
                                  R"("backend":"198.18.0.13","weight":50})"),
                           state),
            "set-weight 198.18.0.13 of 198.18.1.100:80/tcp to 50");
  EXPECT_EQ(describeChange(parsed(R"({"v":1,"op":"drain","vip":"198.18.1.100:80/tcp",)"
                                  R"("backend":"198.18.0.13"})"),
                           state),
            "drain 198.18.0.13 of 198.18.1.100:80/tcp");
  EXPECT_EQ(describeChange(parsed(R"({"v":1,"op":"del-backend","vip":"198.18.1.100:80/tcp",)"
                                  R"("backend":"198.18.0.13"})"),
                           state),
            "del-backend 198.18.0.13 from 198.18.1.100:80/tcp");
  EXPECT_EQ(describeChange(parsed(R"({"v":1,"op":"set-health","vip":"198.18.1.100:80/tcp",)"
                                  R"("health":{"kind":"http","http_path":"/healthz"}})"),
                           state),
            "set-health of 198.18.1.100:80/tcp: http_path=/healthz kind=http");
  EXPECT_EQ(describeChange(parsed(R"({"v":1,"op":"del-vip","vip":"198.18.1.100:80/tcp"})"), state),
            "del-vip 198.18.1.100:80/tcp");
}

class CapturedLog : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(CapturedLog, JsonFormatIsOneEscapedObjectPerLine) {
  setupLogging("json", "info");
  spdlog::info("backend {} of {}: idle→overload: \"quoted\"\nsecond line", "198.18.0.12",
               "198.18.1.100:80/tcp");
  spdlog::debug("not shown at info");
  spdlog::warn("bad byte \xff here");
  std::string text = out_.str();
  std::istringstream lines(text);
  std::string line;
  std::vector<nlohmann::json> records;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    records.push_back(j);
  }
  ASSERT_EQ(records.size(), 2u) << text;
  EXPECT_EQ(records[0]["level"], "info");
  EXPECT_EQ(records[0]["msg"],
            "backend 198.18.0.12 of 198.18.1.100:80/tcp: idle→overload: \"quoted\"\nsecond line");
  EXPECT_EQ(records[0]["time"].get<std::string>().size(), 24u);  // 2026-12-02T06:00:00.123Z
  EXPECT_EQ(records[0]["time"].get<std::string>().back(), 'Z');
  EXPECT_EQ(records[1]["level"], "warning");
  EXPECT_NE(records[1]["msg"].get<std::string>().find("bad byte"), std::string::npos);
  setupLogging("text", "info");
}

TEST_F(CapturedLog, LogLevelRequestsSetAndReportTheLevel) {
  setupLogging("text", "info");
  auto shown = handleLogLevel(parsed(R"({"v":1,"op":"log-level"})"));
  EXPECT_EQ(shown["level"], "info");
  auto set = handleLogLevel(parsed(R"({"v":1,"op":"log-level","level":"debug"})"));
  EXPECT_EQ(set["level"], "debug");
  EXPECT_EQ(set["previous"], "info");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_NE(out_.str().find("log level info -> debug"), std::string::npos) << out_.str();
  auto bad = parseRequest(R"({"v":1,"op":"log-level","level":"loud"})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("log level 'loud': expected trace, debug, info, warn or error"),
            std::string::npos)
      << bad.error();
  setupLogging("text", "info");
}

}  // namespace
}  // namespace lb4
