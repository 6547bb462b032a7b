// Health probes and the per-backend probe loops; see probe.h.
#include "userspace/health/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>

extern char** environ;  // NOLINT: POSIX

// g++ 12 with -fsanitize (LB4_SANITIZE) reports asio's coroutine frame
// allocation (a class-specific operator new/delete pair) as mismatched; a
// false positive, silenced here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace lb4 {
namespace {

using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;
using asio::ip::udp;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;

constexpr milliseconds kMaxInitialJitter{1000};

ProbeResult healthy(std::string detail) {
  return ProbeResult{true, microseconds{0}, std::move(detail)};
}
ProbeResult failed(std::string detail) {
  return ProbeResult{false, microseconds{0}, std::move(detail)};
}

asio::ip::address toAsio(const IpAddress& addr) {
  if (addr.family == Family::kIpv4) {
    asio::ip::address_v4::bytes_type b{};
    std::copy_n(addr.bytes.begin(), b.size(), b.begin());
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b{};
  std::copy_n(addr.bytes.begin(), b.size(), b.begin());
  return asio::ip::address_v6(b);
}

std::string hostHeader(const ProbeSpec& spec) {
  if (!spec.httpHost.empty()) {
    return spec.httpHost;
  }
  if (spec.port != 80) {
    return Endpoint{spec.addr, spec.port}.toString();
  }
  std::string text = spec.addr.toString();
  return spec.addr.family == Family::kIpv6 ? "[" + text + "]" : text;
}

awaitable<ProbeResult> tcpCheck(ProbeSpec spec) {
  tcp::socket sock(co_await asio::this_coro::executor);
  asio::error_code ec;
  co_await sock.async_connect(tcp::endpoint(toAsio(spec.addr), spec.port),
                              redirect_error(use_awaitable, ec));
  if (ec) {
    co_return failed("connect: " + ec.message());
  }
  co_return healthy("connected");
}

// The SYN to VIP:port at the backend's MAC, as the data plane forwards it;
// the answer is read from a packet socket on the same interface before the
// gateway's kernel (which knows no such connection) resets it.
awaitable<ProbeResult> tcpPathCheck(ProbeSpec spec) {
  Result<PathHop> hop = spec.resolveHop();
  if (!hop) {
    co_return failed("path: " + hop.error());
  }
  bool v4 = spec.pathVip.family == Family::kIpv4;
  uint16_t ethertype = v4 ? ETH_P_IP : ETH_P_IPV6;
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ethertype));
  if (fd < 0) {
    co_return failed(fmt::format("path: packet socket: {}", std::strerror(errno)));
  }
  asio::posix::stream_descriptor sock(co_await asio::this_coro::executor, fd);
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ethertype);
  ll.sll_ifindex = hop->ifindex;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ll), sizeof(ll)) != 0) {
    co_return failed(fmt::format("path: bind packet socket: {}", std::strerror(errno)));
  }
  std::random_device rd;
  uint16_t srcPort = static_cast<uint16_t>(32768 + rd() % 28232);  // ephemeral range
  Endpoint vip{spec.pathVip, spec.port};
  std::vector<uint8_t> frame = buildTcpSyn(*hop, vip, srcPort, rd());
  ll.sll_halen = 6;
  std::memcpy(ll.sll_addr, hop->dstMac.data(), 6);
  if (::sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<const sockaddr*>(&ll),
               sizeof(ll)) < 0) {
    co_return failed(fmt::format("path: send: {}", std::strerror(errno)));
  }
  std::array<uint8_t, 2048> buf{};
  // Bounded by the probe's timeout; every wake-up drains what is queued.
  for (;;) {
    asio::error_code ec;
    co_await sock.async_wait(asio::posix::stream_descriptor::wait_read,
                             redirect_error(use_awaitable, ec));
    if (ec) {
      co_return failed("path: receive: " + ec.message());
    }
    for (int i = 0; i < 256; ++i) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          break;
        }
        co_return failed(fmt::format("path: receive: {}", std::strerror(errno)));
      }
      auto reply = parsePathReply(buf.data(), static_cast<size_t>(n), vip, hop->srcAddr, srcPort);
      if (reply == PathReply::kSynAck) {
        co_return healthy("SYN-ACK from " + vip.toString() + " at " + formatMac(hop->dstMac));
      }
      if (reply == PathReply::kReset) {
        co_return failed("connect: Connection refused (reset from " + vip.toString() + ")");
      }
    }
  }
}

// Status code of "HTTP/1.x NNN ...", or -1.
int parseStatus(std::string_view response) {
  if (response.substr(0, 5) != "HTTP/") {
    return -1;
  }
  size_t space = response.find(' ');
  if (space == std::string_view::npos || response.size() < space + 4) {
    return -1;
  }
  int status = -1;
  const char* first = response.data() + space + 1;
  auto [ptr, err] = std::from_chars(first, first + 3, status);
  if (err != std::errc() || ptr != first + 3) {
    return -1;
  }
  return status;
}

awaitable<ProbeResult> httpCheck(ProbeSpec spec) {
  tcp::socket sock(co_await asio::this_coro::executor);
  asio::error_code ec;
  co_await sock.async_connect(tcp::endpoint(toAsio(spec.addr), spec.port),
                              redirect_error(use_awaitable, ec));
  if (ec) {
    co_return failed("connect: " + ec.message());
  }
  std::string request = fmt::format(
      "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: lb4-health\r\nAccept: */*\r\n"
      "Connection: close\r\n\r\n",
      spec.httpPath, hostHeader(spec));
  co_await asio::async_write(sock, asio::buffer(request), redirect_error(use_awaitable, ec));
  if (ec) {
    co_return failed("send request: " + ec.message());
  }
  std::string response;
  std::array<char, 4096> chunk{};
  size_t headerEnd = std::string::npos;
  bool complete = false;  // the server closed, or the cap was reached
  for (;;) {
    size_t n =
        co_await sock.async_read_some(asio::buffer(chunk), redirect_error(use_awaitable, ec));
    response.append(chunk.data(), std::min(n, spec.httpMaxResponse - response.size()));
    if (ec == asio::error::eof || response.size() >= spec.httpMaxResponse) {
      complete = true;
    } else if (ec) {
      co_return failed("read response: " + ec.message());
    }
    if (headerEnd == std::string::npos) {
      headerEnd = response.find("\r\n\r\n");
    }
    if (headerEnd != std::string::npos) {
      if (spec.httpExpectBody.empty() ||
          response.find(spec.httpExpectBody, headerEnd + 4) != std::string::npos) {
        break;  // everything needed is here
      }
    }
    if (complete) {
      break;
    }
  }
  int status = parseStatus(response);
  if (status < 0) {
    co_return failed(response.empty() ? "empty response" : "malformed status line");
  }
  if (status < spec.httpStatusMin || status > spec.httpStatusMax) {
    co_return failed(
        fmt::format("HTTP {} not in {}-{}", status, spec.httpStatusMin, spec.httpStatusMax));
  }
  if (headerEnd == std::string::npos) {
    co_return failed(fmt::format("HTTP {}: response headers incomplete", status));
  }
  if (!spec.httpExpectBody.empty() &&
      response.find(spec.httpExpectBody, headerEnd + 4) == std::string::npos) {
    co_return failed(
        fmt::format("HTTP {}: body does not contain '{}'", status, spec.httpExpectBody));
  }
  co_return healthy(fmt::format("HTTP {}", status));
}

awaitable<ProbeResult> udpCheck(ProbeSpec spec) {
  udp::endpoint target(toAsio(spec.addr), spec.port);
  udp::socket sock(co_await asio::this_coro::executor);
  asio::error_code ec;
  sock.open(target.protocol(), ec);
  if (!ec) {
    // A connected socket only sees the backend's replies, and an ICMP port
    // unreachable ends the probe at once (ECONNREFUSED) instead of waiting.
    sock.connect(target, ec);
  }
  if (ec) {
    co_return failed("open socket: " + ec.message());
  }
  co_await sock.async_send(asio::buffer(spec.udpPayload), redirect_error(use_awaitable, ec));
  if (ec) {
    co_return failed("send: " + ec.message());
  }
  std::string reply(64 * 1024, '\0');
  size_t n = co_await sock.async_receive(asio::buffer(reply), redirect_error(use_awaitable, ec));
  if (ec) {
    co_return failed("receive: " + ec.message());
  }
  reply.resize(n);
  if (!spec.udpExpect.empty() && reply.find(spec.udpExpect) == std::string::npos) {
    co_return failed(fmt::format("reply of {} bytes does not contain '{}'", n, spec.udpExpect));
  }
  co_return healthy(fmt::format("reply of {} bytes", n));
}

// Owns a spawned check: unless it was reaped, its process group is killed
// and the child reaped on destruction (the path of an outside cancellation).
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() {
    if (!reaped_) {
      killGroup();
      // After SIGKILL the child is gone in microseconds; this wait is the
      // only blocking call here, on an already-cancelled path.
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  void killGroup() const { ::kill(-pid_, SIGKILL); }
  // Reaps the exited child; only after its pidfd became readable.
  int reap() {
    int status = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    reaped_ = true;
    return r < 0 ? -1 : status;
  }

 private:
  pid_t pid_;
  bool reaped_ = false;
};

std::string describeStatus(int status) {
  if (status < 0) {
    return "exit status unknown";
  }
  if (WIFEXITED(status)) {
    return fmt::format("exit status {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {}", WTERMSIG(status));
  }
  return "stopped";
}

Result<pid_t> spawnCheck(const ProbeSpec& spec) {
  std::vector<char*> argv;
  for (const std::string& arg : spec.execArgv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::string addrVar = "LB4_BACKEND_ADDR=" + spec.addr.toString();
  std::string portVar = "LB4_BACKEND_PORT=" + std::to_string(spec.port);
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "LB4_BACKEND_", 12) != 0) {
      envp.push_back(*e);
    }
  }
  envp.push_back(addrVar.data());
  envp.push_back(portVar.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // sockets of lb4d stay ours
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // own group, id = its pid
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return makeError("spawn {}: {}", spec.execArgv[0], std::strerror(rc));
  }
  return pid;
}

awaitable<ProbeResult> execCheck(ProbeSpec spec) {
  auto executor = co_await asio::this_coro::executor;
  Result<pid_t> pid = spawnCheck(spec);
  if (!pid) {
    co_return failed(pid.error());
  }
  ChildGuard child(*pid);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0));
  if (pidfd < 0) {
    co_return failed(fmt::format("pidfd_open {}: {}", *pid, std::strerror(errno)));
  }
  asio::posix::stream_descriptor exited(executor, pidfd);
  asio::steady_timer timer(executor, spec.timeout);
  auto first =
      co_await (exited.async_wait(asio::posix::stream_descriptor::wait_read, use_awaitable) ||
                timer.async_wait(use_awaitable));
  // The group goes in both cases: a check must not leave processes behind.
  child.killGroup();
  if (first.index() == 1) {
    asio::error_code ec;
    co_await exited.async_wait(asio::posix::stream_descriptor::wait_read,
                               redirect_error(use_awaitable, ec));
    child.reap();
    co_return failed(fmt::format("timeout after {}ms, process group killed", spec.timeout.count()));
  }
  int status = child.reap();
  if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    co_return healthy("exit status 0");
  }
  co_return failed(describeStatus(status));
}

}  // namespace

std::string_view probeKindName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kTcp:
      return "tcp";
    case ProbeKind::kHttp:
      return "http";
    case ProbeKind::kUdp:
      return "udp";
    case ProbeKind::kExec:
      return "exec";
  }
  return "?";
}

Result<ProbeKind> parseProbeKind(std::string_view text) {
  for (ProbeKind kind : {ProbeKind::kTcp, ProbeKind::kHttp, ProbeKind::kUdp, ProbeKind::kExec}) {
    if (text == probeKindName(kind)) {
      return kind;
    }
  }
  return makeError("parse probe kind '{}': expected tcp, http, udp or exec", text);
}

Status ProbeSpec::validate() const {
  auto bad = [this](std::string_view detail) {
    return makeError("validate probe {} {}: {}", probeKindName(kind), addr.toString(), detail);
  };
  if (timeout.count() <= 0) {
    return bad("timeout must be positive");
  }
  if (kind != ProbeKind::kExec && port == 0) {
    return bad("a port is required");
  }
  if (kind == ProbeKind::kHttp) {
    if (httpPath.empty() || httpPath[0] != '/') {
      return bad("the path must start with '/'");
    }
    if (httpPath.find_first_of("\r\n ") != std::string::npos ||
        httpHost.find_first_of("\r\n") != std::string::npos) {
      return bad("the path and host must not contain spaces or line breaks");
    }
    if (httpStatusMin < 100 || httpStatusMax > 599 || httpStatusMin > httpStatusMax) {
      return bad(fmt::format("bad status range {}-{}", httpStatusMin, httpStatusMax));
    }
    if (httpMaxResponse < 16) {
      return bad("max response size below 16 bytes");
    }
  }
  if (kind == ProbeKind::kExec && (execArgv.empty() || execArgv[0].empty())) {
    return bad("a command is required");
  }
  return {};
}

std::string ProbeSpec::describe() const {
  switch (kind) {
    case ProbeKind::kHttp:
      return fmt::format("http {}{}", Endpoint{addr, port}.toString(), httpPath);
    case ProbeKind::kExec:
      return fmt::format("exec {}", execArgv.empty() ? std::string() : execArgv[0]);
    case ProbeKind::kTcp:
      if (resolveHop) {
        return fmt::format("tcp-path {} at {}", Endpoint{pathVip, port}.toString(),
                           addr.toString());
      }
      break;
    case ProbeKind::kUdp:
      break;
  }
  return fmt::format("{} {}", probeKindName(kind), Endpoint{addr, port}.toString());
}

asio::awaitable<ProbeResult> runProbe(ProbeSpec spec) {
  auto start = steady_clock::now();
  ProbeResult result;
  if (Status valid = spec.validate(); !valid) {
    result = failed(valid.error());
  } else {
    try {
      if (spec.kind == ProbeKind::kExec) {
        result = co_await execCheck(std::move(spec));  // bounded by its own timer
      } else {
        asio::steady_timer timer(co_await asio::this_coro::executor, spec.timeout);
        auto check = spec.kind == ProbeKind::kTcp && spec.resolveHop ? tcpPathCheck(spec)
                     : spec.kind == ProbeKind::kTcp                  ? tcpCheck(spec)
                     : spec.kind == ProbeKind::kHttp                 ? httpCheck(spec)
                                                                     : udpCheck(spec);
        auto first = co_await (std::move(check) || timer.async_wait(use_awaitable));
        if (first.index() == 0) {
          result = std::get<0>(std::move(first));
        } else {
          result = failed(fmt::format("timeout after {}ms", spec.timeout.count()));
        }
      }
    } catch (const std::exception& e) {
      // Cancelled from outside, or out of resources: still a result.
      result = failed(fmt::format("probe aborted: {}", e.what()));
    }
  }
  result.latency = std::chrono::duration_cast<microseconds>(steady_clock::now() - start);
  co_return result;
}

struct ProbeScheduler::Entry {
  BackendKey key;
  ProbeSpec spec;
  milliseconds interval{0};
  milliseconds initialDelay{0};
  std::shared_ptr<Callback> callback;
  asio::cancellation_signal cancel;
  bool stopped = false;
};

ProbeScheduler::ProbeScheduler(asio::any_io_executor executor, Callback callback)
    : executor_(std::move(executor)),
      callback_(std::make_shared<Callback>(std::move(callback))),
      rng_(std::random_device{}()) {}

ProbeScheduler::~ProbeScheduler() { stopAll(); }

Status ProbeScheduler::add(const BackendKey& key, ProbeSpec spec, milliseconds interval) {
  if (Status valid = spec.validate(); !valid) {
    return makeError("add probe {}: {}", key, valid.error());
  }
  if (interval.count() <= 0) {
    return makeError("add probe {}: interval must be positive", key);
  }
  if (entries_.count(key) != 0) {
    return makeError("add probe {}: already present", key);
  }
  auto entry = std::make_shared<Entry>();
  entry->key = key;
  entry->spec = std::move(spec);
  entry->interval = interval;
  std::uniform_int_distribution<int64_t> jitter(0,
                                                std::min(interval, kMaxInitialJitter).count() - 1);
  entry->initialDelay = milliseconds(jitter(rng_));
  entry->callback = callback_;
  entries_.emplace(key, entry);
  asio::co_spawn(executor_, loop(entry),
                 asio::bind_cancellation_slot(entry->cancel.slot(), asio::detached));
  return {};
}

void ProbeScheduler::stop(const std::shared_ptr<Entry>& entry) {
  entry->stopped = true;
  // Emitted from a fresh handler, not from inside the caller (which may be
  // the loop's own callback).
  asio::post(executor_, [entry] { entry->cancel.emit(asio::cancellation_type::terminal); });
}

bool ProbeScheduler::remove(const BackendKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return false;
  }
  stop(it->second);
  entries_.erase(it);
  return true;
}

void ProbeScheduler::stopAll() {
  for (auto& [key, entry] : entries_) {
    stop(entry);
  }
  entries_.clear();
}

awaitable<void> ProbeScheduler::loop(std::shared_ptr<Entry> entry) {
  try {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    asio::error_code ec;
    timer.expires_after(entry->initialDelay);
    co_await timer.async_wait(redirect_error(use_awaitable, ec));
    while (!entry->stopped) {
      auto start = steady_clock::now();
      ProbeResult result = co_await runProbe(entry->spec);
      if (entry->stopped) {
        break;
      }
      try {
        (*entry->callback)(entry->key, result);
      } catch (const std::exception& e) {
        spdlog::error("health probe {}: result handler failed: {}", entry->key, e.what());
      }
      if (entry->stopped) {
        break;
      }
      timer.expires_at(start + entry->interval);
      co_await timer.async_wait(redirect_error(use_awaitable, ec));
    }
  } catch (const std::exception&) {
    // Cancelled while suspended: the loop is over.
  }
}

}  // namespace lb4
