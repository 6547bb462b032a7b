#include "userspace/dataplane/vip_table.h"

#include <algorithm>
#include <cerrno>
#include <string>

#include "userspace/common/net.h"

namespace lb4 {

Result<std::vector<VipEntry>> VipTable::servicesOn(const lb4_vip_key& addr) const {
  auto entry = addrs_.find(addr);
  if (!entry) {
    return std::move(entry).takeError();
  }
  if (!entry->has_value()) {
    return std::vector<VipEntry>{};
  }
  if (auto inlined = inlineServices(addr, **entry)) {
    return *inlined;
  }
  auto all = vips_.entries();
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

Status VipTable::writeAddr(const lb4_vip_key& addr, std::span<const VipEntry> services) const {
  if (services.empty()) {
    return addrs_.erase(addr);
  }
  return addrs_.update(addr, vipAddrOf(services));
}

Status VipTable::store(const lb4_vip_key& key, const lb4_vip_value& value, bool onlyExisting) {
  std::string name = ServiceKey::fromAbi(key).toString();
  lb4_vip_key addr = addrKeyOf(key);
  auto services = servicesOn(addr);
  if (!services) {
    return makeError("{}: {}", name, services.error());
  }
  auto old = vips_.find(key, name);
  bool existed = old && old->has_value();
  if (!existed && onlyExisting) {
    return {};
  }
  putService(*services, {key, value});
  if (auto st = vips_.update(key, value, name, onlyExisting ? BPF_EXIST : BPF_ANY); !st) {
    return st;
  }
  if (auto st = writeAddr(addr, *services); !st) {
    if (existed) {
      (void)vips_.update(key, **old, name);
    } else {
      (void)vips_.erase(key, name);
    }
    return makeError("{}: {}", name, st.error());
  }
  return {};
}

Status VipTable::remove(const lb4_vip_key& key) {
  std::string name = ServiceKey::fromAbi(key).toString();
  auto old = vips_.find(key, name);
  if (!old) {
    return std::move(old).takeError();
  }
  if (!old->has_value()) {
    return makeError("delete from map {}: {}: {}", vips_.name(), name, errnoText(ENOENT));
  }
  lb4_vip_key addr = addrKeyOf(key);
  auto services = servicesOn(addr);
  if (!services) {
    return makeError("{}: {}", name, services.error());
  }
  dropService(*services, key);
  if (auto st = writeAddr(addr, *services); !st) {
    return makeError("{}: {}", name, st.error());
  }
  return vips_.erase(key, name);
}

Status VipTable::rebuild() {
  auto vips = vips_.entries();
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
  std::vector<lb4_vip_key> stale;
  (void)addrs_.forEachKey([&](const lb4_vip_key& key) {
    if (std::none_of(byAddr.begin(), byAddr.end(),
                     [&](const auto& a) { return sameAddr(a.first, key); })) {
      stale.push_back(key);
    }
  });
  for (const auto& key : stale) {
    (void)addrs_.erase(key);
  }
  for (const auto& [addr, services] : byAddr) {
    if (auto st = writeAddr(addr, services); !st) {
      return st;
    }
  }
  return {};
}

}  // namespace lb4
