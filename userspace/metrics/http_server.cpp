#include "userspace/metrics/http_server.h"

#include <spdlog/spdlog.h>

#include <asio/experimental/as_tuple.hpp>

namespace lb4 {
namespace {

using asio::experimental::as_tuple;
using Tcp = asio::ip::tcp;

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "Error";
}

}  // namespace

HttpReply answerHttp(std::string_view head, const std::function<std::string()>& render) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return {.status = 400, .body = "bad request line\n", .metrics = false};
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return {.status = 505, .body = "HTTP/1.0 or HTTP/1.1 only\n", .metrics = false};
  }
  std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics") {
    return {.status = 404, .body = "lb4d serves /metrics only\n", .metrics = false};
  }
  if (method != "GET") {
    return {.status = 405, .body = "GET only\n", .metrics = false};
  }
  return {.status = 200, .body = render(), .metrics = true};
}

std::string formatHttp(const HttpReply& reply) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", reply.status, reasonPhrase(reply.status));
  out += reply.metrics ? "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                       : "Content-Type: text/plain; charset=utf-8\r\n";
  if (reply.status == 405) {
    out += "Allow: GET\r\n";
  }
  out += fmt::format("Content-Length: {}\r\nConnection: close\r\n\r\n", reply.body.size());
  out += reply.body;
  return out;
}

MetricsServer::MetricsServer(asio::io_context& io, Render render)
    : io_(io), render_(std::move(render)), acceptor_(io), active_(std::make_shared<size_t>(0)) {}

MetricsServer::~MetricsServer() { stop(); }

Status MetricsServer::listen(const ListenAddress& address) {
  where_ = address.toString();
  asio::error_code ec;
  auto ip = asio::ip::make_address(address.addr.toString(), ec);
  Tcp::endpoint endpoint(ip, address.port);
  if (!ec) {
    acceptor_.open(endpoint.protocol(), ec);
  }
  if (!ec) {
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor_.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    asio::error_code ignored;
    acceptor_.close(ignored);
    return makeError("listen for metrics on {}: {}", where_, ec.message());
  }
  asio::co_spawn(io_, acceptLoop(), asio::detached);
  spdlog::info("metrics on http://{}/metrics", where_);
  return {};
}

void MetricsServer::stop() {
  if (acceptor_.is_open()) {
    asio::error_code ec;
    acceptor_.close(ec);
  }
}

asio::awaitable<void> MetricsServer::acceptLoop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        co_return;
      }
      spdlog::warn("accept metrics connection on {}: {}", where_, ec.message());
      continue;
    }
    auto s = std::make_shared<Tcp::socket>(std::move(socket));
    if (*active_ >= kMaxConnections) {
      // Refused at once: no coroutine, no buffer for it.
      std::string busy =
          formatHttp({.status = 503, .body = "too many scrapes at once\n", .metrics = false});
      asio::error_code wec;
      s->non_blocking(true, wec);
      asio::write(*s, asio::buffer(busy), wec);
      s->close(wec);
      continue;
    }
    asio::co_spawn(io_, serve(std::move(s)), asio::detached);
  }
}

asio::awaitable<void> MetricsServer::serve(std::shared_ptr<Tcp::socket> socket) {
  auto active = active_;
  ++*active;
  // The whole exchange has one deadline: a client that sends slowly, or
  // reads slowly, is cut off when it passes.
  auto deadline = std::make_shared<asio::steady_timer>(io_, kConnectionTimeout);
  deadline->async_wait([socket](const asio::error_code& ec) {
    if (!ec) {
      asio::error_code ignored;
      socket->close(ignored);
    }
  });
  std::string buffer;
  auto [ec, n] =
      co_await asio::async_read_until(*socket, asio::dynamic_buffer(buffer, kMaxRequestBytes),
                                      "\r\n\r\n", as_tuple(asio::use_awaitable));
  HttpReply reply;
  bool answer = true;
  if (ec == asio::error::not_found) {
    reply = {.status = 431, .body = "request longer than 8192 bytes\n", .metrics = false};
  } else if (ec) {
    answer = false;  // went away, or the deadline closed it
  } else {
    reply = answerHttp(std::string_view(buffer).substr(0, n), render_);
  }
  if (answer && socket->is_open()) {
    std::string out = formatHttp(reply);
    auto [wec, written] =
        co_await asio::async_write(*socket, asio::buffer(out), as_tuple(asio::use_awaitable));
    (void)written;
    if (!wec) {
      asio::error_code ignored;
      socket->shutdown(Tcp::socket::shutdown_both, ignored);
    }
  }
  deadline->cancel();
  asio::error_code ignored;
  socket->close(ignored);
  --*active;
}

}  // namespace lb4
