// The Grafana dashboard docs/grafana/lb4.json against lb4d: every metric
// name its queries use (panel targets and template variables) is a family
// lb4d exposes (`# TYPE` in a scrape of a running lb4d with VIPs, backends
// and health checks; `_bucket`, `_sum` and `_count` belong to their
// histogram), and every panel query is PromQL that `promtool check rules`
// accepts once Grafana's variables are replaced as Grafana replaces them.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <map>
#include <regex>
#include <set>

#include "daemon_fixture.h"
#include "tests/common/http_get.h"

namespace lb4::test {
namespace {

bool identStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}
bool identChar(char c) { return identStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Index just past the closing `close` of the group opened at `i` (strings
// inside it skipped), or the end of `e`.
size_t skipGroup(std::string_view e, size_t i, char open, char close) {
  int depth = 0;
  while (i < e.size()) {
    char c = e[i];
    if (c == '"' || c == '\'' || c == '`') {
      char quote = c;
      for (++i; i < e.size() && e[i] != quote; ++i) {
        if (e[i] == '\\' && quote != '`') {
          ++i;
        }
      }
    } else if (c == open) {
      ++depth;
    } else if (c == close && --depth == 0) {
      return i + 1;
    }
    ++i;
  }
  return i;
}

// The metric names a PromQL expression selects: identifiers outside strings,
// label matchers ({...}), ranges ([...]) and grouping label lists (by (...),
// on (...), ...) that are neither a function call nor a keyword. Grafana
// variables ($name, ${name}) are not names.
std::set<std::string> promqlMetricNames(std::string_view e) {
  static const std::set<std::string> kKeywords = {"and",    "or",  "unless", "bool",
                                                  "offset", "inf", "nan"};
  static const std::set<std::string> kGrouping = {"by",       "without",    "on",
                                                  "ignoring", "group_left", "group_right"};
  // Aggregations may be followed by `by (...)` instead of their argument.
  static const std::set<std::string> kAggregations = {
      "sum",    "min",   "max",          "avg",     "group", "stddev",
      "stdvar", "count", "count_values", "bottomk", "topk",  "quantile"};
  std::set<std::string> names;
  size_t i = 0;
  while (i < e.size()) {
    char c = e[i];
    if (c == '"' || c == '\'' || c == '`') {
      char quote = c;
      for (++i; i < e.size() && e[i] != quote; ++i) {
        if (e[i] == '\\' && quote != '`') {
          ++i;
        }
      }
      ++i;
    } else if (c == '{') {
      i = skipGroup(e, i, '{', '}');
    } else if (c == '[') {
      i = skipGroup(e, i, '[', ']');
    } else if (c == '#') {
      i = e.find('\n', i);
      i = i == std::string_view::npos ? e.size() : i;
    } else if (c == '$') {
      ++i;
      if (i < e.size() && e[i] == '{') {
        i = skipGroup(e, i, '{', '}');
      }
      while (i < e.size() && identChar(e[i])) {
        ++i;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      // Numbers and durations: 0.99, 1e-3, 0x1f, 5m.
      for (++i; i < e.size(); ++i) {
        bool exponentSign = (e[i] == '+' || e[i] == '-') && (e[i - 1] == 'e' || e[i - 1] == 'E');
        if (!identChar(e[i]) && e[i] != '.' && !exponentSign) {
          break;
        }
      }
    } else if (identStart(c)) {
      size_t start = i;
      while (i < e.size() && identChar(e[i])) {
        ++i;
      }
      std::string word(e.substr(start, i - start));
      std::string lower = word;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      size_t next = i;
      while (next < e.size() && std::isspace(static_cast<unsigned char>(e[next]))) {
        ++next;
      }
      bool call = next < e.size() && e[next] == '(';
      if (call && kGrouping.count(lower) != 0) {
        i = skipGroup(e, next, '(', ')');
      } else if (!call && kKeywords.count(lower) == 0 && kGrouping.count(lower) == 0 &&
                 kAggregations.count(lower) == 0) {
        names.insert(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

// One query of the dashboard: where it is and its text.
struct DashboardQuery {
  std::string where;  // panel title and refId, or the template variable
  std::string expr;
  bool promql = true;  // false for a template variable's label_values(...)
};

void collectPanelQueries(const nlohmann::json& panels, std::vector<DashboardQuery>& out) {
  for (const auto& p : panels) {
    for (const auto& t : p.value("targets", nlohmann::json::array())) {
      if (t.contains("expr")) {
        out.push_back({p.value("title", "?") + " " + t.value("refId", "?"),
                       t["expr"].get<std::string>(), true});
      }
    }
    if (p.contains("panels")) {  // a collapsed row holds its panels
      collectPanelQueries(p["panels"], out);
    }
  }
}

std::vector<DashboardQuery> dashboardQueries(const nlohmann::json& dashboard) {
  std::vector<DashboardQuery> out;
  collectPanelQueries(dashboard.value("panels", nlohmann::json::array()), out);
  for (const auto& v : dashboard["templating"].value("list", nlohmann::json::array())) {
    if (v.value("type", "") != "query") {
      continue;
    }
    std::string q = v["query"].is_object() ? v["query"].value("query", "") : v.value("query", "");
    // label_values(SELECTOR, LABEL): the selector names the metric.
    static const std::regex kLabelValues(
        R"(^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\)\s*$)");
    std::smatch m;
    if (std::regex_match(q, m, kLabelValues)) {
      q = m[1];
    }
    out.push_back({"variable " + v.value("name", "?"), q, false});
  }
  return out;
}

// Family name -> type, from the `# TYPE` lines of an exposition.
std::map<std::string, std::string> exposedFamilies(const std::string& exposition) {
  std::map<std::string, std::string> out;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string hash, type, name, kind;
    if (words >> hash >> type >> name >> kind && hash == "#" && type == "TYPE") {
      out[name] = kind;
    }
  }
  return out;
}

// The names of `names` that are no exposed family and no series of an
// exposed histogram (NAME_bucket, NAME_sum, NAME_count).
std::vector<std::string> unexposedNames(const std::set<std::string>& names,
                                        const std::map<std::string, std::string>& families) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (families.count(n) != 0) {
      continue;
    }
    bool histogramSeries = false;
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (n.size() > suffix.size() && n.ends_with(suffix)) {
        auto it = families.find(n.substr(0, n.size() - suffix.size()));
        histogramSeries = histogramSeries || (it != families.end() && it->second == "histogram");
      }
    }
    if (!histogramSeries) {
      out.push_back(n);
    }
  }
  return out;
}

// The query as Grafana sends it: interval variables become a duration,
// the others (all of vip and backend selected) the regex `.*`.
std::string substituteVariables(const std::string& expr) {
  static const std::regex kInterval(R"(\$\{?__(rate_interval|interval|range)\}?)");
  static const std::regex kVariable(
      R"(\$\{[A-Za-z_][A-Za-z0-9_]*(:[a-z]+)?\}|\$[A-Za-z_][A-Za-z0-9_]*)");
  return std::regex_replace(std::regex_replace(expr, kInterval, "1m"), kVariable, ".*");
}

// `promtool check rules` on a rules file with each query as a recording
// rule: exit code and output.
CommandResult promtoolCheck(const std::filesystem::path& dir,
                            const std::vector<DashboardQuery>& queries) {
  auto file = dir / "dashboard_rules.yml";
  std::ofstream out(file);
  out << "groups:\n  - name: dashboard\n    rules:\n";
  int n = 0;
  for (const auto& q : queries) {
    if (q.promql) {
      // A JSON string is a YAML double-quoted scalar.
      out << "      - record: dashboard_query_" << n++
          << "\n        expr: " << nlohmann::json(substituteVariables(q.expr)).dump() << "\n";
    }
  }
  out.close();
  return runCommand({"promtool", "check", "rules", file.string()});
}

nlohmann::json loadDashboard() {
  std::ifstream in(sourcePath("docs/grafana/lb4.json"));
  return nlohmann::json::parse(in, nullptr, false);
}

TEST(DashboardNamesTest, NamesAreTheSelectedMetricsOnly) {
  using Names = std::set<std::string>;
  EXPECT_EQ(
      promqlMetricNames(
          "histogram_quantile(0.99, sum by (vip, le) "
          "(rate(lb4_health_check_duration_seconds_bucket{vip=~\"$vip\"}[$__rate_interval])))"),
      Names{"lb4_health_check_duration_seconds_bucket"});
  EXPECT_EQ(promqlMetricNames("lb4_conntrack_entries / lb4_conntrack_capacity"),
            (Names{"lb4_conntrack_capacity", "lb4_conntrack_entries"}));
  EXPECT_EQ(promqlMetricNames("sum(rate(a_total[5m] offset 1h)) without (instance) > bool 0 AND "
                              "on(vip) group_left(mode) lb4_vip_info"),
            (Names{"a_total", "lb4_vip_info"}));
  EXPECT_EQ(promqlMetricNames("time() - lb4_start_time_seconds"), Names{"lb4_start_time_seconds"});
  EXPECT_EQ(promqlMetricNames("label_replace(up, \"by\", \"$1\", \"instance\", \"(.*)\")"),
            Names{"up"});
  EXPECT_EQ(promqlMetricNames("1e+3 * inf + foo:bar_rate5m{x='a}b'} - 0x1f"),
            Names{"foo:bar_rate5m"});
  EXPECT_EQ(promqlMetricNames("sum(x) by (vip) # a comment naming y"), Names{"x"});
}

TEST(DashboardNamesTest, AnUnexposedNameIsReported) {
  std::string exposition =
      "# HELP lb4_a_total A.\n# TYPE lb4_a_total counter\nlb4_a_total 1\n"
      "# HELP lb4_h_seconds H.\n# TYPE lb4_h_seconds histogram\nlb4_h_seconds_count 0\n";
  auto families = exposedFamilies(exposition);
  EXPECT_EQ(families, (std::map<std::string, std::string>{{"lb4_a_total", "counter"},
                                                          {"lb4_h_seconds", "histogram"}}));
  auto names = promqlMetricNames(
      "rate(lb4_a_total[1m]) + rate(lb4_h_seconds_bucket[1m]) + lb4_h_seconds_sum"
      " + lb4_made_up_total + lb4_a_total_bucket + lb4_h");
  EXPECT_EQ(unexposedNames(names, families),
            (std::vector<std::string>{"lb4_a_total_bucket", "lb4_h", "lb4_made_up_total"}));
}

TEST(DashboardNamesTest, PromtoolRefusesABrokenQuery) {
  auto dir =
      std::filesystem::temp_directory_path() / ("lb4-dashboard-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto good = promtoolCheck(
      dir, {{"good", "sum by (vip) (rate(x_total{vip=~\"$vip\"}[$__rate_interval]))", true}});
  auto bad = promtoolCheck(dir, {{"bad", "sum by (vip) (rate(x_total[5m])", true}});
  std::filesystem::remove_all(dir);
  EXPECT_EQ(good.status, 0) << good.out << good.err;
  EXPECT_NE(bad.status, 0) << bad.out << bad.err;
}

TEST(DashboardNamesTest, EveryPanelQueryIsValidPromql) {
  auto dashboard = loadDashboard();
  ASSERT_FALSE(dashboard.is_discarded()) << "docs/grafana/lb4.json is no JSON";
  auto queries = dashboardQueries(dashboard);
  ASSERT_FALSE(queries.empty());
  auto dir =
      std::filesystem::temp_directory_path() / ("lb4-dashboard-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto check = promtoolCheck(dir, queries);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS"), std::string::npos) << check.out << check.err;
}

// lb4d with metrics on a loopback port (as root in a namespace of the
// test's own, else on the host's loopback at a free port).
class DashboardTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (isRoot()) {
      netns_ = "lb4g" + std::to_string(::getpid() % 100000);
      runCommand({"ip", "netns", "del", netns_});
      ASSERT_EQ(runCommand({"ip", "netns", "add", netns_}).status, 0);
      ASSERT_EQ(runCommand({"ip", "-n", netns_, "link", "set", "lo", "up"}).status, 0);
      port_ = 9474;
    } else {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof(addr);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port_ = ntohs(addr.sin_port);
      }
      ::close(fd);
      ASSERT_NE(port_, 0);
    }
  }

  void TearDown() override {
    DaemonTest::TearDown();
    if (!netns_.empty()) {
      runCommand({"ip", "netns", "del", netns_});
    }
  }

  void startWithMetrics() {
    std::vector<std::string> argv;
    if (!netns_.empty()) {
      argv = {"nsenter", "--net=/run/netns/" + netns_};
    }
    for (const auto& a : {buildPath("userspace/lb4d"), std::string("--socket"), socket_,
                          std::string("--state-file"), state_, std::string("--pin-root"), pinRoot_,
                          std::string("--log-level"), std::string("info"),
                          std::string("--metrics-listen"), "127.0.0.1:" + std::to_string(port_)}) {
      argv.push_back(a);
    }
    std::filesystem::remove(socket_);
    daemon_ = Process(argv, (work_ / "lb4d.log").string());
    for (int i = 0; i < 500 && !std::filesystem::exists(socket_) && daemon_.running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(std::filesystem::exists(socket_)) << "lb4d did not create its socket";
  }

  std::string netns_;
  uint16_t port_ = 0;
};

TEST_F(DashboardTest, EveryMetricTheDashboardNamesIsExposedByLb4d) {
  auto dashboard = loadDashboard();
  ASSERT_FALSE(dashboard.is_discarded()) << "docs/grafana/lb4.json is no JSON";
  startWithMetrics();
  // Two VIPs with backends; the default TCP checks run (and fail: nothing
  // answers), so the per-backend health families have samples too.
  for (const char* vip : {"198.18.1.100:80/tcp", "[2001:db8::100]:53/udp"}) {
    ASSERT_EQ(ctl({"add-vip", vip}).status, 0) << vip;
  }
  for (const char* b : {"198.18.0.11", "198.18.0.12"}) {
    ASSERT_EQ(ctl({"add-backend", "198.18.1.100:80/tcp", b, "--mac", "02:00:00:00:00:01"}).status,
              0);
  }
  ASSERT_EQ(
      ctl({"add-backend", "[2001:db8::100]:53/udp", "2001:db8::11", "--mac", "02:00:00:00:00:02"})
          .status,
      0);
  HttpResponse r;
  for (int i = 0; i < 100; ++i) {
    r = httpGet(netns_, port_, "/metrics");
    if (r.body.find("lb4_health_check_duration_seconds_bucket{vip=\"198.18.1.100:80/tcp\"") !=
        std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(r.status, 200);
  auto families = exposedFamilies(r.body);
  ASSERT_GT(families.size(), 20u) << r.body;

  auto queries = dashboardQueries(dashboard);
  ASSERT_GT(queries.size(), 10u);
  std::set<std::string> all;
  for (const auto& q : queries) {
    auto names = promqlMetricNames(q.expr);
    EXPECT_FALSE(names.empty()) << q.where << ": no metric name in " << q.expr;
    for (const auto& missing : unexposedNames(names, families)) {
      ADD_FAILURE() << q.where << ": " << missing << " is no family lb4d exposes (" << q.expr
                    << ")";
    }
    all.insert(names.begin(), names.end());
  }
  // The dashboard shows the traffic, health and data-plane families at least.
  for (const char* name : {"lb4_vip_packets_total", "lb4_backend_packets_total",
                           "lb4_health_check_duration_seconds_bucket", "lb4_dataplane_drops_total",
                           "lb4_conntrack_entries"}) {
    EXPECT_EQ(all.count(name), 1u) << name;
  }
}

}  // namespace
}  // namespace lb4::test
