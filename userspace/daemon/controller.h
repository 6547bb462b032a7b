// Controller: the heart of lb4d. Owns the desired state, the Dataplane
// (one program and one set of maps for every attached interface), and turns (configured weight x backend readiness) into
// VIP entries, backend entries and Maglev tables in the kernel. A request is
// applied to a copy of the state, written to the kernel, persisted, and only
// then committed; any failure restores the previous kernel view and leaves
// the state as it was.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "userspace/api/protocol.h"
#include "userspace/config/config.h"
#include "userspace/dataplane/dataplane.h"
#include "userspace/scoring/host_info.h"
#include "userspace/state/state.h"

namespace lb4 {

class Controller {
 public:
  explicit Controller(DaemonConfig config);
  ~Controller();

  // Loads the state file (or the config's initial services when there is
  // none), attaches every interface and writes the whole state to the kernel.
  Status start();
  // Keeps forwarding: releases the XDP attachments without detaching.
  void stop();

  // Validates, applies and persists one API request; returns its result.
  Result<nlohmann::json> handle(const Request& request);

  // Retries neighbour resolution of backends whose MAC is still unknown.
  // Returns true when some backend became ready.
  bool resolvePending();
  bool hasPending() const { return !pendingMacs_.empty(); }
  // True when the backend's entry is enabled in the kernel (MAC known, not removed).
  bool backendEnabled(const ServiceKey& vip, const IpAddress& addr) const;
  // Passive health signals of a backend id; zero while nothing is attached.
  Result<lb4_signals> backendSignals(uint32_t id) const;

  // Health: where verdicts come from, who hears about state changes, and
  // who answers `health` requests. reapply() rewrites what the verdicts
  // changed (only VIPs whose tables differ get new ones).
  using VerdictSource = std::function<Verdict(const VipConfig&, const BackendConfig&)>;
  using StateListener = std::function<void(const DesiredState&)>;
  using HealthTable = std::function<nlohmann::json(const std::optional<ServiceKey>&)>;
  void setVerdictSource(VerdictSource source) { verdicts_ = std::move(source); }
  void setStateListener(StateListener listener) { stateListener_ = std::move(listener); }
  void setHealthTable(HealthTable table) { healthTable_ = std::move(table); }
  Status reapply();

  const DesiredState& state() const { return state_; }
  const DaemonConfig& config() const { return config_; }

 private:
  struct MaglevInput {
    uint32_t id;
    uint32_t weight;
    std::string key;
    auto operator<=>(const MaglevInput&) const = default;
  };
  // What the kernel should hold, derived from a DesiredState.
  struct KernelView {
    std::map<std::vector<uint8_t>, std::pair<lb4_vip_key, lb4_vip_value>> vips;
    std::map<uint32_t, lb4_backend> backends;
    std::map<uint32_t, std::vector<MaglevInput>> rings;  // vip id -> ring inputs
    std::map<uint32_t, uint32_t> ringSizes;
    std::map<std::vector<uint8_t>, lb4_vip_key> natAddrs;  // backends of NAT VIPs
  };

  KernelView viewOf(const DesiredState& state);
  Status sync(Dataplane& dp, const KernelView& view, const KernelView* previous);
  Status applyView(const KernelView& view);
  Status openDataplane();
  void closeDataplane(bool unpin);
  Result<XdpAttachment> attachInterface(const std::string& ifname, bool allowGeneric);
  Status commit(DesiredState next);

  nlohmann::json statusJson() const;
  nlohmann::json listJson(const std::optional<ServiceKey>& vip) const;
  Result<nlohmann::json> statsJson(const std::optional<ServiceKey>& vip) const;
  std::optional<MacAddress> macOf(const BackendConfig& backend);

  DaemonConfig config_;
  DesiredState state_;
  // One program and one set of maps (pinned in <pin_root>/maps) serve every
  // attached interface: a NAT reply must find the conntrack entry its
  // request created, whichever interface each arrived on. Open while at
  // least one interface is attached.
  std::unique_ptr<Dataplane> dataplane_;
  std::map<std::string, XdpAttachment> attachments_;
  KernelView applied_;
  std::map<IpAddress, MacAddress> resolvedMacs_;
  std::set<IpAddress> pendingMacs_;
  VerdictSource verdicts_;
  StateListener stateListener_;
  HealthTable healthTable_;
  std::set<uint32_t> allDown_;  // VIPs running on their last table (every backend down)
  std::chrono::steady_clock::time_point started_;
};

}  // namespace lb4
