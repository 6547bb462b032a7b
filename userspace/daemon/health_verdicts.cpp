#include "userspace/daemon/health_verdicts.h"

#include "userspace/daemon/neighbour.h"

namespace lb4 {
namespace {

// The hop the data plane takes to a direct-routing backend: the egress
// interface of its route (lb4 transmits only there; an egress that is not
// attached already keeps the backend disabled) and its MAC, configured or
// from that interface's neighbour table.
Result<PathHop> drHop(const IpAddress& backend, const std::optional<MacAddress>& configured,
                      Family family) {
  auto route = lookupRoute(backend);
  if (!route) {
    return std::move(route).takeError();
  }
  if (route->local || route->viaGateway) {
    return makeError("{} is not on a directly attached segment", backend.toString());
  }
  auto hop = interfaceHop(route->ifindex, family);
  if (!hop) {
    return hop;
  }
  if (configured) {
    hop->dstMac = *configured;
    return hop;
  }
  auto entry = lookupNeighbour(backend, {route->ifindex});
  if (!entry) {
    return std::move(entry).takeError();
  }
  if (!*entry) {
    solicitNeighbour(backend);
    return makeError("MAC of {} not known yet", backend.toString());
  }
  hop->dstMac = (*entry)->mac;
  return hop;
}

}  // namespace

BackendKey healthKey(const VipConfig& vip, const BackendConfig& backend) {
  return vip.key.toString() + " " + backend.endpoint.toString();
}

std::optional<ProbeSpec> probeSpecFor(const VipConfig& vip, const BackendConfig& backend) {
  HealthCheck hc = vip.healthCheck(backend);
  std::optional<ProbeKind> kind;
  switch (hc.kind) {
    case CheckKind::kNone:
      return std::nullopt;
    case CheckKind::kTcp:
      kind = ProbeKind::kTcp;
      break;
    case CheckKind::kHttp:
      kind = ProbeKind::kHttp;
      break;
    case CheckKind::kUdp:
      kind = ProbeKind::kUdp;
      break;
    case CheckKind::kExec:
      kind = ProbeKind::kExec;
      break;
  }
  if (!kind) {
    return std::nullopt;
  }
  uint16_t port = hc.port ? hc.port : backend.endpoint.port ? backend.endpoint.port : vip.key.port;
  if (port == 0 && *kind != ProbeKind::kExec) {
    return std::nullopt;  // all-ports VIP without a probe port: nothing to probe
  }
  ProbeSpec spec{.kind = *kind,
                 .addr = backend.endpoint.addr,
                 .port = port,
                 .timeout = std::chrono::milliseconds(hc.timeoutMs)};
  spec.httpPath = hc.httpPath;
  spec.httpStatusMin = hc.httpStatusMin;
  spec.httpStatusMax = hc.httpStatusMax;
  spec.httpExpectBody = hc.httpExpect;
  spec.udpPayload = hc.udpPayload;
  spec.udpExpect = hc.udpExpect;
  spec.execArgv = hc.command;
  if (*kind == ProbeKind::kTcp && vip.mode == ForwardingMode::kDr && hc.probe == "path") {
    spec.pathVip = vip.key.addr;
    spec.resolveHop = [addr = backend.endpoint.addr, mac = backend.mac,
                       family = vip.key.addr.family] { return drHop(addr, mac, family); };
  }
  return spec;
}

Verdict verdictOf(const HealthVerdicts& verdicts, const VipConfig& vip,
                  const BackendConfig& backend) {
  if (auto it = verdicts.hosts.find(healthKey(vip, backend)); it != verdicts.hosts.end()) {
    return it->second.apply(backend.weight);
  }
  if (!verdicts.startUp && probeSpecFor(vip, backend)) {
    return Verdict{.action = DataplaneAction::kRemove, .weight = 0};
  }
  return Verdict{.action = DataplaneAction::kServe, .weight = backend.weight};
}

}  // namespace lb4
