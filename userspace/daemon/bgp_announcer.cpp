#include "userspace/daemon/bgp_announcer.h"

#include <spdlog/spdlog.h>

#include <asio/experimental/as_tuple.hpp>
#include <memory>

#include "userspace/bgp/bird.h"

namespace lb4 {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxReplyBytes = 64 * 1024;

std::string joinPrefixes(const std::set<IpAddress>& addrs) {
  std::string out;
  for (const auto& a : addrs) {
    out += (out.empty() ? "" : " ") + hostPrefix(a);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::set<IpAddress> servableAddresses(const DesiredState& state, const KernelView& applied,
                                      const std::set<uint32_t>& allDown, bool attached) {
  std::set<IpAddress> out;
  if (state.gatewayDrained || !attached) {
    return out;
  }
  for (const auto& vip : state.vips) {
    if (allDown.count(vip.id)) {
      continue;
    }
    auto it = applied.rings.find(vip.id);
    if (it != applied.rings.end() && !it->second.empty()) {
      out.insert(vip.key.addr);
    }
  }
  return out;
}

asio::awaitable<Result<std::string>> birdCommand(std::string socketPath, std::string command,
                                                 std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  auto sock = std::make_shared<asio::local::stream_protocol::socket>(executor);
  asio::steady_timer deadline(executor, timeout);
  bool expired = false;
  deadline.async_wait([sock, &expired](const asio::error_code& ec) {
    if (!ec) {
      expired = true;
      asio::error_code ignored;
      sock->close(ignored);
    }
  });
  auto fail = [&](std::string_view what, const asio::error_code& ec) {
    return makeError(
        "BIRD socket {}: {}: {}", socketPath, what,
        expired ? "no answer within " + std::to_string(timeout.count()) + " ms" : ec.message());
  };
  auto [cec] =
      co_await sock->async_connect(asio::local::stream_protocol::endpoint(socketPath), kTuple);
  if (cec) {
    co_return fail("connect", cec);
  }
  std::string buf;
  // The greeting ("0001 BIRD 2.x ready."), then the command's reply.
  for (int stage = 0; stage < 2; ++stage) {
    if (stage == 1) {
      std::string line = command + "\n";
      auto [wec, n] = co_await asio::async_write(*sock, asio::buffer(line), kTuple);
      if (wec) {
        co_return fail("send " + command, wec);
      }
    }
    BirdReply reply;
    while (!reply.complete()) {
      auto [rec, n] = co_await asio::async_read_until(
          *sock, asio::dynamic_buffer(buf, kMaxReplyBytes), '\n', kTuple);
      if (rec) {
        co_return fail(stage == 0 ? "read greeting" : "read reply to " + command, rec);
      }
      reply.feed(std::string_view(buf).substr(0, n - 1));
      buf.erase(0, n);
    }
    if (auto s = reply.status(); !s) {
      co_return makeError("BIRD {}: {}", stage == 0 ? "greeting" : command, s.error());
    }
    if (stage == 1) {
      deadline.cancel();
      co_return reply.text();
    }
  }
  co_return makeError("BIRD socket {}: no reply", socketPath);
}

BgpAnnouncer::BgpAnnouncer(asio::any_io_executor executor, BgpConfig config)
    : executor_(executor), config_(std::move(config)), retry_(executor) {}

void BgpAnnouncer::announce(std::set<IpAddress> addrs) {
  desired_ = std::move(addrs);
  if (stopped_ || running_ || (confirmed_ && *confirmed_ == desired_)) {
    return;
  }
  running_ = true;
  asio::co_spawn(executor_, run(), asio::detached);
}

asio::awaitable<Status> BgpAnnouncer::push(const std::set<IpAddress>& addrs) {
  if (auto s = writeFileAtomically(config_.includeFile, renderBirdInclude(config_.protocol, addrs));
      !s) {
    co_return makeError("write BIRD include {}: {}", config_.includeFile, s.error());
  }
  auto reply = co_await birdCommand(config_.birdSocket, "configure",
                                    std::chrono::milliseconds(config_.timeoutMs));
  if (!reply) {
    co_return std::move(reply).takeError();
  }
  co_return Status{};
}

asio::awaitable<void> BgpAnnouncer::run() {
  while (!stopped_ && !(confirmed_ && *confirmed_ == desired_)) {
    std::set<IpAddress> want = desired_;
    Status s = co_await push(want);
    if (stopped_) {
      break;
    }
    if (s) {
      confirmed_ = want;
      lastOk_ = std::chrono::steady_clock::now();
      if (!lastError_.empty()) {
        spdlog::info("BGP: BIRD accepts the VIP routes again");
      }
      lastError_.clear();
      spdlog::info("BGP: announcing {}", joinPrefixes(want));
      continue;
    }
    ++failures_;
    lastError_ = s.error();
    spdlog::error("BGP: {}; routes may be stale, retrying in {} ms", lastError_, config_.retryMs);
    retry_.expires_after(std::chrono::milliseconds(config_.retryMs));
    co_await retry_.async_wait(kTuple);
  }
  running_ = false;
}

asio::awaitable<Status> BgpAnnouncer::withdrawAll() {
  stopped_ = true;
  retry_.cancel();
  desired_.clear();
  Status s = co_await push({});
  if (s) {
    confirmed_ = std::set<IpAddress>{};
    spdlog::info("BGP: every VIP withdrawn");
  } else {
    lastError_ = s.error();
    spdlog::error("BGP: withdraw on stop failed: {}", lastError_);
  }
  co_return s;
}

void BgpAnnouncer::stop() {
  stopped_ = true;
  retry_.cancel();
}

BgpStatus BgpAnnouncer::status() const {
  BgpStatus st{.enabled = true,
               .includeFile = config_.includeFile,
               .birdSocket = config_.birdSocket,
               .wanted = {},
               .announced = {},
               .inSync = confirmed_ && *confirmed_ == desired_,
               .lastError = lastError_,
               .failures = failures_,
               .lastOkAgoS = {}};
  for (const auto& a : desired_) {
    st.wanted.push_back(hostPrefix(a));
  }
  if (confirmed_) {
    for (const auto& a : *confirmed_) {
      st.announced.push_back(hostPrefix(a));
    }
  }
  if (lastOk_) {
    st.lastOkAgoS = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::steady_clock::now() - *lastOk_)
                        .count();
  }
  return st;
}

}  // namespace lb4
