// lb4ctl apply -f FILE [--dry-run] and lb4ctl diff -f FILE: make this
// gateway's VIPs and backends those of a configuration file (lb4d's own
// format, its `vips:`), or show what that would change.
#pragma once

#include "cli/command.h"

namespace lb4::cli {

void addApplyCommands(CLI::App& app, Commands& commands);

}  // namespace lb4::cli
