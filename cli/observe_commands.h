// lb4ctl's observability subcommands: log-level, top.
#pragma once

#include "cli/command.h"

namespace lb4::cli {

void addObserveCommands(CLI::App& app, Commands& commands);

}  // namespace lb4::cli
