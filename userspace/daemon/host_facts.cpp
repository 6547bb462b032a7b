#include "userspace/daemon/host_facts.h"

#include <linux/ethtool.h>
#include <net/if.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

#include "userspace/common/ethtool.h"
#include "userspace/daemon/vlan_offload.h"

namespace lb4 {
namespace {

using nlohmann::json;

std::optional<long> readNumber(const std::string& path) {
  std::ifstream in(path);
  long value = 0;
  if (!(in >> value)) {
    return std::nullopt;
  }
  return value;
}

json orNull(const std::optional<long>& v) { return v ? json(*v) : json(nullptr); }

json orNull(const std::optional<bool>& v) { return v ? json(*v) : json(nullptr); }

json interfaceFacts(const Ethtool& et, const std::string& ifname) {
  long ifindex = static_cast<long>(::if_nametoindex(ifname.c_str()));
  json f = {{"interface", ifname}, {"present", ifindex != 0}};
  f["rp_filter"] = orNull(readNumber("/proc/sys/net/ipv4/conf/" + ifname + "/rp_filter"));
  if (ifindex == 0) {
    return f;
  }
  auto driver = et.driver(ifname);
  f["driver"] = driver ? json(*driver) : json(nullptr);
  f["tx_checksum"] = orNull(et.flag(ifname, ETHTOOL_GTXCSUM));
  f["gro"] = orNull(et.flag(ifname, ETHTOOL_GGRO));
  f["rx_vlan_offload"] = orNull(rxVlanOffload(et, ifname));
  if (f["driver"] == "veth") {
    auto peerIndex = et.vethPeerIndex(ifname);
    auto peer = et.localVethPeer(ifname);
    json p = {{"ifindex", orNull(peerIndex)}, {"local", peer.has_value()}};
    if (peer) {
      p["interface"] = *peer;
      p["gro"] = orNull(et.flag(*peer, ETHTOOL_GGRO));
      p["tx_checksum"] = orNull(et.flag(*peer, ETHTOOL_GTXCSUM));
    }
    f["peer"] = std::move(p);
  }
  return f;
}

}  // namespace

json hostFacts(const std::vector<std::string>& interfaces) {
  json ifaces = json::array();
  if (auto et = Ethtool::open()) {
    for (const auto& name : interfaces) {
      ifaces.push_back(interfaceFacts(*et, name));
    }
  }
  return {{"rp_filter_all", orNull(readNumber("/proc/sys/net/ipv4/conf/all/rp_filter"))},
          {"interfaces", std::move(ifaces)}};
}

}  // namespace lb4
