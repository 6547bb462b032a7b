#include "userspace/state/state.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "userspace/common/unique_fd.h"
#include "userspace/maglev/maglev.h"

namespace lb4 {

std::string_view modeName(ForwardingMode mode) {
  switch (mode) {
    case ForwardingMode::kDr:
      return "dr";
    case ForwardingMode::kNat:
      return "nat";
  }
  return "?";
}

Result<ForwardingMode> parseMode(std::string_view text) {
  if (text == "dr") {
    return ForwardingMode::kDr;
  }
  if (text == "nat") {
    return ForwardingMode::kNat;
  }
  return makeError("parse mode '{}': expected dr or nat", text);
}

Status validateSources(const ServiceKey& vip, const std::vector<IpPrefix>& allow,
                       const std::vector<IpPrefix>& deny) {
  if (allow.size() + deny.size() > kMaxSourcesPerVip) {
    return makeError("{} source prefixes, at most {} per VIP", allow.size() + deny.size(),
                     kMaxSourcesPerVip);
  }
  std::set<IpPrefix> seen;
  for (const auto* list : {&allow, &deny}) {
    const char* name = list == &allow ? "allow" : "deny";
    for (const auto& p : *list) {
      if (p.addr.family != vip.addr.family) {
        return makeError("{} prefix {} is not of the VIP's address family", name, p.toString());
      }
      if (!seen.insert(p).second) {
        bool both = list == &deny && std::find(allow.begin(), allow.end(), p) != allow.end();
        return both ? makeError("prefix {} is in both the allow and the deny list", p.toString())
                    : makeError("{} prefix {} listed twice", name, p.toString());
      }
    }
  }
  return {};
}

Status validateRingSize(uint32_t ringSize) {
  if (ringSize < 3 || ringSize > LB4_MAX_RING_SIZE || !isPrime(ringSize)) {
    return makeError("ring size {}: must be a prime from 3 to {}", ringSize, LB4_MAX_RING_SIZE);
  }
  return {};
}

Status validateInterfaceName(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ ||
      ifname.find_first_of("/ \t\n.") != std::string::npos) {
    return makeError("interface '{}': not a valid interface name", ifname);
  }
  return {};
}

const BackendConfig* VipConfig::findBackend(const IpAddress& addr) const {
  auto it = std::find_if(backends.begin(), backends.end(),
                         [&](const BackendConfig& b) { return b.endpoint.addr == addr; });
  return it == backends.end() ? nullptr : &*it;
}

BackendConfig* VipConfig::findBackend(const IpAddress& addr) {
  return const_cast<BackendConfig*>(std::as_const(*this).findBackend(addr));
}

const VipConfig* DesiredState::findVip(const ServiceKey& key) const {
  auto it =
      std::find_if(vips.begin(), vips.end(), [&](const VipConfig& v) { return v.key == key; });
  return it == vips.end() ? nullptr : &*it;
}

VipConfig* DesiredState::findVip(const ServiceKey& key) {
  return const_cast<VipConfig*>(std::as_const(*this).findVip(key));
}

Status DesiredState::addVip(const ServiceKey& key, ForwardingMode mode, uint32_t ringSize) {
  if (findVip(key)) {
    return makeError("add VIP {}: already exists", key.toString());
  }
  if (auto s = validateVipAddress(key.addr); !s) {
    return makeError("add VIP {}: {}", key.toString(), s.error());
  }
  if (auto s = validateRingSize(ringSize); !s) {
    return makeError("add VIP {}: {}", key.toString(), s.error());
  }
  std::set<uint32_t> used;
  for (const auto& v : vips) {
    used.insert(v.id);
  }
  uint32_t id = 0;
  while (used.count(id)) {
    ++id;
  }
  if (id >= LB4_MAX_VIPS) {
    return makeError("add VIP {}: the VIP table is full ({} VIPs)", key.toString(), LB4_MAX_VIPS);
  }
  vips.push_back(VipConfig{.key = key,
                           .mode = mode,
                           .ringSize = ringSize,
                           .id = id,
                           .backends = {},
                           .health = {},
                           .allow = {},
                           .deny = {}});
  return {};
}

Status DesiredState::delVip(const ServiceKey& key) {
  auto it =
      std::find_if(vips.begin(), vips.end(), [&](const VipConfig& v) { return v.key == key; });
  if (it == vips.end()) {
    return makeError("delete VIP {}: no such VIP", key.toString());
  }
  vips.erase(it);
  return {};
}

Status DesiredState::addBackend(const ServiceKey& vipKey, const Endpoint& endpoint, uint32_t weight,
                                std::optional<MacAddress> mac) {
  auto fail = [&](const std::string& why) {
    return makeError("add backend {} to {}: {}", endpoint.toString(), vipKey.toString(), why);
  };
  VipConfig* vip = findVip(vipKey);
  if (!vip) {
    return fail("no such VIP");
  }
  if (auto s = validateWeight(weight); !s) {
    return fail(s.error());
  }
  if (auto s = validateBackend(vipKey, vip->mode, endpoint, mac); !s) {
    return fail(s.error());
  }
  if (vip->findBackend(endpoint.addr)) {
    return fail("backend already exists");
  }
  std::set<uint32_t> used;
  for (const auto& v : vips) {
    for (const auto& b : v.backends) {
      used.insert(b.id);
    }
  }
  uint32_t id = 1;
  while (used.count(id)) {
    ++id;
  }
  if (id >= LB4_MAX_BACKENDS) {
    return fail(fmt::format("the backend table is full ({} backends)", LB4_MAX_BACKENDS - 1));
  }
  vip->backends.push_back(BackendConfig{.endpoint = endpoint,
                                        .weight = weight,
                                        .mac = mac,
                                        .drained = false,
                                        .id = id,
                                        .gen = ++lastGen,
                                        .health = std::nullopt});
  return {};
}

Status DesiredState::delBackend(const ServiceKey& vipKey, const IpAddress& addr) {
  VipConfig* vip = findVip(vipKey);
  if (!vip) {
    return makeError("delete backend {} from {}: no such VIP", addr.toString(), vipKey.toString());
  }
  auto it = std::find_if(vip->backends.begin(), vip->backends.end(),
                         [&](const BackendConfig& b) { return b.endpoint.addr == addr; });
  if (it == vip->backends.end()) {
    return makeError("delete backend {} from {}: no such backend", addr.toString(),
                     vipKey.toString());
  }
  vip->backends.erase(it);
  return {};
}

namespace {

Result<BackendConfig*> findBackendFor(DesiredState& state, std::string_view verb,
                                      const ServiceKey& vipKey, const IpAddress& addr) {
  VipConfig* vip = state.findVip(vipKey);
  if (!vip) {
    return makeError("{} backend {} of {}: no such VIP", verb, addr.toString(), vipKey.toString());
  }
  BackendConfig* backend = vip->findBackend(addr);
  if (!backend) {
    return makeError("{} backend {} of {}: no such backend", verb, addr.toString(),
                     vipKey.toString());
  }
  return backend;
}

}  // namespace

Status DesiredState::setWeight(const ServiceKey& vipKey, const IpAddress& addr, uint32_t weight) {
  auto backend = findBackendFor(*this, "set weight of", vipKey, addr);
  if (!backend) {
    return std::move(backend).takeError();
  }
  if (auto s = validateWeight(weight); !s) {
    return makeError("set weight of backend {} of {}: {}", addr.toString(), vipKey.toString(),
                     s.error());
  }
  (*backend)->weight = weight;
  return {};
}

Status DesiredState::setDrained(const ServiceKey& vipKey, const IpAddress& addr, bool drained) {
  auto backend = findBackendFor(*this, drained ? "drain" : "undrain", vipKey, addr);
  if (!backend) {
    return std::move(backend).takeError();
  }
  (*backend)->drained = drained;
  return {};
}

Status DesiredState::setHealth(const ServiceKey& vipKey, const HealthCheck& health) {
  VipConfig* vip = findVip(vipKey);
  if (!vip) {
    return makeError("set health check of {}: no such VIP", vipKey.toString());
  }
  if (auto s = health.validate(); !s) {
    return makeError("set health check of {}: {}", vipKey.toString(), s.error());
  }
  vip->health = health;
  return {};
}

Status DesiredState::setSources(const ServiceKey& vipKey, std::vector<IpPrefix> allow,
                                std::vector<IpPrefix> deny) {
  VipConfig* vip = findVip(vipKey);
  if (!vip) {
    return makeError("set sources of {}: no such VIP", vipKey.toString());
  }
  if (auto s = validateSources(vipKey, allow, deny); !s) {
    return makeError("set sources of {}: {}", vipKey.toString(), s.error());
  }
  size_t total = allow.size() + deny.size();
  for (const auto& v : vips) {
    if (&v != vip) {
      total += v.allow.size() + v.deny.size();
    }
  }
  if (total > LB4_MAX_SRC_RULES) {
    return makeError("set sources of {}: {} source prefixes over all VIPs, at most {}",
                     vipKey.toString(), total, LB4_MAX_SRC_RULES);
  }
  std::sort(allow.begin(), allow.end());
  std::sort(deny.begin(), deny.end());
  vip->allow = std::move(allow);
  vip->deny = std::move(deny);
  return {};
}

Status DesiredState::setBackendHealth(const ServiceKey& vipKey, const IpAddress& addr,
                                      const HealthCheck& health) {
  auto backend = findBackendFor(*this, "set health check of", vipKey, addr);
  if (!backend) {
    return std::move(backend).takeError();
  }
  if (auto s = health.validate(); !s) {
    return makeError("set health check of backend {} of {}: {}", addr.toString(), vipKey.toString(),
                     s.error());
  }
  (*backend)->health = health;
  return {};
}

Status DesiredState::addInterface(const std::string& ifname) {
  if (auto s = validateInterfaceName(ifname); !s) {
    return makeError("attach: {}", s.error());
  }
  if (std::find(interfaces.begin(), interfaces.end(), ifname) != interfaces.end()) {
    return makeError("attach {}: already attached", ifname);
  }
  interfaces.push_back(ifname);
  return {};
}

Status DesiredState::delInterface(const std::string& ifname) {
  auto it = std::find(interfaces.begin(), interfaces.end(), ifname);
  if (it == interfaces.end()) {
    return makeError("detach {}: not attached", ifname);
  }
  interfaces.erase(it);
  return {};
}

nlohmann::json prefixesToJson(const std::vector<IpPrefix>& prefixes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : prefixes) {
    out.push_back(p.toString());
  }
  return out;
}

nlohmann::json DesiredState::toJson() const {
  nlohmann::json vipList = nlohmann::json::array();
  for (const auto& v : vips) {
    nlohmann::json backends = nlohmann::json::array();
    for (const auto& b : v.backends) {
      nlohmann::json jb = {{"address", b.endpoint.toString()},
                           {"weight", b.weight},
                           {"drained", b.drained},
                           {"id", b.id},
                           {"gen", b.gen}};
      if (b.mac) {
        jb["mac"] = formatMac(*b.mac);
      }
      if (b.health) {
        jb["health"] = b.health->toJson();
      }
      backends.push_back(std::move(jb));
    }
    nlohmann::json jv = {{"vip", v.key.toString()},
                         {"mode", modeName(v.mode)},
                         {"ring_size", v.ringSize},
                         {"id", v.id},
                         {"backends", std::move(backends)}};
    jv["allow"] = prefixesToJson(v.allow);
    jv["deny"] = prefixesToJson(v.deny);
    if (v.health) {
      jv["health"] = v.health->toJson();
    }
    vipList.push_back(std::move(jv));
  }
  nlohmann::json out = {
      {"version", 1}, {"interfaces", interfaces}, {"last_gen", lastGen}, {"vips", vipList}};
  if (gatewayDrained) {
    out["gateway_drained"] = true;
  }
  return out;
}

namespace {

template <typename T>
Result<T> field(const nlohmann::json& obj, const char* name, std::string_view where) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    return makeError("{}: missing field '{}'", where, name);
  }
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return makeError("{}: field '{}' has the wrong type", where, name);
  }
}

}  // namespace

Result<std::vector<IpPrefix>> prefixesFromJson(const nlohmann::json& json) {
  if (!json.is_array()) {
    return makeError("expected a list of prefixes");
  }
  std::vector<IpPrefix> out;
  for (const auto& item : json) {
    if (!item.is_string()) {
      return makeError("expected a prefix string, got {}", item.dump());
    }
    auto p = IpPrefix::parse(item.get<std::string>());
    if (!p) {
      return std::move(p).takeError();
    }
    out.push_back(*p);
  }
  return out;
}

Result<DesiredState> DesiredState::fromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return makeError("read state: expected an object");
  }
  auto version = field<int>(json, "version", "read state");
  if (!version) {
    return std::move(version).takeError();
  }
  if (*version != 1) {
    return makeError("read state: unsupported version {}", *version);
  }
  DesiredState state;
  auto ifaces = field<std::vector<std::string>>(json, "interfaces", "read state");
  auto lastGen = field<uint32_t>(json, "last_gen", "read state");
  auto vips = field<nlohmann::json>(json, "vips", "read state");
  if (!ifaces || !lastGen || !vips) {
    return makeError("{}", !ifaces ? ifaces.error() : !lastGen ? lastGen.error() : vips.error());
  }
  state.interfaces = *ifaces;
  state.lastGen = *lastGen;
  if (json.contains("gateway_drained")) {
    auto drained = field<bool>(json, "gateway_drained", "read state");
    if (!drained) {
      return std::move(drained).takeError();
    }
    state.gatewayDrained = *drained;
  }
  if (!vips->is_array()) {
    return makeError("read state: 'vips' must be a list");
  }
  for (const auto& jv : *vips) {
    std::string where = "read state: VIP";
    auto name = field<std::string>(jv, "vip", where);
    auto mode = field<std::string>(jv, "mode", where);
    auto ring = field<uint32_t>(jv, "ring_size", where);
    auto id = field<uint32_t>(jv, "id", where);
    auto backends = field<nlohmann::json>(jv, "backends", where);
    if (!name || !mode || !ring || !id || !backends || !backends->is_array()) {
      return makeError("read state: malformed VIP entry {}", jv.dump());
    }
    auto key = ServiceKey::parse(*name, true);
    auto m = parseMode(*mode);
    if (!key || !m) {
      return makeError("read state: {}", !key ? key.error() : m.error());
    }
    VipConfig vip{.key = *key,
                  .mode = *m,
                  .ringSize = *ring,
                  .id = *id,
                  .backends = {},
                  .health = {},
                  .allow = {},
                  .deny = {}};
    for (const char* list : {"allow", "deny"}) {
      if (!jv.contains(list)) {
        continue;  // a state file from before source lists
      }
      auto prefixes = prefixesFromJson(jv[list]);
      if (!prefixes) {
        return makeError("read state: VIP {}: {}: {}", *name, list, prefixes.error());
      }
      (std::string_view(list) == "allow" ? vip.allow : vip.deny) = std::move(*prefixes);
    }
    if (jv.contains("health")) {
      auto hc = HealthCheck::fromJson(jv["health"], HealthCheck{});
      if (!hc) {
        return makeError("read state: VIP {}: {}", *name, hc.error());
      }
      vip.health = *hc;
    }
    for (const auto& jb : *backends) {
      auto addr = field<std::string>(jb, "address", where);
      auto weight = field<uint32_t>(jb, "weight", where);
      auto drained = field<bool>(jb, "drained", where);
      auto bid = field<uint32_t>(jb, "id", where);
      auto gen = field<uint32_t>(jb, "gen", where);
      if (!addr || !weight || !drained || !bid || !gen) {
        return makeError("read state: malformed backend entry {}", jb.dump());
      }
      auto endpoint = Endpoint::parse(*addr);
      if (!endpoint) {
        return makeError("read state: {}", endpoint.error());
      }
      BackendConfig backend{.endpoint = *endpoint,
                            .weight = *weight,
                            .mac = std::nullopt,
                            .drained = *drained,
                            .id = *bid,
                            .gen = *gen,
                            .health = std::nullopt};
      if (jb.contains("health")) {
        auto hc = HealthCheck::fromJson(jb["health"], HealthCheck{});
        if (!hc) {
          return makeError("read state: backend {}: {}", *addr, hc.error());
        }
        backend.health = *hc;
      }
      if (jb.contains("mac")) {
        auto macText = field<std::string>(jb, "mac", where);
        if (!macText) {
          return std::move(macText).takeError();
        }
        auto mac = parseMac(*macText);
        if (!mac) {
          return makeError("read state: {}", mac.error());
        }
        backend.mac = *mac;
      }
      vip.backends.push_back(backend);
    }
    state.vips.push_back(std::move(vip));
  }
  if (auto s = state.validate(); !s) {
    return std::move(s).takeError();
  }
  return state;
}

Status DesiredState::validate() const {
  std::set<uint32_t> vipIds;
  std::set<uint32_t> backendIds;
  std::set<ServiceKey> keys;
  std::set<std::string> ifaces;
  size_t sources = 0;
  for (const auto& ifname : interfaces) {
    if (auto s = validateInterfaceName(ifname); !s) {
      return s;
    }
    if (!ifaces.insert(ifname).second) {
      return makeError("interface {} listed twice", ifname);
    }
  }
  for (const auto& v : vips) {
    const std::string name = v.key.toString();
    if (!keys.insert(v.key).second) {
      return makeError("VIP {} defined twice", name);
    }
    if (v.id >= LB4_MAX_VIPS || !vipIds.insert(v.id).second) {
      return makeError("VIP {}: id {} invalid or reused", name, v.id);
    }
    if (auto s = validateVipAddress(v.key.addr); !s) {
      return makeError("VIP {}: {}", name, s.error());
    }
    if (auto s = validateRingSize(v.ringSize); !s) {
      return makeError("VIP {}: {}", name, s.error());
    }
    if (auto s = validateSources(v.key, v.allow, v.deny); !s) {
      return makeError("VIP {}: {}", name, s.error());
    }
    sources += v.allow.size() + v.deny.size();
    std::set<IpAddress> addrs;
    for (const auto& b : v.backends) {
      const std::string bname = b.endpoint.toString();
      if (auto s = validateBackend(v.key, v.mode, b.endpoint, b.mac); !s) {
        return makeError("VIP {}: backend {}: {}", name, bname, s.error());
      }
      if (!addrs.insert(b.endpoint.addr).second) {
        return makeError("VIP {}: backend {} listed twice", name, bname);
      }
      if (auto s = validateWeight(b.weight); !s) {
        return makeError("VIP {}: backend {}: {}", name, bname, s.error());
      }
      if (b.id == 0 || b.id >= LB4_MAX_BACKENDS || !backendIds.insert(b.id).second) {
        return makeError("VIP {}: backend {}: id {} invalid or reused", name, bname, b.id);
      }
      if (b.gen > lastGen) {
        return makeError("VIP {}: backend {}: generation {} after last_gen {}", name, bname, b.gen,
                         lastGen);
      }
    }
  }
  if (sources > LB4_MAX_SRC_RULES) {
    return makeError("{} source prefixes over all VIPs, at most {}", sources, LB4_MAX_SRC_RULES);
  }
  return {};
}

Status writeFileAtomically(const std::string& path, const std::string& contents) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp")).string();
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) {
    return makeError("write {}: {}", tmp, std::strerror(errno));
  }
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      ::unlink(tmp.c_str());
      return makeError("write {}: {}", tmp, std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return makeError("fsync {}: {}", tmp, std::strerror(err));
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return makeError("rename {} to {}: {}", tmp, path, std::strerror(err));
  }
  UniqueFd dirFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirFd) {
    ::fsync(dirFd.get());
  }
  return {};
}

Status saveState(const DesiredState& state, const std::string& path) {
  return writeFileAtomically(path, state.toJson().dump(2) + "\n");
}

Result<DesiredState> loadState(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) {
      return DesiredState{};
    }
    return makeError("read state {}: {}", path, std::strerror(errno));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(buf.str(), nullptr, false);
  if (json.is_discarded()) {
    return makeError("read state {}: not valid JSON", path);
  }
  auto state = DesiredState::fromJson(json);
  if (!state) {
    return makeError("{} ({})", state.error(), path);
  }
  return state;
}

}  // namespace lb4
