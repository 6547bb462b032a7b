// One definition of each rule an operator's input must meet, and of the
// defaults it falls back to. lb4ctl, the API parser, the config loader and
// DesiredState all call these, so a value refused by one is refused by all,
// with the same message.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "userspace/common/defaults.h"
#include "userspace/common/net.h"
#include "userspace/common/result.h"

namespace lb4 {

enum class ForwardingMode : uint8_t { kDr = LB4_MODE_DR, kNat = LB4_MODE_NAT };

// "weight 70000 out of range 0..65535".
Status validateWeight(uint64_t weight);
// "log level 'loud': expected trace, debug, info, warn or error".
Status validateLogLevel(std::string_view level);
// "log format 'xml': expected text or json".
Status validateLogFormat(std::string_view format);

// A weight as the operator types it: decimal digits only, no sign, space,
// base prefix or leading zero ("0", "7", "65535").
Result<uint32_t> parseWeight(std::string_view text);

// A MAC a frame can be sent to: not all-zero, not broadcast, not multicast.
Status validateUnicastMac(const MacAddress& mac);

// A VIP address: one host's unicast address (not unspecified, broadcast,
// multicast, loopback, or IPv4-mapped IPv6).
Status validateVipAddress(const IpAddress& addr);

// A backend's address for `vip`: the VIP's family, a unicast address of
// another host (not the VIP itself, unspecified, broadcast, multicast,
// loopback, or IPv4-mapped for an IPv6 VIP).
Status validateBackendAddress(const ServiceKey& vip, const IpAddress& addr);

// Everything about one backend of a VIP in `mode`: its address, its port
// (DR and all-ports VIPs keep the client's destination port) and its MAC
// (DR only, unicast).
Status validateBackend(const ServiceKey& vip, ForwardingMode mode, const Endpoint& endpoint,
                       const std::optional<MacAddress>& mac);

// A unix socket path that fits sockaddr_un: 1 to 107 bytes.
Status validateSocketPath(std::string_view path);
// A file or directory setting (`what`: "state_file", "pin_root"): not empty.
Status validateFilePath(std::string_view what, std::string_view path);

}  // namespace lb4
