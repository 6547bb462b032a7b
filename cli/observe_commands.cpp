// lb4ctl log-level [LEVEL]: shows lb4d's log level, or sets it at run time
// (trace, debug, info, warn, error); not persisted: a restart takes the
// config's log_level again. lb4ctl top: the live view (cli/top.h).
#include "cli/observe_commands.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "cli/top.h"

namespace lb4::cli {

void addObserveCommands(CLI::App& app, Commands& commands) {
  auto level = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("log-level", "show lb4d's log level, or set it until restart");
  sub->add_option("level", *level, "trace, debug, info, warn or error");
  commands.push_back(Command{sub, [level](const Context& ctx) {
                               Request req;
                               req.op = Op::kLogLevel;
                               if (!level->empty()) {
                                 if (auto s = validateLogLevel(*level); !s) {
                                   return fail(s.error());
                                 }
                                 req.level = *level;
                               }
                               auto reply = call(ctx.socketPath, req);
                               if (!reply) {
                                 return fail(reply.error());
                               }
                               if (ctx.asJson) {
                                 std::cout << reply->dump() << "\n";
                               } else if (level->empty()) {
                                 std::cout << (*reply)["level"].get<std::string>() << "\n";
                               } else {
                                 std::cout << "log level " << (*reply)["level"].get<std::string>()
                                           << " (was " << (*reply)["previous"].get<std::string>()
                                           << ")\n";
                               }
                               return 0;
                             }});

  auto top = std::make_shared<std::pair<double, int>>(1.0, 0);
  auto* topCmd = app.add_subcommand(
      "top", "live table of VIPs and backends: state, rates, connections (q quits)");
  topCmd->add_option("--interval", top->first, "seconds between refreshes")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  topCmd->add_option("--count", top->second, "stop after N refreshes (0 = until q or Ctrl-C)")
      ->check(CLI::Range(0, 1000000));
  commands.push_back(Command{
      topCmd, [top](const Context& ctx) {
        if (ctx.asJson) {
          return fail(
              "top has no --json form; lb4ctl stats --watch SECONDS --json gives JSON lines");
        }
        return runTop(ctx, top->first, top->second);
      }});
}

}  // namespace lb4::cli
