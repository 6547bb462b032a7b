#include "userspace/daemon/kernel_sync.h"

#include <chrono>
#include <cstring>

#include "userspace/maglev/maglev.h"

namespace lb4 {
namespace {

bool sameBackend(const lb4_backend& a, const lb4_backend& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

bool sameVip(const lb4_vip_value& a, const lb4_vip_value& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

}  // namespace

Status syncKernel(Dataplane& dp, const KernelView& view, const KernelView* previous,
                  RingStats* rings) {
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
    auto start = std::chrono::steady_clock::now();
    if (auto s = dp.setRing(vipId, ringFor(vipId)); !s) {
      return s;
    }
    if (rings) {
      rings->builds += 1;
      rings->seconds.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  for (const auto& [bytes, key] : view.natAddrs) {
    if (!previous || !previous->natAddrs.count(bytes)) {
      if (auto s = dp.addNatAddr(key); !s) {
        return s;
      }
    }
  }
  for (const auto& [bytes, ko] : view.natOrigins) {
    if (previous) {
      auto it = previous->natOrigins.find(bytes);
      if (it != previous->natOrigins.end() &&
          std::memcmp(&it->second.second, &ko.second, sizeof(ko.second)) == 0) {
        continue;
      }
    }
    if (auto s = dp.setNatOrigin(ko.first, ko.second); !s) {
      return s;
    }
  }
  // Source prefixes before the VIP flags that make the program read them.
  for (const auto& [bytes, kr] : view.sources) {
    if (previous) {
      auto it = previous->sources.find(bytes);
      if (it != previous->sources.end() && it->second.second.action == kr.second.action) {
        continue;
      }
    }
    if (auto s = dp.setSourceRule(kr.first, kr.second); !s) {
      return s;
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
    for (const auto& [bytes, ko] : previous->natOrigins) {
      if (!view.natOrigins.count(bytes)) {
        if (auto s = dp.deleteNatOrigin(ko.first); !s) {
          return s;
        }
      }
    }
    for (const auto& [bytes, kr] : previous->sources) {
      if (!view.sources.count(bytes)) {
        if (auto s = dp.deleteSourceRule(kr.first); !s) {
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
  auto origins = dp.natOrigins();
  if (!origins) {
    return std::move(origins).takeError();
  }
  for (const auto& [key, origin] : *origins) {
    if (!view.natOrigins.count(keyBytes(key))) {
      if (auto s = dp.deleteNatOrigin(key); !s) {
        return s;
      }
    }
  }
  auto rules = dp.sourceRules();
  if (!rules) {
    return std::move(rules).takeError();
  }
  for (const auto& [key, rule] : *rules) {
    if (!view.sources.count(keyBytes(key))) {
      if (auto s = dp.deleteSourceRule(key); !s) {
        return s;
      }
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

}  // namespace lb4
