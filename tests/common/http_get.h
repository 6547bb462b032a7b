// A minimal HTTP/1.1 client for the tests: one request to a loopback port,
// optionally from inside a named network namespace (/run/netns/NAME),
// entered by a thread of its own so the test's other threads stay where
// they are. Bounded in time.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

namespace lb4::test {

struct HttpResponse {
  int status = 0;  // 0: no answer (connect failed, timeout)
  std::string head;
  std::string body;
};

// Connects to 127.0.0.1:port (inside `netns` when not empty); -1 on failure.
inline int connectLoopback(const std::string& netns, uint16_t port) {
  int fd = -1;
  std::thread t([&] {
    if (!netns.empty()) {
      int nsfd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) {
        if (nsfd >= 0) {
          ::close(nsfd);
        }
        return;
      }
      ::close(nsfd);
    }
    // The socket belongs to the namespace it was created in, whichever
    // thread uses it later.
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s >= 0 && ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      fd = s;
    } else if (s >= 0) {
      ::close(s);
    }
  });
  t.join();
  return fd;
}

// Sends `request` as is and reads the reply until the server closes.
inline HttpResponse httpExchange(const std::string& netns, uint16_t port,
                                 const std::string& request,
                                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  HttpResponse r;
  int fd = connectLoopback(netns, port);
  if (fd < 0) {
    return r;
  }
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      break;
    }
    sent += static_cast<size_t>(n);
  }
  std::string all;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      break;
    }
    char buf[16384];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    all.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t end = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.", 0) != 0 || end == std::string::npos || all.size() < 12) {
    return r;
  }
  r.status = std::atoi(all.c_str() + 9);
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  return r;
}

inline HttpResponse httpGet(const std::string& netns, uint16_t port, const std::string& target) {
  return httpExchange(
      netns, port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

// Percent-encodes a query parameter value.
inline std::string urlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace lb4::test
