#include "userspace/daemon/vlan_offload.h"

#include <spdlog/spdlog.h>

#include <array>
#include <string_view>

namespace lb4 {
namespace {

// What takes a tag out of the frame before XDP: a NIC's receive parsing,
// or, on a veth, its peer's transmit insertion (the tag then travels as
// the skb's metadata and the frame XDP sees has none).
constexpr std::array<std::string_view, 2> kRxFeatures = {"rx-vlan-hw-parse",
                                                         "rx-vlan-stag-hw-parse"};
constexpr std::array<std::string_view, 2> kVethPeerFeatures = {"tx-vlan-hw-insert",
                                                               "tx-vlan-stag-hw-insert"};

// The interface whose features decide, and which features: `ifname`'s
// receive parsing, or a veth's local peer's transmit insertion; nullopt
// for a veth whose peer is in another namespace.
struct Decider {
  std::string ifname;
  const std::array<std::string_view, 2>* features;
};

std::optional<Decider> deciderOf(const Ethtool& et, const std::string& ifname) {
  if (et.driver(ifname) != "veth") {
    return Decider{ifname, &kRxFeatures};
  }
  if (auto peer = et.localVethPeer(ifname)) {
    return Decider{*peer, &kVethPeerFeatures};
  }
  return std::nullopt;
}

std::optional<bool> anyActive(const Ethtool& et, const Decider& d) {
  std::optional<bool> any;
  for (auto name : *d.features) {
    if (auto on = et.feature(d.ifname, name)) {
      any = any.value_or(false) || *on;
    }
  }
  return any;
}

}  // namespace

std::optional<bool> rxVlanOffload(const Ethtool& et, const std::string& ifname) {
  auto d = deciderOf(et, ifname);
  return d ? anyActive(et, *d) : std::nullopt;
}

std::optional<bool> applyVlanOffloadPolicy(const std::string& ifname, const std::string& policy) {
  auto et = Ethtool::open();
  if (!et) {
    spdlog::warn("interface {}: VLAN offload unknown: {}", ifname, et.error());
    return std::nullopt;
  }
  auto d = deciderOf(*et, ifname);
  if (!d) {
    spdlog::info(
        "interface {} is a veth whose peer is in another namespace: VLAN tags reach XDP only if "
        "the peer sends them in the frame (there: ethtool -K PEER txvlan off "
        "tx-vlan-stag-hw-insert off)",
        ifname);
    return std::nullopt;
  }
  std::string what = d->ifname == ifname ? "receive VLAN offload"
                                         : "VLAN insertion offload on its veth peer " + d->ifname;
  if (policy == "keep") {
    auto on = anyActive(*et, *d);
    if (on.value_or(false)) {
      spdlog::warn(
          "interface {}: VLAN tags are taken out of the frame before XDP ({} on, vlan_offload: "
          "keep): tagged frames are forwarded untagged",
          ifname, what);
    }
    return on;
  }
  std::string turnedOff;
  for (auto name : *d->features) {
    if (et->feature(d->ifname, name) != true) {
      continue;
    }
    if (auto s = et->setFeature(d->ifname, name, false); !s) {
      spdlog::error("interface {}: {}: VLAN-tagged frames are forwarded untagged", ifname,
                    s.error());
      continue;
    }
    turnedOff += (turnedOff.empty() ? "" : ", ") + std::string(name);
  }
  if (!turnedOff.empty()) {
    spdlog::info(
        "interface {}: turned off {} ({}) so XDP sees and keeps VLAN tags (vlan_offload: keep "
        "leaves it on)",
        ifname, what, turnedOff);
  }
  return anyActive(*et, *d);
}

}  // namespace lb4
