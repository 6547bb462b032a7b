// VLAN offload and XDP. A NIC with "rx-vlan-hw-parse" (802.1Q) or
// "rx-vlan-stag-hw-parse" (802.1ad) on takes the tag out of the frame into
// packet metadata before XDP runs; on a veth the same happens when its peer
// transmits with "tx-vlan-hw-insert" (the veth default; the receiving
// veth's own rx features change nothing). lb4's program then sees an
// untagged frame, and what it forwards leaves without the tag. lb4 keeps
// VLAN tags, so by default (config `vlan_offload: disable`) lb4d turns
// these features off when it attaches (a veth's peer only when it is in
// lb4d's namespace) and logs it once; `vlan_offload: keep` leaves them on
// and warns instead. lb4 does not read the tag from the metadata kfunc: that
// needs a device-bound program per interface, and lb4 shares one program
// (and its devmap redirects) over all of them.
#pragma once

#include <optional>
#include <string>

#include "userspace/common/ethtool.h"

namespace lb4 {

// Whether VLAN tags are taken out of the frame before XDP on `ifname`;
// nullopt when that cannot be known (no such offload, or a veth whose peer
// is in another namespace).
std::optional<bool> rxVlanOffload(const Ethtool& et, const std::string& ifname);

// At attach: with `disable`, turns those offloads off (one info line; an
// error if the driver refuses); with `keep`, warns when one is on. Returns
// whether one is still active afterwards.
std::optional<bool> applyVlanOffloadPolicy(const std::string& ifname, const std::string& policy);

}  // namespace lb4
