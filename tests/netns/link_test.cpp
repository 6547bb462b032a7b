// Links that change under lb4 (direct routing, namespaces): the gateway's
// interface disappears and returns; lb4d reports it missing, starts without
// it, and attaches to it again when a link of that name appears.
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
        "ip -n " + sw + " link add gw0 type veth peer name eth0 address " + mac + " netns " + gw + "\n"
        "ip -n " + sw + " link set gw0 master br0 up\n"
        "ip -n " + sw + " link set dev gw0 xdpdrv obj " + buildPath("bpf/lb4_floor.bpf.o") +
        " sec xdp program xdp_pass\n"
        "ip -n " + gw + " link set eth0 up\n"
        "ip -n " + gw + " addr add 198.18.0.2/24 dev eth0\n"
        "ip -n " + gw + " addr add 2001:db8::2/64 dev eth0 nodad\n"
        "ip netns exec " + gw + " ethtool -K eth0 tx off tso off gso off >/dev/null\n";
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

}  // namespace
}  // namespace lb4::test
