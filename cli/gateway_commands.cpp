// lb4ctl gateway: take this gateway out of (or back into) the set of
// gateways the routers send VIP traffic to. `drain` makes lb4d withdraw
// every VIP from BGP (the drain is kept in the state file, so it survives a
// restart); the data plane keeps forwarding whatever still arrives. With
// --wait, lb4ctl reports until BIRD has accepted the withdrawal and VIP
// traffic through this gateway has stopped. `check ADDR` answers, by exit
// code, whether this gateway can serve a VIP address (keepalived tracking).
#include "cli/gateway_commands.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

namespace lb4::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

Request requestOf(Op op) {
  Request r;
  r.op = op;
  return r;
}

struct DrainOptions {
  bool wait = false;
  double timeoutS = 60;
  double quietS = 3;  // no VIP packet for this long: the traffic has moved
};

uint64_t vipPackets(const json& stats) {
  uint64_t total = 0;
  for (const auto& v : stats["vips"]) {
    total += v.value("packets", uint64_t{0});
  }
  return total;
}

// Waits until BIRD holds the withdrawal (when BGP is on), then until no VIP
// packet has arrived for `quietS`; one line per second on the way.
int waitForDrain(const Context& ctx, const DrainOptions& opt) {
  Request status = requestOf(Op::kStatus);
  Request stats = requestOf(Op::kStats);
  auto deadline = Clock::now() + std::chrono::duration<double>(opt.timeoutS);
  bool withdrawn = false;
  std::optional<uint64_t> last;
  auto quietSince = Clock::now();
  while (true) {
    auto st = call(ctx.socketPath, status);
    if (!st) {
      return fail(st.error());
    }
    const json& bgp = (*st)["gateway"]["bgp"];
    if (!(*st)["gateway"].value("drained", false)) {
      return fail("gateway drain --wait: the gateway was undrained meanwhile");
    }
    if (!withdrawn) {
      bool enabled = bgp.value("enabled", false);
      withdrawn = !enabled || (bgp.value("in_sync", false) && bgp["announced"].empty());
      if (withdrawn) {
        std::cout << (enabled ? "BGP: every VIP withdrawn (BIRD accepted the change)\n"
                              : "BGP is off on this gateway: nothing to withdraw\n");
        quietSince = Clock::now();
      } else if (!bgp["last_error"].is_null()) {
        std::cout << fmt::format("BGP: withdrawal not accepted yet: {}\n",
                                 bgp["last_error"].get<std::string>());
      }
    }
    if (withdrawn) {
      auto counters = call(ctx.socketPath, stats);
      if (!counters) {
        return fail(counters.error());
      }
      uint64_t now = vipPackets(*counters);
      if (last && now != *last) {
        std::cout << fmt::format("VIP traffic still arriving: {} packet(s) in the last second\n",
                                 now - *last);
        quietSince = Clock::now();
      }
      last = now;
      if (Clock::now() - quietSince >= std::chrono::duration<double>(opt.quietS)) {
        std::cout << fmt::format("drained: no VIP packet for {:g} s\n", opt.quietS);
        return 0;
      }
    }
    if (Clock::now() >= deadline) {
      return fail(
          fmt::format("gateway drain --wait: {} after {:g} s (the drain stays; "
                      "`gateway undrain` reverts it)",
                      withdrawn ? "VIP traffic still arriving"
                                : "BIRD has not accepted "
                                  "the withdrawal",
                      opt.timeoutS));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

void addGatewayCommands(CLI::App& app, Commands& commands) {
  auto* gateway = app.add_subcommand("gateway", "this gateway among several (BGP/ECMP)");
  gateway->require_subcommand(1);
  auto opt = std::make_shared<DrainOptions>();
  auto* drain = gateway->add_subcommand(
      "drain", "withdraw every VIP from BGP; kept until `gateway undrain`, also across restarts");
  drain->add_flag("--wait", opt->wait,
                  "report until BIRD accepted the withdrawal and VIP traffic stopped");
  drain->add_option("--timeout", opt->timeoutS, "with --wait: give up after SECONDS (default 60)")
      ->check(CLI::Range(1.0, 3600.0));
  drain
      ->add_option("--quiet", opt->quietS,
                   "with --wait: traffic counts as moved after SECONDS without a VIP packet "
                   "(default 3)")
      ->check(CLI::Range(1.0, 600.0));
  auto* undrain = gateway->add_subcommand("undrain", "announce the servable VIPs again");
  auto address = std::make_shared<std::string>();
  auto* check = gateway->add_subcommand(
      "check", "exit 0 when this gateway can serve the VIP address now, else 1 (track scripts)");
  check->add_option("address", *address, "VIP address")->required();

  commands.push_back(Command{drain, [opt](const Context& ctx) {
                               auto reply = call(ctx.socketPath, requestOf(Op::kGatewayDrain));
                               if (!reply) {
                                 return fail(reply.error());
                               }
                               if (!opt->wait) {
                                 std::cout << (ctx.asJson ? reply->dump(2) + "\n" : "drained\n");
                                 return 0;
                               }
                               return waitForDrain(ctx, *opt);
                             }});
  commands.push_back(Command{check, [address](const Context& ctx) {
                               auto addr = IpAddress::parse(*address);
                               if (!addr) {
                                 std::fprintf(stderr, "lb4ctl: %s\n", addr.error().c_str());
                                 return kExitUsage;
                               }
                               std::string prefix =
                                   fmt::format("{}/{}", addr->toString(),
                                               addr->family == Family::kIpv4 ? 32 : 128);
                               auto st = call(ctx.socketPath, requestOf(Op::kStatus));
                               if (!st) {
                                 return fail(st.error());
                               }
                               for (const auto& p : (*st)["gateway"]["servable"]) {
                                 if (p.get<std::string>() == prefix) {
                                   std::cout << prefix << " is servable here\n";
                                   return 0;
                                 }
                               }
                               return fail(prefix +
                                           " is not servable on this gateway (no VIP on it "
                                           "has a backend taking new flows, or drained)");
                             }});
  commands.push_back(Command{undrain, [](const Context& ctx) {
                               auto reply = call(ctx.socketPath, requestOf(Op::kGatewayUndrain));
                               if (!reply) {
                                 return fail(reply.error());
                               }
                               std::cout << (ctx.asJson ? reply->dump(2) + "\n" : "undrained\n");
                               return 0;
                             }});
}

}  // namespace lb4::cli
