// The pin directory of a Dataplane: a directory on a bpffs (mounted on
// /sys/fs/bpf when missing, e.g. in a fresh namespace) where the maps that
// must outlive the daemon are pinned by name, the ABI check that refuses
// maps pinned by a build with another layout, and their removal.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <string>

#include "userspace/common/result.h"
#include "userspace/common/unique_fd.h"

namespace lb4 {

// Makes sure `dir` exists on a bpffs, mounting one on /sys/fs/bpf when the
// directory lives there and nothing is mounted yet.
Status preparePinDir(const std::string& dir);

// Refuses maps pinned in `dir` by a build with another layout before libbpf
// tries (and fails less clearly) to reuse them.
Status checkPinnedAbi(const std::string& dir);

// Switches pinning off for every map of `obj` (no pin directory).
void disablePinning(bpf_object* obj);

// True when some map of `obj` has a pinned copy at its pin path to adopt.
bool hasPinnedMaps(const bpf_object* obj);

// max_entries of the map behind `fd`; 0 when there is none.
uint32_t mapMaxEntries(const UniqueFd& fd);

// max_entries of the map pinned at `path`; 0 when nothing is pinned there.
uint32_t pinnedMaxEntries(const char* path);

// Unpins every pinned map of `obj` and removes `dir` when it is empty.
Status unpinAll(bpf_object* obj, const std::string& dir);

}  // namespace lb4
