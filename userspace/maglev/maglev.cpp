#include "userspace/maglev/maglev.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

namespace lb4 {
namespace {

// 64-bit FNV-1a followed by a murmur3 finaliser: stable across builds and
// machines, which cross-gateway consistency depends on.
uint64_t stableHash(const std::string& key, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

bool isPrime(uint32_t n) {
  if (n < 2) {
    return false;
  }
  for (uint32_t d = 2; static_cast<uint64_t>(d) * d <= n; ++d) {
    if (n % d == 0) {
      return false;
    }
  }
  return true;
}

std::vector<uint32_t> buildMaglevRing(std::span<const MaglevBackend> input, uint32_t ringSize) {
  if (!isPrime(ringSize)) {
    std::abort();  // A non-prime size would make a permutation loop forever.
  }
  std::vector<uint32_t> table(ringSize, 0);
  std::vector<const MaglevBackend*> backends;
  for (const auto& b : input) {
    if (b.weight > 0) {
      backends.push_back(&b);
    }
  }
  if (backends.empty() || ringSize == 0) {
    return table;
  }
  std::sort(backends.begin(), backends.end(), [](const auto* a, const auto* b) {
    return a->key != b->key ? a->key < b->key : a->id < b->id;
  });

  const size_t n = backends.size();
  std::vector<uint64_t> offset(n);
  std::vector<uint64_t> skip(n);
  std::vector<uint64_t> next(n, 0);
  std::vector<uint64_t> credit(n, 0);
  uint64_t maxWeight = 0;
  for (size_t i = 0; i < n; ++i) {
    offset[i] = stableHash(backends[i]->key, 0x6c62) % ringSize;
    skip[i] = ringSize > 1 ? stableHash(backends[i]->key, 0x3431) % (ringSize - 1) + 1 : 1;
    maxWeight = std::max<uint64_t>(maxWeight, backends[i]->weight);
  }

  // Weighted Maglev: each round every backend earns its weight in credit and
  // claims its next preferred free slot for every maxWeight of credit, so
  // shares converge to weight / sum(weights).
  std::vector<bool> filled(ringSize, false);
  uint32_t count = 0;
  while (true) {
    for (size_t i = 0; i < n; ++i) {
      credit[i] += backends[i]->weight;
      if (credit[i] < maxWeight) {
        continue;
      }
      credit[i] -= maxWeight;
      uint64_t slot = 0;
      do {
        slot = (offset[i] + next[i] * skip[i]) % ringSize;
        ++next[i];
      } while (filled[slot]);
      filled[slot] = true;
      table[slot] = backends[i]->id;
      if (++count == ringSize) {
        return table;
      }
    }
  }
}

}  // namespace lb4
