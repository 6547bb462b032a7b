#include "userspace/dataplane/vip_addr.h"

#include <algorithm>
#include <cstring>

namespace lb4 {

lb4_vip_key addrKeyOf(const lb4_vip_key& key) {
  lb4_vip_key addr{};
  std::memcpy(addr.addr, key.addr, sizeof(addr.addr));
  addr.proto = key.proto;
  addr.family = key.family;
  return addr;
}

bool sameAddr(const lb4_vip_key& a, const lb4_vip_key& b) {
  lb4_vip_key x = addrKeyOf(a);
  lb4_vip_key y = addrKeyOf(b);
  return std::memcmp(&x, &y, sizeof(x)) == 0;
}

namespace {

bool sameKey(const lb4_vip_key& a, const lb4_vip_key& b) {
  return sameAddr(a, b) && a.port == b.port;
}

}  // namespace

lb4_vip_addr vipAddrOf(std::span<const VipEntry> services) {
  lb4_vip_addr entry{};
  entry.services = static_cast<uint32_t>(services.size());
  if (services.size() > LB4_ADDR_SERVICES) {
    return entry;  // the program looks these up in lb4_vips
  }
  for (size_t i = 0; i < services.size(); ++i) {
    entry.svc[i].port = services[i].first.port;
    entry.svc[i].vip = services[i].second;
    entry.svc[i].vip.pad = 0;
  }
  return entry;
}

std::optional<std::vector<VipEntry>> inlineServices(const lb4_vip_key& addrKey,
                                                    const lb4_vip_addr& entry) {
  if (entry.services > LB4_ADDR_SERVICES) {
    return std::nullopt;
  }
  std::vector<VipEntry> out;
  for (uint32_t i = 0; i < entry.services; ++i) {
    lb4_vip_key key = addrKeyOf(addrKey);
    key.port = entry.svc[i].port;
    out.emplace_back(key, entry.svc[i].vip);
  }
  return out;
}

void putService(std::vector<VipEntry>& services, const VipEntry& entry) {
  auto it = std::find_if(services.begin(), services.end(),
                         [&](const VipEntry& e) { return sameKey(e.first, entry.first); });
  if (it != services.end()) {
    it->second = entry.second;
  } else {
    services.push_back(entry);
  }
}

bool dropService(std::vector<VipEntry>& services, const lb4_vip_key& key) {
  auto it = std::find_if(services.begin(), services.end(),
                         [&](const VipEntry& e) { return sameKey(e.first, key); });
  if (it == services.end()) {
    return false;
  }
  services.erase(it);
  return true;
}

}  // namespace lb4
