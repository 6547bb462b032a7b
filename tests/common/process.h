// Spawning and reaping child processes, defined once for the tests and the
// benchmarks: start argv with its output in files, wait for it (bounded or
// not), and end it by its pid (SIGTERM, then SIGKILL).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace lb4::test {

// Starts argv (looked up in PATH) with stdin on /dev/null, stdout on
// outPath and stderr on errPath (empty: with stdout), both opened with
// `openFlags` (O_TRUNC or O_APPEND). Returns the pid, or -1.
inline pid_t spawnProcess(const std::vector<std::string>& argv, const std::string& outPath,
                          const std::string& errPath = "", int openFlags = O_TRUNC) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, outPath.c_str(), O_WRONLY | O_CREAT | openFlags,
                                   0600);
  if (errPath.empty()) {
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, errPath.c_str(), O_WRONLY | O_CREAT | openFlags,
                                     0600);
  }
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

// The exit code of a wait status (128 + the signal for a killed process).
inline int exitCode(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reaps pid once it exits, waiting at most `limit` (forever if unset) and
// looking every `poll`; nullopt if it is still running then (it is left
// running).
inline std::optional<int> waitExit(pid_t pid,
                                   std::optional<std::chrono::milliseconds> limit = std::nullopt,
                                   std::chrono::microseconds poll = std::chrono::milliseconds(5)) {
  int status = 0;
  if (!limit) {
    return waitpid(pid, &status, 0) == pid ? std::optional<int>(exitCode(status)) : std::nullopt;
  }
  auto deadline = std::chrono::steady_clock::now() + *limit;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return exitCode(status);
    }
    if (r < 0 || std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(poll);
  }
}

// Sends `sig`, waits up to `grace` for pid to exit, then SIGKILLs it; reaps it.
inline void endProcess(pid_t pid, std::chrono::milliseconds grace, int sig = SIGTERM) {
  if (pid <= 0) {
    return;
  }
  ::kill(pid, sig);
  if (!waitExit(pid, grace)) {
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

}  // namespace lb4::test
