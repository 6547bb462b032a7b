// FileLock: an exclusive flock(2) on a lock file, held for the owner's
// lifetime (and released by the kernel when the process dies, even by
// SIGKILL; a killed owner leaves the file, which the next one reuses).
// lb4d takes one beside its state file and one for its pin root,
// so a second lb4d on either refuses to start instead of taking over.
#pragma once

#include <string>

#include "userspace/common/result.h"
#include "userspace/common/unique_fd.h"

namespace lb4 {

class FileLock {
 public:
  // Creates `path` (and its directory) if needed and locks it without
  // waiting; writes this process's pid into it. When another process holds
  // it: "<what> is in use by another lb4d (pid N, lock <path>)". A refused
  // lock changes nothing in the file.
  static Result<FileLock> acquire(const std::string& path, const std::string& what);
  const std::string& path() const { return path_; }

  FileLock() = default;
  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;
  // Removes the lock file, then unlocks. (acquire() checks that the file it
  // locked is still the one at the path, so removing it is safe.)
  ~FileLock();

 private:
  UniqueFd fd_;
  std::string path_;
};

// The lock file of a bpffs pin root. bpffs holds no regular files, so the
// lock lives in /run/lock (or the temp directory where that is missing),
// named after the pin root's path.
std::string pinRootLockPath(const std::string& pinRoot);

}  // namespace lb4
