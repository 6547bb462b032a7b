// update_latency: end-to-end latency of a configuration change, from
// starting `lb4ctl add-backend` (del-backend, set-weight) until the new
// Maglev table is the one installed in the kernel, read back through the
// pinned lb4_rings map. Drives a real lb4d attached (native XDP) to a veth
// in a private network namespace, which it creates and removes itself.
// Needs root. The VIP is UDP so that lb4d's default TCP health checks do not
// change the table behind the benchmark's back.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_packet.h"
#include "bench/bench_process.h"
#include "bpf/lb4_abi.h"
#include "userspace/common/unique_fd.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using lb4::UniqueFd;

volatile sig_atomic_t gStop = 0;  // SIGINT/SIGTERM: report what was measured

constexpr const char* kVip = "198.18.1.100:53/udp";

struct Options {
  int updates = 1000;
  int baseBackends = 100;
  uint32_t ringSize = 65537;
  std::string buildDir = LB4_BUILD_DIR;
};

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)), lb4_("lb4bu", o_.buildDir) {}
  ~Bench() { cleanup(); }

  int run();

 private:
  bool sh(const std::vector<std::string>& argv) { return lb4_.sh(argv); }
  bool ctl(std::vector<std::string> args) {
    return lb4_.ctl(std::move(args), std::chrono::seconds(10));
  }
  bool setUp();
  void cleanup();
  std::optional<std::vector<uint32_t>> readRing();
  std::optional<uint32_t> ringId();
  std::optional<std::vector<uint32_t>> mappedRing();
  std::string mapDir() const;
  static std::string backendAddr(int i) {
    return "198.18." + std::to_string(4 + i / 250) + "." + std::to_string(i % 250 + 1);
  }
  static std::string backendMac(int i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "02:00:00:00:%02x:%02x", (i >> 8) & 0xff, i & 0xff);
    return buf;
  }

  Options o_;
  lb4::bench::Lb4Daemon lb4_;
  const std::string& prefix_ = lb4_.prefix();
  const std::string& pinRoot_ = lb4_.pinRoot();
  bool nsCreated_ = false;
  UniqueFd vips_;
  UniqueFd rings_;
  uint32_t vipId_ = 0;
};

void Bench::cleanup() {
  lb4_.stop();
  if (nsCreated_) {
    // Deleting the namespace deletes the veth and with it the XDP program.
    lb4::bench::run({"ip", "netns", "del", prefix_});
    nsCreated_ = false;
  }
  lb4_.remove();
}

bool Bench::setUp() {
  lb4_.makeWork();
  if (!sh({"ip", "netns", "add", prefix_})) {
    return false;
  }
  nsCreated_ = true;
  if (!sh({"ip", "-n", prefix_, "link", "add", "v0", "type", "veth", "peer", "name", "v1"}) ||
      !sh({"ip", "-n", prefix_, "link", "set", "lo", "up"}) ||
      !sh({"ip", "-n", prefix_, "link", "set", "v0", "up"}) ||
      !sh({"ip", "-n", prefix_, "link", "set", "v1", "up"}) ||
      !sh({"ip", "-n", prefix_, "addr", "add", "198.18.0.2/24", "dev", "v0"}) ||
      // DR backends must be reachable on an attached link: backendAddr()
      // gives 198.18.4.1 .. 198.18.8.1: all on v0 (198.18.0.0/20).
      !sh({"ip", "-n", prefix_, "route", "add", "198.18.0.0/20", "dev", "v0"})) {
    return false;
  }
  if (!lb4_.start(prefix_)) {
    return false;
  }
  std::vector<std::string> addVip = {"add-vip", kVip,          "--mode",
                                     "dr",      "--ring-size", std::to_string(o_.ringSize)};
  if (!ctl({"attach", "v0"}) || !ctl(addVip)) {
    return false;
  }
  for (int i = 0; i < o_.baseBackends; ++i) {
    if (!ctl({"add-backend", kVip, backendAddr(i), "--mac", backendMac(i)})) {
      return false;
    }
  }
  return true;
}

// Where lb4d pinned its maps: the pin root or a directory under it (the
// layout has changed between versions: <root>/<ifname>, <root>/maps).
std::string Bench::mapDir() const {
  std::error_code ec;
  if (fs::exists(pinRoot_ + "/lb4_rings", ec)) {
    return pinRoot_ + "/";
  }
  for (const auto& entry : fs::directory_iterator(pinRoot_, ec)) {
    if (fs::exists(entry.path() / "lb4_rings", ec)) {
      return entry.path().string() + "/";
    }
  }
  return pinRoot_ + "/";
}

// Id of the inner map installed for the (only) VIP (a size change swaps in
// a new one; other updates rewrite it in place).
std::optional<uint32_t> Bench::ringId() {
  if (!vips_ || !rings_) {
    std::string dir = mapDir();
    vips_ = UniqueFd(bpf_obj_get((dir + "lb4_vips").c_str()));
    rings_ = UniqueFd(bpf_obj_get((dir + "lb4_rings").c_str()));
    lb4_vip_key key{};
    lb4_vip_value value{};
    if (!vips_ || !rings_ || bpf_map_get_next_key(vips_.get(), nullptr, &key) != 0 ||
        bpf_map_lookup_elem(vips_.get(), &key, &value) != 0) {
      vips_ = UniqueFd();
      return std::nullopt;
    }
    vipId_ = value.vip_id;
  }
  uint32_t innerId = 0;
  if (bpf_map_lookup_elem(rings_.get(), &vipId_, &innerId) != 0) {
    return std::nullopt;
  }
  return innerId;
}

// The ring the kernel uses for the (only) VIP, read through an mmap of its
// inner array (rings are BPF_F_MMAPABLE; an element takes 8 bytes).
std::optional<std::vector<uint32_t>> Bench::mappedRing() {
  auto id = ringId();
  if (!id) {
    return std::nullopt;
  }
  UniqueFd inner(bpf_map_get_fd_by_id(*id));
  if (!inner) {
    return std::nullopt;
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(inner.get(), &info, &len) != 0 || info.max_entries == 0) {
    return std::nullopt;
  }
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t bytes = (size_t{info.max_entries} * 8 + page - 1) / page * page;
  void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, inner.get(), 0);
  if (p == MAP_FAILED) {
    return std::nullopt;
  }
  const auto* words = static_cast<const uint32_t*>(p);
  std::vector<uint32_t> ring(info.max_entries);
  for (uint32_t i = 0; i < info.max_entries; ++i) {
    ring[i] = words[2 * size_t{i}];
  }
  ::munmap(p, bytes);
  return ring;
}

// The ring the kernel uses for the (only) VIP, read through the pins.
std::optional<std::vector<uint32_t>> Bench::readRing() {
  std::string dir = mapDir();
  UniqueFd vips(bpf_obj_get((dir + "lb4_vips").c_str()));
  UniqueFd rings(bpf_obj_get((dir + "lb4_rings").c_str()));
  if (!vips || !rings) {
    return std::nullopt;
  }
  lb4_vip_key key{};
  lb4_vip_value value{};
  if (bpf_map_get_next_key(vips.get(), nullptr, &key) != 0 ||
      bpf_map_lookup_elem(vips.get(), &key, &value) != 0) {
    return std::nullopt;
  }
  uint32_t innerId = 0;
  if (bpf_map_lookup_elem(rings.get(), &value.vip_id, &innerId) != 0) {
    return std::nullopt;
  }
  UniqueFd inner(bpf_map_get_fd_by_id(innerId));
  if (!inner) {
    return std::nullopt;
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(inner.get(), &info, &len) != 0) {
    return std::nullopt;
  }
  std::vector<uint32_t> keys(info.max_entries);
  std::vector<uint32_t> values(info.max_entries);
  uint32_t count = info.max_entries;
  uint32_t outBatch = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
  int rc = bpf_map_lookup_batch(inner.get(), nullptr, &outBatch, keys.data(), values.data(), &count,
                                &opts);
  if ((rc != 0 && errno != ENOENT) || count != info.max_entries) {
    return std::nullopt;
  }
  std::vector<uint32_t> ring(info.max_entries);
  for (uint32_t i = 0; i < count; ++i) {
    ring[keys[i]] = values[i];
  }
  return ring;
}

// What writing a ring costs: slot by slot through bpf_map_update_batch (how
// Dataplane::setRing fills a new inner array) against an mmapable array
// filled with one memcpy (a candidate).
void ringFill(uint32_t slots) {
  std::vector<uint32_t> keys(slots);
  std::vector<uint32_t> values(slots);
  for (uint32_t i = 0; i < slots; ++i) {
    keys[i] = i;
    values[i] = i % 100 + 1;
  }
  for (bool mmapable : {false, true}) {
    std::vector<double> ms;
    for (int r = 0; r < 5; ++r) {
      auto t0 = Clock::now();
      LIBBPF_OPTS(bpf_map_create_opts, opts,
                  .map_flags = static_cast<uint32_t>(BPF_F_INNER_MAP) |
                               (mmapable ? static_cast<uint32_t>(BPF_F_MMAPABLE) : 0u));
      UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb4_ring", 4, 4, slots, &opts));
      if (!fd) {
        std::printf("control.ring_fill method=%s NOT REPORTED (create: %s)\n",
                    mmapable ? "mmap" : "update_batch", std::strerror(errno));
        break;
      }
      if (mmapable) {
        size_t len = (static_cast<size_t>(slots) * 4 + 4095) / 4096 * 4096;
        void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
        if (p == MAP_FAILED) {
          break;
        }
        std::memcpy(p, values.data(), static_cast<size_t>(slots) * 4);
        munmap(p, len);
      } else {
        uint32_t count = slots;
        LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = 0, .flags = 0);
        bpf_map_update_batch(fd.get(), keys.data(), values.data(), &count, &bopts);
      }
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    if (!ms.empty()) {
      std::printf("control.ring_fill method=%s slots=%u median_ms=%.2f (create + fill)\n",
                  mmapable ? "mmap" : "update_batch", slots, lb4::bench::summarize(ms).median);
    }
  }
}

int Bench::run() {
  if (!setUp()) {
    std::fprintf(stderr, "update_latency: set-up failed; see the log below\n");
    std::FILE* f = std::fopen(lb4_.log().c_str(), "r");
    char line[512];
    while (f != nullptr && std::fgets(line, sizeof(line), f) != nullptr) {
      std::fputs(line, stderr);
    }
    if (f != nullptr) {
      std::fclose(f);
    }
    return 1;
  }
  auto ring = readRing();
  if (!ring) {
    std::fprintf(stderr, "update_latency: cannot read the pinned ring\n");
    return 1;
  }
  struct Op {
    const char* name;
    std::vector<double> total;  // ms, lb4ctl start -> new table read back
    std::vector<double> cli;    // ms, lb4ctl start -> lb4ctl exit
    int failures = 0;
  };
  Op ops[3] = {{"add-backend", {}, {}, 0}, {"set-weight", {}, {}, 0}, {"del-backend", {}, {}, 0}};
  const std::string extra = backendAddr(o_.baseBackends);
  for (int i = 0; i < o_.updates && !gStop; ++i) {
    int target = i % o_.baseBackends;
    std::vector<std::string> argv[3] = {
        {"add-backend", kVip, extra, "--mac", backendMac(o_.baseBackends)},
        {"set-weight", kVip, backendAddr(target), (i / o_.baseBackends) % 2 == 0 ? "2" : "1"},
        {"del-backend", kVip, extra}};
    for (int k = 0; k < 3; ++k) {
      auto t0 = Clock::now();
      bool ok = ctl(argv[k]);
      auto t1 = Clock::now();
      // Live: the kernel's table (read through mmap, whether swapped or
      // rewritten in place) differs from the one before the request.
      std::optional<std::vector<uint32_t>> now;
      auto deadline = t0 + std::chrono::seconds(2);
      while (ok && Clock::now() < deadline) {
        now = mappedRing();
        if (now && *now != *ring) {
          break;
        }
      }
      auto t2 = Clock::now();
      if (!ok || !now || *now == *ring) {
        ops[k].failures++;
        continue;
      }
      ring = std::move(now);
      ops[k].total.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
      ops[k].cli.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  // Baselines: a request that changes nothing, and reading a ring back.
  std::vector<double> status;
  for (int i = 0; i < std::min(o_.updates, 100) && !gStop; ++i) {
    auto t0 = Clock::now();
    ctl({"status"});
    status.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::printf("control.update_latency op=status(no change) requests=%zu median_ms=%.2f\n",
              status.size(), lb4::bench::summarize(status).median);
  {
    auto r0 = Clock::now();
    for (int i = 0; i < 10; ++i) {
      (void)readRing();
    }
    std::printf("control.ring_readback slots=%zu ms=%.2f (bpf_map_lookup_batch)\n", ring->size(),
                std::chrono::duration<double, std::milli>(Clock::now() - r0).count() / 10);
  }
  ringFill(static_cast<uint32_t>(ring->size()));
  int rc = 0;
  for (const auto& op : ops) {
    if (op.failures != 0 || op.total.empty()) {
      std::printf("control.update_latency op=%s NOT REPORTED (%d of %d updates not seen live)\n",
                  op.name, op.failures, o_.updates);
      rc = 1;
      continue;
    }
    auto s = lb4::bench::summarize(op.total);
    std::printf(
        "control.update_latency op=%s updates=%zu backends=%d ring=%u median_ms=%.2f "
        "p99_ms=%.2f max_ms=%.2f lb4ctl_median_ms=%.2f\n",
        op.name, op.total.size(), o_.baseBackends, o_.ringSize, s.median,
        lb4::bench::percentile(op.total, 99), s.max, lb4::bench::summarize(op.cli).median);
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"update_latency - lb4ctl change until the new table is live in the kernel"};
  Options o;
  app.add_option("--updates", o.updates, "updates of each kind")->check(CLI::Range(1, 100000));
  app.add_option("--backends", o.baseBackends, "backends of the VIP")->check(CLI::Range(1, 1000));
  app.add_option("--ring-size", o.ringSize, "Maglev ring size (prime)");
  app.add_option("--build-dir", o.buildDir, "build directory holding lb4d and lb4ctl");
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    std::fprintf(stderr, "update_latency: needs root\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { gStop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return Bench(o).run();
}
