// planApply (userspace/state/apply.h): the changes that make the running
// VIPs and backends those of a configuration file, made through the state's
// own mutations; what a file does not hold (drains, ids) is kept.
#include "userspace/state/apply.h"

#include <gtest/gtest.h>

#include "userspace/config/config.h"

namespace lb4 {
namespace {

ServiceKey vip(const char* text) { return *ServiceKey::parse(text, true); }
Endpoint ep(const char* text) { return *Endpoint::parse(text); }

DesiredState running() {
  DesiredState s;
  EXPECT_TRUE(s.addVip(vip("198.18.1.100:80/tcp"), ForwardingMode::kDr, 13).ok());
  EXPECT_TRUE(s.addVip(vip("198.18.1.101:80/tcp"), ForwardingMode::kDr, 13).ok());
  for (const char* b : {"198.18.0.11", "198.18.0.12", "198.18.0.13"}) {
    EXPECT_TRUE(s.addBackend(vip("198.18.1.100:80/tcp"), ep(b), 100, std::nullopt).ok());
  }
  EXPECT_TRUE(s.setDrained(vip("198.18.1.100:80/tcp"), ep("198.18.0.12").addr, true).ok());
  return s;
}

DesiredState fileState(const std::string& yaml) {
  auto cfg = parseConfig(yaml, "file.yaml");
  EXPECT_TRUE(cfg.ok()) << cfg.error();
  return cfg.ok() ? cfg->initial : DesiredState{};
}

const char* kFile = R"(ring_size: 13
vips:
  - vip: 198.18.1.100:80/tcp
    allow: [198.18.0.0/16]
    backends:
      - address: 198.18.0.11
        weight: 50
      - address: 198.18.0.12
      - address: 198.18.0.14
  - vip: 198.18.1.102:53/udp
    mode: nat
    backends:
      - address: 198.18.0.21:5353
)";

TEST(ApplyTest, ChangesAreListedInOrderAndKeepWhatTheFileDoesNotHold) {
  DesiredState next = running();
  uint32_t keptId =
      next.findVip(vip("198.18.1.100:80/tcp"))->findBackend(ep("198.18.0.11").addr)->id;
  auto changes = planApply(next, fileState(kFile));
  ASSERT_TRUE(changes.ok()) << changes.error();
  EXPECT_EQ(*changes, (std::vector<std::string>{
                          "del-vip 198.18.1.101:80/tcp",
                          "set-sources of 198.18.1.100:80/tcp: allow 198.18.0.0/16 deny -",
                          "del-backend 198.18.0.13 from 198.18.1.100:80/tcp",
                          "set-weight 198.18.0.11 of 198.18.1.100:80/tcp to 50",
                          "add-backend 198.18.0.14 to 198.18.1.100:80/tcp weight 100",
                          "add-vip 198.18.1.102:53/udp mode nat ring 13",
                          "add-backend 198.18.0.21:5353 to 198.18.1.102:53/udp weight 100",
                      }));
  const VipConfig* v = next.findVip(vip("198.18.1.100:80/tcp"));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->findBackend(ep("198.18.0.11").addr)->id, keptId) << "a kept backend keeps its id";
  EXPECT_TRUE(v->findBackend(ep("198.18.0.12").addr)->drained) << "the drain is the operator's";
  EXPECT_EQ(next.findVip(vip("198.18.1.101:80/tcp")), nullptr);

  // Applied again: nothing to do.
  auto again = planApply(next, fileState(kFile));
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->empty()) << again->front();
}

TEST(ApplyTest, ModeRingPortAndMacChangesRecreateWhatTheyChange) {
  DesiredState next = running();
  auto changes = planApply(next, fileState(R"(vips:
  - vip: 198.18.1.100:80/tcp
    mode: nat
    ring_size: 13
    backends:
      - address: 198.18.0.11:8080
  - vip: 198.18.1.101:80/tcp
    ring_size: 13
    health:
      kind: http
      port: 8080
)"));
  ASSERT_TRUE(changes.ok()) << changes.error();
  EXPECT_EQ(*changes, (std::vector<std::string>{
                          "del-vip 198.18.1.100:80/tcp",
                          "add-vip 198.18.1.100:80/tcp mode nat ring 13",
                          "add-backend 198.18.0.11:8080 to 198.18.1.100:80/tcp weight 100",
                          "set-health of 198.18.1.101:80/tcp",
                      }));
  EXPECT_EQ(next.findVip(vip("198.18.1.101:80/tcp"))->healthCheck().kind, CheckKind::kHttp);
}

TEST(ApplyTest, AnEmptyFileRemovesEveryVip) {
  DesiredState next = running();
  auto changes = planApply(next, fileState(""));
  ASSERT_TRUE(changes.ok()) << changes.error();
  EXPECT_EQ(changes->size(), 2u);
  EXPECT_TRUE(next.vips.empty());
}

}  // namespace
}  // namespace lb4
