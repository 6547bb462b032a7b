// The operator docs, run as written: the shell blocks of docs/quickstart.md
// section 3 (direct routing) and docs/modes.md (NAT) are read from the
// markdown at test time and run in namespaces standing in for the hosts the
// docs talk about; then real connections must be answered.
//
// Convention in the docs: a block that is run here is preceded by the line
// `<!-- test: NAME -->` right before its ```sh fence; all blocks with one
// NAME form one scenario, in document order. Inside a block, a comment line
// `# on the HOST ...` or `# on every HOST ...` says where the lines below it
// run: `gateway`, `client`, `backend` (every backend) or `switch` (the
// namespace holding the bridges the hosts' veths plug into; a bridge port is
// named veth-gw, veth-gw0, veth-gw1, veth-cl or veth-bN after what is at
// its other end). A line ending in `&` runs in the background until the test
// ends. Lines run in a directory where `build` is the build tree, as an
// operator in the source tree after building. The hosts' own addresses are what the docs' examples
// say; this file provides them, the docs provide everything else.
//
// The gateway's lines run in a private mount namespace inside the gateway's
// network namespace, with sysfs remounted for that namespace, a bpffs of its
// own on /sys/fs/bpf and tmpfs on /run/lb4, /var/lib/lb4 and /run/lock, so
// `lb4d` with its default paths touches nothing of the host's. Namespaces,
// processes and that mount namespace (with the pins in it) are removed in
// TearDown, also when a test fails.
#include <fstream>
#include <regex>

#include "tests/netns/netns_fixture.h"

namespace lb4::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct DocLine {
  std::string file;  // relative to the source tree
  int number = 0;    // 1-based line in that file
  std::string host;  // gateway, client, backend or switch
  std::string command;
};

// The lines of every block marked `<!-- test: name -->` in `file`, with the
// host each runs on. Fails the test on a marker without a ```sh block or a
// command before the first `# on ...` line.
std::vector<DocLine> extractBlocks(const std::string& file, const std::string& name) {
  std::ifstream in(sourcePath(file));
  EXPECT_TRUE(in) << "cannot read " << file;
  const std::string marker = "<!-- test: " + name + " -->";
  const std::regex hostLine(R"(^#\s*on (the|every) ([a-z]+)\b.*)");
  std::vector<DocLine> lines;
  std::string text;
  int number = 0;
  int blocks = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text != marker) {
      continue;
    }
    ++blocks;
    if (!std::getline(in, text) || text != "```sh") {
      ADD_FAILURE() << file << ":" << number << ": " << marker << " not followed by ```sh";
      return {};
    }
    ++number;
    std::string host;
    while (std::getline(in, text) && text != "```") {
      ++number;
      std::smatch m;
      if (std::regex_match(text, m, hostLine)) {
        host = m[2];
        continue;
      }
      if (text.empty() || text[0] == '#') {
        continue;
      }
      if (host.empty()) {
        ADD_FAILURE() << file << ":" << number << ": no `# on the HOST` line before: " << text;
        return {};
      }
      lines.push_back({file, number, host, text});
    }
    ++number;
  }
  EXPECT_GT(blocks, 0) << "no block marked " << marker << " in " << file;
  return lines;
}

class DocsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = "lb4doc" + std::to_string(getpid() % 100000);
    work_ = fs::temp_directory_path() / prefix_;
    fs::remove_all(work_);
    fs::create_directories(work_);
    // The docs call lb4d and lb4ctl by name.
    std::string path = buildPath("userspace") + ":" + buildPath("cli") + ":" +
                       (std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin:/bin");
    ::setenv("PATH", path.c_str(), 1);
    // The docs name build outputs as the source tree's `build/...`; the
    // lines run where `build` is this build tree.
    fs::create_directory_symlink(LB4_BUILD_DIR, work_ / "build");
    oldCwd_ = fs::current_path();
    fs::current_path(work_);
  }

  void TearDown() override {
    fs::current_path(oldCwd_);
    background_.clear();  // lb4d first: it detaches and unpins
    servers_.clear();
    gatewayMounts_.stop(SIGKILL);  // the last process of the private mount namespace
    for (const auto& name : namespaces_) {
      runCommand({"sh", "-c", "ip netns pids " + name + " | xargs -r kill -9"});
      runCommand({"ip", "netns", "del", name});
    }
    for (const auto& dir : createdDirs_) {
      std::error_code ec;
      fs::remove(dir, ec);  // only if still empty
    }
    if (HasFailure()) {
      for (const auto& entry : fs::directory_iterator(work_)) {
        if (!entry.is_regular_file()) {
          continue;
        }
        std::ifstream log(entry.path());
        std::cerr << "---- " << entry.path().filename().string() << " ----\n"
                  << std::string(std::istreambuf_iterator<char>(log), {});
      }
    }
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  std::string ns(const std::string& host) const { return prefix_ + "-" + host; }

  void sh(const std::string& command) {
    auto r = runCommand({"sh", "-ec", command});
    ASSERT_EQ(r.status, 0) << command << "\n" << r.out << r.err;
  }

  void addHost(const std::string& host) {
    namespaces_.push_back(ns(host));
    sh("ip netns add " + ns(host) + " && ip -n " + ns(host) + " link set lo up");
  }

  // A veth from `bridge` in the switch (port `port`) into `host` as `ifname`.
  void plug(const std::string& host, const std::string& ifname, const std::string& address,
            const std::string& bridge, const std::string& port) {
    const std::string sw = ns("switch");
    sh("ip -n " + sw + " link add " + port + " type veth peer name " + ifname + " netns " +
       ns(host));
    sh("ip -n " + sw + " link set " + port + " master " + bridge + " up");
    sh("ip -n " + ns(host) + " addr add " + address + " dev " + ifname);
    sh("ip -n " + ns(host) + " link set " + ifname + " up");
  }

  void addSwitch(const std::vector<std::string>& bridges) {
    addHost("switch");
    for (const auto& br : bridges) {
      sh("ip -n " + ns("switch") + " link add " + br + " type bridge && ip -n " + ns("switch") +
         " link set " + br + " up");
    }
  }

  // The gateway's private mount namespace, held open by a sleeping process.
  void startGatewayMounts() {
    for (const char* dir : {"/run/lb4", "/var/lib/lb4"}) {
      if (!fs::exists(dir)) {
        fs::create_directories(dir);
        createdDirs_.push_back(dir);
      }
    }
    const std::string ready = (work_ / "mounts-ready").string();
    gatewayMounts_ = Process({"nsenter", "--net=/run/netns/" + ns("gateway"), "unshare", "-m",
                              "--propagation", "private", "sh", "-ec",
                              "mount -t sysfs sysfs /sys; mount -t bpf bpf /sys/fs/bpf; "
                              "mount -t tmpfs tmpfs /run/lb4; mount -t tmpfs tmpfs /var/lib/lb4; "
                              "mount -t tmpfs tmpfs /run/lock; touch " +
                                  ready + "; exec sleep 600"},
                             (work_ / "mounts.log").string());
    for (int i = 0; i < 100 && !fs::exists(ready); ++i) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(fs::exists(ready)) << "gateway mount namespace not set up";
  }

  // argv that runs `command` with bash on `nsName` (the gateway: in its
  // mount namespace too).
  std::vector<std::string> onHost(const std::string& nsName, const std::string& command) {
    if (nsName == ns("gateway")) {
      // -r -w: the holder's root and directory (entering a mount namespace
      // otherwise resets both to its real root, outside any chroot).
      return {
          "nsenter", "-t",   std::to_string(gatewayMounts_.pid()), "-m", "-n", "-r", "-w", "bash",
          "-c",      command};
    }
    return {"ip", "netns", "exec", nsName, "bash", "-c", command};
  }

  // Runs the docs' lines in order, each on its host (every backend: on each).
  void runDoc(const std::vector<DocLine>& lines, int backends) {
    ASSERT_FALSE(lines.empty());
    for (const auto& line : lines) {
      std::vector<std::string> targets;
      if (line.host == "backend") {
        for (int i = 1; i <= backends; ++i) {
          targets.push_back(ns("backend" + std::to_string(i)));
        }
      } else if (line.host == "gateway" || line.host == "client" || line.host == "switch") {
        targets.push_back(ns(line.host));
      } else {
        FAIL() << line.file << ":" << line.number << ": unknown host `" << line.host << "`";
      }
      const std::string where =
          line.file + ":" + std::to_string(line.number) + " on " + line.host + ": " + line.command;
      std::string command = line.command;
      bool background = command.size() > 1 && command.back() == '&';
      if (background) {
        command.pop_back();
        command.erase(command.find_last_not_of(' ') + 1);
      }
      for (const auto& target : targets) {
        if (background) {
          std::string log =
              (work_ / ("background" + std::to_string(line.number) + ".log")).string();
          background_.emplace_back(onHost(target, command), log);
          waitForDaemon(command);
          ASSERT_TRUE(background_.back().running()) << where << ": exited";
          continue;
        }
        auto argv = onHost(target, command);
        argv.insert(argv.begin(), {"timeout", "20"});
        auto r = runCommand(argv);
        ASSERT_EQ(r.status, 0) << where << " (in " << target << ")\n" << r.out << r.err;
      }
    }
  }

  // An operator starting lb4d waits until it is up; so does the test (at
  // most 5 s for its default control socket).
  void waitForDaemon(const std::string& command) {
    if (command.rfind("lb4d", 0) != 0) {
      return;
    }
    fs::path socket = "/proc/" + std::to_string(gatewayMounts_.pid()) + "/root/run/lb4/lb4d.sock";
    for (int i = 0; i < 250 && !fs::exists(socket); ++i) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(fs::exists(socket)) << "lb4d did not create " << socket;
  }

  // Backend i serves `port` (TCP), greeting with "b<i>".
  void startServer(int i, int port) {
    servers_.emplace_back(
        std::vector<std::string>{"ip", "netns", "exec", ns("backend" + std::to_string(i)),
                                 buildPath("tests/tools/lb4-testnet"), "serve", "--name",
                                 "b" + std::to_string(i), "--port", std::to_string(port), "--bind",
                                 "0.0.0.0"},
        (work_ / ("server" + std::to_string(i) + ".log")).string());
  }

  // `count` connections from the client to `vip`; the tool's JSON.
  nlohmann::json connect(const std::string& vip, int count) {
    auto r = runCommand({"timeout", "120", "ip", "netns", "exec", ns("client"),
                         buildPath("tests/tools/lb4-testnet"), "connect", "--to", vip, "--count",
                         std::to_string(count), "--timeout-ms", "2000"});
    auto json = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << r.out << r.err;
    return json.is_discarded() ? nlohmann::json::object() : json;
  }

  std::string gatewayStats() {
    auto r = runCommand(onHost(ns("gateway"), "lb4ctl stats"));
    return r.out + r.err;
  }

  std::string prefix_;
  fs::path work_;
  fs::path oldCwd_;
  std::vector<std::string> namespaces_;
  std::vector<std::string> createdDirs_;
  Process gatewayMounts_;
  std::vector<Process> servers_;
  std::vector<Process> background_;
};

// docs/quickstart.md section 3: client 198.18.0.1, gateway 198.18.0.2 and
// backends 198.18.0.11/12 on one bridge.
TEST_F(DocsTest, QuickstartDirectRoutingAnswersEveryConnection) {
  auto lines = extractBlocks("docs/quickstart.md", "quickstart-dr");
  ASSERT_FALSE(HasFailure());
  addSwitch({"br0"});
  addHost("client");
  addHost("gateway");
  ASSERT_FALSE(HasFatalFailure());
  plug("client", "eth0", "198.18.0.1/24", "br0", "veth-cl");
  plug("gateway", "eth0", "198.18.0.2/24", "br0", "veth-gw");
  for (int i = 1; i <= 2; ++i) {
    std::string b = "backend" + std::to_string(i);
    addHost(b);
    plug(b, "eth0", "198.18.0.1" + std::to_string(i) + "/24", "br0", "veth-b" + std::to_string(i));
    startServer(i, 80);
  }
  ASSERT_FALSE(HasFatalFailure());
  startGatewayMounts();
  ASSERT_FALSE(HasFatalFailure());
  runDoc(lines, 2);
  ASSERT_FALSE(HasFatalFailure());

  auto result = connect("198.18.1.100:80/tcp", 10);
  EXPECT_EQ(result.value("ok", 0), 10) << result.dump() << "\n" << gatewayStats();
}

// docs/modes.md, "A NAT gateway, step by step": client 198.18.0.1 and the
// gateway's eth0 198.18.0.2 on br0; the gateway's eth1 198.18.2.254 and
// backends 198.18.2.11/12 (port 8080) on br1.
TEST_F(DocsTest, ModesNatAnswersEveryConnection) {
  auto lines = extractBlocks("docs/modes.md", "modes-nat");
  ASSERT_FALSE(HasFailure());
  addSwitch({"br0", "br1"});
  addHost("client");
  addHost("gateway");
  ASSERT_FALSE(HasFatalFailure());
  plug("client", "eth0", "198.18.0.1/24", "br0", "veth-cl");
  plug("gateway", "eth0", "198.18.0.2/24", "br0", "veth-gw0");
  plug("gateway", "eth1", "198.18.2.254/24", "br1", "veth-gw1");
  for (int i = 1; i <= 2; ++i) {
    std::string b = "backend" + std::to_string(i);
    addHost(b);
    plug(b, "eth0", "198.18.2.1" + std::to_string(i) + "/24", "br1", "veth-b" + std::to_string(i));
    startServer(i, 8080);
  }
  ASSERT_FALSE(HasFatalFailure());
  startGatewayMounts();
  ASSERT_FALSE(HasFatalFailure());
  runDoc(lines, 2);
  ASSERT_FALSE(HasFatalFailure());

  auto result = connect("198.18.1.100:80/tcp", 40);
  EXPECT_EQ(result.value("ok", 0), 40) << result.dump() << "\n" << gatewayStats();
}

}  // namespace
}  // namespace lb4::test
