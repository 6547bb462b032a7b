// The Controller's interfaces: attach and detach requests, and following
// the links the state lists. An interface the state lists but the kernel
// does not have (deleted, not created yet, renamed) is "missing": lb4d
// starts without it, `status` shows it as missing, and the program is
// attached to it again when a link of that name appears (RTM_NEWLINK).
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "userspace/bgp/bird.h"
#include "userspace/daemon/controller.h"
#include "userspace/daemon/kernel_sync.h"
#include "userspace/daemon/neighbour.h"
#include "userspace/daemon/vlan_offload.h"

namespace lb4 {
namespace {

// How long route and address events settle before DR backends' egress is
// looked up again (a routing daemon may send thousands in a burst).
constexpr std::chrono::milliseconds kRouteSettle{200};

}  // namespace

// Adds the interface to lb4_tx_ports (before the program can run there)
// and attaches the shared program to it.
Result<XdpAttachment> Controller::attachInterface(const std::string& ifname, bool allowGeneric) {
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) {
    return makeError("attach {}: {}", ifname, std::strerror(errno));
  }
  if (auto s = dataplane_->addTxPort(static_cast<uint32_t>(ifindex)); !s) {
    return makeError("attach {}: {}", ifname, s.error());
  }
  auto attachment = XdpAttachment::attach(dataplane_->programFd(), ifname, allowGeneric);
  if (!attachment) {
    (void)dataplane_->deleteTxPort(static_cast<uint32_t>(ifindex));
    return makeError("attach {}: {}", ifname, attachment.error());
  }
  spdlog::info("attached to {} ({} mode, {}), maps in {}", ifname, xdpModeName(attachment->mode()),
               attachment->method(), dataplane_->pinDir());
  (void)applyVlanOffloadPolicy(ifname, config_.vlanOffload);
  return attachment;
}

Status Controller::attachListed(const std::vector<std::string>& interfaces) {
  for (const auto& ifname : interfaces) {
    if (if_nametoindex(ifname.c_str()) == 0 && errno == ENODEV) {
      spdlog::warn(
          "interface {} does not exist; starting without it (it is attached when it "
          "appears, `lb4ctl detach {}` forgets it)",
          ifname, ifname);
      continue;
    }
    auto attachment = attachInterface(ifname, true);
    if (!attachment) {
      return std::move(attachment).takeError();
    }
    attachments_.emplace(ifname, std::move(*attachment));
  }
  return {};
}

void Controller::linkChanged(const LinkEvent& ev) {
  if (ev.deleted) {
    for (auto it = attachments_.begin(); it != attachments_.end(); ++it) {
      if (it->second.ifindex() == ev.ifindex) {
        lostInterface(it);
        reapply("follow a removed interface");
        return;
      }
    }
    return;
  }
  for (auto& [name, attachment] : attachments_) {
    if (attachment.ifindex() != ev.ifindex) {
      continue;
    }
    if (!ev.name.empty() && ev.name != name) {
      spdlog::warn(
          "interface {} was renamed to {}; it counts as missing until a link named {} "
          "appears",
          name, ev.name, name);
      lostInterface(attachments_.find(name));
      reapply("follow a renamed interface");
    } else if (ev.mac && dataplane_) {
      // A MAC changed with `ip link set address`: frames to the new one are
      // the gateway's now.
      if (auto s = dataplane_->setInterfaceMac(static_cast<uint32_t>(ev.ifindex), *ev.mac); !s) {
        spdlog::warn("interface {}: {}", name, s.error());
      }
    }
    return;
  }
  if (!ev.name.empty()) {
    attachReturned(ev.name);
  }
}

void Controller::lostInterface(std::map<std::string, XdpAttachment>::iterator it) {
  // The kernel took the program and the devmap entry with the link; the
  // attachment must not detach whatever gets this ifindex next.
  uint32_t ifindex = static_cast<uint32_t>(it->second.ifindex());
  it->second.release();
  if (dataplane_) {
    (void)dataplane_->deleteTxPort(ifindex);
  }
  spdlog::warn("interface {} disappeared; it is attached again when it returns", it->first);
  attachments_.erase(it);
}

void Controller::attachReturned(const std::string& ifname) {
  if (attachments_.count(ifname) || std::find(state_.interfaces.begin(), state_.interfaces.end(),
                                              ifname) == state_.interfaces.end()) {
    return;
  }
  if (!dataplane_) {
    if (auto s = openDataplane(); !s) {
      spdlog::error("attach {}: {}", ifname, s.error());
      return;
    }
    if (auto s = syncKernel(*dataplane_, applied_, nullptr); !s) {
      spdlog::error("attach {}: {}", ifname, s.error());
      return;
    }
  }
  auto attachment = attachInterface(ifname, true);
  if (!attachment) {
    spdlog::error("interface {} appeared but cannot be attached: {}", ifname, attachment.error());
    return;
  }
  spdlog::info("interface {} is back", ifname);
  attachments_.emplace(ifname, std::move(*attachment));
  reapply("follow a returned interface");
}

void Controller::resyncLinks() {
  for (auto it = attachments_.begin(); it != attachments_.end();) {
    char name[IF_NAMESIZE] = {};
    auto next = std::next(it);
    if (if_indextoname(static_cast<unsigned>(it->second.ifindex()), name) == nullptr ||
        it->first != name) {
      lostInterface(it);
    }
    it = next;
  }
  for (const auto& ifname : std::vector<std::string>(state_.interfaces)) {
    if (!attachments_.count(ifname) && if_nametoindex(ifname.c_str()) != 0) {
      attachReturned(ifname);
    }
  }
}

EgressTable Controller::egressOf(const DesiredState& state) {
  std::map<int, std::string> attached;  // ifindex -> name
  for (const auto& [name, attachment] : attachments_) {
    attached[attachment.ifindex()] = name;
  }
  EgressTable egress;
  std::map<IpAddress, std::string> why;
  for (const auto& vip : state.vips) {
    if (vip.mode != ForwardingMode::kDr) {
      continue;
    }
    for (const auto& b : vip.backends) {
      const IpAddress& addr = b.endpoint.addr;
      if (egress.count(addr)) {
        continue;
      }
      auto route = lookupRoute(addr);
      char name[IF_NAMESIZE] = {};
      std::string dev = route && if_indextoname(static_cast<unsigned>(route->ifindex), name)
                            ? std::string(name)
                            : "?";
      int ifindex = 0;
      if (!route) {
        why[addr] = route.error();
      } else if (route->local) {
        why[addr] = "an address of the gateway itself";
      } else if (route->viaGateway) {
        why[addr] = fmt::format("routed through a gateway on {}: not on an attached segment", dev);
      } else if (!attached.count(route->ifindex)) {
        why[addr] = fmt::format("on {}, which lb4 is not attached to", dev);
      } else {
        ifindex = route->ifindex;
      }
      egress[addr] = ifindex;
    }
  }
  for (const auto& [addr, reason] : why) {
    auto old = unreachable_.find(addr);
    if (old == unreachable_.end() || old->second != reason) {
      spdlog::warn("backend {}: unreachable for direct routing ({}); it gets no traffic",
                   addr.toString(), reason);
    }
  }
  for (const auto& [addr, reason] : unreachable_) {
    if (!why.count(addr) && egress.count(addr)) {
      spdlog::info("backend {}: reachable again", addr.toString());
    }
  }
  unreachable_ = std::move(why);
  return egress;
}

void Controller::routesChanged() {
  if (routeArmed_ || !dataplane_) {
    return;
  }
  routeArmed_ = true;
  routeTimer_.expires_after(kRouteSettle);
  routeTimer_.async_wait([this](const asio::error_code& ec) {
    routeArmed_ = false;
    if (!ec) {
      reapply("follow a route change");
    }
  });
}

nlohmann::json Controller::markUnreachable(nlohmann::json rows) const {
  for (auto& row : rows) {
    const VipConfig* vip = nullptr;
    for (const auto& v : state_.vips) {
      if (v.key.toString() == row.value("vip", "")) {
        vip = &v;
      }
    }
    if (!vip || vip->mode != ForwardingMode::kDr) {
      continue;
    }
    for (const auto& b : vip->backends) {
      if (b.endpoint.toString() != row.value("backend", "")) {
        continue;
      }
      auto u = unreachable_.find(b.endpoint.addr);
      row["reachable"] = u == unreachable_.end();
      if (u != unreachable_.end()) {
        row["unreachable"] = u->second;
      }
    }
  }
  return rows;
}

DaemonStatus Controller::status() const {
  DaemonStatus st{.version = PROJECT_VERSION_STRING,
                  .stateFile = config_.stateFile,
                  .uptimeS = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now() - started_)
                                 .count(),
                  .adopted = dataplane_ != nullptr && dataplane_->adopted(),
                  .interfaces = {},
                  .unresolvedMacs = neighbours_.pendingCount(),
                  .bgp = announcer_ ? announcer_->status() : BgpStatus{},
                  .servable = {},
                  .maps = {}};
  for (const auto& addr : servableAddresses(state_, applied_, allDown_, !attachments_.empty())) {
    st.servable.push_back(hostPrefix(addr));
  }
  if (dataplane_) {
    if (auto maps = dataplane_->mapMemory()) {
      for (const auto& m : *maps) {
        st.maps.push_back(
            MapInfo{.name = m.name, .entries = m.maxEntries, .memlockBytes = m.memlock});
      }
    }
  }
  auto et = Ethtool::open();
  for (const auto& name : state_.interfaces) {
    auto it = attachments_.find(name);
    if (it == attachments_.end()) {
      st.interfaces.push_back(AttachmentInfo{.interface = name,
                                             .pinDir = dataplane_ ? dataplane_->pinDir() : "",
                                             .mode = "",
                                             .method = "",
                                             .state = "missing",
                                             .rxVlanOffload = std::nullopt});
      continue;
    }
    st.interfaces.push_back(
        AttachmentInfo{.interface = name,
                       .pinDir = dataplane_ ? dataplane_->pinDir() : "",
                       .mode = xdpModeName(it->second.mode()),
                       .method = it->second.method(),
                       .state = "attached",
                       .rxVlanOffload = et ? rxVlanOffload(*et, name) : std::nullopt});
  }
  return st;
}

Result<nlohmann::json> Controller::attach(const Request& req) {
  DesiredState next = state_;
  if (auto r = next.addInterface(*req.interface); !r) {
    return std::move(r).takeError();
  }
  bool opened = false;
  if (!dataplane_) {
    if (auto r = openDataplane(); !r) {
      return makeError("attach {}: {}", *req.interface, r.error());
    }
    opened = true;
    if (auto r = syncKernel(*dataplane_, applied_, nullptr); !r) {
      closeDataplane(true);
      return makeError("attach {}: {}", *req.interface, r.error());
    }
  }
  bool adopted = dataplane_->adopted();
  auto attachment = attachInterface(*req.interface, req.generic.value_or(true));
  if (!attachment) {
    if (opened) {
      closeDataplane(!adopted);
    }
    return std::move(attachment).takeError();
  }
  if (auto r = saveState(next, config_.stateFile); !r) {
    (void)attachment->detach();
    (void)dataplane_->deleteTxPort(static_cast<uint32_t>(attachment->ifindex()));
    if (opened) {
      closeDataplane(!adopted);
    }
    return makeError("persist state: {}", r.error());
  }
  nlohmann::json result = renderAttach(AttachmentInfo{.interface = *req.interface,
                                                      .pinDir = dataplane_->pinDir(),
                                                      .mode = xdpModeName(attachment->mode()),
                                                      .method = attachment->method(),
                                                      .state = "attached",
                                                      .rxVlanOffload = std::nullopt});
  attachments_.emplace(*req.interface, std::move(*attachment));
  state_ = std::move(next);
  announce();
  reapply("attach");
  return result;
}

Result<nlohmann::json> Controller::detach(const Request& req) {
  DesiredState next = state_;
  if (auto r = next.delInterface(*req.interface); !r) {
    return std::move(r).takeError();
  }
  if (auto r = saveState(next, config_.stateFile); !r) {
    return makeError("persist state: {}", r.error());
  }
  state_ = std::move(next);
  auto it = attachments_.find(*req.interface);
  if (it != attachments_.end()) {
    uint32_t ifindex = static_cast<uint32_t>(it->second.ifindex());
    if (auto r = it->second.detach(); !r) {
      spdlog::warn("detach {}: {}", *req.interface, r.error());
    }
    if (dataplane_) {
      (void)dataplane_->deleteTxPort(ifindex);
    }
    attachments_.erase(it);
  }
  // The maps go with the last interface, as they came with the first (a
  // missing interface still counts: it is attached again when it returns).
  if (state_.interfaces.empty()) {
    closeDataplane(true);
  }
  announce();
  spdlog::info("detached from {}", *req.interface);
  return nlohmann::json{{"interface", *req.interface}};
}

}  // namespace lb4
