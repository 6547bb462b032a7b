// The path probe of direct-routing backends: a TCP SYN built in userspace
// and sent on an AF_PACKET socket exactly as the data plane sends traffic
// (destination VIP:port, at the backend's MAC, out of the interface lb4
// transmits on), and the parsing of the backend's answer. A SYN-ACK from
// VIP:port proves the MAC, that the backend holds the VIP and that it
// listens on the port; the gateway's kernel resets the unexpected
// connection itself. See docs/health.md.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "userspace/common/net.h"
#include "userspace/common/result.h"

namespace lb4 {

// Where and how a path probe is sent: what lb4 would transmit on for the
// backend and with which link-layer addresses.
struct PathHop {
  int ifindex = 0;
  MacAddress srcMac{};  // the interface's own
  MacAddress dstMac{};  // the MAC lb4 writes into the backend entry
  IpAddress srcAddr{};  // the gateway's address on that link, family of the VIP
};

// Ethernet + IPv4/IPv6 + TCP SYN (with an MSS option) from
// hop.srcAddr:srcPort to vip, checksums filled in.
std::vector<uint8_t> buildTcpSyn(const PathHop& hop, const Endpoint& vip, uint16_t srcPort,
                                 uint32_t seq);

enum class PathReply : uint8_t { kSynAck, kReset };

// The answer in `frame` (an Ethernet frame) to a SYN from `local`:`srcPort`
// to `vip`, or nullopt when the frame is something else.
std::optional<PathReply> parsePathReply(const uint8_t* frame, size_t len, const Endpoint& vip,
                                        const IpAddress& local, uint16_t srcPort);

// The interface's MAC and its first address of `family` (global scope
// preferred over link-local).
Result<PathHop> interfaceHop(int ifindex, Family family);

}  // namespace lb4
