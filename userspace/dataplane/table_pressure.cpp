// What the data plane's tables cost and how full they run: each map's
// memory as the kernel charges it (the `memlock` line of the map fd's
// /proc/self/fdinfo entry, what `bpftool map show` prints), and the
// per-CPU counters that show conntrack pressure.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <fstream>
#include <string>

#include "lb4_xdp.skel.h"
#include "userspace/common/unique_fd.h"
#include "userspace/dataplane/bpf_map.h"
#include "userspace/dataplane/dataplane.h"
#include "userspace/dataplane/pin_dir.h"

namespace lb4 {
namespace {

// The memlock line of a map fd's fdinfo; 0 when the kernel does not say.
uint64_t fdinfoMemlock(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("memlock:", 0) == 0) {
      return std::stoull(line.substr(8));
    }
  }
  return 0;
}

}  // namespace

Result<std::vector<MapMemory>> Dataplane::mapMemory() const {
  std::vector<MapMemory> out;
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, skel_->obj) {
    int fd = bpf_map__fd(map);
    if (fd < 0 || bpf_map__is_internal(map)) {
      continue;  // .rodata/.bss of the program: not a table
    }
    out.push_back(MapMemory{.name = bpf_map__name(map),
                            .maxEntries = bpf_map__max_entries(map),
                            .memlock = fdinfoMemlock(fd)});
  }
  // Each VIP's Maglev ring is an array of its own, held by lb4_rings: one
  // row for all of them (entries: their slots), so status and the metrics
  // show what the rings cost, usually the largest share.
  MapMemory rings{.name = "lb4_ring_tables"};
  BpfMap<uint32_t, uint32_t> outer(skel_->maps.lb4_rings);
  auto st = outer.forEachKey([&](const uint32_t& vipId) {
    auto innerId = outer.find(vipId);
    if (!innerId || !innerId->has_value()) {
      return;  // removed since the key was read
    }
    UniqueFd inner(bpf_map_get_fd_by_id(**innerId));
    if (!inner) {
      return;
    }
    rings.maxEntries += mapMaxEntries(inner);
    rings.memlock += fdinfoMemlock(inner.get());
  });
  if (!st) {
    return std::move(st).takeError();
  }
  out.push_back(rings);
  return out;
}

Result<std::vector<uint64_t>> Dataplane::perCpuStat(uint32_t stat) const {
  PerCpuArray<uint64_t> stats(skel_->maps.lb4_stats);
  return stats.lookup(stat);
}

uint32_t Dataplane::conntrackCapacity() const {
  return bpf_map__max_entries(skel_->maps.lb4_conntrack);
}

}  // namespace lb4
