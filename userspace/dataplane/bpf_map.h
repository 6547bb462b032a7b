// Typed handles on the maps of a loaded BPF object: one class per access
// pattern, templated over key and value, so that no caller passes sizes or
// writes an error string. Every error names the map and the operation
// ("update map lb4_vips: <what>: <errno text>"); `what` is the caller's
// description of the key (e.g. "198.18.1.1:80/tcp"), empty for none. The
// handles do not own the map: the skeleton does, and outlives them.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "userspace/common/result.h"

namespace lb4 {

// strerror of an errno value, either sign (libbpf returns -errno).
std::string errnoText(int err);

namespace detail {

// "<verb> map <name>: <what>: <errno text>", without the `what` part when empty.
std::string mapError(std::string_view verb, const bpf_map* map, std::string_view what, int err);

// Number of possible CPUs: the value count of a per-CPU map.
int numCpus();

}  // namespace detail

// A hash or array map whose values are read and written whole.
template <typename Key, typename Value>
class BpfMap {
  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>);

 public:
  explicit BpfMap(const bpf_map* map) : map_(map) {}

  std::string_view name() const { return bpf_map__name(map_); }

  // The value at `key`; nullopt when there is none.
  Result<std::optional<Value>> find(const Key& key, std::string_view what = {}) const {
    Value value{};
    if (bpf_map__lookup_elem(map_, &key, sizeof(key), &value, sizeof(value), 0) != 0) {
      if (errno == ENOENT) {
        return std::optional<Value>();
      }
      return Error{detail::mapError("read", map_, what, errno)};
    }
    return std::optional<Value>(value);
  }

  // The value at `key`; a missing key is an error.
  Result<Value> lookup(const Key& key, std::string_view what = {}) const {
    Value value{};
    if (bpf_map__lookup_elem(map_, &key, sizeof(key), &value, sizeof(value), 0) != 0) {
      return Error{detail::mapError("read", map_, what, errno)};
    }
    return value;
  }

  Status update(const Key& key, const Value& value, std::string_view what = {},
                uint64_t flags = BPF_ANY) const {
    if (bpf_map__update_elem(map_, &key, sizeof(key), &value, sizeof(value), flags) != 0) {
      return Error{detail::mapError("update", map_, what, errno)};
    }
    return {};
  }

  // Deletes `key`; a key that is not there is not an error.
  Status erase(const Key& key, std::string_view what = {}) const {
    if (bpf_map__delete_elem(map_, &key, sizeof(key), 0) != 0 && errno != ENOENT) {
      return Error{detail::mapError("delete from", map_, what, errno)};
    }
    return {};
  }

  // Calls fn(key) for every key. Entries deleted meanwhile may be skipped.
  template <typename Fn>
  Status forEachKey(Fn&& fn) const {
    Key cur{};
    Key next{};
    const void* prev = nullptr;
    while (bpf_map__get_next_key(map_, prev, &next, sizeof(next)) == 0) {
      fn(next);
      cur = next;
      prev = &cur;
    }
    if (errno != ENOENT) {
      return Error{detail::mapError("iterate", map_, {}, errno)};
    }
    return {};
  }

  // The number of entries, read in batches of `batch` (BPF_MAP_LOOKUP_BATCH:
  // one syscall per batch, not one per key); key by key where the map type
  // has no batch lookup.
  Result<uint64_t> count(uint32_t batch = 4096) const {
    std::vector<Key> keys(batch);
    std::vector<Value> values(batch);
    Key token{};  // the kernel's position (a bucket index) between batches
    Key nextToken{};
    uint64_t total = 0;
    bool first = true;
    int fd = bpf_map__fd(map_);
    while (true) {
      uint32_t n = batch;
      int rc = bpf_map_lookup_batch(fd, first ? nullptr : &token, &nextToken, keys.data(),
                                    values.data(), &n, nullptr);
      int err = rc == 0 ? 0 : errno;
      if (rc != 0 && err != ENOENT) {
        if (first && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP)) {
          uint64_t slow = 0;
          if (auto st = forEachKey([&](const Key&) { ++slow; }); !st) {
            return std::move(st).takeError();
          }
          return slow;
        }
        return Error{detail::mapError("count entries of", map_, {}, err)};
      }
      total += n;
      if (err == ENOENT) {
        return total;
      }
      token = nextToken;
      first = false;
    }
  }

  Result<std::vector<Key>> keys() const {
    std::vector<Key> out;
    if (auto st = forEachKey([&](const Key& k) { out.push_back(k); }); !st) {
      return std::move(st).takeError();
    }
    return out;
  }

  // Every entry; one that disappears between its key and its value is left out.
  Result<std::vector<std::pair<Key, Value>>> entries() const {
    std::vector<std::pair<Key, Value>> out;
    auto st = forEachKey([&](const Key& k) {
      Value value{};
      if (bpf_map__lookup_elem(map_, &k, sizeof(k), &value, sizeof(value), 0) == 0) {
        out.emplace_back(k, value);
      }
    });
    if (!st) {
      return std::move(st).takeError();
    }
    return out;
  }

 private:
  const bpf_map* map_;
};

// A per-CPU array: each index holds one Value per possible CPU.
template <typename Value>
class PerCpuArray {
  static_assert(std::is_trivially_copyable_v<Value>);

 public:
  explicit PerCpuArray(const bpf_map* map) : map_(map) {}

  // The values of `index` on every CPU.
  Result<std::vector<Value>> lookup(uint32_t index, std::string_view what = {}) const {
    std::vector<Value> perCpu(detail::numCpus());
    if (bpf_map__lookup_elem(map_, &index, sizeof(index), perCpu.data(),
                             perCpu.size() * sizeof(Value), 0) != 0) {
      return Error{detail::mapError("read", map_, what, errno)};
    }
    return perCpu;
  }

  // Sets `index` to `value` on every CPU.
  Status fill(uint32_t index, const Value& value, std::string_view what = {}) const {
    std::vector<Value> perCpu(detail::numCpus(), value);
    if (bpf_map__update_elem(map_, &index, sizeof(index), perCpu.data(),
                             perCpu.size() * sizeof(Value), BPF_ANY) != 0) {
      return Error{detail::mapError("update", map_, what, errno)};
    }
    return {};
  }

 private:
  const bpf_map* map_;
};

}  // namespace lb4
