// lb4ctl's human tables for the daemon's JSON replies.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace lb4::cli {

std::string humanBytes(uint64_t bytes);
// A backend's state as `list` shows it, from one backend of a `list` reply:
// unreachable, no-mac, down (down* while the last table still serves it),
// drained, overload, no-flows or serving.
std::string backendState(const nlohmann::json& backend, bool nat);
void printList(const nlohmann::json& vips);
// With `previous` (the reply `seconds` earlier), rates next to the counters.
void printStats(const nlohmann::json& stats, const nlohmann::json* previous, double seconds);
void printHealth(const nlohmann::json& rows);
void printStatus(const nlohmann::json& s);

}  // namespace lb4::cli
