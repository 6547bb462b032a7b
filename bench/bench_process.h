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
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/common/process.h"

namespace lb4::bench {

inline pid_t spawn(const std::vector<std::string>& argv, const std::string& logPath) {
  return test::spawnProcess(argv, logPath, "", O_APPEND);
}

// Waits for pid up to `limit`, then kills it; returns the exit code (-1 on timeout).
inline int waitFor(pid_t pid, std::chrono::milliseconds limit) {
  // Looked at often: the update-latency benchmark times lb4ctl runs.
  if (auto code = test::waitExit(pid, limit, std::chrono::microseconds(200))) {
    return *code;
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
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
    test::endProcess(pid_, std::chrono::seconds(3));
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// One benchmark's lb4d: names derived from a tag and the pid (namespaces,
// pin root, work directory with the socket, state file and log), lb4d
// started in a namespace with nsenter (which, unlike `ip netns exec`, keeps
// the host's /sys/fs/bpf visible), lb4ctl against it, and removal of the
// pins and files.
class Lb4Daemon {
 public:
  Lb4Daemon(const std::string& tag, std::string buildDir)
      : buildDir_(std::move(buildDir)),
        prefix_(tag + std::to_string(getpid() % 100000)),
        work_(std::filesystem::temp_directory_path() / prefix_),
        pinRoot_("/sys/fs/bpf/" + prefix_),
        socket_((work_ / "lb4d.sock").string()),
        log_((work_ / "run.log").string()) {}

  const std::string& prefix() const { return prefix_; }
  const std::filesystem::path& work() const { return work_; }
  const std::string& pinRoot() const { return pinRoot_; }
  const std::string& log() const { return log_; }
  const std::string& socket() const { return socket_; }
  bool running() const { return daemon_.pid() > 0; }

  // An empty work directory.
  void makeWork() const {
    std::error_code ec;
    std::filesystem::remove_all(work_, ec);
    std::filesystem::create_directories(work_);
  }
  // Runs argv (bounded), its output appended to the log; true on exit 0.
  bool sh(const std::vector<std::string>& argv) const { return run(argv, log_) == 0; }
  bool ctl(std::vector<std::string> args,
           std::chrono::milliseconds limit = std::chrono::seconds(20)) const {
    args.insert(args.begin(), {buildDir_ + "/cli/lb4ctl", "--socket", socket_});
    return run(args, log_, limit) == 0;
  }
  // Starts lb4d in namespace `netns` (with `extra` arguments) and waits for its socket.
  bool start(const std::string& netns, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"nsenter",
                                     "--net=/run/netns/" + netns,
                                     buildDir_ + "/userspace/lb4d",
                                     "--socket",
                                     socket_,
                                     "--state-file",
                                     (work_ / "state.json").string(),
                                     "--pin-root",
                                     pinRoot_,
                                     "--log-level",
                                     "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    daemon_ = Background(argv, log_);
    for (int i = 0; i < 250 && !std::filesystem::exists(socket_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!std::filesystem::exists(socket_)) {
      std::fprintf(stderr, "%s: lb4d did not start (log: %s)\n", prefix_.c_str(), log_.c_str());
      return false;
    }
    return true;
  }
  void stop() { daemon_.stop(); }
  // Stops lb4d and removes its pins and the work directory.
  void remove() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(pinRoot_, ec);
    std::filesystem::remove_all(work_, ec);
  }

 private:
  std::string buildDir_;
  std::string prefix_;
  std::filesystem::path work_;
  std::string pinRoot_;
  std::string socket_;
  std::string log_;
  Background daemon_;
};

}  // namespace lb4::bench
