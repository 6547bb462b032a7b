// The lb4_vip_addrs entry of an address, derived from its lb4_vips entries.
// The XDP program finds a VIP with one lookup of that entry when the address
// has at most LB4_ADDR_SERVICES services (all of them are inline), and
// falls back to lb4_vips otherwise. These functions keep the two in step;
// they are pure so that the derivation is tested without a kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "bpf/lb4_abi.h"

namespace lb4 {

using VipEntry = std::pair<lb4_vip_key, lb4_vip_value>;

// The lb4_vip_addrs key of a service: its address, protocol and family.
lb4_vip_key addrKeyOf(const lb4_vip_key& key);
bool sameAddr(const lb4_vip_key& a, const lb4_vip_key& b);

// The entry for `services`, which must all be on one address (same
// addrKeyOf). Inline slots beyond the count stay zeroed.
lb4_vip_addr vipAddrOf(std::span<const VipEntry> services);

// The services an entry holds inline, as lb4_vips entries on `addrKey`;
// nullopt when the address has more services than the entry holds.
std::optional<std::vector<VipEntry>> inlineServices(const lb4_vip_key& addrKey,
                                                    const lb4_vip_addr& entry);

// `services` with `entry` inserted or, for the same key, replaced.
void putService(std::vector<VipEntry>& services, const VipEntry& entry);
// `services` without `key`; false when it was not there.
bool dropService(std::vector<VipEntry>& services, const lb4_vip_key& key);

}  // namespace lb4
