// Health probes: TCP connect, HTTP GET, UDP request/response and an exec
// check, each a C++20 coroutine on the daemon's asio::io_context and each
// bounded by its own timeout; and ProbeScheduler, which runs one periodic
// probe loop per backend and hands every result to a callback (in lb4d, the
// host_info table of userspace/scoring). Nothing here blocks the io_context
// or sleeps a thread. See docs/health.md.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "userspace/common/net.h"
#include "userspace/common/result.h"
#include "userspace/health/path_probe.h"

namespace lb4 {

// Same alias as in userspace/scoring/host_info.h.
using BackendKey = std::string;

enum class ProbeKind : uint8_t { kTcp, kHttp, kUdp, kExec };
std::string_view probeKindName(ProbeKind kind);
// "tcp", "http", "udp", "exec".
Result<ProbeKind> parseProbeKind(std::string_view text);

struct ProbeSpec {
  ProbeKind kind = ProbeKind::kTcp;
  IpAddress addr{};   // the backend's own address
  uint16_t port = 0;  // host order; required for tcp, http, udp
  std::chrono::milliseconds timeout{2000};

  // http: "GET <httpPath> HTTP/1.0" with "Host: <httpHost>" (empty = the
  // address, with ":port" unless 80). Healthy when the status is within
  // [httpStatusMin, httpStatusMax] and, if httpExpectBody is not empty, the
  // body contains it. At most httpMaxResponse bytes are read.
  std::string httpPath = "/";
  std::string httpHost{};
  uint16_t httpStatusMin = 200;
  uint16_t httpStatusMax = 399;
  std::string httpExpectBody{};
  size_t httpMaxResponse = 64 * 1024;

  // udp: send udpPayload, healthy on any reply (or one containing
  // udpExpect when it is not empty).
  std::string udpPayload{};
  std::string udpExpect{};

  // exec: argv[0] is looked up in PATH; environment plus LB4_BACKEND_ADDR
  // and LB4_BACKEND_PORT; stdin/stdout/stderr on /dev/null; its own process
  // group, killed (SIGKILL) when the check ends. Healthy on exit status 0.
  std::vector<std::string> execArgv{};

  // tcp path probe (direct routing): when set, the SYN goes to pathVip
  // (the VIP, at `port`) on the hop this returns, called before each probe
  // (the MAC and egress may change), instead of a connect to `addr`.
  std::function<Result<PathHop>()> resolveHop{};
  IpAddress pathVip{};

  // "validate probe <kind> <addr>: <detail>".
  Status validate() const;
  // "tcp 198.18.0.11:80", "tcp-path 198.18.1.1:80 at 198.18.0.11",
  // "http 198.18.0.11:80/healthz", "exec check.sh".
  std::string describe() const;
};

struct ProbeResult {
  bool ok = false;
  std::chrono::microseconds latency{0};  // start to verdict, timeouts included
  std::string detail;                    // "HTTP 200", "connect: Connection refused", ...
};

// Why a probe failed, in one word (a metric label): "timeout", "refused"
// (connection or port refused), "connect" (another connect error), "io"
// (send or receive failed), "response" (wrong status, body or reply),
// "exit" (exec check exited non-zero or was killed), "error" (anything
// else: invalid spec, no process). "" for a success.
std::string_view probeFailureReason(const ProbeResult& result);

// Runs one probe on the calling coroutine's executor. Never throws (an
// invalid spec is a failed result); completes within spec.timeout plus
// scheduling slack. Cancellation (e.g. through a cancellation slot) ends it
// early and kills an exec check's process group.
asio::awaitable<ProbeResult> runProbe(ProbeSpec spec);

// One periodic probe loop per backend, all coroutines on one executor:
// a slow or silent backend delays no other. The first probe of a backend
// runs after a random delay in [0, min(interval, 1s)) so backends added
// together do not probe in lockstep; later ones start every `interval`
// (start to start; immediately after the previous one if it took longer).
// All methods, and the callback, run on the executor's thread.
class ProbeScheduler {
 public:
  using Callback = std::function<void(const BackendKey&, const ProbeResult&)>;

  ProbeScheduler(asio::any_io_executor executor, Callback callback);
  ~ProbeScheduler();
  ProbeScheduler(const ProbeScheduler&) = delete;
  ProbeScheduler& operator=(const ProbeScheduler&) = delete;

  // "add probe <key>: already present" / invalid spec or interval.
  Status add(const BackendKey& key, ProbeSpec spec, std::chrono::milliseconds interval);
  // Stops the backend's loop: no callback for it is made after this
  // returns, even from a probe already in flight. False if unknown.
  bool remove(const BackendKey& key);
  void stopAll();
  bool contains(const BackendKey& key) const { return entries_.count(key) != 0; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry;
  void stop(const std::shared_ptr<Entry>& entry);
  // Touches only its entry, never the scheduler, so it may outlive it.
  static asio::awaitable<void> loop(std::shared_ptr<Entry> entry);

  asio::any_io_executor executor_;
  std::shared_ptr<Callback> callback_;
  std::map<BackendKey, std::shared_ptr<Entry>> entries_;
  std::mt19937 rng_;
};

}  // namespace lb4
