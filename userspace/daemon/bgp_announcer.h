// BgpAnnouncer: keeps BIRD announcing exactly the VIP addresses this gateway
// can serve. Each change of the set rewrites the include file atomically
// (temp file + rename) and asks BIRD, over its control socket, to
// `configure`; a failure (file, socket, or an error BIRD reports) is logged
// as an error, shown in `status` and retried every retry_ms until it works.
// Nothing here throws or ends lb4d.
//
// While lb4d is gone (crash, kill -9) the include file stays as it was and
// BIRD keeps announcing those routes; the XDP program keeps forwarding.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "userspace/api/handlers.h"
#include "userspace/config/bgp_config.h"
#include "userspace/daemon/kernel_view.h"
#include "userspace/state/state.h"

namespace lb4 {

// The VIP addresses to announce: none while the gateway is drained or has no
// interface attached; else every address with at least one VIP whose table
// has a backend that may take new flows (a VIP running on its last table
// because every backend is down does not count).
std::set<IpAddress> servableAddresses(const DesiredState& state, const KernelView& applied,
                                      const std::set<uint32_t>& allDown, bool attached);

// One exchange with BIRD's control socket: connect, read the greeting, send
// `command`, read the reply. Completes within `timeout`.
asio::awaitable<Result<std::string>> birdCommand(std::string socketPath, std::string command,
                                                 std::chrono::milliseconds timeout);

class BgpAnnouncer {
 public:
  BgpAnnouncer(asio::any_io_executor executor, BgpConfig config);

  // The set to announce from now on; BIRD is told when it differs from what
  // it last accepted.
  void announce(std::set<IpAddress> addrs);
  // Withdraws every route (one attempt, within timeout_ms) and stops
  // announcing; used by a graceful stop.
  asio::awaitable<Status> withdrawAll();
  // Stops retrying; writes nothing more.
  void stop();

  BgpStatus status() const;
  const BgpConfig& config() const { return config_; }

 private:
  asio::awaitable<void> run();
  asio::awaitable<Status> push(const std::set<IpAddress>& addrs);

  asio::any_io_executor executor_;
  BgpConfig config_;
  std::set<IpAddress> desired_;
  std::optional<std::set<IpAddress>> confirmed_;  // what BIRD last accepted
  bool running_ = false;
  bool stopped_ = false;
  std::string lastError_;
  uint64_t failures_ = 0;
  std::optional<std::chrono::steady_clock::time_point> lastOk_;
  asio::steady_timer retry_;
};

}  // namespace lb4
