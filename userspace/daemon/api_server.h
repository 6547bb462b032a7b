// ApiServer: the control socket. A unix stream socket (0600, or 0660 with a
// configured group), one coroutine per client on the daemon's io_context;
// each request line is parsed, validated and handed to the Controller. A
// slow or stalled client only holds its own coroutine.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "userspace/common/result.h"
#include "userspace/daemon/controller.h"

namespace lb4 {

class ApiServer {
 public:
  ApiServer(asio::io_context& io, Controller& controller, std::string path, std::string group);
  ~ApiServer();

  Status listen();
  void stop();

  // Requests answered, by (command, "ok" or "error"); a line that does not
  // parse as a request counts as command "invalid".
  using RequestCounts = std::map<std::pair<std::string, std::string>, uint64_t>;
  const RequestCounts& requestCounts() const { return requests_; }

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> serve(asio::local::stream_protocol::socket socket);
  asio::awaitable<std::string> dispatch(const std::string& line);

  asio::io_context& io_;
  Controller& controller_;
  std::string path_;
  std::string group_;
  asio::local::stream_protocol::acceptor acceptor_;
  RequestCounts requests_;
};

}  // namespace lb4
