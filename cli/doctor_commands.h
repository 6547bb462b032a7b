// `lb4ctl doctor`: checks the running gateway for the pitfalls lb4 knows.
#pragma once

#include "cli/command.h"

namespace lb4::cli {

void addDoctorCommands(CLI::App& app, Commands& commands);

}  // namespace lb4::cli
