#include "userspace/dataplane/ring_array.h"

#include <bpf/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <utility>

#include "userspace/dataplane/bpf_map.h"
#include "userspace/dataplane/pin_dir.h"

namespace lb4 {
namespace {

// A ring's slots, mapped into this process. The kernel lays array elements
// out 8 bytes apart (value size rounded up to 8), so slot i is the first
// word of element i.
class RingMapping {
 public:
  static constexpr size_t kStride = 8 / sizeof(uint32_t);  // words per element

  static Result<RingMapping> map(int fd, uint32_t slots, bool writable) {
    size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    size_t len = (size_t{slots} * kStride * sizeof(uint32_t) + page - 1) / page * page;
    void* p =
        ::mmap(nullptr, len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      return makeError("map ring ({} slots): {}", slots, errnoText(errno));
    }
    return RingMapping(static_cast<uint32_t*>(p), len);
  }
  RingMapping(RingMapping&& o) noexcept : words_(std::exchange(o.words_, nullptr)), len_(o.len_) {}
  RingMapping& operator=(RingMapping&&) = delete;
  RingMapping(const RingMapping&) = delete;
  ~RingMapping() {
    if (words_ != nullptr) {
      ::munmap(words_, len_);
    }
  }
  void write(std::span<const uint32_t> ring) const {
    for (size_t i = 0; i < ring.size(); ++i) {
      words_[i * kStride] = ring[i];
    }
  }
  // Stores the slots of `ring` that differ; returns how many.
  size_t update(std::span<const uint32_t> ring) const {
    size_t changed = 0;
    for (size_t i = 0; i < ring.size(); ++i) {
      std::atomic_ref<uint32_t> slot(words_[i * kStride]);
      if (slot.load(std::memory_order_relaxed) != ring[i]) {
        slot.store(ring[i], std::memory_order_relaxed);
        ++changed;
      }
    }
    return changed;
  }
  std::vector<uint32_t> read(uint32_t slots) const {
    std::vector<uint32_t> out(slots);
    for (size_t i = 0; i < slots; ++i) {
      out[i] = words_[i * kStride];
    }
    return out;
  }

 private:
  RingMapping(uint32_t* words, size_t len) : words_(words), len_(len) {}
  uint32_t* words_;
  size_t len_;
};

}  // namespace

Result<UniqueFd> createRingArray(std::span<const uint32_t> ring) {
  auto size = static_cast<uint32_t>(ring.size());
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
  UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb4_ring", sizeof(uint32_t), sizeof(uint32_t),
                             size, &opts));
  if (!fd) {
    return makeError("create ring array ({} slots): {}", size, errnoText(errno));
  }
  auto mapping = RingMapping::map(fd.get(), size, /*writable=*/true);
  if (!mapping) {
    return std::move(mapping).takeError();
  }
  mapping->write(ring);
  return fd;
}

Status rewriteRingArray(uint32_t mapId, std::span<const uint32_t> ring) {
  UniqueFd fd(bpf_map_get_fd_by_id(mapId));
  if (!fd) {
    return makeError("open ring (map id {}): {}", mapId, errnoText(errno));
  }
  uint32_t slots = mapMaxEntries(fd);
  if (slots != ring.size()) {
    return makeError("rewrite ring (map id {}): it has {} slots, the new ring {}", mapId, slots,
                     ring.size());
  }
  auto mapping = RingMapping::map(fd.get(), slots, /*writable=*/true);
  if (!mapping) {
    return std::move(mapping).takeError();
  }
  mapping->update(ring);
  return {};
}

Result<std::vector<uint32_t>> readRingArray(uint32_t mapId) {
  UniqueFd fd(bpf_map_get_fd_by_id(mapId));
  if (!fd) {
    return makeError("open ring (map id {}): {}", mapId, errnoText(errno));
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len); err != 0) {
    return makeError("inspect ring (map id {}): {}", mapId, errnoText(err));
  }
  auto mapping = RingMapping::map(fd.get(), info.max_entries, /*writable=*/false);
  if (!mapping) {
    return std::move(mapping).takeError();
  }
  return mapping->read(info.max_entries);
}

uint32_t ringArraySize(uint32_t mapId) {
  return mapMaxEntries(UniqueFd(bpf_map_get_fd_by_id(mapId)));
}

}  // namespace lb4
