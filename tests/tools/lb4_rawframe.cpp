// lb4-rawframe: VLAN-tagged frames for lb4's namespace tests, where the
// kernel may have no 802.1Q devices to make them with.
//   send   N TCP SYNs to ADDR:PORT, each from its own source port, as
//          Ethernet frames tagged with a VLAN id, to a given MAC;
//   count  for a while, the IPv4 frames from SRC to ADDR:PORT addressed to this
//          interface's own MAC, tagged (inline or as the driver's metadata,
//          PACKET_AUXDATA) and untagged; prints JSON.
// Every loop is bounded in count and time.
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>
#include <iostream>

#include "tests/common/packet_builder.h"
#include "userspace/common/net.h"
#include "userspace/common/unique_fd.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Link {
  lb4::UniqueFd fd;
  int ifindex = 0;
  lb4::MacAddress mac{};
};

// A raw packet socket bound to `ifname`, with that interface's MAC.
bool openLink(const std::string& ifname, Link& link) {
  link.fd = lb4::UniqueFd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  link.ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!link.fd || link.ifindex == 0 || ifname.size() >= IFNAMSIZ) {
    std::cerr << "lb4-rawframe: " << ifname << ": " << std::strerror(errno) << "\n";
    return false;
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  if (::ioctl(link.fd.get(), SIOCGIFHWADDR, &ifr) != 0) {
    std::cerr << "lb4-rawframe: " << ifname << ": " << std::strerror(errno) << "\n";
    return false;
  }
  std::memcpy(link.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = link.ifindex;
  if (::bind(link.fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
    std::cerr << "lb4-rawframe: bind " << ifname << ": " << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

int sendSyns(const Link& link, const lb4::MacAddress& dst, int vlan, const std::string& from,
             const lb4::ServiceKey& to, int count) {
  for (int i = 0; i < count; ++i) {
    lb4::test::PacketBuilder p;
    p.eth(link.mac, dst);
    if (vlan > 0) {
      p.vlan(static_cast<uint16_t>(vlan));
    }
    auto frame =
        p.ipv4(from, to.addr.toString()).tcp(static_cast<uint16_t>(41000 + i), to.port).build();
    if (::send(link.fd.get(), frame.data(), frame.size(), 0) !=
        static_cast<ssize_t>(frame.size())) {
      std::cerr << "lb4-rawframe: send: " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  std::cout << "{\"sent\":" << count << "}" << std::endl;
  return 0;
}

int countFrames(const Link& link, const std::string& from, const lb4::ServiceKey& to,
                int durationMs) {
  auto src = lb4::IpAddress::parse(from);
  if (!src || src->family != lb4::Family::kIpv4) {
    std::cerr << "lb4-rawframe: --from: an IPv4 address\n";
    return 2;
  }
  int on = 1;
  ::setsockopt(link.fd.get(), SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on));
  std::cout << "listening" << std::endl;
  auto vip = to.toAbi();
  int tagged = 0;
  int untagged = 0;
  int otherVlan = 0;
  auto deadline = Clock::now() + std::chrono::milliseconds(durationMs);
  for (int n = 0; n < 100000 && Clock::now() < deadline; ++n) {
    pollfd pfd{link.fd.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) {
      continue;
    }
    uint8_t buf[2048];
    alignas(cmsghdr) char control[256];
    iovec iov{buf, sizeof(buf)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t len = ::recvmsg(link.fd.get(), &msg, 0);
    if (len < 14 || std::memcmp(buf, link.mac.data(), 6) != 0) {
      continue;  // too short, or not addressed to this interface
    }
    int vid = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
        tpacket_auxdata aux;
        std::memcpy(&aux, CMSG_DATA(c), sizeof(aux));
        if (aux.tp_status & TP_STATUS_VLAN_VALID) {
          vid = aux.tp_vlan_tci & 0x0fff;
        }
      }
    }
    size_t off = 12;
    uint16_t type = static_cast<uint16_t>(buf[off] << 8 | buf[off + 1]);
    if ((type == 0x8100 || type == 0x88a8) && len >= 18) {
      vid = (buf[14] << 8 | buf[15]) & 0x0fff;
      off += 4;
      type = static_cast<uint16_t>(buf[off] << 8 | buf[off + 1]);
    }
    size_t ip = off + 2;
    if (type != 0x0800 || static_cast<size_t>(len) < ip + 24) {
      continue;
    }
    size_t l4 = ip + (buf[ip] & 0x0f) * 4u;
    uint16_t dport = static_cast<uint16_t>(buf[l4 + 2] << 8 | buf[l4 + 3]);
    if (std::memcmp(&buf[ip + 16], vip.addr, 4) != 0 || buf[ip + 9] != 6 || dport != to.port ||
        std::memcmp(&buf[ip + 12], src->bytes.data(), 4) != 0) {
      continue;
    }
    if (vid < 0) {
      ++untagged;
    } else {
      ++tagged;
      otherVlan += vid != 10 ? 1 : 0;
    }
  }
  std::cout << "{\"tagged\":" << tagged << ",\"untagged\":" << untagged
            << ",\"tagged_not_vlan_10\":" << otherVlan << "}" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lb4-rawframe - VLAN-tagged frames for lb4's namespace tests"};
  app.require_subcommand(1);
  std::string ifname = "eth0";
  std::string toText;
  std::string dstMac;
  std::string from;
  int vlan = 10;
  int count = 20;
  int durationMs = 2000;
  auto* sendCmd = app.add_subcommand("send", "TCP SYNs in tagged frames");
  sendCmd->add_option("--iface", ifname);
  sendCmd->add_option("--dst-mac", dstMac)->required();
  sendCmd->add_option("--from", from)->required();
  sendCmd->add_option("--to", toText, "ADDR:PORT/tcp")->required();
  sendCmd->add_option("--vlan", vlan, "0: untagged")->check(CLI::Range(0, 4094));
  sendCmd->add_option("--count", count)->check(CLI::Range(1, 10000));
  auto* countCmd = app.add_subcommand("count", "count frames to ADDR:PORT, tagged or not");
  countCmd->add_option("--iface", ifname);
  countCmd->add_option("--from", from, "only frames from this source")->required();
  countCmd->add_option("--to", toText, "ADDR:PORT/tcp")->required();
  countCmd->add_option("--duration-ms", durationMs)->check(CLI::Range(1, 60000));
  CLI11_PARSE(app, argc, argv);

  auto to = lb4::ServiceKey::parse(toText);
  if (!to || to->addr.family != lb4::Family::kIpv4) {
    std::cerr << "lb4-rawframe: --to: an IPv4 ADDR:PORT/tcp\n";
    return 2;
  }
  Link link;
  if (!openLink(ifname, link)) {
    return 1;
  }
  if (sendCmd->parsed()) {
    auto mac = lb4::parseMac(dstMac);
    if (!mac) {
      std::cerr << "lb4-rawframe: --dst-mac: " << mac.error() << "\n";
      return 2;
    }
    return sendSyns(link, *mac, vlan, from, *to, count);
  }
  return countFrames(link, from, *to, durationMs);
}
