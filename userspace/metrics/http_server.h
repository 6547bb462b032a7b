// MetricsServer: the HTTP/1.1 endpoint Prometheus scrapes, on the daemon's
// asio io_context. Answers GET /metrics with the text the render callback
// returns (405 for another method, 404 for another path), one request per
// connection. A request is bounded in size (kMaxRequestBytes, else 431) and
// a connection in time (kConnectionTimeout, then it is closed), and at most
// kMaxConnections are served at once: a slow or stalled scraper holds only
// its own coroutine, never the control socket.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "userspace/common/result.h"
#include "userspace/metrics/listen_address.h"

namespace lb4 {

// The reply to one parsed request head ("GET /metrics HTTP/1.1\r\n..."):
// status line, headers and body. Pure, so that it is unit tested.
struct HttpReply {
  int status = 200;
  std::string body;
  bool metrics = false;  // the body is the exposition
};
HttpReply answerHttp(std::string_view head, const std::function<std::string()>& render);
// The bytes of a reply on the wire (HTTP/1.1, Connection: close).
std::string formatHttp(const HttpReply& reply);

class MetricsServer {
 public:
  static constexpr size_t kMaxRequestBytes = 8192;
  static constexpr std::chrono::seconds kConnectionTimeout{10};
  static constexpr size_t kMaxConnections = 16;

  using Render = std::function<std::string()>;
  MetricsServer(asio::io_context& io, Render render);
  ~MetricsServer();

  Status listen(const ListenAddress& address);
  void stop();

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> serve(std::shared_ptr<asio::ip::tcp::socket> socket);

  asio::io_context& io_;
  Render render_;
  std::string where_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<size_t> active_;
};

}  // namespace lb4
