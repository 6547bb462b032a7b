// The address the metrics endpoint listens on: "ADDR:PORT" (IPv6 as
// "[ADDR]:PORT"), or "" for no endpoint. Checked with the other settings
// before lb4d changes anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "userspace/common/net.h"
#include "userspace/common/result.h"

namespace lb4 {

// lb4d's default: loopback only, on a port of its own.
constexpr uint16_t kDefaultMetricsPort = 9474;
inline constexpr const char* kDefaultMetricsListen = "127.0.0.1:9474";

struct ListenAddress {
  IpAddress addr;
  uint16_t port = 0;
  std::string toString() const;
};

// nullopt for "" (metrics off); an error names the text and what is wrong.
Result<std::optional<ListenAddress>> parseListenAddress(std::string_view text);

}  // namespace lb4
