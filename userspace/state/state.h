// DesiredState: what the operator configured — interfaces, VIPs, backends,
// weights — independent of what the kernel currently holds. Every mutation is
// validated first and changes nothing when it fails. The state serialises to
// JSON (the state file and the API's `list` reply) and is persisted
// atomically: temp file, fsync, rename, fsync of the directory.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "userspace/common/net.h"
#include "userspace/common/result.h"
#include "userspace/state/health_check.h"
#include "userspace/state/rules.h"

namespace lb4 {

std::string_view modeName(ForwardingMode mode);
Result<ForwardingMode> parseMode(std::string_view text);

struct BackendConfig {
  Endpoint endpoint;
  uint32_t weight = kDefaultWeight;   // 0 = no new flows
  std::optional<MacAddress> mac;      // unset: resolved from the neighbour table
  bool drained = false;               // operator drain: weight 0 until undrained
  uint32_t id = 0;                    // lb4_backends index, stable across restarts
  uint32_t gen = 0;                   // lb4_backend.gen of this id
  std::optional<HealthCheck> health;  // overrides the VIP's check for this backend
};

struct VipConfig {
  ServiceKey key;
  ForwardingMode mode = ForwardingMode::kDr;
  uint32_t ringSize = LB4_DEFAULT_RING_SIZE;
  uint32_t id = 0;  // lb4_rings / lb4_vip_stats index
  std::vector<BackendConfig> backends;
  std::optional<HealthCheck> health;  // unset: defaultHealthCheck()
  // Source prefixes (sorted): with an allow list only its sources reach
  // the VIP; the longest prefix that matches a client decides.
  std::vector<IpPrefix> allow;
  std::vector<IpPrefix> deny;

  HealthCheck healthCheck() const {
    return health ? *health : defaultHealthCheck(key.proto == Proto::kTcp);
  }
  // The check of one backend: its own override, else the VIP's.
  HealthCheck healthCheck(const BackendConfig& backend) const {
    return backend.health ? *backend.health : healthCheck();
  }

  const BackendConfig* findBackend(const IpAddress& addr) const;
  BackendConfig* findBackend(const IpAddress& addr);
};

struct DesiredState {
  std::vector<std::string> interfaces;
  std::vector<VipConfig> vips;
  uint32_t lastGen = 0;  // last backend generation handed out
  // `lb4ctl gateway drain`: announce no VIP (BGP) until undrained; the
  // data plane keeps forwarding what still arrives.
  bool gatewayDrained = false;

  const VipConfig* findVip(const ServiceKey& key) const;
  VipConfig* findVip(const ServiceKey& key);

  // Mutations: validated; on error the state is unchanged.
  Status addVip(const ServiceKey& key, ForwardingMode mode, uint32_t ringSize);
  Status delVip(const ServiceKey& key);
  Status addBackend(const ServiceKey& vip, const Endpoint& endpoint, uint32_t weight,
                    std::optional<MacAddress> mac);
  Status delBackend(const ServiceKey& vip, const IpAddress& addr);
  Status setWeight(const ServiceKey& vip, const IpAddress& addr, uint32_t weight);
  Status setDrained(const ServiceKey& vip, const IpAddress& addr, bool drained);
  Status setHealth(const ServiceKey& vip, const HealthCheck& health);
  // Replaces both source lists of a VIP (empty: every source).
  Status setSources(const ServiceKey& vip, std::vector<IpPrefix> allow, std::vector<IpPrefix> deny);
  // One backend's own check (overrides the VIP's).
  Status setBackendHealth(const ServiceKey& vip, const IpAddress& addr, const HealthCheck& health);
  Status addInterface(const std::string& ifname);
  Status delInterface(const std::string& ifname);

  nlohmann::json toJson() const;
  static Result<DesiredState> fromJson(const nlohmann::json& json);
  // Checks invariants of a state built from outside (file, config).
  Status validate() const;
};

Status validateRingSize(uint32_t ringSize);
// Prefixes of a VIP's lists: of the VIP's family, none twice, none in both
// lists, at most kMaxSourcesPerVip in all.
Status validateSources(const ServiceKey& vip, const std::vector<IpPrefix>& allow,
                       const std::vector<IpPrefix>& deny);
constexpr size_t kMaxSourcesPerVip = 1024;
Status validateInterfaceName(const std::string& ifname);

// Writes `contents` to `path` atomically (temp file in the same directory,
// fsync, rename, fsync of the directory).
Status writeFileAtomically(const std::string& path, const std::string& contents);

// A JSON list of prefix strings (the API, the state file, the config).
Result<std::vector<IpPrefix>> prefixesFromJson(const nlohmann::json& json);
nlohmann::json prefixesToJson(const std::vector<IpPrefix>& prefixes);

Status saveState(const DesiredState& state, const std::string& path);
// Returns an empty state when the file does not exist.
Result<DesiredState> loadState(const std::string& path);

}  // namespace lb4
