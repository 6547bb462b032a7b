#include "userspace/config/bgp_config.h"

#include <fmt/format.h>

#include <set>

#include "userspace/bgp/bird.h"
#include "userspace/state/rules.h"

namespace lb4 {
namespace {

Error at(const std::string& file, const YAML::Node& node, std::string_view field,
         std::string_view detail) {
  int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
  return makeError("config {}:{}: bgp{}{}: {}", file, line, field.empty() ? "" : ".", field,
                   detail);
}

template <typename T>
Status read(const std::string& file, const YAML::Node& parent, const char* name, T& out) {
  YAML::Node node = parent[name];
  if (!node) {
    return {};
  }
  if (!node.IsScalar()) {
    return at(file, node, name, "expected a single value");
  }
  try {
    out = node.as<T>();
  } catch (const YAML::Exception&) {
    return at(file, node, name,
              fmt::format("cannot read '{}' as {}", node.Scalar(),
                          std::is_same_v<T, std::string> ? "text"
                          : std::is_same_v<T, bool>      ? "true or false"
                                                         : "a number"));
  }
  return {};
}

}  // namespace

Status validateBgpConfig(const BgpConfig& c) {
  if (c.includeFile.empty() || c.includeFile.front() != '/' ||
      c.includeFile.find_first_of(std::string_view("\"\0\n", 3)) != std::string::npos) {
    return makeError("include_file '{}': an absolute path without quotes or newlines",
                     c.includeFile);
  }
  if (c.includeFile.back() == '/') {
    return makeError("include_file '{}': a file, not a directory", c.includeFile);
  }
  if (auto s = validateSocketPath(c.birdSocket); !s) {
    return makeError("bird_socket: {}", s.error());
  }
  if (auto s = validateBirdProtocolName(c.protocol); !s) {
    return makeError("protocol: {}", s.error());
  }
  if (c.retryMs < 100 || c.retryMs > 60000) {
    return makeError("retry_ms: must be from 100 to 60000");
  }
  if (c.timeoutMs < 100 || c.timeoutMs > 60000) {
    return makeError("timeout_ms: must be from 100 to 60000");
  }
  return {};
}

Status readBgpConfig(const YAML::Node& node, const std::string& file, BgpConfig& out) {
  if (!node.IsMap()) {
    return at(file, node, "", "expected a mapping");
  }
  static const std::set<std::string> allowed = {"enabled",         "include_file", "bird_socket",
                                                "protocol",        "retry_ms",     "timeout_ms",
                                                "withdraw_on_stop"};
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      return at(file, kv.first, "", "expected a field name");
    }
    if (!allowed.count(kv.first.Scalar())) {
      return at(file, kv.first, kv.first.Scalar(), "unknown field");
    }
  }
  BgpConfig c = out;
  Status s;
  if (!(s = read(file, node, "enabled", c.enabled)) ||
      !(s = read(file, node, "include_file", c.includeFile)) ||
      !(s = read(file, node, "bird_socket", c.birdSocket)) ||
      !(s = read(file, node, "protocol", c.protocol)) ||
      !(s = read(file, node, "retry_ms", c.retryMs)) ||
      !(s = read(file, node, "timeout_ms", c.timeoutMs)) ||
      !(s = read(file, node, "withdraw_on_stop", c.withdrawOnStop))) {
    return s;
  }
  if (auto v = validateBgpConfig(c); !v) {
    // "<field>: <detail>" -> the field's own line.
    std::string msg = v.error();
    std::string field = msg.substr(0, msg.find(':'));
    std::string first = field.substr(0, field.find(' '));
    int line = node.Mark().line;
    for (const auto& kv : node) {
      if (kv.first.Scalar() == first) {
        line = kv.second.Mark().line;
      }
    }
    return makeError("config {}:{}: bgp.{}", file, line + 1, msg);
  }
  out = std::move(c);
  return {};
}

}  // namespace lb4
