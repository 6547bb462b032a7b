// lb4d configuration file: values, defaults, and errors naming file, line and field.
#include "userspace/config/config.h"

#include <gtest/gtest.h>

namespace lb4 {
namespace {

TEST(ConfigTest, EmptyFileGivesDefaults) {
  auto cfg = parseConfig("", "lb4.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(cfg->socketPath, "/run/lb4/lb4d.sock");
  EXPECT_EQ(cfg->defaultRingSize, 65537u);
  EXPECT_TRUE(cfg->initial.vips.empty());
}

TEST(ConfigTest, FullFile) {
  const char* text = R"(socket: /tmp/lb4.sock
state_file: /tmp/lb4-state.json
pin_root: /sys/fs/bpf/lb4x
conntrack_size: 65536
nat_reverse_size: 4096
ring_size: 257
log_level: debug
interfaces: [veth0]
vips:
  - vip: 198.18.1.100:80/tcp
    mode: dr
    backends:
      - address: 198.18.0.11
        weight: 10
      - address: 198.18.0.12
        mac: "02:00:00:00:00:12"
  - vip: "[2001:db8::100]:443/tcp"
    ring_size: 13
)";
  auto cfg = parseConfig(text, "lb4.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(cfg->socketPath, "/tmp/lb4.sock");
  EXPECT_EQ(cfg->conntrackSize, 65536u);
  EXPECT_EQ(cfg->natReverseSize, 4096u);
  ASSERT_EQ(cfg->initial.vips.size(), 2u);
  EXPECT_EQ(cfg->initial.vips[0].ringSize, 257u);
  EXPECT_EQ(cfg->initial.vips[1].ringSize, 13u);
  ASSERT_EQ(cfg->initial.vips[0].backends.size(), 2u);
  EXPECT_EQ(cfg->initial.vips[0].backends[0].weight, 10u);
  EXPECT_EQ(cfg->initial.vips[0].backends[1].weight, kDefaultWeight);
  EXPECT_TRUE(cfg->initial.vips[0].backends[1].mac.has_value());
  EXPECT_EQ(cfg->initial.interfaces, std::vector<std::string>{"veth0"});
}

TEST(ConfigTest, ErrorsNameFileLineAndField) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"socket: /a\nbogus: 1\n", "lb4.yaml:2: bogus: unknown field"},
      {"ring_size: 100\n", "lb4.yaml:1: ring_size: ring size 100: must be a prime"},
      {"conntrack_size: lots\n", "lb4.yaml:1: conntrack_size: cannot read 'lots'"},
      {"vips:\n  - vip: 198.18.1.1/tcp\n    all_ports: true\n    mode: nat-ish\n",
       "lb4.yaml:4: vips[0].mode"},
      {"vips:\n  - vip: 198.18.1.1:0/tcp\n", "lb4.yaml:2: vips[0].vip: parse VIP"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    all_ports: yes please\n",
       "lb4.yaml:3: vips[0].all_ports"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n  - vip: 198.18.1.1:80/tcp\n",
       "lb4.yaml:3: vips[1]: add VIP 198.18.1.1:80/tcp: already exists"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 198.18.0.1\n        "
       "weight: 70000\n",
       "lb4.yaml:5: vips[0].backends[0].weight: weight 70000 out of range"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 2001:db8::1\n",
       "lb4.yaml:4: vips[0].backends[0]: add backend"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 198.18.0.1\n      - "
       "address: 198.18.0.1\n",
       "backend already exists"},
      {"vips:\n  - vip: 999.1.1.1:80/tcp\n", "lb4.yaml:2: vips[0].vip: parse VIP"},
      {"vips: [unclosed\n", "lb4.yaml:"},
      {"log_level: loud\n", "lb4.yaml:1: log_level"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    allow: 198.18.0.0/16\n",
       "lb4.yaml:3: vips[0].allow: expected a list of prefixes"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    deny:\n      - 198.18.0.1/16\n",
       "lb4.yaml:4: vips[0].deny[0]: parse prefix '198.18.0.1/16': host bits set"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    allow: [\"2001:db8::/32\"]\n",
       "lb4.yaml:2: vips[0]: set sources of 198.18.1.1:80/tcp: allow prefix 2001:db8::/32 is not "
       "of the VIP's address family"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto cfg = parseConfig(c.text, "lb4.yaml");
    ASSERT_FALSE(cfg.ok());
    EXPECT_NE(cfg.error().find(c.expect), std::string::npos) << cfg.error();
  }
}

TEST(ConfigTest, VipSourceLists) {
  auto cfg = parseConfig(
      "vips:\n  - vip: 198.18.1.1:80/tcp\n    allow: [198.18.0.0/16, 198.19.0.0/16]\n"
      "    deny:\n      - 198.18.9.9\n",
      "lb4.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  const VipConfig& v = cfg->initial.vips.at(0);
  ASSERT_EQ(v.allow.size(), 2u);
  EXPECT_EQ(v.allow[1].toString(), "198.19.0.0/16");
  ASSERT_EQ(v.deny.size(), 1u);
  EXPECT_EQ(v.deny[0].toString(), "198.18.9.9/32");
}

TEST(ConfigTest, MissingFile) {
  auto cfg = loadConfig("/nonexistent/lb4.yaml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.error().find("/nonexistent/lb4.yaml"), std::string::npos);
}

}  // namespace
}  // namespace lb4

namespace lb4 {
namespace {

TEST(ConfigTest, ScoringAndHealthSections) {
  const char* text = R"(scoring:
  err_rate: 0.25
  contin_err_limit: 3
  overload_timeout_ms: 5000
  latency_weighting: true
vips:
  - vip: 198.18.1.100:80/tcp
    health:
      kind: http
      http_path: /healthz
      interval_ms: 500
      timeout_ms: 200
      rise: 1
      fall: 2
    backends:
      - address: 198.18.0.11
      - address: 198.18.0.12
        health: {port: 9090, fall: 5}
  - vip: 198.18.1.101:53/udp
)";
  auto cfg = parseConfig(text, "lb4.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  const VipConfig& web = cfg->initial.vips[0];
  EXPECT_EQ(web.healthCheck(web.backends[0]).port, 0u);
  EXPECT_EQ(web.healthCheck(web.backends[1]).port, 9090u);
  EXPECT_EQ(web.healthCheck(web.backends[1]).fall, 5u);
  EXPECT_EQ(web.healthCheck(web.backends[1]).httpPath, "/healthz");  // the rest from the VIP
  EXPECT_DOUBLE_EQ(cfg->scoring.errRate, 0.25);
  EXPECT_EQ(cfg->scoring.continErrLimit, 3u);
  EXPECT_EQ(cfg->scoring.overloadTimeout, std::chrono::milliseconds(5000));
  EXPECT_TRUE(cfg->scoring.latencyWeighting);
  const HealthCheck hc = cfg->initial.vips[0].healthCheck();
  EXPECT_EQ(hc.kind, lb4::CheckKind::kHttp);
  EXPECT_EQ(hc.httpPath, "/healthz");
  EXPECT_EQ(hc.intervalMs, 500u);
  EXPECT_EQ(hc.fall, 2u);
  EXPECT_EQ(cfg->initial.vips[1].healthCheck().kind, lb4::CheckKind::kNone);
}

TEST(ConfigTest, ScoringAndHealthErrorsNameTheField) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"scoring:\n  err_rate: lots\n", "lb4.yaml:2: scoring.err_rate"},
      {"scoring:\n  bogus: 1\n", "lb4.yaml:2: scoring.bogus: unknown field"},
      {"scoring:\n  err_rate: 1.5\n", "lb4.yaml:2: scoring"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    health:\n      kind: ping\n",
       "lb4.yaml:4: vips[0].health: health: kind 'ping'"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    health:\n      interval_ms: soon\n",
       "vips[0].health: health: field 'interval_ms'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto cfg = parseConfig(c.text, "lb4.yaml");
    ASSERT_FALSE(cfg.ok());
    EXPECT_NE(cfg.error().find(c.expect), std::string::npos) << cfg.error();
  }
}

// Found by the config fuzzer (tests/fuzz): a mapping key that is not a
// scalar threw out of parseConfig and would have killed lb4d at start.
TEST(ConfigTest, HostileStructureIsAnErrorNotACrash) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"? [a]\n: 1\n", "lb4.yaml:1: (top level): expected a field name"},
      {"vips:\n  - ? [x]\n    : 1\n", "lb4.yaml:2: vips[0]: expected a field name"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    health:\n      ? {k: v}\n      : 1\n",
       "lb4.yaml:4: vips[0].health: health: unknown field"},
      {"vips: {a: 1}\n", "lb4.yaml:1: vips: expected a list"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends: {address: 198.18.0.1}\n",
       "lb4.yaml:3: vips[0].backends: expected a list"},
      {"vips:\n  - vip: [198.18.1.1]\n", "lb4.yaml:2: vips[0].vip: expected a single value"},
      {"vips:\n  - 198.18.1.1:80/tcp\n", "lb4.yaml:2: vips[0]: expected a mapping"},
      {"interfaces: [[eth0]]\n", "lb4.yaml:1: interfaces[0]: expected a name"},
      {"interfaces: [eth0, eth0]\n", "lb4.yaml:1: interfaces[1]"},
      {"interfaces: [\"../x\"]\n", "not a valid interface name"},
      {"ring_size: 4294967311\n", "lb4.yaml:1: ring_size: cannot read"},
      {"conntrack_size: 10\n", "lb4.yaml:1: conntrack_size: must be from"},
      {"nat_reverse_size: 10\n", "lb4.yaml:1: nat_reverse_size: must be from"},
      {"nat_reverse_size: many\n", "lb4.yaml:1: nat_reverse_size: cannot read"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 198.18.0.1\n"
       "        weight: -1\n",
       "lb4.yaml:5: vips[0].backends[0].weight: weight -1 out of range"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 198.18.0.1\n"
       "        mac: 02:00\n",
       "lb4.yaml:5: vips[0].backends[0].mac"},
      {"vips:\n  - vip: \"[2001:db8::1]:80/tcp\"\n    backends:\n      - address: 198.18.0.1\n",
       "lb4.yaml:4: vips[0].backends[0]: add backend 198.18.0.1 to [2001:db8::1]:80/tcp: backend "
       "and VIP must be the same address family"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    mode: teleport\n", "lb4.yaml:3: vips[0].mode"},
      {"vips:\n  - vip: 198.18.1.1/tcp\n    all_ports: true\n  - vip: 198.18.1.1:0/tcp\n"
       "    all_ports: true\n",
       "lb4.yaml:4: vips[1]: add VIP 198.18.1.1:0/tcp: already exists"},
      {"\t- tab\n", "lb4.yaml:1:"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto cfg = parseConfig(c.text, "lb4.yaml");
    ASSERT_FALSE(cfg.ok());
    EXPECT_NE(cfg.error().find(c.expect), std::string::npos) << cfg.error();
  }
}

}  // namespace
}  // namespace lb4

namespace lb4 {
namespace {

TEST(ConfigTest, NatConntrackTimeouts) {
  auto defaults = parseConfig("", "lb4.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  EXPECT_EQ(defaults->tcpTimeoutS, static_cast<uint32_t>(LB4_DEFAULT_TCP_TIMEOUT));
  EXPECT_EQ(defaults->tcpFinTimeoutS, static_cast<uint32_t>(LB4_DEFAULT_TCP_FIN_TIMEOUT));
  EXPECT_EQ(defaults->udpTimeoutS, static_cast<uint32_t>(LB4_DEFAULT_UDP_TIMEOUT));
  auto cfg = parseConfig(
      "conntrack_tcp_timeout_s: 600\nconntrack_tcp_fin_timeout_s: 5\nconntrack_udp_timeout_s: 60\n",
      "lb4.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(cfg->tcpTimeoutS, 600U);
  EXPECT_EQ(cfg->tcpFinTimeoutS, 5U);
  EXPECT_EQ(cfg->udpTimeoutS, 60U);
  auto bad = parseConfig("conntrack_udp_timeout_s: 0\n", "lb4.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(),
            "config lb4.yaml:1: conntrack_udp_timeout_s: must be from 1 to 86400 seconds");
}

TEST(ConfigTest, VlanOffload) {
  auto defaults = parseConfig("", "lb4.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  EXPECT_EQ(defaults->vlanOffload, "disable");
  auto keep = parseConfig("vlan_offload: keep\n", "lb4.yaml");
  ASSERT_TRUE(keep.ok()) << keep.error();
  EXPECT_EQ(keep->vlanOffload, "keep");
  auto bad = parseConfig("log_level: info\nvlan_offload: off\n", "lb4.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "config lb4.yaml:2: vlan_offload: expected disable or keep");
}

TEST(ConfigTest, MetricsListen) {
  auto defaults = parseConfig("", "lb4.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  EXPECT_EQ(defaults->metricsListen, "127.0.0.1:9474");
  EXPECT_FALSE(defaults->metricsListenSet);
  auto off = parseConfig("metrics_listen: \"\"\n", "lb4.yaml");
  ASSERT_TRUE(off.ok()) << off.error();
  EXPECT_EQ(off->metricsListen, "");
  EXPECT_TRUE(off->metricsListenSet);
  auto v6 = parseConfig("metrics_listen: \"[::1]:9100\"\n", "lb4.yaml");
  ASSERT_TRUE(v6.ok()) << v6.error();
  auto bad = parseConfig("log_level: info\nmetrics_listen: 127.0.0.1\n", "lb4.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().rfind(
                "config lb4.yaml:2: metrics_listen: listen address '127.0.0.1': no port", 0),
            0u)
      << bad.error();
  DaemonConfig flag;
  flag.metricsListen = "0.0.0.0:http";
  auto s = validateDaemonSettings(flag);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().rfind("metrics_listen: listen address '0.0.0.0:http'", 0), 0u) << s.error();
}

}  // namespace
}  // namespace lb4
