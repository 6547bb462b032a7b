// lb4ctl's side of the control socket: one request, one reply line.
#pragma once

#include <string>

#include "userspace/api/protocol.h"

namespace lb4::cli {

// lb4ctl's exit codes: 0 done, 1 refused (by lb4ctl or lb4d), 2 bad command
// line, 3 done but pending (a DR backend added whose MAC is not resolved yet),
// 4 (doctor) warnings but no failure, 5 (diff) the file differs from what
// the gateway runs.
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitPending = 3;
inline constexpr int kExitWarn = 4;
inline constexpr int kExitDiffers = 5;

// What every subcommand needs from the global options.
struct Context {
  std::string socketPath;
  bool asJson = false;
};

// Sends `request` to lb4d on `socketPath` and returns its reply (an error
// reply from lb4d is an error here too).
Result<nlohmann::json> call(const std::string& socketPath, const Request& request);

// Prints "lb4ctl: MESSAGE" on stderr and returns kExitRefused.
int fail(const std::string& message);

}  // namespace lb4::cli
