#include "userspace/metrics/listen_address.h"

namespace lb4 {

std::string ListenAddress::toString() const {
  return addr.family == Family::kIpv6 ? fmt::format("[{}]:{}", addr.toString(), port)
                                      : fmt::format("{}:{}", addr.toString(), port);
}

Result<std::optional<ListenAddress>> parseListenAddress(std::string_view text) {
  if (text.empty()) {
    return std::optional<ListenAddress>{};
  }
  auto bad = [&](std::string_view detail) {
    return makeError(
        "listen address '{}': {} (expected ADDR:PORT, [ADDR]:PORT for IPv6, "
        "or \"\" for no metrics endpoint)",
        text, detail);
  };
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("an IPv6 address is written [ADDR]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return bad("no port");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad("an IPv6 address is written [ADDR]:PORT");
    }
  }
  auto addr = IpAddress::parse(host);
  if (!addr) {
    return bad(fmt::format("'{}' is not an IP address", host));
  }
  if ((text.front() == '[') != (addr->family == Family::kIpv6)) {
    return bad("only an IPv6 address goes in brackets");
  }
  auto p = parsePort(port);
  if (!p || *p == 0) {
    return bad("port must be from 1 to 65535");
  }
  return std::optional<ListenAddress>{ListenAddress{.addr = *addr, .port = *p}};
}

}  // namespace lb4
