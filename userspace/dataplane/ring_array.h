// Maglev rings as the kernel holds them: one BPF array per VIP (the inner
// maps of lb4_rings), created with exactly the ring's size and filled or
// read through mmap (rings are BPF_F_MMAPABLE), where map syscalls would
// go slot by slot.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "userspace/common/result.h"
#include "userspace/common/unique_fd.h"

namespace lb4 {

// Creates an inner ring array holding `ring`. It carries BPF_F_INNER_MAP |
// BPF_F_MMAPABLE like the template in maps.h: the kernel compares map_flags
// of inner maps with the template's.
Result<UniqueFd> createRingArray(std::span<const uint32_t> ring);

// Writes `ring` into the live ring array with map id `mapId`, which must
// have exactly ring.size() slots: only the slots that change, each with one
// aligned 4-byte store, so a packet reading any slot meanwhile finds the
// old or the new backend id of that slot, never a mix. No map swap, so no
// RCU grace period to wait for.
Status rewriteRingArray(uint32_t mapId, std::span<const uint32_t> ring);

// The slots of the ring array with map id `mapId`.
Result<std::vector<uint32_t>> readRingArray(uint32_t mapId);

// The number of slots of the ring array with map id `mapId`; 0 when there
// is no such map.
uint32_t ringArraySize(uint32_t mapId);

}  // namespace lb4
