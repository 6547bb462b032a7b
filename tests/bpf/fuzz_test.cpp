// XDP fuzzer: random and mutated frames through the lb4 program
// (BPF_PROG_TEST_RUN) with a real configuration loaded (a YAML config parsed
// by lb4's config parser, turned into maps and Maglev rings like the
// daemon does). Starting points are valid IPv4/IPv6 TCP/UDP/ICMP frames to
// VIPs, VIP addresses on other ports, all-ports VIPs, other addresses and
// backends; mutations flip bytes, truncate, extend, set odd IHL, lengths,
// versions, ethertypes, protocols and fragment bits, and add VLAN tags, with
// or without fixing up checksums afterwards. Checked for every frame:
//   - the action is PASS, DROP, TX or REDIRECT (never ABORTED or other);
//   - a frame not addressed to a VIP comes out byte-identical (PASS);
//   - a forwarded frame is a well-formed TCP/UDP datagram (lengths agree
//     with the frame, not a fragment), its IPv4 header and L4 checksums are
//     valid whenever they were valid on input (computed here, independently),
//     it goes to an enabled backend of the VIP it was sent to (destination
//     MAC), and one flow always goes to the same backend;
//   - every drop is counted under exactly one reason, and nothing else is.
//
// NAT services are included (the test runs in a namespace of its own with a
// route and neighbours to the NAT backends, so translated frames are
// redirected and checked: backend address and port, client side unchanged,
// checksums). CTest runs a fixed seed and 100k frames. For a long run:
//   LB4_FUZZ_PACKETS=10000000 LB4_FUZZ_SEED=$RANDOM
//     build/tests/bpf/lb4_bpf_fuzz_tests --gtest_filter='XdpFuzz*'
// (both variables on the command line of the test binary).
// Failing frames are printed as hex; they become regression tests in
// fuzz_regression_test.cpp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>

#include "common/packet_builder.h"
#include "common/test_addresses.h"
#include "fuzz_model.h"
#include "userspace/config/config.h"
#include "userspace/dataplane/dataplane.h"
#include "userspace/maglev/maglev.h"
#include "xdp_fixture.h"

namespace lb4::test {
namespace {

using fuzz::Layers;
using fuzz::layersOf;

// A deterministic, seedable generator (splitmix64): frame i of seed s is
// the same on every machine and can be rebuilt alone.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
  bool chance(uint32_t percent) { return below(100) < percent; }
  uint8_t byte() { return static_cast<uint8_t>(next()); }

 private:
  uint64_t s_;
};

uint64_t envOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

// The configuration under test: DR services on both families and both
// protocols, an all-ports VIP, a VIP without backends, a backend with
// weight 0, a drained one and one whose MAC is unknown (disabled).
constexpr const char* kFuzzConfig = R"(
vips:
  - vip: 198.18.1.1:80/tcp
    ring_size: 251
    backends:
      - {address: 198.18.2.1, mac: "02:00:00:00:02:01"}
      - {address: 198.18.2.2, mac: "02:00:00:00:02:02", weight: 50}
      - {address: 198.18.2.3, mac: "02:00:00:00:02:03", weight: 0}
      - {address: 198.18.2.4}
  - vip: 198.18.1.1:53/udp
    ring_size: 13
    backends:
      - {address: 198.18.2.5, mac: "02:00:00:00:02:05"}
      - {address: 198.18.2.6, mac: "02:00:00:00:02:06"}
  - vip: 198.18.1.3/udp
    all_ports: true
    ring_size: 7
    backends:
      - {address: 198.18.2.7, mac: "02:00:00:00:02:07"}
  - vip: 198.18.1.4:443/tcp
    ring_size: 13
  - vip: "[2001:db8:1::1]:80/tcp"
    ring_size: 251
    backends:
      - {address: "2001:db8:2::1", mac: "02:00:00:00:03:01"}
      - {address: "2001:db8:2::2", mac: "02:00:00:00:03:02", weight: 200}
  - vip: "[2001:db8:1::1]:53/udp"
    ring_size: 13
    backends:
      - {address: "2001:db8:2::3", mac: "02:00:00:00:03:03"}
  - vip: "[2001:db8:1::3]/tcp"
    all_ports: true
    ring_size: 7
    backends:
      - {address: "2001:db8:2::4", mac: "02:00:00:00:03:04"}
#NAT
)";

#ifdef LB4_MODE_NAT
// NAT services: destination address and port translated. Where the frame
// goes next depends on the FIB of the namespace the test runs in (usually
// no route: dropped as DROP_FIB, or left to the kernel translated).
constexpr const char* kFuzzNatConfig = R"(
  - vip: 198.18.1.5:80/tcp
    mode: nat
    ring_size: 13
    backends:
      - {address: "198.18.3.1:8080"}
      - {address: "198.18.3.2"}
  - vip: 198.18.1.5:53/udp
    mode: nat
    ring_size: 13
    backends:
      - {address: "198.18.3.3:5353"}
  - vip: "[2001:db8:1::5]:443/tcp"
    mode: nat
    ring_size: 13
    backends:
      - {address: "[2001:db8:3::1]:8443"}
      - {address: "2001:db8:3::2", weight: 0}
)";
#endif

// The drop reasons among lb4_stats: the counters named drop_* (the
// LB4_STATS convention, LB4_DROP_x == -LB4_STAT_x).
bool isDropReason(uint32_t index) {
  return index < kStatNames.size() && kStatNames[index].starts_with("drop_");
}

std::string hex(const std::vector<uint8_t>& f) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : f) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::string addrKey(const uint8_t* addr, bool v6, uint8_t proto) {
  return std::string(reinterpret_cast<const char*>(addr), v6 ? 16 : 4) + char(v6) + char(proto);
}

// What the test knows about the loaded configuration.
struct Model {
  struct Vip {
    bool allPorts = false;
    bool hasBackends = false;
    bool nat = false;
    std::set<MacAddress> macs;                    // enabled backends in its ring (DR)
    std::map<std::string, uint16_t> natBackends;  // NAT: address bytes -> port (0 = the VIP's)
  };
  std::map<std::string, Vip> services;  // addrKey + port (host order, 0 = all ports)
  std::set<std::string> vipAddrs;       // addrKey of every VIP address and proto
  std::set<std::string> backendAddrs;   // addrKey of every backend (any proto)
  std::vector<std::string> v4Vips, v6Vips;
  std::vector<ServiceKey> keys;

  static std::string serviceKey(const std::string& addr, uint16_t port) {
    return addr + static_cast<char>(port >> 8) + static_cast<char>(port & 0xff);
  }
  // The service a well-parsed frame is for: exact port, then all-ports.
  const Vip* lookup(const Layers& x, uint16_t dport) const {
    std::string a = addrKey(x.dst, x.v6, x.proto);
    if (auto it = services.find(serviceKey(a, dport)); it != services.end()) {
      return &it->second;
    }
    auto it = services.find(serviceKey(a, 0));
    return it != services.end() && it->second.allPorts ? &it->second : nullptr;
  }
};

class XdpFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef LB4_MODE_NAT
    enterRoutedNamespace();
    if (HasFatalFailure()) {
      return;
    }
#endif
    auto dp = Dataplane::open({.pinDir = "", .conntrackSize = 4096});
    ASSERT_TRUE(dp.ok()) << dp.error();
    dp_ = std::move(*dp);
    XdpFixture::receiveOnLoopback(*dp_);
    std::string text = kFuzzConfig;
#ifdef LB4_MODE_NAT
    text.replace(text.find("#NAT"), 4, kFuzzNatConfig);
#endif
    auto cfg = parseConfig(text, "fuzz.yaml");
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    load(cfg->initial);
#ifdef LB4_MODE_NAT
    ASSERT_TRUE(dp_->addTxPort(if_nametoindex("fzb")).ok());
#endif
  }

  void TearDown() override {
    dp_.reset();
    if (home_ >= 0) {
      EXPECT_EQ(::setns(home_, CLONE_NEWNET), 0);
      ::close(home_);
      std::system(("ip netns del " + ns_).c_str());
    }
  }

  // NAT asks the FIB of the test's namespace for the next hop: run in a
  // namespace of our own with a route and neighbour entries to the NAT
  // backends, so translated frames are routed (XDP_REDIRECT) and checked.
  void enterRoutedNamespace() {
    ns_ = "lb4fz" + std::to_string(::getpid());
    std::string n = "ip -n " + ns_ + " ";
    std::string script = "set -e; ip netns del " + ns_ + " 2>/dev/null || true; ip netns add " +
                         ns_ + "; " + n + "link set lo up; " + n +
                         "link add fzb type veth peer name fzbp; " + n + "link set fzb up; " + n +
                         "link set fzbp up; " + n + "addr add 198.18.3.254/24 dev fzb; " + n +
                         "addr add 2001:db8:3::fe/64 dev fzb nodad; ";
    for (const char* b :
         {"198.18.3.1", "198.18.3.2", "198.18.3.3", "2001:db8:3::1", "2001:db8:3::2"}) {
      script += n + "neigh add " + b + " lladdr 02:00:00:00:04:01 dev fzb nud permanent; ";
    }
    script +=
        "ip netns exec " + ns_ + " sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1";
    ASSERT_EQ(std::system(script.c_str()), 0) << script;
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = ::open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(target, 0);
    ASSERT_EQ(::setns(target, CLONE_NEWNET), 0) << std::strerror(errno);
    ::close(target);
  }

  // Writes the state into the maps the way lb4d does: backends with a MAC
  // are enabled, rings built by Maglev from enabled backends with weight.
  void load(const DesiredState& state) {
    for (const auto& vip : state.vips) {
      lb4_vip_key key = vip.key.toAbi();
      bool v6 = vip.key.addr.family == Family::kIpv6;
      std::string a = addrKey(vip.key.addr.bytes.data(), v6, static_cast<uint8_t>(vip.key.proto));
      Model::Vip& mv = model_.services[Model::serviceKey(a, vip.key.port)];
      mv.allPorts = vip.key.port == 0;
      mv.nat = vip.mode != ForwardingMode::kDr;
      model_.vipAddrs.insert(a);
      model_.keys.push_back(vip.key);
      std::vector<MaglevBackend> inputs;
      for (const auto& b : vip.backends) {
        lb4_backend entry{};
        std::memcpy(entry.addr, b.endpoint.addr.bytes.data(), 16);
        if (b.mac) {
          std::memcpy(entry.mac, b.mac->data(), 6);
          entry.flags = LB4_BACKEND_F_ENABLED;
        }
#ifdef LB4_MODE_NAT
        if (mv.nat) {  // NAT backends need no MAC: the FIB gives the next hop
          entry.flags = LB4_BACKEND_F_ENABLED;
          lb4_vip_key natKey{};
          std::memcpy(natKey.addr, entry.addr, 16);
          natKey.proto = static_cast<uint8_t>(vip.key.proto);
          natKey.family = entry.family;
          auto st = dp_->addNatAddr(natKey);
          ASSERT_TRUE(st.ok()) << st.error();
        }
#endif
        entry.port = htons(b.endpoint.port);
        entry.family = static_cast<uint8_t>(b.endpoint.addr.family);
        entry.gen = b.gen;
        auto st = dp_->setBackend(b.id, entry);
        ASSERT_TRUE(st.ok()) << st.error();
        for (uint8_t proto : {fuzz::kTcp, fuzz::kUdp, uint8_t{1}, uint8_t{58}}) {
          model_.backendAddrs.insert(addrKey(b.endpoint.addr.bytes.data(), v6, proto));
        }
        if ((b.mac || mv.nat) && b.weight > 0 && !b.drained) {
          inputs.push_back({.id = b.id, .weight = b.weight, .key = b.endpoint.toString()});
          if (mv.nat) {
            mv.natBackends[std::string(reinterpret_cast<const char*>(b.endpoint.addr.bytes.data()),
                                       v6 ? 16 : 4)] = b.endpoint.port;
          } else {
            mv.macs.insert(*b.mac);
          }
        }
      }
      mv.hasBackends = !inputs.empty();
      if (!inputs.empty()) {
        auto st = dp_->setRing(vip.id, buildMaglevRing(inputs, vip.ringSize));
        ASSERT_TRUE(st.ok()) << st.error();
      }
      lb4_vip_value value{};
      value.vip_id = vip.id;
      value.ring_size = inputs.empty() ? 0 : vip.ringSize;
      value.mode = static_cast<uint8_t>(vip.mode);
      value.flags = vip.key.port == 0 ? LB4_VIP_F_ALL_PORTS : 0;
      auto st = dp_->upsertVip(key, value);
      ASSERT_TRUE(st.ok()) << st.error();
    }
  }

  // A valid frame: VLAN tags, IPv4 options and fragments are part of the
  // starting point; `valid` tells whether it is a plain TCP/UDP datagram.
  std::vector<uint8_t> generate(Rng& rng, bool& plain) {
    bool v6 = rng.chance(40);
    PacketBuilder p;
    p.eth(kClientMac, kGatewayMac);
    plain = true;
    uint32_t tags = rng.chance(85) ? 0 : rng.chance(80) ? 1 : 2;
    for (uint32_t i = 0; i < tags; ++i) {
      p.vlan(static_cast<uint16_t>(rng.below(4095) + 1), rng.chance(70) ? 0x8100 : 0x88a8);
    }
    plain = tags < 2;  // a second tag is not parsed: passed to the kernel

    // Destination: a service, a VIP address on another port, an all-ports
    // VIP, the VIP without backends, another address, a backend.
    const ServiceKey* service = nullptr;
    std::string dst;
    uint16_t dport = static_cast<uint16_t>(rng.below(65536));
    uint32_t kind = rng.below(100);
    std::vector<const ServiceKey*> family;
    for (const auto& k : model_.keys) {
      if ((k.addr.family == Family::kIpv6) == v6) {
        family.push_back(&k);
      }
    }
    if (kind < 60) {
      service = family[rng.below(static_cast<uint32_t>(family.size()))];
      dst = service->addr.toString();
      if (service->port != 0 && kind < 50) {
        dport = service->port;
      }
    } else if (kind < 80) {
      dst = v6 ? (rng.chance(50) ? kOtherV6 : kClientV6) : (rng.chance(50) ? kOtherV4 : kClientV4);
    } else if (kind < 90) {
      dst = v6 ? "2001:db8:2::1" : "198.18.2.1";
    } else {
      dst = v6 ? fmt::format("2001:db8:{:x}::{:x}", rng.below(4), rng.below(8))
               : fmt::format("198.18.{}.{}", rng.below(3), rng.below(8));
    }
    std::string src = v6 ? fmt::format("2001:db8::{:x}", rng.below(0xffff) + 1)
                         : fmt::format("198.18.0.{}", rng.below(254) + 1);
    if (rng.chance(5)) {
      src = v6 ? "2001:db8:2::1" : "198.18.2.1";  // from a backend
    }

    uint32_t protoPick = rng.below(100);
    uint8_t proto = protoPick < 45   ? fuzz::kTcp
                    : protoPick < 85 ? fuzz::kUdp
                    : protoPick < 95 ? (v6 ? 58 : 1)
                                     : rng.byte();
    if (service && protoPick < 85) {
      proto = static_cast<uint8_t>(service->proto);
    }
    if (v6) {
      p.ipv6(src, dst, proto == fuzz::kTcp || proto == fuzz::kUdp ? 0 : proto);
    } else {
      Ipv4Options o;
      if (rng.chance(10)) {
        o.ihl = static_cast<uint8_t>(6 + rng.below(10));
      }
      if (rng.chance(5)) {
        // First fragment, a later one, or DF.
        uint32_t f = rng.below(3);
        o.flagsFragment = f == 0   ? kIpMoreFragments
                          : f == 1 ? static_cast<uint16_t>(1 + rng.below(100))
                                   : 0x4000;
        plain = plain && f == 2;
      }
      if (proto != fuzz::kTcp && proto != fuzz::kUdp) {
        o.protocol = proto;
      }
      p.ipv4(src, dst, o);
    }
    uint16_t sport = static_cast<uint16_t>(rng.below(64512) + 1024);
    if (proto == fuzz::kTcp) {
      static const uint8_t flags[] = {kTcpSyn,           kTcpAck, kTcpAck | kTcpPsh,
                                      kTcpFin | kTcpAck, kTcpRst, kTcpSyn | kTcpAck};
      p.tcp(sport, dport, flags[rng.below(sizeof(flags))]);
    } else if (proto == fuzz::kUdp) {
      p.udp(sport, dport);
    } else {
      plain = false;
      // ICMP(v6) echo or destination-unreachable with part of an inner header.
      std::vector<uint8_t> icmp = {
          static_cast<uint8_t>(rng.chance(50) ? 3 : 8), 4, 0, 0, 0, 0, 0, 0};
      for (uint32_t i = 0, n = rng.below(48); i < n; ++i) {
        icmp.push_back(rng.byte());
      }
      p.payload(icmp);
    }
    uint32_t len = rng.chance(90) ? rng.below(64) : rng.below(1400);
    std::vector<uint8_t> payload(len);
    for (auto& b : payload) {
      b = rng.byte();
    }
    p.payload(payload);
    return p.build();
  }

  static void mutate(Rng& rng, std::vector<uint8_t>& f) {
    Layers x = layersOf(f);
    uint32_t n = 1 + rng.below(3);
    for (uint32_t m = 0; m < n; ++m) {
      switch (rng.below(12)) {
        case 0:  // flip bits
          for (uint32_t i = 0, k = 1 + rng.below(4); i < k; ++i) {
            f[rng.below(static_cast<uint32_t>(f.size()))] ^=
                static_cast<uint8_t>(1u << rng.below(8));
          }
          break;
        case 1:  // overwrite a header byte
          f[rng.below(static_cast<uint32_t>(std::min<size_t>(f.size(), 80)))] = rng.byte();
          break;
        case 2:  // truncate (the kernel refuses frames below an Ethernet header)
          f.resize(14 + rng.below(static_cast<uint32_t>(f.size() - 13)));
          break;
        case 3:  // extend
          for (uint32_t i = 0, k = 1 + rng.below(64); i < k; ++i) {
            f.push_back(rng.byte());
          }
          break;
        case 4:  // IHL / IP version nibble
          if (x.ipHeader) {
            f[x.l3] = rng.chance(50)
                          ? static_cast<uint8_t>((f[x.l3] & 0xf0) | rng.below(16))
                          : static_cast<uint8_t>((rng.below(16) << 4) | (f[x.l3] & 0x0f));
          }
          break;
        case 5:  // IP length field: random or off by a little
          if (x.ipHeader) {
            size_t off = x.l3 + (x.v6 ? 4 : 2);
            uint16_t v = fuzz::get16(f, off);
            fuzz::put16(f, off,
                        rng.chance(50) ? static_cast<uint16_t>(rng.next())
                                       : static_cast<uint16_t>(v + rng.below(9) - 4));
          }
          break;
        case 6:  // fragment bits
          if (x.ipHeader && !x.v6) {
            fuzz::put16(f, x.l3 + 6, static_cast<uint16_t>(rng.next()));
          }
          break;
        case 7:  // protocol / next header
          if (x.ipHeader) {
            static const uint8_t protos[] = {6, 17, 1, 58, 0, 43, 44, 60, 255};
            f[x.l3 + (x.v6 ? 6 : 9)] =
                rng.chance(80) ? protos[rng.below(sizeof(protos))] : rng.byte();
          }
          break;
        case 8: {  // ethertype (outer or inner)
          static const uint16_t types[] = {0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x9100};
          size_t off = x.l3 == 18 && rng.chance(50) ? 16 : 12;
          fuzz::put16(f, off,
                      rng.chance(80) ? types[rng.below(6)] : static_cast<uint16_t>(rng.next()));
          break;
        }
        case 9:  // insert a VLAN tag after the MACs
          f.insert(f.begin() + 12,
                   {static_cast<uint8_t>(rng.chance(50) ? 0x81 : 0x88),
                    static_cast<uint8_t>(rng.chance(50) ? 0x00 : 0xa8), rng.byte(), rng.byte()});
          break;
        case 10:  // TCP data offset / flags, UDP length
          if (x.complete && x.l4 + 14 <= f.size()) {
            f[x.l4 + (x.proto == fuzz::kTcp ? 12 : 4)] = rng.byte();
            f[x.l4 + (x.proto == fuzz::kTcp ? 13 : 5)] = rng.byte();
          }
          break;
        default:  // random garbage after the Ethernet header
          for (size_t i = 14; i < f.size() && i < 120; ++i) {
            if (rng.chance(30)) {
              f[i] = rng.byte();
            }
          }
          break;
      }
      x = layersOf(f);
    }
    if (rng.chance(50)) {
      fuzz::fixChecksums(f);
    }
  }

  // True when the frame is certainly not VIP traffic in either direction:
  // the destination is readable and not a VIP address, or the frame is
  // not IP at all. (Replies from backends are NAT's business.)
  bool notForVip(const std::vector<uint8_t>& f) const {
    Layers x = layersOf(f);
    if (x.l3 == 0) {
      return false;  // truncated VLAN tag: dropped (TRUNC_VLAN)
    }
    if (x.ethertype != 0x0800 && x.ethertype != 0x86dd) {
      return true;
    }
    if (!x.ipHeader) {
      return false;  // truncated IP header: dropped (TRUNC_IP)
    }
    for (uint8_t proto : {fuzz::kTcp, fuzz::kUdp}) {
      if (model_.vipAddrs.count(addrKey(x.dst, x.v6, proto))) {
        return false;
      }
    }
    return !model_.backendAddrs.count(addrKey(x.src, x.v6, fuzz::kTcp));
  }

  struct Counts {
    uint64_t frames = 0, pass = 0, drop = 0, tx = 0, redirect = 0, refused = 0;
    uint64_t l4LengthOdd = 0;    // forwarded with an odd UDP length / TCP offset
    uint64_t nat = 0;            // translated by NAT (any verdict)
    uint64_t natToKernel = 0;    // of which passed to the kernel
    uint64_t icmpForwarded = 0;  // ICMP errors sent on to a flow's backend
    std::map<uint32_t, uint64_t> dropReasons;
  };

  static std::string flowOf(const std::vector<uint8_t>& f, const Layers& x) {
    std::string flow(reinterpret_cast<const char*>(x.src), x.v6 ? 16 : 4);
    flow.append(reinterpret_cast<const char*>(x.dst), x.v6 ? 16 : 4);
    flow.append(reinterpret_cast<const char*>(&f[x.l4]), 4);
    flow.push_back(static_cast<char>(x.proto));
    return flow;
  }

  // Runs one frame and checks every invariant; returns a description of
  // the first violation, empty when there is none.
  std::string check(const std::vector<uint8_t>& in, bool plain, Counts& counts) {
    auto before = dp_->globalStats();
    if (!before.ok()) {
      return before.error();
    }
    std::vector<uint8_t> out = in;
    auto action = dp_->testRun(out);
    if (!action.ok()) {
      return action.error();
    }
    auto after = dp_->globalStats();
    if (!after.ok()) {
      return after.error();
    }
    ++counts.frames;
    uint64_t drops = 0;
    uint32_t reason = 0;
    for (uint32_t i = 0; i < LB4_STAT_MAX; ++i) {
      if (isDropReason(i) && (*after)[i] != (*before)[i]) {
        drops += (*after)[i] - (*before)[i];
        reason = i;
      }
    }
    auto delta = [&](uint32_t i) { return (*after)[i] - (*before)[i]; };
    Layers xin = layersOf(in);
    switch (*action) {
      case XDP_PASS:
        ++counts.pass;
#ifdef LB4_MODE_NAT
        if (delta(LB4_STAT_PASS) + delta(LB4_STAT_FWD_KERNEL) != 1) {
#else
        if (delta(LB4_STAT_PASS) != 1) {
#endif
          return "PASS not counted once";
        }
        break;
      case XDP_DROP:
        ++counts.drop;
        ++counts.dropReasons[reason];
        if (drops != 1) {
          return fmt::format("DROP counted under {} reasons", drops);
        }
        break;
      case XDP_TX:
        ++counts.tx;
        if (delta(LB4_STAT_TX) != 1) {
          return "TX not counted once";
        }
        break;
      case XDP_REDIRECT:
        ++counts.redirect;
#ifdef LB4_MODE_NAT
        if (delta(LB4_STAT_REDIRECT) != 1) {
          return "REDIRECT not counted once";
        }
#endif
        break;
      default:
        return fmt::format("action {}", *action);
    }
    if (*action != XDP_DROP && drops != 0) {
      return fmt::format("action {} but a drop reason ({}) was counted", *action, reason);
    }
    if (in.size() >= 6 && !std::equal(kGatewayMac.begin(), kGatewayMac.end(), in.begin()) &&
        (*action == XDP_TX || *action == XDP_REDIRECT || out != in)) {
      return fmt::format("frame not for the gateway's MAC forwarded or changed: action {}",
                         *action);
    }
    if (notForVip(in) && (*action != XDP_PASS || out != in)) {
      return fmt::format("frame not for a VIP: action {}, {}", *action,
                         out == in ? "unchanged" : "changed");
    }
    // NAT hands translated frames it cannot route itself to the kernel.
    const Model::Vip* natVip = nullptr;
    if (xin.complete && (xin.proto == fuzz::kTcp || xin.proto == fuzz::kUdp) && xin.l4len >= 8) {
      natVip = model_.lookup(xin, fuzz::get16(in, xin.l4 + 2));
      natVip = natVip && natVip->nat ? natVip : nullptr;
    }
    bool translated = *action == XDP_PASS && natVip && out != in;
    if (translated) {
      ++counts.natToKernel;
    }
    if (*action == XDP_PASS && out != in && !translated) {
      return "PASS changed a frame that is not for a NAT service";
    }
    if (*action == XDP_TX || *action == XDP_REDIRECT || translated) {
      if (auto why = fuzz::malformedForwarded(out); !why.empty()) {
        return "forwarded a malformed frame: " + why;
      }
      Layers xo = layersOf(out);
      if (fuzz::ipv4HeaderChecksumOk(in, xin) && !xo.v6 && !fuzz::ipv4HeaderChecksumOk(out, xo)) {
        return "IPv4 header checksum broken by the rewrite";
      }
      if (fuzz::l4ChecksumOk(in, xin) && !fuzz::l4ChecksumOk(out, xo)) {
        return "L4 checksum broken by the rewrite";
      }
      if (xo.proto == (xo.v6 ? 58 : 1)) {
        ++counts.icmpForwarded;  // its inner header named a VIP flow
        return {};
      }
      uint16_t dport = fuzz::get16(in, xin.l4 + 2);
      const Model::Vip* vip = xin.complete ? model_.lookup(xin, dport) : nullptr;
      MacAddress dstMac;
      std::memcpy(dstMac.data(), out.data(), 6);
      if (!vip) {
        return "forwarded a frame that is not for a configured service";
      }
      if (vip->nat) {
        std::string dst(reinterpret_cast<const char*>(xo.dst), xo.v6 ? 16 : 4);
        auto b = vip->natBackends.find(dst);
        if (b == vip->natBackends.end()) {
          return "NAT sent a frame to an address that is not an enabled backend of the service";
        }
        uint16_t port = b->second ? b->second : dport;
        if (fuzz::get16(out, xo.l4 + 2) != port) {
          return fmt::format("NAT sent a frame to port {} instead of {}",
                             fuzz::get16(out, xo.l4 + 2), port);
        }
        if (fuzz::get16(out, xo.l4) != fuzz::get16(in, xin.l4) ||
            std::memcmp(xo.src, xin.src, xin.v6 ? 16 : 4) != 0) {
          return "NAT changed the client's address or port";
        }
        auto [it, fresh] = natFlows_.emplace(flowOf(in, xin), dst);
        if (!fresh && it->second != dst) {
          return "one NAT flow sent to two backends";
        }
        ++counts.nat;
        return {};
      }
      if (!vip->macs.count(dstMac)) {
        return "forwarded to a MAC that is not an enabled backend of the service: " +
               formatMac(dstMac);
      }
      if (!fuzz::l4LengthProblem(out).empty()) {
        ++counts.l4LengthOdd;
        if (counts.l4LengthOdd <= 3) {
          std::cout << "forwarded with " << fuzz::l4LengthProblem(out) << ": " << hex(in) << "\n";
        }
      }
      if (!std::equal(kGatewayMac.begin(), kGatewayMac.end(), out.begin() + 6)) {
        return "direct routing's source MAC is not the gateway's";
      }
      if (!std::equal(in.begin() + 12, in.end(), out.begin() + 12, out.end())) {
        return "direct routing changed more than the MACs";
      }
      // One flow, one backend (the configuration does not change here).
      auto [it, fresh] = flows_.emplace(flowOf(in, xin), dstMac);
      if (!fresh && it->second != dstMac) {
        return "one flow sent to two backends";
      }
    }
    // Unmutated starting points: the expected verdict is known.
    if (plain && xin.complete && (xin.proto == fuzz::kTcp || xin.proto == fuzz::kUdp)) {
      const Model::Vip* vip = model_.lookup(xin, fuzz::get16(in, xin.l4 + 2));
      bool fragment = !xin.v6 && (fuzz::get16(in, xin.l3 + 6) & 0x3fff) != 0;
#ifdef LB4_MODE_NAT
      if (vip && vip->nat && !fragment && vip->hasBackends &&
          !(*action == XDP_TX || *action == XDP_REDIRECT || (*action == XDP_PASS && out != in) ||
            (*action == XDP_DROP &&
             (reason == LB4_STAT_DROP_FIB || reason == LB4_STAT_DROP_FRAG_NEEDED)))) {
        return fmt::format("valid frame to a NAT service: action {} (drop reason {})", *action,
                           reason);
      }
#endif
      if (vip && !vip->nat && !fragment && vip->hasBackends && *action != XDP_TX) {
        return fmt::format("valid frame to a service with backends: action {}", *action);
      }
      if (vip && !fragment && !vip->hasBackends &&
          (*action != XDP_DROP || reason != LB4_STAT_DROP_NO_BACKEND)) {
        return fmt::format("valid frame to a service without backends: action {}", *action);
      }
    }
    return {};
  }

  // Runs `count` frames from `seed`; returns the counts, fails the test on
  // the first violations (printed with their frames).
  Counts runFuzz(uint64_t seed, uint64_t count) {
    Counts counts;
    int failures = 0;
    for (uint64_t i = 0; i < count && failures < 10; ++i) {
      Rng rng(seed * 0x100000001b3ULL + i);
      bool plain = false;
      std::vector<uint8_t> in = generate(rng, plain);
      if (rng.chance(70)) {
        mutate(rng, in);
        plain = false;
      }
      std::string why = check(in, plain, counts);
      if (!why.empty()) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << " frame " << i << ": " << why << "\n  in:  " << hex(in);
      }
    }
    return counts;
  }

  std::unique_ptr<Dataplane> dp_;
  std::string ns_;
  int home_ = -1;
  Model model_;
  std::map<std::string, MacAddress> flows_;
  std::map<std::string, std::string> natFlows_;
};

TEST_F(XdpFuzzTest, RandomAndMutatedFramesKeepEveryInvariant) {
  const uint64_t seed = envOr("LB4_FUZZ_SEED", 20240601);
  const uint64_t count = envOr("LB4_FUZZ_PACKETS", 100000);
  auto start = std::chrono::steady_clock::now();
  Counts c = runFuzz(seed, count);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string reasons;
  for (const auto& [reason, n] : c.dropReasons) {
    reasons += fmt::format(" {}:{}", reason, n);
  }
  std::cout << fmt::format(
      "fuzz seed {}: {} frames in {:.1f} s: pass {} drop {} tx {} redirect {}; "
      "drops by reason{}; NAT-translated {} (to the kernel {}); forwarded with an odd UDP "
      "length or TCP offset: {}\n",
      seed, c.frames, secs, c.pass, c.drop, c.tx, c.redirect, reasons, c.nat, c.natToKernel,
      c.l4LengthOdd);
  EXPECT_EQ(c.frames, count);
  // The mix must reach every verdict, or the fuzzer tests less than it claims.
  EXPECT_GT(c.pass, count / 20);
  EXPECT_GT(c.drop, count / 20);
  EXPECT_GT(c.tx, count / 20);
}

}  // namespace
}  // namespace lb4::test
