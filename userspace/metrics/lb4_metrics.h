// The metrics lb4d exposes (names fixed at v1, see docs/observability.md):
// a plain snapshot the daemon fills from the Controller, HealthManager and
// control socket, and its rendering as Prometheus text. Label names are
// vip, backend, family, proto, reason, state, interface, plus command (control
// requests), mode (attachments, VIPs), map (map memory: one per BPF map of
// lb4) and version/commit (build info): each bounded by the configuration or
// the program, never per flow.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bpf/lb4_abi.h"
#include "userspace/metrics/exposition.h"

namespace lb4 {

// Upper bounds (seconds) of the health check duration histogram.
inline const std::vector<double> kProbeDurationBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct VipMetrics {
  std::string vip;     // "198.18.1.100:80/tcp"
  std::string family;  // "ipv4", "ipv6"
  std::string proto;   // "tcp", "udp"
  std::string mode;    // "dr", "nat", "tun"
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t newConnections = 0;
  uint64_t dropped = 0;
  bool allDown = false;  // serving from its last table: every backend down
};

struct BackendMetrics {
  std::string vip;
  std::string backend;  // endpoint as configured, "198.18.0.11" or "198.18.0.11:8080"
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t newConnections = 0;
  uint64_t dropped = 0;
  uint32_t weight = 0;           // configured
  uint32_t effectiveWeight = 0;  // in the VIP's table now
  bool up = false;               // its kernel entry is enabled and health does not remove it
  bool drained = false;
};

// One probed backend as health sees it.
struct HealthMetrics {
  std::string vip;
  std::string backend;
  std::string state;  // host_info state: idle, overload, down
  std::string queue;  // host_info queue: idle, overload
  Histogram durations{kProbeDurationBuckets};
  std::map<std::string, uint64_t> failures;  // by reason (probeFailureReason)
};

struct AttachmentMetrics {
  std::string interface;
  std::string mode;  // "native", "generic"
};

struct MetricsSnapshot {
  std::string version;
  std::string commit;
  double startTimeSeconds = 0;  // unix time lb4d started
  std::vector<AttachmentMetrics> attachments;
  std::vector<VipMetrics> vips;
  std::vector<BackendMetrics> backends;
  std::vector<HealthMetrics> health;
  // Global data-plane counters (LB4_STATS order); empty while nothing is attached.
  std::vector<uint64_t> dataplane;
  std::optional<uint64_t> conntrackEntries;  // when the maps are open
  uint64_t conntrackCapacity = 0;            // entries in total
  uint64_t conntrackCapacityPerCpu = 0;
  uint64_t unresolvedMacs = 0;
  // Memory the kernel charges for each BPF map (by map name), when open.
  std::vector<std::pair<std::string, uint64_t>> mapMemory;
  // Maglev tables built and swapped in, and their durations.
  uint64_t ringBuilds = 0;
  Histogram ringBuildSeconds;
  // Control requests by (command, result "ok" or "error").
  std::map<std::pair<std::string, std::string>, uint64_t> requests;
};

std::string renderMetrics(const MetricsSnapshot& snapshot);

}  // namespace lb4
