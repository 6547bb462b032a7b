#include "userspace/common/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lb4 {

Result<FileLock> FileLock::acquire(const std::string& path, const std::string& what) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  // An owner that exits removes the file: whoever locked the removed file
  // meanwhile holds nothing, so it tries again on the new one.
  for (int attempt = 0; attempt < 5; ++attempt) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) {
      return makeError("lock {} ({}): {}", what, path, std::strerror(errno));
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      if (err != EWOULDBLOCK) {
        return makeError("lock {} ({}): {}", what, path, std::strerror(err));
      }
      char buf[32] = {};
      ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
      std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
        pid.pop_back();
      }
      return makeError("{} is in use by another lb4d (pid {}, lock {}); stop that one first", what,
                       pid.empty() ? "unknown" : pid, path);
    }
    struct stat locked {};
    struct stat current {};
    if (::fstat(fd.get(), &locked) != 0 || ::stat(path.c_str(), &current) != 0 ||
        locked.st_ino != current.st_ino || locked.st_dev != current.st_dev) {
      continue;
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) != 0 ||
        ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      return makeError("lock {} ({}): write pid: {}", what, path, std::strerror(errno));
    }
    FileLock lock;
    lock.fd_ = std::move(fd);
    lock.path_ = path;
    return lock;
  }
  return makeError("lock {} ({}): the lock file keeps being replaced", what, path);
}

FileLock::~FileLock() {
  if (fd_) {
    ::unlink(path_.c_str());
  }
}

std::string pinRootLockPath(const std::string& pinRoot) {
  std::error_code ec;
  std::string dir = std::filesystem::is_directory("/run/lock", ec)
                        ? std::string("/run/lock")
                        : std::filesystem::temp_directory_path(ec).string();
  std::string canonical = std::filesystem::weakly_canonical(pinRoot, ec).string();
  if (ec || canonical.empty()) {
    canonical = pinRoot;
  }
  // '/' and '%' escaped, so that different paths never share a name.
  std::string name;
  for (char c : canonical) {
    name += c == '/' ? "%2f" : c == '%' ? "%25" : std::string(1, c);
  }
  return dir + "/lb4-pins" + name + ".lock";
}

}  // namespace lb4
