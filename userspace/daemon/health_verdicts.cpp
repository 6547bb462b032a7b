#include "userspace/daemon/health_verdicts.h"

namespace lb4 {

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
