#include "userspace/dataplane/pin_dir.h"

#include <bpf/bpf.h>
#include <linux/magic.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "bpf/lb4_abi.h"
#include "userspace/dataplane/bpf_map.h"

namespace lb4 {
namespace {

constexpr const char* kBpffsRoot = "/sys/fs/bpf";

bool onBpffs(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

bool isPinned(const bpf_map* map) {
  const char* path = bpf_map__pin_path(map);
  return path != nullptr && ::access(path, F_OK) == 0;
}

}  // namespace

Status preparePinDir(const std::string& dir) {
  std::string root = kBpffsRoot;
  bool underRoot = dir == root || dir.starts_with(root + "/");
  if (underRoot && !onBpffs(root)) {
    if (::mount("bpf", kBpffsRoot, "bpf", 0, nullptr) != 0) {
      return makeError("mount bpffs on {}: {}", root, errnoText(errno));
    }
    spdlog::info("mounted a bpffs on {}", root);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return makeError("create pin directory {}: {}", dir, ec.message());
  }
  if (!onBpffs(dir)) {
    return makeError("use pin directory {}: not on a bpffs", dir);
  }
  return {};
}

Status checkPinnedAbi(const std::string& dir) {
  std::string path = dir + "/lb4_config";
  if (::access(path.c_str(), F_OK) != 0) {
    return {};
  }
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd) {
    return makeError("open pinned map {}: {}", path, errnoText(errno));
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len); err != 0) {
    return makeError("inspect pinned map {}: {}", path, errnoText(err));
  }
  if (info.value_size != sizeof(lb4_config)) {
    return makeError(
        "adopt maps in {}: unknown layout (lb4_config value is {} bytes), this build needs "
        "version {}; detach and remove {} first",
        dir, info.value_size, LB4_ABI_VERSION, dir);
  }
  uint32_t key = 0;
  lb4_config cfg{};
  if (bpf_map_lookup_elem(fd.get(), &key, &cfg) != 0) {
    return makeError("read pinned map {}: {}", path, errnoText(errno));
  }
  if (cfg.abi_version != 0 && cfg.abi_version != LB4_ABI_VERSION) {
    return makeError(
        "adopt maps in {}: layout version {}, this build needs {}; detach and remove {} first", dir,
        cfg.abi_version, LB4_ABI_VERSION, dir);
  }
  return {};
}

void disablePinning(bpf_object* obj) {
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj) { bpf_map__set_pin_path(map, nullptr); }
}

bool hasPinnedMaps(const bpf_object* obj) {
  const bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj) {
    if (isPinned(map)) {
      return true;
    }
  }
  return false;
}

uint32_t mapMaxEntries(const UniqueFd& fd) {
  if (!fd) {
    return 0;
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) {
    return 0;
  }
  return info.max_entries;
}

uint32_t pinnedMaxEntries(const char* path) {
  if (path == nullptr || ::access(path, F_OK) != 0) {
    return 0;
  }
  return mapMaxEntries(UniqueFd(bpf_obj_get(path)));
}

Status unpinAll(bpf_object* obj, const std::string& dir) {
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj) {
    if (!isPinned(map)) {
      continue;
    }
    if (int err = bpf_map__unpin(map, nullptr); err != 0) {
      return makeError("unpin map {}: {}", bpf_map__name(map), errnoText(err));
    }
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
    return makeError("remove pin directory {}: {}", dir, errnoText(errno));
  }
  return {};
}

}  // namespace lb4
