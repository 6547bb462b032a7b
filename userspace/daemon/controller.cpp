#include "userspace/daemon/controller.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "userspace/daemon/neighbour.h"
#include "userspace/maglev/maglev.h"

namespace lb4 {
namespace {

std::vector<uint8_t> keyBytes(const lb4_vip_key& key) {
  const auto* p = reinterpret_cast<const uint8_t*>(&key);
  return {p, p + sizeof(key)};
}

bool sameBackend(const lb4_backend& a, const lb4_backend& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

bool sameVip(const lb4_vip_value& a, const lb4_vip_value& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

nlohmann::json trafficJson(const lb4_traffic& t) {
  return {{"packets", t.packets}, {"bytes", t.bytes}};
}

}  // namespace

Controller::Controller(DaemonConfig config)
    : config_(std::move(config)), started_(std::chrono::steady_clock::now()) {}

Controller::~Controller() = default;

Status Controller::openDataplane() {
  DataplaneOptions options{.pinDir = config_.pinRoot + "/maps",
                           .conntrackSize = config_.conntrackSize};
  auto dp = Dataplane::open(options);
  if (!dp) {
    return std::move(dp).takeError();
  }
  lb4_config cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.abi_version = LB4_ABI_VERSION;
  cfg.tcp_timeout = config_.tcpTimeoutS;
  cfg.tcp_fin_timeout = config_.tcpFinTimeoutS;
  cfg.udp_timeout = config_.udpTimeoutS;
  if (auto s = (*dp)->setConfig(cfg); !s) {
    return s;
  }
  spdlog::info("maps {} in {}", (*dp)->adopted() ? "adopted" : "created", options.pinDir);
  dataplane_ = std::move(*dp);
  return {};
}

void Controller::closeDataplane(bool unpin) {
  if (dataplane_ && unpin) {
    if (auto s = dataplane_->unpinAll(); !s) {
      spdlog::warn("{}", s.error());
    }
  }
  dataplane_.reset();
}

// Adds the interface to lb4_tx_ports (before the program can run there)
// and attaches the shared program to it.
Result<XdpAttachment> Controller::attachInterface(const std::string& ifname, bool allowGeneric) {
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) {
    return makeError("attach {}: {}", ifname, std::strerror(errno));
  }
  if (auto s = dataplane_->addTxPort(static_cast<uint32_t>(ifindex)); !s) {
    return makeError("attach {}: {}", ifname, s.error());
  }
  auto attachment = XdpAttachment::attach(dataplane_->programFd(), ifname, allowGeneric);
  if (!attachment) {
    (void)dataplane_->deleteTxPort(static_cast<uint32_t>(ifindex));
    return makeError("attach {}: {}", ifname, attachment.error());
  }
  spdlog::info("attached to {} ({} mode, {}), maps in {}", ifname,
               xdpModeName(attachment->mode()),
               attachment->method(), dataplane_->pinDir());
  return attachment;
}

std::optional<MacAddress> Controller::macOf(const BackendConfig& backend) {
  if (backend.mac) {
    return backend.mac;
  }
  const IpAddress& addr = backend.endpoint.addr;
  if (auto it = resolvedMacs_.find(addr); it != resolvedMacs_.end()) {
    return it->second;
  }
  auto found = lookupNeighbour(addr);
  if (found && *found) {
    resolvedMacs_[addr] = **found;
    pendingMacs_.erase(addr);
    return **found;
  }
  // After a restart the pinned backend entry still holds the MAC the flows
  // were using: keep it rather than stop forwarding while ARP runs again.
  if (dataplane_) {
    auto entry = dataplane_->backend(backend.id);
    if (entry && (entry->flags & LB4_BACKEND_F_ENABLED) && entry->gen == backend.gen &&
        std::memcmp(entry->addr, addr.bytes.data(), 16) == 0) {
      MacAddress mac;
      std::memcpy(mac.data(), entry->mac, 6);
      resolvedMacs_[addr] = mac;
      return mac;
    }
  }
  if (pendingMacs_.insert(addr).second) {
    spdlog::info("backend {}: MAC not in the neighbour table yet, resolving", addr.toString());
  }
  solicitNeighbour(addr);
  return std::nullopt;
}

Controller::KernelView Controller::viewOf(const DesiredState& state) {
  KernelView view;
  for (const auto& vip : state.vips) {
    lb4_vip_key key = vip.key.toAbi();
    lb4_vip_value value;
    std::memset(&value, 0, sizeof(value));
    value.vip_id = vip.id;
    value.ring_size = vip.ringSize;
    value.mode = static_cast<uint8_t>(vip.mode);
    value.flags = vip.key.port == 0 ? LB4_VIP_F_ALL_PORTS : 0;
    view.vips[keyBytes(key)] = {key, value};
    view.ringSizes[vip.id] = vip.ringSize;
    auto& ring = view.rings[vip.id];
    std::vector<Verdict> verdicts;
    for (const auto& b : vip.backends) {
      verdicts.push_back(verdicts_ ? verdicts_(vip, b)
                                   : Verdict{.action = DataplaneAction::kServe, .weight = b.weight});
    }
    // Policy when no backend may take new flows (docs/health.md): overloaded
    // backends serve rather than none; when every backend is down the VIP
    // keeps its last table (fail open) until one comes back.
    bool anyServe = false;
    bool allRemoved = !vip.backends.empty();
    for (const auto& v : verdicts) {
      anyServe = anyServe || (v.action == DataplaneAction::kServe && v.weight > 0);
      allRemoved = allRemoved && v.action == DataplaneAction::kRemove;
    }
    if (!anyServe) {
      for (size_t i = 0; i < verdicts.size(); ++i) {
        if (verdicts[i].action == DataplaneAction::kQuiesce) {
          verdicts[i] = Verdict{.action = DataplaneAction::kServe, .weight = vip.backends[i].weight};
        }
      }
    }
    auto previousRing = applied_.rings.find(vip.id);
    bool failOpen = allRemoved && previousRing != applied_.rings.end() && !previousRing->second.empty();
    if (failOpen && !allDown_.count(vip.id)) {
      spdlog::error("VIP {}: every backend is down; keeping its last table", vip.key.toString());
    } else if (!failOpen && allDown_.count(vip.id)) {
      spdlog::info("VIP {}: a backend is up again", vip.key.toString());
    }
    failOpen ? (void)allDown_.insert(vip.id) : (void)allDown_.erase(vip.id);
    for (size_t i = 0; i < vip.backends.size(); ++i) {
      const BackendConfig& b = vip.backends[i];
      const Verdict& verdict = verdicts[i];
      // NAT routes to the backend through the FIB: no MAC needed.
      bool nat = vip.mode == ForwardingMode::kNat;
      std::optional<MacAddress> mac = nat ? std::nullopt : macOf(b);
      lb4_backend entry;
      std::memset(&entry, 0, sizeof(entry));
      std::memcpy(entry.addr, b.endpoint.addr.bytes.data(), 16);
      if (mac) {
        std::memcpy(entry.mac, mac->data(), 6);
      }
      entry.port = htons(b.endpoint.port);
      entry.family = static_cast<uint8_t>(b.endpoint.addr.family);
      entry.gen = b.gen;
      bool inLastRing = false;
      if (failOpen) {
        for (const auto& in : previousRing->second) {
          inLastRing = inLastRing || in.id == b.id;
        }
      }
      bool enabled = (nat || mac.has_value()) &&
                     (verdict.action != DataplaneAction::kRemove || inLastRing);
      if (nat) {
        lb4_vip_key natKey;
        std::memset(&natKey, 0, sizeof(natKey));
        std::memcpy(natKey.addr, entry.addr, 16);
        natKey.proto = key.proto;
        natKey.family = entry.family;
        view.natAddrs[keyBytes(natKey)] = natKey;
      }
      entry.flags = enabled ? LB4_BACKEND_F_ENABLED : 0;
      view.backends[b.id] = entry;
      uint32_t weight = b.drained || verdict.action != DataplaneAction::kServe ? 0 : verdict.weight;
      if (enabled && weight > 0) {
        ring.push_back(MaglevInput{.id = b.id, .weight = weight, .key = b.endpoint.toString()});
      }
    }
    if (failOpen) {
      ring.clear();
      for (const auto& in : previousRing->second) {
        if (view.backends.count(in.id)) {
          ring.push_back(in);
        }
      }
    }
    std::sort(ring.begin(), ring.end());
  }
  return view;
}

Status Controller::sync(Dataplane& dp, const KernelView& view, const KernelView* previous) {
  std::map<uint32_t, std::vector<uint32_t>> built;
  auto ringFor = [&](uint32_t vipId) -> const std::vector<uint32_t>& {
    auto it = built.find(vipId);
    if (it == built.end()) {
      std::vector<MaglevBackend> inputs;
      for (const auto& in : view.rings.at(vipId)) {
        inputs.push_back(MaglevBackend{.id = in.id, .weight = in.weight, .key = in.key});
      }
      it = built.emplace(vipId, buildMaglevRing(inputs, view.ringSizes.at(vipId))).first;
    }
    return it->second;
  };

  // Additions and changes: backends first, then tables, then the VIP entries
  // that make packets use them.
  for (const auto& [id, entry] : view.backends) {
    const lb4_backend* old = nullptr;
    if (previous) {
      auto it = previous->backends.find(id);
      old = it == previous->backends.end() ? nullptr : &it->second;
    }
    if (old && sameBackend(*old, entry)) {
      continue;
    }
    if (previous && (!old || old->gen != entry.gen)) {
      (void)dp.resetBackendTraffic(id);
    }
    if (auto s = dp.setBackend(id, entry); !s) {
      return s;
    }
  }
  for (const auto& [vipId, inputs] : view.rings) {
    if (previous) {
      auto it = previous->rings.find(vipId);
      if (it != previous->rings.end() && it->second == inputs &&
          previous->ringSizes.at(vipId) == view.ringSizes.at(vipId)) {
        continue;
      }
    }
    if (auto s = dp.setRing(vipId, ringFor(vipId)); !s) {
      return s;
    }
  }
  for (const auto& [bytes, key] : view.natAddrs) {
    if (!previous || !previous->natAddrs.count(bytes)) {
      if (auto s = dp.addNatAddr(key); !s) {
        return s;
      }
    }
  }
  for (const auto& [bytes, kv] : view.vips) {
    if (previous) {
      auto it = previous->vips.find(bytes);
      if (it != previous->vips.end() && sameVip(it->second.second, kv.second)) {
        continue;
      }
      if (it == previous->vips.end()) {
        (void)dp.resetVipTraffic(kv.second.vip_id);
      }
    }
    if (auto s = dp.upsertVip(kv.first, kv.second); !s) {
      return s;
    }
  }

  // Removals: VIP entries first, then their tables, then the backends.
  if (previous) {
    for (const auto& [bytes, kv] : previous->vips) {
      if (!view.vips.count(bytes)) {
        if (auto s = dp.deleteVip(kv.first); !s) {
          return s;
        }
      }
    }
    for (const auto& [vipId, inputs] : previous->rings) {
      if (!view.rings.count(vipId)) {
        (void)dp.deleteRing(vipId);
      }
    }
    for (const auto& [bytes, key] : previous->natAddrs) {
      if (!view.natAddrs.count(bytes)) {
        if (auto s = dp.deleteNatAddr(key); !s) {
          return s;
        }
      }
    }
    for (const auto& [id, entry] : previous->backends) {
      if (!view.backends.count(id)) {
        if (auto s = dp.clearBackend(id); !s) {
          return s;
        }
      }
    }
    return {};
  }
  // Full sync (new or adopted maps): remove whatever the view does not hold.
  auto existing = dp.vips();
  if (!existing) {
    return std::move(existing).takeError();
  }
  for (const auto& [key, value] : *existing) {
    if (!view.vips.count(keyBytes(key))) {
      if (auto s = dp.deleteVip(key); !s) {
        return s;
      }
    }
  }
  for (uint32_t vipId = 0; vipId < LB4_MAX_VIPS; ++vipId) {
    if (!view.rings.count(vipId)) {
      (void)dp.deleteRing(vipId);
    }
  }
  auto natAddrs = dp.natAddrs();
  if (!natAddrs) {
    return std::move(natAddrs).takeError();
  }
  for (const auto& key : *natAddrs) {
    if (!view.natAddrs.count(keyBytes(key))) {
      if (auto s = dp.deleteNatAddr(key); !s) {
        return s;
      }
    }
  }
  for (uint32_t id = 1; id < LB4_MAX_BACKENDS; ++id) {
    if (view.backends.count(id)) {
      continue;
    }
    auto entry = dp.backend(id);
    if (entry && entry->gen != 0) {
      if (auto s = dp.clearBackend(id); !s) {
        return s;
      }
    }
  }
  return {};
}

Status Controller::applyView(const KernelView& view) {
  if (!dataplane_) {
    return {};
  }
  if (auto s = sync(*dataplane_, view, &applied_); !s) {
    spdlog::error("{}; restoring the previous configuration", s.error());
    if (auto r = sync(*dataplane_, applied_, nullptr); !r) {
      spdlog::error("restore failed: {}", r.error());
    }
    return s;
  }
  return {};
}

Status Controller::commit(DesiredState next) {
  if (auto s = next.validate(); !s) {
    return s;
  }
  KernelView view = viewOf(next);
  if (auto s = applyView(view); !s) {
    return s;
  }
  if (auto s = saveState(next, config_.stateFile); !s) {
    if (dataplane_) {
      (void)sync(*dataplane_, applied_, nullptr);
    }
    return makeError("persist state: {}", s.error());
  }
  state_ = std::move(next);
  applied_ = std::move(view);
  if (stateListener_) {
    stateListener_(state_);
  }
  return {};
}

Status Controller::reapply() {
  KernelView view = viewOf(state_);
  if (auto s = applyView(view); !s) {
    return s;
  }
  applied_ = std::move(view);
  return {};
}

bool Controller::resolvePending() {
  if (pendingMacs_.empty()) {
    return false;
  }
  std::set<IpAddress> before = pendingMacs_;
  if (auto s = reapply(); !s) {
    spdlog::error("apply resolved neighbours: {}", s.error());
    return false;
  }
  bool progressed = false;
  for (const auto& addr : before) {
    if (!pendingMacs_.count(addr)) {
      spdlog::info("backend {}: MAC resolved to {}", addr.toString(),
                   formatMac(resolvedMacs_.at(addr)));
      progressed = true;
    }
  }
  return progressed;
}

Status Controller::start() {
  auto loaded = loadState(config_.stateFile);
  if (!loaded) {
    return std::move(loaded).takeError();
  }
  bool fresh = !std::filesystem::exists(config_.stateFile);
  DesiredState initial = fresh ? config_.initial : *loaded;
  spdlog::info("{}: {} interface(s), {} VIP(s)",
               fresh ? "starting from the config file" : "restoring " + config_.stateFile,
               initial.interfaces.size(), initial.vips.size());
  if (!initial.interfaces.empty()) {
    if (auto s = openDataplane(); !s) {
      return s;
    }
  }
  KernelView view = viewOf(initial);
  if (dataplane_) {
    // Tables first, then the attachments (which replace a running lb4
    // program in place), so the new program never sees a partial view.
    if (auto s = sync(*dataplane_, view, nullptr); !s) {
      return s;
    }
  }
  for (const auto& ifname : initial.interfaces) {
    auto attachment = attachInterface(ifname, true);
    if (!attachment) {
      return std::move(attachment).takeError();
    }
    attachments_.emplace(ifname, std::move(*attachment));
  }
  if (auto s = saveState(initial, config_.stateFile); !s) {
    return makeError("persist state: {}", s.error());
  }
  state_ = std::move(initial);
  applied_ = std::move(view);
  if (stateListener_) {
    stateListener_(state_);
  }
  return {};
}

void Controller::stop() {
  for (auto& [name, attachment] : attachments_) {
    attachment.release();
  }
  spdlog::info("stopping; XDP programs stay attached and keep forwarding");
}

nlohmann::json Controller::statusJson() const {
  nlohmann::json ifaces = nlohmann::json::array();
  for (const auto& [name, attachment] : attachments_) {
    nlohmann::json j = {{"interface", name},
                        {"pin_dir", dataplane_ ? dataplane_->pinDir() : std::string()},
                        {"mode", xdpModeName(attachment.mode())},
                        {"method", attachment.method()}};
    ifaces.push_back(std::move(j));
  }
  size_t backends = 0;
  for (const auto& v : state_.vips) {
    backends += v.backends.size();
  }
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - started_);
  return {{"version", PROJECT_VERSION_STRING},
          {"api_version", kApiVersion},
          {"abi_version", LB4_ABI_VERSION},
          {"uptime_s", uptime.count()},
          {"state_file", config_.stateFile},
          // True when this daemon took over maps pinned by an earlier one
          // (restart or upgrade) instead of creating them.
          {"adopted", dataplane_ ? dataplane_->adopted() : false},
          {"interfaces", ifaces},
          {"adopted", dataplane_ != nullptr && dataplane_->adopted()},
          {"vips", state_.vips.size()},
          {"backends", backends},
          {"unresolved_macs", pendingMacs_.size()}};
}

nlohmann::json Controller::listJson(const std::optional<ServiceKey>& only) const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& vip : state_.vips) {
    if (only && !(vip.key == *only)) {
      continue;
    }
    nlohmann::json backends = nlohmann::json::array();
    auto ring = applied_.rings.find(vip.id);
    for (const auto& b : vip.backends) {
      auto entry = applied_.backends.find(b.id);
      bool enabled = entry != applied_.backends.end() && (entry->second.flags & LB4_BACKEND_F_ENABLED);
      uint32_t effective = 0;
      if (ring != applied_.rings.end()) {
        for (const auto& in : ring->second) {
          effective = in.id == b.id ? in.weight : effective;
        }
      }
      Verdict verdict = verdicts_ ? verdicts_(vip, b)
                                  : Verdict{.action = DataplaneAction::kServe, .weight = b.weight};
      nlohmann::json jb = {{"address", b.endpoint.toString()},
                           {"weight", b.weight},
                           {"effective_weight", effective},
                           {"health", actionName(verdict.action)},
                           {"drained", b.drained},
                           {"enabled", enabled},
                           {"id", b.id}};
      if (b.mac) {
        jb["mac"] = formatMac(*b.mac);
      } else if (auto it = resolvedMacs_.find(b.endpoint.addr); it != resolvedMacs_.end()) {
        jb["mac"] = formatMac(it->second);
      } else {
        jb["mac"] = nullptr;
      }
      backends.push_back(std::move(jb));
    }
    out.push_back({{"vip", vip.key.toString()},
                   {"mode", modeName(vip.mode)},
                   {"ring_size", vip.ringSize},
                   {"id", vip.id},
                   {"health", vip.healthCheck().toJson()},
                   {"all_backends_down", allDown_.count(vip.id) > 0},
                   {"backends", std::move(backends)}});
  }
  return out;
}

Result<nlohmann::json> Controller::statsJson(const std::optional<ServiceKey>& only) const {
  GlobalStats total{};
  if (dataplane_) {
    auto g = dataplane_->globalStats();
    if (!g) {
      return std::move(g).takeError();
    }
    total = *g;
  }
  nlohmann::json global = nlohmann::json::object();
  for (size_t i = 0; i < total.size(); ++i) {
    global[kStatNames[i]] = total[i];
  }
  auto sum = [&](auto read) -> Result<lb4_traffic> {
    lb4_traffic t{};
    if (dataplane_) {
      auto r = read(*dataplane_);
      if (!r) {
        return std::move(r).takeError();
      }
      t = *r;
    }
    return t;
  };
  nlohmann::json vips = nlohmann::json::array();
  for (const auto& vip : state_.vips) {
    if (only && !(vip.key == *only)) {
      continue;
    }
    auto vt = sum([&](const Dataplane& dp) { return dp.vipTraffic(vip.id); });
    if (!vt) {
      return std::move(vt).takeError();
    }
    nlohmann::json backends = nlohmann::json::array();
    for (const auto& b : vip.backends) {
      auto bt = sum([&](const Dataplane& dp) { return dp.backendTraffic(b.id); });
      if (!bt) {
        return std::move(bt).takeError();
      }
      nlohmann::json jb = trafficJson(*bt);
      jb["address"] = b.endpoint.toString();
      backends.push_back(std::move(jb));
    }
    nlohmann::json jv = trafficJson(*vt);
    jv["vip"] = vip.key.toString();
    jv["backends"] = std::move(backends);
    vips.push_back(std::move(jv));
  }
  return nlohmann::json{{"global", global}, {"vips", vips}};
}

bool Controller::backendEnabled(const ServiceKey& vipKey, const IpAddress& addr) const {
  const VipConfig* vip = state_.findVip(vipKey);
  const BackendConfig* b = vip ? vip->findBackend(addr) : nullptr;
  if (!b) {
    return false;
  }
  auto entry = applied_.backends.find(b->id);
  return entry != applied_.backends.end() && (entry->second.flags & LB4_BACKEND_F_ENABLED);
}

Result<lb4_signals> Controller::backendSignals(uint32_t id) const {
  if (!dataplane_) {
    return lb4_signals{};
  }
  return dataplane_->backendSignals(id);
}

Result<nlohmann::json> Controller::handle(const Request& req) {
  auto ok = [](nlohmann::json j = nlohmann::json::object()) -> Result<nlohmann::json> {
    return j;
  };
  DesiredState next = state_;
  Status s;
  switch (req.op) {
    case Op::kStatus:
      return statusJson();
    case Op::kList:
      if (req.vip && !state_.findVip(*req.vip)) {
        return makeError("list {}: no such VIP", req.vip->toString());
      }
      return listJson(req.vip);
    case Op::kStats:
      if (req.vip && !state_.findVip(*req.vip)) {
        return makeError("stats {}: no such VIP", req.vip->toString());
      }
      return statsJson(req.vip);
    case Op::kHealth:
      if (req.vip && !state_.findVip(*req.vip)) {
        return makeError("health {}: no such VIP", req.vip->toString());
      }
      if (!healthTable_) {
        return makeError("health: this daemon runs no health checks");
      }
      return healthTable_(req.vip);
    case Op::kAttach: {
      if (auto r = next.addInterface(*req.interface); !r) {
        return std::move(r).takeError();
      }
      bool opened = false;
      if (!dataplane_) {
        if (auto r = openDataplane(); !r) {
          return makeError("attach {}: {}", *req.interface, r.error());
        }
        opened = true;
        if (auto r = sync(*dataplane_, applied_, nullptr); !r) {
          closeDataplane(true);
          return makeError("attach {}: {}", *req.interface, r.error());
        }
      }
      bool adopted = dataplane_->adopted();
      auto attachment = attachInterface(*req.interface, req.generic.value_or(true));
      if (!attachment) {
        if (opened) {
          closeDataplane(!adopted);
        }
        return std::move(attachment).takeError();
      }
      if (auto r = saveState(next, config_.stateFile); !r) {
        (void)attachment->detach();
        (void)dataplane_->deleteTxPort(static_cast<uint32_t>(attachment->ifindex()));
        if (opened) {
          closeDataplane(!adopted);
        }
        return makeError("persist state: {}", r.error());
      }
      nlohmann::json result = {
          {"interface", *req.interface},
          {"mode", xdpModeName(attachment->mode())},
          {"method", attachment->method()}};
      attachments_.emplace(*req.interface, std::move(*attachment));
      state_ = std::move(next);
      return result;
    }
    case Op::kDetach: {
      if (auto r = next.delInterface(*req.interface); !r) {
        return std::move(r).takeError();
      }
      if (auto r = saveState(next, config_.stateFile); !r) {
        return makeError("persist state: {}", r.error());
      }
      state_ = std::move(next);
      auto it = attachments_.find(*req.interface);
      if (it != attachments_.end()) {
        uint32_t ifindex = static_cast<uint32_t>(it->second.ifindex());
        if (auto r = it->second.detach(); !r) {
          spdlog::warn("detach {}: {}", *req.interface, r.error());
        }
        if (dataplane_) {
          (void)dataplane_->deleteTxPort(ifindex);
        }
        attachments_.erase(it);
      }
      // The maps go with the last interface, as they came with the first.
      if (attachments_.empty()) {
        closeDataplane(true);
      }
      spdlog::info("detached from {}", *req.interface);
      return ok({{"interface", *req.interface}});
    }
    case Op::kAddVip:
      s = next.addVip(*req.vip, req.mode.value_or(ForwardingMode::kDr),
                      req.ringSize.value_or(config_.defaultRingSize));
      break;
    case Op::kDelVip:
      s = next.delVip(*req.vip);
      break;
    case Op::kAddBackend:
      s = next.addBackend(*req.vip, *req.backend, req.weight.value_or(kDefaultWeight), req.mac);
      break;
    case Op::kDelBackend:
      s = next.delBackend(*req.vip, req.backend->addr);
      break;
    case Op::kSetWeight:
      s = next.setWeight(*req.vip, req.backend->addr, *req.weight);
      break;
    case Op::kDrain:
    case Op::kUndrain:
      s = next.setDrained(*req.vip, req.backend->addr, req.op == Op::kDrain);
      break;
    case Op::kSetHealth: {
      const VipConfig* vip = state_.findVip(*req.vip);
      if (!vip) {
        return makeError("set health check of {}: no such VIP", req.vip->toString());
      }
      if (req.backend) {  // one backend's own check, starting from what it has now
        const BackendConfig* b = vip->findBackend(req.backend->addr);
        if (!b) {
          return makeError("set health check of backend {} of {}: no such backend",
                           req.backend->toString(), req.vip->toString());
        }
        auto hc = HealthCheck::fromJson(*req.health, vip->healthCheck(*b));
        if (!hc) {
          return makeError("set health check of backend {} of {}: {}", req.backend->toString(),
                           req.vip->toString(), hc.error());
        }
        s = next.setBackendHealth(*req.vip, req.backend->addr, *hc);
        break;
      }
      auto hc = HealthCheck::fromJson(*req.health, vip->healthCheck());
      if (!hc) {
        return makeError("set health check of {}: {}", req.vip->toString(), hc.error());
      }
      s = next.setHealth(*req.vip, *hc);
      break;
    }
  }
  if (!s) {
    return std::move(s).takeError();
  }
  if (auto r = commit(std::move(next)); !r) {
    return std::move(r).takeError();
  }
  spdlog::info("{}", req.toJson().dump());
  nlohmann::json result = nlohmann::json::object();
  if (req.vip) {
    result["vip"] = req.vip->toString();
  }
  if (req.backend) {
    const VipConfig* vip = state_.findVip(*req.vip);
    const BackendConfig* b = vip ? vip->findBackend(req.backend->addr) : nullptr;
    result["backend"] = req.backend->toString();
    if (b) {
      result["id"] = b->id;
      result["enabled"] = backendEnabled(*req.vip, req.backend->addr);
    }
  }
  return result;
}

}  // namespace lb4
