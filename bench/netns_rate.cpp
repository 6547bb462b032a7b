// netns_rate: forwarded packets per second through real veths with native
// XDP, generator namespace -> gateway namespace (the subject) -> backend
// namespaces (bench/netns_rate.sh builds them). Subjects, in the same
// topology and interleaved round by round:
//   lb4_dr     lb4d attached to the gateway's eth0 (lb4ctl), direct routing;
//   lb4_nat    the same lb4d, NAT VIPs (their own addresses): destination
//              rewritten to the backend's address, bpf_fib_lookup, XDP_TX
//              (the backends sit on the ingress segment);
//   floor_tx   the stateless XDP_TX floor (rate_parts.bpf.c floor_tx);
//   nft_dnat   nftables DNAT across the same backends (numgen random mod N
//              map), the kernel's own conntrack and forwarding.
// The generator is pktgen.bpf.c on BPF_PROG_RUN live frames; the backends
// count (and drop) what reaches them with the sink program. After every rate
// run a short burst goes to the backends' stacks instead, and the backends'
// IP/UDP/TCP counters must show every frame arriving with valid checksums
// and addresses; a subject that fails this is reported as failed. lb4
// subjects also fail when the gateway's kernel forwarded any of the burst
// (lb4 handed frames to the slow path instead of sending them itself).
// Needs root; everything it creates is removed on exit, also on failure.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/fmt/fmt.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_packet.h"
#include "bench/bench_process.h"
#include "pktgen.skel.h"
#include "rate_parts.skel.h"
#include "userspace/common/unique_fd.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using lb4::UniqueFd;
using lb4::bench::Mac;

volatile sig_atomic_t gStop = 0;

constexpr Mac kGenMac{0x02, 0, 0, 0, 0, 0x01};
constexpr Mac kGwMac{0x02, 0, 0, 0, 0, 0x02};
Mac backendMac(int i) { return {0x02, 0, 0, 0, 0x01, static_cast<uint8_t>(i)}; }

// DR VIPs live on the backends' lo; NAT VIPs live nowhere (lb4 rewrites the
// destination to the backend's own address).
constexpr const char* kDrVip4 = "198.18.1.100";
constexpr const char* kDrVip6 = "2001:db8:1::100";
constexpr const char* kNatVip4 = "198.18.1.101";
constexpr const char* kNatVip6 = "2001:db8:1::101";
const std::vector<std::string> kSubjects{"lb4_dr", "lb4_nat", "floor_tx", "nft_dnat"};

bool isLb4(const std::string& subject) { return subject.rfind("lb4_", 0) == 0; }

// The address the generator sends to for `subject`.
const char* vipFor(const std::string& subject, bool v6) {
  if (subject == "lb4_nat") {
    return v6 ? kNatVip6 : kNatVip4;
  }
  return v6 ? kDrVip6 : kDrVip4;
}

struct Traffic {
  std::string name;  // udp4, udp6, tcp4syn, tcp6syn
  bool v6;
  uint8_t proto;
  uint32_t flows;
};

struct Options {
  int rounds = 5;
  double seconds = 2.0;
  int backends = 2;
  int cpu = 0;
  uint32_t burst = 2000;
  bool quick = false;
  std::vector<std::string> subjects = kSubjects;
  std::string lb4BuildDir = LB4_BUILD_DIR;
  std::string source = LB4_SOURCE_DIR;
  std::string jsonPath;
};

// Enters a network namespace for the lifetime of the object.
class InNetns {
 public:
  explicit InNetns(const std::string& name) {
    UniqueFd target(::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    home_ = UniqueFd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    ok_ = target && home_ && ::setns(target.get(), CLONE_NEWNET) == 0;
  }
  ~InNetns() {
    if (home_) {
      ::setns(home_.get(), CLONE_NEWNET);
    }
  }
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;
  bool ok() const { return ok_; }

 private:
  UniqueFd home_;
  bool ok_ = false;
};

struct RunResult {
  uint64_t sent = 0;
  uint64_t received = 0;
  double seconds = 0;
  double pps = 0;
  bool correct = false;
  std::string check;  // what the correctness burst saw
};

// Counters of one backend's stack, from /proc/net/snmp and snmp6.
using Snmp = std::map<std::string, int64_t>;

class RateBench {
 public:
  explicit RateBench(Options o) : o_(std::move(o)), lb4_("lb4r", o_.lb4BuildDir) {}
  ~RateBench() { cleanup(); }
  int run();

 private:
  std::string ns(const std::string& n) const { return prefix_ + "-" + n; }
  bool sh(const std::vector<std::string>& argv) { return lb4_.sh(argv); }
  bool ctl(std::vector<std::string> args) { return lb4_.ctl(std::move(args)); }
  bool setUp();
  bool startLb4();
  void cleanup();
  bool attachXdp(const std::string& netns, const std::string& dev, int progFd);
  void detachXdp(const std::string& netns, const std::string& dev);
  bool subjectUp(const std::string& subject);
  void subjectDown(const std::string& subject);
  std::unique_ptr<pktgen, void (*)(pktgen*)> loadGenerator(const Traffic& t, const char* dst,
                                                           uint32_t runIndex);
  uint64_t sinkCount();
  void setSinkMode(uint32_t mode);
  Snmp snmp(const std::vector<std::string>& namespaces);
  std::optional<RunResult> measure(const Traffic& t, const std::string& subject, uint32_t runIndex);
  uint64_t send(pktgen* gen, uint64_t frames, double seconds, std::vector<uint8_t>& frame,
                double* elapsed);
  void dumpLog();

  Options o_;
  lb4::bench::Lb4Daemon lb4_;
  const std::string& prefix_ = lb4_.prefix();
  const fs::path& work_ = lb4_.work();
  const std::string& log_ = lb4_.log();
  bool topology_ = false;
  std::unique_ptr<rate_parts, void (*)(rate_parts*)> parts_{nullptr, rate_parts__destroy};
  int genIfindex_ = 0;
  std::vector<uint8_t> genFrame_;
  std::string genError_;  // the generator's test runs were refused: why
};

void RateBench::dumpLog() {
  std::ifstream in(log_);
  std::string line;
  int n = 0;
  while (std::getline(in, line) && n++ < 200) {
    std::fprintf(stderr, "  | %s\n", line.c_str());
  }
}

void RateBench::cleanup() {
  if (lb4_.running()) {
    ctl({"detach", "eth0"});
  }
  lb4_.stop();
  parts_.reset();
  if (topology_) {
    lb4::bench::run({o_.source + "/bench/netns_rate.sh", "down", prefix_});
    topology_ = false;
  }
  lb4_.remove();
}

bool RateBench::attachXdp(const std::string& netns, const std::string& dev, int progFd) {
  InNetns in(ns(netns));
  int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  if (!in.ok() || ifindex == 0) {
    return false;
  }
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  int err = bpf_xdp_attach(ifindex, progFd, XDP_FLAGS_DRV_MODE, &opts);
  if (err != 0) {
    std::fprintf(stderr, "netns_rate: attach XDP to %s/%s: %s\n", netns.c_str(), dev.c_str(),
                 std::strerror(-err));
  }
  return err == 0;
}

void RateBench::detachXdp(const std::string& netns, const std::string& dev) {
  InNetns in(ns(netns));
  int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  if (in.ok() && ifindex != 0) {
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
    bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, &opts);
  }
}

bool RateBench::setUp() {
  lb4_.makeWork();
  topology_ = true;
  if (!sh({o_.source + "/bench/netns_rate.sh", "up", prefix_, std::to_string(o_.backends)})) {
    std::fprintf(stderr, "netns_rate: topology failed\n");
    return false;
  }
  // The floor's backend table and source MAC are fixed before load.
  parts_.reset(rate_parts__open());
  if (!parts_) {
    return false;
  }
  parts_->rodata->floor_n = static_cast<uint32_t>(o_.backends);
  std::memcpy(const_cast<uint8_t*>(parts_->rodata->floor_mac), kGwMac.data(), 6);
  if (rate_parts__load(parts_.get()) != 0) {
    std::fprintf(stderr, "netns_rate: load rate_parts failed\n");
    return false;
  }
  for (int i = 0; i < o_.backends; ++i) {
    uint32_t key = static_cast<uint32_t>(i);
    uint8_t mac[8] = {};
    Mac m = backendMac(i + 1);
    std::memcpy(mac, m.data(), 6);
    bpf_map__update_elem(parts_->maps.floor_backends, &key, sizeof(key), mac, sizeof(mac), BPF_ANY);
  }
  // The switch: MAC -> port, filled from inside its namespace (a devmap
  // resolves ifindexes in the namespace of whoever updates it).
  {
    InNetns in(ns("sw"));
    std::vector<std::pair<std::string, Mac>> ports = {{"sgen", kGenMac}, {"sgw", kGwMac}};
    for (int i = 1; i <= o_.backends; ++i) {
      ports.push_back({"sb" + std::to_string(i), backendMac(i)});
    }
    for (const auto& [dev, mac] : ports) {
      uint32_t ifindex = if_nametoindex(dev.c_str());
      uint8_t key[8] = {};
      std::memcpy(key, mac.data(), 6);
      if (!in.ok() || ifindex == 0 ||
          bpf_map__update_elem(parts_->maps.switch_macs, key, sizeof(key), &ifindex,
                               sizeof(ifindex), BPF_ANY) != 0 ||
          bpf_map__update_elem(parts_->maps.switch_tx, &ifindex, sizeof(ifindex), &ifindex,
                               sizeof(ifindex), BPF_ANY) != 0) {
        std::fprintf(stderr, "netns_rate: switch port %s\n", dev.c_str());
        return false;
      }
    }
  }
  int sw = bpf_program__fd(parts_->progs.l2_switch);
  bool ok = attachXdp("sw", "sgen", sw) && attachXdp("sw", "sgw", sw) &&
            attachXdp("gen", "eth0", bpf_program__fd(parts_->progs.pass));
  for (int i = 1; i <= o_.backends; ++i) {
    ok = ok && attachXdp("sw", "sb" + std::to_string(i), sw) &&
         attachXdp("b" + std::to_string(i), "eth0", bpf_program__fd(parts_->progs.sink));
  }
  if (!ok) {
    return false;
  }
  {
    InNetns in(ns("gen"));
    genIfindex_ = static_cast<int>(if_nametoindex("eth0"));
  }
  // nftables DNAT, loaded once: XDP subjects consume the traffic before it.
  std::string v4map;
  std::string v6map;
  for (int i = 1; i <= o_.backends; ++i) {
    v4map += fmt::format("{}{} : 198.18.0.1{}", i > 1 ? ", " : "", i - 1, i);
    v6map += fmt::format("{}{} : 2001:db8::1{}", i > 1 ? ", " : "", i - 1, i);
    // Static neighbours: no ARP/ND on the forwarding path (nftables), and
    // lb4 NAT's bpf_fib_lookup finds the backends' MACs (else NO_NEIGH
    // would hand its frames to the kernel).
    Mac m = backendMac(i);
    std::string lladdr = fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2],
                                     m[3], m[4], m[5]);
    ok = ok &&
         sh({"ip", "-n", ns("gw"), "neigh", "replace", fmt::format("198.18.0.1{}", i), "lladdr",
             lladdr, "dev", "eth0", "nud", "permanent"}) &&
         sh({"ip", "-n", ns("gw"), "-6", "neigh", "replace", fmt::format("2001:db8::1{}", i),
             "lladdr", lladdr, "dev", "eth0", "nud", "permanent"});
  }
  std::string rules = fmt::format(
      "table ip lb4bench {{\n"
      "  chain pre {{\n"
      "    type nat hook prerouting priority dstnat; policy accept;\n"
      "    ip daddr 198.18.1.100 udp dport 53 dnat to numgen random mod {n} map {{ {v4} }}\n"
      "    ip daddr 198.18.1.100 tcp dport 80 dnat to numgen random mod {n} map {{ {v4} }}\n"
      "  }}\n"
      "}}\n"
      "table ip6 lb4bench {{\n"
      "  chain pre {{\n"
      "    type nat hook prerouting priority dstnat; policy accept;\n"
      "    ip6 daddr 2001:db8:1::100 udp dport 53 dnat to numgen random mod {n} map {{ {v6} }}\n"
      "    ip6 daddr 2001:db8:1::100 tcp dport 80 dnat to numgen random mod {n} map {{ {v6} }}\n"
      "  }}\n"
      "}}\n",
      fmt::arg("n", o_.backends), fmt::arg("v4", v4map), fmt::arg("v6", v6map));
  std::ofstream(work_ / "nft.rules") << rules;
  ok = ok && sh({"ip", "netns", "exec", ns("gw"), "nft", "-f", (work_ / "nft.rules").string()});
  return ok && startLb4();
}

bool RateBench::startLb4() {
  if (!lb4_.start(ns("gw"))) {
    return false;
  }
  // Both modes' VIPs stay configured throughout (NAT ones only when lb4_nat
  // runs); the generator picks one by its destination address. A DR hit
  // never looks at the NAT maps.
  bool withNat = std::find(o_.subjects.begin(), o_.subjects.end(), "lb4_nat") != o_.subjects.end();
  for (const char* mode : {"dr", "nat"}) {
    bool nat = std::string(mode) == "nat";
    if (nat && !withNat) {
      continue;
    }
    for (bool v6 : {false, true}) {
      std::string host = nat ? (v6 ? kNatVip6 : kNatVip4) : (v6 ? kDrVip6 : kDrVip4);
      if (v6) {
        host = "[" + host + "]";
      }
      for (const char* service : {":53/udp", ":80/tcp"}) {
        std::string vip = host + service;
        if (!ctl({"add-vip", vip, "--mode", mode})) {
          return false;
        }
        // Newer lb4d probe TCP backends by default; the backends here only sink.
        ctl({"set-health", vip, "--kind", "none"});
        for (int i = 1; i <= o_.backends; ++i) {
          std::string addr = v6 ? fmt::format("2001:db8::1{}", i) : fmt::format("198.18.0.1{}", i);
          std::vector<std::string> args{"add-backend", vip, addr};
          if (!nat) {
            // NAT takes the next hop's MAC from the FIB (the static neighbours).
            Mac m = backendMac(i);
            args.insert(args.end(),
                        {"--mac", fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0],
                                              m[1], m[2], m[3], m[4], m[5])});
          }
          if (!ctl(args)) {
            return false;
          }
        }
      }
    }
  }
  return true;
}

bool RateBench::subjectUp(const std::string& subject) {
  if (isLb4(subject)) {
    // The same program serves both modes; the VIP decides.
    return ctl({"attach", "eth0", "--native-only"});
  }
  if (subject == "floor_tx") {
    return attachXdp("gw", "eth0", bpf_program__fd(parts_->progs.floor_tx));
  }
  if (subject == "nft_dnat") {
    // eth0 must run XDP to receive the switch's redirected frames.
    return attachXdp("gw", "eth0", bpf_program__fd(parts_->progs.pass));
  }
  return false;
}

void RateBench::subjectDown(const std::string& subject) {
  if (isLb4(subject)) {
    ctl({"detach", "eth0"});
  }
  detachXdp("gw", "eth0");
}

// A generator whose template is `t`; runIndex shifts the source addresses so
// every run starts with flows no subject has seen.
std::unique_ptr<pktgen, void (*)(pktgen*)> RateBench::loadGenerator(const Traffic& t,
                                                                    const char* dst,
                                                                    uint32_t runIndex) {
  std::unique_ptr<pktgen, void (*)(pktgen*)> gen(pktgen__open(), pktgen__destroy);
  if (!gen) {
    return gen;
  }
  lb4::bench::FrameSpec s;
  s.v6 = t.v6;
  s.proto = t.proto;
  s.srcMac = kGenMac;
  s.dstMac = kGwMac;
  s.src = lb4::bench::parseAddr(t.v6 ? "2001:db8:40::" : "198.18.64.0");
  s.dst = lb4::bench::parseAddr(dst);
  s.sport = 0;
  s.dport = t.proto == IPPROTO_UDP ? 53 : 80;
  s.tcpFlags = 0x02;  // SYN
  size_t l3 = t.v6 ? 40 : 20;
  size_t l4h = t.proto == IPPROTO_UDP ? 8 : 20;
  size_t bare = 14 + l3 + l4h;
  s.payload = t.proto == IPPROTO_UDP && bare < 64 ? 64 - bare : 0;  // UDP: 64-byte frames
  auto frame = lb4::bench::buildFrame(s);
  size_t len = std::max<size_t>(64, (frame.size() + 7) / 8 * 8);  // TCP: Ethernet padding
  frame.resize(len, 0);
  const size_t l4 = 14 + l3;
  const size_t offSrc = t.v6 ? 14 + 8 + 12 : 14 + 12;
  const size_t offCsum = l4 + (t.proto == IPPROTO_UDP ? 6 : 16);
  const size_t l4Len = l4h + s.payload;
  // Sums with the varying words (source low 32 bits, source port) zero.
  auto f = frame;
  f[offCsum] = f[offCsum + 1] = 0;
  std::memset(&f[offSrc], 0, 4);
  uint32_t ipSum = 0;
  if (!t.v6) {
    f[14 + 10] = f[14 + 11] = 0;
    ipSum = lb4::bench::sumWords(&f[14], 20, 0);
  }
  uint32_t l4Sum =
      t.v6 ? lb4::bench::sumWords(&f[14 + 8], 32, 0) : lb4::bench::sumWords(&f[14 + 12], 8, 0);
  l4Sum += t.proto + static_cast<uint32_t>(l4Len);
  l4Sum = lb4::bench::sumWords(&f[l4], l4Len, l4Sum);

  uint32_t ports = std::min<uint32_t>(t.flows, 50000);
  uint32_t addrs = (t.flows + ports - 1) / ports;
  auto* ro = gen->rodata;
  std::memcpy(const_cast<uint8_t*>(ro->tmpl), f.data(), len);
  ro->tmpl_len = static_cast<uint32_t>(len);
  ro->off_src = static_cast<uint32_t>(offSrc);
  ro->off_sport = static_cast<uint32_t>(l4);
  ro->off_l4csum = static_cast<uint32_t>(offCsum);
  ro->off_ipcsum = t.v6 ? 0 : 14 + 10;
  ro->ip_sum = ipSum;
  ro->l4_sum = l4Sum;
  // 198.18.64.0/18 (v6: 2001:db8:40::/48, low bits): runs take turns in it.
  ro->src_base = (t.v6 ? 0u : 0xc6124000u) + (runIndex * addrs) % 16000 + 1;
  ro->flows = t.flows;
  ro->ports = ports;
  ro->udp = t.proto == IPPROTO_UDP;
  if (pktgen__load(gen.get()) != 0) {
    std::fprintf(stderr, "netns_rate: load pktgen failed\n");
    gen.reset();
  }
  genFrame_ = frame;
  return gen;
}

uint64_t RateBench::sinkCount() {
  int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> v(cpus);
  uint32_t key = 0;
  if (bpf_map__lookup_elem(parts_->maps.sink_count, &key, sizeof(key), v.data(), v.size() * 8, 0) !=
      0) {
    return 0;
  }
  uint64_t sum = 0;
  for (auto x : v) {
    sum += x;
  }
  return sum;
}

void RateBench::setSinkMode(uint32_t mode) {
  uint32_t key = 0;
  bpf_map__update_elem(parts_->maps.sink_mode, &key, sizeof(key), &mode, sizeof(mode), BPF_ANY);
}

// The sum of the counters of `namespaces`' stacks.
Snmp RateBench::snmp(const std::vector<std::string>& namespaces) {
  Snmp total;
  for (const auto& n : namespaces) {
    InNetns in(ns(n));
    // /proc/net follows the reader's namespace: /proc/thread-self/net.
    std::ifstream snmp4("/proc/thread-self/net/snmp");
    std::string header;
    std::string values;
    while (std::getline(snmp4, header) && std::getline(snmp4, values)) {
      std::istringstream h(header);
      std::istringstream v(values);
      std::string proto;
      std::string name;
      std::string val;
      h >> proto;
      v >> val;
      while (h >> name && v >> val) {
        total[proto.substr(0, proto.size() - 1) + name] += std::stoll(val);
      }
    }
    std::ifstream snmp6("/proc/thread-self/net/snmp6");
    std::string name;
    int64_t val = 0;
    while (snmp6 >> name >> val) {
      total[name] += val;
    }
  }
  return total;
}

uint64_t RateBench::send(pktgen* gen, uint64_t frames, double seconds, std::vector<uint8_t>& frame,
                         double* elapsed) {
  InNetns in(ns("gen"));
  xdp_md md{};
  md.ingress_ifindex = static_cast<uint32_t>(genIfindex_);
  md.data_end = static_cast<uint32_t>(frame.size());  // the kernel insists
  uint64_t before = gen->bss->sent;
  auto t0 = Clock::now();
  uint64_t chunk = 65536;
  uint64_t done = 0;
  while (!gStop) {
    uint64_t n = frames ? std::min<uint64_t>(chunk, frames - done) : chunk;
    if (n == 0) {
      break;
    }
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &md,
                .ctx_size_in = sizeof(md), .repeat = static_cast<int>(n),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
    if (bpf_prog_test_run_opts(bpf_program__fd(gen->progs.pktgen), &opts) != 0) {
      genError_ = std::strerror(errno);
      std::fprintf(stderr, "netns_rate: live-frames run: %s\n", genError_.c_str());
      break;
    }
    done += n;
    if (!frames && std::chrono::duration<double>(Clock::now() - t0).count() >= seconds) {
      break;
    }
  }
  *elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  return gen->bss->sent - before;
}

std::optional<RunResult> RateBench::measure(const Traffic& t, const std::string& subject,
                                            uint32_t runIndex) {
  auto gen = loadGenerator(t, vipFor(subject, t.v6), runIndex);
  if (!gen) {
    return std::nullopt;
  }
  RunResult r;
  double elapsed = 0;
  // Warm-up: every flow once (the subject's steady state holds them all).
  send(gen.get(), std::max<uint64_t>(t.flows, 20000), 0, genFrame_, &elapsed);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  uint64_t c0 = sinkCount();
  r.sent = send(gen.get(), 0, o_.seconds, genFrame_, &r.seconds);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  r.received = sinkCount() - c0;
  r.pps = static_cast<double>(r.received) / r.seconds;

  // Correctness: a burst to the backends' stacks.
  // The backends have no route to the generator's ranges, so their answers
  // (ICMP port unreachable, RST) die in their own stacks: backend_out counts
  // what they did send, which stays at (about) zero. The gateway's kernel
  // forwards for nft_dnat only; for lb4 it counts frames lb4 passed to it.
  std::vector<std::string> backends;
  for (int i = 1; i <= o_.backends; ++i) {
    backends.push_back("b" + std::to_string(i));
  }
  setSinkMode(1);
  Snmp before = snmp(backends);
  Snmp gwBefore = snmp({"gw"});
  uint64_t s0 = sinkCount();
  send(gen.get(), o_.burst, 0, genFrame_, &elapsed);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  uint64_t seen = sinkCount() - s0;
  Snmp after = snmp(backends);
  Snmp gwAfter = snmp({"gw"});
  setSinkMode(0);
  auto d = [&](const std::string& k) { return after[k] - before[k]; };
  int64_t kernelFwd = gwAfter["IpForwDatagrams"] - gwBefore["IpForwDatagrams"] +
                      gwAfter["Ip6OutForwDatagrams"] - gwBefore["Ip6OutForwDatagrams"];
  int64_t backendOut = d("IpOutRequests") + d("Ip6OutRequests");
  int64_t good = 0;
  int64_t bad = 0;
  if (t.proto == IPPROTO_UDP && !t.v6) {
    good = d("UdpInDatagrams") + d("UdpNoPorts");
    bad = d("UdpInCsumErrors") + d("IpInHdrErrors") + d("IpInAddrErrors");
  } else if (t.proto == IPPROTO_UDP) {
    good = d("Udp6InDatagrams") + d("Udp6NoPorts");
    bad = d("Udp6InCsumErrors") + d("Ip6InHdrErrors") + d("Ip6InAddrErrors");
  } else {
    good = d("TcpInSegs") - d("TcpInCsumErrors");
    bad = d("TcpInCsumErrors") + (t.v6 ? d("Ip6InHdrErrors") + d("Ip6InAddrErrors")
                                       : d("IpInHdrErrors") + d("IpInAddrErrors"));
  }
  r.correct = bad == 0 && seen >= o_.burst * 99 / 100 && good >= static_cast<int64_t>(seen) &&
              (!isLb4(subject) || kernelFwd == 0);
  r.check = fmt::format(
      "burst={} at_backends={} stack_ok={} stack_bad={} gw_kernel_fwd={} backend_out={}", o_.burst,
      seen, good, bad, kernelFwd, backendOut);
  return r;
}

int RateBench::run() {
  if (!setUp()) {
    std::fprintf(stderr, "netns_rate: set-up failed\n");
    dumpLog();
    return 1;
  }
  lb4::bench::pinToCpu(o_.cpu);
  std::vector<Traffic> traffic = {
      {"udp4", false, IPPROTO_UDP, 1},       {"udp4", false, IPPROTO_UDP, 1000},
      {"udp4", false, IPPROTO_UDP, 100000},  {"udp6", true, IPPROTO_UDP, 1000},
      {"tcp4syn", false, IPPROTO_TCP, 1000}, {"tcp6syn", true, IPPROTO_TCP, 1000}};
  if (o_.quick) {
    traffic = {{"udp4", false, IPPROTO_UDP, 1000}, {"tcp6syn", true, IPPROTO_TCP, 1000}};
  }
  // results[traffic index][subject][round]
  std::vector<std::map<std::string, std::vector<std::optional<RunResult>>>> results(traffic.size());
  uint32_t runIndex = 0;
  // A refused generator (this kernel does not allow live-frames test runs)
  // ends the benchmark: there is no figure to take.
  auto going = [&] { return !gStop && genError_.empty(); };
  for (int round = 0; round < o_.rounds && going(); ++round) {
    for (size_t ti = 0; ti < traffic.size() && going(); ++ti) {
      const auto& t = traffic[ti];
      for (size_t k = 0; k < o_.subjects.size() && going(); ++k) {
        const std::string& subject = o_.subjects[(k + round) % o_.subjects.size()];
        std::optional<RunResult> r;
        if (subjectUp(subject)) {
          r = measure(t, subject, runIndex++);
        } else {
          std::fprintf(stderr, "netns_rate: cannot set up %s\n", subject.c_str());
        }
        subjectDown(subject);
        results[ti][subject].resize(o_.rounds);
        results[ti][subject][round] = r;
        if (r) {
          std::printf(
              "rate.run round=%d traffic=%s flows=%u subject=%s sent=%lu received=%lu seconds=%.2f "
              "pps=%.0f loss=%.4f correct=%s %s\n",
              round + 1, t.name.c_str(), t.flows, subject.c_str(), r->sent, r->received, r->seconds,
              r->pps,
              r->sent ? 1.0 - static_cast<double>(r->received) / static_cast<double>(r->sent) : 0.0,
              r->correct ? "yes" : "NO", r->check.c_str());
        } else {
          std::printf("rate.run round=%d traffic=%s flows=%u subject=%s FAILED\n", round + 1,
                      t.name.c_str(), t.flows, subject.c_str());
        }
        std::fflush(stdout);
      }
    }
  }
  if (!genError_.empty()) {
    std::printf(
        "rate.unavailable reason=\"live-frames test runs (BPF_F_TEST_XDP_LIVE_FRAMES) "
        "refused: %s\"\n",
        genError_.c_str());
    return 3;
  }
  nlohmann::json out = nlohmann::json::array();
  for (size_t ti = 0; ti < traffic.size(); ++ti) {
    const auto& t = traffic[ti];
    for (const auto& subject : o_.subjects) {
      std::vector<double> pps;
      std::vector<double> loss;
      int correct = 0;
      int runs = 0;
      for (const auto& r : results[ti][subject]) {
        if (!r) {
          continue;
        }
        ++runs;
        correct += r->correct;
        if (r->correct) {
          pps.push_back(r->pps);
          loss.push_back(
              r->sent ? 1.0 - static_cast<double>(r->received) / static_cast<double>(r->sent) : 0);
        }
      }
      auto s = lb4::bench::summarize(pps);
      std::printf(
          "rate.summary traffic=%s flows=%u subject=%s pps_median=%.0f pps_min=%.0f pps_max=%.0f "
          "loss_median=%.4f correct_runs=%d/%d\n",
          t.name.c_str(), t.flows, subject.c_str(), s.median, s.min, s.max,
          lb4::bench::summarize(loss).median, correct, runs);
      out.push_back({{"traffic", t.name},
                     {"flows", t.flows},
                     {"subject", subject},
                     {"pps_median", s.median},
                     {"pps_min", s.min},
                     {"pps_max", s.max},
                     {"correct_runs", correct},
                     {"runs", runs}});
    }
    // Same-round ratios of each lb4 subject to each subject that is not lb4.
    for (const auto& mine : o_.subjects) {
      if (!isLb4(mine)) {
        continue;
      }
      for (const auto& other : o_.subjects) {
        if (isLb4(other)) {
          continue;
        }
        std::vector<double> ratio;
        const auto& a = results[ti][mine];
        const auto& b = results[ti][other];
        for (size_t r = 0; r < a.size() && r < b.size(); ++r) {
          if (a[r] && b[r] && a[r]->correct && b[r]->correct && b[r]->pps > 0) {
            ratio.push_back(a[r]->pps / b[r]->pps);
          }
        }
        auto s = lb4::bench::summarize(ratio);
        std::string name = mine + "_to_" + other;
        std::printf("rate.ratio traffic=%s flows=%u %s median=%.3f min=%.3f max=%.3f rounds=%zu\n",
                    t.name.c_str(), t.flows, name.c_str(), s.median, s.min, s.max, ratio.size());
        out.push_back({{"traffic", t.name},
                       {"flows", t.flows},
                       {"ratio", name},
                       {"median", s.median},
                       {"min", s.min},
                       {"max", s.max},
                       {"rounds", ratio.size()}});
      }
    }
  }
  if (!o_.jsonPath.empty()) {
    std::ofstream(o_.jsonPath) << out.dump(2) << "\n";
  }
  return gStop ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netns_rate - packet rate through namespaces: lb4 (DR, NAT) vs floor vs nftables"};
  Options o;
  app.add_option("--rounds", o.rounds, "rounds (every subject and traffic once per round)")
      ->check(CLI::Range(1, 50));
  app.add_option("--seconds", o.seconds, "seconds per rate run")->check(CLI::Range(0.1, 30.0));
  app.add_option("--backends", o.backends, "backend namespaces")->check(CLI::Range(1, 9));
  app.add_option("--cpu", o.cpu, "CPU the generator (and so the pipeline) runs on");
  app.add_option("--burst", o.burst, "frames of each correctness burst")
      ->check(CLI::Range(10, 1000000));
  app.add_option("--subjects", o.subjects, "subjects: lb4_dr lb4_nat floor_tx nft_dnat")
      ->check(CLI::IsMember(kSubjects));
  app.add_option("--lb4-build-dir", o.lb4BuildDir, "build directory with lb4d and lb4ctl");
  app.add_option("--json", o.jsonPath, "also write the summary as JSON here");
  app.add_flag("--quick", o.quick, "two traffic kinds only");
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    std::fprintf(stderr, "netns_rate: needs root\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { gStop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return RateBench(o).run();
}
