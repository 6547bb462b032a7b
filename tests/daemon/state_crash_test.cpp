// Crash safety of the state file: lb4d is killed with SIGKILL at a random
// moment of a burst of lb4ctl updates, 50 times in a row. After every kill
// the state file must parse, and every update lb4ctl reported as applied
// must be there when lb4d starts again (the one in flight at the kill may
// or may not be). Each round is bounded: at most 300 ms of updates.
#include <atomic>
#include <random>
#include <thread>

#include "daemon_fixture.h"
#include "userspace/state/state.h"

namespace lb4::test {
namespace {

constexpr const char* kVip = "198.18.1.1:53/udp";

TEST_F(DaemonTest, KillNineDuringUpdateBurstsNeverLosesAnAcknowledgedUpdate) {
  constexpr int kRounds = 50;
  std::mt19937 rng(6);  // fixed: the same kill points on every run
  // Backend -> weights it may have: the last acknowledged one, plus the
  // one in flight when the daemon died.
  struct Expect {
    uint32_t acked = 0;
    std::optional<uint32_t> inflight;
  };
  std::map<std::string, Expect> expected;
  int next = 0;
  int totalAcked = 0;
  int totalRefused = 0;
  startDaemon();
  ASSERT_EQ(ctl({"add-vip", kVip, "--ring-size", "13"}).status, 0);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::atomic<bool> stop{false};
    std::thread burst([&] {
      std::mt19937 local(static_cast<uint32_t>(round));
      while (!stop) {
        // New backends, and weight changes of acknowledged ones.
        bool add = expected.empty() || local() % 2 == 0;
        std::string backend;
        uint32_t weight = 1 + local() % 65535;
        std::vector<std::string> args;
        if (add) {
          backend = fmt::format("198.18.{}.{}", 10 + next / 250, 1 + next % 250);
          ++next;
          args = {"add-backend",
                  kVip,
                  backend,
                  "--weight",
                  std::to_string(weight),
                  "--mac",
                  fmt::format("02:00:00:00:{:02x}:{:02x}", next >> 8, next & 0xff)};
        } else {
          auto it = expected.begin();
          std::advance(it, local() % expected.size());
          backend = it->first;
          args = {"set-weight", kVip, backend, std::to_string(weight)};
        }
        auto& e = expected[backend];
        if (add) {
          e.acked = 0;  // 0: not known to exist yet
        }
        e.inflight = weight;
        auto r = ctl(args);
        if (r.status == 0) {
          e.acked = weight;
          e.inflight.reset();
          ++totalAcked;
        } else {
          ++totalRefused;  // the daemon died under it; may or may not be applied
          return;
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    daemon_.stop(SIGKILL);
    stop = true;
    burst.join();

    auto state = loadState(state_);
    ASSERT_TRUE(state.ok()) << "state file unreadable after kill: " << state.error();
    startDaemon();
    auto list = listJson();
    ASSERT_EQ(list.size(), 1u);
    std::map<std::string, uint32_t> weights;
    for (const auto& b : list[0]["backends"]) {
      weights[b["address"].get<std::string>()] = b["weight"].get<uint32_t>();
    }
    for (auto it = expected.begin(); it != expected.end();) {
      const auto& [backend, e] = *it;
      auto found = weights.find(backend);
      if (e.acked == 0) {
        // Added in flight: present with that weight, or absent.
        if (found != weights.end()) {
          EXPECT_EQ(found->second, *e.inflight) << backend;
          it->second = Expect{.acked = found->second, .inflight = std::nullopt};
          ++it;
        } else {
          it = expected.erase(it);
        }
        continue;
      }
      ASSERT_NE(found, weights.end()) << "acknowledged backend " << backend << " lost";
      if (e.inflight && found->second == *e.inflight) {
        it->second.acked = found->second;
      } else {
        EXPECT_EQ(found->second, e.acked) << "acknowledged weight of " << backend << " lost";
      }
      it->second.inflight.reset();
      ++it;
    }
    EXPECT_EQ(weights.size(), expected.size());
    if (HasFatalFailure()) {
      return;
    }
  }
  std::cout << kRounds << " kills; " << totalAcked << " acknowledged updates all kept; "
            << expected.size() << " backends at the end\n";
  EXPECT_GT(totalAcked, kRounds);
}

}  // namespace
}  // namespace lb4::test
