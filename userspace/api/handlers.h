// Request handlers: what each API request does to the desired state, and
// the JSON of every reply. The daemon gathers what a reply shows from the
// data plane, the attachments and health into the plain structs below, so
// this code needs neither libbpf nor the daemon's classes.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpf/lb4_abi.h"
#include "userspace/api/protocol.h"
#include "userspace/common/result.h"
#include "userspace/state/state.h"

namespace lb4 {

// "<verb> <vip>: no such VIP" when the request names a VIP the state lacks.
Status checkVipExists(std::string_view verb, const DesiredState& state,
                      const std::optional<ServiceKey>& vip);

// Applies one state change (a request that changes VIPs, backends or health
// checks) to `next` (a copy of the current state);
// `defaultRingSize` is the table size of a VIP added without one.
Status applyChange(DesiredState& next, const Request& request, uint32_t defaultRingSize);

// The log line of an applied state change, naming what changed:
// "add-backend 198.18.0.13 to 198.18.1.100:80/tcp weight 100",
// "set-weight 198.18.0.13 of 198.18.1.100:80/tcp to 50". `state` is the
// state after the change (for what the request left to defaults).
std::string describeChange(const Request& request, const DesiredState& state);

// One XDP attachment as `status` and `attach` show it.
struct AttachmentInfo {
  std::string interface;
  std::string pinDir;
  std::string mode;    // "native" or "generic" (skb)
  std::string method;  // "dispatcher" or "single program"
  // "attached", or "missing": listed in the state, but no such link exists
  // (lb4 attaches to it when it appears).
  std::string state = "attached";
  // Whether the driver strips VLAN tags before XDP (receive VLAN offload
  // on); nullopt when it has no such offload or the link is missing.
  std::optional<bool> rxVlanOffload;
};

// The BGP announcer as `status` shows it (bgp_announcer.h).
struct BgpStatus {
  bool enabled = false;
  std::string includeFile;
  std::string birdSocket;
  std::vector<std::string> wanted;     // prefixes this gateway can serve now
  std::vector<std::string> announced;  // prefixes BIRD last accepted
  bool inSync = false;                 // BIRD holds what is wanted
  std::string lastError;               // of the last failed attempt, until one works
  uint64_t failures = 0;
  std::optional<int64_t> lastOkAgoS;  // since BIRD last accepted a change
};

// One BPF map and the memory the kernel charges for it.
struct MapInfo {
  std::string name;
  uint32_t entries = 0;  // max_entries
  uint64_t memlockBytes = 0;
};

struct DaemonStatus {
  std::string version;
  std::string stateFile;
  int64_t uptimeS = 0;
  // True when this daemon took over maps pinned by an earlier one (restart
  // or upgrade) instead of creating them.
  bool adopted = false;
  std::vector<AttachmentInfo> interfaces;
  size_t unresolvedMacs = 0;
  BgpStatus bgp;
  // VIP prefixes this gateway can serve now (bgp_announcer.h's rule), BGP
  // or not: what a keepalived track script asks about.
  std::vector<std::string> servable;
  std::vector<MapInfo> maps;  // empty while no interface is listed
};

// What the kernel and health say about one backend, for `list`.
struct BackendRuntime {
  bool enabled = false;            // its entry is enabled in the kernel
  uint32_t effectiveWeight = 0;    // its weight in the VIP's table
  std::string health = "serve";    // the health verdict's action
  std::optional<MacAddress> mac;   // configured or resolved
  std::string macSource;           // "configured", "neighbour", "restored" (pinned entry)
  std::optional<int64_t> macAgeS;  // since the neighbour table last confirmed it
  // Direct routing: why no attached interface reaches it; empty when one does.
  std::string unreachable;
};

struct RuntimeView {
  std::map<uint32_t, BackendRuntime> backends;  // by backend id
  std::set<uint32_t> allDown;                   // VIP ids failing open
};

// Counters for `stats`: the global ones by name, in enum lb4_stat order, and
// the traffic of the VIPs and backends shown (by id).
struct StatsView {
  std::vector<std::pair<std::string_view, uint64_t>> global;
  std::map<uint32_t, lb4_traffic> vips;
  std::map<uint32_t, lb4_traffic> backends;
  // Conntrack pressure, when the maps are open: the table's size and, per
  // possible CPU, the new flows inserted (ct_miss) and the live flows found
  // evicted (ct_evicted_live).
  struct Conntrack {
    uint32_t size = 0;
    std::vector<uint64_t> newFlows;
    std::vector<uint64_t> evictedLive;
  };
  std::optional<Conntrack> conntrack;
};

nlohmann::json renderStatus(const DaemonStatus& status, const DesiredState& state);
// status.gateway: {"drained": ..., "bgp": {...}}.
nlohmann::json renderGateway(const DaemonStatus& status, const DesiredState& state);
nlohmann::json renderAttach(const AttachmentInfo& attachment);
nlohmann::json renderList(const DesiredState& state, const RuntimeView& runtime,
                          const std::optional<ServiceKey>& only);
nlohmann::json renderStats(const DesiredState& state, const StatsView& stats,
                           const std::optional<ServiceKey>& only);
// The reply to a state change: the VIP and backend it named and, when the
// backend exists, its id and whether its kernel entry is `enabled`.
nlohmann::json renderChange(const Request& request, const DesiredState& state, bool enabled);

}  // namespace lb4
