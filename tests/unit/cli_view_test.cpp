// lb4ctl's live views without a daemon: the rates `stats --watch` computes
// and the table `top` draws from list/stats replies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/stats_watch.h"
#include "cli/top.h"

namespace lb4::cli {
namespace {

using nlohmann::json;

json listReply() {
  return json::parse(R"([{"vip": "198.18.1.100:80/tcp", "mode": "dr", "ring_size": 65537,
    "all_backends_down": false, "backends": [
      {"address": "198.18.0.11", "weight": 100, "effective_weight": 100, "health": "serve",
       "drained": false, "enabled": true, "mac": "02:00:00:00:00:11", "reachable": true},
      {"address": "198.18.0.12", "weight": 100, "effective_weight": 0, "health": "serve",
       "drained": true, "enabled": true, "mac": "02:00:00:00:00:12", "reachable": true},
      {"address": "198.18.0.13", "weight": 50, "effective_weight": 0, "health": "remove",
       "drained": false, "enabled": false, "mac": "02:00:00:00:00:13", "reachable": true}]}])");
}

json statsReply(uint64_t packets, uint64_t bytes, uint64_t conns) {
  return {
      {"global", json::object()},
      {"conntrack",
       {{"size", 1024},
        {"cpus", 2},
        {"per_cpu", {{{"cpu", 0}, {"entries", 3}}, {{"cpu", 1}, {"entries", 4}}}}}},
      {"vips",
       {{{"vip", "198.18.1.100:80/tcp"},
         {"packets", packets},
         {"bytes", bytes},
         {"new_connections", conns},
         {"backends",
          {{{"address", "198.18.0.11"},
            {"packets", packets},
            {"bytes", bytes},
            {"new_connections", conns}},
           {{"address", "198.18.0.12"}, {"packets", 0}, {"bytes", 0}, {"new_connections", 0}},
           {{"address", "198.18.0.13"}, {"packets", 0}, {"bytes", 0}, {"new_connections", 0}}}}}}}};
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}

// The line of the table that starts with `name` (after indentation).
std::string rowOf(const std::string& screen, const std::string& name) {
  for (const auto& l : lines(screen)) {
    if (l.find(name) != std::string::npos && l.find_first_not_of(' ') == l.find(name)) {
      return l;
    }
  }
  return "";
}

TEST(StatsRatesTest, RatesAreDeltasOverTheTimeThatPassedAndAResetCountsFromZero) {
  json r = statsRates(statsReply(300, 30000, 30), statsReply(100, 10000, 10), 2.0);
  EXPECT_DOUBLE_EQ(r["interval_s"].get<double>(), 2.0);
  const json& v = r["vips"][0];
  EXPECT_DOUBLE_EQ(v["packets_per_s"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(v["bytes_per_s"].get<double>(), 10000.0);
  EXPECT_DOUBLE_EQ(v["new_connections_per_s"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(v["backends"][0]["new_connections_per_s"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(v["backends"][1]["packets_per_s"].get<double>(), 0.0);
  // Counters that went down (lb4d restarted with new maps): counted from 0.
  json reset = statsRates(statsReply(40, 4000, 4), statsReply(100, 10000, 10), 2.0);
  EXPECT_DOUBLE_EQ(reset["vips"][0]["packets_per_s"].get<double>(), 20.0);
}

TEST(TopViewTest, FirstRoundShowsStatesAndTotalsWithNoRates) {
  std::string screen = renderTop(listReply(), statsReply(300, 30000, 30), json(), "head", 0);
  EXPECT_EQ(lines(screen).at(0), "head");
  EXPECT_NE(screen.find("conntrack 7 of 1024 entries over 2 CPUs"), std::string::npos) << screen;
  std::string vip = rowOf(screen, "198.18.1.100:80/tcp");
  ASSERT_FALSE(vip.empty()) << screen;
  EXPECT_NE(vip.find(" dr "), std::string::npos) << vip;
  EXPECT_NE(vip.find(" - "), std::string::npos) << vip;  // no rate yet
  EXPECT_EQ(vip.substr(vip.find_last_not_of(' ') - 1, 2), "30") << vip;
  std::string b1 = rowOf(screen, "198.18.0.11");
  EXPECT_NE(b1.find("serving"), std::string::npos) << b1;
  EXPECT_NE(b1.find("100/100"), std::string::npos) << b1;
  EXPECT_NE(rowOf(screen, "198.18.0.12").find("drained"), std::string::npos) << screen;
  EXPECT_NE(rowOf(screen, "198.18.0.13").find("down "), std::string::npos) << screen;
  EXPECT_NE(rowOf(screen, "198.18.0.13").find("0/50"), std::string::npos) << screen;
}

TEST(TopViewTest, LaterRoundsShowRatesPerVipAndBackend) {
  json now = statsReply(300, 30000, 30);
  json rates = statsRates(now, statsReply(100, 10000, 10), 2.0);
  std::string screen = renderTop(listReply(), now, rates, "head", 0);
  std::string b1 = rowOf(screen, "198.18.0.11");
  EXPECT_NE(b1.find(" 100 "), std::string::npos) << b1;      // pkt/s
  EXPECT_NE(b1.find("9.8 KiB/s"), std::string::npos) << b1;  // 10000 B/s
  EXPECT_NE(b1.find(" 10 "), std::string::npos) << b1;       // conn/s
  std::string b2 = rowOf(screen, "198.18.0.12");
  EXPECT_EQ(b2.find(" - "), std::string::npos) << b2;  // a rate, 0, not "-"
}

TEST(TopViewTest, LinesAreCutToTheTerminalWidthAndAnEmptyGatewaySaysSo) {
  for (const auto& l : lines(renderTop(listReply(), statsReply(1, 1, 1), json(), "head", 40))) {
    EXPECT_LE(l.size(), 40u) << l;
  }
  std::string empty = renderTop(json::array(), statsReply(0, 0, 0), json(), "head", 0);
  EXPECT_NE(empty.find("no VIPs configured"), std::string::npos) << empty;
}

}  // namespace
}  // namespace lb4::cli
