#include "userspace/bgp/bird.h"

#include <fmt/format.h>

#include <cctype>

namespace lb4 {

std::string hostPrefix(const IpAddress& addr) {
  return fmt::format("{}/{}", addr.toString(), addr.family == Family::kIpv4 ? 32 : 128);
}

std::string renderBirdInclude(std::string_view protocol, const std::set<IpAddress>& addrs) {
  std::string out =
      "# Written by lb4d: the VIPs this gateway can serve. Replaced on every change;\n"
      "# do not edit. bird.conf includes it and exports these protocols to BGP.\n";
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    bool v4 = family == Family::kIpv4;
    out += fmt::format("protocol static {}{} {{\n  {};\n", protocol, v4 ? "4" : "6",
                       v4 ? "ipv4" : "ipv6");
    for (const auto& a : addrs) {
      if (a.family == family) {
        out += fmt::format("  route {} blackhole;\n", hostPrefix(a));
      }
    }
    out += "}\n";
  }
  return out;
}

bool BirdReply::feed(std::string_view line) {
  if (complete_) {
    return true;
  }
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  bool coded = line.size() >= 5 && std::isdigit(static_cast<unsigned char>(line[0])) &&
               std::isdigit(static_cast<unsigned char>(line[1])) &&
               std::isdigit(static_cast<unsigned char>(line[2])) &&
               std::isdigit(static_cast<unsigned char>(line[3])) &&
               (line[4] == ' ' || line[4] == '-');
  std::string_view body = coded ? line.substr(5) : (line.empty() ? line : line.substr(1));
  if (!body.empty()) {
    if (!text_.empty()) {
      text_ += "; ";
    }
    text_ += body;
  }
  if (!coded) {
    return false;
  }
  int code = std::stoi(std::string(line.substr(0, 4)));
  if (code >= 8000 && !errorCode_) {
    errorCode_ = code;
    errorText_ = std::string(body);
  }
  complete_ = line[4] == ' ';
  return complete_;
}

Status BirdReply::status() const {
  if (!complete_) {
    return makeError("incomplete reply");
  }
  if (errorCode_) {
    return makeError("{} {}", *errorCode_, errorText_.empty() ? text_ : errorText_);
  }
  return {};
}

Status validateBirdProtocolName(std::string_view name) {
  if (name.empty() || name.size() > 30) {
    return makeError("protocol name '{}': 1 to 30 characters", name);
  }
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (!(std::isalpha(c) || c == '_' || (i > 0 && std::isdigit(c)))) {
      return makeError("protocol name '{}': a letter or '_' first, then letters, digits or '_'",
                       name);
    }
  }
  return {};
}

}  // namespace lb4
