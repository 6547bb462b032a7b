#include "cli/stats_watch.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/print.h"

namespace lb4::cli {
namespace {

volatile std::sig_atomic_t gStopWatch = 0;

double rate(uint64_t now, uint64_t before, double seconds) {
  uint64_t delta = now >= before ? now - before : now;
  return seconds > 0 ? static_cast<double>(delta) / seconds : 0;
}

// `j[key]` when it is an array, else an empty array (no copy: results point into `j`).
const nlohmann::json& listOf(const nlohmann::json& j, const char* key) {
  static const nlohmann::json empty = nlohmann::json::array();
  return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : empty;
}

const nlohmann::json* findBy(const nlohmann::json& list, const char* key,
                             const nlohmann::json& value) {
  for (const auto& item : list) {
    if (item.value(key, nlohmann::json()) == value) {
      return &item;
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json statsRates(const nlohmann::json& now, const nlohmann::json& before, double seconds) {
  nlohmann::json vips = nlohmann::json::array();
  for (const auto& v : listOf(now, "vips")) {
    const nlohmann::json* pv = findBy(listOf(before, "vips"), "vip", v["vip"]);
    auto rates = [&](const char* k, const nlohmann::json& cur, const nlohmann::json* prev) {
      return rate(cur.value(k, uint64_t{0}), prev ? prev->value(k, uint64_t{0}) : uint64_t{0},
                  seconds);
    };
    nlohmann::json backends = nlohmann::json::array();
    for (const auto& b : listOf(v, "backends")) {
      const nlohmann::json* pb =
          pv ? findBy(listOf(*pv, "backends"), "address", b["address"]) : nullptr;
      backends.push_back({{"address", b["address"]},
                          {"packets_per_s", rates("packets", b, pb)},
                          {"bytes_per_s", rates("bytes", b, pb)},
                          {"new_connections_per_s", rates("new_connections", b, pb)}});
    }
    vips.push_back({{"vip", v["vip"]},
                    {"packets_per_s", rates("packets", v, pv)},
                    {"bytes_per_s", rates("bytes", v, pv)},
                    {"new_connections_per_s", rates("new_connections", v, pv)},
                    {"backends", std::move(backends)}});
  }
  return {{"interval_s", seconds}, {"vips", std::move(vips)}};
}

int watchStats(const Context& ctx, const Request& request, double interval, int count) {
  std::signal(SIGINT, [](int) { gStopWatch = 1; });
  bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::optional<nlohmann::json> previous;
  auto previousAt = std::chrono::steady_clock::now();
  for (int round = 0; !gStopWatch && (count == 0 || round < count); ++round) {
    auto reply = call(ctx.socketPath, request);
    auto at = std::chrono::steady_clock::now();
    if (!reply) {
      return fail(reply.error());
    }
    double seconds = std::chrono::duration<double>(at - previousAt).count();
    std::optional<nlohmann::json> rates;
    if (previous) {
      rates = statsRates(*reply, *previous, seconds);
    }
    if (ctx.asJson) {
      nlohmann::json line = *reply;
      if (rates) {
        line["rates"] = *rates;
      }
      std::cout << line.dump() << std::endl;
    } else {
      if (tty) {
        std::cout << "\x1b[2J\x1b[H";
      } else if (round > 0) {
        std::cout << "\n";
      }
      std::time_t t = std::time(nullptr);
      char stamp[32];
      std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
      std::cout << stamp << "  every " << interval << " s\n";
      printStats(*reply, previous ? &*previous : nullptr, seconds);
      if (rates) {
        std::cout << "rates:\n";
        for (const auto& v : (*rates)["vips"]) {
          std::cout << fmt::format("  {}  {:.0f} pkt/s  {:.0f} B/s  {:.0f} conn/s\n",
                                   v["vip"].get<std::string>(), v["packets_per_s"].get<double>(),
                                   v["bytes_per_s"].get<double>(),
                                   v["new_connections_per_s"].get<double>());
          for (const auto& b : v["backends"]) {
            std::cout << fmt::format(
                "    {:<28} {:.0f} pkt/s  {:.0f} B/s  {:.0f} conn/s\n",
                b["address"].get<std::string>(), b["packets_per_s"].get<double>(),
                b["bytes_per_s"].get<double>(), b["new_connections_per_s"].get<double>());
          }
        }
      }
      std::cout.flush();
    }
    previous = *reply;
    previousAt = at;
    if (count == 0 || round + 1 < count) {
      std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    }
  }
  return 0;
}

}  // namespace lb4::cli
