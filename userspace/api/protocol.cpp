#include "userspace/api/protocol.h"

#include <array>
#include <set>

namespace lb4 {
namespace {

struct OpSpec {
  Op op;
  std::string_view name;
  std::set<std::string_view> required;
  std::set<std::string_view> optional;
};

const std::array<OpSpec, 21>& opSpecs() {
  static const std::array<OpSpec, 21> specs = {{
      {Op::kStatus, "status", {}, {}},
      {Op::kList, "list", {}, {"vip"}},
      {Op::kStats, "stats", {}, {"vip"}},
      {Op::kHealth, "health", {}, {"vip"}},
      {Op::kAttach, "attach", {"interface"}, {"generic"}},
      {Op::kDetach, "detach", {"interface"}, {}},
      {Op::kAddVip, "add-vip", {"vip"}, {"mode", "ring_size", "all_ports", "allow", "deny"}},
      {Op::kDelVip, "del-vip", {"vip"}, {}},
      {Op::kAddBackend, "add-backend", {"vip", "backend"}, {"weight", "mac", "wait_ms"}},
      {Op::kDelBackend, "del-backend", {"vip", "backend"}, {}},
      {Op::kSetWeight, "set-weight", {"vip", "backend", "weight"}, {}},
      {Op::kDrain, "drain", {"vip", "backend"}, {}},
      {Op::kUndrain, "undrain", {"vip", "backend"}, {}},
      {Op::kSetHealth, "set-health", {"vip", "health"}, {"backend"}},
      {Op::kGatewayDrain, "gateway-drain", {}, {}},
      {Op::kGatewayUndrain, "gateway-undrain", {}, {}},
      {Op::kLogLevel, "log-level", {}, {"level"}},
      {Op::kDoctor, "doctor", {}, {}},
      {Op::kTrace, "trace", {"vip", "client"}, {}},
      {Op::kSetSources, "set-sources", {"vip"}, {"allow", "deny"}},
      {Op::kApply, "apply", {"config"}, {"dry_run"}},
  }};
  return specs;
}

Result<std::string> stringField(const nlohmann::json& obj, const char* name) {
  const auto& v = obj.at(name);
  if (!v.is_string()) {
    return makeError("field '{}' must be a string", name);
  }
  return v.get<std::string>();
}

Result<uint32_t> uintField(const nlohmann::json& obj, const char* name) {
  const auto& v = obj.at(name);
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    return makeError("field '{}' must be a non-negative integer", name);
  }
  uint64_t value = v.get<uint64_t>();
  if (value > UINT32_MAX) {
    return makeError("field '{}' is too large", name);
  }
  return static_cast<uint32_t>(value);
}

Status fillRequest(const nlohmann::json& json, Request& req) {
  if (json.contains("all_ports")) {
    if (!json.at("all_ports").is_boolean()) {
      return makeError("field 'all_ports' must be true or false");
    }
    req.allPorts = json.at("all_ports").get<bool>();
  }
  if (json.contains("vip")) {
    auto text = stringField(json, "vip");
    if (!text) {
      return std::move(text).takeError();
    }
    // Port 0 names an all-ports VIP: created only when asked for explicitly.
    bool allPorts = req.op == Op::kAddVip ? req.allPorts.value_or(false) : true;
    auto key = ServiceKey::parse(*text, allPorts);
    if (!key) {
      return std::move(key).takeError();
    }
    if (req.op == Op::kAddVip && allPorts && key->port != 0) {
      return makeError("all_ports needs the VIP without a port (ADDR/PROTO)");
    }
    if (req.op == Op::kAddVip) {
      if (auto s = validateVipAddress(key->addr); !s) {
        return s;
      }
    }
    req.vip = *key;
  }
  if (json.contains("backend")) {
    auto text = stringField(json, "backend");
    if (!text) {
      return std::move(text).takeError();
    }
    auto endpoint = Endpoint::parse(*text);
    if (!endpoint) {
      return std::move(endpoint).takeError();
    }
    if (req.op == Op::kAddBackend && req.vip) {
      if (auto s = validateBackendAddress(*req.vip, endpoint->addr); !s) {
        return s;
      }
    }
    req.backend = *endpoint;
  }
  if (json.contains("weight")) {
    auto weight = uintField(json, "weight");
    if (!weight) {
      return std::move(weight).takeError();
    }
    if (auto s = validateWeight(*weight); !s) {
      return s;
    }
    req.weight = *weight;
  }
  if (json.contains("mac")) {
    auto text = stringField(json, "mac");
    if (!text) {
      return std::move(text).takeError();
    }
    auto mac = parseMac(*text);
    if (!mac) {
      return std::move(mac).takeError();
    }
    if (auto s = validateUnicastMac(*mac); !s) {
      return s;
    }
    req.mac = *mac;
  }
  if (json.contains("mode")) {
    auto text = stringField(json, "mode");
    if (!text) {
      return std::move(text).takeError();
    }
    auto mode = parseMode(*text);
    if (!mode) {
      return std::move(mode).takeError();
    }
    req.mode = *mode;
  }
  if (json.contains("ring_size")) {
    auto ring = uintField(json, "ring_size");
    if (!ring) {
      return std::move(ring).takeError();
    }
    if (auto s = validateRingSize(*ring); !s) {
      return s;
    }
    req.ringSize = *ring;
  }
  if (json.contains("interface")) {
    auto text = stringField(json, "interface");
    if (!text) {
      return std::move(text).takeError();
    }
    if (auto s = validateInterfaceName(*text); !s) {
      return s;
    }
    req.interface = *text;
  }
  if (json.contains("health")) {
    const auto& h = json.at("health");
    if (!h.is_object()) {
      return makeError("field 'health' must be an object");
    }
    // Names and types now; ranges against the VIP's current check later.
    if (auto hc = HealthCheck::merge(h, HealthCheck{}); !hc) {
      return std::move(hc).takeError();
    }
    req.health = h;
  }
  if (json.contains("wait_ms")) {
    auto wait = uintField(json, "wait_ms");
    if (!wait) {
      return std::move(wait).takeError();
    }
    if (*wait > kMaxMacWaitMs) {
      return makeError("wait_ms {} out of range 0..{}", *wait, kMaxMacWaitMs);
    }
    req.waitMs = *wait;
  }
  if (json.contains("level")) {
    auto text = stringField(json, "level");
    if (!text) {
      return std::move(text).takeError();
    }
    if (auto s = validateLogLevel(*text); !s) {
      return s;
    }
    req.level = *text;
  }
  if (json.contains("client")) {
    auto text = stringField(json, "client");
    if (!text) {
      return std::move(text).takeError();
    }
    auto endpoint = Endpoint::parse(*text);
    if (!endpoint) {
      std::string message = endpoint.error();
      if (message.starts_with("parse backend")) {
        message.replace(0, 13, "parse client");
      }
      return makeError("{}", message);
    }
    if (endpoint->port == 0) {
      return makeError(
          "client {} needs its source port (ADDR:PORT, [ADDR6]:PORT): the port is "
          "part of the flow hash",
          *text);
    }
    if (req.vip && req.vip->addr.family != endpoint->addr.family) {
      return makeError("client {} and VIP {} are of different address families", *text,
                       req.vip->toString());
    }
    req.client = *endpoint;
  }
  if (req.op == Op::kTrace && req.vip && req.vip->port == 0) {
    return makeError("VIP {} needs its port (ADDR:PORT/PROTO): the port is part of the flow hash",
                     json.at("vip").get<std::string>());
  }
  for (const char* list : {"allow", "deny"}) {
    if (!json.contains(list)) {
      continue;
    }
    auto prefixes = prefixesFromJson(json.at(list));
    if (!prefixes) {
      return makeError("field '{}': {}", list, prefixes.error());
    }
    (std::string_view(list) == "allow" ? req.allow : req.deny) = std::move(*prefixes);
  }
  if ((req.allow || req.deny) && req.vip) {
    if (auto s = validateSources(*req.vip, req.allow.value_or(std::vector<IpPrefix>{}),
                                 req.deny.value_or(std::vector<IpPrefix>{}));
        !s) {
      return s;
    }
  }
  if (json.contains("config")) {
    auto text = stringField(json, "config");
    if (!text) {
      return std::move(text).takeError();
    }
    req.config = *text;
  }
  if (json.contains("dry_run")) {
    if (!json.at("dry_run").is_boolean()) {
      return makeError("field 'dry_run' must be true or false");
    }
    req.dryRun = json.at("dry_run").get<bool>();
  }
  if (json.contains("generic")) {
    if (!json.at("generic").is_boolean()) {
      return makeError("field 'generic' must be true or false");
    }
    req.generic = json.at("generic").get<bool>();
  }
  return {};
}

}  // namespace

std::string_view opName(Op op) {
  for (const auto& spec : opSpecs()) {
    if (spec.op == op) {
      return spec.name;
    }
  }
  return "?";
}

Result<Request> parseRequest(std::string_view line) {
  if (line.size() > kMaxRequestBytes) {
    return makeError("bad request: longer than {} bytes", kMaxRequestBytes);
  }
  nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return makeError("bad request: not valid JSON");
  }
  if (!json.is_object()) {
    return makeError("bad request: expected a JSON object");
  }
  if (!json.contains("v") || !json["v"].is_number_integer()) {
    return makeError("bad request: missing protocol version 'v'");
  }
  if (json["v"].get<int64_t>() != kApiVersion) {
    return makeError("bad request: protocol version {} not supported (this daemon speaks {})",
                     json["v"].dump(), kApiVersion);
  }
  if (!json.contains("op") || !json["op"].is_string()) {
    return makeError("bad request: missing 'op'");
  }
  const std::string opText = json["op"].get<std::string>();
  const OpSpec* spec = nullptr;
  for (const auto& s : opSpecs()) {
    if (s.name == opText) {
      spec = &s;
    }
  }
  if (!spec) {
    return makeError("bad request: unknown op '{}'", opText);
  }
  for (const auto& [name, value] : json.items()) {
    if (name != "v" && name != "op" && !spec->required.count(name) && !spec->optional.count(name)) {
      return makeError("bad request: {} does not take field '{}'", opText, name);
    }
  }
  for (const auto& name : spec->required) {
    if (!json.contains(std::string(name))) {
      return makeError("bad request: {} needs field '{}'", opText, name);
    }
  }
  Request req;
  req.op = spec->op;
  if (auto s = fillRequest(json, req); !s) {
    return makeError("bad request: {}: {}", opText, s.error());
  }
  return req;
}

nlohmann::json Request::toJson() const {
  nlohmann::json j = {{"v", kApiVersion}, {"op", opName(op)}};
  if (vip) {
    j["vip"] = vip->toString();
  }
  if (backend) {
    j["backend"] = backend->toString();
  }
  if (weight) {
    j["weight"] = *weight;
  }
  if (mac) {
    j["mac"] = formatMac(*mac);
  }
  if (mode) {
    j["mode"] = modeName(*mode);
  }
  if (ringSize) {
    j["ring_size"] = *ringSize;
  }
  if (interface) {
    j["interface"] = *interface;
  }
  if (generic) {
    j["generic"] = *generic;
  }
  if (allPorts) {
    j["all_ports"] = *allPorts;
  }
  if (waitMs) {
    j["wait_ms"] = *waitMs;
  }
  if (health) {
    j["health"] = *health;
  }
  if (level) {
    j["level"] = *level;
  }
  if (client) {
    j["client"] = client->toString();
  }
  if (config) {
    j["config"] = *config;
  }
  if (dryRun) {
    j["dry_run"] = *dryRun;
  }
  if (allow) {
    j["allow"] = prefixesToJson(*allow);
  }
  if (deny) {
    j["deny"] = prefixesToJson(*deny);
  }
  return j;
}

std::string replyOk(const nlohmann::json& result) {
  return nlohmann::json{{"v", kApiVersion}, {"ok", true}, {"result", result}}.dump() + "\n";
}

std::string replyError(std::string_view message) {
  return nlohmann::json{{"v", kApiVersion}, {"ok", false}, {"error", message}}.dump() + "\n";
}

Result<nlohmann::json> parseReply(std::string_view line) {
  nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("ok") ||
      !json["ok"].is_boolean()) {
    return makeError("read reply: malformed reply from lb4d");
  }
  if (!json["ok"].get<bool>()) {
    return Error{json.value("error", std::string("unknown error"))};
  }
  return json.value("result", nlohmann::json());
}

}  // namespace lb4
