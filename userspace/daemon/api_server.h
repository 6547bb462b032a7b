// ApiServer: the control socket. A unix stream socket (0600, or 0660 with a
// configured group), one coroutine per client on the daemon's io_context;
// each request line is parsed, validated and handed to the Controller. A
// slow or stalled client only holds its own coroutine.
#pragma once

#include <string>

#include <asio.hpp>

#include "userspace/common/result.h"
#include "userspace/daemon/controller.h"

namespace lb4 {

class ApiServer {
 public:
  ApiServer(asio::io_context& io, Controller& controller, std::string path, std::string group);
  ~ApiServer();

  Status listen();
  void stop();

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> serve(asio::local::stream_protocol::socket socket);
  asio::awaitable<std::string> dispatch(const std::string& line);

  asio::io_context& io_;
  Controller& controller_;
  std::string path_;
  std::string group_;
  asio::local::stream_protocol::acceptor acceptor_;
};

}  // namespace lb4
