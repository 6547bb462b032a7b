#include "userspace/daemon/neighbour.h"

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "userspace/common/unique_fd.h"

namespace lb4 {

bool usableNeighbourState(uint16_t state) {
  return state != 0 && !(state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP));
}

Result<std::optional<NeighbourEntry>> lookupNeighbour(const IpAddress& addr,
                                                      const std::set<int>& ifindexes) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) {
    return makeError("open netlink socket: {}", std::strerror(errno));
  }
  struct {
    nlmsghdr hdr;
    ndmsg msg;
  } req{};
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  req.hdr.nlmsg_type = RTM_GETNEIGH;
  req.hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.hdr.nlmsg_seq = 1;
  req.msg.ndm_family = addr.family == Family::kIpv4 ? AF_INET : AF_INET6;
  if (::send(fd.get(), &req, req.hdr.nlmsg_len, 0) < 0) {
    return makeError("dump neighbour table: {}", std::strerror(errno));
  }
  const size_t addrLen = addr.family == Family::kIpv4 ? 4 : 16;
  std::optional<NeighbourEntry> found;
  std::vector<char> buf(64 * 1024);
  while (true) {
    ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return makeError("read neighbour table: {}", std::strerror(errno));
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        return found;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* err = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        return makeError("read neighbour table: {}", std::strerror(-err->error));
      }
      if (h->nlmsg_type != RTM_NEWNEIGH) {
        continue;
      }
      auto* nd = static_cast<ndmsg*>(NLMSG_DATA(h));
      if (!usableNeighbourState(nd->ndm_state) || !ifindexes.count(nd->ndm_ifindex)) {
        continue;
      }
      const uint8_t* dst = nullptr;
      const uint8_t* lladdr = nullptr;
      int attrLen = static_cast<int>(RTM_PAYLOAD(h));
      for (auto* a = RTM_RTA(nd); RTA_OK(a, attrLen); a = RTA_NEXT(a, attrLen)) {
        if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == addrLen) {
          dst = static_cast<const uint8_t*>(RTA_DATA(a));
        } else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
          lladdr = static_cast<const uint8_t*>(RTA_DATA(a));
        }
      }
      if (dst && lladdr && std::memcmp(dst, addr.bytes.data(), addrLen) == 0) {
        bool stale = nd->ndm_state & NUD_STALE;
        if (!found || (!stale && (found->state & NUD_STALE))) {
          NeighbourEntry e;
          std::memcpy(e.mac.data(), lladdr, 6);
          e.ifindex = nd->ndm_ifindex;
          e.state = nd->ndm_state;
          found = e;
        }
      }
    }
  }
}

Result<RouteInfo> lookupRoute(const IpAddress& addr) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) {
    return makeError("open netlink socket: {}", std::strerror(errno));
  }
  const size_t addrLen = addr.family == Family::kIpv4 ? 4 : 16;
  struct {
    nlmsghdr hdr;
    rtmsg msg;
    char attrs[64];
  } req{};
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  req.hdr.nlmsg_type = RTM_GETROUTE;
  req.hdr.nlmsg_flags = NLM_F_REQUEST;
  req.hdr.nlmsg_seq = 1;
  req.msg.rtm_family = addr.family == Family::kIpv4 ? AF_INET : AF_INET6;
  req.msg.rtm_dst_len = static_cast<unsigned char>(addrLen * 8);
  auto* rta =
      reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.hdr.nlmsg_len));
  rta->rta_type = RTA_DST;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(addrLen));
  std::memcpy(RTA_DATA(rta), addr.bytes.data(), addrLen);
  req.hdr.nlmsg_len = NLMSG_ALIGN(req.hdr.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  if (::send(fd.get(), &req, req.hdr.nlmsg_len, 0) < 0) {
    return makeError("look up the route to {}: {}", addr.toString(), std::strerror(errno));
  }
  std::vector<char> buf(16 * 1024);
  ssize_t n;
  do {
    n = ::recv(fd.get(), buf.data(), buf.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return makeError("look up the route to {}: {}", addr.toString(), std::strerror(errno));
  }
  int len = static_cast<int>(n);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
       h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      auto* err = static_cast<nlmsgerr*>(NLMSG_DATA(h));
      return makeError("no route to {}: {}", addr.toString(), std::strerror(-err->error));
    }
    if (h->nlmsg_type != RTM_NEWROUTE) {
      continue;
    }
    auto* rt = static_cast<rtmsg*>(NLMSG_DATA(h));
    RouteInfo info;
    info.local = rt->rtm_type == RTN_LOCAL;
    int attrLen = static_cast<int>(RTM_PAYLOAD(h));
    for (auto* a = RTM_RTA(rt); RTA_OK(a, attrLen); a = RTA_NEXT(a, attrLen)) {
      if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == sizeof(int)) {
        std::memcpy(&info.ifindex, RTA_DATA(a), sizeof(int));
      } else if (a->rta_type == RTA_GATEWAY || a->rta_type == RTA_VIA) {
        info.viaGateway = true;
      }
    }
    return info;
  }
  return makeError("look up the route to {}: no answer", addr.toString());
}

void solicitNeighbour(const IpAddress& addr) {
  int af = addr.family == Family::kIpv4 ? AF_INET : AF_INET6;
  UniqueFd fd(::socket(af, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return;
  }
  constexpr uint16_t kDiscardPort = 9;
  if (af == AF_INET) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kDiscardPort);
    std::memcpy(&sa.sin_addr, addr.bytes.data(), 4);
    ::sendto(fd.get(), "", 0, 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(kDiscardPort);
    std::memcpy(&sa.sin6_addr, addr.bytes.data(), 16);
    ::sendto(fd.get(), "", 0, 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
}

}  // namespace lb4
