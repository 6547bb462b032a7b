// Controller::fillMetrics: the Controller's part of a metrics scrape, read
// from the desired state, the applied kernel view, the attachments and the
// data plane's counters. Read only.
#include <spdlog/spdlog.h>

#include "userspace/daemon/controller.h"

namespace lb4 {

void Controller::fillMetrics(MetricsSnapshot& out) const {
  out.startTimeSeconds = std::chrono::duration<double>(startedWall_.time_since_epoch()).count();
  for (const auto& [name, attachment] : attachments_) {
    out.attachments.push_back(
        AttachmentMetrics{.interface = name, .mode = xdpModeName(attachment.mode())});
  }
  out.unresolvedMacs = neighbours_.pendingCount();
  out.ringBuilds = ringStats_.builds;
  out.ringBuildSeconds = ringStats_.seconds;
  out.conntrackCapacity = config_.conntrackSize;
  int cpus = possibleCpus();
  out.conntrackCapacityPerCpu = cpus > 0 ? config_.conntrackSize / static_cast<uint32_t>(cpus) : 0;
  auto counters = stats(std::nullopt);
  if (!counters) {
    spdlog::warn("metrics: {}", counters.error());
  }
  if (counters && dataplane_) {
    for (const auto& [name, value] : counters->global) {
      out.dataplane.push_back(value);
    }
  }
  if (dataplane_) {
    if (auto maps = dataplane_->mapMemory()) {
      for (const auto& m : *maps) {
        out.mapMemory.emplace_back(m.name, m.memlock);
      }
    } else {
      spdlog::warn("metrics: {}", maps.error());
    }
    if (auto entries = dataplane_->conntrackEntries()) {
      out.conntrackEntries = *entries;
    } else {
      spdlog::warn("metrics: {}", entries.error());
    }
  }
  RuntimeView rt = runtime();
  auto traffic = [&](const std::map<uint32_t, lb4_traffic>* m, uint32_t id) {
    if (!counters || !m) {
      return lb4_traffic{};
    }
    auto it = m->find(id);
    return it == m->end() ? lb4_traffic{} : it->second;
  };
  for (const auto& vip : state_.vips) {
    std::string name = vip.key.toString();
    lb4_traffic vt = traffic(counters ? &counters->vips : nullptr, vip.id);
    out.vips.push_back(VipMetrics{.vip = name,
                                  .family = vip.key.addr.family == Family::kIpv6 ? "ipv6" : "ipv4",
                                  .proto = std::string(protoName(vip.key.proto)),
                                  .mode = std::string(modeName(vip.mode)),
                                  .packets = vt.packets,
                                  .bytes = vt.bytes,
                                  .newConnections = vt.new_connections,
                                  .dropped = vt.dropped,
                                  .allDown = rt.allDown.count(vip.id) > 0});
    for (const auto& b : vip.backends) {
      lb4_traffic bt = traffic(counters ? &counters->backends : nullptr, b.id);
      auto r = rt.backends.find(b.id);
      bool enabled = r != rt.backends.end() && r->second.enabled;
      bool removed = r != rt.backends.end() && r->second.health == "remove";
      out.backends.push_back(
          BackendMetrics{.vip = name,
                         .backend = b.endpoint.toString(),
                         .packets = bt.packets,
                         .bytes = bt.bytes,
                         .newConnections = bt.new_connections,
                         .dropped = bt.dropped,
                         .weight = b.weight,
                         .effectiveWeight = r != rt.backends.end() ? r->second.effectiveWeight : 0,
                         .up = enabled && !removed,
                         .drained = b.drained});
    }
  }
}

}  // namespace lb4
