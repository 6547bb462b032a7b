// lb4ctl trace: asks lb4d where one flow goes (userspace/daemon/flow_trace.h)
// and prints its answer. The arguments are checked with the daemon's own
// request parser before anything is sent.
#include "cli/trace_commands.h"

#include <iostream>
#include <memory>
#include <string>

namespace lb4::cli {
namespace {

using nlohmann::json;

std::string backendLine(const json& b) {
  std::string s = b.value("address", std::string("?")) + " (id " + b["id"].dump() + ")";
  if (b.contains("weight")) {
    s += " weight " + b["weight"].dump();
  }
  if (b.contains("effective_weight")) {
    s += " effective " + b["effective_weight"].dump();
  }
  if (b.contains("health")) {
    s += " health " + b["health"].get<std::string>();
  }
  if (b.value("drained", false)) {
    s += " drained";
  }
  if (b.contains("enabled")) {
    s += b["enabled"].get<bool>() ? " enabled" : " disabled";
  }
  return s;
}

std::string verdictLine(const json& v) {
  std::string s = v.value("action", std::string("?")) + ": " + v.value("reason", std::string());
  if (v.contains("counter")) {
    s += " [counter " + v["counter"].get<std::string>() + "]";
  }
  return s;
}

void printTrace(const json& t) {
  std::cout << "flow         " << t["client"].get<std::string>() << " -> "
            << t["vip"].get<std::string>();
  if (t.contains("matched_vip")) {
    std::cout << " (VIP " << t["matched_vip"].get<std::string>() << ", "
              << t["mode"].get<std::string>() << ")";
  }
  std::cout << "\n";
  if (t.contains("backend")) {
    std::cout << "backend      " << backendLine(t["backend"]) << " from "
              << t["source"].get<std::string>() << "\n";
  }
  std::cout << "verdict      " << verdictLine(t["verdict"]) << "\n";
  if (t.contains("source_filter")) {
    const json& f = t["source_filter"];
    std::cout << "sources      "
              << (f["matched"].is_null() ? std::string("no prefix matches")
                                         : "longest match " + f["matched"].get<std::string>())
              << ": " << f["action"].get<std::string>()
              << (f["allow_list"].get<bool>() ? " (the VIP has an allow list)" : "") << "\n";
  }
  if (t.contains("conntrack")) {
    const json& c = t["conntrack"];
    if (c.is_null()) {
      std::cout << "conntrack    no entry\n";
    } else {
      std::string flags;
      for (const auto& f : c["flags"]) {
        flags += (flags.empty() ? "" : ",") + f.get<std::string>();
      }
      std::cout << "conntrack    backend " << c["backend_id"].dump() << " gen "
                << c["backend_gen"].dump() << ", flags " << (flags.empty() ? "-" : flags)
                << ", state " << c["state"].get<std::string>() << ", idle "
                << (c["idle_s"].is_null()
                        ? std::string("- (direct routing keeps no clock)")
                        : c["idle_s"].dump() + " s of " + c["timeout_s"].dump() + " s")
                << ", " << (c["usable"].get<bool>() ? "in use" : c["why_not"].get<std::string>())
                << "\n";
    }
  }
  if (t.contains("table")) {
    const json& tb = t["table"];
    std::cout << "table        ";
    if (tb.contains("slot")) {
      std::cout << "slot " << tb["slot"].dump() << " of " << tb["ring_size"].dump();
      if (tb.contains("backend")) {
        std::cout << ": backend " << backendLine(tb["backend"]);
      }
      std::cout << "\n";
    } else {
      std::cout << "none\n";
    }
    std::cout << "new flow     " << verdictLine(tb["verdict"]) << "\n";
    if (tb.contains("entry")) {
      std::cout << "entry        " << tb["entry"].get<std::string>() << "\n";
    }
  }
  if (t.contains("warning")) {
    std::cout << "warning      " << t["warning"].get<std::string>() << "\n";
  }
  std::cout << "persistence  " << t["persistence"].get<std::string>() << "\n";
}

}  // namespace

void addTraceCommands(CLI::App& app, Commands& commands) {
  auto client = std::make_shared<std::string>();
  auto vip = std::make_shared<std::string>();
  auto* sub = app.add_subcommand(
      "trace",
      "where one flow goes now and why: its conntrack entry, or the table slot and backend a "
      "new flow takes, or the counter of its drop");
  sub->add_option("client", *client,
                  "CLIENT:PORT ([ADDR6]:PORT): the source port is required, it is part of the "
                  "flow hash (flows from other ports of the same client may go elsewhere)")
      ->required();
  sub->add_option("vip", *vip, "VIP:PORT/PROTO the client connects to")->required();
  commands.push_back(Command{
      sub, [client, vip](const Context& ctx) {
        json line = {{"v", kApiVersion}, {"op", "trace"}, {"vip", *vip}, {"client", *client}};
        auto req = parseRequest(line.dump());
        if (!req) {
          std::string message = req.error();
          if (message.starts_with("bad request: trace: ")) {
            message.erase(0, 20);
          }
          return fail("trace: " + message);
        }
        auto reply = call(ctx.socketPath, *req);
        if (!reply) {
          return fail(reply.error());
        }
        if (ctx.asJson) {
          std::cout << reply->dump() << "\n";
        } else {
          printTrace(*reply);
        }
        return 0;
      }});
}

}  // namespace lb4::cli
