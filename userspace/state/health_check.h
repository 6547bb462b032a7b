// HealthCheck: how lb4d probes the backends of one VIP (part of the desired
// state, set in the config file or with `lb4ctl set-health`). Converted to
// and from JSON for the state file and the API; validated on the way in.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "userspace/common/result.h"
#include "userspace/state/rules.h"

namespace lb4 {

// What a check does; the names are those of the config file and the API.
enum class CheckKind : uint8_t { kNone, kTcp, kHttp, kUdp, kExec };
std::string_view checkKindName(CheckKind kind);
// "none", "tcp", "http", "udp" or "exec"; anything else is an error naming it.
Result<CheckKind> parseCheckKind(std::string_view text);

struct HealthCheck {
  CheckKind kind = CheckKind::kTcp;
  uint16_t port = 0;  // 0: the backend's port (or the VIP's)
  uint32_t intervalMs = 2000;
  uint32_t timeoutMs = 1000;
  uint32_t rise = kDefaultRise;
  uint32_t fall = kDefaultFall;
  std::string httpPath = "/";
  uint16_t httpStatusMin = 200;
  uint16_t httpStatusMax = 399;
  std::string httpExpect;  // body substring; empty = any body
  std::string udpPayload;
  std::string udpExpect;
  std::vector<std::string> command;  // exec: argv
  // tcp checks of direct-routing VIPs: "path" sends the SYN the way the
  // data plane sends traffic (to VIP:port, at the backend's MAC); "address"
  // connects to the backend's own address. Other kinds and modes always
  // probe the address. See docs/health.md.
  std::string probe = "path";

  bool operator==(const HealthCheck&) const = default;
  nlohmann::json toJson() const;
  // Reads the fields present in `json` over `base`: unknown fields and values
  // of the wrong type are errors naming the field; ranges are not checked.
  static Result<HealthCheck> merge(const nlohmann::json& json, const HealthCheck& base);
  // merge() followed by validate().
  static Result<HealthCheck> fromJson(const nlohmann::json& json, const HealthCheck& base);
  Status validate() const;
};

// The default check of a VIP that has none configured: a TCP connect for TCP
// services; nothing for UDP (a UDP check needs a payload the service answers).
HealthCheck defaultHealthCheck(bool tcpService);

}  // namespace lb4
