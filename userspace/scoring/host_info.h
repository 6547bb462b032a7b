// host_info scoring: the per-backend health model of lb4. Every probe result
// and every passive signal from the data plane is a success or failure
// report; the model turns them into one of three states (idle, overload,
// down) and into what the data plane should do with the backend (serve with
// a weight, quiesce, remove). Pure logic: no I/O, no clock of its own — every
// call takes the current steady_clock time, so tests drive time by hand.
// The model and every threshold are described in docs/health.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "userspace/common/defaults.h"
#include "userspace/common/result.h"

namespace lb4 {

using SteadyTime = std::chrono::steady_clock::time_point;

// Identifies a backend in the table and in the probe scheduler; the daemon
// chooses the text (for example "198.18.0.11:80"). Same alias as in
// userspace/health/probe.h.
using BackendKey = std::string;

// Thresholds of the model. An aggregate: fill it with designated
// initialisers; every default is documented in docs/health.md.
struct ScoringConfig {
  // idle -> overload when the window error rate is above errRate ...
  double errRate = 0.5;
  // ... or after this many consecutive failures (0 = rule off).
  uint32_t continErrLimit = 5;
  // overload -> idle when the success rate since entering overload is at
  // least succRate ...
  double succRate = 0.9;
  // ... or after this many consecutive successes (0 = rule off) ...
  uint32_t continSuccLimit = 5;
  // ... or when the backend has been in overload for overloadTimeout.
  std::chrono::milliseconds overloadTimeout{30'000};
  // Rates are only judged once the window holds this many real reports.
  uint32_t minSamples = 5;
  // Length of an idle window; real counts restart after it.
  std::chrono::milliseconds idleTimeout{10'000};
  // Virtual counts of an idle window (a new backend starts trusted) ...
  uint32_t initialVsucc = 10;
  uint32_t initialVerr = 0;
  // ... and of an overload period (a quiesced backend must earn its way
  // back).
  uint32_t overloadVsucc = 0;
  uint32_t overloadVerr = 5;
  // Consecutive probe results that bring a backend up / take it down.
  uint32_t rise = kDefaultRise;
  uint32_t fall = kDefaultFall;
  // A new backend starts up (trusted); false = it starts down and needs
  // `rise` probe successes first.
  bool startUp = true;
  // Weight of the newest probe latency in the moving average.
  double latencyAlpha = 0.3;
  // Response-time balancing (off by default): an idle backend whose latency
  // average is above latencyTarget gets weight * latencyTarget / average,
  // never below weight * latencyMinFactor and never below 1.
  bool latencyWeighting = false;
  std::chrono::microseconds latencyTarget{10'000};
  double latencyMinFactor = 0.1;

  // "validate scoring config: <field> ..." on the first bad field.
  Status validate() const;
};

enum class Queue : uint8_t { kIdle, kOverload };
enum class HostState : uint8_t { kIdle, kOverload, kDown };

std::string_view queueName(Queue queue);
std::string_view hostStateName(HostState state);

// A state change and why it happened, for the daemon's log:
// "idle→overload: error rate 0.55 > 0.50 in window".
struct Transition {
  HostState from = HostState::kIdle;
  HostState to = HostState::kIdle;
  std::string reason;
  SteadyTime at{};
};
std::string describe(const Transition& transition);

// What the data plane should do with a backend.
enum class DataplaneAction : uint8_t {
  kServe,    // in the Maglev table with `weight`
  kQuiesce,  // weight 0: no new flows, established flows continue
  kRemove,   // out of the table; its established flows are rescheduled
};
std::string_view actionName(DataplaneAction action);

struct Verdict {
  DataplaneAction action = DataplaneAction::kServe;
  uint32_t weight = 0;  // 0 unless kServe
  auto operator<=>(const Verdict&) const = default;
};

// A backend's verdict before its configured weight is applied: what the
// health side publishes, so that a weight change needs no new verdict.
struct HealthVerdict {
  HostState state = HostState::kIdle;
  double weightFactor = 1.0;  // response-time balancing; 1 when off or unmeasured
  Verdict apply(uint32_t configuredWeight) const;
  bool operator==(const HealthVerdict&) const = default;
};

class HostInfo {
 public:
  HostInfo(const ScoringConfig& config, SteadyTime now);

  // A probe result. Probes alone move the hard state (rise/fall); they also
  // count as reports for the queue. Returns the state change, if any.
  std::optional<Transition> reportProbeSuccess(std::chrono::microseconds latency, SteadyTime now);
  std::optional<Transition> reportProbeFailure(std::string_view detail, SteadyTime now);
  // A batch of passive signals from the data plane. Ignored while down.
  std::optional<Transition> reportPassive(uint64_t successes, uint64_t failures, SteadyTime now);
  // Timers: the idle window reset and the overload probation. Call it
  // periodically (about once a second); reports also apply the window reset.
  std::optional<Transition> tick(SteadyTime now);

  // New thresholds apply from the next report; counts are kept.
  void setConfig(const ScoringConfig& config) { config_ = config; }
  const ScoringConfig& config() const { return config_; }

  HostState state() const;
  bool up() const { return up_; }
  Queue queue() const { return queue_; }
  HealthVerdict healthVerdict() const;
  Verdict verdict(uint32_t configuredWeight) const {
    return healthVerdict().apply(configuredWeight);
  }

  uint64_t vsucc() const { return vsucc_; }
  uint64_t verr() const { return verr_; }
  uint64_t rsucc() const { return rsucc_; }
  uint64_t rerr() const { return rerr_; }
  uint64_t continSucc() const { return continSucc_; }
  uint64_t continErr() const { return continErr_; }
  uint32_t probeSuccRun() const { return probeSuccRun_; }
  uint32_t probeFailRun() const { return probeFailRun_; }
  // (rerr + verr) / (rsucc + rerr + vsucc + verr) of the current window.
  double errorRate() const;
  SteadyTime windowStart() const { return windowStart_; }
  std::optional<std::chrono::microseconds> latency() const;
  SteadyTime lastChange() const { return lastChange_; }
  const std::string& lastReason() const { return lastReason_; }

 private:
  void startIdleWindow(SteadyTime now);
  void startOverload(SteadyTime now);
  void rollWindow(SteadyTime now);
  void count(uint64_t successes, uint64_t failures);
  std::optional<Transition> judgeQueue(SteadyTime now);
  Transition record(HostState from, std::string reason, SteadyTime now);

  ScoringConfig config_;
  bool up_ = true;
  Queue queue_ = Queue::kIdle;
  uint64_t vsucc_ = 0;
  uint64_t verr_ = 0;
  uint64_t rsucc_ = 0;
  uint64_t rerr_ = 0;
  uint64_t continSucc_ = 0;
  uint64_t continErr_ = 0;
  uint32_t probeSuccRun_ = 0;
  uint32_t probeFailRun_ = 0;
  SteadyTime windowStart_{};  // idle window start, or when overload began
  double latencyUs_ = 0.0;
  bool hasLatency_ = false;
  SteadyTime lastChange_{};
  std::string lastReason_;
};

// One row of `lb4ctl health`.
struct HealthRow {
  BackendKey key;
  HostState state = HostState::kIdle;
  bool up = true;
  Queue queue = Queue::kIdle;
  uint64_t vsucc = 0;
  uint64_t verr = 0;
  uint64_t rsucc = 0;
  uint64_t rerr = 0;
  uint64_t continSucc = 0;
  uint64_t continErr = 0;
  double errorRate = 0.0;
  std::optional<std::chrono::microseconds> latency;
  std::chrono::milliseconds sinceChange{0};
  std::string lastReason;
};

// A transition together with the backend it happened to.
struct KeyedTransition {
  BackendKey key;
  Transition transition;
};

// The host_info of every probed backend, keyed by BackendKey. Reports for a
// key that is not (or no longer) in the table are ignored: a probe may
// finish just after its backend was removed.
class HostTable {
 public:
  // "add backend <key>: already present" if the key exists.
  Status add(const BackendKey& key, const ScoringConfig& config, SteadyTime now);
  bool remove(const BackendKey& key);
  bool contains(const BackendKey& key) const { return hosts_.count(key) != 0; }
  size_t size() const { return hosts_.size(); }
  HostInfo* find(const BackendKey& key);
  const HostInfo* find(const BackendKey& key) const;

  std::optional<Transition> reportProbeSuccess(const BackendKey& key,
                                               std::chrono::microseconds latency, SteadyTime now);
  std::optional<Transition> reportProbeFailure(const BackendKey& key, std::string_view detail,
                                               SteadyTime now);
  std::optional<Transition> reportPassive(const BackendKey& key, uint64_t successes,
                                          uint64_t failures, SteadyTime now);
  std::vector<KeyedTransition> tick(SteadyTime now);

  // Verdict for a backend with its configured weight; Remove if unknown.
  Verdict verdict(const BackendKey& key, uint32_t configuredWeight) const;
  // Every backend's weight-independent verdict.
  std::map<BackendKey, HealthVerdict> healthVerdicts() const;
  // Sorted by key.
  std::vector<HealthRow> rows(SteadyTime now) const;

 private:
  std::map<BackendKey, HostInfo> hosts_;
};

}  // namespace lb4
