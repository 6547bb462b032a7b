// Health verdicts as data: the snapshot HealthManager publishes to the
// Controller whenever a verdict changes, and the rules both sides share for
// which backends are probed and what a backend health has not seen yet gets.
#pragma once

#include <map>
#include <optional>

#include "userspace/health/probe.h"
#include "userspace/scoring/host_info.h"
#include "userspace/state/state.h"

namespace lb4 {

struct HealthVerdicts {
  // Probed backends by health key (healthKey()).
  std::map<BackendKey, HealthVerdict> hosts;
  // scoring.start_up: a backend health has not seen yet starts trusted.
  bool startUp = true;
};

// The key health knows a backend by: "<vip> <backend endpoint>".
BackendKey healthKey(const VipConfig& vip, const BackendConfig& backend);

// The probe of a backend; none when its check is "none", or when an
// all-ports VIP's check names no port (and runs no command).
std::optional<ProbeSpec> probeSpecFor(const VipConfig& vip, const BackendConfig& backend);

// The verdict of one backend: health's, or for a backend health has not seen
// yet (added a moment ago, or before the first verdicts) serve at its
// configured weight, unless start_up is off and it will be probed.
Verdict verdictOf(const HealthVerdicts& verdicts, const VipConfig& vip,
                  const BackendConfig& backend);

}  // namespace lb4
