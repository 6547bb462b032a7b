// Dataplane: one loaded instance of the lb4 XDP object and typed access to
// its maps. Only userspace/dataplane/ calls libbpf and libxdp.
// With a pin directory, maps are reused from there when present (after an
// ABI version check) and pinned there when created, so forwarding state and
// conntrack survive a daemon restart. Without one (tests), nothing is pinned.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/lb4_abi.h"
#include "userspace/common/result.h"
#include "userspace/common/unique_fd.h"

struct lb4_xdp;  // the generated skeleton

namespace lb4 {

struct DataplaneOptions {
  std::string pinDir;  // empty: no pinning (tests, benchmarks)
  // Entries of lb4_conntrack and lb4_nat_reverse, in total: a per-CPU LRU
  // splits them evenly over the possible CPUs.
  uint32_t conntrackSize = LB4_DEFAULT_CT_SIZE;
  uint32_t natReverseSize = LB4_DEFAULT_NAT_REVERSE_SIZE;
};

using GlobalStats = std::array<uint64_t, LB4_STAT_MAX>;

// The name of each global counter (enum lb4_stat), in index order: the keys
// of `lb4ctl stats`. Both come from the one list LB4_STATS in lb4_abi.h.
inline constexpr std::array<std::string_view, LB4_STAT_MAX> kStatNames = {
#define LB4_STAT_NAME(NAME, name, help) name,
    LB4_STATS(LB4_STAT_NAME)
#undef LB4_STAT_NAME
};
// One line on what each counter counts, in the same order.
inline constexpr std::array<std::string_view, LB4_STAT_MAX> kStatHelp = {
#define LB4_STAT_HELP(NAME, name, help) help,
    LB4_STATS(LB4_STAT_HELP)
#undef LB4_STAT_HELP
};
static_assert(
    [] {
      for (size_t i = 0; i < LB4_STAT_MAX; ++i) {
        if (kStatNames[i].empty() || kStatHelp[i].empty()) {
          return false;
        }
        for (size_t j = 0; j < i; ++j) {
          if (kStatNames[i] == kStatNames[j]) {
            return false;
          }
        }
      }
      return true;
    }(),
    "every counter has a name of its own and a help line");

// One map as `lb4ctl status` shows it: the memory the kernel charges for
// it (`memlock` in its fd's /proc/self/fdinfo entry, as `bpftool map show`).
struct MapMemory {
  std::string name;
  uint32_t maxEntries = 0;
  uint64_t memlock = 0;  // bytes
};

class Dataplane {
 public:
  static Result<std::unique_ptr<Dataplane>> open(const DataplaneOptions& options);
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  int programFd() const;
  const std::string& pinDir() const { return options_.pinDir; }
  // True when the maps were adopted from the pin directory, not created.
  bool adopted() const { return adopted_; }

  Status setConfig(const lb4_config& config);
  Result<lb4_config> config() const;

  Status upsertVip(const lb4_vip_key& key, const lb4_vip_value& value);
  Status deleteVip(const lb4_vip_key& key);
  Result<std::vector<std::pair<lb4_vip_key, lb4_vip_value>>> vips() const;

  Status setBackend(uint32_t id, const lb4_backend& backend);
  Status clearBackend(uint32_t id);
  Result<lb4_backend> backend(uint32_t id) const;

  // Builds a new inner array holding `ring` and swaps it into lb4_rings at
  // vipId in one update: packets see the old table or the new one, never a
  // mix.
  Status setRing(uint32_t vipId, std::span<const uint32_t> ring);
  Status deleteRing(uint32_t vipId);
  Result<std::vector<uint32_t>> ring(uint32_t vipId) const;

  // Counters summed over CPUs.
  Result<GlobalStats> globalStats() const;
  // One global counter on each possible CPU.
  Result<std::vector<uint64_t>> perCpuStat(uint32_t stat) const;
  // Entries lb4_conntrack holds at most, over all CPUs (its max_entries).
  uint32_t conntrackCapacity() const;
  // Every map of the object (not the program's own data sections).
  Result<std::vector<MapMemory>> mapMemory() const;
  Result<lb4_traffic> vipTraffic(uint32_t vipId) const;
  Result<lb4_traffic> backendTraffic(uint32_t id) const;
  Status resetVipTraffic(uint32_t vipId);
  // Also clears the backend's passive health signals.
  Status resetBackendTraffic(uint32_t id);
  // Passive health signals of a backend (NAT replies), summed over CPUs.
  Result<lb4_signals> backendSignals(uint32_t id) const;

  // Backend addresses of NAT VIPs (lb4_nat_addrs), keyed like lb4_vip_addrs
  // ({addr, proto, family}, port 0): replies from them are looked up in
  // conntrack and translated back.
  Status addNatAddr(const lb4_vip_key& key);
  Status deleteNatAddr(const lb4_vip_key& key);
  Result<std::vector<lb4_vip_key>> natAddrs() const;
  // Writes the number of lb4_nat_addrs entries into lb4_config.nat_backends.
  Status storeNatCount();

  // NAT backend ports that serve one NAT VIP only (lb4_nat_origins): their
  // replies are translated back without a reverse entry (after a failover).
  Status setNatOrigin(const lb4_vip_key& backend, const lb4_nat_origin& origin);
  Status deleteNatOrigin(const lb4_vip_key& backend);
  Result<std::vector<std::pair<lb4_vip_key, lb4_nat_origin>>> natOrigins() const;

  // VIPs' source prefixes (lb4_src_rules, an LPM trie; bpf/lib/filter.h).
  Status setSourceRule(const lb4_src_key& key, const lb4_src_rule& rule);
  Status deleteSourceRule(const lb4_src_key& key);
  Result<std::vector<std::pair<lb4_src_key, lb4_src_rule>>> sourceRules() const;

  // Interfaces lb4 is attached to: NAT may XDP_REDIRECT to them
  // (lb4_tx_ports), and their MAC (read now) goes to lb4_ifaces, without
  // which the program passes everything received there. Must be called in
  // the network namespace of the interfaces: a devmap resolves ifindexes
  // there.
  Status addTxPort(uint32_t ifindex);
  Status deleteTxPort(uint32_t ifindex);
  // Sets the MAC lb4_ifaces holds for `ifindex` (addTxPort reads it from the
  // interface; tests give the loopback device one).
  Status setInterfaceMac(uint32_t ifindex, const std::array<uint8_t, 6>& mac);

  // Flows in lb4_conntrack now (a walk of the table in batches).
  Result<uint64_t> conntrackEntries() const;

  // Conntrack access for tests and diagnostics.
  Result<std::optional<lb4_flow_value>> lookupFlow(const lb4_flow_key& key) const;
  Status insertFlow(const lb4_flow_key& key, const lb4_flow_value& value);
  // NAT reverse entries (lb4_nat_reverse), keyed by the backend's reply.
  Result<std::optional<lb4_nat_value>> lookupNatReverse(const lb4_flow_key& key) const;
  Status insertNatReverse(const lb4_flow_key& key, const lb4_nat_value& value);

  // Runs the program once on `packet` with BPF_PROG_TEST_RUN, as received on
  // `ingressIfindex` (0: the loopback device). Returns the action and
  // replaces `packet` with the output frame.
  Result<uint32_t> testRun(std::vector<uint8_t>& packet, uint32_t ingressIfindex = 0) const;

  // Removes every pinned map of this instance (used on `lb4ctl detach`).
  Status unpinAll();

 private:
  explicit Dataplane(DataplaneOptions options);
  // Makes lb4_addr_filter exact for lb4_vip_addrs and lb4_nat_addrs as they
  // are now: sets the bits of present addresses, clears the others (only
  // the words that change are written).
  Status syncAddrFilter();
  std::vector<uint64_t> addrFilter_ = std::vector<uint64_t>(2 * LB4_ADDR_FILTER_REGION_WORDS);
  DataplaneOptions options_;
  bool adopted_ = false;
  struct SkelDeleter {
    void operator()(lb4_xdp* skel) const;
  };
  std::unique_ptr<lb4_xdp, SkelDeleter> skel_;
};

enum class XdpMode { kNative, kGeneric };

// "native" or "generic": how logs and lb4ctl name an attachment's mode.
const char* xdpModeName(XdpMode mode);

// An XDP program attached to one interface. Detaches in its destructor
// unless release()d: the daemon releases attachments on exit so that
// forwarding continues while it restarts.
class XdpAttachment {
 public:
  // Attaches `programFd` to `ifname` through libxdp in native mode, falling
  // back to generic (skb) mode with a logged warning. An lb4 program already
  // attached there is replaced atomically.
  static Result<XdpAttachment> attach(int programFd, const std::string& ifname,
                                      bool allowGeneric = true);
  // Detaches whatever XDP program is attached to `ifname`.
  static Status detachInterface(const std::string& ifname);

  XdpAttachment(XdpAttachment&& other) noexcept;
  XdpAttachment& operator=(XdpAttachment&& other) noexcept;
  ~XdpAttachment();

  const std::string& ifname() const { return ifname_; }
  int ifindex() const { return ifindex_; }
  XdpMode mode() const { return mode_; }
  // How libxdp attached: "dispatcher" (multiprog) or "single program".
  const std::string& method() const { return method_; }
  void release() { ifindex_ = 0; }
  Status detach();

 private:
  XdpAttachment() = default;
  std::string ifname_;
  int ifindex_ = 0;
  XdpMode mode_ = XdpMode::kNative;
  std::string method_;
};

// The number of possible CPUs (the value count of per-CPU maps; a per-CPU
// LRU splits its entries over them).
int possibleCpus();

// The MAC address of an interface, read with SIOCGIFHWADDR.
Result<std::array<uint8_t, 6>> interfaceMac(const std::string& ifname);

}  // namespace lb4
