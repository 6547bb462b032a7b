// `lb4ctl trace CLIENT:PORT VIP:PORT/PROTO`: where one flow goes now and why.
#pragma once

#include "cli/command.h"

namespace lb4::cli {

void addTraceCommands(CLI::App& app, Commands& commands);

}  // namespace lb4::cli
