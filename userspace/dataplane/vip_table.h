// The VIP maps of a loaded program: lb4_vips and lb4_vip_addrs, the map
// derived from it (vip_addr.h), kept in step with rollback. Every change
// goes through here so that the program never finds a service inline in
// lb4_vip_addrs that lb4_vips lacks.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <span>
#include <vector>

#include "bpf/lb4_abi.h"
#include "userspace/common/result.h"
#include "userspace/dataplane/bpf_map.h"
#include "userspace/dataplane/vip_addr.h"

namespace lb4 {

class VipTable {
 public:
  VipTable(const bpf_map* vips, const bpf_map* addrs) : vips_(vips), addrs_(addrs) {}

  // Every lb4_vips entry.
  Result<std::vector<VipEntry>> all() const { return vips_.entries(); }

  // Writes one lb4_vips entry and then its address's lb4_vip_addrs entry; on
  // failure neither changes. With `onlyExisting` a missing key is left
  // missing (no error).
  Status store(const lb4_vip_key& key, const lb4_vip_value& value, bool onlyExisting = false);

  // Removes a service: its address entry first (the program stops matching
  // it), then its lb4_vips entry. A missing key is an error.
  Status remove(const lb4_vip_key& key);

  // Rewrites every lb4_vip_addrs entry from lb4_vips and deletes stale ones.
  // A daemon that died between the two updates leaves an entry one change
  // behind; this makes them exact again after adopting pinned maps.
  Status rebuild();

 private:
  // The services on `addr` as lb4_vips has them: from its lb4_vip_addrs
  // entry when that holds them all, else by a scan of lb4_vips.
  Result<std::vector<VipEntry>> servicesOn(const lb4_vip_key& addr) const;
  Status writeAddr(const lb4_vip_key& addr, std::span<const VipEntry> services) const;

  BpfMap<lb4_vip_key, lb4_vip_value> vips_;
  BpfMap<lb4_vip_key, lb4_vip_addr> addrs_;
};

}  // namespace lb4
