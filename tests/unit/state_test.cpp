// DesiredState validation, id allocation, JSON round trip, atomic persistence.
#include "userspace/state/state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace lb4 {
namespace {

ServiceKey vip(const char* text) { return *ServiceKey::parse(text, true); }
Endpoint ep(const char* text) { return *Endpoint::parse(text); }

DesiredState sample() {
  DesiredState s;
  EXPECT_TRUE(s.addInterface("veth0").ok());
  EXPECT_TRUE(s.addVip(vip("198.18.1.100:80/tcp"), ForwardingMode::kDr, 65537).ok());
  EXPECT_TRUE(s.addVip(vip("[2001:db8::100]:53/udp"), ForwardingMode::kDr, 13).ok());
  EXPECT_TRUE(s.addBackend(vip("198.18.1.100:80/tcp"), ep("198.18.0.11"), 100, std::nullopt).ok());
  EXPECT_TRUE(s.addBackend(vip("198.18.1.100:80/tcp"), ep("198.18.0.12"), 50,
                           *parseMac("02:00:00:00:00:12"))
                  .ok());
  EXPECT_TRUE(
      s.addBackend(vip("[2001:db8::100]:53/udp"), ep("2001:db8::11"), 1, std::nullopt).ok());
  return s;
}

TEST(StateTest, AllocatesDistinctIdsAndGenerations) {
  DesiredState s = sample();
  EXPECT_EQ(s.vips[0].id, 0u);
  EXPECT_EQ(s.vips[1].id, 1u);
  EXPECT_EQ(s.vips[0].backends[0].id, 1u);
  EXPECT_EQ(s.vips[0].backends[1].id, 2u);
  EXPECT_EQ(s.vips[1].backends[0].id, 3u);
  ASSERT_TRUE(s.delBackend(vip("198.18.1.100:80/tcp"), ep("198.18.0.11").addr).ok());
  ASSERT_TRUE(s.addBackend(vip("198.18.1.100:80/tcp"), ep("198.18.0.13"), 1, std::nullopt).ok());
  // The freed id is reused, with a new generation so old flows are not kept on it.
  EXPECT_EQ(s.vips[0].backends[1].id, 1u);
  EXPECT_EQ(s.vips[0].backends[1].gen, 4u);
  EXPECT_TRUE(s.validate().ok());
}

TEST(StateTest, RejectsBadMutationsWithoutChangingAnything) {
  DesiredState s = sample();
  const std::string before = s.toJson().dump();
  struct Case {
    const char* what;
    Status status;
    const char* expect;
  };
  const ServiceKey web = vip("198.18.1.100:80/tcp");
  Case cases[] = {
      {"duplicate VIP", s.addVip(web, ForwardingMode::kDr, 65537), "already exists"},
      {"non-prime ring", s.addVip(vip("198.18.1.101:80/tcp"), ForwardingMode::kDr, 65536), "prime"},
      {"unknown VIP", s.addBackend(vip("198.18.1.1:80/tcp"), ep("198.18.0.11"), 1, std::nullopt),
       "no such VIP"},
      {"duplicate backend", s.addBackend(web, ep("198.18.0.11"), 1, std::nullopt),
       "already exists"},
      {"weight range", s.addBackend(web, ep("198.18.0.20"), 70000, std::nullopt), "out of range"},
      {"family", s.addBackend(web, ep("2001:db8::20"), 1, std::nullopt), "address family"},
      {"dr port", s.addBackend(web, ep("198.18.0.21:8080"), 1, std::nullopt), "nat mode"},
      {"unknown backend", s.delBackend(web, ep("198.18.0.99").addr), "no such backend"},
      {"weight of unknown", s.setWeight(web, ep("198.18.0.99").addr, 1), "no such backend"},
      {"weight too big", s.setWeight(web, ep("198.18.0.11").addr, 65536), "out of range"},
      {"del unknown VIP", s.delVip(vip("198.18.1.1:81/tcp")), "no such VIP"},
      {"attach twice", s.addInterface("veth0"), "already attached"},
      {"bad ifname", s.addInterface("a/b"), "not a valid interface"},
      {"detach unknown", s.delInterface("eth9"), "not attached"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_FALSE(c.status.ok());
    EXPECT_NE(c.status.error().find(c.expect), std::string::npos) << c.status.error();
  }
  EXPECT_EQ(s.toJson().dump(), before);
}

TEST(StateTest, JsonRoundTrip) {
  DesiredState s = sample();
  ASSERT_TRUE(s.setDrained(vip("198.18.1.100:80/tcp"), ep("198.18.0.12").addr, true).ok());
  auto back = DesiredState::fromJson(s.toJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->toJson(), s.toJson());
}

TEST(StateTest, SourceListsAreValidatedSortedAndPersisted) {
  DesiredState s = sample();
  const ServiceKey v4 = vip("198.18.1.100:80/tcp");
  auto pfx = [](const char* t) { return *IpPrefix::parse(t); };
  ASSERT_TRUE(
      s.setSources(v4, {pfx("198.18.9.0/24"), pfx("198.18.0.0/16")}, {pfx("198.18.9.9")}).ok());
  EXPECT_EQ(s.findVip(v4)->allow,
            (std::vector<IpPrefix>{pfx("198.18.0.0/16"), pfx("198.18.9.0/24")}));
  auto back = DesiredState::fromJson(s.toJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->findVip(v4)->deny, std::vector<IpPrefix>{pfx("198.18.9.9/32")});
  EXPECT_EQ(back->toJson(), s.toJson());

  // Refused, and nothing changes.
  nlohmann::json before = s.toJson();
  auto wrongFamily = s.setSources(vip("[2001:db8::100]:53/udp"), {pfx("198.18.0.0/16")}, {});
  EXPECT_EQ(wrongFamily.error(),
            "set sources of [2001:db8::100]:53/udp: allow prefix 198.18.0.0/16 is not of the "
            "VIP's address family");
  EXPECT_FALSE(s.setSources(v4, {pfx("198.18.0.0/16")}, {pfx("198.18.0.0/16")}).ok());
  EXPECT_FALSE(s.setSources(vip("198.18.1.101:80/tcp"), {}, {}).ok());
  std::vector<IpPrefix> many;
  for (uint32_t i = 0; i <= kMaxSourcesPerVip; ++i) {
    IpPrefix p = pfx("198.18.0.0/32");
    p.addr.bytes[2] = static_cast<uint8_t>(i >> 8);
    p.addr.bytes[3] = static_cast<uint8_t>(i);
    many.push_back(p);
  }
  EXPECT_FALSE(s.setSources(v4, many, {}).ok());
  EXPECT_EQ(s.toJson(), before);

  // Emptied: every source again.
  ASSERT_TRUE(s.setSources(v4, {}, {}).ok());
  EXPECT_TRUE(s.findVip(v4)->allow.empty() && s.findVip(v4)->deny.empty());

  // A state file with a bad list is refused whole.
  nlohmann::json j = before;
  j["vips"][0]["deny"] = {"198.18.9.9/8"};
  EXPECT_FALSE(DesiredState::fromJson(j).ok());
  j["vips"][0]["deny"] = {"198.18.0.0/16"};
  j["vips"][0]["allow"] = {"198.18.0.0/16"};
  EXPECT_FALSE(DesiredState::fromJson(j).ok());
  // One from before source lists (no keys) reads as every source.
  j["vips"][0].erase("allow");
  j["vips"][0].erase("deny");
  auto old = DesiredState::fromJson(j);
  ASSERT_TRUE(old.ok()) << old.error();
  EXPECT_TRUE(old->findVip(v4)->allow.empty());
}

TEST(StateTest, FromJsonRejectsInconsistentState) {
  nlohmann::json j = sample().toJson();
  j["vips"][0]["backends"][1]["id"] = 1;  // reused id
  auto r = DesiredState::fromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("invalid or reused"), std::string::npos) << r.error();
  j = sample().toJson();
  j["vips"][0]["backends"][0]["weight"] = "heavy";
  EXPECT_FALSE(DesiredState::fromJson(j).ok());
  j = sample().toJson();
  j["version"] = 2;
  EXPECT_FALSE(DesiredState::fromJson(j).ok());
}

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("lb4-state-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(StateFileTest, SaveAndLoad) {
  std::string path = (dir_ / "state.json").string();
  auto empty = loadState(path);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->vips.empty());
  ASSERT_TRUE(saveState(sample(), path).ok());
  auto loaded = loadState(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ(loaded->toJson(), sample().toJson());
  // No temp file is left behind, and the file is private.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  auto perms = std::filesystem::status(path).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);
}

TEST_F(StateFileTest, CorruptFileIsAnErrorNotAnEmptyState) {
  std::string path = (dir_ / "state.json").string();
  std::ofstream(path) << "{\"version\": 1, \"vips\": [";
  auto loaded = loadState(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace lb4

namespace lb4 {
namespace {

TEST(HealthCheckTest, MergeValidateAndRoundTrip) {
  auto hc = HealthCheck::fromJson(
      {{"kind", "http"}, {"http_path", "/healthz"}, {"interval_ms", 500}, {"timeout_ms", 200}},
      defaultHealthCheck(true));
  ASSERT_TRUE(hc.ok()) << hc.error();
  EXPECT_EQ(hc->kind, CheckKind::kHttp);
  EXPECT_EQ(hc->rise, 2u);
  auto back = HealthCheck::fromJson(hc->toJson(), HealthCheck{});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *hc);
  EXPECT_EQ(defaultHealthCheck(false).kind, CheckKind::kNone);
}

TEST(HealthCheckTest, RejectsBadChecks) {
  struct Case {
    nlohmann::json json;
    const char* expect;
  };
  const Case cases[] = {
      {{{"kind", "ping"}}, "expected none, tcp"},
      {{{"interval_ms", 10}}, "interval_ms"},
      {{{"timeout_ms", 5000}}, "timeout_ms"},
      {{{"rise", 0}}, "rise and fall"},
      {{{"kind", "exec"}}, "needs a command"},
      {{{"kind", "http"}, {"http_path", "healthz"}}, "start with '/'"},
      {{{"http_status_min", 400}, {"http_status_max", 200}}, "status range"},
      {{{"port", 70000}}, "from 0 to 65535"},
      {{{"command", "true"}}, "list of strings"},
      {{{"colour", "blue"}}, "unknown field 'colour'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json.dump());
    auto hc = HealthCheck::fromJson(c.json, defaultHealthCheck(true));
    ASSERT_FALSE(hc.ok());
    EXPECT_NE(hc.error().find(c.expect), std::string::npos) << hc.error();
  }
}

TEST(HealthCheckTest, StateKeepsAVipsCheck) {
  DesiredState s = sample();
  auto web = *ServiceKey::parse("198.18.1.100:80/tcp");
  EXPECT_EQ(s.findVip(web)->healthCheck().kind, CheckKind::kTcp);
  HealthCheck hc = defaultHealthCheck(true);
  hc.kind = CheckKind::kExec;
  EXPECT_FALSE(s.setHealth(web, hc).ok());  // no command
  hc.command = {"/bin/true"};
  ASSERT_TRUE(s.setHealth(web, hc).ok());
  auto back = DesiredState::fromJson(s.toJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->findVip(web)->healthCheck(), hc);
}

TEST(HealthCheckTest, BackendOverrideWinsForThatBackendOnly) {
  DesiredState s = sample();
  auto web = *ServiceKey::parse("198.18.1.100:80/tcp");
  auto b12 = Endpoint::parse("198.18.0.12")->addr;
  HealthCheck own = defaultHealthCheck(true);
  own.port = 9090;
  own.rise = 4;
  EXPECT_FALSE(s.setBackendHealth(web, Endpoint::parse("198.18.0.99")->addr, own).ok());
  ASSERT_TRUE(s.setBackendHealth(web, b12, own).ok());
  const VipConfig* vip = s.findVip(web);
  EXPECT_EQ(vip->healthCheck(*vip->findBackend(b12)).port, 9090u);
  EXPECT_EQ(vip->healthCheck(vip->backends[0]).port, 0u);
  auto back = DesiredState::fromJson(s.toJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->toJson(), s.toJson());
}

}  // namespace
}  // namespace lb4
