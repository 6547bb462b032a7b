// lb4ctl log-level [LEVEL]: shows lb4d's log level, or sets it at run time
// (trace, debug, info, warn, error); not persisted: a restart takes the
// config's log_level again.
#include "cli/observe_commands.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

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
}

}  // namespace lb4::cli
