// The example configuration installed as /etc/lb4/lb4.yaml (dist/lb4.yaml):
// it parses as shipped (everything commented out), and with every setting
// uncommented it still parses, and every daemon setting it shows is the
// parser's default, so its comments cannot document a key or a default that
// lb4d does not have.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "userspace/config/config.h"

namespace lb4 {
namespace {

const std::string kExample = LB4_SOURCE_DIR "/dist/lb4.yaml";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// "#key: value" (no space after "#", any indentation before it) is a
// commented-out setting; "# text" and "## Title" stay comments.
std::string uncomment(const std::string& text) {
  static const std::regex setting(R"(^( *)#([^ #\n]))", std::regex::multiline);
  return std::regex_replace(text, setting, "$1$2");
}

TEST(ExampleConfigTest, ParsesAsShipped) {
  std::string text = readFile(kExample);
  ASSERT_FALSE(text.empty()) << kExample;
  auto cfg = parseConfig(text, kExample);
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_TRUE(cfg->initial.vips.empty());
  EXPECT_TRUE(cfg->initial.interfaces.empty());
}

TEST(ExampleConfigTest, EveryCommentedSettingParses) {
  std::string text = uncomment(readFile(kExample));
  ASSERT_EQ(text.find("\n#socket:"), std::string::npos) << "nothing was uncommented";
  auto cfg = parseConfig(text, kExample + " (uncommented)");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  ASSERT_EQ(cfg->initial.vips.size(), 2u);
  EXPECT_EQ(cfg->initial.interfaces, std::vector<std::string>{"eth0"});
  const VipConfig& tcp = cfg->initial.vips[0];
  EXPECT_EQ(tcp.healthCheck().kind, lb4::CheckKind::kHttp);
  ASSERT_EQ(tcp.backends.size(), 2u);
  EXPECT_TRUE(tcp.backends[0].mac.has_value());
  EXPECT_EQ(cfg->initial.vips[1].healthCheck().kind, lb4::CheckKind::kUdp);
}

TEST(ExampleConfigTest, ShownValuesAreTheDefaults) {
  auto shown = parseConfig(uncomment(readFile(kExample)), kExample);
  ASSERT_TRUE(shown.ok()) << shown.error();
  DaemonConfig defaults;
  EXPECT_EQ(shown->socketPath, defaults.socketPath);
  EXPECT_EQ(shown->socketGroup, defaults.socketGroup);
  EXPECT_EQ(shown->stateFile, defaults.stateFile);
  EXPECT_EQ(shown->pinRoot, defaults.pinRoot);
  EXPECT_EQ(shown->conntrackSize, defaults.conntrackSize);
  EXPECT_EQ(shown->tcpTimeoutS, defaults.tcpTimeoutS);
  EXPECT_EQ(shown->tcpFinTimeoutS, defaults.tcpFinTimeoutS);
  EXPECT_EQ(shown->udpTimeoutS, defaults.udpTimeoutS);
  EXPECT_EQ(shown->defaultRingSize, defaults.defaultRingSize);
  EXPECT_EQ(shown->logLevel, defaults.logLevel);
  EXPECT_EQ(shown->logFormat, defaults.logFormat);
  EXPECT_EQ(shown->neighbourRetryMs, defaults.neighbourRetryMs);
  EXPECT_EQ(shown->metricsListen, defaults.metricsListen);
  const BgpConfig& bgp = shown->bgp;
  EXPECT_EQ(bgp.enabled, defaults.bgp.enabled);
  EXPECT_EQ(bgp.includeFile, defaults.bgp.includeFile);
  EXPECT_EQ(bgp.birdSocket, defaults.bgp.birdSocket);
  EXPECT_EQ(bgp.protocol, defaults.bgp.protocol);
  EXPECT_EQ(bgp.retryMs, defaults.bgp.retryMs);
  EXPECT_EQ(bgp.timeoutMs, defaults.bgp.timeoutMs);
  EXPECT_EQ(bgp.withdrawOnStop, defaults.bgp.withdrawOnStop);
  const ScoringConfig& s = shown->scoring;
  const ScoringConfig& d = defaults.scoring;
  EXPECT_EQ(s.errRate, d.errRate);
  EXPECT_EQ(s.continErrLimit, d.continErrLimit);
  EXPECT_EQ(s.succRate, d.succRate);
  EXPECT_EQ(s.continSuccLimit, d.continSuccLimit);
  EXPECT_EQ(s.overloadTimeout, d.overloadTimeout);
  EXPECT_EQ(s.minSamples, d.minSamples);
  EXPECT_EQ(s.idleTimeout, d.idleTimeout);
  EXPECT_EQ(s.initialVsucc, d.initialVsucc);
  EXPECT_EQ(s.initialVerr, d.initialVerr);
  EXPECT_EQ(s.overloadVsucc, d.overloadVsucc);
  EXPECT_EQ(s.overloadVerr, d.overloadVerr);
  EXPECT_EQ(s.startUp, d.startUp);
  EXPECT_EQ(s.latencyAlpha, d.latencyAlpha);
  EXPECT_EQ(s.latencyWeighting, d.latencyWeighting);
  EXPECT_EQ(s.latencyTarget, d.latencyTarget);
  EXPECT_EQ(s.latencyMinFactor, d.latencyMinFactor);
  // The health check shown on the first VIP: the defaults of a check of its
  // kind, apart from the kind itself.
  HealthCheck hc = shown->initial.vips[0].healthCheck();
  HealthCheck dh = defaultHealthCheck(true);
  hc.kind = dh.kind;
  EXPECT_EQ(hc, dh);
}

}  // namespace
}  // namespace lb4
