// lb4ctl top: a live table of VIPs and backends (state, weights, packet,
// byte and new-connection rates, connections so far), refreshed in place.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/client.h"

namespace lb4::cli {

// One screen of `top` from a `list` reply, a `stats` reply and the rates
// between it and the previous round (statsRates; null on the first round,
// which shows "-" for every rate). Lines are cut to `width` columns when it
// is not 0. Pure: the test of the layout needs no daemon.
std::string renderTop(const nlohmann::json& list, const nlohmann::json& stats,
                      const nlohmann::json& rates, const std::string& heading, size_t width);

// Runs the live view every `interval` seconds until q, Ctrl-C or `count`
// rounds (when not 0). On a terminal it draws on the alternate screen and
// reads single keys (q quits); otherwise it prints one table per round with
// no terminal control codes.
int runTop(const Context& ctx, double interval, int count);

}  // namespace lb4::cli
