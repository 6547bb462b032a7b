// Backend MAC resolution for direct routing: looks the address up in the
// kernel's neighbour table (rtnetlink RTM_GETNEIGH) and, when it is missing,
// nudges the kernel into resolving it (a datagram to the discard port makes
// it send an ARP request or neighbour solicitation).
#pragma once

#include <optional>

#include "userspace/common/net.h"

namespace lb4 {

// The MAC of `addr` if the neighbour table holds a usable entry.
Result<std::optional<MacAddress>> lookupNeighbour(const IpAddress& addr);

// Asks the kernel to resolve `addr`; the answer shows up in the neighbour
// table shortly after.
void solicitNeighbour(const IpAddress& addr);

}  // namespace lb4
