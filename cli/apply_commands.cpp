#include "cli/apply_commands.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

namespace lb4::cli {
namespace {

struct ApplyOptions {
  std::string file;
  bool dryRun = false;
};

// Sends the file to lb4d and prints the changes; `diff` only asks.
int run(const Context& ctx, const ApplyOptions& o, bool diff) {
  std::ifstream in(o.file);
  if (!in) {
    return fail(fmt::format("apply: cannot read {}", o.file));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxRequestBytes / 2) {
    return fail(fmt::format("apply: {} is {} bytes, at most {}", o.file, text.str().size(),
                            kMaxRequestBytes / 2));
  }
  Request req;
  req.op = Op::kApply;
  req.config = text.str();
  req.dryRun = diff || o.dryRun;
  auto reply = call(ctx.socketPath, req);
  if (!reply) {
    return fail(reply.error());
  }
  const auto& changes = (*reply)["changes"];
  if (ctx.asJson) {
    std::cout << reply->dump(2) << "\n";
  } else if (changes.empty()) {
    std::cout << "no changes: the gateway runs " << o.file << "\n";
  } else {
    for (const auto& c : changes) {
      std::cout << (*req.dryRun ? "would " : "") << c.get<std::string>() << "\n";
    }
  }
  return diff && !changes.empty() ? kExitDiffers : 0;
}

}  // namespace

void addApplyCommands(CLI::App& app, Commands& commands) {
  auto apply = std::make_shared<ApplyOptions>();
  auto* applyCmd = app.add_subcommand(
      "apply", "make the gateway's VIPs and backends those of a configuration file");
  applyCmd->add_option("-f,--file", apply->file, "lb4d configuration file (its vips: section)")
      ->required();
  applyCmd->add_flag("--dry-run", apply->dryRun, "only print what would change");
  commands.push_back(
      Command{applyCmd, [apply](const Context& ctx) { return run(ctx, *apply, false); }});

  auto diff = std::make_shared<ApplyOptions>();
  auto* diffCmd = app.add_subcommand(
      "diff", "what apply -f FILE would change (exit 5 when the gateway differs)");
  diffCmd->add_option("-f,--file", diff->file, "lb4d configuration file (its vips: section)")
      ->required();
  commands.push_back(
      Command{diffCmd, [diff](const Context& ctx) { return run(ctx, *diff, true); }});
}

}  // namespace lb4::cli
