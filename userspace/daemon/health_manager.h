// HealthManager: runs the health checks of every backend (ProbeScheduler)
// and feeds their results into the host_info table (HostTable). Its verdicts
// decide what the Controller writes to the data plane: serve with a weight,
// quiesce (weight 0, established flows continue) or remove. Every state
// change is logged with its reason and published as a HealthVerdicts
// snapshot, delivered from the io_context (never from inside a call into
// this class). It knows nothing of the Controller: it is told the desired
// state through sync() and reads passive signals through a SignalReader.
#pragma once

#include <asio.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bpf/lb4_abi.h"
#include "userspace/common/result.h"
#include "userspace/daemon/health_verdicts.h"
#include "userspace/health/probe.h"
#include "userspace/metrics/lb4_metrics.h"
#include "userspace/scoring/host_info.h"

namespace lb4 {

class HealthManager {
 public:
  // Passive health signals of a backend id (NAT replies counted by the data plane).
  using SignalReader = std::function<Result<lb4_signals>(uint32_t backendId)>;
  using VerdictListener = std::function<void(const HealthVerdicts&)>;

  HealthManager(asio::io_context& io, ScoringConfig scoring, SignalReader readSignals);
  ~HealthManager();

  // Who hears about verdict changes.
  void onVerdicts(VerdictListener listener) { listener_ = std::move(listener); }

  // Starts the 1 s timer that drives windows and probation.
  void start();
  void stop();

  // Brings the probe set in line with the desired state: new backends are
  // probed, removed ones forgotten, changed checks restarted.
  void sync(const DesiredState& state);

  // The verdicts as they stand.
  HealthVerdicts verdicts() const;
  // The `lb4ctl health` table.
  nlohmann::json table(const std::optional<ServiceKey>& vip) const;
  // Every probed backend's state, check durations and failures by reason.
  std::vector<HealthMetrics> metrics() const;

 private:
  struct Probed {
    std::string vip;
    std::string backend;
    ProbeSpec spec;
    HealthCheck check;
    ScoringConfig scoring;
    uint32_t backendId = 0;
    uint32_t backendGen = 0;
    bool passive = false;           // NAT: replies pass through lb4 and carry signals
    std::optional<MacAddress> mac;  // configured; a path probe sends to it
  };
  void readPassiveSignals(SteadyTime now, std::vector<KeyedTransition>& transitions);
  void onResult(const BackendKey& key, const ProbeResult& result);
  void changed(const BackendKey& key, const Transition& transition);
  // Delivers verdicts() to the listener from the io_context (once per turn).
  void publish();
  asio::awaitable<void> tickLoop();

  asio::io_context& io_;
  ScoringConfig scoring_;
  SignalReader readSignals_;
  VerdictListener listener_;
  bool publishQueued_ = false;
  HostTable hosts_;
  ProbeScheduler probes_;
  std::map<BackendKey, Probed> probed_;
  std::map<BackendKey, ProbeResult> lastResult_;
  std::map<BackendKey, lb4_signals> lastSignals_;
  // Durations and failures of each backend's checks since it was added.
  struct ProbeStats {
    Histogram durations{kProbeDurationBuckets};
    std::map<std::string, uint64_t> failures;
  };
  std::map<BackendKey, ProbeStats> probeStats_;
  bool running_ = false;
  std::shared_ptr<asio::steady_timer> ticker_;
};

}  // namespace lb4
