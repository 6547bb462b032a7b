#include "userspace/api/handlers.h"

namespace lb4 {
namespace {

nlohmann::json trafficJson(const lb4_traffic& t) {
  return {{"packets", t.packets},
          {"bytes", t.bytes},
          {"new_connections", t.new_connections},
          {"dropped", t.dropped}};
}

lb4_traffic trafficOf(const std::map<uint32_t, lb4_traffic>& counters, uint32_t id) {
  auto it = counters.find(id);
  return it == counters.end() ? lb4_traffic{} : it->second;
}

// set-health: the VIP's check, or one backend's own check starting from what
// it has now.
Status applySetHealth(DesiredState& next, const Request& req) {
  const VipConfig* vip = next.findVip(*req.vip);
  if (!vip) {
    return makeError("set health check of {}: no such VIP", req.vip->toString());
  }
  if (req.backend) {
    const BackendConfig* b = vip->findBackend(req.backend->addr);
    if (!b) {
      return makeError("set health check of backend {} of {}: no such backend",
                       req.backend->toString(), req.vip->toString());
    }
    auto hc = HealthCheck::fromJson(*req.health, vip->healthCheck(*b));
    if (!hc) {
      return makeError("set health check of backend {} of {}: {}", req.backend->toString(),
                       req.vip->toString(), hc.error());
    }
    return next.setBackendHealth(*req.vip, req.backend->addr, *hc);
  }
  auto hc = HealthCheck::fromJson(*req.health, vip->healthCheck());
  if (!hc) {
    return makeError("set health check of {}: {}", req.vip->toString(), hc.error());
  }
  return next.setHealth(*req.vip, *hc);
}

// "allow 198.18.0.0/16 198.18.9.0/24, deny 198.18.9.9/32", or "every source".
std::string describeSources(const VipConfig& v) {
  std::string out;
  for (const auto* list : {&v.allow, &v.deny}) {
    if (list->empty()) {
      continue;
    }
    out += out.empty() ? "" : ", ";
    out += list == &v.allow ? "allow" : "deny";
    for (const auto& p : *list) {
      out += " " + p.toString();
    }
  }
  return out.empty() ? "every source" : out;
}

}  // namespace

nlohmann::json renderGateway(const DaemonStatus& status, const DesiredState& state) {
  const BgpStatus& b = status.bgp;
  nlohmann::json bgp = {{"enabled", b.enabled}};
  if (b.enabled) {
    bgp["include_file"] = b.includeFile;
    bgp["bird_socket"] = b.birdSocket;
    bgp["wanted"] = b.wanted;
    bgp["announced"] = b.announced;
    bgp["in_sync"] = b.inSync;
    bgp["last_error"] = b.lastError.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.lastError);
    bgp["failures"] = b.failures;
    bgp["last_ok_s_ago"] = b.lastOkAgoS ? nlohmann::json(*b.lastOkAgoS) : nlohmann::json(nullptr);
  }
  return {
      {"drained", state.gatewayDrained}, {"servable", status.servable}, {"bgp", std::move(bgp)}};
}

Status checkVipExists(std::string_view verb, const DesiredState& state,
                      const std::optional<ServiceKey>& vip) {
  if (vip && !state.findVip(*vip)) {
    return makeError("{} {}: no such VIP", verb, vip->toString());
  }
  return {};
}

Status applyChange(DesiredState& next, const Request& req, uint32_t defaultRingSize) {
  switch (req.op) {
    case Op::kAddVip: {
      if (auto s = next.addVip(*req.vip, req.mode.value_or(ForwardingMode::kDr),
                               req.ringSize.value_or(defaultRingSize));
          !s || (!req.allow && !req.deny)) {
        return s;
      }
      return next.setSources(*req.vip, req.allow.value_or(std::vector<IpPrefix>{}),
                             req.deny.value_or(std::vector<IpPrefix>{}));
    }
    case Op::kSetSources:
      return next.setSources(*req.vip, req.allow.value_or(std::vector<IpPrefix>{}),
                             req.deny.value_or(std::vector<IpPrefix>{}));
    case Op::kDelVip:
      return next.delVip(*req.vip);
    case Op::kAddBackend:
      return next.addBackend(*req.vip, *req.backend, req.weight.value_or(kDefaultWeight), req.mac);
    case Op::kDelBackend:
      return next.delBackend(*req.vip, req.backend->addr);
    case Op::kSetWeight:
      return next.setWeight(*req.vip, req.backend->addr, *req.weight);
    case Op::kDrain:
    case Op::kUndrain:
      return next.setDrained(*req.vip, req.backend->addr, req.op == Op::kDrain);
    case Op::kSetHealth:
      return applySetHealth(next, req);
    case Op::kGatewayDrain:
    case Op::kGatewayUndrain:
      next.gatewayDrained = req.op == Op::kGatewayDrain;
      return {};
    case Op::kStatus:
    case Op::kList:
    case Op::kStats:
    case Op::kHealth:
    case Op::kAttach:
    case Op::kDetach:
    case Op::kLogLevel:
    case Op::kDoctor:
    case Op::kTrace:
    case Op::kApply:
      break;
  }
  return makeError("{}: not a state change", opName(req.op));
}

std::string describeChange(const Request& req, const DesiredState& state) {
  std::string op(opName(req.op));
  std::string vip = req.vip ? req.vip->toString() : "?";
  std::string backend = req.backend ? req.backend->toString() : "?";
  const VipConfig* v = req.vip ? state.findVip(*req.vip) : nullptr;
  switch (req.op) {
    case Op::kAddVip:
      if (v) {
        std::string out =
            fmt::format("add-vip {} mode {} ring {}", vip, modeName(v->mode), v->ringSize);
        if (!v->allow.empty() || !v->deny.empty()) {
          out += ", " + describeSources(*v);
        }
        return out;
      }
      return fmt::format("add-vip {}", vip);
    case Op::kDelVip:
      return fmt::format("del-vip {}", vip);
    case Op::kSetSources:
      if (v) {
        return fmt::format("set-sources of {}: {}", vip, describeSources(*v));
      }
      return fmt::format("set-sources of {}", vip);
    case Op::kAddBackend: {
      std::string out = fmt::format("add-backend {} to {} weight {}", backend, vip,
                                    req.weight.value_or(kDefaultWeight));
      if (req.mac) {
        out += " mac " + formatMac(*req.mac);
      }
      return out;
    }
    case Op::kDelBackend:
      return fmt::format("del-backend {} from {}", backend, vip);
    case Op::kSetWeight:
      return fmt::format("set-weight {} of {} to {}", backend, vip, req.weight.value_or(0));
    case Op::kDrain:
    case Op::kUndrain:
      return fmt::format("{} {} of {}", op, backend, vip);
    case Op::kSetHealth: {
      std::string fields;
      if (req.health) {
        for (const auto& [key, value] : req.health->items()) {
          fields += fmt::format(" {}={}", key,
                                value.is_string() ? value.get<std::string>() : value.dump());
        }
      }
      if (req.backend) {
        return fmt::format("set-health of backend {} of {}:{}", backend, vip, fields);
      }
      return fmt::format("set-health of {}:{}", vip, fields);
    }
    default:
      return op;
  }
}

namespace {

nlohmann::json mapsJson(const std::vector<MapInfo>& maps) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : maps) {
    out.push_back({{"name", m.name}, {"entries", m.entries}, {"memlock_bytes", m.memlockBytes}});
  }
  return out;
}

// A per-CPU LRU gives each possible CPU size / CPUs entries. lb4 never
// deletes a conntrack entry, so a CPU holds the new flows inserted there up
// to its share, and each insert beyond it evicted one entry.
nlohmann::json conntrackJson(const StatsView::Conntrack& ct) {
  size_t cpus = ct.newFlows.size();
  uint64_t share = cpus == 0 ? 0 : ct.size / cpus;
  nlohmann::json perCpu = nlohmann::json::array();
  for (size_t i = 0; i < cpus; ++i) {
    uint64_t inserted = ct.newFlows[i];
    perCpu.push_back({{"cpu", i},
                      {"new_flows", inserted},
                      {"entries", std::min(inserted, share)},
                      {"evictions", inserted > share ? inserted - share : 0},
                      {"evicted_live", i < ct.evictedLive.size() ? ct.evictedLive[i] : 0}});
  }
  return {{"size", ct.size}, {"cpus", cpus}, {"share_per_cpu", share}, {"per_cpu", perCpu}};
}

}  // namespace

nlohmann::json renderStatus(const DaemonStatus& status, const DesiredState& state) {
  nlohmann::json ifaces = nlohmann::json::array();
  for (const auto& a : status.interfaces) {
    ifaces.push_back({{"interface", a.interface},
                      {"pin_dir", a.pinDir},
                      {"mode", a.mode},
                      {"method", a.method},
                      {"state", a.state},
                      {"rx_vlan_offload", a.rxVlanOffload ? nlohmann::json(*a.rxVlanOffload)
                                                          : nlohmann::json(nullptr)}});
  }
  size_t backends = 0;
  for (const auto& v : state.vips) {
    backends += v.backends.size();
  }
  return {{"version", status.version},
          {"api_version", kApiVersion},
          {"abi_version", LB4_ABI_VERSION},
          {"uptime_s", status.uptimeS},
          {"state_file", status.stateFile},
          {"adopted", status.adopted},
          {"interfaces", ifaces},
          {"vips", state.vips.size()},
          {"backends", backends},
          {"unresolved_macs", status.unresolvedMacs},
          {"gateway", renderGateway(status, state)},
          {"maps", mapsJson(status.maps)}};
}

nlohmann::json renderAttach(const AttachmentInfo& a) {
  return {{"interface", a.interface}, {"mode", a.mode}, {"method", a.method}};
}

nlohmann::json renderList(const DesiredState& state, const RuntimeView& runtime,
                          const std::optional<ServiceKey>& only) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& vip : state.vips) {
    if (only && !(vip.key == *only)) {
      continue;
    }
    nlohmann::json backends = nlohmann::json::array();
    for (const auto& b : vip.backends) {
      auto it = runtime.backends.find(b.id);
      BackendRuntime rt = it == runtime.backends.end() ? BackendRuntime{} : it->second;
      nlohmann::json jb = {{"address", b.endpoint.toString()},
                           {"weight", b.weight},
                           {"effective_weight", rt.effectiveWeight},
                           {"health", rt.health},
                           {"drained", b.drained},
                           {"enabled", rt.enabled},
                           {"id", b.id}};
      jb["mac"] = rt.mac ? nlohmann::json(formatMac(*rt.mac)) : nlohmann::json(nullptr);
      jb["mac_source"] = rt.mac ? nlohmann::json(rt.macSource) : nlohmann::json(nullptr);
      jb["mac_age_s"] = rt.macAgeS ? nlohmann::json(*rt.macAgeS) : nlohmann::json(nullptr);
      jb["reachable"] = rt.unreachable.empty();
      if (!rt.unreachable.empty()) {
        jb["unreachable"] = rt.unreachable;
      }
      backends.push_back(std::move(jb));
    }
    out.push_back({{"vip", vip.key.toString()},
                   {"mode", modeName(vip.mode)},
                   {"ring_size", vip.ringSize},
                   {"id", vip.id},
                   {"health", vip.healthCheck().toJson()},
                   {"all_backends_down", runtime.allDown.count(vip.id) > 0},
                   {"allow", prefixesToJson(vip.allow)},
                   {"deny", prefixesToJson(vip.deny)},
                   {"backends", std::move(backends)}});
  }
  return out;
}

nlohmann::json renderStats(const DesiredState& state, const StatsView& stats,
                           const std::optional<ServiceKey>& only) {
  nlohmann::json global = nlohmann::json::object();
  for (const auto& [name, value] : stats.global) {
    global[std::string(name)] = value;
  }
  nlohmann::json vips = nlohmann::json::array();
  for (const auto& vip : state.vips) {
    if (only && !(vip.key == *only)) {
      continue;
    }
    nlohmann::json backends = nlohmann::json::array();
    for (const auto& b : vip.backends) {
      nlohmann::json jb = trafficJson(trafficOf(stats.backends, b.id));
      jb["address"] = b.endpoint.toString();
      backends.push_back(std::move(jb));
    }
    nlohmann::json jv = trafficJson(trafficOf(stats.vips, vip.id));
    jv["vip"] = vip.key.toString();
    jv["backends"] = std::move(backends);
    vips.push_back(std::move(jv));
  }
  nlohmann::json out{{"global", global}, {"vips", vips}};
  if (stats.conntrack) {
    out["conntrack"] = conntrackJson(*stats.conntrack);
  }
  return out;
}

nlohmann::json renderChange(const Request& req, const DesiredState& state, bool enabled) {
  nlohmann::json result = nlohmann::json::object();
  if (req.vip) {
    result["vip"] = req.vip->toString();
  }
  if (req.backend) {
    const VipConfig* vip = state.findVip(*req.vip);
    const BackendConfig* b = vip ? vip->findBackend(req.backend->addr) : nullptr;
    result["backend"] = req.backend->toString();
    if (b) {
      result["id"] = b->id;
      result["enabled"] = enabled;
    }
  }
  return result;
}

}  // namespace lb4
