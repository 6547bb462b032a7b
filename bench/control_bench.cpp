// control_bench: control-plane figures of lb4 that need no kernel.
//  - Maglev table build (Google Benchmark): ring 65537 and 655373, 10, 100
//    and 1000 backends, equal and mixed weights.
//  - Disruption: of a fixed set of flows, the fraction that changes backend
//    when one of N backends is removed or one is added, for the Maglev table
//    alone and with conntrack in front (a flow keeps its backend while that
//    backend exists, as lb4_xdp does), against the ideal 1/N (1/(N+1) on add).
//  - Health probing: wall and CPU time for runProbe (TCP connect) against
//    1000 local listeners on 127.0.0.1, all probes at once on one
//    io_context, as ProbeScheduler runs them.
// Own flags come first (--quick, --flows N, --probe-backends N); the rest
// go to Google Benchmark (e.g. --benchmark_filter, --benchmark_min_time).
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <time.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_packet.h"
#include "userspace/health/probe.h"
#include "userspace/maglev/maglev.h"

// asio's coroutine frames use a class-specific operator new/delete pair that
// g++ 12 reports as mismatched under some flags; see tests/unit/probe_test.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

std::vector<lb4::MaglevBackend> makeBackends(uint32_t n, bool mixed, uint32_t firstId = 1) {
  static const uint32_t kMixed[] = {1, 2, 4, 8, 3};
  std::vector<lb4::MaglevBackend> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t id = firstId + i;
    out.push_back({.id = id,
                   .weight = mixed ? kMixed[i % 5] : 1,
                   .key = "198.18." + std::to_string(2 + id / 250) + "." +
                          std::to_string(id % 250 + 1) + ":80"});
  }
  return out;
}

void BM_MaglevBuild(benchmark::State& state) {
  auto ring = static_cast<uint32_t>(state.range(0));
  auto n = static_cast<uint32_t>(state.range(1));
  bool mixed = state.range(2) != 0;
  auto backends = makeBackends(n, mixed);
  for (auto _ : state) {
    auto table = lb4::buildMaglevRing(backends, ring);
    benchmark::DoNotOptimize(table.data());
  }
  state.SetLabel(mixed ? "mixed weights" : "equal weights");
}
BENCHMARK(BM_MaglevBuild)
    ->ArgNames({"ring", "backends", "mixed"})
    ->ArgsProduct({{65537, 655373}, {10, 100, 1000}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

// splitmix64: the flow hashes (any good 64-bit mix will do: only slots matter).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void disruption(uint32_t flows, uint32_t ringSize) {
  for (uint32_t n : {10u, 100u, 1000u}) {
    auto before = makeBackends(n, false);
    auto tableBefore = lb4::buildMaglevRing(before, ringSize);
    std::vector<uint32_t> slot(flows);
    for (uint32_t f = 0; f < flows; ++f) {
      slot[f] = static_cast<uint32_t>(mix(f) % ringSize);
    }
    // remove: the backend in the middle; add: one new backend.
    auto removed = before;
    uint32_t gone = removed[n / 2].id;
    removed.erase(removed.begin() + n / 2);
    auto added = before;
    added.push_back(makeBackends(1, false, n + 1).front());
    for (const auto& [op, after] : {std::pair{"remove", removed}, std::pair{"add", added}}) {
      auto tableAfter = lb4::buildMaglevRing(after, ringSize);
      uint64_t maglevChanged = 0;
      uint64_t ctChanged = 0;
      for (uint32_t f = 0; f < flows; ++f) {
        uint32_t was = tableBefore[slot[f]];
        uint32_t now = tableAfter[slot[f]];
        maglevChanged += was != now;
        // With conntrack, an established flow moves only if its backend left.
        ctChanged += std::string(op) == "remove" && was == gone;
      }
      double ideal = std::string(op) == "remove" ? 1.0 / n : 1.0 / (n + 1);
      std::printf(
          "control.disruption backends=%u op=%s ring=%u flows=%u maglev_changed=%.5f "
          "with_conntrack_changed=%.5f ideal=%.5f maglev_to_ideal=%.3f\n",
          n, op, ringSize, flows, static_cast<double>(maglevChanged) / flows,
          static_cast<double>(ctChanged) / flows, ideal,
          static_cast<double>(maglevChanged) / flows / ideal);
    }
  }
}

double cpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int healthProbes(uint32_t count, int rounds) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 2 * count + 64) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 2 * count + 64);
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  asio::io_context ctx;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> listeners;
  std::vector<uint16_t> ports;
  auto loopback = asio::ip::make_address("127.0.0.1");
  for (uint32_t i = 0; i < count; ++i) {
    auto acc = std::make_unique<asio::ip::tcp::acceptor>(ctx);
    asio::error_code ec;
    acc->open(asio::ip::tcp::v4(), ec);
    acc->bind({loopback, 0}, ec);
    // The kernel completes the handshake into the backlog; nobody accepts.
    acc->listen(16, ec);
    if (ec) {
      std::fprintf(stderr, "control_bench: listener %u: %s\n", i, ec.message().c_str());
      return 1;
    }
    ports.push_back(acc->local_endpoint().port());
    listeners.push_back(std::move(acc));
  }
  auto addr = lb4::IpAddress::parse("127.0.0.1");
  std::vector<double> wall;
  std::vector<double> cpu;
  uint32_t failed = 0;
  for (int r = 0; r < rounds; ++r) {
    uint32_t done = 0;
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpuSeconds();
    for (uint32_t i = 0; i < count; ++i) {
      lb4::ProbeSpec spec{.kind = lb4::ProbeKind::kTcp,
                          .addr = *addr,
                          .port = ports[i],
                          .timeout = std::chrono::milliseconds(2000)};
      asio::co_spawn(ctx, lb4::runProbe(std::move(spec)),
                     [&](std::exception_ptr e, lb4::ProbeResult res) {
                       ++done;
                       failed += e || !res.ok;
                     });
    }
    ctx.restart();
    ctx.run();
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(cpuSeconds() - c0);
    if (done != count) {
      std::fprintf(stderr, "control_bench: %u of %u probes completed\n", done, count);
      return 1;
    }
  }
  auto w = lb4::bench::summarize(wall);
  auto c = lb4::bench::summarize(cpu);
  if (failed != 0) {
    std::printf("control.health_probe NOT REPORTED (%u of %u probes failed)\n", failed,
                count * rounds);
    return 1;
  }
  std::printf(
      "control.health_probe kind=tcp backends=%u rounds=%d wall_ms_median=%.2f wall_ms_min=%.2f "
      "wall_ms_max=%.2f cpu_ms_median=%.2f cpu_us_per_probe=%.2f\n",
      count, rounds, w.median * 1e3, w.min * 1e3, w.max * 1e3, c.median * 1e3,
      c.median * 1e6 / count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t flows = 1000000;
  uint32_t probeBackends = 1000;
  int probeRounds = 5;
  bool runMaglev = true;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      flows = 100000;
      probeRounds = 3;
    } else if (a == "--flows" && i + 1 < argc) {
      flows = static_cast<uint32_t>(std::stoul(argv[++i]));
    } else if (a == "--probe-backends" && i + 1 < argc) {
      probeBackends = static_cast<uint32_t>(std::stoul(argv[++i]));
    } else if (a == "--probe-rounds" && i + 1 < argc) {
      probeRounds = std::stoi(argv[++i]);
    } else if (a == "--no-maglev") {
      runMaglev = false;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int bargc = static_cast<int>(rest.size());
  if (runMaglev) {
    benchmark::Initialize(&bargc, rest.data());
    if (benchmark::ReportUnrecognizedArguments(bargc, rest.data())) {
      return 2;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  }
  std::fflush(stdout);
  disruption(flows, 65537);
  disruption(flows, 655373);
  std::fflush(stdout);
  return healthProbes(probeBackends, probeRounds);
}
