// RtnlMonitor: the kernel's rtnetlink neighbour, link, route and address
// events (RTNLGRP_NEIGH, RTNLGRP_LINK, the IPv4/IPv6 route and address groups), read on the
// io_context from a netlink socket wrapped in an asio stream descriptor. Each event is handed to
// its callback; a lost batch (the socket's buffer overran) is reported through onResync so the
// listeners re-read the tables they follow.
#pragma once

#include <asio.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "userspace/common/net.h"

namespace lb4 {

struct NeighbourEvent {
  bool deleted = false;  // RTM_DELNEIGH
  int ifindex = 0;
  uint16_t state = 0;  // NUD_* bits
  IpAddress addr;
  std::optional<MacAddress> mac;
};

struct LinkEvent {
  bool deleted = false;  // RTM_DELLINK
  int ifindex = 0;
  std::string name;
  std::optional<MacAddress> mac;  // IFLA_ADDRESS, when it is an Ethernet address
};

class RtnlMonitor {
 public:
  explicit RtnlMonitor(asio::any_io_executor executor);
  RtnlMonitor(const RtnlMonitor&) = delete;
  RtnlMonitor& operator=(const RtnlMonitor&) = delete;

  // Subscribes and starts reading.
  Status open();
  void stop();

  void onNeighbour(std::function<void(const NeighbourEvent&)> f) { neighbour_ = std::move(f); }
  void onLink(std::function<void(const LinkEvent&)> f) { link_ = std::move(f); }
  void onResync(std::function<void()> f) { resync_ = std::move(f); }
  // Any IPv4 or IPv6 route or address change (RTNLGRP_IPV4_ROUTE,
  // RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR); not parsed.
  void onRoute(std::function<void()> f) { route_ = std::move(f); }

 private:
  void read();
  void dispatch(size_t n);

  asio::posix::stream_descriptor socket_;
  std::vector<char> buf_;
  std::function<void(const NeighbourEvent&)> neighbour_;
  std::function<void(const LinkEvent&)> link_;
  std::function<void()> resync_;
  std::function<void()> route_;
};

}  // namespace lb4
