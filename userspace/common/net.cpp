#include "userspace/common/net.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace lb4 {

Result<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress addr;
  if (s.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, s.c_str(), addr.bytes.data()) != 1) {
      return makeError("parse address '{}': not a valid IPv6 address", s);
    }
    addr.family = Family::kIpv6;
    return addr;
  }
  if (inet_pton(AF_INET, s.c_str(), addr.bytes.data()) != 1) {
    return makeError("parse address '{}': not a valid IPv4 or IPv6 address", s);
  }
  addr.family = Family::kIpv4;
  return addr;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  int af = family == Family::kIpv4 ? AF_INET : AF_INET6;
  inet_ntop(af, bytes.data(), buf, sizeof(buf));
  return buf;
}

Result<IpPrefix> IpPrefix::parse(std::string_view text) {
  IpPrefix prefix;
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) {
    return makeError("parse prefix '{}': {}", text, addr.error());
  }
  prefix.addr = *addr;
  prefix.length = prefix.maxLength();
  if (slash != std::string_view::npos) {
    std::string_view len = text.substr(slash + 1);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
    if (len.empty() || ec != std::errc() || ptr != len.data() + len.size() ||
        value > prefix.maxLength() || (len.size() > 1 && len[0] == '0')) {
      return makeError("parse prefix '{}': length must be 0..{}", text, prefix.maxLength());
    }
    prefix.length = static_cast<uint8_t>(value);
  }
  IpPrefix network = prefix;
  for (unsigned bit = prefix.length; bit < 128; ++bit) {
    network.addr.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (network.addr != prefix.addr) {
    return makeError("parse prefix '{}': host bits set (the prefix is {})", text,
                     network.toString());
  }
  return prefix;
}

std::string IpPrefix::toString() const { return fmt::format("{}/{}", addr.toString(), length); }

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != addr.family) {
    return false;
  }
  for (unsigned bit = 0; bit < length; ++bit) {
    uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    if ((a.bytes[bit / 8] & mask) != (addr.bytes[bit / 8] & mask)) {
      return false;
    }
  }
  return true;
}

Result<MacAddress> parseMac(std::string_view text) {
  MacAddress mac{};
  if (text.size() != 17) {
    return makeError("parse MAC '{}': expected aa:bb:cc:dd:ee:ff", text);
  }
  for (size_t i = 0; i < 6; ++i) {
    std::string_view byte = text.substr(i * 3, 2);
    if (i < 5 && text[i * 3 + 2] != ':') {
      return makeError("parse MAC '{}': expected aa:bb:cc:dd:ee:ff", text);
    }
    auto [ptr, ec] = std::from_chars(byte.data(), byte.data() + 2, mac[i], 16);
    if (ec != std::errc() || ptr != byte.data() + 2) {
      return makeError("parse MAC '{}': expected aa:bb:cc:dd:ee:ff", text);
    }
  }
  return mac;
}

std::string formatMac(const MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

std::string_view protoName(Proto proto) {
  switch (proto) {
    case Proto::kTcp:
      return "tcp";
    case Proto::kUdp:
      return "udp";
  }
  return "?";
}

Result<Proto> parseProto(std::string_view text) {
  if (text == "tcp") {
    return Proto::kTcp;
  }
  if (text == "udp") {
    return Proto::kUdp;
  }
  return makeError("parse protocol '{}': expected tcp or udp", text);
}

Result<uint16_t> parsePort(std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value > 65535) {
    return makeError("parse port '{}': expected a number from 1 to 65535", text);
  }
  return static_cast<uint16_t>(value);
}

namespace {

// Splits "ADDR:PORT" / "[ADDR]:PORT" / "ADDR" into address and port text.
Result<std::pair<std::string_view, std::string_view>> splitHostPort(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return makeError("parse '{}': missing ']'", text);
    }
    std::string_view host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) {
      return std::pair{host, std::string_view{}};
    }
    if (rest.front() != ':') {
      return makeError("parse '{}': expected ':' after ']'", text);
    }
    return std::pair{host, rest.substr(1)};
  }
  size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
    return std::pair{text, std::string_view{}};  // bare IPv6 address, no port
  }
  if (colon == std::string_view::npos) {
    return std::pair{text, std::string_view{}};
  }
  return std::pair{text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

Result<ServiceKey> ServiceKey::parse(std::string_view text, bool allowAllPorts) {
  size_t slash = text.rfind('/');
  if (slash == std::string_view::npos) {
    return makeError("parse VIP '{}': expected ADDR:PORT/PROTO (e.g. 198.18.1.1:80/tcp)", text);
  }
  auto proto = parseProto(text.substr(slash + 1));
  if (!proto) {
    return makeError("parse VIP '{}': {}", text, proto.error());
  }
  auto parts = splitHostPort(text.substr(0, slash));
  if (!parts) {
    return makeError("parse VIP '{}': {}", text, parts.error());
  }
  auto addr = IpAddress::parse(parts->first);
  if (!addr) {
    return makeError("parse VIP '{}': {}", text, addr.error());
  }
  uint16_t port = 0;
  if (!parts->second.empty()) {
    auto p = parsePort(parts->second);
    if (!p) {
      return makeError("parse VIP '{}': {}", text, p.error());
    }
    port = *p;
  }
  if (port == 0 && !allowAllPorts) {
    if (addr->family == Family::kIpv6 && text.front() != '[') {
      return makeError(
          "parse VIP '{}': an IPv6 VIP takes its port after brackets, "
          "e.g. [2001:db8::1]:80/tcp",
          text);
    }
    return makeError("parse VIP '{}': port must be from 1 to 65535", text);
  }
  return ServiceKey{*addr, port, *proto};
}

std::string ServiceKey::toString() const {
  std::string host = addr.family == Family::kIpv6 ? "[" + addr.toString() + "]" : addr.toString();
  return fmt::format("{}:{}/{}", host, port, protoName(proto));
}

ServiceKey ServiceKey::fromAbi(const lb4_vip_key& key) {
  ServiceKey out;
  out.addr.family = key.family == LB4_AF_INET6 ? Family::kIpv6 : Family::kIpv4;
  std::memcpy(out.addr.bytes.data(), key.addr, out.addr.bytes.size());
  out.port = ntohs(key.port);
  out.proto = static_cast<Proto>(key.proto);
  return out;
}

lb4_vip_key ServiceKey::toAbi() const {
  lb4_vip_key key;
  std::memset(&key, 0, sizeof(key));
  std::memcpy(key.addr, addr.bytes.data(), 16);
  key.port = htons(port);
  key.proto = static_cast<uint8_t>(proto);
  key.family = static_cast<uint8_t>(addr.family);
  return key;
}

Result<Endpoint> Endpoint::parse(std::string_view text) {
  auto parts = splitHostPort(text);
  if (!parts) {
    return makeError("parse backend '{}': {}", text, parts.error());
  }
  auto addr = IpAddress::parse(parts->first);
  if (!addr) {
    return makeError("parse backend '{}': {}", text, addr.error());
  }
  uint16_t port = 0;
  if (!parts->second.empty()) {
    auto p = parsePort(parts->second);
    if (!p || *p == 0) {
      return makeError("parse backend '{}': port must be from 1 to 65535", text);
    }
    port = *p;
  }
  return Endpoint{*addr, port};
}

std::string Endpoint::toString() const {
  if (port == 0) {
    return addr.toString();
  }
  if (addr.family == Family::kIpv6) {
    return fmt::format("[{}]:{}", addr.toString(), port);
  }
  return fmt::format("{}:{}", addr.toString(), port);
}

}  // namespace lb4
