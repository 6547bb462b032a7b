// lb4d's log output: one line per event, as text ("2026-12-02T06:00:00.123
// info add-vip ...") or, with log_format json, one JSON object per line for
// collectors ({"time":"2026-12-02T06:00:00.123Z","level":"info","msg":"..."}).
// The level can change at run time (`lb4ctl log-level`).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "userspace/api/protocol.h"
#include "userspace/common/result.h"

namespace lb4 {

// Sets spdlog's level and output format; both already validated.
void setupLogging(const std::string& format, const std::string& level);

// One log-level request: sets the level when one is given, and replies
// {"level": now, "previous": before}.
nlohmann::json handleLogLevel(const Request& request);

}  // namespace lb4
