// Links under lb4 (direct routing, namespaces): the gateway's interface
// disappears and returns (lb4d reports it missing, starts without it, and
// attaches to it again when a link of that name appears); clients and
// backends on different links of the gateway (scripts/netns/split_topology.sh).
#include "netns_fixture.h"

namespace lb4::test {
namespace {

class LinkTest : public DrTopologyTest {
 protected:
  nlohmann::json status() {
    auto r = ctl({"status", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  // The state `status` gives the interface, "" when it lists none of that name.
  std::string interfaceState(const std::string& ifname) {
    for (const auto& i : status().value("interfaces", nlohmann::json::array())) {
      if (i.value("interface", "") == ifname) {
        return i.value("state", "");
      }
    }
    return "";
  }

  // Polls `status` (up to 5 s) until the interface is in `want`.
  bool waitInterfaceState(const std::string& ifname, const std::string& want) {
    for (int i = 0; i < 100; ++i) {
      if (interfaceState(ifname) == want) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string gatewayMac() {
    auto r = runCommand({"ip", "-n", ns("gw"), "-j", "link", "show", "eth0"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0].value("address", "") : "";
  }

  // Plugs a new veth named eth0 into the gateway again, with the MAC the old
  // one had (a NIC that comes back keeps its address), as topology.sh does.
  void recreateGatewayLink(const std::string& mac) {
    std::string gw = ns("gw"), sw = ns("sw");
    std::string script =
        "set -e\n"
        "ip -n " +
        sw + " link add gw0 type veth peer name eth0 address " + mac + " netns " + gw +
        "\n"
        "ip -n " +
        sw +
        " link set gw0 master br0 up\n"
        "ip -n " +
        sw + " link set dev gw0 xdpdrv obj " + buildPath("bpf/lb4_floor.bpf.o") +
        " sec xdp program xdp_pass\n"
        "ip -n " +
        gw +
        " link set eth0 up\n"
        "ip -n " +
        gw +
        " addr add 198.18.0.2/24 dev eth0\n"
        "ip -n " +
        gw +
        " addr add 2001:db8::2/64 dev eth0 nodad\n"
        "ip netns exec " +
        gw + " ethtool -K eth0 tx off tso off gso off >/dev/null\n";
    auto r = runCommand({"bash", "-c", script});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }
};

TEST_F(LinkTest, InterfaceThatDisappearsIsMissingLb4dStartsWithoutItAndReattaches) {
  configureDr();
  ASSERT_EQ(connect(10).value("ok", 0), 10);
  ASSERT_EQ(interfaceState("eth0"), "attached");
  std::string mac = gatewayMac();
  ASSERT_FALSE(mac.empty());

  auto del = runCommand({"ip", "-n", ns("gw"), "link", "del", "eth0"});
  ASSERT_EQ(del.status, 0) << del.err;
  EXPECT_TRUE(waitInterfaceState("eth0", "missing")) << status().dump();
  auto human = ctl({"status"});
  EXPECT_EQ(human.status, 0) << human.err;
  EXPECT_NE(human.out.find("eth0 is missing"), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find("attached to eth0"), std::string::npos) << human.out;

  // A restart with the state file still listing eth0: lb4d starts, says
  // so once, and keeps eth0 as missing.
  daemon_.stop();
  startDaemon();
  ASSERT_TRUE(daemon_.running());
  EXPECT_EQ(interfaceState("eth0"), "missing") << status().dump();
  std::ifstream logFile(work_ / "lb4d.log");
  std::string log(std::istreambuf_iterator<char>(logFile), {});
  EXPECT_NE(log.find("interface eth0 does not exist; starting without it"), std::string::npos)
      << log;

  recreateGatewayLink(mac);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(waitInterfaceState("eth0", "attached")) << status().dump();
  auto after = connect(10);
  EXPECT_EQ(after.value("ok", 0), 10) << after.dump();

  // Deleted once more while this daemon runs: missing again, not attached.
  del = runCommand({"ip", "-n", ns("gw"), "link", "del", "eth0"});
  ASSERT_EQ(del.status, 0) << del.err;
  EXPECT_TRUE(waitInterfaceState("eth0", "missing")) << status().dump();
}

// Clients on the gateway's eth0, backends on eth1's segment.
class SplitTopologyTest : public DaemonTopologyTest {
 protected:
  static constexpr const char* kVip = "198.18.1.100:80/tcp";
  static constexpr int kBackends = 2;

  void SetUp() override {
    setUpTopology("lb4s", "scripts/netns/split_topology.sh", kBackends);
    if (HasFatalFailure()) {
      return;
    }
    for (int i = 1; i <= kBackends; ++i) {
      servers_.emplace_back(
          std::vector<std::string>{"ip", "netns", "exec", ns("b" + std::to_string(i)),
                                   buildPath("tests/tools/lb4-testnet"), "serve", "--name",
                                   "b" + std::to_string(i), "--port", "80", "--bind",
                                   "::", "--http-port", "8080"},
          (work_ / ("server" + std::to_string(i) + ".log")).string());
    }
    startDaemon();
  }

  nlohmann::json connect(int count) {
    auto r = runCommand({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-testnet"),
                         "connect", "--to", kVip, "--count", std::to_string(count), "--timeout-ms",
                         "2000"});
    auto json = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << r.out << r.err;
    return json.is_discarded() ? nlohmann::json::object() : json;
  }

  nlohmann::json backends() {
    auto r = ctl({"list", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0]["backends"] : nlohmann::json::array();
  }
};

TEST_F(SplitTopologyTest, DirectRoutingReachesBackendsOnAnotherLink) {
  // Only the client link attached: no attached interface reaches the
  // backends, and list and health say so instead of "serving".
  ctlOk({"attach", "eth0"});
  ctlOk({"add-vip", kVip, "--mode", "dr"});
  for (int i = 1; i <= kBackends; ++i) {
    auto r = ctl({"add-backend", kVip, "198.18.2.1" + std::to_string(i), "--wait-ms", "200"});
    EXPECT_NE(r.status, 0) << r.out << r.err;  // not enabled
  }
  for (const auto& b : backends()) {
    EXPECT_FALSE(b.value("reachable", true)) << b.dump();
    EXPECT_FALSE(b.value("enabled", true)) << b.dump();
    EXPECT_NE(b.value("unreachable", "").find("eth1, which lb4 is not attached to"),
              std::string::npos)
        << b.dump();
  }
  auto human = ctl({"list"});
  EXPECT_NE(human.out.find("unreachable"), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find("serving"), std::string::npos) << human.out;
  auto health = ctl({"health", "--json"});
  auto rows = nlohmann::json::parse(health.out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << health.out << health.err;
  EXPECT_EQ(rows.size(), static_cast<size_t>(kBackends)) << rows.dump();
  for (const auto& row : rows) {
    EXPECT_FALSE(row.value("reachable", true)) << row.dump();
  }

  // The backends' link attached too: every connection is answered, sent
  // out of eth1 (redirect), none back out of the client link (tx).
  ctlOk({"attach", "eth1"});
  bool enabled = false;
  for (int i = 0; i < 100 && !enabled; ++i) {
    enabled = true;
    for (const auto& b : backends()) {
      enabled = enabled && b.value("enabled", false) && b.value("reachable", false);
    }
    if (!enabled) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_TRUE(enabled) << backends().dump();
  auto result = connect(10);
  EXPECT_EQ(result.value("ok", 0), 10) << result.dump();
  auto stats = ctl({"stats", "--json"});
  auto j = nlohmann::json::parse(stats.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << stats.out;
  EXPECT_GE(j["global"].value("redirect", 0), 10) << j["global"].dump();
  EXPECT_EQ(j["global"].value("tx", 0), 0) << j["global"].dump();
}

// lb4ctl doctor on a gateway with pitfalls set up on purpose: rp_filter on
// the attached interface, DR backends behind a link lb4 is not attached to,
// a configured interface that is gone (a veth), a small conntrack share. Each is
// reported with its fix and the exit code is 1; once fixed, those checks
// report ok.
class DoctorTest : public SplitTopologyTest {
 protected:
  // The checks named `check` (whose message mentions `about`) from doctor --json.
  std::vector<nlohmann::json> findings(const nlohmann::json& doctor, const std::string& check,
                                       const std::string& about) {
    std::vector<nlohmann::json> out;
    for (const auto& c : doctor.value("checks", nlohmann::json::array())) {
      if (c.value("check", "") == check &&
          c.value("message", "").find(about) != std::string::npos) {
        out.push_back(c);
      }
    }
    return out;
  }

  nlohmann::json doctor(int* status) {
    auto r = ctl({"doctor", "--json"});
    *status = r.status;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  nlohmann::json status() {
    auto r = ctl({"status", "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  // Polls `status` (up to 5 s) until the interface is in `want`.
  bool waitInterfaceState(const std::string& ifname, const std::string& want) {
    for (int i = 0; i < 100; ++i) {
      for (const auto& f : status().value("interfaces", nlohmann::json::array())) {
        if (f.value("interface", "") == ifname && f.value("state", "") == want) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void gw(std::vector<std::string> args) {
    args.insert(args.begin(), {"ip", "netns", "exec", ns("gw")});
    auto r = runCommand(args);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }
};

TEST_F(DoctorTest, ReportsEachPitfallWithItsFixAndOkOnceFixed) {
  daemon_.stop();
  configYaml_ = "conntrack_size: 1024\n";
  ASSERT_NO_FATAL_FAILURE(startDaemon());
  ctlOk({"attach", "eth0"});
  ctlOk({"add-vip", kVip, "--mode", "dr"});
  for (int i = 1; i <= kBackends; ++i) {
    ctl({"add-backend", kVip, "198.18.2.1" + std::to_string(i), "--wait-ms", "200"});
  }
  ASSERT_NO_FATAL_FAILURE(gw({"sysctl", "-qw", "net.ipv4.conf.eth0.rp_filter=1"}));
  ASSERT_NO_FATAL_FAILURE(gw({"ip", "link", "add", "dx", "type", "veth", "peer", "name", "dxp"}));
  ASSERT_NO_FATAL_FAILURE(gw({"ip", "link", "set", "dx", "up"}));
  ctlOk({"attach", "dx"});
  ASSERT_NO_FATAL_FAILURE(gw({"ip", "link", "del", "dx"}));
  EXPECT_TRUE(waitInterfaceState("dx", "missing")) << status().dump();

  int rc = 0;
  auto before = doctor(&rc);
  EXPECT_EQ(rc, 1) << before.dump(2);
  auto rp = findings(before, "rp_filter", "eth0");
  ASSERT_EQ(rp.size(), 1u) << before.dump(2);
  EXPECT_EQ(rp[0]["level"], "fail") << rp[0].dump();
  EXPECT_NE(rp[0].value("fix", "").find("sysctl -w net.ipv4.conf.eth0.rp_filter=0"),
            std::string::npos)
      << rp[0].dump();
  auto unreachable = findings(before, "backend_reachable", "198.18.2.1");
  ASSERT_EQ(unreachable.size(), size_t{kBackends}) << before.dump(2);
  for (const auto& f : unreachable) {
    EXPECT_EQ(f["level"], "fail") << f.dump();
    EXPECT_NE(f.value("fix", "").find("lb4ctl attach"), std::string::npos) << f.dump();
  }
  auto missing = findings(before, "missing_interface", "dx");
  ASSERT_EQ(missing.size(), 1u) << before.dump(2);
  EXPECT_EQ(missing[0]["level"], "fail") << missing[0].dump();
  auto ct = findings(before, "conntrack_share", "per CPU");
  ASSERT_EQ(ct.size(), 1u) << before.dump(2);
  EXPECT_EQ(ct[0]["level"], "warn") << ct[0].dump();
  EXPECT_NE(ct[0].value("fix", "").find("conntrack_size:"), std::string::npos) << ct[0].dump();
  auto human = ctl({"doctor"});
  EXPECT_EQ(human.status, 1);
  EXPECT_NE(human.out.find("fix: run: sysctl -w net.ipv4.conf.eth0.rp_filter=0"), std::string::npos)
      << human.out;

  // Fixed: rp_filter back off, lb4 attached to the backends' link, dx back.
  ASSERT_NO_FATAL_FAILURE(gw({"sysctl", "-qw", "net.ipv4.conf.eth0.rp_filter=0"}));
  ctlOk({"attach", "eth1"});
  ASSERT_NO_FATAL_FAILURE(gw({"ip", "link", "add", "dx", "type", "veth", "peer", "name", "dxp"}));
  ASSERT_NO_FATAL_FAILURE(gw({"ip", "link", "set", "dx", "up"}));
  EXPECT_TRUE(waitInterfaceState("dx", "attached")) << status().dump();
  auto after = doctor(&rc);
  rp = findings(after, "rp_filter", "eth0");
  ASSERT_EQ(rp.size(), 1u) << after.dump(2);
  EXPECT_EQ(rp[0]["level"], "ok") << rp[0].dump();
  auto reachable = findings(after, "backend_reachable", "198.18.2.1");
  ASSERT_EQ(reachable.size(), size_t{kBackends}) << after.dump(2);
  for (const auto& f : reachable) {
    EXPECT_EQ(f["level"], "ok") << f.dump();
  }
  missing = findings(after, "missing_interface", "dx");
  ASSERT_EQ(missing.size(), 1u) << after.dump(2);
  EXPECT_EQ(missing[0]["level"], "ok") << missing[0].dump();
  // dx is a veth whose peer dxp is in this namespace, with tx checksum
  // offload on and dxp without GRO (the defaults): both reported, then fixed.
  auto csum = findings(after, "veth_tx_checksum", "dx:");
  ASSERT_EQ(csum.size(), 1u) << after.dump(2);
  EXPECT_EQ(csum[0]["level"], "warn") << csum[0].dump();
  EXPECT_NE(csum[0].value("fix", "").find("ethtool -K dx tx off"), std::string::npos)
      << csum[0].dump();
  auto napi = findings(after, "veth_peer_napi", "dx:");
  ASSERT_EQ(napi.size(), 1u) << after.dump(2);
  EXPECT_EQ(napi[0]["level"], "warn") << napi[0].dump();
  EXPECT_NE(napi[0].value("fix", "").find("ethtool -K dxp gro on"), std::string::npos)
      << napi[0].dump();
  ASSERT_NO_FATAL_FAILURE(gw({"ethtool", "-K", "dx", "tx", "off"}));
  ASSERT_NO_FATAL_FAILURE(gw({"ethtool", "-K", "dxp", "gro", "on"}));
  auto fixed = doctor(&rc);
  csum = findings(fixed, "veth_tx_checksum", "dx:");
  ASSERT_EQ(csum.size(), 1u) << fixed.dump(2);
  EXPECT_EQ(csum[0]["level"], "ok") << csum[0].dump();
  napi = findings(fixed, "veth_peer_napi", "dx:");
  ASSERT_EQ(napi.size(), 1u) << fixed.dump(2);
  EXPECT_EQ(napi[0]["level"], "ok") << napi[0].dump();
}

}  // namespace
}  // namespace lb4::test
