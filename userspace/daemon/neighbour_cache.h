// NeighbourCache: the MACs of direct-routing backends, following the
// kernel's neighbour table on the interfaces lb4 transmits on. A lookup
// answers from the cache or reads the table; addresses the kernel does not
// know yet are solicited and retried on the io_context until they resolve.
// Known MACs follow the table: rtnetlink neighbour events (observe()) and a
// periodic re-read update them, stale entries are solicited so the kernel
// re-confirms them, and every resolution or change is announced through
// onChange(). An entry the kernel forgets keeps its last MAC (and is
// solicited) rather than stopping the backend.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "userspace/common/net.h"
#include "userspace/daemon/rtnl_monitor.h"

namespace lb4 {

class NeighbourCache {
 public:
  using Listener = std::function<void()>;
  using Clock = std::chrono::steady_clock;

  enum class Source { kNeighbour, kRestored };
  struct Learned {
    MacAddress mac{};
    Source source = Source::kNeighbour;
    Clock::time_point confirmed{};  // last seen usable and not stale in the table
  };

  // `retry`: how often unresolved addresses are re-read and solicited;
  // `refresh`: how often known ones are re-read.
  NeighbourCache(asio::any_io_executor executor, std::chrono::milliseconds retry,
                 std::chrono::milliseconds refresh);
  ~NeighbourCache();
  NeighbourCache(const NeighbourCache&) = delete;
  NeighbourCache& operator=(const NeighbourCache&) = delete;

  // The interfaces whose neighbour tables count (lb4's attached ones).
  void setInterfaces(std::set<int> ifindexes);

  // The MAC of `addr`: cached, else read from the kernel's neighbour table.
  std::optional<MacAddress> lookup(const IpAddress& addr);
  // What the cache holds for `addr`, without asking the kernel.
  std::optional<MacAddress> cached(const IpAddress& addr) const;
  std::optional<Learned> learned(const IpAddress& addr) const;
  // Records a MAC learned elsewhere (a pinned backend entry after a restart).
  void remember(const IpAddress& addr, const MacAddress& mac);

  // The addresses whose MAC is still wanted. New ones are logged and
  // solicited now; all are retried until they resolve; addresses no longer
  // listed are dropped.
  void solicit(const std::set<IpAddress>& wanted);
  bool pending(const IpAddress& addr) const { return pending_.count(addr) != 0; }
  size_t pendingCount() const { return pending_.size(); }
  // Someone awaits a MAC: retry every 50 ms until `until`.
  void hurry(std::chrono::steady_clock::time_point until);

  // One rtnetlink neighbour event.
  void observe(const NeighbourEvent& event);
  // Re-reads every known address now (also after lost events).
  void refresh();

  // Called from the io_context (never from inside a call into the cache)
  // after one or more wanted MACs became known or changed.
  void onChange(Listener listener) { listener_ = std::move(listener); }
  void stop();

 private:
  void arm();
  void retry();
  void armRefresh();
  // Records `mac` for `addr`; true when it is new or differs.
  bool learn(const IpAddress& addr, const MacAddress& mac, bool confirmed, std::string_view how);
  void notify();

  asio::steady_timer timer_;
  asio::steady_timer refreshTimer_;
  std::chrono::milliseconds retryEvery_;
  std::chrono::milliseconds refreshEvery_;
  std::chrono::steady_clock::time_point hurryUntil_{};
  bool armed_ = false;
  bool refreshArmed_ = false;
  bool notifyPosted_ = false;
  bool stopped_ = false;
  std::set<int> ifindexes_;
  std::map<IpAddress, Learned> known_;
  std::set<IpAddress> pending_;
  Listener listener_;
};

std::string_view macSourceName(NeighbourCache::Source source);

}  // namespace lb4
