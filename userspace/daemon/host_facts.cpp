#include "userspace/daemon/host_facts.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

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

json interfaceFacts(int fd, const std::string& ifname) {
  const std::string sys = "/sys/class/net/" + ifname;
  json f = {{"interface", ifname}, {"present", std::filesystem::exists(sys)}};
  f["rp_filter"] = orNull(readNumber("/proc/sys/net/ipv4/conf/" + ifname + "/rp_filter"));
  if (!f["present"].get<bool>()) {
    return f;
  }
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  f["driver"] = ethtool(fd, ifname, &info) ? json(std::string(info.driver)) : json(nullptr);
  f["tx_checksum"] = orNull(ethtoolFlag(fd, ifname, ETHTOOL_GTXCSUM));
  f["gro"] = orNull(ethtoolFlag(fd, ifname, ETHTOOL_GGRO));
  if (f["driver"] == "veth") {
    auto ifindex = readNumber(sys + "/ifindex");
    auto iflink = readNumber(sys + "/iflink");
    // iflink is the peer's index in the peer's namespace; the link-netnsid
    // attribute says it is another one, which sysfs does not show, so a
    // local interface of that index counts as the peer only when its own
    // iflink points back here.
    std::optional<std::string> peer = iflink && iflink != ifindex ? nameOf(*iflink) : std::nullopt;
    if (peer && readNumber("/sys/class/net/" + *peer + "/iflink") != ifindex) {
      peer.reset();
    }
    json p = {{"ifindex", orNull(iflink)}, {"local", peer.has_value()}};
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
