// Dataplane: loads the lb4 XDP skeleton, adopts or pins its maps, and gives
// typed access to every map. All libbpf calls of the control plane live here
// and in xdp_attach.cpp.
#include "userspace/dataplane/dataplane.h"
#include "userspace/dataplane/library_log.h"
#include "userspace/dataplane/vip_addr.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <utility>

#include <spdlog/spdlog.h>

#include "lb4_xdp.skel.h"

namespace lb4 {
namespace detail {

int logLibraryMessage(std::string_view library, spdlog::level::level_enum level,
                      const char* format, va_list args) {
  char buf[2048];
  int n = std::vsnprintf(buf, sizeof(buf), format, args);
  if (n <= 0) {
    return 0;
  }
  std::string_view text(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
  while (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  if (text.starts_with(library) && text.substr(library.size()).starts_with(": ")) {
    text.remove_prefix(library.size() + 2);
  }
  spdlog::log(level, "{}: {}", library, text);
  return n;
}

}  // namespace detail

namespace {

constexpr const char* kBpffsRoot = "/sys/fs/bpf";

std::string errnoText(int err) { return std::strerror(err < 0 ? -err : err); }

int libbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  // libbpf's info level is chatty (e.g. libxdp's dispatcher probe): debug.
  return detail::logLibraryMessage(
      "libbpf", level == LIBBPF_WARN ? spdlog::level::warn : spdlog::level::debug, format, args);
}

void installLibbpfLogging() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpfPrint); });
}

std::string formatVipKey(const lb4_vip_key& key) {
  char addr[INET6_ADDRSTRLEN] = {};
  bool v6 = key.family == LB4_AF_INET6;
  inet_ntop(v6 ? AF_INET6 : AF_INET, key.addr, addr, sizeof(addr));
  const char* proto = key.proto == IPPROTO_TCP ? "tcp" : key.proto == IPPROTO_UDP ? "udp" : "?";
  return v6 ? fmt::format("[{}]:{}/{}", addr, ntohs(key.port), proto)
            : fmt::format("{}:{}/{}", addr, ntohs(key.port), proto);
}

bool onBpffs(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

// Makes sure `dir` exists on a bpffs, mounting one on /sys/fs/bpf when the
// directory lives there and nothing is mounted yet (e.g. a fresh namespace).
Status preparePinDir(const std::string& dir) {
  std::string root = kBpffsRoot;
  bool underRoot = dir == root || dir.starts_with(root + "/");
  if (underRoot && !onBpffs(root)) {
    if (::mount("bpf", kBpffsRoot, "bpf", 0, nullptr) != 0) {
      return makeError("mount bpffs on {}: {}", root, errnoText(errno));
    }
    spdlog::info("mounted a bpffs on {}", root);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return makeError("create pin directory {}: {}", dir, ec.message());
  }
  if (!onBpffs(dir)) {
    return makeError("use pin directory {}: not on a bpffs", dir);
  }
  return {};
}

// Refuses maps pinned by a build with another layout before libbpf tries
// (and fails less clearly) to reuse them.
Status checkPinnedAbi(const std::string& dir) {
  std::string path = dir + "/lb4_config";
  if (::access(path.c_str(), F_OK) != 0) {
    return {};
  }
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd) {
    return makeError("open pinned map {}: {}", path, errnoText(errno));
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len); err != 0) {
    return makeError("inspect pinned map {}: {}", path, errnoText(err));
  }
  if (info.value_size != sizeof(lb4_config)) {
    return makeError(
        "adopt maps in {}: unknown layout (lb4_config value is {} bytes), this build needs "
        "version {}; detach and remove {} first",
        dir, info.value_size, LB4_ABI_VERSION, dir);
  }
  uint32_t key = 0;
  lb4_config cfg{};
  if (bpf_map_lookup_elem(fd.get(), &key, &cfg) != 0) {
    return makeError("read pinned map {}: {}", path, errnoText(errno));
  }
  if (cfg.abi_version != 0 && cfg.abi_version != LB4_ABI_VERSION) {
    return makeError("adopt maps in {}: layout version {}, this build needs {}; detach and remove {} first",
                     dir, cfg.abi_version, LB4_ABI_VERSION, dir);
  }
  return {};
}

// max_entries of a pinned map, or 0 when it is not pinned.
// max_entries of the map behind `fd`; 0 when there is none.
uint32_t mapMaxEntries(const UniqueFd& fd) {
  if (!fd) {
    return 0;
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) {
    return 0;
  }
  return info.max_entries;
}

uint32_t pinnedMaxEntries(const std::string& path) {
  return mapMaxEntries(UniqueFd(bpf_obj_get(path.c_str())));
}

int numCpus() {
  static const int n = libbpf_num_possible_cpus();
  return n;
}

// Creates an inner ring array of `size` slots. Inner arrays carry
// BPF_F_INNER_MAP | BPF_F_MMAPABLE like the template in maps.h: the kernel
// compares map_flags of inner maps with the template's.
Result<UniqueFd> createRingArray(uint32_t size) {
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
  UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb4_ring", sizeof(uint32_t), sizeof(uint32_t),
                             size, &opts));
  if (!fd) {
    return makeError("create ring array ({} slots): {}", size, errnoText(errno));
  }
  return fd;
}

// A ring's slots, mapped into this process (rings are BPF_F_MMAPABLE): a
// table is filled or read with plain stores and loads, where map syscalls go
// slot by slot. The kernel lays array elements out 8 bytes apart (value
// size rounded up to 8), so slot i is the first word of element i.
class RingMapping {
 public:
  static constexpr size_t kStride = 8 / sizeof(uint32_t);  // words per element

  static Result<RingMapping> map(int fd, uint32_t slots, bool writable) {
    size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    size_t len = (size_t{slots} * kStride * sizeof(uint32_t) + page - 1) / page * page;
    void* p = ::mmap(nullptr, len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd,
                     0);
    if (p == MAP_FAILED) {
      return makeError("map ring ({} slots): {}", slots, errnoText(errno));
    }
    return RingMapping(static_cast<uint32_t*>(p), len);
  }
  RingMapping(RingMapping&& o) noexcept : words_(std::exchange(o.words_, nullptr)), len_(o.len_) {}
  RingMapping& operator=(RingMapping&&) = delete;
  RingMapping(const RingMapping&) = delete;
  ~RingMapping() {
    if (words_ != nullptr) {
      ::munmap(words_, len_);
    }
  }
  void write(std::span<const uint32_t> ring) const {
    for (size_t i = 0; i < ring.size(); ++i) {
      words_[i * kStride] = ring[i];
    }
  }
  std::vector<uint32_t> read(uint32_t slots) const {
    std::vector<uint32_t> out(slots);
    for (size_t i = 0; i < slots; ++i) {
      out[i] = words_[i * kStride];
    }
    return out;
  }

 private:
  RingMapping(uint32_t* words, size_t len) : words_(words), len_(len) {}
  uint32_t* words_;
  size_t len_;
};

// The services on `addr` as lb4_vips has them: from its lb4_vip_addrs
// entry when that holds them all, else by a scan of lb4_vips.
Result<std::vector<VipEntry>> servicesOn(const Dataplane& dp, lb4_xdp* skel,
                                         const lb4_vip_key& addr) {
  lb4_vip_addr entry{};
  if (bpf_map__lookup_elem(skel->maps.lb4_vip_addrs, &addr, sizeof(addr), &entry, sizeof(entry),
                           0) != 0) {
    if (errno != ENOENT) {
      return makeError("read map lb4_vip_addrs: {}", errnoText(errno));
    }
    return std::vector<VipEntry>{};
  }
  if (auto inlined = inlineServices(addr, entry)) {
    return *inlined;
  }
  auto all = dp.vips();
  if (!all) {
    return std::move(all).takeError();
  }
  std::vector<VipEntry> out;
  for (const auto& e : *all) {
    if (sameAddr(e.first, addr)) {
      out.push_back(e);
    }
  }
  return out;
}

Status writeVipAddr(lb4_xdp* skel, const lb4_vip_key& addr, std::span<const VipEntry> services) {
  const bpf_map* map = skel->maps.lb4_vip_addrs;
  if (services.empty()) {
    if (bpf_map__delete_elem(map, &addr, sizeof(addr), 0) != 0 && errno != ENOENT) {
      return makeError("delete from map lb4_vip_addrs: {}", errnoText(errno));
    }
    return {};
  }
  lb4_vip_addr entry = vipAddrOf(services);
  if (bpf_map__update_elem(map, &addr, sizeof(addr), &entry, sizeof(entry), BPF_ANY) != 0) {
    return makeError("update map lb4_vip_addrs: {}", errnoText(errno));
  }
  return {};
}

// Writes one lb4_vips entry and then its address's lb4_vip_addrs entry (so
// the program never finds a service inline that lb4_vips lacks); on failure
// neither changes. With BPF_EXIST a missing key is left missing (no error).
Status storeVip(const Dataplane& dp, lb4_xdp* skel, const lb4_vip_key& key,
                const lb4_vip_value& value, uint64_t flags) {
  std::string name = formatVipKey(key);
  lb4_vip_key addr = addrKeyOf(key);
  auto services = servicesOn(dp, skel, addr);
  if (!services) {
    return makeError("{}: {}", name, services.error());
  }
  lb4_vip_value old{};
  bool existed = bpf_map__lookup_elem(skel->maps.lb4_vips, &key, sizeof(key), &old, sizeof(old),
                                      0) == 0;
  if (!existed && flags == BPF_EXIST) {
    return {};
  }
  putService(*services, {key, value});
  if (bpf_map__update_elem(skel->maps.lb4_vips, &key, sizeof(key), &value, sizeof(value),
                           flags) != 0) {
    return makeError("update map lb4_vips: {}: {}", name, errnoText(errno));
  }
  if (auto st = writeVipAddr(skel, addr, *services); !st) {
    if (existed) {
      bpf_map__update_elem(skel->maps.lb4_vips, &key, sizeof(key), &old, sizeof(old), BPF_ANY);
    } else {
      bpf_map__delete_elem(skel->maps.lb4_vips, &key, sizeof(key), 0);
    }
    return makeError("{}: {}", name, st.error());
  }
  return {};
}

// lb4_vip_addrs is derived from lb4_vips. A daemon that died between the
// two updates leaves an entry one change behind; rebuild every entry after
// adopting so that they are exact again.
Status rebuildVipAddrs(const Dataplane& dp, lb4_xdp* skel) {
  auto vips = dp.vips();
  if (!vips) {
    return std::move(vips).takeError();
  }
  std::vector<std::pair<lb4_vip_key, std::vector<VipEntry>>> byAddr;
  for (const auto& e : *vips) {
    auto it = std::find_if(byAddr.begin(), byAddr.end(),
                           [&](const auto& a) { return sameAddr(a.first, e.first); });
    if (it == byAddr.end()) {
      byAddr.emplace_back(addrKeyOf(e.first), std::vector<VipEntry>{});
      it = std::prev(byAddr.end());
    }
    it->second.push_back(e);
  }
  const bpf_map* map = skel->maps.lb4_vip_addrs;
  std::vector<lb4_vip_key> stale;
  lb4_vip_key cur{};
  lb4_vip_key next{};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    if (std::none_of(byAddr.begin(), byAddr.end(),
                     [&](const auto& a) { return sameAddr(a.first, next); })) {
      stale.push_back(next);
    }
    cur = next;
    prev = &cur;
  }
  for (const auto& key : stale) {
    bpf_map__delete_elem(map, &key, sizeof(key), 0);
  }
  for (const auto& [addr, services] : byAddr) {
    if (auto st = writeVipAddr(skel, addr, services); !st) {
      return st;
    }
  }
  return {};
}

}  // namespace

void Dataplane::SkelDeleter::operator()(lb4_xdp* skel) const { lb4_xdp__destroy(skel); }

Dataplane::Dataplane(DataplaneOptions options) : options_(std::move(options)) {}
Dataplane::~Dataplane() = default;

Result<std::unique_ptr<Dataplane>> Dataplane::open(const DataplaneOptions& options) {
  installLibbpfLogging();
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

  uint32_t ctSize = options.conntrackSize;
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, skel->obj) {
    if (pinDir.empty()) {
      bpf_map__set_pin_path(map, nullptr);
      continue;
    }
    const char* pinPath = bpf_map__pin_path(map);
    if (pinPath == nullptr || ::access(pinPath, F_OK) != 0) {
      continue;
    }
    dp->adopted_ = true;
    // Reuse requires identical max_entries; the pinned conntrack wins
    // (the kernel may also have rounded it up to a multiple of the CPUs).
    // lb4_nat_reverse is created with the same size, so one check covers it.
    if (map == skel->maps.lb4_conntrack) {
      uint32_t pinned = pinnedMaxEntries(pinPath);
      if (pinned != 0 && pinned != ctSize) {
        spdlog::warn("conntrack in {} has {} entries, keeping it (asked for {})", pinDir, pinned,
                     ctSize);
        ctSize = pinned;
      }
    }
  }
  for (bpf_map* ct : {skel->maps.lb4_conntrack, skel->maps.lb4_nat_reverse}) {
    if (int err = bpf_map__set_max_entries(ct, ctSize); err != 0) {
      return makeError("size map {} to {}: {}", bpf_map__name(ct), ctSize, errnoText(err));
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
    if (auto st = rebuildVipAddrs(*dp, dp->skel_.get()); !st) {
      return std::move(st).takeError();
    }
    spdlog::info("adopted the maps pinned in {}", pinDir);
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
  uint32_t key = 0;
  if (bpf_map__update_elem(skel_->maps.lb4_config, &key, sizeof(key), &cfg, sizeof(cfg),
                           BPF_ANY) != 0) {
    return makeError("update map lb4_config: {}", errnoText(errno));
  }
  return {};
}

Result<lb4_config> Dataplane::config() const {
  uint32_t key = 0;
  lb4_config cfg{};
  if (bpf_map__lookup_elem(skel_->maps.lb4_config, &key, sizeof(key), &cfg, sizeof(cfg), 0) !=
      0) {
    return makeError("read map lb4_config: {}", errnoText(errno));
  }
  return cfg;
}

namespace {

// Size of the ring installed for vipId, 0 when there is none.
uint32_t installedRingSize(const bpf_map* rings, uint32_t vipId) {
  uint32_t innerId = 0;
  if (bpf_map__lookup_elem(rings, &vipId, sizeof(vipId), &innerId, sizeof(innerId), 0) != 0) {
    return 0;
  }
  return mapMaxEntries(UniqueFd(bpf_map_get_fd_by_id(innerId)));
}

}  // namespace

Status Dataplane::upsertVip(const lb4_vip_key& key, const lb4_vip_value& value) {
  std::string name = formatVipKey(key);
  if (key.family != LB4_AF_INET && key.family != LB4_AF_INET6) {
    return makeError("update map lb4_vips: {}: unknown address family {}", name, key.family);
  }
  if (key.proto != IPPROTO_TCP && key.proto != IPPROTO_UDP) {
    return makeError("update map lb4_vips: {}: protocol {} is not TCP or UDP", name, key.proto);
  }
  if (value.vip_id >= LB4_MAX_VIPS) {
    return makeError("update map lb4_vips: {}: vip id {} out of range (max {})", name,
                     value.vip_id, LB4_MAX_VIPS - 1);
  }
  if (value.mode != LB4_MODE_DR && value.mode != LB4_MODE_NAT) {
    return makeError("update map lb4_vips: {}: unknown forwarding mode {}", name, value.mode);
  }
  lb4_vip_value v = value;
  v.pad = 0;
  // The installed ring decides the modulus; setRing keeps the two in step.
  if (uint32_t size = installedRingSize(skel_->maps.lb4_rings, v.vip_id); size != 0) {
    v.ring_size = size;
  }

  return storeVip(*this, skel_.get(), key, v, BPF_ANY);
}

Status Dataplane::deleteVip(const lb4_vip_key& key) {
  std::string name = formatVipKey(key);
  lb4_vip_value old{};
  if (bpf_map__lookup_elem(skel_->maps.lb4_vips, &key, sizeof(key), &old, sizeof(old), 0) != 0) {
    return makeError("delete from map lb4_vips: {}: {}", name, errnoText(errno));
  }
  lb4_vip_key addr = addrKeyOf(key);
  auto services = servicesOn(*this, skel_.get(), addr);
  if (!services) {
    return makeError("{}: {}", name, services.error());
  }
  // The address entry first: the program stops matching the service before
  // lb4_vips loses it.
  dropService(*services, key);
  if (auto st = writeVipAddr(skel_.get(), addr, *services); !st) {
    return makeError("{}: {}", name, st.error());
  }
  if (bpf_map__delete_elem(skel_->maps.lb4_vips, &key, sizeof(key), 0) != 0) {
    return makeError("delete from map lb4_vips: {}: {}", name, errnoText(errno));
  }
  return {};
}

Result<std::vector<std::pair<lb4_vip_key, lb4_vip_value>>> Dataplane::vips() const {
  std::vector<std::pair<lb4_vip_key, lb4_vip_value>> out;
  const bpf_map* map = skel_->maps.lb4_vips;
  lb4_vip_key key{};
  lb4_vip_key next{};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    lb4_vip_value value{};
    if (bpf_map__lookup_elem(map, &next, sizeof(next), &value, sizeof(value), 0) == 0) {
      out.emplace_back(next, value);
    }
    key = next;
    prev = &key;
  }
  if (errno != ENOENT) {
    return makeError("iterate map lb4_vips: {}", errnoText(errno));
  }
  return out;
}

Status Dataplane::setBackend(uint32_t id, const lb4_backend& backend) {
  if (id == 0 || id >= LB4_MAX_BACKENDS) {
    return makeError("update map lb4_backends: backend id {} out of range (1..{})", id,
                     LB4_MAX_BACKENDS - 1);
  }
  lb4_backend b = backend;
  b.pad = 0;
  if (bpf_map__update_elem(skel_->maps.lb4_backends, &id, sizeof(id), &b, sizeof(b), BPF_ANY) !=
      0) {
    return makeError("update map lb4_backends: backend {}: {}", id, errnoText(errno));
  }
  return {};
}

Status Dataplane::clearBackend(uint32_t id) {
  if (id == 0 || id >= LB4_MAX_BACKENDS) {
    return makeError("clear backend {}: id out of range (1..{})", id, LB4_MAX_BACKENDS - 1);
  }
  lb4_backend zero{};
  if (bpf_map__update_elem(skel_->maps.lb4_backends, &id, sizeof(id), &zero, sizeof(zero),
                           BPF_ANY) != 0) {
    return makeError("update map lb4_backends: backend {}: {}", id, errnoText(errno));
  }
  return {};
}

Result<lb4_backend> Dataplane::backend(uint32_t id) const {
  lb4_backend b{};
  if (id >= LB4_MAX_BACKENDS ||
      bpf_map__lookup_elem(skel_->maps.lb4_backends, &id, sizeof(id), &b, sizeof(b), 0) != 0) {
    return makeError("read map lb4_backends: backend {}: {}", id,
                     id >= LB4_MAX_BACKENDS ? "id out of range" : errnoText(errno));
  }
  return b;
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
  auto inner = createRingArray(size);
  if (!inner) {
    return makeError("set ring of VIP {}: {}", vipId, inner.error());
  }
  {
    auto mapping = RingMapping::map(inner->get(), size, /*writable=*/true);
    if (!mapping) {
      return makeError("set ring of VIP {}: {}", vipId, mapping.error());
    }
    mapping->write(ring);
  }

  // lb4_vip_value.ring_size must never exceed the installed ring, or
  // packets would index past it: shrink the modulus before the swap and
  // grow it after. In between, packets use a valid slot of one table.
  auto all = vips();
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
      if (auto st = storeVip(*this, skel_.get(), key, value, BPF_EXIST); !st) {
        return st;
      }
    }
    return {};
  };
  if (auto st = syncSizes(true); !st) {
    return st;
  }
  int innerFd = inner->get();
  if (bpf_map__update_elem(skel_->maps.lb4_rings, &vipId, sizeof(vipId), &innerFd,
                           sizeof(innerFd), BPF_ANY) != 0) {
    return makeError("update map lb4_rings: VIP {}: {}", vipId, errnoText(errno));
  }
  return syncSizes(false);
}

Status Dataplane::deleteRing(uint32_t vipId) {
  if (bpf_map__delete_elem(skel_->maps.lb4_rings, &vipId, sizeof(vipId), 0) != 0 &&
      errno != ENOENT) {
    return makeError("delete from map lb4_rings: VIP {}: {}", vipId, errnoText(errno));
  }
  return {};
}

Result<std::vector<uint32_t>> Dataplane::ring(uint32_t vipId) const {
  uint32_t innerId = 0;
  if (bpf_map__lookup_elem(skel_->maps.lb4_rings, &vipId, sizeof(vipId), &innerId,
                           sizeof(innerId), 0) != 0) {
    return makeError("read map lb4_rings: VIP {}: {}", vipId, errnoText(errno));
  }
  UniqueFd fd(bpf_map_get_fd_by_id(innerId));
  if (!fd) {
    return makeError("open ring of VIP {} (map id {}): {}", vipId, innerId, errnoText(errno));
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len); err != 0) {
    return makeError("inspect ring of VIP {}: {}", vipId, errnoText(err));
  }
  auto mapping = RingMapping::map(fd.get(), info.max_entries, /*writable=*/false);
  if (!mapping) {
    return makeError("read ring of VIP {}: {}", vipId, mapping.error());
  }
  return mapping->read(info.max_entries);
}

Result<GlobalStats> Dataplane::globalStats() const {
  GlobalStats total{};
  std::vector<uint64_t> perCpu(numCpus());
  for (uint32_t i = 0; i < LB4_STAT_MAX; ++i) {
    if (bpf_map__lookup_elem(skel_->maps.lb4_stats, &i, sizeof(i), perCpu.data(),
                             perCpu.size() * sizeof(uint64_t), 0) != 0) {
      return makeError("read map lb4_stats: {}", errnoText(errno));
    }
    for (uint64_t v : perCpu) {
      total[i] += v;
    }
  }
  return total;
}

namespace {

Result<lb4_traffic> sumTraffic(const bpf_map* map, uint32_t index) {
  std::vector<lb4_traffic> perCpu(numCpus());
  if (bpf_map__lookup_elem(map, &index, sizeof(index), perCpu.data(),
                           perCpu.size() * sizeof(lb4_traffic), 0) != 0) {
    return makeError("read map {}: index {}: {}", bpf_map__name(map), index, errnoText(errno));
  }
  lb4_traffic total{};
  for (const auto& t : perCpu) {
    total.packets += t.packets;
    total.bytes += t.bytes;
  }
  return total;
}

Status resetTraffic(const bpf_map* map, uint32_t index) {
  std::vector<lb4_traffic> zero(numCpus());
  if (bpf_map__update_elem(map, &index, sizeof(index), zero.data(),
                           zero.size() * sizeof(lb4_traffic), BPF_ANY) != 0) {
    return makeError("update map {}: index {}: {}", bpf_map__name(map), index, errnoText(errno));
  }
  return {};
}

}  // namespace

Result<lb4_traffic> Dataplane::vipTraffic(uint32_t vipId) const {
  return sumTraffic(skel_->maps.lb4_vip_stats, vipId);
}

Result<lb4_traffic> Dataplane::backendTraffic(uint32_t id) const {
  return sumTraffic(skel_->maps.lb4_backend_stats, id);
}

Status Dataplane::resetVipTraffic(uint32_t vipId) {
  return resetTraffic(skel_->maps.lb4_vip_stats, vipId);
}

Status Dataplane::resetBackendTraffic(uint32_t id) {
  if (auto s = resetTraffic(skel_->maps.lb4_backend_signals, id); !s) {
    return s;
  }
  return resetTraffic(skel_->maps.lb4_backend_stats, id);
}

Result<lb4_signals> Dataplane::backendSignals(uint32_t id) const {
  // Two per-CPU u64 counters, summed exactly like lb4_traffic.
  static_assert(sizeof(lb4_signals) == sizeof(lb4_traffic));
  auto t = sumTraffic(skel_->maps.lb4_backend_signals, id);
  if (!t) {
    return std::move(t).takeError();
  }
  return lb4_signals{.accepted = t->packets, .refused = t->bytes};
}

Result<std::optional<lb4_flow_value>> Dataplane::lookupFlow(const lb4_flow_key& key) const {
  lb4_flow_value value{};
  if (bpf_map__lookup_elem(skel_->maps.lb4_conntrack, &key, sizeof(key), &value, sizeof(value),
                           0) != 0) {
    if (errno == ENOENT) {
      return std::optional<lb4_flow_value>();
    }
    return makeError("read map lb4_conntrack: {}", errnoText(errno));
  }
  return std::optional<lb4_flow_value>(value);
}

Status Dataplane::insertFlow(const lb4_flow_key& key, const lb4_flow_value& value) {
  if (bpf_map__update_elem(skel_->maps.lb4_conntrack, &key, sizeof(key), &value, sizeof(value),
                           BPF_ANY) != 0) {
    return makeError("update map lb4_conntrack: {}", errnoText(errno));
  }
  return {};
}

Result<std::optional<lb4_nat_value>> Dataplane::lookupNatReverse(const lb4_flow_key& key) const {
  lb4_nat_value value{};
  if (bpf_map__lookup_elem(skel_->maps.lb4_nat_reverse, &key, sizeof(key), &value,
                           sizeof(value), 0) != 0) {
    if (errno == ENOENT) {
      return std::optional<lb4_nat_value>();
    }
    return makeError("read map lb4_nat_reverse: {}", errnoText(errno));
  }
  return std::optional<lb4_nat_value>(value);
}

Status Dataplane::insertNatReverse(const lb4_flow_key& key, const lb4_nat_value& value) {
  if (bpf_map__update_elem(skel_->maps.lb4_nat_reverse, &key, sizeof(key), &value,
                           sizeof(value), BPF_ANY) != 0) {
    return makeError("update map lb4_nat_reverse: {}", errnoText(errno));
  }
  return {};
}

Status Dataplane::addNatAddr(const lb4_vip_key& key) {
  uint32_t one = 1;
  if (bpf_map__update_elem(skel_->maps.lb4_nat_addrs, &key, sizeof(key), &one, sizeof(one),
                           BPF_ANY) != 0) {
    return makeError("update map lb4_nat_addrs: {}: {}", formatVipKey(key), errnoText(errno));
  }
  return storeNatCount();
}

Status Dataplane::storeNatCount() {
  auto cfg = config();
  if (!cfg) {
    return std::move(cfg).takeError();
  }
  return setConfig(*cfg);
}

Status Dataplane::deleteNatAddr(const lb4_vip_key& key) {
  if (bpf_map__delete_elem(skel_->maps.lb4_nat_addrs, &key, sizeof(key), 0) != 0 &&
      errno != ENOENT) {
    return makeError("delete from map lb4_nat_addrs: {}: {}", formatVipKey(key),
                     errnoText(errno));
  }
  return storeNatCount();
}

namespace {

template <typename Key>
Result<std::vector<Key>> mapKeys(const bpf_map* map) {
  std::vector<Key> out;
  Key key{};
  Key next{};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    out.push_back(next);
    key = next;
    prev = &key;
  }
  if (errno != ENOENT) {
    return makeError("iterate map {}: {}", bpf_map__name(map), errnoText(errno));
  }
  return out;
}

}  // namespace

Result<std::vector<lb4_vip_key>> Dataplane::natAddrs() const {
  return mapKeys<lb4_vip_key>(skel_->maps.lb4_nat_addrs);
}

Status Dataplane::addTxPort(uint32_t ifindex) {
  if (bpf_map__update_elem(skel_->maps.lb4_tx_ports, &ifindex, sizeof(ifindex), &ifindex,
                           sizeof(ifindex), BPF_ANY) != 0) {
    return makeError("update map lb4_tx_ports: ifindex {}: {}", ifindex, errnoText(errno));
  }
  return {};
}

Status Dataplane::deleteTxPort(uint32_t ifindex) {
  if (bpf_map__delete_elem(skel_->maps.lb4_tx_ports, &ifindex, sizeof(ifindex), 0) != 0 &&
      errno != ENOENT) {
    return makeError("delete from map lb4_tx_ports: ifindex {}: {}", ifindex, errnoText(errno));
  }
  return {};
}

Result<std::vector<uint32_t>> Dataplane::txPorts() const {
  return mapKeys<uint32_t>(skel_->maps.lb4_tx_ports);
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
    return makeError("test-run program lb4_xdp ({} byte frame): {}", packet.size(),
                     errnoText(err));
  }
  out.resize(opts.data_size_out);
  packet = std::move(out);
  return opts.retval;
}

Status Dataplane::unpinAll() {
  if (options_.pinDir.empty()) {
    return {};
  }
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, skel_->obj) {
    const char* path = bpf_map__pin_path(map);
    if (path == nullptr || ::access(path, F_OK) != 0) {
      continue;
    }
    if (int err = bpf_map__unpin(map, nullptr); err != 0) {
      return makeError("unpin map {}: {}", bpf_map__name(map), errnoText(err));
    }
  }
  if (::rmdir(options_.pinDir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
    return makeError("remove pin directory {}: {}", options_.pinDir, errnoText(errno));
  }
  return {};
}

}  // namespace lb4
