#include "userspace/daemon/kernel_view.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace lb4 {

std::vector<uint8_t> keyBytes(const lb4_vip_key& key) {
  const auto* p = reinterpret_cast<const uint8_t*>(&key);
  return {p, p + sizeof(key)};
}

std::vector<uint8_t> keyBytes(const lb4_src_key& key) {
  const auto* p = reinterpret_cast<const uint8_t*>(&key);
  return {p, p + sizeof(key)};
}

lb4_src_key sourceKey(uint32_t vipId, const IpPrefix& prefix) {
  lb4_src_key key;
  std::memset(&key, 0, sizeof(key));
  key.prefixlen = 32 + prefix.length;
  key.vip_id = vipId;
  std::memcpy(key.addr, prefix.addr.bytes.data(), sizeof(key.addr));
  return key;
}

bool KernelView::backendEnabled(uint32_t id) const {
  auto it = backends.find(id);
  return it != backends.end() && (it->second.flags & LB4_BACKEND_F_ENABLED);
}

uint32_t KernelView::effectiveWeight(uint32_t vipId, uint32_t backendId) const {
  auto ring = rings.find(vipId);
  if (ring == rings.end()) {
    return 0;
  }
  for (const auto& in : ring->second) {
    if (in.id == backendId) {
      return in.weight;
    }
  }
  return 0;
}

std::vector<const BackendConfig*> macsNeeded(const DesiredState& state) {
  std::vector<const BackendConfig*> out;
  for (const auto& vip : state.vips) {
    if (vip.mode == ForwardingMode::kNat) {
      continue;  // NAT routes to the backend through the FIB: no MAC needed
    }
    for (const auto& b : vip.backends) {
      if (!b.mac) {
        out.push_back(&b);
      }
    }
  }
  return out;
}

ViewPlan buildKernelView(const DesiredState& state, const HealthVerdicts& health,
                         const MacTable& macs, const KernelView& applied,
                         const EgressTable* egress) {
  ViewPlan plan;
  KernelView& view = plan.view;
  std::set<std::vector<uint8_t>> ambiguousOrigins;
  for (const auto& vip : state.vips) {
    lb4_vip_key key = vip.key.toAbi();
    lb4_vip_value value;
    std::memset(&value, 0, sizeof(value));
    value.vip_id = vip.id;
    value.ring_size = vip.ringSize;
    value.mode = static_cast<uint8_t>(vip.mode);
    value.flags = vip.key.port == 0 ? LB4_VIP_F_ALL_PORTS : 0;
    value.flags |= vip.allow.empty() ? 0 : LB4_VIP_F_SRC_ALLOW;
    value.flags |= vip.deny.empty() ? 0 : LB4_VIP_F_SRC_DENY;
    for (const auto* list : {&vip.allow, &vip.deny}) {
      lb4_src_rule rule{.action =
                            list == &vip.allow ? uint32_t{LB4_SRC_ALLOW} : uint32_t{LB4_SRC_DENY}};
      for (const auto& prefix : *list) {
        lb4_src_key k = sourceKey(vip.id, prefix);
        view.sources[keyBytes(k)] = {k, rule};
      }
    }
    view.vips[keyBytes(key)] = {key, value};
    view.ringSizes[vip.id] = vip.ringSize;
    auto& ring = view.rings[vip.id];
    std::vector<Verdict> verdicts;
    for (const auto& b : vip.backends) {
      verdicts.push_back(verdictOf(health, vip, b));
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
          verdicts[i] =
              Verdict{.action = DataplaneAction::kServe, .weight = vip.backends[i].weight};
        }
      }
    }
    auto previousRing = applied.rings.find(vip.id);
    bool failOpen =
        allRemoved && previousRing != applied.rings.end() && !previousRing->second.empty();
    if (failOpen) {
      plan.allDown.insert(vip.id);
    }
    bool nat = vip.mode == ForwardingMode::kNat;
    for (size_t i = 0; i < vip.backends.size(); ++i) {
      const BackendConfig& b = vip.backends[i];
      const Verdict& verdict = verdicts[i];
      // NAT routes to the backend through the FIB: no MAC needed.
      std::optional<MacAddress> mac;
      int ifindex = 0;
      bool reachable = true;
      if (!nat && egress) {
        auto e = egress->find(b.endpoint.addr);
        ifindex = e == egress->end() ? 0 : e->second;
        reachable = ifindex != 0;
        if (!reachable) {
          plan.unreachable.insert(b.id);
        }
      }
      if (!nat) {
        if (b.mac) {
          mac = b.mac;
        } else if (auto it = macs.find(b.endpoint.addr); it != macs.end()) {
          mac = it->second;
        } else if (reachable) {
          plan.missingMacs.insert(b.endpoint.addr);
        }
      }
      lb4_backend entry;
      std::memset(&entry, 0, sizeof(entry));
      std::memcpy(entry.addr, b.endpoint.addr.bytes.data(), 16);
      if (mac) {
        std::memcpy(entry.mac, mac->data(), 6);
      }
      entry.port = htons(b.endpoint.port);
      entry.family = static_cast<uint8_t>(b.endpoint.addr.family);
      entry.gen = b.gen;
      entry.ifindex = static_cast<uint32_t>(ifindex);
      bool inLastRing = false;
      if (failOpen) {
        for (const auto& in : previousRing->second) {
          inLastRing = inLastRing || in.id == b.id;
        }
      }
      bool enabled = (nat || (mac.has_value() && reachable)) &&
                     (verdict.action != DataplaneAction::kRemove || inLastRing);
      if (nat) {
        lb4_vip_key natKey;
        std::memset(&natKey, 0, sizeof(natKey));
        std::memcpy(natKey.addr, entry.addr, 16);
        natKey.proto = key.proto;
        natKey.family = entry.family;
        view.natAddrs[keyBytes(natKey)] = natKey;
        // The port replies come from: the backend's, else the VIP's. An
        // all-ports VIP has no one port; it gets no stateless entry.
        uint16_t port = b.endpoint.port != 0 ? b.endpoint.port : vip.key.port;
        if (port != 0) {
          natKey.port = htons(port);
          lb4_nat_origin origin;
          std::memset(&origin, 0, sizeof(origin));
          std::memcpy(origin.vip_addr, key.addr, 16);
          origin.vip_port = key.port;
          origin.backend_id = b.id;
          auto bytes = keyBytes(natKey);
          if (!view.natOrigins.emplace(bytes, std::pair{natKey, origin}).second) {
            ambiguousOrigins.insert(bytes);
          }
        }
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
  for (const auto& bytes : ambiguousOrigins) {
    view.natOrigins.erase(bytes);
  }
  return plan;
}

}  // namespace lb4
