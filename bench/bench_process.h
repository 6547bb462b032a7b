// Child processes for the benchmark runners: run a command to completion
// (bounded) or keep one in the background and end it, by its pid only, when
// the owner goes away.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace lb4::bench {

inline pid_t spawn(const std::vector<std::string>& argv, const std::string& logPath) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Waits for pid up to `limit`, then kills it; returns the exit code (-1 on timeout).
inline int waitFor(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (r < 0 || std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// Runs argv to completion (at most `limit`); output appended to logPath.
inline int run(const std::vector<std::string>& argv, const std::string& logPath = "/dev/null",
               std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  pid_t pid = spawn(argv, logPath);
  return pid < 0 ? -1 : waitFor(pid, limit);
}

// A background process ended (SIGTERM, then SIGKILL) when destroyed.
class Background {
 public:
  Background() = default;
  Background(const std::vector<std::string>& argv, const std::string& logPath)
      : pid_(spawn(argv, logPath)) {}
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  Background(Background&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Background& operator=(Background&& o) noexcept {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    return *this;
  }
  ~Background() { stop(); }
  pid_t pid() const { return pid_; }
  void stop() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    if (waitFor(pid_, std::chrono::seconds(3)) == -1) {
      // waitFor already sent SIGKILL and reaped it.
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace lb4::bench
