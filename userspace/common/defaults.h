// Defaults shared by more than one part of lb4, defined once.
#pragma once

#include <cstdint>

namespace lb4 {

constexpr const char* kDefaultSocketPath = "/run/lb4/lb4d.sock";

constexpr uint32_t kMaxWeight = 65535;
constexpr uint32_t kDefaultWeight = 100;

// Consecutive probe results that bring a backend up / take it down: the
// defaults of a health check (HealthCheck) and of the scoring that reads it
// (ScoringConfig).
constexpr uint32_t kDefaultRise = 2;
constexpr uint32_t kDefaultFall = 3;

}  // namespace lb4
