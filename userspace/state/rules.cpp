#include "userspace/state/rules.h"

#include <sys/un.h>

#include <algorithm>

namespace lb4 {
namespace {

bool allBytes(const IpAddress& a, size_t n, uint8_t value) {
  return std::all_of(a.bytes.begin(), a.bytes.begin() + static_cast<long>(n),
                     [value](uint8_t b) { return b == value; });
}

// What makes `addr` no single host's unicast address, or nullopt.
std::optional<std::string_view> notUnicast(const IpAddress& addr) {
  if (addr.family == Family::kIpv4) {
    if (allBytes(addr, 4, 0)) {
      return "the unspecified address";
    }
    if (allBytes(addr, 4, 0xff)) {
      return "the broadcast address";
    }
    if (addr.bytes[0] >= 224 && addr.bytes[0] <= 239) {
      return "a multicast address";
    }
    if (addr.bytes[0] == 127) {
      return "a loopback address";
    }
    return std::nullopt;
  }
  if (allBytes(addr, 16, 0)) {
    return "the unspecified address";
  }
  if (addr.bytes[0] == 0xff) {
    return "a multicast address";
  }
  if (allBytes(addr, 15, 0) && addr.bytes[15] == 1) {
    return "a loopback address";
  }
  if (allBytes(addr, 10, 0) && addr.bytes[10] == 0xff && addr.bytes[11] == 0xff) {
    return "an IPv4-mapped address (give the IPv4 address itself)";
  }
  return std::nullopt;
}

}  // namespace

Status validateWeight(uint64_t weight) {
  if (weight > kMaxWeight) {
    return makeError("weight {} out of range 0..{}", weight, kMaxWeight);
  }
  return {};
}

Status validateLogLevel(std::string_view level) {
  for (std::string_view l : {"trace", "debug", "info", "warn", "error"}) {
    if (level == l) {
      return {};
    }
  }
  return makeError("log level '{}': expected trace, debug, info, warn or error", level);
}

Status validateLogFormat(std::string_view format) {
  if (format == "text" || format == "json") {
    return {};
  }
  return makeError("log format '{}': expected text or json", format);
}

Result<uint32_t> parseWeight(std::string_view text) {
  auto decimal = [](std::string_view t) {
    return !t.empty() && (t.size() == 1 || t.front() != '0') &&
           std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (text.size() > 1 && text.front() == '-' && text[1] != '0' && decimal(text.substr(1))) {
    return makeError("weight {} out of range 0..{}", text, kMaxWeight);
  }
  if (!decimal(text)) {
    return makeError("weight '{}': expected a decimal number from 0 to {}", text, kMaxWeight);
  }
  if (text.size() > 10) {
    return makeError("weight {} out of range 0..{}", text, kMaxWeight);
  }
  uint64_t value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (auto s = validateWeight(value); !s) {
    return std::move(s).takeError();
  }
  return static_cast<uint32_t>(value);
}

Status validateUnicastMac(const MacAddress& mac) {
  if (std::all_of(mac.begin(), mac.end(), [](uint8_t b) { return b == 0; })) {
    return makeError("MAC {}: the all-zero address is no host's", formatMac(mac));
  }
  if (std::all_of(mac.begin(), mac.end(), [](uint8_t b) { return b == 0xff; })) {
    return makeError("MAC {}: the broadcast address is no host's", formatMac(mac));
  }
  if (mac[0] & 1) {
    return makeError("MAC {}: a multicast address is no host's", formatMac(mac));
  }
  return {};
}

Status validateVipAddress(const IpAddress& addr) {
  if (auto why = notUnicast(addr)) {
    return makeError("VIP address {}: {} cannot be a VIP", addr.toString(), *why);
  }
  return {};
}

Status validateBackendAddress(const ServiceKey& vip, const IpAddress& addr) {
  if (addr.family != vip.addr.family) {
    return makeError("backend and VIP must be the same address family");
  }
  if (addr == vip.addr) {
    return makeError("backend {} is the VIP's own address", addr.toString());
  }
  if (auto why = notUnicast(addr)) {
    return makeError("backend address {}: {} cannot be a backend", addr.toString(), *why);
  }
  return {};
}

Status validateBackend(const ServiceKey& vip, ForwardingMode mode, const Endpoint& endpoint,
                       const std::optional<MacAddress>& mac) {
  if (auto s = validateBackendAddress(vip, endpoint.addr); !s) {
    return s;
  }
  if (mode == ForwardingMode::kDr && endpoint.port != 0 && endpoint.port != vip.port) {
    return makeError("dr mode forwards to the VIP's port; a different backend port needs nat mode");
  }
  if (vip.port == 0 && endpoint.port != 0) {
    return makeError("an all-ports VIP keeps the client's destination port; give no backend port");
  }
  if (mac && mode != ForwardingMode::kDr) {
    return makeError("a MAC applies to dr backends only; nat routes to its backends");
  }
  if (mac) {
    return validateUnicastMac(*mac);
  }
  return {};
}

Status validateSocketPath(std::string_view path) {
  constexpr size_t kMax = sizeof(sockaddr_un::sun_path) - 1;
  if (path.empty() || path.size() > kMax || path.find('\0') != std::string_view::npos) {
    return makeError("socket path '{}': must be 1 to {} bytes (this one has {})", path, kMax,
                     path.size());
  }
  return {};
}

Status validateFilePath(std::string_view what, std::string_view path) {
  if (path.empty() || path.find('\0') != std::string_view::npos) {
    return makeError("{}: a path is required", what);
  }
  return {};
}

}  // namespace lb4
