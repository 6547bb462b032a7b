#include "userspace/state/health_check.h"

#include <set>

namespace lb4 {

nlohmann::json HealthCheck::toJson() const {
  return {{"kind", checkKindName(kind)},
          {"port", port},
          {"interval_ms", intervalMs},
          {"timeout_ms", timeoutMs},
          {"rise", rise},
          {"fall", fall},
          {"http_path", httpPath},
          {"http_status_min", httpStatusMin},
          {"http_status_max", httpStatusMax},
          {"http_expect", httpExpect},
          {"udp_payload", udpPayload},
          {"udp_expect", udpExpect},
          {"command", command},
          {"probe", probe}};
}

namespace {

template <typename T>
Status readField(const nlohmann::json& json, const char* name, T& out) {
  if (!json.contains(name)) {
    return {};
  }
  const auto& v = json.at(name);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) {
      return makeError("health: field '{}' must be a string", name);
    }
    out = v.get<std::string>();
  } else if constexpr (std::is_same_v<T, CheckKind>) {
    if (!v.is_string()) {
      return makeError("health: field '{}' must be a string", name);
    }
    auto kind = parseCheckKind(v.get<std::string>());
    if (!kind) {
      return std::move(kind).takeError();
    }
    out = *kind;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!v.is_array()) {
      return makeError("health: field '{}' must be a list of strings", name);
    }
    std::vector<std::string> argv;
    for (const auto& a : v) {
      if (!a.is_string()) {
        return makeError("health: field '{}' must be a list of strings", name);
      }
      argv.push_back(a.get<std::string>());
    }
    out = std::move(argv);
  } else {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<uint64_t>() > std::numeric_limits<T>::max()) {
      return makeError("health: field '{}' must be an integer from 0 to {}", name,
                       std::numeric_limits<T>::max());
    }
    out = static_cast<T>(v.get<uint64_t>());
  }
  return {};
}

}  // namespace

std::string_view checkKindName(CheckKind kind) {
  switch (kind) {
    case CheckKind::kNone:
      return "none";
    case CheckKind::kTcp:
      return "tcp";
    case CheckKind::kHttp:
      return "http";
    case CheckKind::kUdp:
      return "udp";
    case CheckKind::kExec:
      return "exec";
  }
  return "?";
}

Result<CheckKind> parseCheckKind(std::string_view text) {
  for (CheckKind kind :
       {CheckKind::kNone, CheckKind::kTcp, CheckKind::kHttp, CheckKind::kUdp, CheckKind::kExec}) {
    if (text == checkKindName(kind)) {
      return kind;
    }
  }
  return makeError("health: kind '{}': expected none, tcp, http, udp or exec", text);
}

Result<HealthCheck> HealthCheck::fromJson(const nlohmann::json& json, const HealthCheck& base) {
  auto hc = merge(json, base);
  if (!hc) {
    return hc;
  }
  if (auto v = hc->validate(); !v) {
    return std::move(v).takeError();
  }
  return hc;
}

Result<HealthCheck> HealthCheck::merge(const nlohmann::json& json, const HealthCheck& base) {
  static const std::set<std::string> known = {"kind",
                                              "port",
                                              "interval_ms",
                                              "timeout_ms",
                                              "rise",
                                              "fall",
                                              "http_path",
                                              "http_status_min",
                                              "http_status_max",
                                              "http_expect",
                                              "udp_payload",
                                              "udp_expect",
                                              "command",
                                              "probe"};
  if (!json.is_object()) {
    return makeError("health: expected an object");
  }
  for (const auto& [name, value] : json.items()) {
    if (!known.count(name)) {
      return makeError("health: unknown field '{}'", name);
    }
  }
  HealthCheck hc = base;
  Status s;
  if (!(s = readField(json, "kind", hc.kind)) || !(s = readField(json, "port", hc.port)) ||
      !(s = readField(json, "interval_ms", hc.intervalMs)) ||
      !(s = readField(json, "timeout_ms", hc.timeoutMs)) ||
      !(s = readField(json, "rise", hc.rise)) || !(s = readField(json, "fall", hc.fall)) ||
      !(s = readField(json, "http_path", hc.httpPath)) ||
      !(s = readField(json, "http_status_min", hc.httpStatusMin)) ||
      !(s = readField(json, "http_status_max", hc.httpStatusMax)) ||
      !(s = readField(json, "http_expect", hc.httpExpect)) ||
      !(s = readField(json, "udp_payload", hc.udpPayload)) ||
      !(s = readField(json, "udp_expect", hc.udpExpect)) ||
      !(s = readField(json, "command", hc.command)) || !(s = readField(json, "probe", hc.probe))) {
    return std::move(s).takeError();
  }
  return hc;
}

Status HealthCheck::validate() const {
  if (intervalMs < 100 || intervalMs > 3600000) {
    return makeError("health: interval_ms {} out of range 100..3600000", intervalMs);
  }
  if (timeoutMs < 10 || timeoutMs > intervalMs) {
    return makeError("health: timeout_ms {} must be from 10 to interval_ms ({})", timeoutMs,
                     intervalMs);
  }
  if (rise < 1 || rise > 100 || fall < 1 || fall > 100) {
    return makeError("health: rise and fall must be from 1 to 100");
  }
  if (httpStatusMin < 100 || httpStatusMax > 599 || httpStatusMin > httpStatusMax) {
    return makeError("health: HTTP status range {}..{} invalid", httpStatusMin, httpStatusMax);
  }
  if (kind == CheckKind::kHttp && (httpPath.empty() || httpPath.front() != '/')) {
    return makeError("health: http_path must start with '/'");
  }
  if (probe != "path" && probe != "address") {
    return makeError("health: probe '{}': expected path or address", probe);
  }
  if (kind == CheckKind::kExec && command.empty()) {
    return makeError("health: an exec check needs a command");
  }
  return {};
}

HealthCheck defaultHealthCheck(bool tcpService) {
  HealthCheck hc;
  hc.kind = tcpService ? CheckKind::kTcp : CheckKind::kNone;
  return hc;
}

}  // namespace lb4
