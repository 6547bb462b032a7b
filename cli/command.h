// How a group of lb4ctl subcommands defined in its own file joins lb4ctl:
// `addXCommands(app, commands)` adds its subcommands to `app` (binding their
// options to state the run function owns) and appends one Command per
// subcommand; lb4ctl runs the one that was parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

#include "cli/client.h"

namespace lb4::cli {

struct Command {
  CLI::App* app;
  // Returns lb4ctl's exit code (see client.h).
  std::function<int(const Context&)> run;
};
using Commands = std::vector<Command>;

}  // namespace lb4::cli
