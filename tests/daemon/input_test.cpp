// Strict input and a single owner (issue 12, items 8 to 11): a second lb4d
// on the same state file or pin root, settings that cannot work, input that
// must be refused by lb4ctl and lb4d alike, and lb4ctl's messages. Each
// refusal is one line on stderr, a non-zero exit, and no change.
#include <fmt/ranges.h>

#include <algorithm>
#include <tuple>

#include "daemon_fixture.h"

namespace lb4::test {
namespace {

class InputTest : public DaemonTest {
 protected:
  void TearDown() override {
    DaemonTest::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(pinRoot_ + "-other", ec);
  }

  // lb4d in a fresh network namespace holding one veth pair (va, vb); both
  // go with it. `wrapper` runs lb4d (e.g. to drop a capability); "" for none.
  void startInVethNamespace(const std::string& wrapper) {
    std::vector<std::string> argv = {
        "unshare",
        "--net",
        "sh",
        "-c",
        "ip link add va type veth peer name vb && ip link set va up && ip link set vb up && "
        "exec " +
            wrapper + " \"$0\" \"$@\"",
        buildPath("userspace/lb4d"),
        "--socket",
        socket_,
        "--state-file",
        state_,
        "--pin-root",
        pinRoot_,
        "--log-level",
        "info"};
    daemon_ = Process(argv, (work_ / "lb4d.log").string());
    for (int i = 0; i < 500 && !std::filesystem::exists(socket_) && daemon_.running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // lb4d with these paths (as root in a network namespace of its own).
  std::vector<std::string> lb4dArgv(const std::string& socket, const std::string& state,
                                    const std::string& pinRoot,
                                    const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv;
    if (isRoot()) {
      argv = {"unshare", "--net"};
    }
    for (const auto& a : {buildPath("userspace/lb4d"), std::string("--socket"), socket,
                          std::string("--state-file"), state, std::string("--pin-root"), pinRoot,
                          std::string("--metrics-listen"), std::string("")}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  // Runs an lb4d expected to refuse to start: its exit code (-1 if it was
  // still running after 10 s, then stopped) and its output.
  std::pair<int, std::string> refusedStart(const std::vector<std::string>& argv) {
    std::string log = (work_ / "second.log").string();
    int code;
    {
      Process second(argv, log);
      code = second.wait(std::chrono::seconds(10));
    }
    std::ifstream in(log);
    return {code, std::string(std::istreambuf_iterator<char>(in), {})};
  }

  static size_t lines(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }
};

// Item 8: the second lb4d on a state file or pin root in use refuses to
// start with one clear line and changes nothing; the first keeps serving.
TEST_F(InputTest, SecondDaemonOnTheSameStateFileOrPinRootRefusesToStart) {
  startDaemon();
  ASSERT_EQ(ctl({"add-vip", "198.18.1.1:80/tcp"}).status, 0);
  std::string stateBefore = runCommand({"cat", state_}).out;
  std::string otherSocket = (work_ / "other.sock").string();

  auto [sameState, stateOut] = refusedStart(lb4dArgv(otherSocket, state_, pinRoot_ + "-other"));
  EXPECT_EQ(sameState, 1) << stateOut;
  EXPECT_NE(stateOut.find("lb4d: state file " + state_ + " is in use by another lb4d (pid"),
            std::string::npos)
      << stateOut;
  EXPECT_EQ(lines(stateOut), 1u) << stateOut;

  auto [samePins, pinOut] =
      refusedStart(lb4dArgv(otherSocket, (work_ / "other.json").string(), pinRoot_));
  EXPECT_EQ(samePins, 1) << pinOut;
  EXPECT_NE(pinOut.find("lb4d: pin root " + pinRoot_ + " is in use by another lb4d (pid"),
            std::string::npos)
      << pinOut;
  EXPECT_EQ(lines(pinOut), 1u) << pinOut;

  EXPECT_FALSE(std::filesystem::exists(otherSocket));
  EXPECT_FALSE(std::filesystem::exists(work_ / "other.json"));
  EXPECT_FALSE(std::filesystem::exists(pinRoot_ + "-other"));
  EXPECT_EQ(runCommand({"cat", state_}).out, stateBefore);
  // The first one still owns its socket and state.
  ASSERT_EQ(
      ctl({"add-backend", "198.18.1.1:80/tcp", "198.18.0.11", "--mac", "02:00:00:00:00:11"}).status,
      0);
  EXPECT_NE(runCommand({"cat", state_}).out, stateBefore);
}

// Item 8: the lock goes with the process; a restart takes it again.
TEST_F(InputTest, RestartedDaemonTakesTheLockAgain) {
  startDaemon();
  daemon_.stop();
  startDaemon();
  EXPECT_EQ(ctl({"status"}).status, 0);
  daemon_.stop(SIGKILL);
  startDaemon();
  EXPECT_EQ(ctl({"status"}).status, 0);
}

// Item 9: a socket path too long for sockaddr_un (from the command line or
// the config) is refused before anything is written, without an abort.
TEST_F(InputTest, SocketPathTooLongIsRefusedBeforeAnythingIsWritten) {
  std::string longSocket = (work_ / std::string(120, 's')).string();
  auto [code, out] = refusedStart(lb4dArgv(longSocket, state_, pinRoot_));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("lb4d: socket path '" + longSocket + "': must be 1 to 107 bytes"),
            std::string::npos)
      << out;
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_FALSE(std::filesystem::exists(state_));

  std::string configPath = (work_ / "lb4.yaml").string();
  std::ofstream(configPath) << "log_level: info\nsocket: " << longSocket << "\n";
  std::vector<std::string> argv = {buildPath("userspace/lb4d"),
                                   "--config",
                                   configPath,
                                   "--state-file",
                                   state_,
                                   "--pin-root",
                                   pinRoot_};
  if (isRoot()) {
    argv.insert(argv.begin(), {"unshare", "--net"});
  }
  std::tie(code, out) = refusedStart(argv);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("lb4d: config " + configPath + ":2: socket: socket path"), std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(state_));
}

// Item 10: an interface in the config that does not exist is named with
// file and line, and a failed start leaves no pinned maps behind.
TEST_F(InputTest, MissingConfigInterfaceNamesFileLineAndLeavesNothingPinned) {
  if (!isRoot()) {
    GTEST_SKIP() << "needs root (lb4d in its own network namespace)";
  }
  std::string configPath = (work_ / "lb4.yaml").string();
  std::ofstream(configPath) << "log_level: info\ninterfaces: [nosuch0]\n";
  auto [code, out] = refusedStart(daemonArgv({"--config", configPath}));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("lb4d: config " + configPath + ":2: interfaces[0]: no interface nosuch0"),
            std::string::npos)
      << out;
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_FALSE(std::filesystem::exists(pinRoot_));
  EXPECT_FALSE(std::filesystem::exists(state_));
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

// Item 10: a key given twice in the config is refused with its line.
TEST_F(InputTest, ConfigKeyGivenTwiceIsRefused) {
  std::string configPath = (work_ / "lb4.yaml").string();
  std::ofstream(configPath) << "vips:\n  - vip: 198.18.1.1:80/tcp\n    mode: nat\n    mode: dr\n";
  auto [code, out] = refusedStart(daemonArgv({"--config", configPath}));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("config " + configPath + ":4: vips[0].mode: given twice"), std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(state_));
}

// Item 10: values lb4ctl and lb4d refuse, each with one line, a non-zero
// exit and the state unchanged.
TEST_F(InputTest, BadValuesAreRefusedByLb4ctlAndChangeNothing) {
  startDaemon();
  const std::string dr = "198.18.1.1:80/tcp";
  const std::string nat = "198.18.1.2:80/tcp";
  const std::string v6 = "[2001:db8::1]:80/tcp";
  ASSERT_EQ(ctl({"add-vip", dr}).status, 0);
  ASSERT_EQ(ctl({"add-vip", nat, "--mode", "nat"}).status, 0);
  ASSERT_EQ(ctl({"add-vip", v6}).status, 0);
  ASSERT_EQ(ctl({"add-backend", dr, "198.18.0.11", "--mac", "02:00:00:00:00:11"}).status, 0);
  std::string stateBefore = runCommand({"cat", state_}).out;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"add-backend", dr, "198.18.0.12", "--mac", "02:00:00:00:00:12", "--weight", ""},
       "weight ''"},
      {{"add-backend", dr, "198.18.0.12", "--mac", "02:00:00:00:00:12", "--weight", "0x10"},
       "weight '0x10'"},
      {{"add-backend", dr, "198.18.0.12", "--mac", "02:00:00:00:00:12", "--weight", "010"},
       "weight '010'"},
      {{"add-backend", dr, "198.18.0.12", "--mac", "02:00:00:00:00:12", "--weight", "+5"},
       "weight '+5'"},
      {{"add-backend", dr, "198.18.0.12", "--mac", "02:00:00:00:00:12", "--weight", " 7"},
       "weight ' 7'"},
      {{"set-weight", dr, "198.18.0.11", ""}, "weight ''"},
      {{"set-weight", dr, "198.18.0.11", "0x10"}, "weight '0x10'"},
      {{"set-weight", dr, "198.18.0.11", "010"}, "weight '010'"},
      {{"set-weight", dr, "198.18.0.11", "+5"}, "weight '+5'"},
      {{"set-weight", dr, "198.18.0.11", " 7"}, "weight ' 7'"},
      {{"add-backend", dr, "198.18.0.12", "--mac", ""}, "parse MAC ''"},
      {{"add-backend", dr, "198.18.0.12", "--mac", "ff:ff:ff:ff:ff:ff"}, "broadcast"},
      {{"add-backend", dr, "198.18.0.12", "--mac", "00:00:00:00:00:00"}, "all-zero"},
      {{"add-backend", dr, "198.18.0.12", "--mac", "01:00:5e:00:00:01"}, "multicast"},
      {{"add-backend", nat, "198.18.0.12", "--mac", "02:00:00:00:00:12"}, "dr backends only"},
      {{"add-vip", "0.0.0.0:80/tcp"}, "unspecified"},
      {{"add-vip", "255.255.255.255:80/tcp"}, "broadcast"},
      {{"add-vip", "224.0.0.1:80/tcp"}, "multicast"},
      {{"add-vip", "127.0.0.1:80/tcp"}, "loopback"},
      {{"add-vip", "[::]:80/tcp"}, "unspecified"},
      {{"add-vip", "[::ffff:198.18.1.9]:80/tcp"}, "IPv4-mapped"},
      {{"add-backend", dr, "198.18.1.1", "--mac", "02:00:00:00:00:12"}, "the VIP's own address"},
      {{"add-backend", dr, "0.0.0.0", "--mac", "02:00:00:00:00:12"}, "unspecified"},
      {{"add-backend", dr, "255.255.255.255", "--mac", "02:00:00:00:00:12"}, "broadcast"},
      {{"add-backend", dr, "127.0.0.1", "--mac", "02:00:00:00:00:12"}, "loopback"},
      {{"add-backend", v6, "::ffff:198.18.0.12", "--mac", "02:00:00:00:00:12"}, "IPv4-mapped"},
  };
  for (const auto& [args, why] : cases) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(args, " ")));
    auto r = ctl(args);
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_EQ(r.err.rfind("lb4ctl: ", 0), 0u) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
  }
  EXPECT_EQ(runCommand({"cat", state_}).out, stateBefore);
}

// Item 11: lb4ctl's messages say what is wrong and nothing unrelated.
TEST_F(InputTest, Lb4ctlMessagesNameTheActualProblem) {
  startDaemon();
  auto r = ctl({"lsit"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "lb4ctl: unknown command 'lsit' (did you mean 'list'?)\n");
  r = ctl({"--json", "add-bakend", "198.18.1.1:80/tcp", "198.18.0.1"});
  EXPECT_EQ(r.err, "lb4ctl: unknown command 'add-bakend' (did you mean 'add-backend'?)\n");
  r = ctl({});
  EXPECT_NE(r.err.find("A subcommand is required"), std::string::npos) << r.err;

  r = ctl({"add-vip", "198.18.1.300:80/tcp"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not a valid"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--all-ports"), std::string::npos) << r.err;
  r = ctl({"add-vip", "198.18.1.1:80/sctp"});
  EXPECT_EQ(r.err.find("--all-ports"), std::string::npos) << r.err;
  r = ctl({"add-vip", "198.18.1.1/tcp"});  // the hint where it helps
  EXPECT_NE(r.err.find("--all-ports"), std::string::npos) << r.err;

  r = ctl({"add-vip", "2001:db8::1:80/tcp"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("an IPv6 VIP takes its port after brackets, e.g. [2001:db8::1]:80/tcp"),
            std::string::npos)
      << r.err;

  r = ctl({"stats", "--watch", "1", "--count", "-1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--count"), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 120u) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
}

// Item 11: a DR backend whose MAC does not resolve within --wait-ms is
// added, reported as pending, and exits 3 (not 0).
TEST_F(InputTest, UnresolvedDrBackendIsReportedPendingWithItsOwnExitCode) {
  startDaemon();
  const std::string dr = "198.18.1.1:80/tcp";
  ASSERT_EQ(ctl({"add-vip", dr}).status, 0);
  auto r = ctl({"add-backend", dr, "198.18.0.77", "--wait-ms", "100"});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("added, pending: its MAC was not resolved within 100 ms"), std::string::npos)
      << r.out;
  r = ctl({"--json", "add-backend", dr, "198.18.0.78", "--wait-ms", "0"});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(j.value("pending", false), true) << r.out;
  auto list = listJson();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["backends"].size(), 2u);  // added all the same
  // With a MAC the backend serves at once: exit 0.
  EXPECT_EQ(ctl({"add-backend", dr, "198.18.0.79", "--mac", "02:00:00:00:00:79"}).status, 0);
  r = ctl({"add-backend", dr, "198.18.0.80", "--wait-ms", "60001"});
  EXPECT_EQ(r.status, 2) << r.err;
}

// Item 12: where the kernel refuses libxdp's dispatcher, attaching logs one
// clear line about the single-program fallback, not libbpf's four warnings
// ("permission error while running as root; try raising 'ulimit -l'").
TEST_F(InputTest, DispatcherFallbackIsOneLineNotLibraryWarnings) {
  if (!isRoot()) {
    GTEST_SKIP() << "needs root (XDP on a veth in lb4d's own network namespace)";
  }
  startInVethNamespace("");
  ASSERT_TRUE(std::filesystem::exists(socket_)) << "lb4d did not create its socket";
  auto r = ctl({"attach", "va", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto reply = nlohmann::json::parse(r.out, nullptr, false);
  std::string method = reply.value("method", "");
  std::ifstream in(work_ / "lb4d.log");
  std::vector<std::string> logLines;
  for (std::string line; std::getline(in, line);) {
    logLines.push_back(line);
  }
  size_t libraryWarnings = 0;
  size_t fallbackLines = 0;
  for (const auto& line : logLines) {
    if (line.find(" warning ") != std::string::npos &&
        (line.find("libbpf") != std::string::npos || line.find("libxdp") != std::string::npos)) {
      ++libraryWarnings;
    }
    if (line.find("ulimit") != std::string::npos) {
      ++libraryWarnings;
    }
    if (line.find("attached lb4_xdp to va (native mode, single program): libxdp's multiprog "
                  "dispatcher is not available on this kernel") != std::string::npos) {
      ++fallbackLines;
    }
  }
  std::string log = fmt::format("{}", fmt::join(logLines, "\n"));
  EXPECT_EQ(libraryWarnings, 0u) << log;
  if (method == "single program") {
    EXPECT_EQ(fallbackLines, 1u) << log;
  } else {
    EXPECT_EQ(method, "dispatcher") << r.out;
    EXPECT_EQ(fallbackLines, 0u) << log;
  }
}

TEST_F(InputTest, AttachWithoutSysAdminIsRefusedNotACrash) {
  if (!isRoot()) {
    GTEST_SKIP() << "needs root (XDP on a veth in lb4d's own network namespace)";
  }
  // lb4d without CAP_SYS_ADMIN in its bounding set: libxdp would crash in
  // attach, so lb4d must refuse with one line and keep serving.
  startInVethNamespace("setpriv --bounding-set -sys_admin --");
  ASSERT_TRUE(std::filesystem::exists(socket_)) << "lb4d did not create its socket";
  auto r = ctl({"attach", "va"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("lacks CAP_SYS_ADMIN"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  ASSERT_TRUE(daemon_.running()) << "lb4d died on attach";
  auto status = ctl({"status", "--json"});
  ASSERT_EQ(status.status, 0) << status.err;
  EXPECT_TRUE(nlohmann::json::parse(status.out)["interfaces"].empty()) << status.out;
}

}  // namespace

}  // namespace lb4::test
