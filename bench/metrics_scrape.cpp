// Scrape cost of lb4d's metrics endpoint at scale: lb4d in a namespace of
// its own, attached to a veth there, configured with VIPS VIPs of BACKENDS
// backends each (config file: DR, MACs given, default TCP checks, which
// fail: the backends are unreachable, so health rows and failure counters
// are all there). Times
// `--scrapes` sequential GET /metrics, and meanwhile sends `status` requests
// on the control socket from another thread: prints how many it answered
// and their latency, next to the same requests with no scrape running (the
// same-run baseline). One JSON object on stdout. Run as root.
#include <sys/socket.h>
#include <sys/un.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/bench_process.h"
#include "tests/common/http_get.h"
#include "userspace/metrics/listen_address.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// One `status` request on a fresh connection; its latency, or -1.
double statusRequest(const std::string& socketPath) {
  auto start = Clock::now();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socketPath.c_str());
  double out = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const char req[] = "{\"v\":1,\"op\":\"status\"}\n";
    if (::send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(req) - 1)) {
      std::string reply;
      char buf[4096];
      ssize_t n;
      while (reply.find('\n') == std::string::npos && (n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
        reply.append(buf, static_cast<size_t>(n));
      }
      if (reply.find("\"ok\":true") != std::string::npos) {
        out = ms(Clock::now() - start);
      }
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lb4 metrics scrape benchmark"};
  std::string buildDir = LB4_BUILD_DIR;
  int vips = 100;
  int backends = 10;
  int scrapes = 30;
  int settleS = 12;
  app.add_option("--build-dir", buildDir);
  app.add_option("--vips", vips)->check(CLI::Range(1, 250));
  app.add_option("--backends", backends)->check(CLI::Range(1, 250));
  app.add_option("--scrapes", scrapes)->check(CLI::Range(1, 1000));
  app.add_option("--settle-s", settleS,
                 "wait before measuring: the unreachable backends' checks fail and their "
                 "verdicts (which rewrite every table) settle first")
      ->check(CLI::Range(0, 120));
  CLI11_PARSE(app, argc, argv);

  lb4::bench::Lb4Daemon d("lb4ms", buildDir);
  std::string ns = d.prefix();
  d.makeWork();
  auto cleanup = [&] {
    d.remove();
    lb4::bench::run({"ip", "netns", "del", ns});
  };
  if (!d.sh({"ip", "netns", "add", ns}) || !d.sh({"ip", "-n", ns, "link", "set", "lo", "up"}) ||
      !d.sh({"ip", "-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb"}) ||
      !d.sh({"ip", "-n", ns, "link", "set", "va", "up"}) ||
      !d.sh({"ip", "-n", ns, "link", "set", "vb", "up"})) {
    std::fprintf(stderr, "metrics_scrape: namespace setup failed (log: %s)\n", d.log().c_str());
    cleanup();
    return 1;
  }
  {
    std::ofstream cfg(d.work() / "lb4.yaml");
    cfg << "interfaces: [va]\nring_size: 1021\nvips:\n";
    for (int v = 1; v <= vips; ++v) {
      cfg << "  - vip: 198.18.1." << v << ":80/tcp\n    backends:\n";
      for (int b = 1; b <= backends; ++b) {
        cfg << "      - {address: 198.19." << v << "." << b
            << ", mac: \"02:00:00:00:" << fmt::format("{:02x}:{:02x}", v, b) << "\"}\n";
      }
    }
  }
  if (!d.start(ns, {"--config", (d.work() / "lb4.yaml").string()})) {
    cleanup();
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(settleS));

  auto controlRound = [&](std::atomic<bool>& stop, std::vector<double>& lat, int& failed) {
    for (int i = 0; i < 100000 && !stop; ++i) {
      double l = statusRequest(d.socket());
      if (l < 0) {
        ++failed;
      } else {
        lat.push_back(l);
      }
    }
  };
  // Baseline: control requests alone, for as many as the scrape phase gets.
  std::vector<double> base;
  int baseFailed = 0;
  {
    std::atomic<bool> stop{false};
    std::thread t([&] { controlRound(stop, base, baseFailed); });
    std::this_thread::sleep_for(std::chrono::seconds(2));
    stop = true;
    t.join();
  }
  std::vector<double> scrapeMs;
  std::vector<double> during;
  int duringFailed = 0;
  size_t bytes = 0;
  size_t lines = 0;
  int bad = 0;
  {
    std::atomic<bool> stop{false};
    std::thread t([&] { controlRound(stop, during, duringFailed); });
    for (int i = 0; i < scrapes; ++i) {
      auto start = Clock::now();
      auto r = lb4::test::httpGet(ns, lb4::kDefaultMetricsPort, "/metrics");
      scrapeMs.push_back(ms(Clock::now() - start));
      if (r.status != 200) {
        ++bad;
      }
      bytes = r.body.size();
      lines = static_cast<size_t>(std::count(r.body.begin(), r.body.end(), '\n'));
    }
    stop = true;
    t.join();
  }
  cleanup();
  nlohmann::json out = {{"vips", vips},
                        {"backends_per_vip", backends},
                        {"scrapes", scrapes},
                        {"failed_scrapes", bad},
                        {"exposition_bytes", bytes},
                        {"exposition_lines", lines},
                        {"scrape_ms_median", percentile(scrapeMs, 0.5)},
                        {"scrape_ms_p95", percentile(scrapeMs, 0.95)},
                        {"scrape_ms_max", percentile(scrapeMs, 1.0)},
                        {"control_during_scrapes",
                         {{"answered", during.size()},
                          {"failed", duringFailed},
                          {"ms_median", percentile(during, 0.5)},
                          {"ms_max", percentile(during, 1.0)}}},
                        {"control_baseline",
                         {{"answered", base.size()},
                          {"failed", baseFailed},
                          {"ms_median", percentile(base, 0.5)},
                          {"ms_max", percentile(base, 1.0)}}}};
  std::printf("%s\n", out.dump().c_str());
  return bad == 0 && duringFailed == 0 ? 0 : 1;
}
