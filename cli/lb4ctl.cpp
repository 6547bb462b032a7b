// lb4ctl: command-line client of lb4d's control socket. Arguments are
// validated here with the same parsers the daemon uses (and again by the
// daemon); output is a human table, or the daemon's JSON with --json.
// The core subcommands are defined here; groups of further subcommands live
// in their own files and join through cli/command.h.
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "cli/apply_commands.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/doctor_commands.h"
#include "cli/gateway_commands.h"
#include "cli/observe_commands.h"
#include "cli/print.h"
#include "cli/stats_watch.h"
#include "cli/suggest.h"
#include "cli/trace_commands.h"
#include "userspace/api/protocol.h"
#include "userspace/common/version.h"

namespace cli = lb4::cli;

namespace {

using lb4::cli::fail;
using nlohmann::json;

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
  cli::Commands commands;  // subcommands defined in their own files
  cli::addObserveCommands(app, commands);

  auto* status = app.add_subcommand("status", "show the daemon and its attachments");
  cli::addGatewayCommands(app, commands);
  cli::addDoctorCommands(app, commands);
  cli::addTraceCommands(app, commands);
  cli::addApplyCommands(app, commands);
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
  attach
      ->add_option("interface", attachIfaces,
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
  std::vector<std::string> allowText, denyText;
  auto* addAllowOpt = addVip
                          ->add_option("--allow", allowText,
                                       "only these source prefixes reach the VIP (repeatable, "
                                       "or comma-separated)")
                          ->delimiter(',');
  auto* addDenyOpt = addVip->add_option("--deny", denyText, "source prefixes dropped (repeatable)")
                         ->delimiter(',');
  auto* setSources = app.add_subcommand(
      "set-sources",
      "replace a VIP's source allow and deny lists (none given: every source reaches it)");
  setSources->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  auto* setAllowOpt = setSources
                          ->add_option("--allow", allowText,
                                       "only these source prefixes reach the VIP; the longest "
                                       "matching prefix decides (repeatable)")
                          ->delimiter(',');
  auto* setDenyOpt =
      setSources->add_option("--deny", denyText, "source prefixes dropped (repeatable)")
          ->delimiter(',');
  auto* delVip = app.add_subcommand("del-vip", "remove a virtual service");
  delVip->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  auto* addBackend = app.add_subcommand("add-backend", "add a backend to a VIP");
  addBackend->add_option("vip", vipText, "ADDR:PORT/PROTO")->required();
  addBackend->add_option("backend", backendText, "backend address")->required();
  addBackend->add_option("--weight", weightText, "weight 0..65535 (0 = no new flows)")
      ->capture_default_str();
  auto* macOpt = addBackend->add_option("--mac", macText,
                                        "backend MAC, dr only (default: from the neighbour table)");
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
  std::string hcKind, hcPath, hcExpect, hcPayload, hcStatus, hcProbe;
  std::vector<std::string> hcCommand;
  uint32_t hcPort = 0, hcInterval = 0, hcTimeout = 0, hcRise = 0, hcFall = 0;
  auto* kindOpt = setHealth->add_option("--kind", hcKind, "none, tcp, http, udp or exec");
  auto* portOpt = setHealth->add_option("--port", hcPort, "probe port (default: the backend's)");
  auto* intervalOpt = setHealth->add_option("--interval-ms", hcInterval, "time between probes");
  auto* timeoutOpt = setHealth->add_option("--timeout-ms", hcTimeout, "probe timeout");
  auto* riseOpt = setHealth->add_option("--rise", hcRise, "successes that bring a backend up");
  auto* fallOpt = setHealth->add_option("--fall", hcFall, "failures that take it down");
  auto* pathOpt = setHealth->add_option("--path", hcPath, "http: request path");
  auto* statusOpt =
      setHealth->add_option("--status", hcStatus, "http: healthy status range, e.g. 200-299");
  auto* expectOpt =
      setHealth->add_option("--expect", hcExpect, "http/udp: expected reply substring");
  auto* payloadOpt = setHealth->add_option("--payload", hcPayload, "udp: request payload");
  auto* commandOpt =
      setHealth->add_option("--command", hcCommand, "exec: command and arguments")->expected(1, -1);
  auto* probeOpt = setHealth->add_option(
      "--probe", hcProbe, "tcp in DR: path (SYN to VIP:port at the backend's MAC) or address");

  if (auto word = cli::firstWord(argc, argv)) {
    if (auto unknown = cli::unknownCommand(app, *word)) {
      std::fprintf(stderr, "lb4ctl: %s\n", unknown->c_str());
      return cli::kExitUsage;
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
    return cli::kExitUsage;
  }

  const cli::Context ctx{socketPath, asJson};
  for (const auto& command : commands) {
    if (command.app->parsed()) {
      return command.run(ctx);
    }
  }
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
                      {health, lb4::Op::kHealth},         {setHealth, lb4::Op::kSetHealth},
                      {setSources, lb4::Op::kSetSources}};
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
      bool allPortsWouldDo =
          req.op == lb4::Op::kAddVip && !allPorts && lb4::ServiceKey::parse(vipText, true).ok();
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
  if (req.op == lb4::Op::kAddVip || req.op == lb4::Op::kSetSources) {
    auto prefixes = [&](const std::vector<std::string>& texts, CLI::Option* opt,
                        std::optional<std::vector<lb4::IpPrefix>>& out) -> lb4::Status {
      if (opt->count() == 0 && req.op == lb4::Op::kAddVip) {
        return {};
      }
      out.emplace();
      for (const auto& t : texts) {
        auto p = lb4::IpPrefix::parse(t);
        if (!p) {
          return std::move(p).takeError();
        }
        out->push_back(*p);
      }
      return {};
    };
    bool add = req.op == lb4::Op::kAddVip;
    if (auto s = prefixes(allowText, add ? addAllowOpt : setAllowOpt, req.allow); !s) {
      return fail(s.error());
    }
    if (auto s = prefixes(denyText, add ? addDenyOpt : setDenyOpt, req.deny); !s) {
      return fail(s.error());
    }
    if (req.vip && (req.allow || req.deny)) {
      if (auto s = lb4::validateSources(*req.vip, req.allow.value_or(std::vector<lb4::IpPrefix>{}),
                                        req.deny.value_or(std::vector<lb4::IpPrefix>{}));
          !s) {
        return fail(s.error());
      }
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
    set(probeOpt, "probe", hcProbe);
    if (statusOpt->count() > 0) {
      unsigned lo = 0, hi = 0;
      char dash = 0;
      if (std::sscanf(hcStatus.c_str(), "%u%c%u", &lo, &dash, &hi) != 3 || dash != '-' ||
          lo > 599 || hi > 599) {
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
      auto reply = cli::call(socketPath, req);
      if (!reply) {
        return fail(reply.error());
      }
      if (!asJson) {
        std::cout << fmt::format(
            "attached to {} ({} mode, {})\n", (*reply)["interface"].get<std::string>(),
            (*reply)["mode"].get<std::string>(), (*reply)["method"].get<std::string>());
      }
      replies.push_back(*reply);
    }
    if (asJson) {
      std::cout << (replies.size() == 1 ? replies[0] : replies).dump(2) << "\n";
    }
    return 0;
  }

  if (req.op == lb4::Op::kStats && watch > 0) {
    return cli::watchStats(ctx, req, watch, watchCount);
  }

  auto reply = cli::call(socketPath, req);
  if (!reply) {
    return fail(reply.error());
  }
  if (asJson) {
    std::cout << reply->dump(2) << "\n";
    return req.op == lb4::Op::kAddBackend && reply->value("pending", false) ? cli::kExitPending : 0;
  }
  switch (req.op) {
    case lb4::Op::kStatus:
      cli::printStatus(*reply);
      break;
    case lb4::Op::kList:
      cli::printList(*reply);
      break;
    case lb4::Op::kStats:
      cli::printStats(*reply, nullptr, 1);
      break;
    case lb4::Op::kHealth:
      cli::printHealth(*reply);
      break;
    case lb4::Op::kAddBackend:
      if (reply->value("pending", false)) {
        std::cout << fmt::format(
            "added, pending: its MAC was not resolved within {} ms; it takes traffic once it "
            "is (lb4ctl list shows it)\n",
            waitMs);
        return cli::kExitPending;
      }
      std::cout << "ok\n";
      break;
    default:
      std::cout << "ok\n";
      break;
  }
  return 0;
}
