// host_info scoring: the state machine of one backend and the table of all
// of them. See host_info.h and docs/health.md.
#include "userspace/scoring/host_info.h"

#include <algorithm>
#include <cmath>

namespace lb4 {
namespace {

std::string formatDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) {
    return fmt::format("{}s", d.count() / 1000);
  }
  return fmt::format("{}ms", d.count());
}

bool inUnitInterval(double v) { return v > 0.0 && v <= 1.0; }

}  // namespace

Status ScoringConfig::validate() const {
  if (!inUnitInterval(errRate)) {
    return makeError("validate scoring config: err_rate {} is not in (0, 1]", errRate);
  }
  if (!inUnitInterval(succRate)) {
    return makeError("validate scoring config: succ_rate {} is not in (0, 1]", succRate);
  }
  if (!inUnitInterval(latencyAlpha)) {
    return makeError("validate scoring config: latency_alpha {} is not in (0, 1]", latencyAlpha);
  }
  if (!inUnitInterval(latencyMinFactor)) {
    return makeError("validate scoring config: latency_min_factor {} is not in (0, 1]",
                     latencyMinFactor);
  }
  if (idleTimeout.count() <= 0) {
    return makeError("validate scoring config: idle_timeout must be positive");
  }
  if (overloadTimeout.count() <= 0) {
    return makeError("validate scoring config: overload_timeout must be positive");
  }
  if (latencyTarget.count() <= 0) {
    return makeError("validate scoring config: latency_target must be positive");
  }
  if (rise == 0 || fall == 0) {
    return makeError("validate scoring config: rise and fall must be at least 1");
  }
  if (initialVsucc + initialVerr == 0) {
    // Without virtual counts an idle backend's error rate is 0/0 until its
    // first report; min_samples guards the rule, but keep the rate defined.
    return makeError("validate scoring config: initial_vsucc + initial_verr must be positive");
  }
  return {};
}

std::string_view queueName(Queue queue) {
  switch (queue) {
    case Queue::kIdle:
      return "idle";
    case Queue::kOverload:
      return "overload";
  }
  return "?";
}

std::string_view hostStateName(HostState state) {
  switch (state) {
    case HostState::kIdle:
      return "idle";
    case HostState::kOverload:
      return "overload";
    case HostState::kDown:
      return "down";
  }
  return "?";
}

std::string_view actionName(DataplaneAction action) {
  switch (action) {
    case DataplaneAction::kServe:
      return "serve";
    case DataplaneAction::kQuiesce:
      return "quiesce";
    case DataplaneAction::kRemove:
      return "remove";
  }
  return "?";
}

std::string describe(const Transition& transition) {
  return fmt::format("{}→{}: {}", hostStateName(transition.from), hostStateName(transition.to),
                     transition.reason);
}

HostInfo::HostInfo(const ScoringConfig& config, SteadyTime now) : config_(config) {
  startIdleWindow(now);
  up_ = config_.startUp;
  lastChange_ = now;
  lastReason_ = up_ ? "added" : "added, down until its first probe successes";
}

HostState HostInfo::state() const {
  if (!up_) {
    return HostState::kDown;
  }
  return queue_ == Queue::kIdle ? HostState::kIdle : HostState::kOverload;
}

double HostInfo::errorRate() const {
  uint64_t total = rsucc_ + rerr_ + vsucc_ + verr_;
  if (total == 0) {
    return 0.0;
  }
  return static_cast<double>(rerr_ + verr_) / static_cast<double>(total);
}

std::optional<std::chrono::microseconds> HostInfo::latency() const {
  if (!hasLatency_) {
    return std::nullopt;
  }
  return std::chrono::microseconds(std::llround(latencyUs_));
}

HealthVerdict HostInfo::healthVerdict() const {
  HealthVerdict v{.state = state()};
  if (config_.latencyWeighting && hasLatency_) {
    double target = static_cast<double>(config_.latencyTarget.count());
    double factor = latencyUs_ > target ? target / latencyUs_ : 1.0;
    v.weightFactor = std::max(factor, config_.latencyMinFactor);
  }
  return v;
}

Verdict HealthVerdict::apply(uint32_t configuredWeight) const {
  switch (state) {
    case HostState::kDown:
      return {DataplaneAction::kRemove, 0};
    case HostState::kOverload:
      return {DataplaneAction::kQuiesce, 0};
    case HostState::kIdle:
      break;
  }
  if (configuredWeight == 0) {
    return {DataplaneAction::kQuiesce, 0};  // drained by the operator
  }
  if (weightFactor == 1.0) {
    return {DataplaneAction::kServe, configuredWeight};
  }
  double scaled = std::round(static_cast<double>(configuredWeight) * weightFactor);
  auto weight = static_cast<uint32_t>(std::clamp(scaled, 1.0, double(configuredWeight)));
  return {DataplaneAction::kServe, weight};
}

void HostInfo::startIdleWindow(SteadyTime now) {
  queue_ = Queue::kIdle;
  vsucc_ = config_.initialVsucc;
  verr_ = config_.initialVerr;
  rsucc_ = 0;
  rerr_ = 0;
  continSucc_ = 0;
  continErr_ = 0;
  windowStart_ = now;
}

void HostInfo::startOverload(SteadyTime now) {
  queue_ = Queue::kOverload;
  vsucc_ = config_.overloadVsucc;
  verr_ = config_.overloadVerr;
  rsucc_ = 0;
  rerr_ = 0;
  continSucc_ = 0;
  continErr_ = 0;
  windowStart_ = now;
}

void HostInfo::rollWindow(SteadyTime now) {
  if (queue_ == Queue::kIdle && now - windowStart_ >= config_.idleTimeout) {
    // A new window: forget real counts, keep the virtual seeds and the
    // consecutive runs (a run of failures spanning two windows is still one).
    rsucc_ = 0;
    rerr_ = 0;
    windowStart_ = now;
  }
}

void HostInfo::count(uint64_t successes, uint64_t failures) {
  rsucc_ += successes;
  rerr_ += failures;
  if (failures == 0) {
    continSucc_ += successes;
    continErr_ = 0;
  } else if (successes == 0) {
    continErr_ += failures;
    continSucc_ = 0;
  } else {
    // A mixed batch has no order: it breaks both runs.
    continSucc_ = 0;
    continErr_ = 0;
  }
}

Transition HostInfo::record(HostState from, std::string reason, SteadyTime now) {
  lastChange_ = now;
  lastReason_ = reason;
  return Transition{.from = from, .to = state(), .reason = std::move(reason), .at = now};
}

std::optional<Transition> HostInfo::judgeQueue(SteadyTime now) {
  uint64_t real = rsucc_ + rerr_;
  bool enoughSamples = real >= config_.minSamples;
  double errRate = errorRate();
  if (queue_ == Queue::kIdle) {
    if (config_.continErrLimit != 0 && continErr_ >= config_.continErrLimit) {
      std::string reason =
          fmt::format("{} consecutive failures (limit {})", continErr_, config_.continErrLimit);
      startOverload(now);
      return record(HostState::kIdle, std::move(reason), now);
    }
    if (enoughSamples && errRate > config_.errRate) {
      std::string reason =
          fmt::format("error rate {:.2f} > {:.2f} in window ({} failures in {} reports)", errRate,
                      config_.errRate, rerr_, real);
      startOverload(now);
      return record(HostState::kIdle, std::move(reason), now);
    }
    return std::nullopt;
  }
  if (config_.continSuccLimit != 0 && continSucc_ >= config_.continSuccLimit) {
    std::string reason =
        fmt::format("{} consecutive successes (limit {})", continSucc_, config_.continSuccLimit);
    startIdleWindow(now);
    return record(HostState::kOverload, std::move(reason), now);
  }
  double succRate = 1.0 - errRate;
  if (enoughSamples && succRate >= config_.succRate) {
    std::string reason =
        fmt::format("success rate {:.2f} >= {:.2f} in overload ({} successes in {} reports)",
                    succRate, config_.succRate, rsucc_, real);
    startIdleWindow(now);
    return record(HostState::kOverload, std::move(reason), now);
  }
  return std::nullopt;
}

std::optional<Transition> HostInfo::reportProbeSuccess(std::chrono::microseconds latency,
                                                       SteadyTime now) {
  auto sample = static_cast<double>(std::max<int64_t>(latency.count(), 0));
  if (hasLatency_) {
    latencyUs_ = config_.latencyAlpha * sample + (1.0 - config_.latencyAlpha) * latencyUs_;
  } else {
    latencyUs_ = sample;
    hasLatency_ = true;
  }
  probeFailRun_ = 0;
  ++probeSuccRun_;
  if (!up_) {
    if (probeSuccRun_ < config_.rise) {
      return std::nullopt;
    }
    up_ = true;
    startIdleWindow(now);
    return record(
        HostState::kDown,
        fmt::format("{} consecutive probe successes (rise {})", probeSuccRun_, config_.rise), now);
  }
  rollWindow(now);
  count(1, 0);
  return judgeQueue(now);
}

std::optional<Transition> HostInfo::reportProbeFailure(std::string_view detail, SteadyTime now) {
  probeSuccRun_ = 0;
  ++probeFailRun_;
  if (!up_) {
    return std::nullopt;
  }
  if (probeFailRun_ >= config_.fall) {
    HostState from = state();
    up_ = false;
    std::string reason =
        fmt::format("{} consecutive probe failures (fall {})", probeFailRun_, config_.fall);
    if (!detail.empty()) {
      reason += fmt::format(", last: {}", detail);
    }
    return record(from, std::move(reason), now);
  }
  rollWindow(now);
  count(0, 1);
  return judgeQueue(now);
}

std::optional<Transition> HostInfo::reportPassive(uint64_t successes, uint64_t failures,
                                                  SteadyTime now) {
  if (!up_ || (successes == 0 && failures == 0)) {
    return std::nullopt;
  }
  rollWindow(now);
  count(successes, failures);
  return judgeQueue(now);
}

std::optional<Transition> HostInfo::tick(SteadyTime now) {
  if (!up_) {
    return std::nullopt;
  }
  if (queue_ == Queue::kOverload && now - windowStart_ >= config_.overloadTimeout) {
    startIdleWindow(now);
    return record(HostState::kOverload,
                  fmt::format("probation of {} over", formatDuration(config_.overloadTimeout)),
                  now);
  }
  rollWindow(now);
  return std::nullopt;
}

Status HostTable::add(const BackendKey& key, const ScoringConfig& config, SteadyTime now) {
  if (Status valid = config.validate(); !valid) {
    return makeError("add backend {}: {}", key, valid.error());
  }
  auto [it, inserted] = hosts_.try_emplace(key, config, now);
  if (!inserted) {
    return makeError("add backend {}: already present", key);
  }
  return {};
}

bool HostTable::remove(const BackendKey& key) { return hosts_.erase(key) != 0; }

HostInfo* HostTable::find(const BackendKey& key) {
  auto it = hosts_.find(key);
  return it == hosts_.end() ? nullptr : &it->second;
}

const HostInfo* HostTable::find(const BackendKey& key) const {
  auto it = hosts_.find(key);
  return it == hosts_.end() ? nullptr : &it->second;
}

std::optional<Transition> HostTable::reportProbeSuccess(const BackendKey& key,
                                                        std::chrono::microseconds latency,
                                                        SteadyTime now) {
  HostInfo* host = find(key);
  if (host == nullptr) {
    return std::nullopt;
  }
  return host->reportProbeSuccess(latency, now);
}

std::optional<Transition> HostTable::reportProbeFailure(const BackendKey& key,
                                                        std::string_view detail, SteadyTime now) {
  HostInfo* host = find(key);
  if (host == nullptr) {
    return std::nullopt;
  }
  return host->reportProbeFailure(detail, now);
}

std::optional<Transition> HostTable::reportPassive(const BackendKey& key, uint64_t successes,
                                                   uint64_t failures, SteadyTime now) {
  HostInfo* host = find(key);
  if (host == nullptr) {
    return std::nullopt;
  }
  return host->reportPassive(successes, failures, now);
}

std::vector<KeyedTransition> HostTable::tick(SteadyTime now) {
  std::vector<KeyedTransition> changes;
  for (auto& [key, host] : hosts_) {
    if (auto t = host.tick(now)) {
      changes.push_back(KeyedTransition{.key = key, .transition = std::move(*t)});
    }
  }
  return changes;
}

Verdict HostTable::verdict(const BackendKey& key, uint32_t configuredWeight) const {
  const HostInfo* host = find(key);
  if (host == nullptr) {
    return {DataplaneAction::kRemove, 0};
  }
  return host->verdict(configuredWeight);
}

std::map<BackendKey, HealthVerdict> HostTable::healthVerdicts() const {
  std::map<BackendKey, HealthVerdict> out;
  for (const auto& [key, host] : hosts_) {
    out.emplace(key, host.healthVerdict());
  }
  return out;
}

std::vector<HealthRow> HostTable::rows(SteadyTime now) const {
  std::vector<HealthRow> out;
  out.reserve(hosts_.size());
  for (const auto& [key, host] : hosts_) {
    out.push_back(HealthRow{
        .key = key,
        .state = host.state(),
        .up = host.up(),
        .queue = host.queue(),
        .vsucc = host.vsucc(),
        .verr = host.verr(),
        .rsucc = host.rsucc(),
        .rerr = host.rerr(),
        .continSucc = host.continSucc(),
        .continErr = host.continErr(),
        .errorRate = host.errorRate(),
        .latency = host.latency(),
        .sinceChange =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - host.lastChange()),
        .lastReason = host.lastReason(),
    });
  }
  return out;
}

}  // namespace lb4
