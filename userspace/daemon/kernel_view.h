// The kernel view: what lb4's maps should hold, as a pure function of the
// desired state, the health verdicts and the known backend MACs. No I/O and
// no logging here: buildKernelView() returns what it decided (which VIPs fail
// open, which MACs are missing) and the Controller logs and solicits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bpf/lb4_abi.h"
#include "userspace/common/net.h"
#include "userspace/daemon/health_verdicts.h"
#include "userspace/state/state.h"

namespace lb4 {

// One backend's input to its VIP's Maglev table.
struct MaglevInput {
  uint32_t id;
  uint32_t weight;
  std::string key;
  auto operator<=>(const MaglevInput&) const = default;
};

struct KernelView {
  std::map<std::vector<uint8_t>, std::pair<lb4_vip_key, lb4_vip_value>> vips;  // by key bytes
  std::map<uint32_t, lb4_backend> backends;                                    // by backend id
  std::map<uint32_t, std::vector<MaglevInput>> rings;    // vip id -> ring inputs, sorted
  std::map<uint32_t, uint32_t> ringSizes;                // vip id -> table size
  std::map<std::vector<uint8_t>, lb4_vip_key> natAddrs;  // backends of NAT VIPs
  // lb4_nat_origins: NAT backend {addr, port, proto} -> its only NAT VIP
  // (ports that serve two NAT VIPs are left out: a reply cannot tell which).
  std::map<std::vector<uint8_t>, std::pair<lb4_vip_key, lb4_nat_origin>> natOrigins;
  // lb4_src_rules: every VIP's source prefixes, by key bytes.
  std::map<std::vector<uint8_t>, std::pair<lb4_src_key, lb4_src_rule>> sources;

  bool backendEnabled(uint32_t id) const;
  // The weight the backend has in its VIP's table; 0 when not in it.
  uint32_t effectiveWeight(uint32_t vipId, uint32_t backendId) const;
};

std::vector<uint8_t> keyBytes(const lb4_vip_key& key);
std::vector<uint8_t> keyBytes(const lb4_src_key& key);
// The lb4_src_rules key of one prefix of a VIP.
lb4_src_key sourceKey(uint32_t vipId, const IpPrefix& prefix);

// Backend MACs known from the neighbour table (or a pinned entry), by address.
using MacTable = std::map<IpAddress, MacAddress>;

// The backends whose MAC the view needs from outside: direct-routing
// backends without a configured MAC (pointers into `state`).
std::vector<const BackendConfig*> macsNeeded(const DesiredState& state);

// Where direct-routing backends are: the ifindex of the attached interface
// on whose segment each address is, 0 when no attached interface reaches it
// (such a backend stays disabled).
using EgressTable = std::map<IpAddress, int>;

struct ViewPlan {
  KernelView view;
  // VIPs whose every backend is down: they keep their last table (fail open).
  std::set<uint32_t> allDown;
  // Needed MACs that `macs` did not hold: those backends stay disabled.
  std::set<IpAddress> missingMacs;
  // Direct-routing backends (ids) that no attached interface reaches.
  std::set<uint32_t> unreachable;
};

// `applied` is what the kernel holds now; a VIP that fails open keeps the
// table it has there. `egress` null: nothing is known about links, and
// direct routing transmits on the receiving interface (entry ifindex 0).
ViewPlan buildKernelView(const DesiredState& state, const HealthVerdicts& verdicts,
                         const MacTable& macs, const KernelView& applied,
                         const EgressTable* egress = nullptr);

}  // namespace lb4
