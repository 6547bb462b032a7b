// xdp_cost: per-packet cost of the lb4 XDP program with BPF_PROG_TEST_RUN,
// against two floors (xdp_drop, xdp_tx_swap from lb4_floor.bpf.o) and the
// price of each operation lb4 does (bench/bpf/cost_parts.bpf.c), all in one
// run, on one CPU, rounds interleaved.
//
// Two timing methods, both read the kernel's own `duration`:
//  - repeat: one frame, `repeat` runs in the kernel loop. Only for cases
//    whose output frame takes the same path again (DR rewrites MACs only,
//    a pass or a drop leaves the frame as it was).
//  - per-packet: a batch of distinct frames, repeat=1 each, for cases that
//    would change path when repeated (a new flow becomes a hit) or that must
//    touch many flows (cache-cold). A single run's duration includes the
//    kernel's timer read; that overhead is measured every round as
//    xdp_drop(per-packet) - xdp_drop(repeat) and subtracted.
// Every case states the lb4_stats deltas it must produce; a case whose
// counters disagree is printed as NOT REPORTED, without a figure.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_packet.h"
#include "bench/bench_process.h"
#include "bpf/lb4_abi.h"
#include "cost_parts.skel.h"
#include "lb4_floor.skel.h"
#include "userspace/dataplane/dataplane.h"
#include "userspace/maglev/maglev.h"

namespace {

using lb4::bench::buildFrame;
using lb4::bench::FrameSpec;
using lb4::bench::parseAddr;

constexpr const char* kVip4 = "198.18.1.100";
constexpr const char* kVip6 = "2001:db8:1::100";
constexpr const char* kOther4 = "198.18.1.200";  // not a VIP address
constexpr uint16_t kVipPort = 80;

std::string statName(uint32_t i) {
  static const char* names[] = {"PASS",       "TX",         "CT_HIT",      "CT_MISS", "CT_RESCHED",
                                "TRUNC_ETH",  "TRUNC_VLAN", "TRUNC_IP",    "BAD_IP",  "TRUNC_L4",
                                "NO_BACKEND", "FRAGMENT",   "BAD_BACKEND", "CT_FULL"};
  return i < std::size(names) ? names[i] : "stat" + std::to_string(i);
}

struct Options {
  int rounds = 7;
  uint32_t repeat = 1000000;  // kernel-loop runs per repeat-mode figure
  uint32_t batch = 100000;    // frames per per-packet figure
  uint32_t flows = 1u << 20;  // conntrack size and prefill
  uint32_t backends = 100;
  uint32_t ringSize = 65537;
  int cpu = 0;
  std::string jsonPath;
};

// One lb4 instance: its own maps (no pinning), 100 backends, v4 and v6 VIPs.
struct Instance {
  std::unique_ptr<lb4::Dataplane> dp;
};

bool check(const lb4::Status& st, const char* what) {
  if (!st) {
    std::cerr << "xdp_cost: " << what << ": " << st.error() << "\n";
    return false;
  }
  return true;
}

// Backend `id`'s address: 198.18.2.x, or 2001:db8:2::x for the v6 NAT pool.
std::string backendAddr(uint32_t id, bool v6) {
  return v6 ? fmt::format("2001:db8:2::{:x}", id) : "198.18.2." + std::to_string(id % 250 + 1);
}

// Backends 1..count as ids base+1..base+count (addresses from backendAddr),
// enabled, generation 1; returns their Maglev inputs.
std::optional<std::vector<lb4::MaglevBackend>> addBackends(lb4::Dataplane& dp, uint32_t count,
                                                           uint32_t base, bool v6) {
  std::vector<lb4::MaglevBackend> mb;
  for (uint32_t i = 1; i <= count; ++i) {
    uint32_t id = base + i;
    lb4_backend b{};
    std::string addr = backendAddr(i, v6);
    auto a = parseAddr(addr.c_str());
    std::memcpy(b.addr, a.data(), 16);
    // Every backend's MAC is the gateway's (the frames' destination): with
    // repeat > 1 the program runs again on the frame it rewrote, and only
    // frames sent to the receiving interface's MAC are balanced.
    std::memcpy(b.mac, lb4::bench::FrameSpec{}.dstMac.data(), 6);
    b.family = v6 ? LB4_AF_INET6 : LB4_AF_INET;
    b.flags = LB4_BACKEND_F_ENABLED;
    b.gen = 1;
    if (!check(dp.setBackend(id, b), "set backend")) {
      return std::nullopt;
    }
    mb.push_back({.id = id, .weight = 1, .key = addr + "#" + std::to_string(id)});
  }
  return mb;
}

std::optional<Instance> makeInstance(const Options& o, uint32_t conntrackSize) {
  auto dp = lb4::Dataplane::open({.pinDir = "", .conntrackSize = conntrackSize});
  if (!dp) {
    std::cerr << "xdp_cost: " << dp.error() << "\n";
    return std::nullopt;
  }
  Instance inst{std::move(*dp)};
  // BPF_PROG_TEST_RUN receives on the loopback device: give it the MAC the
  // frames are sent to, as lb4d does for each interface it attaches to.
  if (!check(inst.dp->setInterfaceMac(if_nametoindex("lo"), lb4::bench::FrameSpec{}.dstMac),
             "set interface MAC")) {
    return std::nullopt;
  }
  auto mb = addBackends(*inst.dp, o.backends, 0, false);
  if (!mb) {
    return std::nullopt;
  }
  auto ring = lb4::buildMaglevRing(*mb, o.ringSize);
  for (uint32_t vipId : {0u, 1u}) {
    if (!check(inst.dp->setRing(vipId, ring), "set ring")) {
      return std::nullopt;
    }
  }
  for (uint32_t vipId : {0u, 1u}) {
    lb4_vip_key key{};
    auto a = parseAddr(vipId == 0 ? kVip4 : kVip6);
    std::memcpy(key.addr, a.data(), 16);
    key.port = htons(kVipPort);
    key.proto = IPPROTO_TCP;
    key.family = vipId == 0 ? LB4_AF_INET : LB4_AF_INET6;
    lb4_vip_value v{
        .vip_id = vipId, .ring_size = o.ringSize, .mode = LB4_MODE_DR, .flags = 0, .pad = 0};
    if (!check(inst.dp->upsertVip(key, v), "add VIP")) {
      return std::nullopt;
    }
  }
  return inst;
}

// VIP 0's flags, with or without its source lists.
bool setListFlags(lb4::Dataplane& dp, uint32_t ringSize, bool on) {
  lb4_vip_key key{};
  auto a = parseAddr(kVip4);
  std::memcpy(key.addr, a.data(), 16);
  key.port = htons(kVipPort);
  key.proto = IPPROTO_TCP;
  key.family = LB4_AF_INET;
  lb4_vip_value v{.vip_id = 0,
                  .ring_size = ringSize,
                  .mode = LB4_MODE_DR,
                  .flags = static_cast<uint8_t>(on ? LB4_VIP_F_SRC_ALLOW | LB4_VIP_F_SRC_DENY : 0),
                  .pad = 0};
  return check(dp.upsertVip(key, v), "set VIP flags");
}

// An operator-sized list on VIP 0: the clients' 198.18.64.0/18 allowed,
// 1024 single hosts of 198.19.0.0/16 denied (198.19.0.5 among them).
bool addSourceLists(lb4::Dataplane& dp) {
  lb4_src_key key{};
  key.vip_id = 0;
  key.prefixlen = 32 + 18;
  auto allow = parseAddr("198.18.64.0");
  std::memcpy(key.addr, allow.data(), 4);
  if (!check(dp.setSourceRule(key, {.action = LB4_SRC_ALLOW}), "add allow prefix")) {
    return false;
  }
  key.prefixlen = 32 + 32;
  for (uint32_t i = 0; i < 1024; ++i) {
    auto deny = parseAddr("198.19.0.0");
    deny[2] = static_cast<uint8_t>(i >> 8);
    deny[3] = static_cast<uint8_t>(i + 5);
    std::memcpy(key.addr, deny.data(), 4);
    if (!check(dp.setSourceRule(key, {.action = LB4_SRC_DENY}), "add deny prefix")) {
      return false;
    }
  }
  return true;
}

// Client i: source 198.18.64.0/18 + port, so 2^14 addresses x 60000 ports.
FrameSpec clientFlow(uint32_t i, bool v6 = false) {
  FrameSpec s;
  s.v6 = v6;
  if (v6) {
    s.src = parseAddr("2001:db8:40::");
    s.src[12] = static_cast<uint8_t>(i >> 24);
    s.src[13] = static_cast<uint8_t>(i >> 16);
    s.src[14] = static_cast<uint8_t>(i >> 8);
    s.src[15] = static_cast<uint8_t>(i);
    s.dst = parseAddr(kVip6);
  } else {
    uint32_t host = i / 60000;
    s.src = parseAddr("198.18.64.0");
    s.src[2] = static_cast<uint8_t>(64 + ((host >> 8) & 0x3f));
    s.src[3] = static_cast<uint8_t>(host);
    s.dst = parseAddr(kVip4);
  }
  s.sport = static_cast<uint16_t>(1024 + i % 60000);
  s.dport = kVipPort;
  return s;
}

lb4_flow_key flowKeyOf(const FrameSpec& s) {
  lb4_flow_key k{};
  std::memcpy(k.src, s.src.data(), s.v6 ? 16 : 4);
  std::memcpy(k.dst, s.dst.data(), s.v6 ? 16 : 4);
  k.sport = htons(s.sport);
  k.dport = htons(s.dport);
  k.proto = s.proto;
  k.family = s.v6 ? LB4_AF_INET6 : LB4_AF_INET;
  return k;
}

// Runs `prog` on `frame` `repeat` times; returns the kernel's ns per run.
std::optional<double> runRepeat(int prog, const std::vector<uint8_t>& frame, uint32_t repeat,
                                uint32_t* retval, uint32_t ingressIfindex = 0) {
  xdp_md md{};
  md.data_end = static_cast<uint32_t>(frame.size());
  md.ingress_ifindex = ingressIfindex;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .ctx_in = ingressIfindex ? &md : nullptr,
              .ctx_size_in = ingressIfindex ? static_cast<uint32_t>(sizeof(md)) : 0u,
              .repeat = static_cast<int>(repeat));
  if (bpf_prog_test_run_opts(prog, &opts) != 0) {
    std::perror("xdp_cost: BPF_PROG_TEST_RUN");
    return std::nullopt;
  }
  *retval = opts.retval;
  return static_cast<double>(opts.duration);
}

// Runs `prog` once per frame produced by make(i); returns mean kernel ns per
// run (timer overhead included) and checks every verdict is `want`.
// `ingressIfindex` as for runRepeat; `want2` is a second accepted verdict
// (NAT sends with XDP_TX or XDP_REDIRECT depending on the egress).
std::optional<double> runPerPacket(int prog, uint32_t count,
                                   const std::function<void(uint32_t, std::vector<uint8_t>&)>& make,
                                   uint32_t want, uint32_t* badVerdicts,
                                   uint32_t ingressIfindex = 0, uint32_t want2 = ~0u) {
  std::vector<uint8_t> frame;
  uint64_t total = 0;
  *badVerdicts = 0;
  for (uint32_t i = 0; i < count; ++i) {
    make(i, frame);
    xdp_md md{};
    md.data_end = static_cast<uint32_t>(frame.size());
    md.ingress_ifindex = ingressIfindex;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()),
                .ctx_in = ingressIfindex ? &md : nullptr,
                .ctx_size_in = ingressIfindex ? static_cast<uint32_t>(sizeof(md)) : 0u,
                .repeat = 1);
    if (bpf_prog_test_run_opts(prog, &opts) != 0) {
      std::perror("xdp_cost: BPF_PROG_TEST_RUN");
      return std::nullopt;
    }
    total += opts.duration;
    *badVerdicts += opts.retval != want && opts.retval != want2;
  }
  return static_cast<double>(total) / count;
}

struct Figure {
  std::string name;
  std::string method;  // "repeat" or "per-packet"
  std::vector<double> ns;
  std::string failure;  // non-empty: counters disagreed at least once
};

// Compares counter deltas to what the case must produce; "" when equal.
std::string counterMismatch(const lb4::GlobalStats& before, const lb4::GlobalStats& after,
                            const std::map<uint32_t, uint64_t>& expect) {
  std::string out;
  for (uint32_t i = 0; i < LB4_STAT_MAX; ++i) {
    uint64_t delta = after[i] - before[i];
    auto it = expect.find(i);
    uint64_t want = it == expect.end() ? 0 : it->second;
    if (delta != want) {
      out +=
          fmt::format("{}{} +{} (expected +{})", out.empty() ? "" : ", ", statName(i), delta, want);
    }
  }
  return out;
}

struct NatFrames {
  std::vector<uint8_t> request4, request6;  // client -> NAT VIP, established
  std::vector<uint8_t> reply4, reply6;      // that flow's backend -> client
};

class Runner {
 public:
  explicit Runner(Options o) : o_(std::move(o)) {}

  int run();

 private:
  // Measures one lb4 case and records either its figure or its failure.
  void lb4Case(Figure& fig, const lb4::Dataplane& dp,
               const std::function<std::optional<double>()>& measure,
               const std::map<uint32_t, uint64_t>& expect) {
    auto before = dp.globalStats();
    auto ns = measure();
    auto after = dp.globalStats();
    if (!before || !after || !ns) {
      fig.failure = "measurement failed";
      return;
    }
    std::string bad = counterMismatch(*before, *after, expect);
    if (!bad.empty()) {
      fig.failure = "counters: " + bad;
      return;
    }
    fig.ns.push_back(*ns);
  }

  Figure& figure(const std::string& name, const std::string& method) {
    for (auto& f : figures_) {
      if (f.name == name) {
        return f;
      }
    }
    figures_.push_back({name, method, {}, {}});
    return figures_.back();
  }

  bool fillConntrack(lb4::Dataplane& dp, uint32_t base, uint32_t count);
  void report(double txFloor);
  void instructionCounts();

  // Moves the process into a new network namespace holding the routes the
  // NAT case needs; sets natIngress_/natEgress_ (0 when that failed).
  void natNetns();
  // NAT VIPs on `dp` (v4 198.18.1.101 on ring 0's v4 backends, v6
  // 2001:db8:1::101 on a ring of v6 backends), one established flow per
  // family and the frames of its requests and replies; "" or what failed.
  std::string setUpNat(lb4::Dataplane& dp, NatFrames& frames);

  Options o_;
  uint32_t natIngress_ = 0;
  uint32_t natEgress_ = 0;
  std::vector<Figure> figures_;
  std::map<std::string, int> progFds_;
};

// Inserts flows base..base+count-1, half from each CPU: with per-CPU LRU
// lists each CPU owns an equal share of the entries, so the table is only
// full when both shares are.
bool Runner::fillConntrack(lb4::Dataplane& dp, uint32_t base, uint32_t count) {
  int cpus = libbpf_num_possible_cpus();
  lb4_flow_value v{};
  v.backend_gen = 1;
  for (int cpu = 0; cpu < cpus; ++cpu) {
    lb4::bench::pinToCpu(cpu);
    uint32_t from = base + count / cpus * cpu;
    uint32_t to = cpu == cpus - 1 ? base + count : from + count / cpus;
    for (uint32_t i = from; i < to; ++i) {
      v.backend_id = i % o_.backends + 1;
      if (!check(dp.insertFlow(flowKeyOf(clientFlow(i)), v), "prefill conntrack")) {
        return false;
      }
    }
  }
  lb4::bench::pinToCpu(o_.cpu);
  return true;
}

void Runner::instructionCounts() {
  for (const auto& [name, fd] : progFds_) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
      continue;
    }
    std::cout << fmt::format(
        "xdp_cost.insns prog={} xlated_insns={} jited_bytes={} verified_insns={}\n", name,
        info.xlated_prog_len / 8, info.jited_prog_len, info.verified_insns);
  }
}

void Runner::natNetns() {
#ifdef LB4_MODE_NAT
  if (::unshare(CLONE_NEWNET) != 0) {
    std::perror("xdp_cost: unshare(CLONE_NEWNET)");
    return;
  }
  auto ip = [](std::vector<std::string> args) {
    args.insert(args.begin(), "ip");
    return lb4::bench::run(args) == 0;
  };
  // nat0: the backends' subnets; nat1: the clients' side, whose ranges are
  // routed through a router with a static neighbour (for the reply case).
  bool ok = ip({"link", "set", "lo", "up"}) &&
            ip({"link", "add", "nat0", "type", "veth", "peer", "name", "nat1"}) &&
            ip({"link", "set", "nat0", "up"}) && ip({"link", "set", "nat1", "up"}) &&
            ip({"addr", "add", "198.18.2.254/24", "dev", "nat0"}) &&
            ip({"addr", "add", "198.18.0.254/24", "dev", "nat1"}) &&
            ip({"-6", "addr", "add", "2001:db8:2::fe/64", "dev", "nat0", "nodad"}) &&
            ip({"-6", "addr", "add", "2001:db8::fe/64", "dev", "nat1", "nodad"}) &&
            ip({"neigh", "replace", "198.18.0.1", "lladdr", "02:00:00:00:00:10", "dev", "nat1",
                "nud", "permanent"}) &&
            ip({"-6", "neigh", "replace", "2001:db8::1", "lladdr", "02:00:00:00:00:10", "dev",
                "nat1", "nud", "permanent"}) &&
            ip({"route", "add", "198.18.64.0/18", "via", "198.18.0.1", "dev", "nat1"}) &&
            ip({"-6", "route", "add", "2001:db8:40::/48", "via", "2001:db8::1", "dev", "nat1"});
  std::ofstream("/proc/sys/net/ipv4/conf/all/forwarding") << "1\n";
  std::ofstream("/proc/sys/net/ipv6/conf/all/forwarding") << "1\n";
  for (uint32_t id = 1; ok && id <= o_.backends; ++id) {
    std::string mac = fmt::format("02:00:00:00:{:02x}:{:02x}", id >> 8, id & 0xff);
    ok = ip({"neigh", "replace", backendAddr(id, false), "lladdr", mac, "dev", "nat0", "nud",
             "permanent"}) &&
         ip({"-6", "neigh", "replace", backendAddr(id, true), "lladdr", mac, "dev", "nat0", "nud",
             "permanent"});
  }
  if (ok) {
    natIngress_ = if_nametoindex("nat1");
    natEgress_ = if_nametoindex("nat0");
  }
#endif
}

std::string Runner::setUpNat(lb4::Dataplane& dp, NatFrames& frames) {
#ifdef LB4_MODE_NAT
  constexpr uint32_t kV6Ids = 1000;  // v6 backend i has id kV6Ids + i
  auto mb = addBackends(dp, o_.backends, kV6Ids, true);
  if (!mb) {
    return "cannot add the IPv6 backends";
  }
  if (auto st = dp.setRing(2, lb4::buildMaglevRing(*mb, o_.ringSize)); !st) {
    return st.error();
  }
  struct NatVip {
    const char* addr;
    uint32_t vipId;
  };
  for (NatVip nv : {NatVip{"198.18.1.101", 0}, NatVip{"2001:db8:1::101", 2}}) {
    bool v6 = nv.vipId == 2;
    lb4_vip_key key{};
    auto a = parseAddr(nv.addr);
    std::memcpy(key.addr, a.data(), 16);
    key.port = htons(kVipPort);
    key.proto = IPPROTO_TCP;
    key.family = v6 ? LB4_AF_INET6 : LB4_AF_INET;
    lb4_vip_value v{
        .vip_id = nv.vipId, .ring_size = o_.ringSize, .mode = LB4_MODE_NAT, .flags = 0, .pad = 0};
    if (auto st = dp.upsertVip(key, v); !st) {
      return st.error();
    }
    for (uint32_t i = 1; i <= o_.backends; ++i) {
      lb4_vip_key b{};
      auto ba = parseAddr(backendAddr(i, v6).c_str());
      std::memcpy(b.addr, ba.data(), 16);
      b.proto = IPPROTO_TCP;
      b.family = key.family;
      if (auto st = dp.addNatAddr(b); !st) {
        return st.error();
      }
    }
  }
  for (auto st : {dp.storeNatCount(), dp.addTxPort(natEgress_), dp.addTxPort(natIngress_)}) {
    if (!st) {
      return st.error();
    }
  }
  // The frames are sent to FrameSpec's MAC, not to the veths' own.
  for (uint32_t ifindex : {natEgress_, natIngress_}) {
    if (auto st = dp.setInterfaceMac(ifindex, FrameSpec{}.dstMac); !st) {
      return st.error();
    }
  }
  // One established flow per family; its reply comes from the backend
  // conntrack chose, to the client's address and port.
  for (bool v6 : {false, true}) {
    FrameSpec req = clientFlow(v6 ? 0xfffff2 : 0xfffff1, v6);
    req.dst = parseAddr(v6 ? "2001:db8:1::101" : "198.18.1.101");
    auto& request = v6 ? frames.request6 : frames.request4;
    request = buildFrame(req);
    std::vector<uint8_t> copy = request;
    auto verdict = dp.testRun(copy, natIngress_);
    auto entry = dp.lookupFlow(flowKeyOf(req));
    if (!verdict || *verdict != XDP_REDIRECT || !entry || !entry->has_value()) {
      return fmt::format("the first {} NAT packet was not forwarded", v6 ? "IPv6" : "IPv4");
    }
    uint32_t id = (*entry)->backend_id;
    FrameSpec rep = req;
    rep.src = parseAddr(backendAddr(v6 ? id - kV6Ids : id, v6).c_str());
    rep.dst = req.src;
    rep.sport = req.dport;  // backends listen on the VIP port
    rep.dport = req.sport;
    rep.srcMac = {0x02, 0, 0, 0, static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
    (v6 ? frames.reply6 : frames.reply4) = buildFrame(rep);
  }
  return "";
#else
  (void)dp;
  (void)frames;
  return "no NAT in this build";
#endif
}

int Runner::run() {
  natNetns();
  if (!lb4::bench::pinToCpu(o_.cpu)) {
    std::perror("xdp_cost: pin to CPU");
    return 1;
  }
  // hot: small cases and the cache-cold mix over o_.flows established flows.
  // full: the new-flow case, conntrack filled so every insert evicts.
  // hot has room beyond the prefill for the few flows its other cases add.
  auto hot = makeInstance(o_, o_.flows + 65536);
  auto full = makeInstance(o_, o_.flows);
  // lists: VIP 0 with source lists (bpf/lib/filter.h), measured with its
  // flags off and on in the same round.
  auto lists = makeInstance(o_, 65536);
  if (!hot || !full || !lists || !addSourceLists(*lists->dp)) {
    return 1;
  }
  std::unique_ptr<lb4_floor, void (*)(lb4_floor*)> floor(lb4_floor__open_and_load(),
                                                         lb4_floor__destroy);
  if (!floor) {
    std::perror("xdp_cost: load lb4_floor");
    return 1;
  }
  std::unique_ptr<cost_parts, void (*)(cost_parts*)> parts(cost_parts__open(), cost_parts__destroy);
  FrameSpec est4 = clientFlow(0xfffff0);  // outside every prefilled range
  FrameSpec est6 = clientFlow(7, true);
  lb4_flow_key hotKey = flowKeyOf(est4);
  lb4_vip_key vipAddrKey{};
  {
    auto a = parseAddr(kVip4);
    std::memcpy(vipAddrKey.addr, a.data(), 4);
    vipAddrKey.proto = IPPROTO_TCP;
    vipAddrKey.family = LB4_AF_INET;
  }
  if (!parts) {
    std::perror("xdp_cost: open cost_parts");
    return 1;
  }
  static_assert(sizeof(parts->rodata->hash20_key) == sizeof(vipAddrKey));
  static_assert(sizeof(parts->rodata->lru40_key) == sizeof(hotKey));
  std::memcpy(const_cast<uint32_t*>(parts->rodata->hash20_key), &vipAddrKey, sizeof(vipAddrKey));
  std::memcpy(const_cast<uint32_t*>(parts->rodata->lru40_key), &hotKey, sizeof(hotKey));
  // The parts use lb4's own maps (bpf/lib/maps.h): not pinned here, and
  // conntrack sized like the part_* LRU beside it.
  bpf_map* partMap = nullptr;
  bpf_object__for_each_map(partMap, parts->obj) { bpf_map__set_pin_path(partMap, nullptr); }
  for (bpf_map* ct : {parts->maps.lb4_conntrack, parts->maps.lb4_nat_reverse}) {
    if (bpf_map__set_max_entries(ct, 65536) != 0) {
      std::perror("xdp_cost: size cost_parts conntrack");
      return 1;
    }
  }
  if (cost_parts__load(parts.get()) != 0) {
    std::perror("xdp_cost: load cost_parts");
    return 1;
  }
  uint32_t one = 1;
  lb4_flow_value fv{};
  fv.backend_id = 1;
  fv.backend_gen = 1;
  lb4_vip_addr addrEntry{};
  addrEntry.services = 1;
  bpf_map__update_elem(parts->maps.lb4_vip_addrs, &vipAddrKey, sizeof(vipAddrKey), &addrEntry,
                       sizeof(addrEntry), BPF_ANY);
  bpf_map__update_elem(parts->maps.part_hash4, &vipAddrKey.addr, 4, &one, sizeof(one), BPF_ANY);
  bpf_map__update_elem(parts->maps.part_bloom20, nullptr, 0, &vipAddrKey, sizeof(vipAddrKey),
                       BPF_ANY);
  bpf_map__update_elem(parts->maps.lb4_conntrack, &hotKey, sizeof(hotKey), &fv, sizeof(fv),
                       BPF_ANY);
  bpf_map__update_elem(parts->maps.part_lru16, &hotKey, 16, &fv, sizeof(fv), BPF_ANY);

  int drop = bpf_program__fd(floor->progs.xdp_drop);
  int txSwap = bpf_program__fd(floor->progs.xdp_tx_swap);
  int lb4Hot = hot->dp->programFd();
  int lb4Full = full->dp->programFd();
  progFds_ = {{"lb4_xdp", lb4Hot}, {"xdp_drop", drop}, {"xdp_tx_swap", txSwap}};

  auto t0 = std::chrono::steady_clock::now();
  if (!fillConntrack(*hot->dp, 0, o_.flows) || !fillConntrack(*full->dp, 0, o_.flows)) {
    return 1;
  }
  std::cerr << fmt::format(
      "xdp_cost: prefilled 2 x {} conntrack entries in {:.1f} s\n", o_.flows,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  auto frameNonVip = [] {
    FrameSpec s = clientFlow(1);
    s.dst = parseAddr(kOther4);
    return buildFrame(s);
  }();
  auto frameEst4 = buildFrame(est4);
  auto frameEst6 = buildFrame(est6);
  auto frameBad = frameEst4;
  frameBad[14] = 0x44;  // IHL 4: malformed IPv4 header to a VIP
  // Make the established flows established (first packet inserts them).
  for (auto* f : {&frameEst4, &frameEst6}) {
    std::vector<uint8_t> copy = *f;
    (void)hot->dp->testRun(copy);
  }
  {
    std::vector<uint8_t> copy = frameEst4;
    (void)lists->dp->testRun(copy);
  }
  auto frameDenied = [&] {
    FrameSpec s = est4;
    s.src = parseAddr("198.19.0.5");
    return buildFrame(s);
  }();
  int lb4Lists = lists->dp->programFd();

#ifdef LB4_MODE_NAT
  // NAT runs on an instance of its own: its NAT backend addresses make
  // non-VIP traffic pay the reply gate, which the DR figures must not.
  std::optional<Instance> nat;
  NatFrames natFrames;
  std::string natFailure = "no namespace for NAT routes";
  if (natIngress_ != 0) {
    nat = makeInstance(o_, 65536);
    natFailure = nat ? setUpNat(*nat->dp, natFrames) : "cannot create the NAT instance";
  }
  int lb4Nat = natFailure.empty() ? nat->dp->programFd() : -1;
  if (!natFailure.empty()) {
    for (const char* name : {"lb4_v4_tcp_nat_established", "lb4_v6_tcp_nat_established",
                             "lb4_v4_tcp_nat_reply", "lb4_v6_tcp_nat_reply"}) {
      std::cout << "xdp_cost." << name << " NOT REPORTED (" << natFailure << ")\n";
    }
  }
#else
  std::cout << "xdp_cost.lb4_v4_tcp_nat_established NOT MEASURED (no LB4_MODE_NAT in this build)\n";
#endif
  std::mt19937 rng(42);
  uint32_t newFlowNext = o_.flows;  // never-seen flows for the full instance
  const uint32_t R = o_.repeat;
  const uint32_t B = o_.batch;
  uint32_t retval = 0;
  uint32_t bad = 0;

  for (int round = 0; round < o_.rounds; ++round) {
    // Floors and the timer overhead of per-packet runs.
    auto dropR = runRepeat(drop, frameEst4, R, &retval);
    if (dropR && retval == XDP_DROP) {
      figure("floor_xdp_drop", "repeat").ns.push_back(*dropR);
    }
    auto txR = runRepeat(txSwap, frameEst4, R, &retval);
    if (txR && retval == XDP_TX) {
      figure("floor_xdp_tx_swap", "repeat").ns.push_back(*txR);
    }
    auto dropP = runPerPacket(
        drop, B, [&](uint32_t, std::vector<uint8_t>& f) { f = frameEst4; }, XDP_DROP, &bad);
    if (!dropR || !dropP) {
      return 1;
    }
    double overhead = *dropP - *dropR;
    figure("timer_overhead_per_packet_mode", "per-packet").ns.push_back(overhead);

    // lb4, repeat-safe cases.
    lb4Case(figure("lb4_nonvip_pass", "repeat"), *hot->dp,
            [&] {
              auto ns = runRepeat(lb4Hot, frameNonVip, R, &retval);
              return retval == XDP_PASS ? ns : std::nullopt;
            },
            {{LB4_STAT_PASS, R}});
    lb4Case(figure("lb4_v4_tcp_dr_established", "repeat"), *hot->dp,
            [&] {
              auto ns = runRepeat(lb4Hot, frameEst4, R, &retval);
              return retval == XDP_TX ? ns : std::nullopt;
            },
            {{LB4_STAT_CT_HIT, R}, {LB4_STAT_TX, R}});
    lb4Case(figure("lb4_v6_tcp_dr_established", "repeat"), *hot->dp,
            [&] {
              auto ns = runRepeat(lb4Hot, frameEst6, R, &retval);
              return retval == XDP_TX ? ns : std::nullopt;
            },
            {{LB4_STAT_CT_HIT, R}, {LB4_STAT_TX, R}});
    lb4Case(figure("lb4_malformed_drop", "repeat"), *hot->dp,
            [&] {
              auto ns = runRepeat(lb4Hot, frameBad, R, &retval);
              return retval == XDP_DROP ? ns : std::nullopt;
            },
            {{LB4_STAT_DROP_BAD_IP, R}});
    // Source lists: the same established flow with VIP 0's list flags off
    // (no lookup) and on (one LPM trie lookup), and a denied source.
    for (bool on : {false, true}) {
      if (!setListFlags(*lists->dp, o_.ringSize, on)) {
        return 1;
      }
      lb4Case(figure(on ? "lb4_v4_tcp_dr_established_source_lists"
                        : "lb4_v4_tcp_dr_established_no_source_lists",
                     "repeat"),
              *lists->dp,
              [&] {
                auto ns = runRepeat(lb4Lists, frameEst4, R, &retval);
                return retval == XDP_TX ? ns : std::nullopt;
              },
              {{LB4_STAT_CT_HIT, R}, {LB4_STAT_TX, R}});
    }
    lb4Case(figure("lb4_v4_tcp_source_denied_drop", "repeat"), *lists->dp,
            [&] {
              auto ns = runRepeat(lb4Lists, frameDenied, R, &retval);
              return retval == XDP_DROP ? ns : std::nullopt;
            },
            {{LB4_STAT_DROP_SOURCE_DENIED, R}});
    // Cross-check of the two methods on the same path.
    lb4Case(figure("lb4_v4_tcp_dr_established_per_packet", "per-packet"), *hot->dp,
            [&]() -> std::optional<double> {
              auto ns = runPerPacket(
                  lb4Hot, B, [&](uint32_t, std::vector<uint8_t>& f) { f = frameEst4; }, XDP_TX,
                  &bad);
              if (!ns || bad) {
                return std::nullopt;
              }
              return *ns - overhead;
            },
            {{LB4_STAT_CT_HIT, B}, {LB4_STAT_TX, B}});
    // Established flows drawn at random from the prefilled table.
    lb4Case(figure("lb4_v4_tcp_dr_established_cold_mix", "per-packet"), *hot->dp,
            [&]() -> std::optional<double> {
              std::uniform_int_distribution<uint32_t> pick(0, o_.flows - 1);
              auto ns = runPerPacket(
                  lb4Hot, B,
                  [&](uint32_t, std::vector<uint8_t>& f) { f = buildFrame(clientFlow(pick(rng))); },
                  XDP_TX, &bad);
              if (!ns || bad) {
                return std::nullopt;
              }
              return *ns - overhead;
            },
            {{LB4_STAT_CT_HIT, B}, {LB4_STAT_TX, B}});
    // A flow never seen before on every packet, conntrack full.
    lb4Case(figure("lb4_v4_tcp_dr_new_flow_ct_full", "per-packet"), *full->dp,
            [&]() -> std::optional<double> {
              auto ns = runPerPacket(
                  lb4Full, B,
                  [&](uint32_t, std::vector<uint8_t>& f) {
                    FrameSpec s = clientFlow(newFlowNext++);
                    s.tcpFlags = 0x02;  // SYN
                    f = buildFrame(s);
                  },
                  XDP_TX, &bad);
              if (!ns || bad) {
                return std::nullopt;
              }
              return *ns - overhead;
            },
            {{LB4_STAT_SYN_UNTRACKED, B}, {LB4_STAT_TX, B}});
#ifdef LB4_MODE_NAT
    // NAT rewrites addresses, so every run gets the pristine frame. Requests
    // arrive on nat1 and leave on nat0, replies the other way: both are
    // redirects to another lb4_tx_ports member.
    if (natFailure.empty()) {
      auto natCase = [&](const char* name, const std::vector<uint8_t>& frame, uint32_t ingress,
                         uint32_t reason) {
        lb4Case(figure(name, "per-packet"), *nat->dp,
                [&]() -> std::optional<double> {
                  auto ns = runPerPacket(
                      lb4Nat, B, [&](uint32_t, std::vector<uint8_t>& f) { f = frame; },
                      XDP_REDIRECT, &bad, ingress);
                  if (!ns || bad) {
                    return std::nullopt;
                  }
                  return *ns - overhead;
                },
                {{reason, B}, {LB4_STAT_REDIRECT, B}});
      };
      natCase("lb4_v4_tcp_nat_established", natFrames.request4, natIngress_, LB4_STAT_CT_HIT);
      natCase("lb4_v6_tcp_nat_established", natFrames.request6, natIngress_, LB4_STAT_CT_HIT);
      natCase("lb4_v4_tcp_nat_reply", natFrames.reply4, natEgress_, LB4_STAT_NAT_REPLY);
      natCase("lb4_v6_tcp_nat_reply", natFrames.reply6, natEgress_, LB4_STAT_NAT_REPLY);
      lb4Case(figure("lb4_nonvip_pass_with_nat_backends", "repeat"), *nat->dp,
              [&] {
                auto ns = runRepeat(lb4Nat, frameNonVip, R, &retval);
                return retval == XDP_PASS ? ns : std::nullopt;
              },
              {{LB4_STAT_PASS, R}});
    }
#endif

    // Prices of single operations (ns over the xdp_drop floor of this round).
    struct Part {
      const char* name;
      bpf_program* prog;
    };
    for (const Part& p : {Part{"part_hash20_lookup", parts->progs.part_hash20_lookup},
                          Part{"part_hash4_lookup", parts->progs.part_hash4_lookup},
                          Part{"part_bloom20_peek", parts->progs.part_bloom20_peek},
                          Part{"part_lru40_lookup_hit", parts->progs.part_lru40_lookup},
                          Part{"part_lru16_lookup_hit", parts->progs.part_lru16_lookup},
                          Part{"part_lru40_update", parts->progs.part_lru40_update},
                          Part{"part_percpu_counter_add", parts->progs.part_percpu_add},
                          Part{"part_ktime_get_ns", parts->progs.part_ktime},
                          Part{"part_jiffies64", parts->progs.part_jiffies64},
                          Part{"part_fib_lookup", parts->progs.part_fib_lookup}}) {
      if (p.prog == parts->progs.part_fib_lookup && natIngress_ == 0) {
        continue;
      }
      auto ns = runRepeat(bpf_program__fd(p.prog), frameEst4, R / 4, &retval,
                          p.prog == parts->progs.part_fib_lookup ? natIngress_ : 0);
      if (ns && retval == XDP_DROP) {
        figure(p.name, "repeat, minus xdp_drop").ns.push_back(*ns - *dropR);
      } else {
        figure(p.name, "repeat, minus xdp_drop").failure = "verdict " + std::to_string(retval);
      }
    }
  }
  double txFloor = lb4::bench::summarize(figure("floor_xdp_tx_swap", "repeat").ns).median;
  report(txFloor);
  instructionCounts();
  return 0;
}

void Runner::report(double txFloor) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : figures_) {
    if (!f.failure.empty()) {
      std::cout << fmt::format("xdp_cost.{} NOT REPORTED ({})\n", f.name, f.failure);
      out.push_back({{"case", f.name}, {"failure", f.failure}});
      continue;
    }
    auto s = lb4::bench::summarize(f.ns);
    double ratio = txFloor > 0 ? s.median / txFloor : 0;
    std::cout << fmt::format(
        "xdp_cost.{} median_ns={:.1f} min_ns={:.1f} max_ns={:.1f} rounds={} ratio_to_xdp_tx={:.2f} "
        "method={}\n",
        f.name, s.median, s.min, s.max, f.ns.size(), ratio, f.method);
    out.push_back({{"case", f.name},
                   {"median_ns", s.median},
                   {"min_ns", s.min},
                   {"max_ns", s.max},
                   {"rounds", f.ns.size()},
                   {"ratio_to_xdp_tx", ratio},
                   {"method", f.method}});
  }
  if (!o_.jsonPath.empty()) {
    std::ofstream(o_.jsonPath) << out.dump(2) << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xdp_cost - per-packet cost of lb4_xdp with BPF_PROG_TEST_RUN"};
  Options o;
  app.add_option("--rounds", o.rounds, "rounds (every case once per round)")
      ->check(CLI::Range(1, 100));
  app.add_option("--repeat", o.repeat, "kernel-loop runs per repeat-mode figure")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--batch", o.batch, "frames per per-packet figure")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--flows", o.flows, "conntrack size, all prefilled")
      ->check(CLI::Range(1024, 16777216));
  app.add_option("--backends", o.backends, "backends on the ring")->check(CLI::Range(1, 4000));
  app.add_option("--ring-size", o.ringSize, "Maglev ring size (prime)");
  app.add_option("--cpu", o.cpu, "CPU to run on");
  app.add_option("--json", o.jsonPath, "also write the figures as JSON here");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  return Runner(o).run();
}
