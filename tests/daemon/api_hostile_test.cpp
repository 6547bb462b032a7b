// Hostile clients of lb4d's control socket: malformed and oversized
// requests, wrong types, unknown fields, a client that stalls half-way,
// 100 clients updating at once, a non-root client, and a bad config file.
// Each must get a clear error (or be served), change nothing it should not,
// and never take the daemon down.
#include <atomic>
#include <thread>

#include "daemon_fixture.h"
#include "userspace/api/protocol.h"
#include "userspace/state/state.h"

namespace lb4::test {
namespace {

constexpr const char* kVip = "198.18.1.1:53/udp";

class ApiHostileTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    startDaemon();
  }

  void expectBadRequest(RawClient& c, const std::string& line, const std::string& why) {
    auto reply = c.call(line);
    ASSERT_TRUE(reply.is_object()) << why << ": " << reply.dump();
    EXPECT_EQ(reply.value("ok", true), false) << why;
    EXPECT_EQ(reply.value("v", 0), kApiVersion) << why;
    std::string error = reply.value("error", "");
    EXPECT_FALSE(error.empty()) << why;
    EXPECT_EQ(error.find('\n'), std::string::npos) << why;
  }
};

TEST_F(ApiHostileTest, MalformedRequestsGetClearErrorsAndChangeNothing) {
  ASSERT_EQ(ctl({"add-vip", kVip}).status, 0);
  auto before = listJson();
  std::string deep(20000, '[');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {"{", "not valid JSON"},
      {"", "not valid JSON"},
      {"   ", "not valid JSON"},
      {"null", "expected a JSON object"},
      {"[]", "expected a JSON object"},
      {"\"status\"", "expected a JSON object"},
      {"42", "expected a JSON object"},
      {deep, "not valid JSON"},
      {"{\"v\":1,\"op\":\"status\"}{\"v\":1}", "not valid JSON"},
      {std::string("{\"v\":1,\"op\":\"st\0atus\"}", 22), "not valid JSON"},
      {"{\"v\":1,\"op\":\"\xff\xfe\"}", "not valid JSON"},
      {R"({"v":"1","op":"status"})", "missing protocol version"},
      {R"({"v":1.0,"op":"status"})", "missing protocol version"},
      {R"({"v":99999999999999999999,"op":"status"})", "protocol version"},
      {R"({"v":-1,"op":"status"})", "not supported"},
      {R"({"v":1,"op":5})", "missing 'op'"},
      {R"({"v":1,"op":["add-vip"]})", "missing 'op'"},
      {R"({"v":1,"op":"ADD-VIP"})", "unknown op"},
      {R"({"v":1,"op":"status","vip":"198.18.1.1:53/udp"})", "does not take field 'vip'"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.2:53/udp","colour":"red"})", "does not take field"},
      {R"({"v":1,"op":"add-vip","vip":["198.18.1.2:53/udp"]})", "must be a string"},
      {R"({"v":1,"op":"add-vip","vip":null})", "must be a string"},
      {R"({"v":1,"op":"add-vip","vip":{"addr":"198.18.1.2"}})", "must be a string"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.2:53/udp","ring_size":-7})", "non-negative"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.2:53/udp","ring_size":13.5})", "non-negative"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.2:53/udp","ring_size":"13"})", "non-negative"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.2:53/udp","ring_size":4294967311})", "too large"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.2:53/udp","mode":true})", "must be a string"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.2:53/udp","all_ports":"yes"})", "true or false"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:53/udp"})", "needs field 'backend'"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:53/udp","backend":"198.18.0.1","weight":true})",
       "non-negative"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:53/udp","backend":"198.18.0.1","mac":"02:00:00:00:00"})",
       "MAC"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:53/udp","backend":"198.18.0.1:99999"})",
       "port"},
      {R"({"v":1,"op":"attach","interface":"a/b"})", "not a valid interface"},
      {R"({"v":1,"op":"attach","interface":"averyveryverylongname0"})", "not a valid interface"},
      {R"({"v":1,"op":"attach","interface":""})", "not a valid interface"},
  };
  RawClient c(socket_);
  ASSERT_TRUE(c.connected());
  for (const auto& [line, why] : cases) {
    SCOPED_TRACE(line.substr(0, 80));
    auto reply = c.call(line);
    ASSERT_TRUE(reply.is_object()) << reply.dump();
    EXPECT_EQ(reply.value("ok", true), false);
    std::string error = reply.value("error", "");
    EXPECT_EQ(error.rfind("bad request: ", 0), 0u) << error;
    EXPECT_NE(error.find(why), std::string::npos) << error;
  }
  // The same connection still works, and nothing changed.
  auto status = c.call(R"({"v":1,"op":"status"})");
  EXPECT_EQ(status.value("ok", false), true) << status.dump();
  EXPECT_EQ(listJson(), before);
}

TEST_F(ApiHostileTest, RequestsRefusedByTheStateChangeNothing) {
  ASSERT_EQ(ctl({"add-vip", kVip}).status, 0);
  ASSERT_EQ(ctl({"add-backend", kVip, "198.18.0.1", "--mac", "02:00:00:00:00:01"}).status, 0);
  auto before = listJson();
  std::string stateBefore = runCommand({"cat", state_}).out;
  RawClient c(socket_);
  const std::vector<std::string> lines = {
      R"({"v":1,"op":"add-vip","vip":"198.18.1.1:53/udp"})",
      R"({"v":1,"op":"del-vip","vip":"198.18.1.9:53/udp"})",
      R"({"v":1,"op":"add-backend","vip":"198.18.1.1:53/udp","backend":"198.18.0.1"})",
      R"({"v":1,"op":"add-backend","vip":"198.18.1.1:53/udp","backend":"2001:db8::1"})",
      R"({"v":1,"op":"add-backend","vip":"198.18.1.9:53/udp","backend":"198.18.0.2"})",
      R"({"v":1,"op":"add-backend","vip":"198.18.1.1:53/udp","backend":"198.18.0.2:54"})",
      R"({"v":1,"op":"del-backend","vip":"198.18.1.1:53/udp","backend":"198.18.0.9"})",
      R"({"v":1,"op":"set-weight","vip":"198.18.1.1:53/udp","backend":"198.18.0.9","weight":1})",
      R"({"v":1,"op":"set-weight","vip":"198.18.1.1:53/udp","backend":"198.18.0.1","weight":65536})",
      R"({"v":1,"op":"detach","interface":"nosuch0"})",
      R"({"v":1,"op":"list","vip":"198.18.1.9:53/udp"})",
  };
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    expectBadRequest(c, line, line);
  }
  EXPECT_EQ(listJson(), before);
  EXPECT_EQ(runCommand({"cat", state_}).out, stateBefore);
}

TEST_F(ApiHostileTest, OversizedRequestIsRefusedAndTheConnectionClosed) {
  // Exactly the limit is accepted (a request padded with spaces).
  {
    std::string line = R"({"v":1,"op":"status"})";
    line.insert(line.size() - 1, std::string(kMaxRequestBytes - line.size(), ' '));
    ASSERT_EQ(line.size(), kMaxRequestBytes);
    RawClient c(socket_);
    auto reply = c.call(line);
    EXPECT_EQ(reply.value("ok", false), true) << reply.dump().substr(0, 200);
  }
  // One byte more is refused with a clear error, then the connection closes.
  {
    RawClient c(socket_);
    std::string line = R"({"v":1,"op":"status"})";
    line.insert(line.size() - 1, std::string(kMaxRequestBytes + 1 - line.size(), ' '));
    ASSERT_TRUE(c.send(line + "\n"));
    auto reply = c.readLine();
    ASSERT_TRUE(reply.has_value());
    auto j = nlohmann::json::parse(*reply, nullptr, false);
    EXPECT_EQ(j.value("ok", true), false);
    EXPECT_NE(j.value("error", "").find("longer than 1048576 bytes"), std::string::npos) << *reply;
    EXPECT_TRUE(c.closedByPeer());
  }
  // A client streaming megabytes without a newline is cut off at the limit.
  {
    RawClient c(socket_);
    std::string chunk(64 * 1024, 'x');
    int sent = 0;
    for (; sent < 160 && c.send(chunk); ++sent) {
    }
    EXPECT_LT(sent, 160) << "the daemon kept reading 10 MiB without a newline";
  }
  RawClient after(socket_);
  EXPECT_EQ(after.call(R"({"v":1,"op":"status"})").value("ok", false), true);
}

TEST_F(ApiHostileTest, StalledClientsDoNotBlockOthers) {
  // One client sends half a request and stalls; fifty more connect and say nothing.
  RawClient stalled(socket_);
  ASSERT_TRUE(stalled.send(R"({"v":1,"op":"add-vip","vip":"198.18.1.)"));
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(std::make_unique<RawClient>(socket_));
    ASSERT_TRUE(idle.back()->connected());
  }
  for (int i = 0; i < 20; ++i) {
    auto r = ctl({"add-vip", fmt::format("198.18.1.{}:53/udp", 100 + i)});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  EXPECT_EQ(listJson().size(), 20u);
  // The stalled client finishes its request and is served too.
  ASSERT_TRUE(stalled.send("7:53/udp\"}\n"));
  auto reply = stalled.readLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(nlohmann::json::parse(*reply).value("ok", false), true) << *reply;
  EXPECT_EQ(listJson().size(), 21u);
}

TEST_F(ApiHostileTest, HundredConcurrentClientsLoseNoAcknowledgedUpdate) {
  ASSERT_EQ(ctl({"add-vip", kVip}).status, 0);
  constexpr int kClients = 100;
  constexpr int kUpdates = 4;  // per client: add, then three weight changes
  std::vector<int> acked(kClients, 0);
  std::vector<uint32_t> lastWeight(kClients, 0);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      RawClient c(socket_);
      std::string backend = fmt::format("198.18.{}.{}", 10 + i / 200, 1 + i % 200);
      for (int u = 0; u < kUpdates; ++u) {
        uint32_t weight = static_cast<uint32_t>(1 + i * 10 + u);
        std::string line =
            u == 0
                ? fmt::format(
                      R"({{"v":1,"op":"add-backend","vip":"{}","backend":"{}","weight":{},"mac":"02:00:00:00:{:02x}:{:02x}"}})",
                      kVip, backend, weight, i / 256, i % 256)
                : fmt::format(
                      R"({{"v":1,"op":"set-weight","vip":"{}","backend":"{}","weight":{}}})", kVip,
                      backend, weight);
        // Up to 100 clients are queued ahead of this one: the bound is
        // generous so a loaded machine does not turn a slow reply into a loss.
        auto reply = c.call(line, 60000);
        if (!reply.is_object() || !reply.value("ok", false)) {
          ++errors;
          return;
        }
        ++acked[i];
        lastWeight[i] = weight;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(errors, 0);
  // Every acknowledged update is in the daemon's view and in the state file.
  auto list = listJson();
  ASSERT_EQ(list.size(), 1u);
  std::map<std::string, uint32_t> weights;
  for (const auto& b : list[0]["backends"]) {
    weights[b["address"].get<std::string>()] = b["weight"].get<uint32_t>();
  }
  auto state = loadState(state_);
  ASSERT_TRUE(state.ok()) << state.error();
  ASSERT_EQ(state->vips.size(), 1u);
  for (int i = 0; i < kClients; ++i) {
    std::string backend = fmt::format("198.18.{}.{}", 10 + i / 200, 1 + i % 200);
    EXPECT_EQ(acked[i], kUpdates) << backend;
    EXPECT_EQ(weights[backend], lastWeight[i]) << backend;
    const BackendConfig* b = state->vips[0].findBackend(*IpAddress::parse(backend));
    ASSERT_NE(b, nullptr) << backend;
    EXPECT_EQ(b->weight, lastWeight[i]) << backend;
  }
  EXPECT_EQ(state->vips[0].backends.size(), static_cast<size_t>(kClients));
}

TEST_F(ApiHostileTest, SocketIsRootOnlyAndNonRootLb4ctlGetsAPermissionError) {
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  if (!isRoot()) {
    GTEST_SKIP() << "needs root to run lb4ctl as another user";
  }
  // nobody must be able to start lb4ctl at all: a build tree (or a root
  // directory) others cannot traverse makes that fail before the socket.
  auto probe = runCommand({"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           buildPath("cli/lb4ctl"), "--help"});
  if (probe.status != 0) {
    GTEST_SKIP() << "user nobody cannot run " << buildPath("cli/lb4ctl")
                 << " here (a directory on its path or its libraries' is closed to others): "
                 << probe.err;
  }
  auto r = runCommand({"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                       buildPath("cli/lb4ctl"), "--socket", socket_, "status"});
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("root"), std::string::npos) << r.err;
  auto ok = ctl({"status"});
  EXPECT_EQ(ok.status, 0) << ok.err;
}

// Table limits through the daemon: the state file holds a full table, one
// more is refused with a clear message and the state file is unchanged.
class TableLimitTest : public DaemonTest {
 protected:
  void startWith(const DesiredState& state) {
    ASSERT_TRUE(saveState(state, state_).ok());
    startDaemon();
  }
};

TEST_F(TableLimitTest, FullVipTableIsAClearApiError) {
  DesiredState state;
  for (uint32_t i = 0; i < LB4_MAX_VIPS; ++i) {
    auto key = ServiceKey::parse(fmt::format("198.18.{}.{}:53/udp", 100 + i / 250, 1 + i % 250));
    ASSERT_TRUE(state.addVip(*key, ForwardingMode::kDr, 13).ok());
  }
  startWith(state);
  std::string before = runCommand({"cat", state_}).out;
  auto r = ctl({"add-vip", "198.18.120.1:53/udp", "--ring-size", "13"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("the VIP table is full (1024 VIPs)"), std::string::npos) << r.err;
  EXPECT_EQ(runCommand({"cat", state_}).out, before);
  // Room again after a delete.
  ASSERT_EQ(ctl({"del-vip", "198.18.100.1:53/udp"}).status, 0);
  auto again = ctl({"add-vip", "198.18.120.1:53/udp", "--ring-size", "13"});
  EXPECT_EQ(again.status, 0) << again.err;
}

TEST_F(TableLimitTest, FullBackendTableIsAClearApiError) {
  DesiredState state;
  auto vip = ServiceKey::parse(kVip);
  ASSERT_TRUE(state.addVip(*vip, ForwardingMode::kDr, 13).ok());
  for (uint32_t i = 1; i < LB4_MAX_BACKENDS; ++i) {
    auto ep = Endpoint::parse(fmt::format("198.18.{}.{}", 10 + i / 250, 1 + i % 250));
    MacAddress mac = {0x02, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    ASSERT_TRUE(state.addBackend(*vip, *ep, 1, mac).ok()) << i;
  }
  startWith(state);
  std::string before = runCommand({"cat", state_}).out;
  auto r = ctl({"add-backend", kVip, "198.18.100.1", "--mac", "02:00:00:00:ff:ff"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("the backend table is full (4095 backends)"), std::string::npos) << r.err;
  EXPECT_EQ(runCommand({"cat", state_}).out, before);
}

// A config file with an error: lb4d names file, line and field and stops
// before anything is created (no socket, no state file).
TEST_F(DaemonTest, BadConfigIsRefusedBeforeAnythingIsApplied) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n  - vip: 198.18.1.1:80/tcp\n",
       ":3: vips[1]: add VIP 198.18.1.1:80/tcp: already exists"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    mode: teleport\n", ":3: vips[0].mode"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 198.18.0.1\n"
       "        weight: 65536\n",
       ":5: vips[0].backends[0].weight: weight 65536 out of range"},
      {"vips:\n  - vip: 198.18.1.1:80/tcp\n    backends:\n      - address: 2001:db8::1\n",
       ":4: vips[0].backends[0]: add backend"},
      {"socket: /tmp/x.sock\nsockett: /tmp/y.sock\n", ":2: sockett: unknown field"},
  };
  std::string configPath = (work_ / "lb4.yaml").string();
  for (const auto& [text, expect] : cases) {
    SCOPED_TRACE(text);
    std::ofstream(configPath) << text;
    auto argv = daemonArgv({"--config", configPath});
    auto r = runCommand(argv);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("config " + configPath + expect), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(socket_));
    EXPECT_FALSE(std::filesystem::exists(state_));
  }
}

}  // namespace
}  // namespace lb4::test
