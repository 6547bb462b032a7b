// Addresses used by every test: only the benchmarking range 198.18.0.0/15,
// the IPv6 documentation prefix 2001:db8::/32 and locally administered MACs.
#pragma once

#include <array>
#include <cstdint>

namespace lb4::test {

using Mac = std::array<uint8_t, 6>;

// IPv4
inline constexpr const char* kClientV4 = "198.18.0.10";
inline constexpr const char* kClient2V4 = "198.18.0.11";
inline constexpr const char* kVipV4 = "198.18.1.1";
inline constexpr const char* kOtherV4 = "198.18.1.2";  // not a VIP
inline constexpr const char* kBackend1V4 = "198.18.2.1";
inline constexpr const char* kBackend2V4 = "198.18.2.2";

// IPv6
inline constexpr const char* kClientV6 = "2001:db8::10";
inline constexpr const char* kVipV6 = "2001:db8:1::1";
inline constexpr const char* kOtherV6 = "2001:db8:1::2";  // not a VIP
inline constexpr const char* kBackend1V6 = "2001:db8:2::1";

// MACs (locally administered, unicast)
inline constexpr Mac kClientMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x10};
inline constexpr Mac kGatewayMac = {0x02, 0x00, 0x00, 0x00, 0x01, 0x01};
inline constexpr Mac kBackend1Mac = {0x02, 0x00, 0x00, 0x00, 0x02, 0x01};
inline constexpr Mac kBackend2Mac = {0x02, 0x00, 0x00, 0x00, 0x02, 0x02};
inline constexpr Mac kBackend3Mac = {0x02, 0x00, 0x00, 0x00, 0x02, 0x03};

}  // namespace lb4::test
