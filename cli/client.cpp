#include "cli/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "userspace/common/unique_fd.h"

namespace lb4::cli {

using nlohmann::json;

Result<json> call(const std::string& socketPath, const Request& request) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return makeError("connect {}: {}", socketPath, std::strerror(errno));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (auto s = validateSocketPath(socketPath); !s) {
    return makeError("connect: {}", s.error());
  }
  std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    if (err == EACCES || err == EPERM) {
      return makeError("connect {}: {} (the control socket is for root or its group)", socketPath,
                       std::strerror(err));
    }
    if (err == ENOENT || err == ECONNREFUSED) {
      return makeError("connect {}: {} (is lb4d running?)", socketPath, std::strerror(err));
    }
    return makeError("connect {}: {}", socketPath, std::strerror(err));
  }
  std::string line = request.toJson().dump() + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return makeError("send to lb4d: {}", std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return makeError("read reply from lb4d: connection closed");
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  return parseReply(reply.substr(0, reply.find('\n')));
}

int fail(const std::string& message) {
  std::fprintf(stderr, "lb4ctl: %s\n", message.c_str());
  return kExitRefused;
}

}  // namespace lb4::cli
