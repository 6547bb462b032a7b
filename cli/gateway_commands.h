// `lb4ctl gateway drain [--wait]`, `gateway undrain`, `gateway check ADDR`.
#pragma once

#include "cli/command.h"

namespace lb4::cli {

void addGatewayCommands(CLI::App& app, Commands& commands);

}  // namespace lb4::cli
