#include "userspace/daemon/api_server.h"

#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "userspace/api/protocol.h"

namespace lb4 {
namespace {

using asio::experimental::as_tuple;
using Stream = asio::local::stream_protocol;

// True when something already answers on `path` (another lb4d).
bool socketInUse(const std::string& path) {
  asio::io_context io;
  Stream::socket probe(io);
  asio::error_code ec;
  probe.connect(Stream::endpoint(path), ec);
  return !ec;
}

}  // namespace

ApiServer::ApiServer(asio::io_context& io, Controller& controller, std::string path,
                     std::string group)
    : io_(io),
      controller_(controller),
      path_(std::move(path)),
      group_(std::move(group)),
      acceptor_(io) {}

ApiServer::~ApiServer() { stop(); }

Status ApiServer::listen() {
  std::error_code fsEc;
  std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, fsEc);
  }
  if (std::filesystem::exists(path_)) {
    if (socketInUse(path_)) {
      return makeError("listen on {}: another lb4d is already serving this socket", path_);
    }
    ::unlink(path_.c_str());
  }
  // Created with no permissions for others, then opened to the group if set.
  // Bound and listening under a temporary name first, then renamed into
  // place: a client that sees the path can connect (between bind() and
  // listen() a connect() would be refused).
  std::string tmp = path_ + ".new";
  ::unlink(tmp.c_str());
  mode_t old = ::umask(0177);
  asio::error_code ec;
  acceptor_.open(Stream(), ec);
  if (!ec) {
    acceptor_.bind(Stream::endpoint(tmp), ec);
  }
  ::umask(old);
  if (!ec) {
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    ::unlink(tmp.c_str());
    return makeError("listen on {}: {}", path_, ec.message());
  }
  if (!group_.empty()) {
    struct group* gr = ::getgrnam(group_.c_str());
    if (!gr) {
      ::unlink(tmp.c_str());
      return makeError("listen on {}: no such group '{}'", path_, group_);
    }
    if (::chown(tmp.c_str(), 0, gr->gr_gid) != 0 || ::chmod(tmp.c_str(), 0660) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return makeError("listen on {}: set group {}: {}", path_, group_, std::strerror(err));
    }
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return makeError("listen on {}: {}", path_, std::strerror(err));
  }
  asio::co_spawn(io_, acceptLoop(), asio::detached);
  spdlog::info("control socket {}", path_);
  return {};
}

void ApiServer::stop() {
  if (acceptor_.is_open()) {
    asio::error_code ec;
    acceptor_.close(ec);
    ::unlink(path_.c_str());
  }
}

asio::awaitable<void> ApiServer::acceptLoop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        co_return;
      }
      spdlog::warn("accept on {}: {}", path_, ec.message());
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> ApiServer::serve(Stream::socket socket) {
  std::string buffer;
  while (true) {
    auto [ec, n] =
        co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer, kMaxRequestBytes + 1),
                                        '\n', as_tuple(asio::use_awaitable));
    if (ec == asio::error::not_found) {
      std::string reply = replyError(fmt::format(
          "bad request: longer than {} bytes; closing the connection", kMaxRequestBytes));
      co_await asio::async_write(socket, asio::buffer(reply), as_tuple(asio::use_awaitable));
      co_return;
    }
    if (ec) {
      co_return;  // client went away
    }
    std::string line = buffer.substr(0, n - 1);
    buffer.erase(0, n);
    std::string reply = co_await dispatch(line);
    auto [wec, written] =
        co_await asio::async_write(socket, asio::buffer(reply), as_tuple(asio::use_awaitable));
    (void)written;
    if (wec) {
      co_return;
    }
  }
}

asio::awaitable<std::string> ApiServer::dispatch(const std::string& line) {
  auto request = parseRequest(line);
  if (!request) {
    requests_[{"invalid", "error"}] += 1;
    co_return replyError(request.error());
  }
  auto result = controller_.handle(*request);
  requests_[{std::string(opName(request->op)), result ? "ok" : "error"}] += 1;
  if (!result) {
    spdlog::warn("{}", result.error());
    co_return replyError(result.error());
  }
  // A new backend without a configured MAC goes live once the kernel has
  // resolved it; give that a moment so the reply can say it is serving.
  if (request->op == Op::kAddBackend &&
      !controller_.backendEnabled(*request->vip, request->backend->addr)) {
    (*result)["enabled"] = co_await controller_.awaitBackendEnabled(
        *request->vip, request->backend->addr,
        std::chrono::milliseconds(request->waitMs.value_or(kDefaultMacWaitMs)));
    (*result)["pending"] = !(*result)["enabled"].get<bool>();
  }
  co_return replyOk(*result);
}

}  // namespace lb4
