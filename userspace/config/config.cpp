#include "userspace/config/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace lb4 {
namespace {

// Error context: "<file>:<line>: <field>: <detail>".
class Ctx {
 public:
  explicit Ctx(std::string file) : file_(std::move(file)) {}
  // "config <file>:<line>: <field>".
  std::string where(const YAML::Node& node, std::string_view field) const {
    int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    return fmt::format("config {}:{}: {}", file_, line, field);
  }
  Error at(const YAML::Node& node, std::string_view field, std::string_view detail) const {
    return makeError("{}: {}", where(node, field), detail);
  }

 private:
  std::string file_;
};

// yaml-cpp keeps the first of two equal keys and drops the second without a
// word: refuse any mapping, anywhere in the file, that names a key twice.
Status checkDuplicateKeys(const Ctx& ctx, const YAML::Node& node, const std::string& where) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      if (auto s = checkDuplicateKeys(ctx, node[i], fmt::format("{}[{}]", where, i)); !s) {
        return s;
      }
    }
  } else if (node.IsMap()) {
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        continue;  // refused by checkKeys with its own message
      }
      std::string field = where.empty() ? kv.first.Scalar() : where + "." + kv.first.Scalar();
      if (!seen.insert(kv.first.Scalar()).second) {
        return ctx.at(kv.first, field, "given twice (each field once)");
      }
      if (auto s = checkDuplicateKeys(ctx, kv.second, field); !s) {
        return s;
      }
    }
  }
  return {};
}

Status checkKeys(const Ctx& ctx, const YAML::Node& map, std::string_view where,
                 const std::set<std::string>& allowed) {
  if (!map.IsMap()) {
    return ctx.at(map, where, "expected a mapping");
  }
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      return ctx.at(kv.first, where.empty() ? "(top level)" : where, "expected a field name");
    }
    const std::string& key = kv.first.Scalar();
    if (!allowed.count(key)) {
      return ctx.at(kv.first,
                    fmt::format("{}{}", where.empty() ? "" : std::string(where) + ".", key),
                    "unknown field");
    }
  }
  return {};
}

template <typename T>
Status readScalar(const Ctx& ctx, const YAML::Node& parent, const char* name,
                  std::string_view where, T& out) {
  YAML::Node node = parent[name];
  if (!node) {
    return {};
  }
  std::string field = where.empty() ? name : fmt::format("{}.{}", where, name);
  if (!node.IsScalar()) {
    return ctx.at(node, field, "expected a single value");
  }
  try {
    out = node.as<T>();
  } catch (const YAML::Exception&) {
    return ctx.at(node, field,
                  fmt::format("cannot read '{}' as {}", node.Scalar(),
                              std::is_same_v<T, std::string> ? "text"
                              : std::is_same_v<T, bool>      ? "true or false"
                                                             : "a number"));
  }
  return {};
}

// YAML to JSON for the sections that share their schema with the API
// (health checks): integers and booleans become JSON numbers and booleans.
nlohmann::json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : node) {
        arr.push_back(yamlToJson(item));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) {
        // A key that is not a scalar reads as "" and is refused as unknown.
        obj[kv.first.Scalar()] = yamlToJson(kv.second);
      }
      return obj;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() != "!" && !text.empty() &&
          text.find_first_not_of("0123456789") == std::string::npos && text.size() < 19) {
        return std::stoull(text);
      }
      if (node.Tag() != "!" && (text == "true" || text == "false")) {
        return text == "true";
      }
      return text;
    }
    default:
      return nullptr;
  }
}

Status readScoring(const Ctx& ctx, const YAML::Node& node, ScoringConfig& sc) {
  if (auto s =
          checkKeys(ctx, node, "scoring",
                    {"err_rate", "contin_err_limit", "succ_rate", "contin_succ_limit",
                     "overload_timeout_ms", "min_samples", "idle_timeout_ms", "initial_vsucc",
                     "initial_verr", "overload_vsucc", "overload_verr", "start_up", "latency_alpha",
                     "latency_weighting", "latency_target_us", "latency_min_factor"});
      !s) {
    return s;
  }
  int64_t overloadMs = sc.overloadTimeout.count();
  int64_t idleMs = sc.idleTimeout.count();
  int64_t targetUs = sc.latencyTarget.count();
  Status s;
  if (!(s = readScalar(ctx, node, "err_rate", "scoring", sc.errRate)) ||
      !(s = readScalar(ctx, node, "contin_err_limit", "scoring", sc.continErrLimit)) ||
      !(s = readScalar(ctx, node, "succ_rate", "scoring", sc.succRate)) ||
      !(s = readScalar(ctx, node, "contin_succ_limit", "scoring", sc.continSuccLimit)) ||
      !(s = readScalar(ctx, node, "overload_timeout_ms", "scoring", overloadMs)) ||
      !(s = readScalar(ctx, node, "min_samples", "scoring", sc.minSamples)) ||
      !(s = readScalar(ctx, node, "idle_timeout_ms", "scoring", idleMs)) ||
      !(s = readScalar(ctx, node, "initial_vsucc", "scoring", sc.initialVsucc)) ||
      !(s = readScalar(ctx, node, "initial_verr", "scoring", sc.initialVerr)) ||
      !(s = readScalar(ctx, node, "overload_vsucc", "scoring", sc.overloadVsucc)) ||
      !(s = readScalar(ctx, node, "overload_verr", "scoring", sc.overloadVerr)) ||
      !(s = readScalar(ctx, node, "start_up", "scoring", sc.startUp)) ||
      !(s = readScalar(ctx, node, "latency_alpha", "scoring", sc.latencyAlpha)) ||
      !(s = readScalar(ctx, node, "latency_weighting", "scoring", sc.latencyWeighting)) ||
      !(s = readScalar(ctx, node, "latency_target_us", "scoring", targetUs)) ||
      !(s = readScalar(ctx, node, "latency_min_factor", "scoring", sc.latencyMinFactor))) {
    return s;
  }
  if (overloadMs < 0 || idleMs <= 0 || targetUs <= 0) {
    return ctx.at(node, "scoring", "timeouts must be positive");
  }
  sc.overloadTimeout = std::chrono::milliseconds(overloadMs);
  sc.idleTimeout = std::chrono::milliseconds(idleMs);
  sc.latencyTarget = std::chrono::microseconds(targetUs);
  if (auto v = sc.validate(); !v) {
    return ctx.at(node, "scoring", v.error());
  }
  return {};
}

Status readVips(const Ctx& ctx, const YAML::Node& list, DaemonConfig& cfg) {
  if (!list.IsSequence()) {
    return ctx.at(list, "vips", "expected a list");
  }
  DesiredState& state = cfg.initial;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& v = list[i];
    std::string where = fmt::format("vips[{}]", i);
    if (auto s = checkKeys(
            ctx, v, where,
            {"vip", "mode", "ring_size", "all_ports", "allow", "deny", "health", "backends"});
        !s) {
      return s;
    }
    std::string name;
    std::string mode = "dr";
    uint32_t ring = cfg.defaultRingSize;
    if (auto s = readScalar(ctx, v, "vip", where, name); !s) {
      return s;
    }
    if (name.empty()) {
      return ctx.at(v, where + ".vip", "missing");
    }
    if (auto s = readScalar(ctx, v, "mode", where, mode); !s) {
      return s;
    }
    if (auto s = readScalar(ctx, v, "ring_size", where, ring); !s) {
      return s;
    }
    bool allPorts = false;
    if (auto s = readScalar(ctx, v, "all_ports", where, allPorts); !s) {
      return s;
    }
    auto key = ServiceKey::parse(name, allPorts);
    if (!key) {
      return ctx.at(v["vip"], where + ".vip",
                    key.error() + (allPorts ? "" : " (all_ports: true for a VIP on every port)"));
    }
    if (allPorts && key->port != 0) {
      return ctx.at(v["vip"], where + ".vip",
                    "all_ports needs the VIP without a port (ADDR/PROTO)");
    }
    auto m = parseMode(mode);
    if (!m) {
      return ctx.at(v["mode"], where + ".mode", m.error());
    }
    if (auto s = state.addVip(*key, *m, ring); !s) {
      return ctx.at(v, where, s.error());
    }
    std::vector<IpPrefix> lists[2];
    for (int l = 0; l < 2; ++l) {
      const char* name = l == 0 ? "allow" : "deny";
      YAML::Node node = v[name];
      if (!node) {
        continue;
      }
      if (!node.IsSequence()) {
        return ctx.at(node, where + "." + name, "expected a list of prefixes");
      }
      for (size_t j = 0; j < node.size(); ++j) {
        std::string text;
        if (!node[j].IsScalar() || (text = node[j].as<std::string>()).empty()) {
          return ctx.at(node[j], fmt::format("{}.{}[{}]", where, name, j), "expected a prefix");
        }
        auto p = IpPrefix::parse(text);
        if (!p) {
          return ctx.at(node[j], fmt::format("{}.{}[{}]", where, name, j), p.error());
        }
        lists[l].push_back(*p);
      }
    }
    if (!lists[0].empty() || !lists[1].empty()) {
      if (auto s = state.setSources(*key, lists[0], lists[1]); !s) {
        return ctx.at(v, where, s.error());
      }
    }
    if (YAML::Node health = v["health"]) {
      if (!health.IsMap()) {
        return ctx.at(health, where + ".health", "expected a mapping");
      }
      auto hc =
          HealthCheck::fromJson(yamlToJson(health), defaultHealthCheck(key->proto == Proto::kTcp));
      if (!hc) {
        return ctx.at(health, where + ".health", hc.error());
      }
      if (auto s = state.setHealth(*key, *hc); !s) {
        return ctx.at(health, where + ".health", s.error());
      }
    }
    YAML::Node backends = v["backends"];
    if (!backends) {
      continue;
    }
    if (!backends.IsSequence()) {
      return ctx.at(backends, where + ".backends", "expected a list");
    }
    for (size_t j = 0; j < backends.size(); ++j) {
      const YAML::Node& b = backends[j];
      std::string bwhere = fmt::format("{}.backends[{}]", where, j);
      if (auto s = checkKeys(ctx, b, bwhere, {"address", "weight", "mac", "health"}); !s) {
        return s;
      }
      std::string addr;
      std::string macText;
      std::string weightText;
      if (auto s = readScalar(ctx, b, "address", bwhere, addr); !s) {
        return s;
      }
      if (auto s = readScalar(ctx, b, "weight", bwhere, weightText); !s) {
        return s;
      }
      if (auto s = readScalar(ctx, b, "mac", bwhere, macText); !s) {
        return s;
      }
      auto endpoint = Endpoint::parse(addr);
      if (!endpoint) {
        return ctx.at(b["address"] ? b["address"] : b, bwhere + ".address", endpoint.error());
      }
      uint32_t weight = kDefaultWeight;
      if (b["weight"]) {
        auto parsed = parseWeight(weightText);
        if (!parsed) {
          return ctx.at(b["weight"], bwhere + ".weight", parsed.error());
        }
        weight = *parsed;
      }
      std::optional<MacAddress> mac;
      if (b["mac"]) {
        auto parsed = parseMac(macText);
        if (!parsed) {
          return ctx.at(b["mac"], bwhere + ".mac", parsed.error());
        }
        if (auto s = validateUnicastMac(*parsed); !s) {
          return ctx.at(b["mac"], bwhere + ".mac", s.error());
        }
        mac = *parsed;
      }
      if (auto s = state.addBackend(*key, *endpoint, weight, mac); !s) {
        return ctx.at(b, bwhere, s.error());
      }
      if (YAML::Node health = b["health"]) {
        if (!health.IsMap()) {
          return ctx.at(health, bwhere + ".health", "expected a mapping");
        }
        // Fields given here override the VIP's check for this backend only.
        auto hc = HealthCheck::fromJson(yamlToJson(health), state.findVip(*key)->healthCheck());
        if (!hc) {
          return ctx.at(health, bwhere + ".health", hc.error());
        }
        if (auto s = state.setBackendHealth(*key, endpoint->addr, *hc); !s) {
          return ctx.at(health, bwhere + ".health", s.error());
        }
      }
    }
  }
  return {};
}

}  // namespace

Result<DaemonConfig> parseConfig(const std::string& text, const std::string& name) {
  Ctx ctx(name);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return makeError("config {}:{}: {}", name, e.mark.line + 1, e.msg);
  }
  DaemonConfig cfg;
  if (!root || root.IsNull()) {
    return cfg;
  }
  if (auto s = checkDuplicateKeys(ctx, root, ""); !s) {
    return std::move(s).takeError();
  }
  if (auto s = checkKeys(
          ctx, root, "",
          {"socket", "socket_group", "state_file", "pin_root", "conntrack_size", "nat_reverse_size",
           "conntrack_tcp_timeout_s", "conntrack_tcp_fin_timeout_s", "conntrack_udp_timeout_s",
           "ring_size", "log_level", "log_format", "neighbour_retry_ms", "metrics_listen",
           "vlan_offload", "scoring", "bgp", "interfaces", "vips"});
      !s) {
    return std::move(s).takeError();
  }
  Status s;
  if (!(s = readScalar(ctx, root, "socket", "", cfg.socketPath)) ||
      !(s = readScalar(ctx, root, "socket_group", "", cfg.socketGroup)) ||
      !(s = readScalar(ctx, root, "state_file", "", cfg.stateFile)) ||
      !(s = readScalar(ctx, root, "pin_root", "", cfg.pinRoot)) ||
      !(s = readScalar(ctx, root, "conntrack_size", "", cfg.conntrackSize)) ||
      !(s = readScalar(ctx, root, "nat_reverse_size", "", cfg.natReverseSize)) ||
      !(s = readScalar(ctx, root, "conntrack_tcp_timeout_s", "", cfg.tcpTimeoutS)) ||
      !(s = readScalar(ctx, root, "conntrack_tcp_fin_timeout_s", "", cfg.tcpFinTimeoutS)) ||
      !(s = readScalar(ctx, root, "conntrack_udp_timeout_s", "", cfg.udpTimeoutS)) ||
      !(s = readScalar(ctx, root, "ring_size", "", cfg.defaultRingSize)) ||
      !(s = readScalar(ctx, root, "log_level", "", cfg.logLevel)) ||
      !(s = readScalar(ctx, root, "log_format", "", cfg.logFormat)) ||
      !(s = readScalar(ctx, root, "neighbour_retry_ms", "", cfg.neighbourRetryMs)) ||
      !(s = readScalar(ctx, root, "metrics_listen", "", cfg.metricsListen)) ||
      !(s = readScalar(ctx, root, "vlan_offload", "", cfg.vlanOffload))) {
    return std::move(s).takeError();
  }
  cfg.metricsListenSet = static_cast<bool>(root["metrics_listen"]);
  if (auto m = parseListenAddress(cfg.metricsListen); !m) {
    return ctx.at(root["metrics_listen"], "metrics_listen", m.error());
  }
  for (auto [name, value] :
       {std::pair{"socket", &cfg.socketPath}, std::pair{"state_file", &cfg.stateFile},
        std::pair{"pin_root", &cfg.pinRoot}}) {
    Status valid = std::string_view(name) == "socket" ? validateSocketPath(*value)
                                                      : validateFilePath(name, *value);
    if (!valid) {
      return ctx.at(root[name], name, valid.error());
    }
  }
  if (auto r = validateRingSize(cfg.defaultRingSize); !r) {
    return ctx.at(root["ring_size"], "ring_size", r.error());
  }
  if (cfg.conntrackSize < 1024 || cfg.conntrackSize > (1U << 26)) {
    return ctx.at(root["conntrack_size"], "conntrack_size", "must be from 1024 to 67108864");
  }
  if (cfg.natReverseSize < 1024 || cfg.natReverseSize > (1U << 26)) {
    return ctx.at(root["nat_reverse_size"], "nat_reverse_size", "must be from 1024 to 67108864");
  }
  for (auto [name, value] : {std::pair{"conntrack_tcp_timeout_s", cfg.tcpTimeoutS},
                             std::pair{"conntrack_tcp_fin_timeout_s", cfg.tcpFinTimeoutS},
                             std::pair{"conntrack_udp_timeout_s", cfg.udpTimeoutS}}) {
    if (value < 1 || value > 86400) {
      return ctx.at(root[name], name, "must be from 1 to 86400 seconds");
    }
  }
  if (auto f = validateLogFormat(cfg.logFormat); !f) {
    return ctx.at(root["log_format"], "log_format", "expected text or json");
  }
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (!levels.count(cfg.logLevel)) {
    return ctx.at(root["log_level"], "log_level", "expected trace, debug, info, warn or error");
  }
  if (cfg.vlanOffload != "disable" && cfg.vlanOffload != "keep") {
    return ctx.at(root["vlan_offload"], "vlan_offload", "expected disable or keep");
  }
  if (cfg.neighbourRetryMs < 10 || cfg.neighbourRetryMs > 60000) {
    return ctx.at(root["neighbour_retry_ms"], "neighbour_retry_ms", "must be from 10 to 60000");
  }
  if (YAML::Node scoring = root["scoring"]) {
    if (auto r = readScoring(ctx, scoring, cfg.scoring); !r) {
      return std::move(r).takeError();
    }
  }
  if (YAML::Node bgp = root["bgp"]) {
    if (auto r = readBgpConfig(bgp, name, cfg.bgp); !r) {
      return std::move(r).takeError();
    }
  }
  if (YAML::Node ifaces = root["interfaces"]) {
    if (!ifaces.IsSequence()) {
      return ctx.at(ifaces, "interfaces", "expected a list");
    }
    for (size_t i = 0; i < ifaces.size(); ++i) {
      std::string ifname;
      if (!ifaces[i].IsScalar()) {
        return ctx.at(ifaces[i], fmt::format("interfaces[{}]", i), "expected a name");
      }
      ifname = ifaces[i].Scalar();
      if (auto r = cfg.initial.addInterface(ifname); !r) {
        return ctx.at(ifaces[i], fmt::format("interfaces[{}]", i), r.error());
      }
      cfg.interfaceOrigins.push_back(ctx.where(ifaces[i], fmt::format("interfaces[{}]", i)));
    }
  }
  if (YAML::Node vips = root["vips"]) {
    if (auto r = readVips(ctx, vips, cfg); !r) {
      return std::move(r).takeError();
    }
  }
  return cfg;
}

Status validateDaemonSettings(const DaemonConfig& config) {
  if (auto s = validateSocketPath(config.socketPath); !s) {
    return s;
  }
  if (auto s = validateFilePath("state_file", config.stateFile); !s) {
    return s;
  }
  if (auto s = validateFilePath("pin_root", config.pinRoot); !s) {
    return s;
  }
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (!levels.count(config.logLevel)) {
    return makeError("log level '{}': expected trace, debug, info, warn or error", config.logLevel);
  }
  if (auto f = validateLogFormat(config.logFormat); !f) {
    return f;
  }
  if (auto m = parseListenAddress(config.metricsListen); !m) {
    return makeError("metrics_listen: {}", m.error());
  }
  if (config.bgp.enabled) {
    if (auto s = validateBgpConfig(config.bgp); !s) {
      return makeError("bgp.{}", s.error());
    }
  }
  return {};
}

Result<DaemonConfig> loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return makeError("config {}: cannot open file", path);
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return parseConfig(buf.str(), path);
}

}  // namespace lb4
