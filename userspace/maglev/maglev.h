// Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights.
// The table depends only on the set of (key, weight, id) triples — not on the
// order they are given in — so every gateway given the same backends builds
// the same table and a flow lands on the same backend whichever gateway an
// ECMP router picks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lb4 {

struct MaglevBackend {
  uint32_t id = 0;      // value written into the table (backend id, never 0)
  uint32_t weight = 0;  // 0 = takes no entries
  std::string key;      // stable identity hashed for the permutation (e.g. "198.18.0.11:80")
};

// True when n is prime (ring sizes must be).
bool isPrime(uint32_t n);

// Builds a table of `ringSize` entries (ringSize prime). Entries hold backend
// ids; a table with no positive weight is all zeros (no backend).
std::vector<uint32_t> buildMaglevRing(std::span<const MaglevBackend> backends, uint32_t ringSize);

}  // namespace lb4
