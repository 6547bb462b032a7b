// `lb4ctl trace` against real traffic: the backend trace names for a
// client port is the backend a connection from that port reaches, before
// it connects (from the table), after (from its conntrack entry) and after
// a backend change.
#include <algorithm>
#include <set>

#include "netns_fixture.h"

namespace lb4::test {
namespace {

class TraceTest : public DrTopologyTest {
 protected:
  static constexpr const char* kClient = "198.18.0.1";

  nlohmann::json trace(int port) {
    auto r = ctl({"trace", std::string(kClient) + ":" + std::to_string(port), kVip, "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  // The server name ("b1".."b3") of the backend trace names, "" if none.
  static std::string nameOf(const nlohmann::json& t) {
    if (!t.contains("backend") || !t["backend"].contains("address")) {
      return "";
    }
    std::string addr = t["backend"]["address"].get<std::string>();  // 198.18.0.1N
    return "b" + addr.substr(addr.size() - 1);
  }

  // The backend one connection from `port` reaches.
  std::string connectFrom(int port) {
    auto r = runCommand({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"),
                         "connect", "--to", kVip, "--count", "1", "--source-port",
                         std::to_string(port), "--timeout-ms", "2000"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || j.value("ok", 0) != 1) {
      ADD_FAILURE() << "connect from port " << port << ": " << r.out << r.err;
      return "";
    }
    return j["by_backend"].begin().key();
  }
};

TEST_F(TraceTest, TracedBackendIsTheOneReachedBeforeAndAfterABackendChange) {
  configureDr();
  std::set<std::string> seen;
  std::string first;
  for (int port = 41000; port < 41012; ++port) {
    SCOPED_TRACE("port " + std::to_string(port));
    auto before = trace(port);
    EXPECT_TRUE(before["conntrack"].is_null()) << before.dump();
    EXPECT_EQ(before.value("source", ""), "table") << before.dump();
    EXPECT_EQ(before["verdict"].value("counter", ""), "ct_miss") << before.dump();
    std::string named = nameOf(before);
    ASSERT_FALSE(named.empty()) << before.dump();
    EXPECT_EQ(connectFrom(port), named) << before.dump();

    auto after = trace(port);
    ASSERT_TRUE(after["conntrack"].is_object()) << after.dump();
    EXPECT_TRUE(after["conntrack"]["usable"].get<bool>()) << after.dump();
    EXPECT_EQ(after["conntrack"]["backend_id"], before["backend"]["id"]) << after.dump();
    EXPECT_EQ(after.value("source", ""), "conntrack") << after.dump();
    EXPECT_EQ(after["verdict"].value("counter", ""), "ct_hit") << after.dump();
    EXPECT_EQ(nameOf(after), named);
    seen.insert(named);
    if (first.empty()) {
      first = named;
    }
  }
  EXPECT_GE(seen.size(), 2u) << "twelve ports all went to one backend";

  // Remove the first flow's backend: its entry is stale, new flows from other
  // ports go where trace says.
  std::string victim = "198.18.0.1" + first.substr(1);
  ctlOk({"del-backend", kVip, victim});
  auto stale = trace(41000);
  ASSERT_TRUE(stale["conntrack"].is_object()) << stale.dump();
  EXPECT_FALSE(stale["conntrack"]["usable"].get<bool>()) << stale.dump();
  EXPECT_NE(stale["conntrack"].value("why_not", "").find("stale"), std::string::npos)
      << stale.dump();
  EXPECT_EQ(stale["verdict"].value("counter", ""), "ct_resched") << stale.dump();
  EXPECT_NE(nameOf(stale), first) << stale.dump();
  for (int port = 42000; port < 42012; ++port) {
    SCOPED_TRACE("port " + std::to_string(port));
    auto t = trace(port);
    std::string named = nameOf(t);
    ASSERT_FALSE(named.empty()) << t.dump();
    EXPECT_NE(named, first) << t.dump();
    EXPECT_EQ(connectFrom(port), named) << t.dump();
  }
}

TEST_F(TraceTest, UnknownVipIsPassedAndBadArgumentsAreOneLine) {
  configureDr();
  auto r = ctl({"trace", "198.18.0.1:40000", "198.18.1.100:81/tcp", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["verdict"]["action"], "pass") << j.dump();
  EXPECT_EQ(j["verdict"]["counter"], "pass") << j.dump();
  r = ctl({"trace", "198.18.0.1:40000", kVip});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("persistence  none"), std::string::npos) << r.out;
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"trace", "198.18.0.1", kVip},
                                             {"trace", "198.18.0.1:0", kVip},
                                             {"trace", "198.18.0.1:4000", "198.18.1.100/tcp"},
                                             {"trace", "[2001:db8::1]:4000", kVip},
                                             {"trace", "198.18.0.1:4000"}}) {
    auto bad = ctl(args);
    EXPECT_NE(bad.status, 0) << bad.out;
    EXPECT_EQ(bad.err.rfind("lb4ctl: ", 0), 0u) << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  }
}

}  // namespace
}  // namespace lb4::test
