// A VIP's source lists through lb4d, lb4ctl and real connections: the
// client (198.18.0.1) is refused by a deny prefix and by an allow list
// that leaves it out, served again when a list takes it in or the lists
// are emptied; `list`, `stats` and `trace` show what decided.
#include "netns_fixture.h"

namespace lb4::test {
namespace {

class SourceFilterNetnsTest : public DrTopologyTest {
 protected:
  // Connections from the client namespace that succeed out of `count`.
  int connected(int count) {
    auto r = runCommand({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"),
                         "connect", "--to", kVip, "--count", std::to_string(count), "--timeout-ms",
                         "300"});
    auto json = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << r.out << r.err;
    return json.is_discarded() ? -1 : json.value("ok", -1);
  }

  nlohmann::json jsonOf(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    auto r = ctl(args);
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  uint64_t vipDropped() {
    auto stats = jsonOf({"stats"});
    return stats["vips"].is_array() && !stats["vips"].empty()
               ? stats["vips"][0].value("dropped", uint64_t{0})
               : 0;
  }
};

TEST_F(SourceFilterNetnsTest, DenyAndAllowListsDecideWhoReachesTheVip) {
  configureDr();
  ASSERT_EQ(connected(5), 5);

  // A deny prefix holding the client: nothing gets through, every SYN counted.
  ctlOk({"set-sources", kVip, "--deny", "198.18.0.0/28"});
  EXPECT_EQ(connected(3), 0);
  auto stats = jsonOf({"stats"});
  EXPECT_GE(stats["global"].value("drop_source_denied", uint64_t{0}), 3u) << stats.dump();
  EXPECT_GE(vipDropped(), 3u);
  auto trace = jsonOf({"trace", "198.18.0.1:40000", kVip});
  EXPECT_EQ(trace["verdict"]["action"], "drop") << trace.dump();
  EXPECT_EQ(trace["verdict"]["counter"], "drop_source_denied") << trace.dump();
  EXPECT_EQ(trace["source_filter"]["matched"], "198.18.0.0/28") << trace.dump();

  // An allow list with a more specific allow inside the deny: served.
  ctlOk({"set-sources", kVip, "--allow", "198.18.0.1/32", "--deny", "198.18.0.0/28"});
  EXPECT_EQ(connected(5), 5);
  trace = jsonOf({"trace", "198.18.0.1:40000", kVip});
  EXPECT_EQ(trace["verdict"]["action"], "forward") << trace.dump();

  // An allow list without the client: refused as not allowed.
  ctlOk({"set-sources", kVip, "--allow", "198.18.0.128/25"});
  uint64_t notAllowed = jsonOf({"stats"})["global"].value("drop_source_not_allowed", uint64_t{0});
  EXPECT_EQ(connected(3), 0);
  EXPECT_GE(jsonOf({"stats"})["global"].value("drop_source_not_allowed", uint64_t{0}),
            notAllowed + 3);
  auto list = jsonOf({"list"});
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["allow"], nlohmann::json::array({"198.18.0.128/25"})) << list.dump();
  EXPECT_EQ(list[0]["deny"], nlohmann::json::array()) << list.dump();
  auto text = ctl({"list"});
  EXPECT_NE(text.out.find("  allow 198.18.0.128/25\n"), std::string::npos) << text.out;

  // Bad input changes nothing.
  auto bad = ctl({"set-sources", kVip, "--allow", "2001:db8::/32"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("not of the VIP's address family"), std::string::npos) << bad.err;
  EXPECT_EQ(jsonOf({"list"})[0]["allow"], nlohmann::json::array({"198.18.0.128/25"}));

  // No lists: every source again, and the kernel holds no rule for the VIP.
  ctlOk({"set-sources", kVip});
  EXPECT_EQ(connected(5), 5);
  EXPECT_TRUE(jsonOf({"list"})[0]["allow"].empty());
  trace = jsonOf({"trace", "198.18.0.1:40000", kVip});
  EXPECT_FALSE(trace.contains("source_filter")) << trace.dump();
}

TEST_F(SourceFilterNetnsTest, ListsGivenToAddVipApplyFromTheFirstPacket) {
  ctlOk({"attach", "eth0"});
  ctlOk({"add-vip", kVip, "--allow", "198.18.0.64/26"});
  for (int i = 1; i <= kBackends; ++i) {
    ctlOk({"add-backend", kVip, "198.18.0.1" + std::to_string(i)});
  }
  EXPECT_EQ(connected(3), 0);
  EXPECT_GE(vipDropped(), 3u);
  ctlOk({"set-sources", kVip, "--allow", "198.18.0.0/26,198.18.0.64/26"});
  EXPECT_EQ(connected(3), 3);
}

}  // namespace
}  // namespace lb4::test
