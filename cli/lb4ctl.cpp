// lb4ctl: command-line client of lb4d's control socket. Arguments are
// validated here with the same parsers the daemon uses (and again by the
// daemon); output is a human table, or the daemon's JSON with --json.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "userspace/api/protocol.h"
#include "userspace/common/unique_fd.h"
#include "userspace/common/version.h"

namespace {

using lb4::Result;
using nlohmann::json;

Result<json> call(const std::string& socketPath, const lb4::Request& request) {
  lb4::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return lb4::makeError("connect {}: {}", socketPath, std::strerror(errno));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (auto s = lb4::validateSocketPath(socketPath); !s) {
    return lb4::makeError("connect: {}", s.error());
  }
  std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    if (err == EACCES || err == EPERM) {
      return lb4::makeError("connect {}: {} (the control socket is for root or its group)",
                            socketPath, std::strerror(err));
    }
    if (err == ENOENT || err == ECONNREFUSED) {
      return lb4::makeError("connect {}: {} (is lb4d running?)", socketPath, std::strerror(err));
    }
    return lb4::makeError("connect {}: {}", socketPath, std::strerror(err));
  }
  std::string line = request.toJson().dump() + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return lb4::makeError("send to lb4d: {}", std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return lb4::makeError("read reply from lb4d: connection closed");
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  return lb4::parseReply(reply.substr(0, reply.find('\n')));
}

std::string humanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

void printList(const json& vips) {
  if (vips.empty()) {
    std::cout << "no VIPs configured\n";
    return;
  }
  for (const auto& v : vips) {
    std::cout << fmt::format("{}  mode {}  ring {}  ({} backends, check {}){}\n",
                             v["vip"].get<std::string>(), v["mode"].get<std::string>(),
                             v["ring_size"].get<uint32_t>(), v["backends"].size(),
                             v["health"]["kind"].get<std::string>(),
                             v.value("all_backends_down", false)
                                 ? "  ALL BACKENDS DOWN: serving from the last table (*)"
                                 : "");
    if (v["backends"].empty()) {
      continue;
    }
    std::cout << fmt::format("  {:<28} {:>6} {:>9} {:<9} {:<17}\n", "BACKEND", "WEIGHT",
                             "EFFECTIVE", "STATE", "MAC");
    // NAT routes to its backends through the FIB: they need no MAC.
    bool nat = v["mode"] == "nat";
    for (const auto& b : v["backends"]) {
      std::string health = b.value("health", "serve");
      std::string state = b["mac"].is_null() && !nat   ? "no-mac"
                          : health == "remove"         ? (b["enabled"].get<bool>() ? "down*" : "down")
                          : b["drained"].get<bool>()   ? "drained"
                          : health == "quiesce"        ? "overload"
                          : b["effective_weight"] == 0 ? "no-flows"
                                                       : "serving";
      std::string mac = nat                  ? "(routed)"
                        : b["mac"].is_null() ? "(resolving)"
                                             : b["mac"].get<std::string>();
      // Where the MAC came from, and how long ago the neighbour table confirmed it.
      if (!nat && b.contains("mac_source") && b["mac_source"].is_string()) {
        mac += " " + b["mac_source"].get<std::string>();
        if (b.contains("mac_age_s") && b["mac_age_s"].is_number()) {
          mac += fmt::format(" {}s", b["mac_age_s"].get<int64_t>());
        }
      }
      std::cout << fmt::format("  {:<28} {:>6} {:>9} {:<9} {:<17}\n",
                               b["address"].get<std::string>(), b["weight"].get<uint32_t>(),
                               b["effective_weight"].get<uint32_t>(), state, mac);
    }
  }
}

void printStats(const json& stats, const json* previous, double seconds) {
  const json& g = stats["global"];
  std::cout << "global:\n";
  for (const auto& [name, value] : g.items()) {
    uint64_t v = value.get<uint64_t>();
    if (v == 0 && name.rfind("drop", 0) == 0) {
      continue;
    }
    std::string rate;
    if (previous) {
      uint64_t before = (*previous)["global"].value(name, uint64_t{0});
      rate = fmt::format("  {:.0f}/s", static_cast<double>(v - before) / seconds);
    }
    std::cout << fmt::format("  {:<18} {:>14}{}\n", name, v, rate);
  }
  for (size_t i = 0; i < stats["vips"].size(); ++i) {
    const auto& v = stats["vips"][i];
    std::cout << fmt::format("{}  {} packets  {}\n", v["vip"].get<std::string>(),
                             v["packets"].get<uint64_t>(), humanBytes(v["bytes"].get<uint64_t>()));
    for (size_t j = 0; j < v["backends"].size(); ++j) {
      const auto& b = v["backends"][j];
      std::string rate;
      if (previous && i < (*previous)["vips"].size() && j < (*previous)["vips"][i]["backends"].size()) {
        uint64_t before = (*previous)["vips"][i]["backends"][j]["packets"].get<uint64_t>();
        rate = fmt::format("  {:.0f} pkt/s",
                           static_cast<double>(b["packets"].get<uint64_t>() - before) / seconds);
      }
      std::cout << fmt::format("  {:<28} {:>12} packets  {:>10}{}\n", b["address"].get<std::string>(),
                               b["packets"].get<uint64_t>(), humanBytes(b["bytes"].get<uint64_t>()),
                               rate);
    }
  }
}

void printHealth(const json& rows) {
  if (rows.empty()) {
    std::cout << "no backend is health-checked\n";
    return;
  }
  std::string vip;
  for (const auto& r : rows) {
    if (r["vip"] != vip) {
      vip = r["vip"].get<std::string>();
      std::cout << fmt::format("{}  ({})\n", vip, r["check"].get<std::string>());
      std::cout << fmt::format("  {:<26} {:<9} {:<9} {:>7} {:>7} {:>6} {:>6} {:>6} {:>10} {:>8}  {}\n",
                               "BACKEND", "STATE", "QUEUE", "RSUCC", "RERR", "C.OK", "C.ERR",
                               "ERR%", "LATENCY", "SINCE", "LAST CHANGE");
    }
    std::string latency = r["latency_us"].is_null()
                              ? "-"
                              : fmt::format("{:.1f} ms", r["latency_us"].get<double>() / 1000.0);
    std::cout << fmt::format(
        "  {:<26} {:<9} {:<9} {:>7} {:>7} {:>6} {:>6} {:>5.1f}% {:>10} {:>7}s  {}\n",
        r["backend"].get<std::string>(), r["state"].get<std::string>(),
        r["queue"].get<std::string>(), r["rsucc"].get<uint64_t>(), r["rerr"].get<uint64_t>(),
        r["contin_succ"].get<uint64_t>(), r["contin_err"].get<uint64_t>(),
        100.0 * r["error_rate"].get<double>(), latency, r["since_change_ms"].get<int64_t>() / 1000,
        r["last_reason"].get<std::string>());
  }
}

void printStatus(const json& s) {
  std::cout << fmt::format("lb4d {} (api {}, map layout {}), up {} s\n", s["version"].get<std::string>(),
                           s["api_version"].get<int>(), s["abi_version"].get<int>(),
                           s["uptime_s"].get<int64_t>());
  std::cout << fmt::format("state file {}\n", s["state_file"].get<std::string>());
  std::cout << fmt::format("{} VIP(s), {} backend(s), {} MAC(s) being resolved\n",
                           s["vips"].get<size_t>(), s["backends"].get<size_t>(),
                           s["unresolved_macs"].get<size_t>());
  if (s["interfaces"].empty()) {
    std::cout << "not attached to any interface\n";
  }
  for (const auto& i : s["interfaces"]) {
    std::cout << fmt::format("attached to {} ({} mode, {}), maps in {}\n",
                             i["interface"].get<std::string>(), i.value("mode", "?"),
                             i.value("method", "?"), i["pin_dir"].get<std::string>());
  }
}

volatile std::sig_atomic_t gStop = 0;

// lb4ctl's exit codes: 0 done, 1 refused (by lb4ctl or lb4d), 2 bad command
// line, 3 done but pending (a DR backend added whose MAC is not resolved yet).
constexpr int kExitPending = 3;

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The first word of the command line that is neither an option nor an
// option's value: where the subcommand should be.
std::optional<std::string> firstWord(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--socket") {
      ++i;  // its value
      continue;
    }
    if (!a.empty() && a.front() == '-') {
      continue;
    }
    return std::string(a);
  }
  return std::nullopt;
}

// "unknown command 'lsit' (did you mean 'list'?)", or nullopt when `word`
// names a subcommand.
std::optional<std::string> unknownCommand(const CLI::App& app, const std::string& word) {
  std::string best;
  size_t bestDistance = SIZE_MAX;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == word) {
      return std::nullopt;
    }
    size_t d = editDistance(word, sub->get_name());
    if (d < bestDistance) {
      bestDistance = d;
      best = sub->get_name();
    }
  }
  if (bestDistance <= std::max<size_t>(2, word.size() / 3)) {
    return fmt::format("unknown command '{}' (did you mean '{}'?)", word, best);
  }
  return fmt::format("unknown command '{}' (lb4ctl --help lists the commands)", word);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lb4ctl - manage the lb4 load balancer"};
  app.require_subcommand(1);
  app.fallthrough();  // --json and --socket also after the subcommand
  std::string socketPath = lb4::kDefaultSocketPath;
  bool asJson = false;
  app.add_option("--socket", socketPath, "lb4d control socket")->envname("LB4_SOCKET");
  app.add_flag("--json", asJson, "print the daemon's JSON reply");
  app.set_version_flag("--version", std::string("lb4ctl ") + lb4::kVersionFull,
                       "print the version and the git commit built from, and exit");

  std::string vipText;
  std::string backendText;
  std::string iface;
  std::string modeText = "dr";
  std::string macText;
  uint32_t ringSize = 0;
  std::string weightText = std::to_string(lb4::kDefaultWeight);
  uint32_t waitMs = lb4::kDefaultMacWaitMs;
  bool noGeneric = false;
  double watch = 0;
  int watchCount = 0;
  lb4::Request req;

  auto* status = app.add_subcommand("status", "show the daemon and its attachments");
  auto* list = app.add_subcommand("list", "list VIPs and backends");
  list->add_option("vip", vipText, "only this VIP (ADDR:PORT/PROTO)");
  auto* stats = app.add_subcommand("stats", "packet and byte counters");
  stats->add_option("vip", vipText, "only this VIP");
  stats->add_option("--watch", watch, "repeat every SECONDS with rates (Ctrl-C stops)")
      ->check(CLI::Range(0.1, 3600.0));
  stats->add_option("--count", watchCount, "with --watch: stop after N rounds (0 = until Ctrl-C)")
      ->check(CLI::Range(0, 1000000));
  auto* attach = app.add_subcommand("attach", "attach lb4 to an interface");
  std::vector<std::string> attachIfaces;
  attach->add_option("interface", attachIfaces,
                     "network interface(s): the client side and, for NAT, the backend side")
      ->required();
  attach->add_flag("--native-only", noGeneric, "fail instead of falling back to generic XDP");
  auto* detach = app.add_subcommand("detach", "detach lb4 from an interface");
  detach->add_option("interface", iface, "network interface")->required();
  auto* addVip = app.add_subcommand("add-vip", "add a virtual service");
  addVip->add_option("vip", vipText, "ADDR:PORT/PROTO, e.g. 198.18.1.100:80/tcp")->required();
  addVip->add_option("--mode", modeText, "forwarding mode: dr or nat")->capture_default_str();
  addVip->add_option("--ring-size", ringSize, "Maglev table size (a prime)");
  bool allPorts = false;
  addVip->add_flag("--all-ports", allPorts, "the VIP takes every port: give it as ADDR/PROTO");
  auto* delVip = app.add_subcommand("del-vip", "remove a virtual service");
  delVip->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  auto* addBackend = app.add_subcommand("add-backend", "add a backend to a VIP");
  addBackend->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  addBackend->add_option("backend", backendText, "backend address")->required();
  addBackend->add_option("--weight", weightText, "weight 0..65535 (0 = no new flows)")
      ->capture_default_str();
  auto* macOpt =
      addBackend->add_option("--mac", macText, "backend MAC, dr only (default: from the neighbour table)");
  addBackend
      ->add_option("--wait-ms", waitMs,
                   "dr: how long lb4d waits for the backend's MAC to resolve before replying; "
                   "exit code 3 if it is still pending")
      ->check(CLI::Range(0u, lb4::kMaxMacWaitMs))
      ->capture_default_str();
  auto* delBackend = app.add_subcommand("del-backend", "remove a backend from a VIP");
  delBackend->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  delBackend->add_option("backend", backendText, "backend address")->required();
  auto* setWeight = app.add_subcommand("set-weight", "change a backend's weight");
  setWeight->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  setWeight->add_option("backend", backendText, "backend address")->required();
  setWeight->add_option("weight", weightText, "weight 0..65535")->required();
  auto* drain = app.add_subcommand("drain", "no new flows to a backend; established ones continue");
  drain->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  drain->add_option("backend", backendText, "backend address")->required();
  auto* undrain = app.add_subcommand("undrain", "give a drained backend new flows again");
  undrain->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  undrain->add_option("backend", backendText, "backend address")->required();

  auto* health = app.add_subcommand("health", "the host_info table: state, queue, counts, latency");
  health->add_option("vip", vipText, "only this VIP");
  auto* setHealth = app.add_subcommand("set-health", "change how a VIP's backends are checked");
  setHealth->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  setHealth->add_option("--backend", backendText, "only this backend (overrides the VIP's check)");
  nlohmann::json healthPatch = nlohmann::json::object();
  std::string hcKind, hcPath, hcExpect, hcPayload, hcStatus;
  std::vector<std::string> hcCommand;
  uint32_t hcPort = 0, hcInterval = 0, hcTimeout = 0, hcRise = 0, hcFall = 0;
  auto* kindOpt = setHealth->add_option("--kind", hcKind, "none, tcp, http, udp or exec");
  auto* portOpt = setHealth->add_option("--port", hcPort, "probe port (default: the backend's)");
  auto* intervalOpt = setHealth->add_option("--interval-ms", hcInterval, "time between probes");
  auto* timeoutOpt = setHealth->add_option("--timeout-ms", hcTimeout, "probe timeout");
  auto* riseOpt = setHealth->add_option("--rise", hcRise, "successes that bring a backend up");
  auto* fallOpt = setHealth->add_option("--fall", hcFall, "failures that take it down");
  auto* pathOpt = setHealth->add_option("--path", hcPath, "http: request path");
  auto* statusOpt = setHealth->add_option("--status", hcStatus, "http: healthy status range, e.g. 200-299");
  auto* expectOpt = setHealth->add_option("--expect", hcExpect, "http/udp: expected reply substring");
  auto* payloadOpt = setHealth->add_option("--payload", hcPayload, "udp: request payload");
  auto* commandOpt = setHealth->add_option("--command", hcCommand, "exec: command and arguments")
                         ->expected(1, -1);

  if (auto word = firstWord(argc, argv)) {
    if (auto unknown = unknownCommand(app, *word)) {
      std::fprintf(stderr, "lb4ctl: %s\n", unknown->c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "lb4ctl: %s\n", e.what());
    return 2;
  }

  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "lb4ctl: %s\n", message.c_str());
    return 1;
  };
  struct Sub {
    CLI::App* app;
    lb4::Op op;
  };
  const Sub subs[] = {{status, lb4::Op::kStatus},         {list, lb4::Op::kList},
                      {stats, lb4::Op::kStats},           {attach, lb4::Op::kAttach},
                      {detach, lb4::Op::kDetach},         {addVip, lb4::Op::kAddVip},
                      {delVip, lb4::Op::kDelVip},         {addBackend, lb4::Op::kAddBackend},
                      {delBackend, lb4::Op::kDelBackend}, {setWeight, lb4::Op::kSetWeight},
                      {drain, lb4::Op::kDrain},           {undrain, lb4::Op::kUndrain},
                      {health, lb4::Op::kHealth},         {setHealth, lb4::Op::kSetHealth}};
  for (const auto& sub : subs) {
    if (sub.app->parsed()) {
      req.op = sub.op;
    }
  }
  if (!vipText.empty()) {
    bool portZeroOk = req.op == lb4::Op::kAddVip ? allPorts : true;
    auto vip = lb4::ServiceKey::parse(vipText, portZeroOk);
    if (!vip) {
      // The hint only where --all-ports would have made the VIP valid.
      bool allPortsWouldDo = req.op == lb4::Op::kAddVip && !allPorts &&
                             lb4::ServiceKey::parse(vipText, true).ok();
      return fail(allPortsWouldDo ? vip.error() + " (--all-ports for a VIP on every port)"
                                  : vip.error());
    }
    if (allPorts && vip->port != 0) {
      return fail("--all-ports takes the VIP without a port (ADDR/PROTO)");
    }
    if (req.op == lb4::Op::kAddVip) {
      if (auto s = lb4::validateVipAddress(vip->addr); !s) {
        return fail(s.error());
      }
    }
    req.vip = *vip;
    if (allPorts) {
      req.allPorts = true;
    }
  }
  if (!backendText.empty()) {
    auto endpoint = lb4::Endpoint::parse(backendText);
    if (!endpoint) {
      return fail(endpoint.error());
    }
    if (req.op == lb4::Op::kAddBackend && req.vip) {
      if (auto s = lb4::validateBackendAddress(*req.vip, endpoint->addr); !s) {
        return fail(s.error());
      }
    }
    req.backend = *endpoint;
  }
  if (req.op == lb4::Op::kAddBackend || req.op == lb4::Op::kSetWeight) {
    auto weight = lb4::parseWeight(weightText);
    if (!weight) {
      return fail(weight.error());
    }
    req.weight = *weight;
  }
  if (req.op == lb4::Op::kAddBackend) {
    req.waitMs = waitMs;
  }
  if (macOpt->count() > 0) {
    auto mac = lb4::parseMac(macText);
    if (!mac) {
      return fail(mac.error());
    }
    if (auto s = lb4::validateUnicastMac(*mac); !s) {
      return fail(s.error());
    }
    req.mac = *mac;
  }
  if (req.op == lb4::Op::kAddVip) {
    auto mode = lb4::parseMode(modeText);
    if (!mode) {
      return fail(mode.error());
    }
    req.mode = *mode;
    if (ringSize != 0) {
      if (auto s = lb4::validateRingSize(ringSize); !s) {
        return fail(s.error());
      }
      req.ringSize = ringSize;
    }
  }
  if (req.op == lb4::Op::kSetHealth) {
    auto set = [&](CLI::Option* opt, const char* name, const auto& value) {
      if (opt->count() > 0) {
        healthPatch[name] = value;
      }
    };
    set(kindOpt, "kind", hcKind);
    set(portOpt, "port", hcPort);
    set(intervalOpt, "interval_ms", hcInterval);
    set(timeoutOpt, "timeout_ms", hcTimeout);
    set(riseOpt, "rise", hcRise);
    set(fallOpt, "fall", hcFall);
    set(pathOpt, "http_path", hcPath);
    set(expectOpt, "http_expect", hcExpect);
    set(expectOpt, "udp_expect", hcExpect);
    set(payloadOpt, "udp_payload", hcPayload);
    set(commandOpt, "command", hcCommand);
    if (statusOpt->count() > 0) {
      unsigned lo = 0, hi = 0;
      char dash = 0;
      if (std::sscanf(hcStatus.c_str(), "%u%c%u", &lo, &dash, &hi) != 3 || dash != '-' || lo > 599 ||
          hi > 599) {
        return fail(fmt::format("--status '{}': expected a range like 200-299", hcStatus));
      }
      healthPatch["http_status_min"] = lo;
      healthPatch["http_status_max"] = hi;
    }
    if (healthPatch.empty()) {
      return fail("set-health: nothing to change (see --help)");
    }
    if (auto hc = lb4::HealthCheck::merge(healthPatch, lb4::HealthCheck{}); !hc) {
      return fail(hc.error());
    }
    req.health = healthPatch;
  }
  if (!iface.empty()) {
    if (auto s = lb4::validateInterfaceName(iface); !s) {
      return fail(s.error());
    }
    req.interface = iface;
  }
  // attach IF...: one request per interface, in order; stops at the first error.
  if (req.op == lb4::Op::kAttach) {
    for (const auto& name : attachIfaces) {
      if (auto s = lb4::validateInterfaceName(name); !s) {
        return fail(s.error());
      }
    }
    req.generic = !noGeneric;
    json replies = json::array();
    for (const auto& name : attachIfaces) {
      req.interface = name;
      auto reply = call(socketPath, req);
      if (!reply) {
        return fail(reply.error());
      }
      if (!asJson) {
        std::cout << fmt::format("attached to {} ({} mode, {})\n",
                                 (*reply)["interface"].get<std::string>(),
                                 (*reply)["mode"].get<std::string>(),
                                 (*reply)["method"].get<std::string>());
      }
      replies.push_back(*reply);
    }
    if (asJson) {
      std::cout << (replies.size() == 1 ? replies[0] : replies).dump(2) << "\n";
    }
    return 0;
  }

  if (req.op == lb4::Op::kStats && watch > 0) {
    std::signal(SIGINT, [](int) { gStop = 1; });
    std::optional<json> previous;
    for (int round = 0; !gStop && (watchCount == 0 || round < watchCount); ++round) {
      auto reply = call(socketPath, req);
      if (!reply) {
        return fail(reply.error());
      }
      if (asJson) {
        std::cout << reply->dump() << std::endl;
      } else {
        std::cout << "\x1b[2J\x1b[H";
        printStats(*reply, previous ? &*previous : nullptr, watch);
        std::cout.flush();
      }
      previous = *reply;
      if (watchCount == 0 || round + 1 < watchCount) {
        std::this_thread::sleep_for(std::chrono::duration<double>(watch));
      }
    }
    return 0;
  }

  auto reply = call(socketPath, req);
  if (!reply) {
    return fail(reply.error());
  }
  if (asJson) {
    std::cout << reply->dump(2) << "\n";
    return req.op == lb4::Op::kAddBackend && reply->value("pending", false) ? kExitPending : 0;
  }
  switch (req.op) {
    case lb4::Op::kStatus:
      printStatus(*reply);
      break;
    case lb4::Op::kList:
      printList(*reply);
      break;
    case lb4::Op::kStats:
      printStats(*reply, nullptr, 1);
      break;
    case lb4::Op::kHealth:
      printHealth(*reply);
      break;
    case lb4::Op::kAddBackend:
      if (reply->value("pending", false)) {
        std::cout << fmt::format(
            "added, pending: its MAC was not resolved within {} ms; it takes traffic once it "
            "is (lb4ctl list shows it)\n",
            waitMs);
        return kExitPending;
      }
      std::cout << "ok\n";
      break;
    default:
      std::cout << "ok\n";
      break;
  }
  return 0;
}
