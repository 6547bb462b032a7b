#include "userspace/daemon/neighbour_cache.h"

#include <spdlog/spdlog.h>

#include "userspace/daemon/neighbour.h"

namespace lb4 {
namespace {

constexpr std::chrono::milliseconds kHurryInterval{50};

}  // namespace

NeighbourCache::NeighbourCache(asio::any_io_executor executor, std::chrono::milliseconds retry)
    : timer_(std::move(executor)), retryEvery_(retry) {}

NeighbourCache::~NeighbourCache() { stop(); }

void NeighbourCache::stop() {
  timer_.cancel();
  armed_ = false;
}

std::optional<MacAddress> NeighbourCache::lookup(const IpAddress& addr) {
  if (auto it = known_.find(addr); it != known_.end()) {
    return it->second;
  }
  auto found = lookupNeighbour(addr);
  if (!found) {
    spdlog::debug("backend {}: {}", addr.toString(), found.error());
    return std::nullopt;
  }
  if (!*found) {
    return std::nullopt;
  }
  known_[addr] = **found;
  if (pending_.erase(addr)) {
    spdlog::info("backend {}: MAC resolved to {}", addr.toString(), formatMac(**found));
  }
  return **found;
}

std::optional<MacAddress> NeighbourCache::cached(const IpAddress& addr) const {
  auto it = known_.find(addr);
  return it == known_.end() ? std::nullopt : std::optional<MacAddress>(it->second);
}

void NeighbourCache::remember(const IpAddress& addr, const MacAddress& mac) {
  known_[addr] = mac;
  pending_.erase(addr);
}

void NeighbourCache::solicit(const std::set<IpAddress>& wanted) {
  std::set<IpAddress> next;
  for (const auto& addr : wanted) {
    if (known_.count(addr)) {
      continue;
    }
    if (!pending_.count(addr)) {
      spdlog::info("backend {}: MAC not in the neighbour table yet, resolving", addr.toString());
      solicitNeighbour(addr);
    }
    next.insert(addr);
  }
  pending_ = std::move(next);
  arm();
}

void NeighbourCache::hurry(std::chrono::steady_clock::time_point until) {
  hurryUntil_ = std::max(hurryUntil_, until);
  if (armed_ && timer_.expiry() > std::chrono::steady_clock::now() + kHurryInterval) {
    armed_ = false;  // re-armed sooner below; the cancelled wait is ignored
  }
  arm();
}

void NeighbourCache::arm() {
  if (armed_ || pending_.empty()) {
    return;
  }
  auto now = std::chrono::steady_clock::now();
  timer_.expires_at(now + (now < hurryUntil_ ? kHurryInterval : retryEvery_));
  armed_ = true;
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) {
      return;  // cancelled: stopped, or re-armed sooner
    }
    armed_ = false;
    retry();
  });
}

void NeighbourCache::retry() {
  bool resolved = false;
  std::set<IpAddress> wanted = pending_;
  for (const auto& addr : wanted) {
    if (lookup(addr)) {
      resolved = true;
    } else {
      solicitNeighbour(addr);
    }
  }
  if (resolved && listener_) {
    listener_();
  }
  arm();
}

}  // namespace lb4
