// The Prometheus exposition (userspace/metrics/): escaping, number format,
// HELP/TYPE lines, histograms, the families lb4d exposes, the HTTP answers
// and the metrics_listen address.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "userspace/health/probe.h"
#include "userspace/metrics/exposition.h"
#include "userspace/metrics/http_server.h"
#include "userspace/metrics/lb4_metrics.h"
#include "userspace/metrics/listen_address.h"

namespace lb4 {
namespace {

TEST(ExpositionTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(escapeLabelValue("plain 198.18.0.1:80/tcp"), "plain 198.18.0.1:80/tcp");
  EXPECT_EQ(escapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(escapeLabelValue("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(escapeLabelValue("two\nlines"), "two\\nlines");
  EXPECT_EQ(escapeLabelValue("tab\there é"), "tab\there é");  // only the three are escaped
}

TEST(ExpositionTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(escapeHelp("a \"b\" \\ c\nd"), "a \"b\" \\\\ c\\nd");
}

TEST(ExpositionTest, ValuesAreExactAndSpecialValuesSpelledAsPrometheusReadsThem) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(42), "42");
  EXPECT_EQ(formatValue(0.005), "0.005");
  EXPECT_EQ(formatValue(-1.5), "-1.5");
  EXPECT_EQ(formatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(formatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(formatValue(0.0 / 0.0), "NaN");
  double third = 1.0 / 3.0;
  EXPECT_EQ(std::stod(formatValue(third)), third);  // round trip
}

TEST(ExpositionTest, FamiliesStartWithHelpAndTypeAndSamplesCarryEscapedLabels) {
  Exposition e;
  e.begin("lb4_test_packets_total", MetricType::kCounter, "Packets.\nSecond line");
  e.sample({{"vip", "198.18.1.100:80/tcp"}, {"reason", "a\"b"}}, uint64_t{18446744073709551615u});
  e.begin("lb4_test_up", MetricType::kGauge, "Up.");
  e.sample({}, 1.0);
  EXPECT_EQ(e.text(),
            "# HELP lb4_test_packets_total Packets.\\nSecond line\n"
            "# TYPE lb4_test_packets_total counter\n"
            "lb4_test_packets_total{vip=\"198.18.1.100:80/tcp\",reason=\"a\\\"b\"} "
            "18446744073709551615\n"
            "# HELP lb4_test_up Up.\n"
            "# TYPE lb4_test_up gauge\n"
            "lb4_test_up 1\n");
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Histogram h({0.1, 1});
  h.observe(0.05);
  h.observe(0.1);  // on the bound: in the bucket le="0.1"
  h.observe(0.5);
  h.observe(7);
  EXPECT_EQ(h.count(), 4u);
  Exposition e;
  e.begin("lb4_test_seconds", MetricType::kHistogram, "Durations.");
  e.histogram({{"backend", "b1"}}, h);
  EXPECT_EQ(e.text(),
            "# HELP lb4_test_seconds Durations.\n"
            "# TYPE lb4_test_seconds histogram\n"
            "lb4_test_seconds_bucket{backend=\"b1\",le=\"0.1\"} 2\n"
            "lb4_test_seconds_bucket{backend=\"b1\",le=\"1\"} 3\n"
            "lb4_test_seconds_bucket{backend=\"b1\",le=\"+Inf\"} 4\n"
            "lb4_test_seconds_sum{backend=\"b1\"} 7.65\n"
            "lb4_test_seconds_count{backend=\"b1\"} 4\n");
}

TEST(ExpositionTest, NamesAreChecked) {
  EXPECT_TRUE(validMetricName("lb4_vip_packets_total"));
  EXPECT_TRUE(validMetricName("a:b"));
  EXPECT_FALSE(validMetricName("1abc"));
  EXPECT_FALSE(validMetricName("lb4-vip"));
  EXPECT_FALSE(validMetricName(""));
  EXPECT_TRUE(validLabelName("vip"));
  EXPECT_FALSE(validLabelName("a:b"));
  EXPECT_FALSE(validLabelName("__name__"));
}

TEST(ExpositionDeathTest, ACounterWithoutTotalOrAFamilyBegunTwiceAborts) {
  EXPECT_DEATH(
      {
        Exposition e;
        e.begin("lb4_packets", MetricType::kCounter, "x");
      },
      "_total");
  EXPECT_DEATH(
      {
        Exposition e;
        e.begin("lb4_up", MetricType::kGauge, "x");
        e.begin("lb4_up", MetricType::kGauge, "x");
      },
      "twice");
  EXPECT_DEATH(
      {
        Exposition e;
        e.begin("lb4_up", MetricType::kGauge, "x");
        e.sample({{"bad-label", "v"}}, 1.0);
      },
      "bad label");
}

MetricsSnapshot sampleSnapshot() {
  MetricsSnapshot s;
  s.version = "0.1.0";
  s.commit = "abc1234";
  s.startTimeSeconds = 1.7e9;
  s.attachments = {{.interface = "eth0", .mode = "native"}};
  s.vips = {{.vip = "198.18.1.100:80/tcp",
             .family = "ipv4",
             .proto = "tcp",
             .mode = "dr",
             .packets = 10,
             .bytes = 1000,
             .newConnections = 4,
             .dropped = 2,
             .allDown = false}};
  s.backends = {{.vip = "198.18.1.100:80/tcp",
                 .backend = "198.18.0.11",
                 .packets = 6,
                 .bytes = 600,
                 .newConnections = 3,
                 .dropped = 1,
                 .weight = 100,
                 .effectiveWeight = 50,
                 .up = true,
                 .drained = false},
                {.vip = "198.18.1.100:80/tcp",
                 .backend = "198.18.0.12",
                 .packets = 4,
                 .bytes = 400,
                 .weight = 100,
                 .effectiveWeight = 0,
                 .up = false,
                 .drained = true}};
  HealthMetrics h{.vip = "198.18.1.100:80/tcp",
                  .backend = "198.18.0.11",
                  .state = "overload",
                  .queue = "overload",
                  .durations = Histogram(kProbeDurationBuckets),
                  .failures = {{"timeout", 3}}};
  h.durations.observe(0.002);
  s.health = {h};
  s.dataplane.assign(LB4_STAT_MAX, 0);
  s.dataplane[LB4_STAT_TX] = 10;
  s.dataplane[LB4_STAT_DROP_NO_BACKEND] = 2;
  s.conntrackEntries = 5;
  s.conntrackCapacity = 65536;
  s.conntrackCapacityPerCpu = 32768;
  s.requests = {{{"add-backend", "ok"}, 2}, {{"invalid", "error"}, 1}};
  s.mapMemory = {{"lb4_conntrack", 1 << 20}, {"lb4_ring_tables", 4096}};
  s.ringBuilds = 3;
  s.ringBuildSeconds = Histogram({0.001});
  s.ringBuildSeconds.observe(0.0004);
  return s;
}

TEST(Lb4MetricsTest, EveryFamilyHasHelpAndTypeAndTheLb4Prefix) {
  std::istringstream text(renderMetrics(sampleSnapshot()));
  std::string line;
  std::set<std::string> help;
  std::set<std::string> typed;
  while (std::getline(text, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      help.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
    } else {
      std::string name = line.substr(0, line.find_first_of("{ "));
      EXPECT_EQ(name.rfind("lb4_", 0), 0u) << line;
    }
  }
  EXPECT_EQ(help, typed);
  for (const auto& name : help) {
    EXPECT_EQ(name.rfind("lb4_", 0), 0u) << name;
  }
  EXPECT_GE(help.size(), 20u);
}

TEST(Lb4MetricsTest, SnapshotValuesAppearUnderTheirNamesAndLabels) {
  std::string t = renderMetrics(sampleSnapshot());
  auto has = [&](const std::string& line) {
    EXPECT_NE(t.find("\n" + line + "\n"), std::string::npos) << line << "\n" << t;
  };
  has("lb4_build_info{version=\"0.1.0\",commit=\"abc1234\"} 1");
  has("lb4_xdp_attached{interface=\"eth0\",mode=\"native\"} 1");
  has("lb4_vip_packets_total{vip=\"198.18.1.100:80/tcp\",family=\"ipv4\",proto=\"tcp\"} 10");
  has("lb4_backend_packets_total{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.11\"} 6");
  has("lb4_backend_bytes_total{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.12\"} 400");
  has("lb4_vip_new_connections_total{vip=\"198.18.1.100:80/tcp\",family=\"ipv4\",proto=\"tcp\"} "
      "4");
  has("lb4_backend_new_connections_total{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.11\"} 3");
  has("lb4_backend_new_connections_total{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.12\"} 0");
  has("lb4_vip_drops_total{vip=\"198.18.1.100:80/tcp\",family=\"ipv4\",proto=\"tcp\"} 2");
  has("lb4_backend_drops_total{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.11\"} 1");
  has("lb4_map_memory_bytes{map=\"lb4_conntrack\"} 1048576");
  has("lb4_map_memory_bytes{map=\"lb4_ring_tables\"} 4096");
  has("lb4_backend_effective_weight{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.11\"} 50");
  has("lb4_backend_up{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.12\"} 0");
  has("lb4_backend_state{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.11\",state=\"overload\"} "
      "1");
  has("lb4_backend_state{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.11\",state=\"idle\"} 0");
  has("lb4_health_check_failures_total{vip=\"198.18.1.100:80/tcp\",backend=\"198.18.0.11\","
      "reason=\"timeout\"} 3");
  has("lb4_health_check_duration_seconds_bucket{vip=\"198.18.1.100:80/"
      "tcp\",backend=\"198.18.0.11\","
      "le=\"0.0025\"} 1");
  has("lb4_dataplane_packets_total{reason=\"tx\"} 10");
  has("lb4_dataplane_drops_total{reason=\"no_backend\"} 2");
  has("lb4_conntrack_entries 5");
  has("lb4_maglev_table_builds_total 3");
  has("lb4_maglev_table_build_duration_seconds_bucket{le=\"0.001\"} 1");
  has("lb4_conntrack_capacity_per_cpu 32768");
  has("lb4_control_requests_total{command=\"invalid\",state=\"error\"} 1");
  // Every data-plane counter of LB4_STATS is there once, drop or not.
  size_t reasons = 0;
  for (size_t at = t.find("{reason=\""); at != std::string::npos;
       at = t.find("{reason=\"", at + 1)) {
    ++reasons;
  }
  EXPECT_EQ(reasons, static_cast<size_t>(LB4_STAT_MAX));
}

// docs/observability.md lists every family with its type and labels, and
// nothing that lb4d does not expose.
TEST(Lb4MetricsTest, DocsListEveryFamilyWithItsTypeAndLabels) {
  struct Family {
    std::string type;
    std::set<std::string> labels;
  };
  std::map<std::string, Family> exposed;
  std::istringstream text(renderMetrics(sampleSnapshot()));
  std::string line;
  const std::regex label(R"(([a-z_]+)=")");
  while (std::getline(text, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name;
      std::string type;
      words >> name >> type;
      exposed[name].type = type;
    } else if (!line.empty() && line[0] != '#') {
      std::string name = line.substr(0, line.find_first_of("{ "));
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string base = name.substr(0, name.size() - std::strlen(suffix));
        if (name.ends_with(suffix) && exposed.count(base) && exposed[base].type == "histogram") {
          name = base;
        }
      }
      auto begin = line.find('{');
      auto end = line.rfind('}');
      if (begin != std::string::npos && end != std::string::npos) {
        std::string labels = line.substr(begin, end - begin);
        for (std::sregex_iterator it(labels.begin(), labels.end(), label), last; it != last; ++it) {
          if ((*it)[1] != "le") {
            exposed[name].labels.insert((*it)[1]);
          }
        }
      }
    }
  }
  ASSERT_GE(exposed.size(), 20u);

  std::ifstream docs(LB4_SOURCE_DIR "/docs/observability.md");
  ASSERT_TRUE(docs) << "docs/observability.md";
  std::map<std::string, Family> documented;
  const std::regex row(R"(^\| `(lb4_[a-z0-9_]+)` \| ([a-z]+) \|([a-z_, ]*)\|)");
  while (std::getline(docs, line)) {
    std::smatch m;
    if (std::regex_search(line, m, row)) {
      Family f{.type = m[2], .labels = {}};
      std::istringstream names(m[3].str());
      for (std::string n; std::getline(names, n, ',');) {
        n.erase(0, n.find_first_not_of(' '));
        n.erase(n.find_last_not_of(' ') + 1);
        if (!n.empty()) {
          f.labels.insert(n);
        }
      }
      EXPECT_TRUE(documented.emplace(m[1], f).second) << "listed twice: " << m[1];
    }
  }
  for (const auto& [name, family] : exposed) {
    auto it = documented.find(name);
    if (it == documented.end()) {
      ADD_FAILURE() << name << " is exposed but not in docs/observability.md";
      continue;
    }
    EXPECT_EQ(it->second.type, family.type) << name;
    EXPECT_EQ(it->second.labels, family.labels) << name;
  }
  for (const auto& [name, family] : documented) {
    EXPECT_TRUE(exposed.count(name)) << name << " is documented but lb4d does not expose it";
  }
}

TEST(HttpTest, OnlyGetMetricsIsServed) {
  auto render = [] { return std::string("lb4_up 1\n"); };
  auto ok = answerHttp("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", render);
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(ok.metrics);
  EXPECT_EQ(ok.body, "lb4_up 1\n");
  EXPECT_EQ(answerHttp("GET /metrics?x=1 HTTP/1.0\r\n\r\n", render).status, 200);
  EXPECT_EQ(answerHttp("POST /metrics HTTP/1.1\r\n\r\n", render).status, 405);
  EXPECT_EQ(answerHttp("GET / HTTP/1.1\r\n\r\n", render).status, 404);
  EXPECT_EQ(answerHttp("GET /metricsx HTTP/1.1\r\n\r\n", render).status, 404);
  EXPECT_EQ(answerHttp("GET /metrics HTTP/2\r\n\r\n", render).status, 505);
  EXPECT_EQ(answerHttp("garbage\r\n\r\n", render).status, 400);
  std::string wire = formatHttp(ok);
  EXPECT_EQ(wire.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(wire.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(wire.find("Content-Length: 9\r\n"), std::string::npos);
  EXPECT_NE(formatHttp(answerHttp("PUT /metrics HTTP/1.1\r\n\r\n", render)).find("Allow: GET\r\n"),
            std::string::npos);
}

TEST(ListenAddressTest, ParsesAddressesAndRefusesBadOnes) {
  auto v4 = parseListenAddress("127.0.0.1:9474");
  ASSERT_TRUE(v4) << v4.error();
  ASSERT_TRUE(v4->has_value());
  EXPECT_EQ((*v4)->port, 9474);
  EXPECT_EQ((*v4)->toString(), "127.0.0.1:9474");
  auto v6 = parseListenAddress("[::1]:9474");
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ((*v6)->toString(), "[::1]:9474");
  auto off = parseListenAddress("");
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->has_value());
  EXPECT_TRUE(parseListenAddress(kDefaultMetricsListen));
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "localhost:9474",
                          "::1:9474", "[127.0.0.1]:9474", "[::1]", ":9474", "127.0.0.1:x"}) {
    auto r = parseListenAddress(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().find('\n'), std::string::npos);
      EXPECT_NE(r.error().find(bad), std::string::npos) << r.error();
    }
  }
}

TEST(ProbeReasonTest, FailureDetailsFallIntoFewReasons) {
  auto reason = [](std::string detail) {
    return std::string(probeFailureReason(ProbeResult{false, {}, std::move(detail)}));
  };
  EXPECT_EQ(reason("timeout after 2000ms"), "timeout");
  EXPECT_EQ(reason("connect: Connection refused"), "refused");
  EXPECT_EQ(reason("receive: Connection refused"), "refused");
  EXPECT_EQ(reason("connect: No route to host"), "connect");
  EXPECT_EQ(reason("read response: Connection reset by peer"), "io");
  EXPECT_EQ(reason("HTTP 503 not in 200-399"), "response");
  EXPECT_EQ(reason("exit status 1"), "exit");
  EXPECT_EQ(reason("probe aborted: x"), "error");
  EXPECT_EQ(probeFailureReason(ProbeResult{true, {}, "HTTP 200"}), "");
}

}  // namespace
}  // namespace lb4
