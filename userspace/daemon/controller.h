// Controller: the transactions of lb4d. Owns the desired state, the
// Dataplane (one program and one set of maps for every attached interface)
// and the kernel view it last wrote. A request is applied to a copy of the
// state (api/handlers.h), turned into a kernel view (kernel_view.h), written
// to the kernel (kernel_sync.h), persisted, and only then committed; any
// failure restores the previous kernel view and leaves the state as it was.
//
// Events come in from the io_context: health verdict snapshots
// (setVerdicts) and resolved MACs (its NeighbourCache); each rewrites what it
// changed. The committed state goes out to one listener (HealthManager),
// which must not call back into the Controller.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "userspace/api/handlers.h"
#include "userspace/api/protocol.h"
#include "userspace/config/config.h"
#include "userspace/daemon/bgp_announcer.h"
#include "userspace/daemon/health_verdicts.h"
#include "userspace/daemon/kernel_sync.h"
#include "userspace/daemon/kernel_view.h"
#include "userspace/daemon/neighbour_cache.h"
#include "userspace/daemon/rtnl_monitor.h"
#include "userspace/dataplane/dataplane.h"
#include "userspace/metrics/lb4_metrics.h"
#include "userspace/state/state.h"

namespace lb4 {

class Controller {
 public:
  Controller(asio::io_context& io, DaemonConfig config);
  ~Controller();

  // Loads the state file (or the config's initial services when there is
  // none), attaches every interface and writes the whole state to the kernel.
  Status start();
  // Keeps forwarding: releases the XDP attachments without detaching.
  void stop();
  // A graceful stop's first step: when BGP is on and withdraw_on_stop is
  // set, withdraws every VIP through BIRD (bounded by bgp.timeout_ms).
  asio::awaitable<void> withdrawForStop();

  // Validates, applies and persists one API request; returns its result.
  Result<nlohmann::json> handle(const Request& request);
  // apply / diff: the VIPs and backends of a configuration file's text;
  // with dryRun only the changes it would make.
  Result<nlohmann::json> applyConfig(const std::string& text, bool dryRun);

  // True when the backend's entry is enabled in the kernel (MAC known, not removed).
  bool backendEnabled(const ServiceKey& vip, const IpAddress& addr) const;
  // Completes when the backend's entry is enabled, or after `timeout`;
  // yields whether it is enabled. A MAC it waits for is retried quickly.
  asio::awaitable<bool> awaitBackendEnabled(ServiceKey vip, IpAddress addr,
                                            std::chrono::milliseconds timeout);
  // Passive health signals of a backend id; zero while nothing is attached.
  Result<lb4_signals> backendSignals(uint32_t id) const;

  // A new health verdict snapshot: rewrites what it changed (only VIPs whose
  // tables differ get new ones).
  void setVerdicts(HealthVerdicts verdicts);
  // Hears every committed state.
  using StateListener = std::function<void(const DesiredState&)>;
  void onStateCommitted(StateListener listener) { stateListener_ = std::move(listener); }
  // Answers `health` requests (read only).
  using HealthTable = std::function<nlohmann::json(const std::optional<ServiceKey>&)>;
  void setHealthTable(HealthTable table) { healthTable_ = std::move(table); }

  // What the metrics endpoint shows of the state, the kernel and the
  // attachments (controller_metrics.cpp); health and control-socket
  // figures are filled in by their owners.
  void fillMetrics(MetricsSnapshot& out) const;

  const DesiredState& state() const { return state_; }
  const DaemonConfig& config() const { return config_; }

 private:
  struct Waiter {
    ServiceKey vip;
    IpAddress addr;
    std::shared_ptr<asio::steady_timer> timer;
  };

  // The view of `state` with the MACs known now (cache, neighbour table, or
  // the pinned entry of a restarted daemon).
  ViewPlan plan(const DesiredState& state);
  // Starts following rtnetlink neighbour and link events.
  void follow();
  std::optional<MacAddress> pinnedMac(const BackendConfig& backend) const;
  // Writes the difference to `applied_`; on failure restores `applied_`.
  Status applyView(const KernelView& view);
  // Records a written plan as the applied view: logs VIPs entering or
  // leaving fail-open, asks for missing MACs, wakes waiters.
  void adopt(ViewPlan plan);
  Status commit(DesiredState next);
  // Rewrites the current state (new verdicts or MACs).
  void reapply(std::string_view why);
  // Tells the announcer (if any) which VIP addresses this gateway can serve now.
  void announce();

  Status openDataplane();
  void closeDataplane(bool unpin);
  Result<XdpAttachment> attachInterface(const std::string& ifname, bool allowGeneric);
  // Attaches each listed interface that exists; one that does not is
  // skipped with a warning (missing until it appears).
  Status attachListed(const std::vector<std::string>& interfaces);
  // Link events: a listed interface that disappears becomes missing, one
  // that appears is attached, an attached one's new MAC goes to lb4_ifaces.
  void linkChanged(const LinkEvent& ev);
  void lostInterface(std::map<std::string, XdpAttachment>::iterator it);
  void attachReturned(const std::string& ifname);
  // After lost rtnetlink events: compares the attachments with the links.
  void resyncLinks();
  // Where each direct-routing backend of `state` is: the attached interface
  // its route leaves by when it is on that interface's segment, else 0 (the
  // reason goes to unreachable_).
  EgressTable egressOf(const DesiredState& state);
  // A route or address changed: re-derive where DR backends are, soon.
  void routesChanged();
  // Health rows of unreachable backends say so (`reachable`, `unreachable`).
  nlohmann::json markUnreachable(nlohmann::json rows) const;
  Result<nlohmann::json> attach(const Request& request);
  Result<nlohmann::json> detach(const Request& request);

  DaemonStatus status() const;
  RuntimeView runtime() const;
  Result<StatsView> stats(const std::optional<ServiceKey>& only) const;

  asio::io_context& io_;
  DaemonConfig config_;
  DesiredState state_;
  // One program and one set of maps (pinned in <pin_root>/maps) serve every
  // attached interface: a NAT reply must find the conntrack entry its
  // request created, whichever interface each arrived on. Open while at
  // least one interface is attached.
  std::unique_ptr<Dataplane> dataplane_;
  std::map<std::string, XdpAttachment> attachments_;
  KernelView applied_;
  std::set<uint32_t> allDown_;  // VIPs running on their last table (every backend down)
  HealthVerdicts verdicts_;
  // Route and address events, coalesced: the DR backends' egress is looked
  // up again at most every kRouteSettle.
  asio::steady_timer routeTimer_;
  bool routeArmed_ = false;
  std::map<IpAddress, std::string>
      unreachable_;  // DR backend address -> why no attached link reaches it
  NeighbourCache neighbours_;
  RtnlMonitor monitor_;
  std::vector<Waiter> waiters_;
  StateListener stateListener_;
  HealthTable healthTable_;
  std::unique_ptr<BgpAnnouncer> announcer_;  // when bgp.enabled
  std::chrono::steady_clock::time_point started_;
  std::chrono::system_clock::time_point startedWall_;  // for lb4_start_time_seconds
  RingStats ringStats_;  // Maglev tables written by transactions and reapplies
};

}  // namespace lb4
