// VLAN tags through direct routing (issue 12 item 5): a tagged frame must
// leave lb4 with its tag. On a veth the tag is taken out of the frame when
// the sending peer inserts tags as metadata (tx-vlan-hw-insert, the veth
// default); on a NIC when it parses them on receive. lb4d turns that off at
// attach (vlan_offload: disable, the default) and `keep` shows the old
// behaviour: tags lost, which status and doctor then report.
//
// The kernel here may have no 802.1Q devices, so tagged SYNs are written
// and counted with packet sockets (tests/tools/lb4-rawframe). The gateway's
// attached veth gets a peer in the gateway's own namespace (bridged to the
// segment) so that lb4d can see and change it:
//
//   client -- br0 (sw) -- gwq ==brg== gwp -- eth0 (lb4, XDP)    [gateway ns]
#include "netns_fixture.h"

namespace lb4::test {
namespace {

class VlanTest : public DrTopologyTest {
 protected:
  void SetUp() override {
    DrTopologyTest::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    daemon_.stop();
    std::string g = ns("gw");
    mac_ = linkMac(g, "eth0");
    ASSERT_FALSE(mac_.empty());
    for (const auto& cmd : std::vector<std::vector<std::string>>{
             {"ip", "-n", g, "link", "set", "eth0", "down"},
             {"ip", "-n", g, "addr", "flush", "dev", "eth0"},
             {"ip", "-n", g, "link", "set", "eth0", "name", "gwq"},
             {"ip", "-n", g, "link", "set", "gwq", "address", "02:00:5e:10:00:01"},
             {"ip", "-n", g, "link", "add", "eth0", "address", mac_, "type", "veth", "peer", "name",
              "gwp"},
             {"ip", "-n", g, "link", "add", "brg", "type", "bridge"},
             {"ip", "-n", g, "link", "set", "gwq", "master", "brg"},
             {"ip", "-n", g, "link", "set", "gwp", "master", "brg"},
             {"ip", "-n", g, "link", "set", "brg", "up"},
             {"ip", "-n", g, "link", "set", "gwq", "up"},
             {"ip", "-n", g, "link", "set", "gwp", "up"},
             {"ip", "-n", g, "link", "set", "eth0", "up"},
             {"ip", "-n", g, "addr", "add", "198.18.0.2/24", "dev", "eth0"},
             // NAPI for what XDP_TX sends back into gwp; full checksums.
             {"ip", "netns", "exec", g, "ethtool", "-K", "gwp", "gro", "on"},
             {"ip", "netns", "exec", g, "ethtool", "-K", "eth0", "tx", "off"},
         }) {
      auto r = runCommand(cmd);
      ASSERT_EQ(r.status, 0) << cmd[3] << " " << cmd[4] << ": " << r.err;
    }
  }

  std::string linkMac(const std::string& netns, const std::string& dev) {
    auto r = runCommand({"ip", "-n", netns, "-j", "link", "show", dev});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0].value("address", "") : "";
  }

  void restartWith(const std::string& yaml) {
    daemon_.stop();
    configYaml_ = yaml;
    startDaemon();
  }

  nlohmann::json attachedEth0() {
    auto j = nlohmann::json::parse(ctl({"status", "--json"}).out, nullptr, false);
    if (j.is_object()) {
      for (const auto& i : j["interfaces"]) {
        if (i.value("interface", "") == "eth0") {
          return i;
        }
      }
    }
    return nlohmann::json::object();
  }

  nlohmann::json doctorCheck(const std::string& name) {
    auto j = nlohmann::json::parse(ctl({"doctor", "--json"}).out, nullptr, false);
    if (j.is_object()) {
      for (const auto& c : j["checks"]) {
        if (c.value("check", "") == name) {
          return c;
        }
      }
    }
    return nlohmann::json::object();
  }

  // Sends `count` SYNs to the VIP tagged with `vlan` (0: untagged) from the
  // client; returns the frames the backends received for themselves,
  // {"tagged", "untagged", "tagged_not_vlan_10"} summed over backends.
  nlohmann::json sendAndCount(int vlan, int count) {
    std::vector<Process> counters;
    std::vector<std::string> logs;
    for (int i = 1; i <= kBackends; ++i) {
      logs.push_back((work_ / ("count" + std::to_string(i) + ".log")).string());
      std::filesystem::remove(logs.back());
      counters.emplace_back(
          std::vector<std::string>{"ip", "netns", "exec", ns("b" + std::to_string(i)),
                                   buildPath("tests/tools/lb4-rawframe"), "count", "--from",
                                   "198.18.0.1", "--to", kVip, "--duration-ms", "1500"},
          logs.back());
    }
    for (const auto& log : logs) {
      for (int n = 0; n < 250; ++n) {
        std::ifstream in(log);
        std::string first;
        if (std::getline(in, first) && first == "listening") {
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    auto sent = runCommand({"ip", "netns", "exec", ns("cl"), buildPath("tests/tools/lb4-rawframe"),
                            "send", "--dst-mac", mac_, "--from", "198.18.0.1", "--to", kVip,
                            "--vlan", std::to_string(vlan), "--count", std::to_string(count)});
    EXPECT_EQ(sent.status, 0) << sent.err;
    nlohmann::json total = {{"tagged", 0}, {"untagged", 0}, {"tagged_not_vlan_10", 0}};
    for (size_t i = 0; i < counters.size(); ++i) {
      EXPECT_EQ(counters[i].wait(std::chrono::seconds(10)), 0);
      std::ifstream in(logs[i]);
      std::string line;
      std::string last;
      while (std::getline(in, line)) {
        last = line;
      }
      auto j = nlohmann::json::parse(last, nullptr, false);
      EXPECT_TRUE(j.is_object()) << logs[i] << ": " << last;
      if (j.is_object()) {
        for (const auto& k : {"tagged", "untagged", "tagged_not_vlan_10"}) {
          total[k] = total[k].get<int>() + j.value(k, 0);
        }
      }
    }
    return total;
  }

  std::string mac_;
};

TEST_F(VlanTest, TaggedFramesLeaveWithTheirTagAndKeepingTheOffloadIsReported) {
  // vlan_offload: keep, what every lb4 did before: the tag is lost.
  restartWith("vlan_offload: keep\n");
  ASSERT_FALSE(HasFatalFailure());
  configureDr();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(attachedEth0()["rx_vlan_offload"], true) << attachedEth0().dump();
  auto warn = doctorCheck("rx_vlan_offload");
  EXPECT_EQ(warn.value("level", ""), "warn") << warn.dump();
  EXPECT_NE(warn.value("fix", "").find("ethtool -K gwp txvlan off"), std::string::npos)
      << warn.dump();
  auto lost = sendAndCount(10, 20);
  std::cout << "vlan_offload keep: " << lost.dump() << "\n";
  EXPECT_EQ(lost["tagged"], 0) << lost.dump();
  EXPECT_EQ(lost["untagged"], 20) << lost.dump();

  // The default: lb4d turns the peer's VLAN insertion off when it attaches
  // (here: when the restarted daemon attaches the listed eth0 again).
  restartWith("");
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(attachedEth0()["rx_vlan_offload"], false) << attachedEth0().dump();
  EXPECT_EQ(doctorCheck("rx_vlan_offload").value("level", ""), "ok");
  std::ifstream in(work_ / "lb4d.log");
  std::string log(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(log.find("turned off VLAN insertion offload on its veth peer gwp"), std::string::npos)
      << log;
  auto kept = sendAndCount(10, 20);
  std::cout << "vlan_offload disable: " << kept.dump() << "\n";
  EXPECT_EQ(kept["tagged"], 20) << kept.dump();
  EXPECT_EQ(kept["tagged_not_vlan_10"], 0) << kept.dump();
  EXPECT_EQ(kept["untagged"], 0) << kept.dump();
  // Untagged traffic is unchanged.
  auto plain = sendAndCount(0, 20);
  EXPECT_EQ(plain["untagged"], 20) << plain.dump();
  EXPECT_EQ(plain["tagged"], 0) << plain.dump();
}

}  // namespace
}  // namespace lb4::test
