// Frames of the direct-routing path probe; see path_probe.h.
#include "userspace/health/path_probe.h"

#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>

namespace lb4 {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpAck = 0x10;
constexpr size_t kEthLen = 14;
constexpr size_t kTcpLen = 24;  // 20 + the MSS option

void put16(std::vector<uint8_t>& out, size_t at, uint16_t v) {
  out[at] = static_cast<uint8_t>(v >> 8);
  out[at + 1] = static_cast<uint8_t>(v);
}
void put32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
  put16(out, at, static_cast<uint16_t>(v >> 16));
  put16(out, at + 2, static_cast<uint16_t>(v));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// One's-complement sum of 16-bit big-endian words.
uint32_t sum16(const uint8_t* p, size_t len, uint32_t sum) {
  for (size_t i = 0; i + 1 < len; i += 2) {
    sum += get16(p + i);
  }
  if (len % 2) {
    sum += static_cast<uint32_t>(p[len - 1]) << 8;
  }
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(~sum);
}

size_t addrLen(Family family) { return family == Family::kIpv4 ? 4 : 16; }

}  // namespace

std::vector<uint8_t> buildTcpSyn(const PathHop& hop, const Endpoint& vip, uint16_t srcPort,
                                 uint32_t seq) {
  bool v4 = vip.addr.family == Family::kIpv4;
  size_t ipLen = v4 ? 20 : 40;
  size_t alen = addrLen(vip.addr.family);
  std::vector<uint8_t> f(kEthLen + ipLen + kTcpLen, 0);
  std::memcpy(f.data(), hop.dstMac.data(), 6);
  std::memcpy(f.data() + 6, hop.srcMac.data(), 6);
  put16(f, 12, v4 ? kEtherIpv4 : kEtherIpv6);
  size_t ip = kEthLen;
  size_t srcAt = v4 ? ip + 12 : ip + 8;
  size_t dstAt = srcAt + alen;
  if (v4) {
    f[ip] = 0x45;
    put16(f, ip + 2, static_cast<uint16_t>(ipLen + kTcpLen));
    put16(f, ip + 6, 0x4000);  // don't fragment
    f[ip + 8] = 64;
    f[ip + 9] = IPPROTO_TCP;
  } else {
    f[ip] = 0x60;
    put16(f, ip + 4, static_cast<uint16_t>(kTcpLen));
    f[ip + 6] = IPPROTO_TCP;
    f[ip + 7] = 64;
  }
  std::memcpy(f.data() + srcAt, hop.srcAddr.bytes.data(), alen);
  std::memcpy(f.data() + dstAt, vip.addr.bytes.data(), alen);
  if (v4) {
    put16(f, ip + 10, fold(sum16(f.data() + ip, ipLen, 0)));
  }
  size_t tcp = ip + ipLen;
  put16(f, tcp, srcPort);
  put16(f, tcp + 2, vip.port);
  put32(f, tcp + 4, seq);
  f[tcp + 12] = (kTcpLen / 4) << 4;
  f[tcp + 13] = kTcpSyn;
  put16(f, tcp + 14, 64240);
  f[tcp + 20] = 2;  // MSS
  f[tcp + 21] = 4;
  put16(f, tcp + 22, v4 ? 1460 : 1440);
  // Pseudo-header: both addresses, protocol, TCP length.
  uint32_t sum = sum16(f.data() + srcAt, 2 * alen, 0);
  sum += IPPROTO_TCP + kTcpLen;
  put16(f, tcp + 16, fold(sum16(f.data() + tcp, kTcpLen, sum)));
  return f;
}

std::optional<PathReply> parsePathReply(const uint8_t* frame, size_t len, const Endpoint& vip,
                                        const IpAddress& local, uint16_t srcPort) {
  bool v4 = vip.addr.family == Family::kIpv4;
  size_t alen = addrLen(vip.addr.family);
  if (len < kEthLen + 20 || get16(frame + 12) != (v4 ? kEtherIpv4 : kEtherIpv6)) {
    return std::nullopt;
  }
  const uint8_t* ip = frame + kEthLen;
  size_t rest = len - kEthLen;
  size_t ipLen = 0;
  const uint8_t* src = nullptr;
  if (v4) {
    ipLen = static_cast<size_t>(ip[0] & 0x0f) * 4;
    if ((ip[0] >> 4) != 4 || ipLen < 20 || ip[9] != IPPROTO_TCP || (get16(ip + 6) & 0x1fff)) {
      return std::nullopt;  // not TCP, or a later fragment
    }
    src = ip + 12;
  } else {
    ipLen = 40;
    if (rest < ipLen || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_TCP) {
      return std::nullopt;  // extension headers are not followed: replies carry none
    }
    src = ip + 8;
  }
  if (rest < ipLen + 20 || std::memcmp(src, vip.addr.bytes.data(), alen) != 0 ||
      std::memcmp(src + alen, local.bytes.data(), alen) != 0) {
    return std::nullopt;
  }
  const uint8_t* tcp = ip + ipLen;
  if (get16(tcp) != vip.port || get16(tcp + 2) != srcPort) {
    return std::nullopt;
  }
  uint8_t flags = tcp[13];
  if (flags & kTcpRst) {
    return PathReply::kReset;
  }
  if ((flags & (kTcpSyn | kTcpAck | kTcpFin)) == (kTcpSyn | kTcpAck)) {
    return PathReply::kSynAck;
  }
  return std::nullopt;
}

Result<PathHop> interfaceHop(int ifindex, Family family) {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) {
    return makeError("interface {}: {}", ifindex, std::strerror(errno));
  }
  ifaddrs* raw = nullptr;
  if (getifaddrs(&raw) != 0) {
    return makeError("getifaddrs: {}", std::strerror(errno));
  }
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> list(raw, freeifaddrs);
  PathHop hop{.ifindex = ifindex};
  bool haveMac = false;
  bool haveAddr = false;
  bool linkLocal = false;
  for (const ifaddrs* a = list.get(); a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || std::strcmp(a->ifa_name, name) != 0) {
      continue;
    }
    int af = a->ifa_addr->sa_family;
    if (af == AF_PACKET) {
      const auto* ll = reinterpret_cast<const sockaddr_ll*>(a->ifa_addr);
      if (ll->sll_halen == 6) {
        std::memcpy(hop.srcMac.data(), ll->sll_addr, 6);
        haveMac = true;
      }
    } else if (af == AF_INET && family == Family::kIpv4 && !haveAddr) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      hop.srcAddr.family = Family::kIpv4;
      std::memcpy(hop.srcAddr.bytes.data(), &in->sin_addr, 4);
      haveAddr = true;
    } else if (af == AF_INET6 && family == Family::kIpv6 && (!haveAddr || linkLocal)) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      bool ll = IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr);
      if (haveAddr && ll) {
        continue;
      }
      hop.srcAddr.family = Family::kIpv6;
      std::memcpy(hop.srcAddr.bytes.data(), &in6->sin6_addr, 16);
      haveAddr = true;
      linkLocal = ll;
    }
  }
  if (!haveMac) {
    return makeError("interface {}: no Ethernet address", name);
  }
  if (!haveAddr) {
    return makeError("interface {}: no {} address to send from", name,
                     family == Family::kIpv4 ? "IPv4" : "IPv6");
  }
  return hop;
}

}  // namespace lb4
