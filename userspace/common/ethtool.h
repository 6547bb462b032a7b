// Ethtool requests on one interface, through the SIOCETHTOOL ioctl (what
// `ethtool -k/-K` and `ethtool -S` do): boolean settings, the names of a
// string set, statistics by name, and the generic feature bits
// ("rx-vlan-hw-parse", ...). Each call answers for lb4d's own network
// namespace.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "userspace/common/result.h"
#include "userspace/common/unique_fd.h"

namespace lb4 {

class Ethtool {
 public:
  // Opens the socket the requests go through.
  static Result<Ethtool> open();

  // One raw request (`data` starts with its ETHTOOL_* command); false when
  // the interface or its driver does not answer it (errno says why).
  bool request(const std::string& ifname, void* data) const;
  // A boolean setting read with a legacy command (ETHTOOL_GTXCSUM, ...).
  std::optional<bool> flag(const std::string& ifname, uint32_t cmd) const;
  // The strings of set `set` (ETH_SS_FEATURES, ETH_SS_STATS, ...).
  std::optional<std::vector<std::string>> strings(const std::string& ifname, uint32_t set) const;
  // The statistic `name` of `ethtool -S`.
  std::optional<uint64_t> statistic(const std::string& ifname, std::string_view name) const;
  // Whether the feature `name` is active; nullopt when the interface does
  // not have it.
  std::optional<bool> feature(const std::string& ifname, std::string_view name) const;
  // Requests the feature `name` on or off and reads back that it took.
  Status setFeature(const std::string& ifname, std::string_view name, bool on) const;
  // The driver's name ("veth", "mlx5_core", ...).
  std::optional<std::string> driver(const std::string& ifname) const;
  // A veth's peer_ifindex (the index in the peer's namespace).
  std::optional<long> vethPeerIndex(const std::string& ifname) const;
  // The name of a veth's peer when it is in this namespace: the interface
  // of that index whose own peer_ifindex points back.
  std::optional<std::string> localVethPeer(const std::string& ifname) const;

 private:
  explicit Ethtool(UniqueFd fd) : fd_(std::move(fd)) {}
  struct FeatureBit {
    uint32_t index;  // in the ETH_SS_FEATURES strings
    uint32_t words;  // 32-bit words of the interface's feature set
  };
  std::optional<FeatureBit> featureBit(const std::string& ifname, std::string_view name) const;
  UniqueFd fd_;
};

}  // namespace lb4
