// Dataplane: loads the lb4 XDP skeleton, adopts or pins its maps
// (pin_dir.h), and gives typed access to every map (bpf_map.h). The VIP maps
// are kept in step by VipTable, the rings built by ring_array.h. All libbpf
// calls of the control plane live in userspace/dataplane/.
#include "userspace/dataplane/dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <utility>

#include "lb4_xdp.skel.h"
#include "userspace/common/net.h"
#include "userspace/dataplane/bpf_map.h"
#include "userspace/dataplane/library_log.h"
#include "userspace/dataplane/pin_dir.h"
#include "userspace/dataplane/ring_array.h"
#include "userspace/dataplane/vip_table.h"

namespace lb4 {
namespace {

constexpr uint32_t kConfigKey = 0;

// The typed handles of the skeleton's maps.
BpfMap<uint32_t, lb4_config> configMap(const lb4_xdp* s) {
  return BpfMap<uint32_t, lb4_config>(s->maps.lb4_config);
}
VipTable vipTable(const lb4_xdp* s) { return VipTable(s->maps.lb4_vips, s->maps.lb4_vip_addrs); }
BpfMap<uint32_t, lb4_backend> backendMap(const lb4_xdp* s) {
  return BpfMap<uint32_t, lb4_backend>(s->maps.lb4_backends);
}
BpfMap<uint32_t, uint32_t> ringsMap(const lb4_xdp* s) {  // inner map ids on lookup, fds on update
  return BpfMap<uint32_t, uint32_t>(s->maps.lb4_rings);
}
BpfMap<lb4_flow_key, lb4_flow_value> conntrackMap(const lb4_xdp* s) {
  return BpfMap<lb4_flow_key, lb4_flow_value>(s->maps.lb4_conntrack);
}
BpfMap<lb4_flow_key, lb4_nat_value> natReverseMap(const lb4_xdp* s) {
  return BpfMap<lb4_flow_key, lb4_nat_value>(s->maps.lb4_nat_reverse);
}
BpfMap<lb4_vip_key, uint32_t> natAddrMap(const lb4_xdp* s) {
  return BpfMap<lb4_vip_key, uint32_t>(s->maps.lb4_nat_addrs);
}
BpfMap<uint32_t, uint32_t> txPortMap(const lb4_xdp* s) {
  return BpfMap<uint32_t, uint32_t>(s->maps.lb4_tx_ports);
}
BpfMap<uint32_t, lb4_iface> ifaceMap(const lb4_xdp* s) {
  return BpfMap<uint32_t, lb4_iface>(s->maps.lb4_ifaces);
}
BpfMap<uint32_t, lb4_iface> ifaceSlotMap(const lb4_xdp* s) {
  return BpfMap<uint32_t, lb4_iface>(s->maps.lb4_iface_slots);
}

// Removes an interface from lb4_ifaces and, below LB4_IFACE_SLOTS, empties
// its lb4_iface_slots entry (an array entry cannot be deleted).
Status eraseInterface(const lb4_xdp* s, uint32_t ifindex, const std::string& what) {
  if (ifindex < LB4_IFACE_SLOTS) {
    if (auto st = ifaceSlotMap(s).update(ifindex, lb4_iface{}, what); !st) {
      return st;
    }
  }
  return ifaceMap(s).erase(ifindex, what);
}

// Size of the ring installed for vipId, 0 when there is none.
uint32_t installedRingSize(const lb4_xdp* s, uint32_t vipId) {
  auto innerId = ringsMap(s).find(vipId);
  if (!innerId || !innerId->has_value()) {
    return 0;
  }
  return ringArraySize(**innerId);
}

// Sums a per-CPU value whose every field is a u64 counter (lb4_traffic,
// lb4_signals), field by field.
template <typename T>
Result<T> sumPerCpu(const bpf_map* map, uint32_t index) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % sizeof(uint64_t) == 0);
  auto perCpu = PerCpuArray<T>(map).lookup(index, fmt::format("index {}", index));
  if (!perCpu) {
    return std::move(perCpu).takeError();
  }
  std::array<uint64_t, sizeof(T) / sizeof(uint64_t)> total{};
  for (const T& value : *perCpu) {
    std::array<uint64_t, sizeof(T) / sizeof(uint64_t)> words;
    std::memcpy(words.data(), &value, sizeof(T));
    for (size_t i = 0; i < words.size(); ++i) {
      total[i] += words[i];
    }
  }
  T out;
  std::memcpy(&out, total.data(), sizeof(T));
  return out;
}

template <typename T>
Status resetPerCpu(const bpf_map* map, uint32_t index) {
  return PerCpuArray<T>(map).fill(index, T{}, fmt::format("index {}", index));
}

std::string backendName(uint32_t id) { return fmt::format("backend {}", id); }
std::string vipName(uint32_t vipId) { return fmt::format("VIP {}", vipId); }
std::string ifindexName(uint32_t ifindex) { return fmt::format("ifindex {}", ifindex); }

}  // namespace

const char* xdpModeName(XdpMode mode) { return mode == XdpMode::kNative ? "native" : "generic"; }

void Dataplane::SkelDeleter::operator()(lb4_xdp* skel) const { lb4_xdp__destroy(skel); }

Dataplane::Dataplane(DataplaneOptions options) : options_(std::move(options)) {}
Dataplane::~Dataplane() = default;

Result<std::unique_ptr<Dataplane>> Dataplane::open(const DataplaneOptions& options) {
  detail::installLibbpfLogging();
  std::unique_ptr<Dataplane> dp(new Dataplane(options));
  const std::string& pinDir = options.pinDir;
  if (!pinDir.empty()) {
    if (auto st = preparePinDir(pinDir); !st) {
      return std::move(st).takeError();
    }
    if (auto st = checkPinnedAbi(pinDir); !st) {
      return std::move(st).takeError();
    }
  }

  LIBBPF_OPTS(bpf_object_open_opts, openOpts,
              .pin_root_path = pinDir.empty() ? nullptr : pinDir.c_str());
  lb4_xdp* skel = lb4_xdp__open_opts(&openOpts);
  if (skel == nullptr) {
    return makeError("open BPF object lb4_xdp: {}", errnoText(errno));
  }
  dp->skel_.reset(skel);

  std::pair<bpf_map*, uint32_t> sized[] = {{skel->maps.lb4_conntrack, options.conntrackSize},
                                           {skel->maps.lb4_nat_reverse, options.natReverseSize}};
  if (pinDir.empty()) {
    disablePinning(skel->obj);
  } else {
    dp->adopted_ = hasPinnedMaps(skel->obj);
    // Reuse requires identical max_entries and a map's size is fixed at
    // creation: a pinned map keeps its size until the maps are removed
    // (`lb4ctl detach`), and says so.
    for (auto& [map, size] : sized) {
      uint32_t pinned = pinnedMaxEntries(bpf_map__pin_path(map));
      if (pinned != 0 && pinned != size) {
        spdlog::warn(
            "{} in {} has {} entries, keeping it (asked for {}; sizes take effect "
            "once the pinned maps are removed with `lb4ctl detach`)",
            bpf_map__name(map), pinDir, pinned, size);
        size = pinned;
      }
    }
  }
  for (auto& [map, size] : sized) {
    if (int err = bpf_map__set_max_entries(map, size); err != 0) {
      return makeError("size map {} to {}: {}", bpf_map__name(map), size, errnoText(err));
    }
  }

  if (int err = lb4_xdp__load(skel); err != 0) {
    return makeError("load BPF object lb4_xdp: {}", errnoText(err));
  }

  auto cfg = dp->config();
  if (!cfg) {
    return std::move(cfg).takeError();
  }
  if (cfg->abi_version != LB4_ABI_VERSION) {
    cfg->tcp_timeout = LB4_DEFAULT_TCP_TIMEOUT;
    cfg->tcp_fin_timeout = LB4_DEFAULT_TCP_FIN_TIMEOUT;
    cfg->udp_timeout = LB4_DEFAULT_UDP_TIMEOUT;
    if (auto st = dp->setConfig(*cfg); !st) {
      return std::move(st).takeError();
    }
  }
  if (dp->adopted_) {
    if (auto st = vipTable(skel).rebuild(); !st) {
      return std::move(st).takeError();
    }
    spdlog::info("adopted the maps pinned in {}", pinDir);
  }
  // The filter is not pinned: this program's copy starts empty.
  if (auto st = dp->syncAddrFilter(); !st) {
    return std::move(st).takeError();
  }
  return dp;
}

int Dataplane::programFd() const { return bpf_program__fd(skel_->progs.lb4_xdp); }

Status Dataplane::setConfig(const lb4_config& config) {
  lb4_config cfg = config;
  cfg.abi_version = LB4_ABI_VERSION;
  auto nat = natAddrs();
  if (!nat) {
    return std::move(nat).takeError();
  }
  cfg.nat_backends = static_cast<uint32_t>(nat->size());
  return configMap(skel_.get()).update(kConfigKey, cfg);
}

Result<lb4_config> Dataplane::config() const { return configMap(skel_.get()).lookup(kConfigKey); }

Status Dataplane::upsertVip(const lb4_vip_key& key, const lb4_vip_value& value) {
  std::string name = ServiceKey::fromAbi(key).toString();
  if (key.family != LB4_AF_INET && key.family != LB4_AF_INET6) {
    return makeError("update map lb4_vips: {}: unknown address family {}", name, key.family);
  }
  if (key.proto != IPPROTO_TCP && key.proto != IPPROTO_UDP) {
    return makeError("update map lb4_vips: {}: protocol {} is not TCP or UDP", name, key.proto);
  }
  if (value.vip_id >= LB4_MAX_VIPS) {
    return makeError("update map lb4_vips: {}: vip id {} out of range (max {})", name, value.vip_id,
                     LB4_MAX_VIPS - 1);
  }
  if (value.mode != LB4_MODE_DR && value.mode != LB4_MODE_NAT) {
    return makeError("update map lb4_vips: {}: unknown forwarding mode {}", name, value.mode);
  }
  lb4_vip_value v = value;
  v.pad = 0;
  // The installed ring decides the modulus; setRing keeps the two in step.
  if (uint32_t size = installedRingSize(skel_.get(), v.vip_id); size != 0) {
    v.ring_size = size;
  }
  if (auto st = vipTable(skel_.get()).store(key, v); !st) {
    return st;
  }
  return syncAddrFilter();
}

Status Dataplane::deleteVip(const lb4_vip_key& key) {
  if (auto st = vipTable(skel_.get()).remove(key); !st) {
    return st;
  }
  return syncAddrFilter();
}

Result<std::vector<std::pair<lb4_vip_key, lb4_vip_value>>> Dataplane::vips() const {
  return vipTable(skel_.get()).all();
}

Status Dataplane::setBackend(uint32_t id, const lb4_backend& backend) {
  if (id == 0 || id >= LB4_MAX_BACKENDS) {
    return makeError("update map lb4_backends: backend id {} out of range (1..{})", id,
                     LB4_MAX_BACKENDS - 1);
  }
  lb4_backend b = backend;
  b.pad = 0;
  return backendMap(skel_.get()).update(id, b, backendName(id));
}

Status Dataplane::clearBackend(uint32_t id) {
  if (id == 0 || id >= LB4_MAX_BACKENDS) {
    return makeError("clear backend {}: id out of range (1..{})", id, LB4_MAX_BACKENDS - 1);
  }
  return backendMap(skel_.get()).update(id, lb4_backend{}, backendName(id));
}

Result<lb4_backend> Dataplane::backend(uint32_t id) const {
  if (id >= LB4_MAX_BACKENDS) {
    return makeError("read map lb4_backends: backend {}: id out of range", id);
  }
  return backendMap(skel_.get()).lookup(id, backendName(id));
}

Status Dataplane::setRing(uint32_t vipId, std::span<const uint32_t> ring) {
  if (vipId >= LB4_MAX_VIPS) {
    return makeError("set ring of VIP {}: id out of range (max {})", vipId, LB4_MAX_VIPS - 1);
  }
  if (ring.empty() || ring.size() > LB4_MAX_RING_SIZE) {
    return makeError("set ring of VIP {}: {} slots, need 1..{}", vipId, ring.size(),
                     LB4_MAX_RING_SIZE);
  }
  for (uint32_t id : ring) {
    if (id >= LB4_MAX_BACKENDS) {
      return makeError("set ring of VIP {}: backend id {} out of range", vipId, id);
    }
  }
  auto size = static_cast<uint32_t>(ring.size());

  // lb4_vip_value.ring_size must never exceed the installed ring, or
  // packets would index past it: shrink the modulus before the swap and
  // grow it after. In between, packets use a valid slot of one table.
  VipTable table = vipTable(skel_.get());
  auto all = table.all();
  if (!all) {
    return makeError("set ring of VIP {}: {}", vipId, all.error());
  }
  auto syncSizes = [&](bool shrinking) -> Status {
    for (auto& [key, value] : *all) {
      if (value.vip_id != vipId || value.ring_size == size ||
          (value.ring_size > size) != shrinking) {
        continue;
      }
      value.ring_size = size;
      if (auto st = table.store(key, value, /*onlyExisting=*/true); !st) {
        return st;
      }
    }
    return {};
  };
  if (auto st = syncSizes(true); !st) {
    return st;
  }

  // The installed ring has this size: rewrite it in place (its slots are
  // independent, and a packet reads exactly one slot). Swapping in a new
  // array makes the kernel wait for an RCU grace period (~20 ms here);
  // this does not. A size change still swaps.
  auto installed = ringsMap(skel_.get()).find(vipId);
  if (installed && installed->has_value() && ringArraySize(**installed) == size) {
    if (auto st = rewriteRingArray(**installed, ring); !st) {
      return makeError("set ring of VIP {}: {}", vipId, st.error());
    }
    return syncSizes(false);
  }
  auto inner = createRingArray(ring);
  if (!inner) {
    return makeError("set ring of VIP {}: {}", vipId, inner.error());
  }
  auto innerFd = static_cast<uint32_t>(inner->get());
  if (auto st = ringsMap(skel_.get()).update(vipId, innerFd, vipName(vipId)); !st) {
    return st;
  }
  return syncSizes(false);
}

Status Dataplane::deleteRing(uint32_t vipId) {
  return ringsMap(skel_.get()).erase(vipId, vipName(vipId));
}

Result<std::vector<uint32_t>> Dataplane::ring(uint32_t vipId) const {
  auto innerId = ringsMap(skel_.get()).lookup(vipId, vipName(vipId));
  if (!innerId) {
    return std::move(innerId).takeError();
  }
  auto slots = readRingArray(*innerId);
  if (!slots) {
    return makeError("read ring of VIP {}: {}", vipId, slots.error());
  }
  return slots;
}

Result<GlobalStats> Dataplane::globalStats() const {
  PerCpuArray<uint64_t> stats(skel_->maps.lb4_stats);
  GlobalStats total{};
  for (uint32_t i = 0; i < LB4_STAT_MAX; ++i) {
    auto perCpu = stats.lookup(i);
    if (!perCpu) {
      return std::move(perCpu).takeError();
    }
    for (uint64_t v : *perCpu) {
      total[i] += v;
    }
  }
  return total;
}

Result<lb4_traffic> Dataplane::vipTraffic(uint32_t vipId) const {
  return sumPerCpu<lb4_traffic>(skel_->maps.lb4_vip_stats, vipId);
}

Result<lb4_traffic> Dataplane::backendTraffic(uint32_t id) const {
  return sumPerCpu<lb4_traffic>(skel_->maps.lb4_backend_stats, id);
}

Status Dataplane::resetVipTraffic(uint32_t vipId) {
  return resetPerCpu<lb4_traffic>(skel_->maps.lb4_vip_stats, vipId);
}

Status Dataplane::resetBackendTraffic(uint32_t id) {
  if (auto s = resetPerCpu<lb4_signals>(skel_->maps.lb4_backend_signals, id); !s) {
    return s;
  }
  return resetPerCpu<lb4_traffic>(skel_->maps.lb4_backend_stats, id);
}

Result<lb4_signals> Dataplane::backendSignals(uint32_t id) const {
  return sumPerCpu<lb4_signals>(skel_->maps.lb4_backend_signals, id);
}

int possibleCpus() { return detail::numCpus(); }

Result<uint64_t> Dataplane::conntrackEntries() const { return conntrackMap(skel_.get()).count(); }

Result<std::optional<lb4_flow_value>> Dataplane::lookupFlow(const lb4_flow_key& key) const {
  return conntrackMap(skel_.get()).find(key);
}

Status Dataplane::insertFlow(const lb4_flow_key& key, const lb4_flow_value& value) {
  return conntrackMap(skel_.get()).update(key, value);
}

Result<std::optional<lb4_nat_value>> Dataplane::lookupNatReverse(const lb4_flow_key& key) const {
  return natReverseMap(skel_.get()).find(key);
}

Status Dataplane::insertNatReverse(const lb4_flow_key& key, const lb4_nat_value& value) {
  return natReverseMap(skel_.get()).update(key, value);
}

Status Dataplane::addNatAddr(const lb4_vip_key& key) {
  if (auto st = natAddrMap(skel_.get()).update(key, 1, ServiceKey::fromAbi(key).toString()); !st) {
    return st;
  }
  if (auto st = syncAddrFilter(); !st) {
    return st;
  }
  return storeNatCount();
}

Status Dataplane::deleteNatAddr(const lb4_vip_key& key) {
  if (auto st = natAddrMap(skel_.get()).erase(key, ServiceKey::fromAbi(key).toString()); !st) {
    return st;
  }
  if (auto st = syncAddrFilter(); !st) {
    return st;
  }
  return storeNatCount();
}

Result<std::vector<lb4_vip_key>> Dataplane::natAddrs() const {
  return natAddrMap(skel_.get()).keys();
}

namespace {

BpfMap<lb4_src_key, lb4_src_rule> sourceMap(const lb4_xdp* s) {
  return BpfMap<lb4_src_key, lb4_src_rule>(s->maps.lb4_src_rules);
}

std::string sourceName(const lb4_src_key& key) {
  return fmt::format("source rule of VIP id {} /{}", key.vip_id, key.prefixlen - 32);
}

}  // namespace

Status Dataplane::setNatOrigin(const lb4_vip_key& backend, const lb4_nat_origin& origin) {
  return BpfMap<lb4_vip_key, lb4_nat_origin>(skel_->maps.lb4_nat_origins)
      .update(backend, origin, "NAT origin of " + ServiceKey::fromAbi(backend).toString());
}

Status Dataplane::deleteNatOrigin(const lb4_vip_key& backend) {
  return BpfMap<lb4_vip_key, lb4_nat_origin>(skel_->maps.lb4_nat_origins)
      .erase(backend, "NAT origin of " + ServiceKey::fromAbi(backend).toString());
}

Result<std::vector<std::pair<lb4_vip_key, lb4_nat_origin>>> Dataplane::natOrigins() const {
  return BpfMap<lb4_vip_key, lb4_nat_origin>(skel_->maps.lb4_nat_origins).entries();
}

Status Dataplane::setSourceRule(const lb4_src_key& key, const lb4_src_rule& rule) {
  return sourceMap(skel_.get()).update(key, rule, sourceName(key));
}

Status Dataplane::deleteSourceRule(const lb4_src_key& key) {
  return sourceMap(skel_.get()).erase(key, sourceName(key));
}

Result<std::vector<std::pair<lb4_src_key, lb4_src_rule>>> Dataplane::sourceRules() const {
  return sourceMap(skel_.get()).entries();
}

Status Dataplane::syncAddrFilter() {
  std::vector<uint64_t> want(addrFilter_.size(), 0);
  auto mark = [&](uint32_t region, const lb4_vip_key& key) {
    uint32_t bit = lb4_addr_filter_bit(key.addr);
    want[region * LB4_ADDR_FILTER_REGION_WORDS + bit / 64] |= uint64_t{1} << (bit % 64);
  };
  auto vipAddrs = BpfMap<lb4_vip_key, lb4_vip_addr>(skel_->maps.lb4_vip_addrs).keys();
  if (!vipAddrs) {
    return makeError("address filter: {}", vipAddrs.error());
  }
  for (const auto& key : *vipAddrs) {
    mark(LB4_FILTER_VIP, key);
  }
  auto nat = natAddrs();
  if (!nat) {
    return makeError("address filter: {}", nat.error());
  }
  for (const auto& key : *nat) {
    mark(LB4_FILTER_NAT, key);
  }
  BpfMap<uint32_t, uint64_t> filter(skel_->maps.lb4_addr_filter);
  for (uint32_t i = 0; i < want.size(); ++i) {
    if (want[i] == addrFilter_[i]) {
      continue;
    }
    if (auto st = filter.update(i, want[i], fmt::format("address filter word {}", i)); !st) {
      return st;
    }
    addrFilter_[i] = want[i];
  }
  return {};
}

Status Dataplane::storeNatCount() {
  auto cfg = config();
  if (!cfg) {
    return std::move(cfg).takeError();
  }
  return setConfig(*cfg);
}

Status Dataplane::addTxPort(uint32_t ifindex) {
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(ifindex, name) == nullptr) {
    return makeError("interface {}: {}", ifindexName(ifindex), errnoText(errno));
  }
  auto mac = interfaceMac(name);
  if (!mac) {
    return std::move(mac).takeError();
  }
  if (auto st = setInterfaceMac(ifindex, *mac); !st) {
    return st;
  }
  if (auto st = txPortMap(skel_.get()).update(ifindex, ifindex, ifindexName(ifindex)); !st) {
    (void)eraseInterface(skel_.get(), ifindex, ifindexName(ifindex));
    return st;
  }
  return {};
}

Status Dataplane::deleteTxPort(uint32_t ifindex) {
  (void)eraseInterface(skel_.get(), ifindex, ifindexName(ifindex));
  return txPortMap(skel_.get()).erase(ifindex, ifindexName(ifindex));
}

Status Dataplane::setInterfaceMac(uint32_t ifindex, const std::array<uint8_t, 6>& mac) {
  lb4_iface value{};
  std::memcpy(value.mac, mac.data(), mac.size());
  if (auto st = ifaceMap(skel_.get()).update(ifindex, value, ifindexName(ifindex)); !st) {
    return st;
  }
  if (ifindex >= LB4_IFACE_SLOTS) {
    return {};
  }
  value.present = 1;
  return ifaceSlotMap(skel_.get()).update(ifindex, value, ifindexName(ifindex));
}

Result<uint32_t> Dataplane::testRun(std::vector<uint8_t>& packet, uint32_t ingressIfindex) const {
  std::vector<uint8_t> out(packet.size() + 256);
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(packet.size());
  ctx.ingress_ifindex = ingressIfindex;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(packet.size()),
              .data_size_out = static_cast<uint32_t>(out.size()),
              .ctx_in = ingressIfindex != 0 ? &ctx : nullptr,
              .ctx_size_in = ingressIfindex != 0 ? static_cast<uint32_t>(sizeof(ctx)) : 0U,
              .repeat = 1);
  if (int err = bpf_prog_test_run_opts(programFd(), &opts); err != 0) {
    return makeError("test-run program lb4_xdp ({} byte frame): {}", packet.size(), errnoText(err));
  }
  out.resize(opts.data_size_out);
  packet = std::move(out);
  return opts.retval;
}

Status Dataplane::unpinAll() {
  if (options_.pinDir.empty()) {
    return {};
  }
  return lb4::unpinAll(skel_->obj, options_.pinDir);
}

}  // namespace lb4
