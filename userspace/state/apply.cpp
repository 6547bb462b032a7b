#include "userspace/state/apply.h"

#include <fmt/format.h>

namespace lb4 {
namespace {

std::string macText(const std::optional<MacAddress>& mac) {
  return mac ? " mac " + formatMac(*mac) : "";
}

std::string prefixesText(const std::vector<IpPrefix>& prefixes) {
  std::string out;
  for (const auto& p : prefixes) {
    out += (out.empty() ? "" : ",") + p.toString();
  }
  return out.empty() ? "-" : out;
}

// Adds `want`'s backend to the VIP in `next` with its weight, MAC and check.
Status addBackendLike(DesiredState& next, const ServiceKey& vip, const BackendConfig& want,
                      std::vector<std::string>& changes) {
  if (auto s = next.addBackend(vip, want.endpoint, want.weight, want.mac); !s) {
    return s;
  }
  changes.push_back(fmt::format("add-backend {} to {} weight {}{}", want.endpoint.toString(),
                                vip.toString(), want.weight, macText(want.mac)));
  if (want.health) {
    if (auto s = next.setBackendHealth(vip, want.endpoint.addr, *want.health); !s) {
      return s;
    }
    changes.push_back(
        fmt::format("set-health of backend {} of {}", want.endpoint.toString(), vip.toString()));
  }
  return {};
}

Status addVipLike(DesiredState& next, const VipConfig& want, std::vector<std::string>& changes) {
  if (auto s = next.addVip(want.key, want.mode, want.ringSize); !s) {
    return s;
  }
  changes.push_back(fmt::format("add-vip {} mode {} ring {}", want.key.toString(),
                                modeName(want.mode), want.ringSize));
  if (!want.allow.empty() || !want.deny.empty()) {
    if (auto s = next.setSources(want.key, want.allow, want.deny); !s) {
      return s;
    }
    changes.push_back(fmt::format("set-sources of {}: allow {} deny {}", want.key.toString(),
                                  prefixesText(want.allow), prefixesText(want.deny)));
  }
  if (want.health) {
    if (auto s = next.setHealth(want.key, *want.health); !s) {
      return s;
    }
    changes.push_back(fmt::format("set-health of {}", want.key.toString()));
  }
  for (const auto& b : want.backends) {
    if (auto s = addBackendLike(next, want.key, b, changes); !s) {
      return s;
    }
  }
  return {};
}

Status updateVip(DesiredState& next, const VipConfig& want, std::vector<std::string>& changes) {
  const ServiceKey& key = want.key;
  VipConfig* have = next.findVip(key);
  if (have->allow != want.allow || have->deny != want.deny) {
    if (auto s = next.setSources(key, want.allow, want.deny); !s) {
      return s;
    }
    changes.push_back(fmt::format("set-sources of {}: allow {} deny {}", key.toString(),
                                  prefixesText(want.allow), prefixesText(want.deny)));
  }
  have = next.findVip(key);
  if (have->health != want.health) {
    // Validated by the file's parser; unset means the default check again.
    have->health = want.health;
    changes.push_back(fmt::format("set-health of {}{}", key.toString(),
                                  want.health ? "" : " (the default check)"));
  }
  // Backends the file no longer has, or has with another port or MAC.
  std::vector<IpAddress> gone;
  for (const auto& b : have->backends) {
    const BackendConfig* w = want.findBackend(b.endpoint.addr);
    if (!w || w->endpoint.port != b.endpoint.port || w->mac != b.mac) {
      gone.push_back(b.endpoint.addr);
    }
  }
  for (const auto& addr : gone) {
    if (auto s = next.delBackend(key, addr); !s) {
      return s;
    }
    changes.push_back(fmt::format("del-backend {} from {}", addr.toString(), key.toString()));
  }
  for (const auto& w : want.backends) {
    VipConfig* vip = next.findVip(key);
    BackendConfig* b = vip->findBackend(w.endpoint.addr);
    if (!b) {
      if (auto s = addBackendLike(next, key, w, changes); !s) {
        return s;
      }
      continue;
    }
    if (b->weight != w.weight) {
      if (auto s = next.setWeight(key, w.endpoint.addr, w.weight); !s) {
        return s;
      }
      changes.push_back(fmt::format("set-weight {} of {} to {}", w.endpoint.toString(),
                                    key.toString(), w.weight));
      b = next.findVip(key)->findBackend(w.endpoint.addr);
    }
    if (b->health != w.health) {
      b->health = w.health;
      changes.push_back(fmt::format("set-health of backend {} of {}{}", w.endpoint.toString(),
                                    key.toString(), w.health ? "" : " (the VIP's check)"));
    }
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> planApply(DesiredState& next, const DesiredState& desired) {
  std::vector<std::string> changes;
  // Removals first: a VIP gone from the file, or one whose mode or ring
  // size changes (added again below).
  std::vector<ServiceKey> gone;
  for (const auto& have : next.vips) {
    const VipConfig* want = desired.findVip(have.key);
    if (!want || want->mode != have.mode || want->ringSize != have.ringSize) {
      gone.push_back(have.key);
    }
  }
  for (const auto& key : gone) {
    if (auto s = next.delVip(key); !s) {
      return std::move(s).takeError();
    }
    changes.push_back(fmt::format("del-vip {}", key.toString()));
  }
  for (const auto& want : desired.vips) {
    Status s =
        next.findVip(want.key) ? updateVip(next, want, changes) : addVipLike(next, want, changes);
    if (!s) {
      return std::move(s).takeError();
    }
  }
  if (auto s = next.validate(); !s) {
    return std::move(s).takeError();
  }
  return changes;
}

}  // namespace lb4
