// HealthManager: runs the health checks of every backend (ProbeScheduler)
// and feeds their results into the host_info table (HostTable). Its verdicts
// decide what the Controller writes to the data plane: serve with a weight,
// quiesce (weight 0, established flows continue) or remove. Every state
// change is logged with its reason and re-applies the affected VIPs.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <asio.hpp>
#include <nlohmann/json.hpp>

#include "userspace/daemon/controller.h"
#include "userspace/health/probe.h"
#include "userspace/scoring/host_info.h"

namespace lb4 {

class HealthManager {
 public:
  HealthManager(asio::io_context& io, Controller& controller, ScoringConfig scoring);
  ~HealthManager();

  // Starts the 1 s timer that drives windows and probation.
  void start();
  void stop();

  // Brings the probe set in line with the desired state: new backends are
  // probed, removed ones forgotten, changed checks restarted.
  void sync(const DesiredState& state);

  Verdict verdict(const VipConfig& vip, const BackendConfig& backend) const;
  // The `lb4ctl health` table.
  nlohmann::json table(const std::optional<ServiceKey>& vip) const;

  static BackendKey keyOf(const VipConfig& vip, const BackendConfig& backend);

 private:
  struct Probed {
    std::string vip;
    std::string backend;
    ProbeSpec spec;
    HealthCheck check;
    ScoringConfig scoring;
    uint32_t backendId = 0;
    uint32_t backendGen = 0;
    bool passive = false;  // NAT: replies pass through lb4 and carry signals
  };
  void readPassiveSignals(SteadyTime now, std::vector<KeyedTransition>& transitions);
  void onResult(const BackendKey& key, const ProbeResult& result);
  void changed(const BackendKey& key, const Transition& transition);
  asio::awaitable<void> tickLoop();

  asio::io_context& io_;
  Controller& controller_;
  ScoringConfig scoring_;
  HostTable hosts_;
  ProbeScheduler probes_;
  std::map<BackendKey, Probed> probed_;
  std::map<BackendKey, ProbeResult> lastResult_;
  std::map<BackendKey, lb4_signals> lastSignals_;
  bool running_ = false;
  std::shared_ptr<asio::steady_timer> ticker_;
};

}  // namespace lb4
