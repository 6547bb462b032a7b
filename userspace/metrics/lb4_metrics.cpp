#include "userspace/metrics/lb4_metrics.h"

#include <string_view>

namespace lb4 {
namespace {

// Every global data-plane counter, from the one list in bpf/lb4_abi.h.
struct StatInfo {
  std::string_view name;
  std::string_view help;
};
constexpr StatInfo kStats[] = {
#define LB4_METRIC_STAT(NAME, name, help) {name, help},
    LB4_STATS(LB4_METRIC_STAT)
#undef LB4_METRIC_STAT
};
static_assert(sizeof(kStats) / sizeof(kStats[0]) == LB4_STAT_MAX);

constexpr std::string_view kDropPrefix = "drop_";

Labels vipLabels(const VipMetrics& v) {
  return {{"vip", v.vip}, {"family", v.family}, {"proto", v.proto}};
}

Labels backendLabels(const std::string& vip, const std::string& backend) {
  return {{"vip", vip}, {"backend", backend}};
}

void dataplaneCounters(Exposition& e, const std::vector<uint64_t>& values, bool drops) {
  if (drops) {
    e.begin("lb4_dataplane_drops_total", MetricType::kCounter,
            "Packets addressed to a VIP that the XDP program dropped, by reason "
            "(the drop_* counters of lb4ctl stats without the prefix).");
  } else {
    e.begin("lb4_dataplane_packets_total", MetricType::kCounter,
            "What the XDP program did with or found for a packet, by reason (the other counters "
            "of lb4ctl stats); a packet can count under several reasons, e.g. ct_miss and tx.");
  }
  for (size_t i = 0; i < values.size() && i < LB4_STAT_MAX; ++i) {
    std::string_view name = kStats[i].name;
    bool drop = name.substr(0, kDropPrefix.size()) == kDropPrefix;
    if (drop != drops) {
      continue;
    }
    std::string reason(drop ? name.substr(kDropPrefix.size()) : name);
    e.sample({{"reason", reason}}, values[i]);
  }
}

}  // namespace

std::string renderMetrics(const MetricsSnapshot& s) {
  Exposition e;
  e.begin("lb4_build_info", MetricType::kGauge,
          "Always 1; the lb4d version and the git commit it was built from.");
  e.sample({{"version", s.version}, {"commit", s.commit}}, uint64_t{1});
  e.begin("lb4_start_time_seconds", MetricType::kGauge, "When lb4d started, in unix seconds.");
  e.sample({}, s.startTimeSeconds);

  e.begin(
      "lb4_xdp_attached", MetricType::kGauge,
      "1 for each interface the XDP program is attached to, with its mode (native or generic).");
  for (const auto& a : s.attachments) {
    e.sample({{"interface", a.interface}, {"mode", a.mode}}, uint64_t{1});
  }

  e.begin("lb4_vip_info", MetricType::kGauge,
          "1 for each configured VIP, with its forwarding mode.");
  for (const auto& v : s.vips) {
    Labels l = vipLabels(v);
    l.emplace_back("mode", v.mode);
    e.sample(l, uint64_t{1});
  }
  e.begin("lb4_vip_packets_total", MetricType::kCounter, "Packets forwarded for the VIP.");
  for (const auto& v : s.vips) {
    e.sample(vipLabels(v), v.packets);
  }
  e.begin("lb4_vip_bytes_total", MetricType::kCounter,
          "Bytes of the packets forwarded for the VIP, as received (frame length).");
  for (const auto& v : s.vips) {
    e.sample(vipLabels(v), v.bytes);
  }
  e.begin("lb4_vip_new_connections_total", MetricType::kCounter,
          "New connections to the VIP: flows scheduled to a backend and given a conntrack entry.");
  for (const auto& v : s.vips) {
    e.sample(vipLabels(v), v.newConnections);
  }
  e.begin("lb4_vip_drops_total", MetricType::kCounter,
          "Packets to the VIP the data plane dropped, for any reason (lb4_dataplane_drops_total "
          "has the reasons).");
  for (const auto& v : s.vips) {
    e.sample(vipLabels(v), v.dropped);
  }
  e.begin("lb4_vip_all_backends_down", MetricType::kGauge,
          "1 while every backend of the VIP is down and it serves from its last table.");
  for (const auto& v : s.vips) {
    e.sample(vipLabels(v), uint64_t{v.allDown ? 1u : 0u});
  }

  e.begin("lb4_backend_packets_total", MetricType::kCounter, "Packets forwarded to the backend.");
  for (const auto& b : s.backends) {
    e.sample(backendLabels(b.vip, b.backend), b.packets);
  }
  e.begin("lb4_backend_bytes_total", MetricType::kCounter,
          "Bytes of the packets forwarded to the backend, as received (frame length).");
  for (const auto& b : s.backends) {
    e.sample(backendLabels(b.vip, b.backend), b.bytes);
  }
  e.begin("lb4_backend_new_connections_total", MetricType::kCounter,
          "New connections scheduled to the backend.");
  for (const auto& b : s.backends) {
    e.sample(backendLabels(b.vip, b.backend), b.newConnections);
  }
  e.begin("lb4_backend_drops_total", MetricType::kCounter,
          "Packets dropped after the backend was chosen (no route, no egress, too large).");
  for (const auto& b : s.backends) {
    e.sample(backendLabels(b.vip, b.backend), b.dropped);
  }
  e.begin("lb4_backend_weight", MetricType::kGauge, "The backend's configured weight.");
  for (const auto& b : s.backends) {
    e.sample(backendLabels(b.vip, b.backend), uint64_t{b.weight});
  }
  e.begin("lb4_backend_effective_weight", MetricType::kGauge,
          "The backend's weight in the VIP's Maglev table now (0: no new flows).");
  for (const auto& b : s.backends) {
    e.sample(backendLabels(b.vip, b.backend), uint64_t{b.effectiveWeight});
  }
  e.begin("lb4_backend_up", MetricType::kGauge,
          "1 when the backend's kernel entry is enabled and health does not remove it.");
  for (const auto& b : s.backends) {
    e.sample(backendLabels(b.vip, b.backend), uint64_t{b.up ? 1u : 0u});
  }
  e.begin("lb4_backend_drained", MetricType::kGauge, "1 when the operator drained the backend.");
  for (const auto& b : s.backends) {
    e.sample(backendLabels(b.vip, b.backend), uint64_t{b.drained ? 1u : 0u});
  }

  static constexpr std::string_view kStates[] = {"idle", "overload", "down"};
  e.begin("lb4_backend_state", MetricType::kGauge,
          "host_info state of a probed backend: 1 for the state it is in, 0 for the others.");
  for (const auto& h : s.health) {
    for (std::string_view st : kStates) {
      Labels l = backendLabels(h.vip, h.backend);
      l.emplace_back("state", std::string(st));
      e.sample(l, uint64_t{h.state == st ? 1u : 0u});
    }
  }
  static constexpr std::string_view kQueues[] = {"idle", "overload"};
  e.begin("lb4_backend_queue", MetricType::kGauge,
          "host_info queue of a probed backend (label state): 1 for its queue, 0 for the other.");
  for (const auto& h : s.health) {
    for (std::string_view q : kQueues) {
      Labels l = backendLabels(h.vip, h.backend);
      l.emplace_back("state", std::string(q));
      e.sample(l, uint64_t{h.queue == q ? 1u : 0u});
    }
  }
  e.begin("lb4_health_check_duration_seconds", MetricType::kHistogram,
          "Time from the start of a health check to its verdict (timeouts included).");
  for (const auto& h : s.health) {
    e.histogram(backendLabels(h.vip, h.backend), h.durations);
  }
  e.begin("lb4_health_check_failures_total", MetricType::kCounter,
          "Failed health checks, by reason (timeout, refused, connect, io, response, exit, "
          "error).");
  for (const auto& h : s.health) {
    for (const auto& [reason, n] : h.failures) {
      Labels l = backendLabels(h.vip, h.backend);
      l.emplace_back("reason", reason);
      e.sample(l, n);
    }
  }

  dataplaneCounters(e, s.dataplane, false);
  dataplaneCounters(e, s.dataplane, true);

  e.begin("lb4_conntrack_entries", MetricType::kGauge,
          "Flows in the conntrack table now (absent while nothing is attached).");
  if (s.conntrackEntries) {
    e.sample({}, *s.conntrackEntries);
  }
  e.begin("lb4_conntrack_capacity", MetricType::kGauge,
          "Flows the conntrack table holds in total (conntrack_size).");
  e.sample({}, s.conntrackCapacity);
  e.begin("lb4_conntrack_capacity_per_cpu", MetricType::kGauge,
          "Flows one CPU's share of the per-CPU LRU conntrack table holds.");
  e.sample({}, s.conntrackCapacityPerCpu);
  e.begin("lb4_unresolved_macs", MetricType::kGauge,
          "DR backends whose MAC address lb4d is still resolving.");
  e.sample({}, s.unresolvedMacs);
  e.begin("lb4_map_memory_bytes", MetricType::kGauge,
          "Memory the kernel charges for each BPF map of lb4 (memlock; absent while no map is "
          "open).");
  for (const auto& [name, bytes] : s.mapMemory) {
    e.sample({{"map", name}}, bytes);
  }

  e.begin("lb4_maglev_table_builds_total", MetricType::kCounter,
          "Maglev tables built and swapped into lb4_rings (one per VIP whose table changed).");
  e.sample({}, s.ringBuilds);
  e.begin("lb4_maglev_table_build_duration_seconds", MetricType::kHistogram,
          "Time to build one VIP's Maglev table and swap it in (one map update).");
  e.histogram({}, s.ringBuildSeconds);

  e.begin("lb4_control_requests_total", MetricType::kCounter,
          "Requests on the control socket, by command and result (label state: ok or error).");
  for (const auto& [key, n] : s.requests) {
    e.sample({{"command", key.first}, {"state", key.second}}, n);
  }
  return e.take();
}

}  // namespace lb4
