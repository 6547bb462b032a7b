// Backend MAC resolution for direct routing: looks the address up in the
// kernel's neighbour table (rtnetlink RTM_GETNEIGH) and, when it is missing,
// nudges the kernel into resolving it (a datagram to the discard port makes
// it send an ARP request or neighbour solicitation).
#pragma once

#include <cstdint>
#include <optional>
#include <set>

#include "userspace/common/net.h"

namespace lb4 {

struct NeighbourEntry {
  MacAddress mac{};
  int ifindex = 0;
  uint16_t state = 0;  // NUD_* bits
};

// True for a state whose link-layer address can be used (not incomplete,
// failed or noarp).
bool usableNeighbourState(uint16_t state);

// The entry of `addr` if the neighbour table holds a usable one on one of
// `ifindexes` (the interfaces lb4 transmits on); a confirmed entry is
// preferred over a stale one.
Result<std::optional<NeighbourEntry>> lookupNeighbour(const IpAddress& addr,
                                                      const std::set<int>& ifindexes);

// The kernel's route to `addr` (RTM_GETROUTE in this network namespace):
// its egress interface, and whether it goes through a gateway (then the
// address is not on the segment of that interface).
struct RouteInfo {
  int ifindex = 0;
  bool viaGateway = false;
  bool local = false;  // an address of this host
};
Result<RouteInfo> lookupRoute(const IpAddress& addr);

// Asks the kernel to resolve `addr`; the answer shows up in the neighbour
// table shortly after.
void solicitNeighbour(const IpAddress& addr);

}  // namespace lb4
