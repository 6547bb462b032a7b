#include "userspace/daemon/health_manager.h"

#include <spdlog/spdlog.h>

#include <asio/experimental/as_tuple.hpp>

namespace lb4 {
HealthManager::HealthManager(asio::io_context& io, ScoringConfig scoring, SignalReader readSignals)
    : io_(io),
      scoring_(scoring),
      readSignals_(std::move(readSignals)),
      probes_(io.get_executor(),
              [this](const BackendKey& key, const ProbeResult& r) { onResult(key, r); }) {}

HealthManager::~HealthManager() { stop(); }

void HealthManager::start() {
  running_ = true;
  asio::co_spawn(io_, tickLoop(), asio::detached);
}

void HealthManager::stop() {
  running_ = false;
  if (ticker_) {
    ticker_->cancel();
  }
  probes_.stopAll();
}

asio::awaitable<void> HealthManager::tickLoop() {
  ticker_ = std::make_shared<asio::steady_timer>(io_);
  auto timer = ticker_;
  while (running_) {
    timer->expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec || !running_) {
      co_return;
    }
    auto now = std::chrono::steady_clock::now();
    auto transitions = hosts_.tick(now);
    readPassiveSignals(now, transitions);
    for (const auto& t : transitions) {
      changed(t.key, t.transition);
    }
    if (!transitions.empty()) {
      publish();
    }
  }
}

// Passive signals: the SYN-ACKs and RSTs each NAT backend sent since the
// last second become one batch of successes and failures.
void HealthManager::readPassiveSignals(SteadyTime now, std::vector<KeyedTransition>& transitions) {
  for (const auto& [key, p] : probed_) {
    if (!p.passive) {
      continue;
    }
    auto signals = readSignals_(p.backendId);
    if (!signals) {
      continue;
    }
    lb4_signals& last = lastSignals_[key];
    // Counters only grow, except when the id was reset for a new backend.
    uint64_t accepted = signals->accepted >= last.accepted ? signals->accepted - last.accepted : 0;
    uint64_t refused = signals->refused >= last.refused ? signals->refused - last.refused : 0;
    last = *signals;
    if (accepted == 0 && refused == 0) {
      continue;
    }
    if (auto change = hosts_.reportPassive(key, accepted, refused, now)) {
      transitions.push_back(KeyedTransition{.key = key, .transition = *change});
    }
  }
}

void HealthManager::sync(const DesiredState& state) {
  auto now = std::chrono::steady_clock::now();
  std::map<BackendKey, Probed> wanted;
  for (const auto& vip : state.vips) {
    for (const auto& b : vip.backends) {
      HealthCheck hc = vip.healthCheck(b);
      auto spec = probeSpecFor(vip, b);
      if (!spec) {
        continue;
      }
      ScoringConfig scoring = scoring_;
      scoring.rise = hc.rise;
      scoring.fall = hc.fall;
      wanted.emplace(healthKey(vip, b), Probed{.vip = vip.key.toString(),
                                               .backend = b.endpoint.toString(),
                                               .spec = *spec,
                                               .check = hc,
                                               .scoring = scoring,
                                               .backendId = b.id,
                                               .backendGen = b.gen,
                                               .passive = vip.mode == ForwardingMode::kNat,
                                               .mac = b.mac});
    }
  }
  bool removed = false;
  for (auto it = probed_.begin(); it != probed_.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || !(w->second.check == it->second.check) ||
        w->second.backendGen != it->second.backendGen || w->second.mac != it->second.mac) {
      probes_.remove(it->first);
      hosts_.remove(it->first);
      lastResult_.erase(it->first);
      lastSignals_.erase(it->first);
      probeStats_.erase(it->first);
      it = probed_.erase(it);
      removed = true;
    } else {
      ++it;
    }
  }
  bool added = false;
  for (auto& [key, p] : wanted) {
    if (probed_.count(key)) {
      continue;
    }
    if (auto s = hosts_.add(key, p.scoring, now); !s) {
      spdlog::error("health {}: {}", key, s.error());
      continue;
    }
    if (auto s = probes_.add(key, p.spec, std::chrono::milliseconds(p.check.intervalMs)); !s) {
      spdlog::error("health {}: {}", key, s.error());
      hosts_.remove(key);
      continue;
    }
    spdlog::info("health {}: {} every {} ms", key, p.spec.describe(), p.check.intervalMs);
    if (p.passive) {
      // Signals counted before this point (e.g. before a restart) are history.
      if (auto base = readSignals_(p.backendId)) {
        lastSignals_[key] = *base;
      }
    }
    probed_.emplace(key, std::move(p));
    added = true;
  }
  if (added || removed) {
    publish();
  }
}

void HealthManager::onResult(const BackendKey& key, const ProbeResult& r) {
  auto now = std::chrono::steady_clock::now();
  lastResult_[key] = r;
  ProbeStats& stats = probeStats_[key];
  stats.durations.observe(std::chrono::duration<double>(r.latency).count());
  if (!r.ok) {
    stats.failures[std::string(probeFailureReason(r))] += 1;
  }
  auto change = r.ok ? hosts_.reportProbeSuccess(key, r.latency, now)
                     : hosts_.reportProbeFailure(key, r.detail, now);
  if (!r.ok) {
    spdlog::debug("health {}: probe failed: {}", key, r.detail);
  }
  if (change) {
    changed(key, *change);
    publish();
  }
}

void HealthManager::changed(const BackendKey& key, const Transition& transition) {
  auto level = transition.to == HostState::kIdle ? spdlog::level::info : spdlog::level::warn;
  if (auto p = probed_.find(key); p != probed_.end()) {
    spdlog::log(level, "backend {} of {}: {}", p->second.backend, p->second.vip,
                describe(transition));
  } else {
    spdlog::log(level, "backend {}: {}", key, describe(transition));
  }
}

HealthVerdicts HealthManager::verdicts() const {
  return HealthVerdicts{.hosts = hosts_.healthVerdicts(), .startUp = scoring_.startUp};
}

void HealthManager::publish() {
  if (publishQueued_) {
    return;
  }
  publishQueued_ = true;
  asio::post(io_, [this] {
    publishQueued_ = false;
    if (listener_) {
      listener_(verdicts());
    }
  });
}

nlohmann::json HealthManager::table(const std::optional<ServiceKey>& vip) const {
  auto now = std::chrono::steady_clock::now();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : hosts_.rows(now)) {
    auto p = probed_.find(row.key);
    if (p == probed_.end() || (vip && p->second.vip != vip->toString())) {
      continue;
    }
    nlohmann::json j = {{"vip", p->second.vip},
                        {"backend", p->second.backend},
                        {"check", p->second.spec.describe()},
                        {"state", hostStateName(row.state)},
                        {"up", row.up},
                        {"queue", queueName(row.queue)},
                        {"vsucc", row.vsucc},
                        {"verr", row.verr},
                        {"rsucc", row.rsucc},
                        {"rerr", row.rerr},
                        {"contin_succ", row.continSucc},
                        {"contin_err", row.continErr},
                        {"error_rate", row.errorRate},
                        {"since_change_ms", row.sinceChange.count()},
                        {"last_reason", row.lastReason}};
    j["latency_us"] = row.latency ? nlohmann::json(row.latency->count()) : nlohmann::json(nullptr);
    if (auto r = lastResult_.find(row.key); r != lastResult_.end()) {
      j["last_probe"] = r->second.ok ? "ok" : r->second.detail;
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<HealthMetrics> HealthManager::metrics() const {
  auto now = std::chrono::steady_clock::now();
  std::vector<HealthMetrics> out;
  for (const auto& row : hosts_.rows(now)) {
    auto p = probed_.find(row.key);
    if (p == probed_.end()) {
      continue;
    }
    HealthMetrics m{.vip = p->second.vip,
                    .backend = p->second.backend,
                    .state = std::string(hostStateName(row.state)),
                    .queue = std::string(queueName(row.queue)),
                    .durations = Histogram(kProbeDurationBuckets),
                    .failures = {}};
    if (auto s = probeStats_.find(row.key); s != probeStats_.end()) {
      m.durations = s->second.durations;
      m.failures = s->second.failures;
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace lb4
