// Unit tests of the host_info scoring model: every transition of the state
// machine, the window and probation timers (time is injected, nothing
// sleeps), the data-plane verdicts and the table behind `lb4ctl health`.
#include "userspace/scoring/host_info.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace lb4 {
namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;
using std::chrono::milliseconds;

const SteadyTime kT0 = SteadyTime{} + 1000s;

enum class Op { kProbeOk, kProbeFail, kPassive, kTick };

struct Step {
  Op op = Op::kTick;
  milliseconds at{0};      // since kT0
  uint64_t successes = 0;  // kPassive
  uint64_t failures = 0;   // kPassive
  HostState expect = HostState::kIdle;
  std::string reason;  // expected substring of the transition's reason; "" = none
};

struct Scenario {
  std::string name;
  ScoringConfig config;
  std::vector<Step> steps;
};

std::ostream& operator<<(std::ostream& os, const Scenario& s) { return os << s.name; }

Step passive(milliseconds at, uint64_t s, uint64_t f, HostState expect, std::string reason = "") {
  return Step{Op::kPassive, at, s, f, expect, std::move(reason)};
}
Step probeOk(milliseconds at, HostState expect, std::string reason = "") {
  return Step{Op::kProbeOk, at, 0, 0, expect, std::move(reason)};
}
Step probeFail(milliseconds at, HostState expect, std::string reason = "") {
  return Step{Op::kProbeFail, at, 0, 0, expect, std::move(reason)};
}
Step tick(milliseconds at, HostState expect, std::string reason = "") {
  return Step{Op::kTick, at, 0, 0, expect, std::move(reason)};
}

constexpr HostState kIdle = HostState::kIdle;
constexpr HostState kOverload = HostState::kOverload;
constexpr HostState kDown = HostState::kDown;

// Five single failures: the default contin_err_limit puts a backend in
// overload at t=1s..1.4s.
std::vector<Step> enterOverloadByContinErr() {
  return {
      passive(1000ms, 0, 1, kIdle),
      passive(1100ms, 0, 1, kIdle),
      passive(1200ms, 0, 1, kIdle),
      passive(1300ms, 0, 1, kIdle),
      passive(1400ms, 0, 1, kOverload, "5 consecutive failures (limit 5)"),
  };
}

std::vector<Step> concat(std::vector<Step> a, const std::vector<Step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const ScoringConfig kNoContinErr{.continErrLimit = 0};

std::vector<Scenario> scenarios() {
  return {
      {"IdleToOverloadByErrorRate",
       kNoContinErr,
       {passive(1000ms, 1, 21, kOverload, "error rate 0.66 > 0.50 in window (21 failures in 22")}},
      {"ErrorRateAtThresholdStaysIdle", kNoContinErr, {passive(1000ms, 0, 10, kIdle)}},
      {"VirtualSuccessesKeepNewBackendTrusted",
       kNoContinErr,
       {passive(1000ms, 2, 11, kIdle), passive(1100ms, 0, 2, kOverload, "error rate 0.52")}},
      {"MinSamplesHonoured",
       ScoringConfig{.continErrLimit = 0, .minSamples = 5, .initialVsucc = 1},
       {passive(1000ms, 0, 1, kIdle), passive(1100ms, 0, 1, kIdle), passive(1200ms, 0, 1, kIdle),
        passive(1300ms, 0, 1, kIdle), passive(1400ms, 0, 1, kOverload, "error rate 0.83 > 0.50")}},
      {"IdleToOverloadByContinErr", ScoringConfig{}, enterOverloadByContinErr()},
      {"ContinErrInOneBatch",
       ScoringConfig{},
       {passive(1000ms, 0, 5, kOverload, "5 consecutive failures")}},
      {"SuccessBreaksFailureRun",
       ScoringConfig{},
       {passive(1000ms, 0, 4, kIdle), passive(1100ms, 1, 0, kIdle), passive(1200ms, 0, 4, kIdle)}},
      {"MixedBatchBreaksFailureRun",
       ScoringConfig{},
       {passive(1000ms, 0, 4, kIdle), passive(1100ms, 3, 1, kIdle), passive(1200ms, 0, 4, kIdle)}},
      {"OverloadToIdleByContinSucc", ScoringConfig{},
       concat(enterOverloadByContinErr(),
              {passive(2000ms, 1, 0, kOverload), passive(2100ms, 1, 0, kOverload),
               passive(2200ms, 1, 0, kOverload), passive(2300ms, 1, 0, kOverload),
               passive(2400ms, 1, 0, kIdle, "5 consecutive successes (limit 5)")})},
      {"OverloadToIdleByProbeSuccesses", ScoringConfig{.continSuccLimit = 2},
       concat(enterOverloadByContinErr(),
              {probeOk(2000ms, kOverload), probeOk(4000ms, kIdle, "2 consecutive successes")})},
      {"OverloadToIdleBySuccessRate", ScoringConfig{},
       concat(enterOverloadByContinErr(),
              {passive(2000ms, 100, 3, kIdle,
                       "success rate 0.93 >= 0.90 in overload (100 successes in 103 reports)")})},
      {"OverloadStaysWhileSuccessRateLow", ScoringConfig{},
       concat(enterOverloadByContinErr(), {passive(2000ms, 30, 5, kOverload)})},
      {"OverloadToIdleByProbation", ScoringConfig{},
       concat(enterOverloadByContinErr(),
              {tick(31399ms, kOverload), tick(31400ms, kIdle, "probation of 30s over")})},
      {"ProbationRestartsOnEachOverload", ScoringConfig{.overloadTimeout = 1500ms},
       concat(enterOverloadByContinErr(),
              {tick(2900ms, kIdle, "probation of 1500ms over"),
               passive(3000ms, 0, 5, kOverload, "5 consecutive failures"), tick(4400ms, kOverload),
               tick(4500ms, kIdle, "probation")})},
      {"IdleWindowResetForgetsOldErrors",
       kNoContinErr,
       {passive(1000ms, 0, 9, kIdle), tick(11000ms, kIdle), passive(11500ms, 0, 9, kIdle)}},
      {"ErrorsWithinOneWindowAddUp",
       kNoContinErr,
       {passive(1000ms, 0, 9, kIdle), tick(5000ms, kIdle),
        passive(9500ms, 0, 9, kOverload, "error rate 0.64")}},
      {"WindowResetAppliedByReportsWithoutTick",
       kNoContinErr,
       {passive(1000ms, 0, 9, kIdle), passive(20000ms, 0, 9, kIdle)}},
      {"FallFromIdle",
       ScoringConfig{},
       {probeFail(1000ms, kIdle), probeFail(2000ms, kIdle),
        probeFail(3000ms, kDown, "3 consecutive probe failures (fall 3), last: refused")}},
      {"FallFromOverload", ScoringConfig{},
       concat(enterOverloadByContinErr(),
              {probeFail(2000ms, kOverload), probeFail(3000ms, kOverload),
               probeFail(4000ms, kDown, "3 consecutive probe failures")})},
      {"DeadBackendDoesNotStayInOverload", ScoringConfig{.fall = 2},
       concat(enterOverloadByContinErr(),
              {tick(60000ms, kIdle, "probation"), probeFail(61000ms, kIdle),
               probeFail(62000ms, kDown, "2 consecutive probe failures"), tick(120000ms, kDown)})},
      {"ProbeSuccessBreaksFallRun",
       ScoringConfig{},
       {probeFail(1000ms, kIdle), probeFail(2000ms, kIdle), probeOk(3000ms, kIdle),
        probeFail(4000ms, kIdle), probeFail(5000ms, kIdle)}},
      {"RiseBringsBackendUpIdle",
       ScoringConfig{},
       {probeFail(1000ms, kIdle), probeFail(2000ms, kIdle), probeFail(3000ms, kDown, "fall 3"),
        probeOk(4000ms, kDown), probeOk(5000ms, kIdle, "2 consecutive probe successes (rise 2)")}},
      {"FailureWhileRisingRestartsRise",
       ScoringConfig{.fall = 1},
       {probeFail(1000ms, kDown, "fall 1"), probeOk(2000ms, kDown), probeFail(3000ms, kDown),
        probeOk(4000ms, kDown), probeOk(5000ms, kIdle, "rise 2")}},
      {"PassiveSignalsIgnoredWhileDown",
       ScoringConfig{.fall = 1},
       {probeFail(1000ms, kDown, "fall 1"), passive(2000ms, 100, 0, kDown), tick(60000ms, kDown)}},
      {"StartDownWaitsForRise",
       ScoringConfig{.startUp = false},
       {passive(500ms, 10, 0, kDown), probeOk(1000ms, kDown), probeOk(2000ms, kIdle, "rise 2")}},
  };
}

class HostInfoScenarioTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(HostInfoScenarioTest, FollowsSteps) {
  const Scenario& scenario = GetParam();
  ASSERT_TRUE(scenario.config.validate().ok()) << scenario.config.validate().error();
  HostInfo host(scenario.config, kT0);
  HostState before = host.state();
  size_t index = 0;
  for (const Step& step : scenario.steps) {
    SCOPED_TRACE("step " + std::to_string(index++));
    SteadyTime now = kT0 + step.at;
    std::optional<Transition> t;
    switch (step.op) {
      case Op::kProbeOk:
        t = host.reportProbeSuccess(1ms, now);
        break;
      case Op::kProbeFail:
        t = host.reportProbeFailure("refused", now);
        break;
      case Op::kPassive:
        t = host.reportPassive(step.successes, step.failures, now);
        break;
      case Op::kTick:
        t = host.tick(now);
        break;
    }
    EXPECT_EQ(host.state(), step.expect);
    if (step.reason.empty()) {
      EXPECT_FALSE(t.has_value()) << describe(*t);
    } else {
      ASSERT_TRUE(t.has_value());
      EXPECT_EQ(t->from, before);
      EXPECT_EQ(t->to, step.expect);
      EXPECT_NE(t->reason.find(step.reason), std::string::npos) << t->reason;
      EXPECT_EQ(t->at, now);
      EXPECT_EQ(host.lastChange(), now);
      EXPECT_EQ(host.lastReason(), t->reason);
    }
    before = host.state();
  }
}

INSTANTIATE_TEST_SUITE_P(Transitions, HostInfoScenarioTest, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return info.param.name;
                         });

TEST(HostInfoTest, NewBackendStartsIdleWithVirtualSeeds) {
  HostInfo host(ScoringConfig{}, kT0);
  EXPECT_EQ(host.state(), kIdle);
  EXPECT_TRUE(host.up());
  EXPECT_EQ(host.vsucc(), 10u);
  EXPECT_EQ(host.verr(), 0u);
  EXPECT_EQ(host.rsucc(), 0u);
  EXPECT_EQ(host.errorRate(), 0.0);
  EXPECT_EQ(host.lastReason(), "added");
  EXPECT_FALSE(host.latency().has_value());
}

TEST(HostInfoTest, WindowResetClearsRealCountsAndKeepsVirtualOnes) {
  HostInfo host(kNoContinErr, kT0);
  (void)host.reportPassive(7, 3, kT0 + 1s);
  EXPECT_EQ(host.rsucc(), 7u);
  EXPECT_EQ(host.rerr(), 3u);
  EXPECT_DOUBLE_EQ(host.errorRate(), 3.0 / 20.0);
  EXPECT_FALSE(host.tick(kT0 + 9999ms).has_value());
  EXPECT_EQ(host.rsucc(), 7u);
  EXPECT_FALSE(host.tick(kT0 + 10s).has_value());
  EXPECT_EQ(host.rsucc(), 0u);
  EXPECT_EQ(host.rerr(), 0u);
  EXPECT_EQ(host.vsucc(), 10u);
  EXPECT_EQ(host.windowStart(), kT0 + 10s);
}

TEST(HostInfoTest, OverloadSeedsVirtualErrors) {
  HostInfo host(ScoringConfig{}, kT0);
  ASSERT_TRUE(host.reportPassive(0, 5, kT0 + 1s).has_value());
  EXPECT_EQ(host.queue(), Queue::kOverload);
  EXPECT_EQ(host.vsucc(), 0u);
  EXPECT_EQ(host.verr(), 5u);
  EXPECT_EQ(host.rerr(), 0u);
  EXPECT_EQ(host.continErr(), 0u);
  // An overloaded backend's counts are not reset by the idle window.
  (void)host.reportPassive(3, 1, kT0 + 2s);
  (void)host.tick(kT0 + 25s);
  EXPECT_EQ(host.rsucc(), 3u);
}

TEST(HostInfoTest, DownKeepsQueueAndComesBackIdleWithFreshWindow) {
  HostInfo host(ScoringConfig{.fall = 1}, kT0);
  ASSERT_TRUE(host.reportPassive(0, 5, kT0 + 1s).has_value());
  ASSERT_TRUE(host.reportProbeFailure("timeout", kT0 + 2s).has_value());
  EXPECT_FALSE(host.up());
  EXPECT_EQ(host.queue(), Queue::kOverload);
  (void)host.reportProbeSuccess(1ms, kT0 + 3s);
  auto t = host.reportProbeSuccess(1ms, kT0 + 4s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->from, kDown);
  EXPECT_EQ(t->to, kIdle);
  EXPECT_EQ(host.queue(), Queue::kIdle);
  EXPECT_EQ(host.vsucc(), 10u);
  EXPECT_EQ(host.rsucc(), 0u);
  EXPECT_EQ(host.windowStart(), kT0 + 4s);
}

TEST(HostInfoTest, VerdictPerState) {
  HostInfo host(ScoringConfig{.fall = 1}, kT0);
  EXPECT_EQ(host.verdict(100), (Verdict{DataplaneAction::kServe, 100}));
  EXPECT_EQ(host.verdict(0), (Verdict{DataplaneAction::kQuiesce, 0}));
  ASSERT_TRUE(host.reportPassive(0, 5, kT0 + 1s).has_value());
  EXPECT_EQ(host.verdict(100), (Verdict{DataplaneAction::kQuiesce, 0}));
  ASSERT_TRUE(host.reportProbeFailure("", kT0 + 2s).has_value());
  EXPECT_EQ(host.verdict(100), (Verdict{DataplaneAction::kRemove, 0}));
}

TEST(HostInfoTest, LatencyIsAnExponentialMovingAverage) {
  HostInfo host(ScoringConfig{.latencyAlpha = 0.5}, kT0);
  (void)host.reportProbeSuccess(1000us, kT0 + 1s);
  EXPECT_EQ(host.latency(), microseconds(1000));
  (void)host.reportProbeSuccess(2000us, kT0 + 2s);
  EXPECT_EQ(host.latency(), microseconds(1500));
  (void)host.reportProbeSuccess(500us, kT0 + 3s);
  EXPECT_EQ(host.latency(), microseconds(1000));
  // Failures carry no latency and leave the average alone.
  (void)host.reportProbeFailure("timeout", kT0 + 4s);
  EXPECT_EQ(host.latency(), microseconds(1000));
}

TEST(HostInfoTest, LatencyWeightingIsOffByDefault) {
  HostInfo host(ScoringConfig{}, kT0);
  (void)host.reportProbeSuccess(500ms, kT0 + 1s);
  EXPECT_EQ(host.verdict(100), (Verdict{DataplaneAction::kServe, 100}));
}

TEST(HostInfoTest, LatencyWeightingScalesIdleWeight) {
  struct Case {
    microseconds latency;
    uint32_t weight;
    uint32_t expected;
  };
  const Case cases[] = {
      {5ms, 100, 100},   // faster than the target: full weight
      {10ms, 100, 100},  // at the target
      {20ms, 100, 50},   // twice the target: half
      {40ms, 100, 25},   // four times: a quarter
      {10s, 100, 10},    // floor: latency_min_factor 0.1
      {10s, 3, 1},       // never 0 for a serving backend
      {20ms, 1, 1},      // 0.5 rounds up to 1
  };
  for (const Case& c : cases) {
    HostInfo host(ScoringConfig{.latencyAlpha = 1.0, .latencyWeighting = true}, kT0);
    (void)host.reportProbeSuccess(c.latency, kT0 + 1s);
    EXPECT_EQ(host.verdict(c.weight), (Verdict{DataplaneAction::kServe, c.expected}))
        << c.latency.count() << "us weight " << c.weight;
  }
  HostInfo unmeasured(ScoringConfig{.latencyWeighting = true}, kT0);
  EXPECT_EQ(unmeasured.verdict(100), (Verdict{DataplaneAction::kServe, 100}));
}

TEST(HostInfoTest, TransitionDescribesItself) {
  HostInfo host(kNoContinErr, kT0);
  // 11 / (9 + 11 + 10) = 0.37: not yet. 20 more failures: 31 / 50 = 0.62.
  auto t = host.reportPassive(9, 11, kT0 + 1s);
  EXPECT_FALSE(t.has_value());
  t = host.reportPassive(0, 20, kT0 + 2s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(describe(*t),
            "idle→overload: error rate 0.62 > 0.50 in window (31 failures in 40 reports)");
}

TEST(HostInfoTest, ConfigValidationNamesTheField) {
  EXPECT_TRUE(ScoringConfig{}.validate().ok());
  Status bad = ScoringConfig{.errRate = 1.5}.validate();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "validate scoring config: err_rate 1.5 is not in (0, 1]");
  EXPECT_FALSE(ScoringConfig{.rise = 0}.validate().ok());
  EXPECT_FALSE(ScoringConfig{.idleTimeout = 0ms}.validate().ok());
  EXPECT_FALSE((ScoringConfig{.initialVsucc = 0, .initialVerr = 0}.validate().ok()));
}

// The worked example of docs/health.md, step by step.
TEST(HostInfoTest, WorkedExampleOfTheDocs) {
  HostInfo host(ScoringConfig{}, kT0);
  for (int s = 0; s <= 9; ++s) {
    if (s % 2 == 0) {
      EXPECT_FALSE(host.reportProbeSuccess(1200us, kT0 + std::chrono::seconds(s)).has_value());
    }
    if (s >= 1) {
      EXPECT_FALSE(host.reportPassive(200, 1, kT0 + std::chrono::seconds(s)).has_value());
    }
  }
  EXPECT_EQ(host.rsucc(), 1805u);
  EXPECT_EQ(host.rerr(), 9u);
  EXPECT_EQ(host.verdict(100), (Verdict{DataplaneAction::kServe, 100}));
  EXPECT_FALSE(host.tick(kT0 + 10s).has_value());
  EXPECT_EQ(host.rsucc(), 0u);
  auto t = host.reportPassive(60, 90, kT0 + 11s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(describe(*t),
            "idle→overload: error rate 0.56 > 0.50 in window (90 failures in 150 reports)");
  EXPECT_EQ(host.verdict(100), (Verdict{DataplaneAction::kQuiesce, 0}));
  EXPECT_FALSE(host.reportPassive(40, 10, kT0 + 12s).has_value());
  EXPECT_NEAR(1.0 - host.errorRate(), 40.0 / 55.0, 1e-9);
  EXPECT_FALSE(host.reportProbeFailure("timeout after 1000ms", kT0 + 14s).has_value());
  EXPECT_FALSE(host.reportProbeFailure("timeout after 1000ms", kT0 + 16s).has_value());
  t = host.reportProbeFailure("timeout after 1000ms", kT0 + 18s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(describe(*t),
            "overload→down: 3 consecutive probe failures (fall 3), last: timeout after 1000ms");
  EXPECT_EQ(host.verdict(100), (Verdict{DataplaneAction::kRemove, 0}));
  EXPECT_FALSE(host.reportProbeSuccess(1200us, kT0 + 20s).has_value());
  t = host.reportProbeSuccess(1200us, kT0 + 22s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(describe(*t), "down→idle: 2 consecutive probe successes (rise 2)");
  EXPECT_EQ(host.verdict(100), (Verdict{DataplaneAction::kServe, 100}));
}

TEST(HostInfoTest, WorkedExampleAlternatives) {
  // Recovery by success rate: one batch after the 12 s one.
  HostInfo byRate(ScoringConfig{}, kT0);
  ASSERT_TRUE(byRate.reportPassive(60, 90, kT0 + 11s).has_value());
  EXPECT_FALSE(byRate.reportPassive(40, 10, kT0 + 12s).has_value());
  auto t = byRate.reportPassive(200, 10, kT0 + 13s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(describe(*t),
            "overload→idle: success rate 0.91 >= 0.90 in overload (240 successes in 260 reports)");
  // Recovery by probation at 41 s.
  HostInfo byProbation(ScoringConfig{}, kT0);
  ASSERT_TRUE(byProbation.reportPassive(60, 90, kT0 + 11s).has_value());
  EXPECT_FALSE(byProbation.tick(kT0 + 40s).has_value());
  t = byProbation.tick(kT0 + 41s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(describe(*t), "overload→idle: probation of 30s over");
  // Response-time weighting with the default target.
  HostInfo slow(ScoringConfig{.latencyWeighting = true}, kT0);
  (void)slow.reportProbeSuccess(25ms, kT0 + 1s);
  EXPECT_EQ(slow.verdict(100).weight, 40u);
  (void)slow.reportProbeSuccess(40ms, kT0 + 2s);
  EXPECT_EQ(slow.latency(), microseconds(29500));
  EXPECT_EQ(slow.verdict(100).weight, 34u);
}

TEST(HostTableTest, AddRemoveAndDuplicates) {
  HostTable table;
  ASSERT_TRUE(table.add("198.18.0.11:80", ScoringConfig{}, kT0).ok());
  Status dup = table.add("198.18.0.11:80", ScoringConfig{}, kT0);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error(), "add backend 198.18.0.11:80: already present");
  Status invalid = table.add("198.18.0.12:80", ScoringConfig{.fall = 0}, kT0);
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.error().find("add backend 198.18.0.12:80: validate scoring config"),
            std::string::npos);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(table.remove("198.18.0.11:80"));
  EXPECT_FALSE(table.remove("198.18.0.11:80"));
  EXPECT_EQ(table.size(), 0u);
}

TEST(HostTableTest, ReportsForUnknownBackendsAreIgnored) {
  HostTable table;
  EXPECT_FALSE(table.reportProbeFailure("198.18.0.99:80", "timeout", kT0).has_value());
  EXPECT_FALSE(table.reportProbeSuccess("198.18.0.99:80", 1ms, kT0).has_value());
  EXPECT_FALSE(table.reportPassive("198.18.0.99:80", 0, 100, kT0).has_value());
  EXPECT_EQ(table.verdict("198.18.0.99:80", 10), (Verdict{DataplaneAction::kRemove, 0}));
}

TEST(HostTableTest, TickReportsKeyedTransitions) {
  HostTable table;
  ASSERT_TRUE(table.add("a", ScoringConfig{}, kT0).ok());
  ASSERT_TRUE(table.add("b", ScoringConfig{}, kT0).ok());
  ASSERT_TRUE(table.reportPassive("b", 0, 5, kT0 + 1s).has_value());
  EXPECT_EQ(table.verdict("b", 10), (Verdict{DataplaneAction::kQuiesce, 0}));
  EXPECT_TRUE(table.tick(kT0 + 30s).empty());
  auto changes = table.tick(kT0 + 31s);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key, "b");
  EXPECT_EQ(changes[0].transition.from, kOverload);
  EXPECT_EQ(changes[0].transition.to, kIdle);
  EXPECT_EQ(table.verdict("b", 10), (Verdict{DataplaneAction::kServe, 10}));
}

TEST(HostTableTest, RowsDescribeEveryBackend) {
  HostTable table;
  ASSERT_TRUE(table.add("198.18.0.12:80", ScoringConfig{.fall = 1}, kT0).ok());
  ASSERT_TRUE(table.add("198.18.0.11:80", ScoringConfig{}, kT0).ok());
  (void)table.reportProbeSuccess("198.18.0.11:80", 1500us, kT0 + 1s);
  (void)table.reportPassive("198.18.0.11:80", 8, 2, kT0 + 2s);
  (void)table.reportProbeFailure("198.18.0.12:80", "connect: Connection refused", kT0 + 3s);
  auto rows = table.rows(kT0 + 5s);
  ASSERT_EQ(rows.size(), 2u);
  const HealthRow& a = rows[0];
  EXPECT_EQ(a.key, "198.18.0.11:80");
  EXPECT_EQ(a.state, kIdle);
  EXPECT_TRUE(a.up);
  EXPECT_EQ(a.queue, Queue::kIdle);
  EXPECT_EQ(a.vsucc, 10u);
  EXPECT_EQ(a.verr, 0u);
  EXPECT_EQ(a.rsucc, 9u);
  EXPECT_EQ(a.rerr, 2u);
  EXPECT_EQ(a.continSucc, 0u);
  EXPECT_EQ(a.continErr, 0u);
  EXPECT_DOUBLE_EQ(a.errorRate, 2.0 / 21.0);
  EXPECT_EQ(a.latency, microseconds(1500));
  EXPECT_EQ(a.sinceChange, 5000ms);
  EXPECT_EQ(a.lastReason, "added");
  const HealthRow& b = rows[1];
  EXPECT_EQ(b.key, "198.18.0.12:80");
  EXPECT_EQ(b.state, kDown);
  EXPECT_FALSE(b.up);
  EXPECT_EQ(b.sinceChange, 2000ms);
  EXPECT_EQ(b.lastReason,
            "1 consecutive probe failures (fall 1), last: connect: Connection refused");
}

TEST(HostTableTest, FindGivesAccessToTheModel) {
  HostTable table;
  ASSERT_TRUE(table.add("a", ScoringConfig{}, kT0).ok());
  HostInfo* host = table.find("a");
  ASSERT_NE(host, nullptr);
  host->setConfig(ScoringConfig{.continErrLimit = 2});
  EXPECT_TRUE(table.reportPassive("a", 0, 2, kT0 + 1s).has_value());
  EXPECT_EQ(table.find("b"), nullptr);
}

}  // namespace
}  // namespace lb4
