#include "cli/top.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>

#include "cli/print.h"
#include "cli/stats_watch.h"

namespace lb4::cli {
namespace {

using nlohmann::json;

volatile std::sig_atomic_t gStopTop = 0;

// obj[key] when obj is an object holding it, else an empty array: a
// reference into obj, so pointers found in it stay valid.
const json& member(const json& obj, const char* key) {
  static const json kEmpty = json::array();
  if (!obj.is_object()) {
    return kEmpty;
  }
  auto it = obj.find(key);
  return it == obj.end() ? kEmpty : *it;
}

const json* findBy(const json& list, const char* key, const json& value) {
  if (!list.is_array()) {
    return nullptr;
  }
  for (const auto& item : list) {
    if (item.value(key, json()) == value) {
      return &item;
    }
  }
  return nullptr;
}

std::string rateText(const json* rates, const char* key, bool bytes) {
  if (rates == nullptr || !rates->contains(key)) {
    return "-";
  }
  double r = (*rates)[key].get<double>();
  return bytes ? humanBytes(static_cast<uint64_t>(r + 0.5)) + "/s" : fmt::format("{:.0f}", r);
}

std::string row(const std::string& name, const std::string& state, const std::string& weight,
                const json* rates, uint64_t connections) {
  return fmt::format("{:<30} {:<11} {:>11} {:>10} {:>13} {:>8} {:>10}", name, state, weight,
                     rateText(rates, "packets_per_s", false), rateText(rates, "bytes_per_s", true),
                     rateText(rates, "new_connections_per_s", false), connections);
}

// The terminal's mode while top runs on it; restored by the destructor.
class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    std::cout << "\x1b[?1049h\x1b[?25l" << std::flush;  // alternate screen, no cursor
  }
  ~RawTerminal() {
    std::cout << "\x1b[?25h\x1b[?1049l" << std::flush;
    if (active_) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  bool readsKeys() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

size_t terminalWidth() {
  winsize ws{};
  return ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 0;
}

// Waits up to `seconds` for a key on stdin (when `keys`); true when it was q.
bool waitForQuit(double seconds, bool keys) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!gStopTop) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      return false;
    }
    pollfd p{keys ? STDIN_FILENO : -1, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0 && (p.revents & POLLIN) != 0) {
      char c = 0;
      if (::read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q')) {
        return true;
      }
    } else if (n < 0 && errno != EINTR) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string renderTop(const json& list, const json& stats, const json& rates,
                      const std::string& heading, size_t width) {
  std::string out;
  auto line = [&](const std::string& text) {
    out += width > 0 && text.size() > width ? text.substr(0, width) : text;
    out += '\n';
  };
  line(heading);
  if (stats.contains("conntrack") && stats["conntrack"].is_object()) {
    uint64_t entries = 0;
    for (const auto& c : stats["conntrack"].value("per_cpu", json::array())) {
      entries += c.value("entries", uint64_t{0});
    }
    line(fmt::format("conntrack {} of {} entries over {} CPUs", entries,
                     stats["conntrack"].value("size", uint64_t{0}),
                     stats["conntrack"].value("cpus", uint64_t{0})));
  }
  line("");
  line(fmt::format("{:<30} {:<11} {:>11} {:>10} {:>13} {:>8} {:>10}", "VIP / BACKEND", "STATE",
                   "WEIGHT", "PKT/S", "BYTES/S", "CONN/S", "CONNS"));
  if (!list.is_array() || list.empty()) {
    line("no VIPs configured");
    return out;
  }
  const json& rateVips = member(rates, "vips");
  for (const auto& v : list) {
    const json& name = v["vip"];
    const json* sv = findBy(member(stats, "vips"), "vip", name);
    const json* rv = findBy(rateVips, "vip", name);
    bool nat = v.value("mode", "") == "nat";
    std::string state = v.value("all_backends_down", false) ? "ALL-DOWN" : v.value("mode", "");
    line(row(name.get<std::string>(), state, "", rv,
             sv ? sv->value("new_connections", uint64_t{0}) : 0));
    for (const auto& b : v.value("backends", json::array())) {
      const json& addr = b["address"];
      const json* sb = sv ? findBy(member(*sv, "backends"), "address", addr) : nullptr;
      const json* rb = rv ? findBy(member(*rv, "backends"), "address", addr) : nullptr;
      std::string weight =
          fmt::format("{}/{}", b.value("effective_weight", 0u), b.value("weight", 0u));
      line(row("  " + addr.get<std::string>(), backendState(b, nat), weight, rb,
               sb ? sb->value("new_connections", uint64_t{0}) : 0));
    }
  }
  return out;
}

int runTop(const Context& ctx, double interval, int count) {
  gStopTop = 0;
  struct sigaction sa {};
  sa.sa_handler = [](int) { gStopTop = 1; };
  ::sigemptyset(&sa.sa_mask);  // no SA_RESTART: poll() returns at once
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::optional<RawTerminal> terminal;
  if (tty) {
    terminal.emplace();
  }
  Request listReq;
  listReq.op = Op::kList;
  Request statsReq;
  statsReq.op = Op::kStats;
  std::optional<json> previous;
  auto previousAt = std::chrono::steady_clock::now();
  std::string error;
  for (int round = 0; !gStopTop && (count == 0 || round < count); ++round) {
    auto list = call(ctx.socketPath, listReq);
    if (!list) {
      error = list.error();
      break;
    }
    auto stats = call(ctx.socketPath, statsReq);
    auto at = std::chrono::steady_clock::now();
    if (!stats) {
      error = stats.error();
      break;
    }
    double seconds = std::chrono::duration<double>(at - previousAt).count();
    json rates = previous ? statsRates(*stats, *previous, seconds) : json();
    std::time_t t = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
    std::string heading = fmt::format("lb4ctl top  {}  every {} s{}", stamp, interval,
                                      terminal && terminal->readsKeys() ? "  (q quits)" : "");
    std::string screen = renderTop(*list, *stats, rates, heading, tty ? terminalWidth() : 0);
    if (tty) {
      // Home, then each line cleared to its end, then the rest of the screen.
      std::string drawn = "\x1b[H";
      size_t start = 0;
      for (size_t nl = screen.find('\n'); nl != std::string::npos; nl = screen.find('\n', start)) {
        drawn += screen.substr(start, nl - start) + "\x1b[K\n";
        start = nl + 1;
      }
      std::cout << drawn << "\x1b[J" << std::flush;
    } else {
      std::cout << (round > 0 ? "\n" : "") << screen << std::flush;
    }
    previous = std::move(*stats);
    previousAt = at;
    if ((count == 0 || round + 1 < count) &&
        waitForQuit(interval, terminal && terminal->readsKeys())) {
      break;
    }
  }
  terminal.reset();
  if (!error.empty()) {
    return fail(error);
  }
  return 0;
}

}  // namespace lb4::cli
