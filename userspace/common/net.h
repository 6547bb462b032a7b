// Addresses and service names as the operator writes them, and their
// conversion to the ABI structs: "198.18.1.1", "2001:db8::1",
// "198.18.1.1:80/tcp", "[2001:db8::1]:80/udp", "198.18.0.0/15",
// "aa:bb:cc:dd:ee:ff".
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bpf/lb4_abi.h"
#include "userspace/common/result.h"

namespace lb4 {

enum class Family : uint8_t { kIpv4 = LB4_AF_INET, kIpv6 = LB4_AF_INET6 };
enum class Proto : uint8_t { kTcp = 6, kUdp = 17 };

struct IpAddress {
  Family family = Family::kIpv4;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 in bytes[0..3]

  static Result<IpAddress> parse(std::string_view text);
  std::string toString() const;
  auto operator<=>(const IpAddress&) const = default;
};

// A source prefix of a VIP's allow or deny list: "198.18.0.0/15",
// "2001:db8:1::/48"; a bare address is its host prefix (/32, /128). Host
// bits past the length must be zero, so the text names exactly one prefix.
struct IpPrefix {
  IpAddress addr;
  uint8_t length = 0;

  static Result<IpPrefix> parse(std::string_view text);
  std::string toString() const;
  uint8_t maxLength() const { return addr.family == Family::kIpv4 ? 32 : 128; }
  bool contains(const IpAddress& a) const;
  auto operator<=>(const IpPrefix&) const = default;
};

using MacAddress = std::array<uint8_t, 6>;
Result<MacAddress> parseMac(std::string_view text);
std::string formatMac(const MacAddress& mac);

// A virtual service: address, port (host order, 0 = all ports) and protocol.
struct ServiceKey {
  IpAddress addr;
  uint16_t port = 0;
  Proto proto = Proto::kTcp;

  // "ADDR:PORT/PROTO", IPv6 in brackets. Port 0 is refused unless
  // allowAllPorts (then "ADDR:0/PROTO" or "ADDR/PROTO" mean every port).
  static Result<ServiceKey> parse(std::string_view text, bool allowAllPorts = false);
  // The key of an lb4_vips entry; a family other than IPv6 reads as IPv4.
  static ServiceKey fromAbi(const lb4_vip_key& key);
  std::string toString() const;
  lb4_vip_key toAbi() const;
  auto operator<=>(const ServiceKey&) const = default;
};

// "ADDR" or "ADDR:PORT" (IPv6 as "[ADDR]:PORT" when a port is given).
struct Endpoint {
  IpAddress addr;
  uint16_t port = 0;  // 0 = the VIP's port
  static Result<Endpoint> parse(std::string_view text);
  std::string toString() const;
  auto operator<=>(const Endpoint&) const = default;
};

// "tcp", "udp", or "?" for a value that is neither.
std::string_view protoName(Proto proto);
Result<Proto> parseProto(std::string_view text);
Result<uint16_t> parsePort(std::string_view text);

}  // namespace lb4
