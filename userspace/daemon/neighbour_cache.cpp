#include "userspace/daemon/neighbour_cache.h"

#include <linux/neighbour.h>
#include <spdlog/spdlog.h>

#include "userspace/daemon/neighbour.h"

namespace lb4 {
namespace {

constexpr std::chrono::milliseconds kHurryInterval{50};

}  // namespace

std::string_view macSourceName(NeighbourCache::Source source) {
  return source == NeighbourCache::Source::kRestored ? "restored" : "neighbour";
}

NeighbourCache::NeighbourCache(asio::any_io_executor executor, std::chrono::milliseconds retry,
                               std::chrono::milliseconds refresh)
    : timer_(executor), refreshTimer_(executor), retryEvery_(retry), refreshEvery_(refresh) {}

NeighbourCache::~NeighbourCache() { stop(); }

void NeighbourCache::stop() {
  stopped_ = true;
  timer_.cancel();
  refreshTimer_.cancel();
  armed_ = false;
  refreshArmed_ = false;
}

void NeighbourCache::setInterfaces(std::set<int> ifindexes) { ifindexes_ = std::move(ifindexes); }

bool NeighbourCache::learn(const IpAddress& addr, const MacAddress& mac, bool confirmed,
                           std::string_view how) {
  auto now = Clock::now();
  auto it = known_.find(addr);
  if (it != known_.end() && it->second.mac == mac) {
    if (confirmed) {
      it->second.source = Source::kNeighbour;
      it->second.confirmed = now;
    }
    return false;
  }
  if (it != known_.end()) {
    spdlog::warn("backend {}: MAC changed from {} to {} ({}); rewriting its entry", addr.toString(),
                 formatMac(it->second.mac), formatMac(mac), how);
  } else if (pending_.count(addr)) {
    spdlog::info("backend {}: MAC resolved to {}", addr.toString(), formatMac(mac));
  }
  known_[addr] = Learned{.mac = mac, .source = Source::kNeighbour, .confirmed = now};
  pending_.erase(addr);
  return true;
}

std::optional<MacAddress> NeighbourCache::lookup(const IpAddress& addr) {
  if (auto it = known_.find(addr); it != known_.end()) {
    return it->second.mac;
  }
  auto found = lookupNeighbour(addr, ifindexes_);
  if (!found) {
    spdlog::debug("backend {}: {}", addr.toString(), found.error());
    return std::nullopt;
  }
  if (!*found) {
    return std::nullopt;
  }
  learn(addr, (*found)->mac, true, "neighbour table");
  return (*found)->mac;
}

std::optional<MacAddress> NeighbourCache::cached(const IpAddress& addr) const {
  auto it = known_.find(addr);
  return it == known_.end() ? std::nullopt : std::optional<MacAddress>(it->second.mac);
}

std::optional<NeighbourCache::Learned> NeighbourCache::learned(const IpAddress& addr) const {
  auto it = known_.find(addr);
  return it == known_.end() ? std::nullopt : std::optional<Learned>(it->second);
}

void NeighbourCache::remember(const IpAddress& addr, const MacAddress& mac) {
  known_[addr] = Learned{.mac = mac, .source = Source::kRestored, .confirmed = Clock::now()};
  pending_.erase(addr);
  armRefresh();
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
  armRefresh();
}

void NeighbourCache::hurry(std::chrono::steady_clock::time_point until) {
  hurryUntil_ = std::max(hurryUntil_, until);
  if (armed_ && timer_.expiry() > std::chrono::steady_clock::now() + kHurryInterval) {
    armed_ = false;  // re-armed sooner below; the cancelled wait is ignored
  }
  arm();
}

void NeighbourCache::observe(const NeighbourEvent& ev) {
  if (!ifindexes_.count(ev.ifindex) || (!known_.count(ev.addr) && !pending_.count(ev.addr))) {
    return;
  }
  if (ev.deleted || !usableNeighbourState(ev.state) || !ev.mac) {
    // Keep the last MAC: ask the kernel to resolve the address again.
    if (known_.count(ev.addr)) {
      solicitNeighbour(ev.addr);
    }
    return;
  }
  bool stale = ev.state & NUD_STALE;
  if (learn(ev.addr, *ev.mac, !stale, "neighbour event")) {
    notify();
  }
  if (stale) {
    solicitNeighbour(ev.addr);
  }
}

void NeighbourCache::refresh() {
  bool changed = false;
  std::vector<IpAddress> addrs;
  for (const auto& [addr, l] : known_) {
    addrs.push_back(addr);
  }
  for (const auto& addr : addrs) {
    auto found = lookupNeighbour(addr, ifindexes_);
    if (!found) {
      spdlog::debug("backend {}: {}", addr.toString(), found.error());
      continue;
    }
    if (!*found) {
      solicitNeighbour(addr);
      continue;
    }
    bool stale = (*found)->state & NUD_STALE;
    changed |= learn(addr, (*found)->mac, !stale, "neighbour table");
    if (stale) {
      solicitNeighbour(addr);
    }
  }
  if (changed) {
    notify();
  }
}

void NeighbourCache::notify() {
  if (notifyPosted_ || stopped_) {
    return;
  }
  notifyPosted_ = true;
  asio::post(timer_.get_executor(), [this] {
    notifyPosted_ = false;
    if (listener_ && !stopped_) {
      listener_();
    }
  });
}

void NeighbourCache::armRefresh() {
  if (refreshArmed_ || known_.empty() || stopped_) {
    return;
  }
  refreshTimer_.expires_after(refreshEvery_);
  refreshArmed_ = true;
  refreshTimer_.async_wait([this](const asio::error_code& ec) {
    if (ec) {
      return;
    }
    refreshArmed_ = false;
    refresh();
    armRefresh();
  });
}

void NeighbourCache::arm() {
  if (armed_ || pending_.empty() || stopped_) {
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
  armRefresh();
}

}  // namespace lb4
