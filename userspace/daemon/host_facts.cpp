#include "userspace/daemon/host_facts.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

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

// One ethtool ioctl on `ifname`; false when the driver does not answer it.
bool ethtool(int fd, const std::string& ifname, void* data) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = static_cast<char*>(data);
  return ::ioctl(fd, SIOCETHTOOL, &ifr) == 0;
}

std::optional<bool> ethtoolFlag(int fd, const std::string& ifname, uint32_t cmd) {
  ethtool_value v{};
  v.cmd = cmd;
  if (!ethtool(fd, ifname, &v)) {
    return std::nullopt;
  }
  return v.data != 0;
}

json orNull(const std::optional<bool>& v) { return v ? json(*v) : json(nullptr); }

// The name of the interface with `ifindex` in this namespace, if any.
std::optional<std::string> nameOf(long ifindex) {
  char name[IF_NAMESIZE] = {};
  if (ifindex <= 0 || !::if_indextoname(static_cast<unsigned>(ifindex), name)) {
    return std::nullopt;
  }
  return std::string(name);
}

// A veth's peer_ifindex from its ethtool statistics (sysfs shows the
// namespace it was mounted in, not lb4d's).
std::optional<long> peerIfindex(int fd, const std::string& ifname) {
  alignas(ethtool_sset_info) uint8_t buf[sizeof(ethtool_sset_info) + sizeof(uint32_t)] = {};
  auto* sset = reinterpret_cast<ethtool_sset_info*>(buf);
  sset->cmd = ETHTOOL_GSSET_INFO;
  sset->sset_mask = 1ULL << ETH_SS_STATS;
  if (!ethtool(fd, ifname, sset) || sset->sset_mask == 0 || sset->data[0] > 4096) {
    return std::nullopt;
  }
  uint32_t n = sset->data[0];
  std::vector<uint8_t> strings(sizeof(ethtool_gstrings) + n * ETH_GSTRING_LEN);
  auto* gs = reinterpret_cast<ethtool_gstrings*>(strings.data());
  gs->cmd = ETHTOOL_GSTRINGS;
  gs->string_set = ETH_SS_STATS;
  gs->len = n;
  std::vector<uint8_t> values(sizeof(ethtool_stats) + n * sizeof(uint64_t));
  auto* st = reinterpret_cast<ethtool_stats*>(values.data());
  st->cmd = ETHTOOL_GSTATS;
  st->n_stats = n;
  if (!ethtool(fd, ifname, gs) || !ethtool(fd, ifname, st)) {
    return std::nullopt;
  }
  for (uint32_t i = 0; i < n && i < gs->len && i < st->n_stats; ++i) {
    std::string name(
        reinterpret_cast<const char*>(gs->data + i * ETH_GSTRING_LEN),
        strnlen(reinterpret_cast<const char*>(gs->data + i * ETH_GSTRING_LEN), ETH_GSTRING_LEN));
    if (name == "peer_ifindex") {
      return static_cast<long>(st->data[i]);
    }
  }
  return std::nullopt;
}

json interfaceFacts(int fd, const std::string& ifname) {
  long ifindex = static_cast<long>(::if_nametoindex(ifname.c_str()));
  json f = {{"interface", ifname}, {"present", ifindex != 0}};
  f["rp_filter"] = orNull(readNumber("/proc/sys/net/ipv4/conf/" + ifname + "/rp_filter"));
  if (ifindex == 0) {
    return f;
  }
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  f["driver"] = ethtool(fd, ifname, &info) ? json(std::string(info.driver)) : json(nullptr);
  f["tx_checksum"] = orNull(ethtoolFlag(fd, ifname, ETHTOOL_GTXCSUM));
  f["gro"] = orNull(ethtoolFlag(fd, ifname, ETHTOOL_GGRO));
  if (f["driver"] == "veth") {
    // peer_ifindex is the index in the peer's namespace: a local interface
    // of that index is the peer only when its own peer_ifindex points back.
    auto peerIndex = peerIfindex(fd, ifname);
    std::optional<std::string> peer = peerIndex ? nameOf(*peerIndex) : std::nullopt;
    if (peer && peerIfindex(fd, *peer) != ifindex) {
      peer.reset();
    }
    json p = {{"ifindex", orNull(peerIndex)}, {"local", peer.has_value()}};
    if (peer) {
      p["interface"] = *peer;
      p["gro"] = orNull(ethtoolFlag(fd, *peer, ETHTOOL_GGRO));
      p["tx_checksum"] = orNull(ethtoolFlag(fd, *peer, ETHTOOL_GTXCSUM));
    }
    f["peer"] = std::move(p);
  }
  return f;
}

}  // namespace

json hostFacts(const std::vector<std::string>& interfaces) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  json ifaces = json::array();
  for (const auto& name : interfaces) {
    ifaces.push_back(interfaceFacts(fd, name));
  }
  if (fd >= 0) {
    ::close(fd);
  }
  return {{"rp_filter_all", orNull(readNumber("/proc/sys/net/ipv4/conf/all/rp_filter"))},
          {"interfaces", std::move(ifaces)}};
}

}  // namespace lb4
