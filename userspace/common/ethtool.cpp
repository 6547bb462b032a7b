#include "userspace/common/ethtool.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace lb4 {
namespace {

// Sets larger than this are not what any driver reports: refused rather
// than allocated.
constexpr uint32_t kMaxStrings = 4096;

}  // namespace

Result<Ethtool> Ethtool::open() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return makeError("ethtool socket: {}", std::strerror(errno));
  }
  return Ethtool(std::move(fd));
}

bool Ethtool::request(const std::string& ifname, void* data) const {
  if (ifname.size() >= IFNAMSIZ) {
    errno = ENODEV;
    return false;
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  ifr.ifr_data = static_cast<char*>(data);
  return ::ioctl(fd_.get(), SIOCETHTOOL, &ifr) >= 0;  // SFEATURES may answer > 0
}

std::optional<bool> Ethtool::flag(const std::string& ifname, uint32_t cmd) const {
  ethtool_value v{};
  v.cmd = cmd;
  if (!request(ifname, &v)) {
    return std::nullopt;
  }
  return v.data != 0;
}

std::optional<std::vector<std::string>> Ethtool::strings(const std::string& ifname,
                                                         uint32_t set) const {
  alignas(ethtool_sset_info) uint8_t buf[sizeof(ethtool_sset_info) + sizeof(uint32_t)] = {};
  auto* sset = reinterpret_cast<ethtool_sset_info*>(buf);
  sset->cmd = ETHTOOL_GSSET_INFO;
  sset->sset_mask = 1ULL << set;
  if (!request(ifname, sset) || sset->sset_mask == 0 || sset->data[0] > kMaxStrings) {
    return std::nullopt;
  }
  uint32_t n = sset->data[0];
  std::vector<uint8_t> raw(sizeof(ethtool_gstrings) + n * ETH_GSTRING_LEN);
  auto* gs = reinterpret_cast<ethtool_gstrings*>(raw.data());
  gs->cmd = ETHTOOL_GSTRINGS;
  gs->string_set = set;
  gs->len = n;
  if (!request(ifname, gs)) {
    return std::nullopt;
  }
  std::vector<std::string> names;
  for (uint32_t i = 0; i < n && i < gs->len; ++i) {
    const char* s = reinterpret_cast<const char*>(gs->data + i * ETH_GSTRING_LEN);
    names.emplace_back(s, strnlen(s, ETH_GSTRING_LEN));
  }
  return names;
}

std::optional<uint64_t> Ethtool::statistic(const std::string& ifname, std::string_view name) const {
  auto names = strings(ifname, ETH_SS_STATS);
  if (!names) {
    return std::nullopt;
  }
  auto n = static_cast<uint32_t>(names->size());
  std::vector<uint8_t> raw(sizeof(ethtool_stats) + n * sizeof(uint64_t));
  auto* st = reinterpret_cast<ethtool_stats*>(raw.data());
  st->cmd = ETHTOOL_GSTATS;
  st->n_stats = n;
  if (!request(ifname, st)) {
    return std::nullopt;
  }
  for (uint32_t i = 0; i < n && i < st->n_stats; ++i) {
    if ((*names)[i] == name) {
      return st->data[i];
    }
  }
  return std::nullopt;
}

std::optional<Ethtool::FeatureBit> Ethtool::featureBit(const std::string& ifname,
                                                       std::string_view name) const {
  auto names = strings(ifname, ETH_SS_FEATURES);
  if (!names) {
    return std::nullopt;
  }
  for (uint32_t i = 0; i < names->size(); ++i) {
    if ((*names)[i] == name) {
      // The kernel wants every word of its feature set, not just up to i.
      return FeatureBit{i, static_cast<uint32_t>((names->size() + 31) / 32)};
    }
  }
  return std::nullopt;
}

std::optional<bool> Ethtool::feature(const std::string& ifname, std::string_view name) const {
  auto f = featureBit(ifname, name);
  if (!f) {
    return std::nullopt;
  }
  std::vector<uint8_t> raw(sizeof(ethtool_gfeatures) +
                           f->words * sizeof(ethtool_get_features_block));
  auto* gf = reinterpret_cast<ethtool_gfeatures*>(raw.data());
  gf->cmd = ETHTOOL_GFEATURES;
  gf->size = f->words;
  if (!request(ifname, gf)) {
    return std::nullopt;
  }
  const auto& block = gf->features[f->index / 32];
  uint32_t bit = 1U << (f->index % 32);
  if ((block.available & bit) == 0 && (block.active & bit) == 0) {
    return std::nullopt;  // the driver does not offer it at all
  }
  return (block.active & bit) != 0;
}

Status Ethtool::setFeature(const std::string& ifname, std::string_view name, bool on) const {
  auto f = featureBit(ifname, name);
  if (!f) {
    return makeError("{} has no feature {}", ifname, name);
  }
  std::vector<uint8_t> raw(sizeof(ethtool_sfeatures) +
                           f->words * sizeof(ethtool_set_features_block));
  auto* sf = reinterpret_cast<ethtool_sfeatures*>(raw.data());
  sf->cmd = ETHTOOL_SFEATURES;
  sf->size = f->words;
  uint32_t bit = 1U << (f->index % 32);
  sf->features[f->index / 32].valid = bit;
  sf->features[f->index / 32].requested = on ? bit : 0;
  // A positive return (ETHTOOL_F_WISH etc.) means not everything took: the
  // read-back below tells.
  if (!request(ifname, sf)) {
    return makeError("set {} {} on {}: {}", name, on ? "on" : "off", ifname, std::strerror(errno));
  }
  if (feature(ifname, name) != on) {
    return makeError("set {} {} on {}: the driver keeps it {}", name, on ? "on" : "off", ifname,
                     on ? "off" : "on");
  }
  return {};
}

std::optional<std::string> Ethtool::driver(const std::string& ifname) const {
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  if (!request(ifname, &info)) {
    return std::nullopt;
  }
  return std::string(info.driver, strnlen(info.driver, sizeof(info.driver)));
}

std::optional<long> Ethtool::vethPeerIndex(const std::string& ifname) const {
  auto v = statistic(ifname, "peer_ifindex");
  return v ? std::optional<long>(static_cast<long>(*v)) : std::nullopt;
}

std::optional<std::string> Ethtool::localVethPeer(const std::string& ifname) const {
  auto index = vethPeerIndex(ifname);
  char name[IF_NAMESIZE] = {};
  if (!index || *index <= 0 || !::if_indextoname(static_cast<unsigned>(*index), name)) {
    return std::nullopt;
  }
  std::string peer(name);
  if (vethPeerIndex(peer) != static_cast<long>(::if_nametoindex(ifname.c_str()))) {
    return std::nullopt;  // an unrelated interface of that index in this namespace
  }
  return peer;
}

}  // namespace lb4
