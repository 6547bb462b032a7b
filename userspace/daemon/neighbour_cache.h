// NeighbourCache: the MACs of direct-routing backends. A lookup answers from
// the cache or reads the kernel's neighbour table; addresses the kernel does
// not know yet are solicited and retried on the io_context until they
// resolve, and every resolution is announced through onChange(). Today the
// retry re-reads the table on a timer (fast while someone awaits a MAC); an
// rtnetlink neighbour subscription can replace the timer behind the same
// interface.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include <asio.hpp>

#include "userspace/common/net.h"

namespace lb4 {

class NeighbourCache {
 public:
  using Listener = std::function<void()>;

  // `retry`: how often unresolved addresses are re-read and solicited.
  NeighbourCache(asio::any_io_executor executor, std::chrono::milliseconds retry);
  ~NeighbourCache();
  NeighbourCache(const NeighbourCache&) = delete;
  NeighbourCache& operator=(const NeighbourCache&) = delete;

  // The MAC of `addr`: cached, else read from the kernel's neighbour table.
  std::optional<MacAddress> lookup(const IpAddress& addr);
  // What the cache holds for `addr`, without asking the kernel.
  std::optional<MacAddress> cached(const IpAddress& addr) const;
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

  // Called from the io_context (never from inside a call into the cache)
  // after one or more wanted MACs became known.
  void onChange(Listener listener) { listener_ = std::move(listener); }
  void stop();

 private:
  void arm();
  void retry();

  asio::steady_timer timer_;
  std::chrono::milliseconds retryEvery_;
  std::chrono::steady_clock::time_point hurryUntil_{};
  bool armed_ = false;
  std::map<IpAddress, MacAddress> known_;
  std::set<IpAddress> pending_;
  Listener listener_;
};

}  // namespace lb4
