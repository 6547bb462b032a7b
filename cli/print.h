// lb4ctl's human tables for the daemon's JSON replies.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace lb4::cli {

std::string humanBytes(uint64_t bytes);
void printList(const nlohmann::json& vips);
// With `previous` (the reply `seconds` earlier), rates next to the counters.
void printStats(const nlohmann::json& stats, const nlohmann::json* previous, double seconds);
void printHealth(const nlohmann::json& rows);
void printStatus(const nlohmann::json& s);

}  // namespace lb4::cli
