// Fixture of the namespace tests: builds scripts/netns/topology.sh under a
// unique prefix, starts a backend server in each backend namespace and lb4d
// in the gateway namespace, and removes all of it (processes, namespaces,
// pins, files) in TearDown, also when a test fails.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/process.h"
#include "userspace/common/file_lock.h"

namespace lb4::test {

struct CommandResult {
  int status = -1;  // exit code
  std::string out;
  std::string err;
};

// Runs argv to completion, capturing stdout and stderr.
inline CommandResult runCommand(const std::vector<std::string>& argv) {
  namespace fs = std::filesystem;
  static int counter = 0;
  fs::path base = fs::temp_directory_path() /
                  ("lb4-cmd-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::string outPath = base.string() + ".out";
  std::string errPath = base.string() + ".err";
  CommandResult result;
  if (pid_t pid = spawnProcess(argv, outPath, errPath); pid > 0) {
    result.status = waitExit(pid).value_or(-1);
  }
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  result.out = slurp(outPath);
  result.err = slurp(errPath);
  fs::remove(outPath);
  fs::remove(errPath);
  return result;
}

// A background process, killed (SIGKILL after SIGTERM) when destroyed.
class Process {
 public:
  Process() = default;
  Process(std::vector<std::string> argv, const std::string& logPath,
          const std::vector<std::string>& extraArgs = {}) {
    argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
    pid_ = spawnProcess(argv, logPath);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Process& operator=(Process&& o) noexcept {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    return *this;
  }
  ~Process() { stop(); }

  bool running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }
  pid_t pid() const { return pid_; }

  // Waits for the process to exit by itself (bounded); returns its exit code.
  int wait(std::chrono::milliseconds limit) {
    if (pid_ <= 0) {
      return -1;
    }
    if (auto code = waitExit(pid_, limit)) {
      pid_ = -1;
      return *code;
    }
    stop();
    return -1;
  }

  void signal(int sig) {
    if (pid_ > 0) {
      ::kill(pid_, sig);
    }
  }

  void stop(int sig = SIGTERM) {
    endProcess(pid_, std::chrono::seconds(2), sig);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

inline std::string buildPath(const std::string& rel) {
  return std::string(LB4_BUILD_DIR) + "/" + rel;
}
inline std::string sourcePath(const std::string& rel) {
  return std::string(LB4_SOURCE_DIR) + "/" + rel;
}

// What every namespace test with a live lb4d shares: a unique prefix (the
// namespaces, the pin root and a work directory are named after it), lb4d
// in the gateway namespace, lb4ctl, and a teardown that removes all of it
// (processes, namespaces, pins, files), also when a test fails. Subclasses
// name their topology script and start their backends' servers.
class DaemonTopologyTest : public ::testing::Test {
 protected:
  // Creates the work directory and builds `script` (relative to the source
  // tree) with `backends` backends under a prefix starting with `tag`.
  void setUpTopology(const std::string& tag, const std::string& script, int backends) {
    script_ = script;
    prefix_ = tag + std::to_string(getpid() % 100000);
    work_ = std::filesystem::temp_directory_path() / prefix_;
    std::filesystem::remove_all(work_);
    std::filesystem::create_directories(work_);
    socket_ = (work_ / "lb4d.sock").string();
    pinRoot_ = "/sys/fs/bpf/" + prefix_;
    ::setenv("LB4_BUILD_DIR", LB4_BUILD_DIR, 1);
    auto up = runCommand({sourcePath(script_), "up", prefix_, std::to_string(backends)});
    ASSERT_EQ(up.status, 0) << up.out << up.err;
  }

  void TearDown() override {
    daemon_.stop();
    servers_.clear();
    if (!script_.empty()) {
      runCommand({sourcePath(script_), "down", prefix_});
    }
    std::error_code ec;
    if (!pinRoot_.empty()) {
      std::filesystem::remove_all(pinRoot_, ec);
      std::filesystem::remove(pinRootLockPath(pinRoot_), ec);  // left by a killed lb4d
    }
    if (HasFailure()) {
      std::ifstream log(work_ / "lb4d.log");
      std::cerr << "---- lb4d log ----\n" << std::string(std::istreambuf_iterator<char>(log), {});
    }
    if (!work_.empty()) {
      std::filesystem::remove_all(work_, ec);
    }
  }

  std::string ns(const std::string& name) const { return prefix_ + "-" + name; }

  void startDaemon() {
    std::filesystem::remove(socket_);
    std::vector<std::string> config;
    if (!configYaml_.empty()) {
      std::ofstream((work_ / "lb4.yaml").string()) << configYaml_;
      config = {"--config", (work_ / "lb4.yaml").string()};
    }
    // nsenter (not `ip netns exec`) keeps the host's /sys/fs/bpf visible.
    daemon_ = Process({"nsenter", "--net=/run/netns/" + ns("gw"), buildPath("userspace/lb4d"),
                       "--socket", socket_, "--state-file", (work_ / "state.json").string(),
                       "--pin-root", pinRoot_, "--log-level", "debug"},
                      (work_ / "lb4d.log").string(), config);
    for (int i = 0; i < 250 && !std::filesystem::exists(socket_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(std::filesystem::exists(socket_)) << "lb4d did not create its socket";
  }

  CommandResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {buildPath("cli/lb4ctl"), "--socket", socket_});
    return runCommand(args);
  }

  void ctlOk(std::vector<std::string> args) {
    auto r = ctl(args);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }

  // `lb4ctl list --json` without what changes by itself as time passes (a
  // learned MAC's age): what two lists taken seconds apart should share.
  std::string listState() {
    auto r = ctl({"list", "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (r.status != 0 || j.is_discarded()) {
      return "list failed: " + r.err;
    }
    for (auto& vip : j) {
      if (vip.is_object() && vip.contains("backends")) {
        for (auto& b : vip["backends"]) {
          b.erase("mac_age_s");
        }
      }
    }
    return j.dump();
  }

  std::string script_;
  std::string prefix_;
  std::filesystem::path work_;
  std::string socket_;
  std::string pinRoot_;
  std::vector<Process> servers_;
  Process daemon_;
  std::string configYaml_;  // lb4d's --config file, when not empty
};

// Direct routing: scripts/netns/topology.sh, backends b1..b3 on one segment.
class DrTopologyTest : public DaemonTopologyTest {
 protected:
  static constexpr const char* kVip = "198.18.1.100:80/tcp";
  static constexpr int kBackends = 3;

  void SetUp() override {
    setUpTopology("lb4n", "scripts/netns/topology.sh", kBackends);
    if (HasFatalFailure()) {
      return;
    }
    for (int i = 1; i <= kBackends; ++i) {
      servers_.emplace_back();
      startServer(i);
    }
    startDaemon();
  }

  // (Re)starts backend i's server: greets with "b<i>" on port 80 (TCP and
  // UDP) and serves an HTTP health endpoint on port 8080.
  void startServer(int i, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"ip",
                                     "netns",
                                     "exec",
                                     ns("b" + std::to_string(i)),
                                     buildPath("tests/tools/lb4-testnet"),
                                     "serve",
                                     "--name",
                                     "b" + std::to_string(i),
                                     "--port",
                                     "80",
                                     "--bind",
                                     "::",
                                     "--udp",
                                     "--http-port",
                                     "8080"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    servers_[i - 1] = Process(argv, (work_ / ("server" + std::to_string(i) + ".log")).string());
  }

  void configureDr() {
    ctlOk({"attach", "eth0"});
    ctlOk({"add-vip", kVip, "--mode", "dr"});
    for (int i = 1; i <= kBackends; ++i) {
      ctlOk({"add-backend", kVip, "198.18.0.1" + std::to_string(i)});
    }
  }

  // Opens `count` connections from the client namespace; returns the tool's JSON.
  nlohmann::json connect(int count, const std::string& vip = kVip) {
    auto r = runCommand({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"),
                         "connect", "--to", vip, "--count", std::to_string(count), "--timeout-ms",
                         "2000"});
    auto json = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << r.out << r.err;
    return json.is_discarded() ? nlohmann::json::object() : json;
  }
};

}  // namespace lb4::test
