// The Internet checksum (RFC 1071), defined once for the tests and the
// benchmarks: partial sums, folding, and the complemented checksum.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lb4::test {

// One's-complement sum of the 16-bit big-endian words of p[0..n) added to
// `sum` (an odd last byte is padded with zero); not folded.
inline uint32_t sumWords(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  }
  if (n & 1) {
    sum += static_cast<uint32_t>(p[n - 1] << 8);
  }
  return sum;
}

// `sum` folded to 16 bits (not complemented): 0xffff for data that carries
// a correct checksum.
inline uint16_t foldSum(uint32_t sum) {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}

// The checksum field's value for p[0..n) with the partial sum `sum` (e.g.
// of a pseudo-header) already added.
inline uint16_t checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  return static_cast<uint16_t>(~foldSum(sumWords(p, n, sum)));
}

}  // namespace lb4::test
