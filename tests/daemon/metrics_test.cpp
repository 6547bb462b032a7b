// lb4d's metrics endpoint: lb4d with metrics on a loopback port (as root in
// a network namespace the test creates, else on the host's loopback at a
// free port), scraped over HTTP; the exposition passes `promtool check
// metrics` and shows what the control socket configured; the endpoint
// answers only GET /metrics, bounds requests, and a stalled scraper does not
// stall the control socket.
#include <netinet/in.h>
#include <sys/socket.h>

#include "bpf/lb4_abi.h"
#include "daemon_fixture.h"
#include "tests/common/http_get.h"

namespace lb4::test {
namespace {

constexpr const char* kVip = "198.18.1.100:80/tcp";

class MetricsTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (isRoot()) {
      netns_ = "lb4m" + std::to_string(::getpid() % 100000);
      runCommand({"ip", "netns", "del", netns_});
      ASSERT_EQ(runCommand({"ip", "netns", "add", netns_}).status, 0);
      ASSERT_EQ(runCommand({"ip", "-n", netns_, "link", "set", "lo", "up"}).status, 0);
      port_ = 9474;
    } else {
      port_ = freeLoopbackPort();
      ASSERT_NE(port_, 0);
    }
  }

  void TearDown() override {
    DaemonTest::TearDown();
    if (!netns_.empty()) {
      runCommand({"ip", "netns", "del", netns_});
    }
  }

  static uint16_t freeLoopbackPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  std::string listen() const { return "127.0.0.1:" + std::to_string(port_); }

  // lb4d with metrics on listen(): in the test's namespace as root.
  std::vector<std::string> metricsArgv(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv;
    if (!netns_.empty()) {
      argv = {"nsenter", "--net=/run/netns/" + netns_};
    }
    for (const auto& a : {buildPath("userspace/lb4d"), std::string("--socket"), socket_,
                          std::string("--state-file"), state_, std::string("--pin-root"), pinRoot_,
                          std::string("--log-level"), std::string("info")}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  void startWithMetrics(std::vector<std::string> extra = {}) {
    if (std::find(extra.begin(), extra.end(), "--metrics-listen") == extra.end()) {
      extra.insert(extra.end(), {"--metrics-listen", listen()});
    }
    std::filesystem::remove(socket_);
    daemon_ = Process(metricsArgv(extra), (work_ / "lb4d.log").string());
    for (int i = 0; i < 500 && !std::filesystem::exists(socket_) && daemon_.running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(std::filesystem::exists(socket_)) << "lb4d did not create its socket";
  }

  HttpResponse scrape() { return httpGet(netns_, port_, "/metrics"); }

  std::string netns_;
  uint16_t port_ = 0;
};

TEST_F(MetricsTest, ScrapePassesPromtoolAndShowsWhatWasConfigured) {
  startWithMetrics();
  ASSERT_EQ(ctl({"add-vip", kVip}).status, 0);
  for (const char* b : {"198.18.0.11", "198.18.0.12"}) {
    ASSERT_EQ(ctl({"add-backend", kVip, b, "--mac", "02:00:00:00:00:01", "--weight", "70"}).status,
              0);
  }
  ASSERT_NE(ctl({"del-backend", kVip, "198.18.0.99"}).status, 0);  // counted as an error

  auto r = scrape();
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r.head;
  std::string file = (work_ / "metrics.txt").string();
  std::ofstream(file) << r.body;
  auto check = runCommand({"sh", "-c", "promtool check metrics < \"$0\"", file});
  EXPECT_EQ(check.status, 0) << check.out << check.err << "\n" << r.body;

  const std::string vip = "vip=\"198.18.1.100:80/tcp\"";
  for (const std::string& line :
       {"lb4_backend_weight{" + vip + ",backend=\"198.18.0.11\"} 70",
        "lb4_backend_weight{" + vip + ",backend=\"198.18.0.12\"} 70",
        "lb4_vip_info{" + vip + ",family=\"ipv4\",proto=\"tcp\",mode=\"dr\"} 1",
        std::string("lb4_control_requests_total{command=\"add-backend\",state=\"ok\"} 2"),
        std::string("lb4_control_requests_total{command=\"del-backend\",state=\"error\"} 1"),
        "lb4_conntrack_capacity " + std::to_string(LB4_DEFAULT_CT_SIZE)}) {
    EXPECT_NE(r.body.find(line + "\n"), std::string::npos) << line << "\n" << r.body;
  }
  EXPECT_NE(r.body.find("lb4_build_info{version=\""), std::string::npos);
}

TEST_F(MetricsTest, OnlyGetMetricsIsAnsweredAndRequestsAreBounded) {
  startWithMetrics();
  EXPECT_EQ(httpGet(netns_, port_, "/").status, 404);
  EXPECT_EQ(httpGet(netns_, port_, "/metrics/other").status, 404);
  EXPECT_EQ(
      httpExchange(netns_, port_, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status,
      405);
  EXPECT_EQ(httpExchange(netns_, port_, "nonsense\r\n\r\n").status, 400);
  std::string huge = "GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(httpExchange(netns_, port_, huge).status, 431);
  EXPECT_EQ(scrape().status, 200);
}

TEST_F(MetricsTest, StalledScrapersDoNotStallTheControlSocketOrOtherScrapes) {
  startWithMetrics();
  // Clients that connect and send half a request, then nothing.
  std::vector<int> stalled;
  for (int i = 0; i < 20; ++i) {
    int fd = connectLoopback(netns_, port_);
    ASSERT_GE(fd, 0);
    ASSERT_GT(::send(fd, "GET /met", 8, MSG_NOSIGNAL), 0);
    stalled.push_back(fd);
  }
  auto status = ctl({"status", "--json"});
  EXPECT_EQ(status.status, 0) << status.err;
  EXPECT_EQ(ctl({"add-vip", kVip}).status, 0);
  // Over the connection limit a scraper is told 503 at once; once the
  // stalled ones are gone, scrapes are served again.
  auto busy = scrape();
  EXPECT_TRUE(busy.status == 503 || busy.status == 200) << busy.status;
  for (int fd : stalled) {
    ::close(fd);
  }
  HttpResponse r;
  for (int i = 0; i < 100 && r.status != 200; ++i) {
    r = scrape();
    if (r.status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("lb4_vip_info{vip=\"198.18.1.100:80/tcp\""), std::string::npos);
}

TEST_F(MetricsTest, EmptyMetricsListenServesNothing) {
  startWithMetrics({"--metrics-listen", ""});
  EXPECT_EQ(ctl({"status"}).status, 0);
  EXPECT_LT(connectLoopback(netns_, port_), 0);
}

TEST_F(MetricsTest, BadMetricsListenIsOneLineBeforeAnythingIsCreated) {
  for (const std::string bad : {"127.0.0.1", "localhost:9474", "127.0.0.1:0", "[127.0.0.1]:1"}) {
    auto r = runCommand(metricsArgv({"--metrics-listen", bad}));
    EXPECT_EQ(r.status, 2) << bad << ": " << r.out << r.err;
    std::string out = r.out + r.err;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_EQ(out.rfind("lb4d: metrics_listen: listen address '" + bad + "'", 0), 0u) << out;
    EXPECT_FALSE(std::filesystem::exists(state_));
    EXPECT_FALSE(std::filesystem::exists(socket_));
  }
  std::string config = (work_ / "lb4.yaml").string();
  std::ofstream(config) << "log_level: info\nmetrics_listen: \"198.18.0.1:99999\"\n";
  auto r = runCommand(metricsArgv({"--config", config}));
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("lb4d: config " + config + ":2: metrics_listen: listen address"),
            std::string::npos)
      << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(state_));
}

TEST_F(MetricsTest, ConfiguredPortInUseStopsLb4dBeforeItStarts) {
  int holder = -1;
  if (netns_.empty()) {
    // Without root: hold the port on the host's loopback ourselves.
    holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(holder, 1), 0);
  } else {
    startWithMetrics();  // the first lb4d holds it in the namespace
  }
  std::string otherState = (work_ / "other.json").string();
  std::vector<std::string> argv = metricsArgv({"--metrics-listen", listen()});
  // Another daemon (own socket, state and pins) on the same metrics port.
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--socket") {
      argv[i + 1] = (work_ / "other.sock").string();
    } else if (argv[i] == "--state-file") {
      argv[i + 1] = otherState;
    } else if (argv[i] == "--pin-root") {
      argv[i + 1] = pinRoot_ + "-other";
    }
  }
  argv.insert(argv.begin(), {"timeout", "20"});
  auto r = runCommand(argv);
  if (holder >= 0) {
    ::close(holder);
  }
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("listen for metrics on " + listen()), std::string::npos)
      << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(otherState));
  std::error_code ec;
  std::filesystem::remove_all(pinRoot_ + "-other", ec);
  std::filesystem::remove(pinRootLockPath(pinRoot_ + "-other"), ec);
}

}  // namespace
}  // namespace lb4::test
