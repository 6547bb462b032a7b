// A real Prometheus server scrapes lb4d during namespace traffic. Both run
// in the gateway namespace (lb4d's metrics on its loopback, the default
// 127.0.0.1:9474; Prometheus on 127.0.0.1:9090 there, with its own config
// and data directory in the test's work directory, scraping every second).
// After the traffic stops, Prometheus's HTTP API reports for every backend
// the packet count `lb4ctl stats --json` shows.
#include "netns_fixture.h"
#include "tests/common/http_get.h"

namespace lb4::test {
namespace {

constexpr uint16_t kPrometheusPort = 9090;

class PrometheusTest : public DrTopologyTest {
 protected:
  void TearDown() override {
    prometheus_.stop();  // before the fixture removes its data directory
    DrTopologyTest::TearDown();
  }

  void startPrometheus() {
    auto dir = work_ / "prometheus";
    std::filesystem::create_directories(dir / "data");
    std::ofstream(dir / "prometheus.yml") << "global:\n"
                                             "  scrape_interval: 1s\n"
                                             "  scrape_timeout: 1s\n"
                                             "scrape_configs:\n"
                                             "  - job_name: lb4\n"
                                             "    static_configs:\n"
                                             "      - targets: ['127.0.0.1:9474']\n";
    prometheus_ = Process(
        {"nsenter", "--net=/run/netns/" + ns("gw"), "prometheus",
         "--config.file=" + (dir / "prometheus.yml").string(),
         "--storage.tsdb.path=" + (dir / "data").string(),
         "--web.listen-address=127.0.0.1:" + std::to_string(kPrometheusPort), "--log.level=warn"},
        (work_ / "prometheus.log").string());
    int status = 0;
    for (int i = 0; i < 300 && status != 200 && prometheus_.running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      status = httpGet(ns("gw"), kPrometheusPort, "/-/ready").status;
    }
    ASSERT_EQ(status, 200) << "Prometheus did not become ready; " << log("prometheus.log");
  }

  std::string log(const std::string& name) {
    std::ifstream in(work_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The result vector of an instant query, or an empty array.
  nlohmann::json query(const std::string& promql) {
    auto r = httpGet(ns("gw"), kPrometheusPort, "/api/v1/query?query=" + urlEncode(promql));
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || j.is_discarded() || j.value("status", "") != "success") {
      return nlohmann::json::array();
    }
    return j["data"]["result"];
  }

  // Packets per backend address, as lb4ctl stats --json shows them.
  std::map<std::string, uint64_t> statsPackets() {
    std::map<std::string, uint64_t> out;
    auto r = ctl({"stats", "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (r.status != 0 || j.is_discarded()) {
      return out;
    }
    for (const auto& v : j["vips"]) {
      for (const auto& b : v["backends"]) {
        out[b["address"].get<std::string>()] = b["packets"].get<uint64_t>();
      }
    }
    return out;
  }

  // Packets per backend, as Prometheus last scraped them.
  std::map<std::string, uint64_t> prometheusPackets() {
    std::map<std::string, uint64_t> out;
    for (const auto& s : query(std::string("lb4_backend_packets_total{vip=\"") + kVip + "\"}")) {
      out[s["metric"]["backend"].get<std::string>()] =
          std::stoull(s["value"][1].get<std::string>());
    }
    return out;
  }

  Process prometheus_;
};

TEST_F(PrometheusTest, PrometheusSeesThePerBackendPacketCountsLb4ctlShows) {
  configureDr();
  startPrometheus();
  if (HasFatalFailure()) {
    return;
  }
  // A first scrape before any traffic: the VIP's counter at 0.
  nlohmann::json before;
  for (int i = 0; i < 100 && before.empty(); ++i) {
    before = query(std::string("lb4_vip_packets_total{vip=\"") + kVip + "\"}");
    if (before.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  ASSERT_EQ(before.size(), 1u) << "Prometheus never scraped lb4d; " << log("prometheus.log");
  EXPECT_EQ(before[0]["value"][1], "0");
  // Traffic in three rounds while Prometheus scrapes every second.
  for (int round = 0; round < 3; ++round) {
    auto result = connect(100);
    ASSERT_EQ(result.value("ok", 0), 100) << result.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  // The counters settle once the last connection's packets are through.
  auto expected = statsPackets();
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto again = statsPackets();
    if (again == expected) {
      break;
    }
    expected = again;
  }
  ASSERT_EQ(expected.size(), static_cast<size_t>(kBackends));
  uint64_t total = 0;
  for (const auto& [backend, packets] : expected) {
    EXPECT_GT(packets, 0u) << backend;
    total += packets;
  }
  EXPECT_GE(total, 900u);  // SYN, ACK and FIN of 300 connections at least

  // Prometheus catches up within a few scrape intervals.
  std::map<std::string, uint64_t> seen;
  for (int i = 0; i < 100 && seen != expected; ++i) {
    seen = prometheusPackets();
    if (seen != expected) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  EXPECT_EQ(seen, expected) << log("prometheus.log");

  // Configuring the VIP and its three backends built its table at least once.
  auto builds = query("lb4_maglev_table_builds_total");
  ASSERT_EQ(builds.size(), 1u) << builds.dump();
  EXPECT_GE(std::stoull(builds[0]["value"][1].get<std::string>()), 1u) << builds.dump();
  // The data plane is attached: conntrack holds the flows' entries.
  auto entries = query("lb4_conntrack_entries");
  ASSERT_EQ(entries.size(), 1u) << entries.dump();
  EXPECT_GE(std::stoull(entries[0]["value"][1].get<std::string>()), 1u) << entries.dump();

  auto up = query("up{job=\"lb4\"}");
  ASSERT_EQ(up.size(), 1u) << up.dump();
  EXPECT_EQ(up[0]["value"][1], "1");
  // The series went from 0 (before the traffic) to the final count.
  auto changes = query(std::string("changes(lb4_vip_packets_total{vip=\"") + kVip + "\"}[5m])");
  ASSERT_EQ(changes.size(), 1u) << changes.dump();
  EXPECT_GE(std::stod(changes[0]["value"][1].get<std::string>()), 1.0) << changes.dump();
}

// With LB4_DASHBOARD_PNG=PATH: a two-minute run that exercises the main
// panels of docs/grafana/lb4.json (steady traffic, a backend's server
// stopped and started again, connections to a VIP without backends), then
// scripts/dashboard_picture.py draws them from this Prometheus into PATH.
TEST_F(PrometheusTest, DashboardPictureFromARealRun) {
  const char* png = std::getenv("LB4_DASHBOARD_PNG");
  if (png == nullptr || *png == '\0') {
    GTEST_SKIP() << "set LB4_DASHBOARD_PNG=PATH to draw the dashboard's panels from a run";
  }
  configureDr();
  const std::string emptyVip = "198.18.1.100:81/tcp";  // no backends: drop_no_backend
  ctlOk({"add-vip", emptyVip, "--mode", "dr"});
  startPrometheus();
  if (HasFatalFailure()) {
    return;
  }
  auto start = std::chrono::system_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() -
                                                            start)
        .count();
  };
  bool stopped = false;
  bool restarted = false;
  while (elapsed() < 120) {
    // A rate that changes over the run: 20 to 60 connections a round.
    auto result = connect(20 + static_cast<int>(elapsed() % 40));
    EXPECT_GT(result.value("ok", 0), 0) << result.dump();
    if (elapsed() >= 40 && elapsed() < 80) {
      runCommand({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"), "connect",
                  "--to", emptyVip, "--count", "2", "--timeout-ms", "300"});
    }
    if (elapsed() >= 30 && !stopped) {
      servers_[2].stop();  // b3's checks fail (refused) until its server is back
      stopped = true;
    }
    if (elapsed() >= 70 && !restarted) {
      startServer(3);
      restarted = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the last scrapes
  auto end = std::chrono::system_clock::now();
  auto unix = [](std::chrono::system_clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  auto picture =
      runCommand({"nsenter", "--net=/run/netns/" + ns("gw"), "/usr/bin/python3",
                  sourcePath("scripts/dashboard_picture.py"),
                  "http://127.0.0.1:" + std::to_string(kPrometheusPort), png, "--start",
                  unix(start), "--end", unix(end), "--step", "2", "--scrape-interval", "1"});
  EXPECT_EQ(picture.status, 0) << picture.out << picture.err;
  EXPECT_TRUE(std::filesystem::exists(png)) << png;
}

}  // namespace
}  // namespace lb4::test
