// lb4ctl stats --watch: the counters every INTERVAL seconds with packet and
// byte rates per VIP and backend over the time that really passed.
#pragma once

#include <nlohmann/json.hpp>

#include "cli/client.h"

namespace lb4::cli {

// Rates between two `stats` replies `seconds` apart: {"interval_s": s,
// "vips": [{"vip", "packets_per_s", "bytes_per_s", "backends": [{"address",
// "packets_per_s", "bytes_per_s"}]}]}; VIPs and backends matched by name, a
// counter that went down (reset) counts from 0.
nlohmann::json statsRates(const nlohmann::json& now, const nlohmann::json& before, double seconds);

// Runs the watch loop (Ctrl-C stops; `count` rounds when not 0). On a
// terminal each round replaces the screen; otherwise rounds follow each
// other with no terminal control codes. With --json, one JSON object per
// line: the reply plus "rates" (from the second round on).
int watchStats(const Context& ctx, const Request& request, double interval, int count);

}  // namespace lb4::cli
