// Fixture of the daemon tests: lb4d with no interface attached (so no BPF
// and, as root, in a network namespace of its own: nothing it does can
// leave the test), its own socket, state file and pin root in a private
// directory, and a raw control-socket client for sending what lb4ctl never
// would. TearDown checks the daemon is still alive (no crash), stops it and
// removes everything; on failure it prints the daemon's log.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "netns/netns_fixture.h"
#include "userspace/common/unique_fd.h"

namespace lb4::test {

// One connection to the control socket.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), std::min(path.size(), sizeof(addr.sun_path) - 1));
    connected_ = fd_ && ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // One reply line (without '\n'), or nullopt on EOF, error or timeout.
  std::optional<std::string> readLine(int timeoutMs = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (true) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{.fd = fd_.get(), .events = POLLIN, .revents = 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return std::nullopt;
      }
      char buf[4096];
      ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
      if (n <= 0) {
        return std::nullopt;
      }
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  // True when the daemon closed the connection (EOF within the timeout).
  bool closedByPeer(int timeoutMs = 5000) {
    pollfd p{.fd = fd_.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, timeoutMs) <= 0) {
      return false;
    }
    char c;
    return ::recv(fd_.get(), &c, 1, MSG_DONTWAIT) <= 0;
  }

  // Sends one request line and parses the reply.
  // `timeoutMs` bounds the wait for the reply; a client queued behind many
  // others (each update is persisted before it is acknowledged) needs more.
  nlohmann::json call(const std::string& line, int timeoutMs = 5000) {
    if (!send(line + "\n")) {
      return nullptr;
    }
    auto reply = readLine(timeoutMs);
    if (!reply) {
      return nullptr;
    }
    auto j = nlohmann::json::parse(*reply, nullptr, false);
    return j.is_discarded() ? nlohmann::json("unparseable: " + *reply) : j;
  }

 private:
  UniqueFd fd_;
  bool connected_ = false;
  std::string buffer_;
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    work_ = std::filesystem::temp_directory_path() /
            ("lb4d-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(work_);
    std::filesystem::create_directories(work_);
    std::filesystem::permissions(work_, std::filesystem::perms(0755));
    socket_ = (work_ / "lb4d.sock").string();
    state_ = (work_ / "state.json").string();
    pinRoot_ = "/sys/fs/bpf/lb4d-" + std::to_string(::getpid()) + "-" + name;
  }

  void TearDown() override {
    if (daemon_.pid() > 0) {
      EXPECT_TRUE(daemonAlive()) << "lb4d died during the test";
    }
    daemon_.stop();
    if (HasFailure()) {
      std::ifstream log(work_ / "lb4d.log");
      std::cerr << "---- lb4d log ----\n" << std::string(std::istreambuf_iterator<char>(log), {});
    }
    std::error_code ec;
    std::filesystem::remove_all(work_, ec);
    std::filesystem::remove_all(pinRoot_, ec);
    std::filesystem::remove(pinRootLockPath(pinRoot_), ec);  // left by a killed lb4d
  }

  static bool isRoot() { return ::geteuid() == 0; }

  // Still running (not exited, not killed); leaves an exited child waitable.
  bool daemonAlive() const {
    siginfo_t info{};
    return daemon_.pid() > 0 &&
           ::waitid(P_PID, static_cast<id_t>(daemon_.pid()), &info, WEXITED | WNOHANG | WNOWAIT) ==
               0 &&
           info.si_pid == 0;
  }

  // lb4d's command line; as root inside a fresh network namespace.
  std::vector<std::string> daemonArgv(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv;
    if (isRoot()) {
      argv = {"unshare", "--net"};
    }
    for (const auto& a : {buildPath("userspace/lb4d"), std::string("--socket"), socket_,
                          std::string("--state-file"), state_, std::string("--pin-root"), pinRoot_,
                          std::string("--log-level"), std::string("info")}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    // No metrics endpoint unless a test asks for one.
    if (std::find(extra.begin(), extra.end(), "--metrics-listen") == extra.end()) {
      argv.insert(argv.end(), {"--metrics-listen", ""});
    }
    return argv;
  }

  void startDaemon(const std::vector<std::string>& extra = {}) {
    std::filesystem::remove(socket_);
    daemon_ = Process(daemonArgv(extra), (work_ / "lb4d.log").string());
    for (int i = 0; i < 500 && !std::filesystem::exists(socket_) && daemon_.running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(std::filesystem::exists(socket_)) << "lb4d did not create its socket";
  }

  CommandResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {buildPath("cli/lb4ctl"), "--socket", socket_});
    return runCommand(args);
  }

  nlohmann::json listJson() {
    auto r = ctl({"list", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j;
  }

  std::filesystem::path work_;
  std::string socket_;
  std::string state_;
  std::string pinRoot_;
  Process daemon_;
};

}  // namespace lb4::test
