// Maglev table properties: weight shares, minimal disruption, determinism.
#include "userspace/maglev/maglev.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace lb4 {
namespace {

constexpr uint32_t kRing = 65537;

std::vector<MaglevBackend> makeBackends(uint32_t n, bool mixedWeights = false) {
  std::vector<MaglevBackend> out;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t weight = mixedWeights ? 1 + (i % 4) * 50 : 100;
    out.push_back(
        {.id = i + 1,
         .weight = weight,
         .key = "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":80"});
  }
  return out;
}

std::map<uint32_t, uint32_t> countEntries(const std::vector<uint32_t>& ring) {
  std::map<uint32_t, uint32_t> counts;
  for (uint32_t id : ring) {
    ++counts[id];
  }
  return counts;
}

void expectSharesMatchWeights(const std::vector<MaglevBackend>& backends) {
  auto ring = buildMaglevRing(backends, kRing);
  ASSERT_EQ(ring.size(), kRing);
  auto counts = countEntries(ring);
  EXPECT_EQ(counts.count(0), 0u) << "every entry must name a backend";
  double total = 0;
  for (const auto& b : backends) {
    total += b.weight;
  }
  for (const auto& b : backends) {
    double want = b.weight / total;
    double got = static_cast<double>(counts[b.id]) / kRing;
    EXPECT_NEAR(got, want, 0.01 * want + 1.0 / kRing) << "backend " << b.key;
  }
}

TEST(MaglevTest, EqualWeightsShareTheTableEvenly) {
  for (uint32_t n : {3u, 10u, 100u}) {
    SCOPED_TRACE(n);
    expectSharesMatchWeights(makeBackends(n));
  }
}

TEST(MaglevTest, MixedWeightsAreHonoured) {
  for (uint32_t n : {3u, 10u, 100u}) {
    SCOPED_TRACE(n);
    expectSharesMatchWeights(makeBackends(n, true));
  }
}

TEST(MaglevTest, ZeroWeightTakesNoEntries) {
  auto backends = makeBackends(3);
  backends[1].weight = 0;
  auto counts = countEntries(buildMaglevRing(backends, kRing));
  EXPECT_EQ(counts.count(backends[1].id), 0u);
  EXPECT_EQ(counts[backends[0].id] + counts[backends[2].id], kRing);
}

TEST(MaglevTest, NoPositiveWeightGivesAnEmptyTable) {
  auto backends = makeBackends(2);
  backends[0].weight = 0;
  backends[1].weight = 0;
  auto ring = buildMaglevRing(backends, 13);
  EXPECT_EQ(ring, std::vector<uint32_t>(13, 0));
  EXPECT_EQ(buildMaglevRing({}, 13), std::vector<uint32_t>(13, 0));
}

TEST(MaglevTest, RemovingOneBackendMovesLittleElse) {
  for (uint32_t n : {3u, 10u, 100u}) {
    SCOPED_TRACE(n);
    auto backends = makeBackends(n);
    auto before = buildMaglevRing(backends, kRing);
    uint32_t removed = backends[n / 2].id;
    backends.erase(backends.begin() + n / 2);
    auto after = buildMaglevRing(backends, kRing);
    uint32_t moved = 0;
    for (uint32_t i = 0; i < kRing; ++i) {
      if (before[i] != removed && before[i] != after[i]) {
        ++moved;
      }
    }
    double bound = 1.0 / n * 1.1;
    EXPECT_LE(static_cast<double>(moved) / kRing, bound);
  }
}

TEST(MaglevTest, SameInputsGiveTheSameTableInAnyOrder) {
  auto backends = makeBackends(10, true);
  auto first = buildMaglevRing(backends, kRing);
  EXPECT_EQ(first, buildMaglevRing(backends, kRing));
  std::mt19937 rng(7);
  std::shuffle(backends.begin(), backends.end(), rng);
  EXPECT_EQ(first, buildMaglevRing(backends, kRing));
}

TEST(MaglevTest, PrimeCheck) {
  EXPECT_TRUE(isPrime(65537));
  EXPECT_TRUE(isPrime(655373));
  EXPECT_TRUE(isPrime(13));
  EXPECT_FALSE(isPrime(65536));
  EXPECT_FALSE(isPrime(1));
  EXPECT_FALSE(isPrime(0));
}

}  // namespace
}  // namespace lb4
