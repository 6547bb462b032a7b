#include "userspace/daemon/rtnl_monitor.h"

#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lb4 {

RtnlMonitor::RtnlMonitor(asio::any_io_executor executor)
    : socket_(std::move(executor)), buf_(64 * 1024) {}

Status RtnlMonitor::open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) {
    return makeError("open rtnetlink socket: {}", std::strerror(errno));
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_NEIGH | RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE |
                 RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    int err = errno;
    ::close(fd);
    return makeError("subscribe to rtnetlink neighbour and link events: {}", std::strerror(err));
  }
  int size = 1 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  socket_.assign(fd);
  read();
  return {};
}

void RtnlMonitor::stop() {
  asio::error_code ec;
  socket_.close(ec);
}

void RtnlMonitor::read() {
  socket_.async_read_some(asio::buffer(buf_), [this](const asio::error_code& ec, size_t n) {
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
      return;
    }
    if (ec) {
      if (ec.value() == ENOBUFS) {
        spdlog::warn("rtnetlink events were lost; re-reading the neighbour and link tables");
        if (resync_) {
          resync_();
        }
      } else {
        spdlog::warn("read rtnetlink events: {}", ec.message());
      }
    } else {
      dispatch(n);
    }
    if (socket_.is_open()) {
      read();
    }
  });
}

void RtnlMonitor::dispatch(size_t n) {
  int len = static_cast<int>(n);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf_.data()); NLMSG_OK(h, len);
       h = NLMSG_NEXT(h, len)) {
    if ((h->nlmsg_type == RTM_NEWNEIGH || h->nlmsg_type == RTM_DELNEIGH) && neighbour_) {
      auto* nd = static_cast<ndmsg*>(NLMSG_DATA(h));
      if (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) {
        continue;
      }
      size_t addrLen = nd->ndm_family == AF_INET ? 4 : 16;
      NeighbourEvent ev;
      ev.deleted = h->nlmsg_type == RTM_DELNEIGH;
      ev.ifindex = nd->ndm_ifindex;
      ev.state = nd->ndm_state;
      ev.addr.family = nd->ndm_family == AF_INET ? Family::kIpv4 : Family::kIpv6;
      bool haveDst = false;
      int attrLen = static_cast<int>(RTM_PAYLOAD(h));
      for (auto* a = RTM_RTA(nd); RTA_OK(a, attrLen); a = RTA_NEXT(a, attrLen)) {
        if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == addrLen) {
          std::memcpy(ev.addr.bytes.data(), RTA_DATA(a), addrLen);
          haveDst = true;
        } else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
          MacAddress mac;
          std::memcpy(mac.data(), RTA_DATA(a), 6);
          ev.mac = mac;
        }
      }
      if (haveDst) {
        neighbour_(ev);
      }
    } else if ((h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE ||
                h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) &&
               route_) {
      route_();
    } else if ((h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) && link_) {
      auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
      LinkEvent ev;
      ev.deleted = h->nlmsg_type == RTM_DELLINK;
      ev.ifindex = ifi->ifi_index;
      int attrLen = static_cast<int>(IFLA_PAYLOAD(h));
      for (auto* a = IFLA_RTA(ifi); RTA_OK(a, attrLen); a = RTA_NEXT(a, attrLen)) {
        if (a->rta_type == IFLA_IFNAME) {
          ev.name.assign(static_cast<const char*>(RTA_DATA(a)),
                         strnlen(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a)));
        } else if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) {
          MacAddress mac;
          std::memcpy(mac.data(), RTA_DATA(a), 6);
          ev.mac = mac;
        }
      }
      link_(ev);
    }
  }
}

}  // namespace lb4
