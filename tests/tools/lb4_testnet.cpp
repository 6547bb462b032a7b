// lb4-testnet: the traffic tool of lb4's namespace tests and demo.
//   serve   a TCP (and UDP) server that greets each client with its name and
//           then echoes lines back;
//   connect N sequential TCP connections to a service; prints how many each
//           backend answered (JSON);
//   hold    one long-lived connection exchanging a line every interval;
//           prints how many exchanges succeeded (JSON);
//   udp     N UDP requests, each answered by the backend's name; counts only
//           replies whose source is the service address (JSON);
//   bulk    one connection that sends N bytes and reads them back
//           ("bulk N" to the server, which reads N bytes and returns them);
//           prints whether every byte came back intact (JSON).
// Every loop is bounded in count and time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "userspace/common/net.h"
#include "userspace/common/unique_fd.h"

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_storage toSockaddr(const lb4::IpAddress& addr, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (addr.family == lb4::Family::kIpv4) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    std::memcpy(&sa->sin_addr, addr.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    std::memcpy(&sa->sin6_addr, addr.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

void setTimeouts(int fd, int ms) {
  timeval tv{.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Reads one '\n'-terminated line (without the newline); empty on error.
std::string readLine(int fd) {
  std::string line;
  char c = 0;
  while (line.size() < 4096) {
    ssize_t n = ::recv(fd, &c, 1, 0);
    if (n <= 0) {
      return {};
    }
    if (c == '\n') {
      return line;
    }
    line.push_back(c);
  }
  return {};
}

bool sendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// sourcePort 0: the kernel picks one.
lb4::UniqueFd connectTo(const lb4::ServiceKey& to, int timeoutMs, uint16_t sourcePort = 0) {
  socklen_t len = 0;
  sockaddr_storage ss = toSockaddr(to.addr, to.port, len);
  lb4::UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return {};
  }
  setTimeouts(fd.get(), timeoutMs);
  if (sourcePort != 0) {
    lb4::IpAddress any;
    any.family = to.addr.family;
    socklen_t blen = 0;
    sockaddr_storage local = toSockaddr(any, sourcePort, blen);
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), blen) != 0) {
      return {};
    }
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return {};
  }
  return fd;
}

// A minimal HTTP health endpoint: "200 OK" with the server's name, except
// that every failEvery-th request (when > 0) has its connection reset.
void serveHttp(const std::string& name, sockaddr_storage ss, socklen_t len, int failEvery) {
  lb4::UniqueFd listener(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0 ||
      ::listen(listener.get(), 128) != 0) {
    std::perror("bind/listen http");
    std::exit(1);
  }
  for (uint64_t n = 1;; ++n) {
    lb4::UniqueFd c(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) {
      continue;
    }
    setTimeouts(c.get(), 2000);
    (void)readLine(c.get());  // request line; the rest is ignored
    if (failEvery > 0 && n % static_cast<uint64_t>(failEvery) == 0) {
      linger lg{.l_onoff = 1, .l_linger = 0};
      ::setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      continue;  // closing now sends a reset
    }
    sendAll(c.get(), "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + name + "\n");
  }
}

int serve(const std::string& name, const std::string& bindAddr, uint16_t port, bool udp,
          uint16_t httpPort, int failEvery) {
  auto addr = lb4::IpAddress::parse(bindAddr);
  if (!addr) {
    std::cerr << addr.error() << "\n";
    return 2;
  }
  socklen_t len = 0;
  sockaddr_storage ss = toSockaddr(*addr, port, len);
  if (httpPort != 0) {
    socklen_t hlen = 0;
    sockaddr_storage hss = toSockaddr(*addr, httpPort, hlen);
    std::thread(serveHttp, name, hss, hlen, failEvery).detach();
  }
  if (udp) {
    std::thread([&, ss, len]() {
      lb4::UniqueFd fd(::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      int one = 1;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
        std::perror("bind udp");
        std::exit(1);
      }
      char buf[2048];
      while (true) {
        sockaddr_storage peer{};
        socklen_t plen = sizeof(peer);
        ssize_t n =
            ::recvfrom(fd.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &plen);
        if (n < 0) {
          continue;
        }
        std::string reply = name + "\n";
        ::sendto(fd.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), plen);
      }
    }).detach();
  }
  lb4::UniqueFd listener(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0 ||
      ::listen(listener.get(), 512) != 0) {
    std::perror("bind/listen tcp");
    return 1;
  }
  std::cout << "serving " << name << " on port " << port << std::endl;
  while (true) {
    int c = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      continue;
    }
    std::thread([c, name]() {
      lb4::UniqueFd fd(c);
      setTimeouts(c, 30000);
      if (!sendAll(c, name + "\n")) {
        return;
      }
      // Echo lines until the client closes (bounded by the receive timeout).
      while (true) {
        std::string line = readLine(c);
        if (line.rfind("bulk ", 0) == 0) {
          // Read N bytes, then send them back.
          size_t n = std::stoul(line.substr(5));
          std::string data(n, '\0');
          size_t got = 0;
          while (got < n) {
            ssize_t r = ::recv(c, data.data() + got, n - got, 0);
            if (r <= 0) {
              return;
            }
            got += static_cast<size_t>(r);
          }
          if (!sendAll(c, data)) {
            return;
          }
          continue;
        }
        if (line.empty() || !sendAll(c, name + " " + line + "\n")) {
          return;
        }
      }
    }).detach();
  }
}

int udpMany(const lb4::ServiceKey& to, int count, int timeoutMs) {
  socklen_t len = 0;
  sockaddr_storage ss = toSockaddr(to.addr, to.port, len);
  std::map<std::string, int> byBackend;
  int failed = 0;
  int wrongSource = 0;
  for (int i = 0; i < count; ++i) {
    // A fresh socket (source port) per request: each is a new flow.
    lb4::UniqueFd fd(::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    setTimeouts(fd.get(), timeoutMs);
    std::string req = "request " + std::to_string(i);
    if (!fd ||
        ::sendto(fd.get(), req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      ++failed;
      continue;
    }
    char buf[512];
    sockaddr_storage from{};
    socklen_t flen = sizeof(from);
    ssize_t n =
        ::recvfrom(fd.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n <= 0) {
      ++failed;
      continue;
    }
    socklen_t tlen = 0;
    sockaddr_storage want = toSockaddr(to.addr, to.port, tlen);
    if (flen != tlen || std::memcmp(&from, &want, tlen) != 0) {
      ++wrongSource;
      continue;
    }
    std::string name(buf, static_cast<size_t>(n));
    while (!name.empty() && name.back() == '\n') {
      name.pop_back();
    }
    ++byBackend[name];
  }
  std::cout << "{\"ok\":" << (count - failed - wrongSource) << ",\"failed\":" << failed
            << ",\"wrong_source\":" << wrongSource << ",\"by_backend\":{";
  bool first = true;
  for (const auto& [name, n] : byBackend) {
    std::cout << (first ? "" : ",") << "\"" << name << "\":" << n;
    first = false;
  }
  std::cout << "}}" << std::endl;
  return failed == 0 && wrongSource == 0 ? 0 : 1;
}

int bulk(const lb4::ServiceKey& to, size_t bytes, int timeoutMs) {
  lb4::UniqueFd fd = connectTo(to, timeoutMs);
  std::string name = fd ? readLine(fd.get()) : std::string();
  std::string data(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) {
    data[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  }
  size_t received = 0;
  bool intact = false;
  if (!name.empty() && sendAll(fd.get(), "bulk " + std::to_string(bytes) + "\n")) {
    // Send and receive at once: the echo may fill the buffers otherwise.
    std::thread sender([&] { sendAll(fd.get(), data); });
    std::string back(bytes, '\0');
    while (received < bytes) {
      ssize_t r = ::recv(fd.get(), back.data() + received, bytes - received, 0);
      if (r <= 0) {
        break;
      }
      received += static_cast<size_t>(r);
    }
    sender.join();
    intact = received == bytes && back == data;
  }
  std::cout << "{\"backend\":\"" << name << "\",\"sent\":" << bytes << ",\"received\":" << received
            << ",\"intact\":" << (intact ? "true" : "false") << "}" << std::endl;
  return intact ? 0 : 1;
}

int connectMany(const lb4::ServiceKey& to, int count, int timeoutMs, bool human,
                uint16_t sourcePort) {
  std::map<std::string, int> byBackend;
  int failed = 0;
  std::string lastError;
  for (int i = 0; i < count; ++i) {
    lb4::UniqueFd fd = connectTo(to, timeoutMs, sourcePort);
    std::string name = fd ? readLine(fd.get()) : std::string();
    if (name.empty()) {
      ++failed;
      lastError = std::strerror(errno);
      continue;
    }
    ++byBackend[name];
  }
  if (human) {
    std::cout << (count - failed) << " of " << count << " connections answered\n";
    for (const auto& [name, n] : byBackend) {
      std::cout << fmt::format("  {:<12} {:>6}  {:5.1f}%  {}\n", name, n, 100.0 * n / count,
                               std::string(static_cast<size_t>(50 * n / count), '#'));
    }
    if (failed > 0) {
      std::cout << "  failed       " << failed << " (" << lastError << ")\n";
    }
    return failed == 0 ? 0 : 1;
  }
  std::cout << "{\"ok\":" << (count - failed) << ",\"failed\":" << failed << ",\"by_backend\":{";
  bool first = true;
  for (const auto& [name, n] : byBackend) {
    std::cout << (first ? "" : ",") << "\"" << name << "\":" << n;
    first = false;
  }
  std::cout << "}}" << std::endl;
  return failed == 0 ? 0 : 1;
}

std::atomic<bool> gStop{false};

int hold(const lb4::ServiceKey& to, int durationMs, int intervalMs, int timeoutMs) {
  std::signal(SIGTERM, [](int) { gStop = true; });
  std::signal(SIGINT, [](int) { gStop = true; });
  lb4::UniqueFd fd = connectTo(to, timeoutMs);
  std::string name = fd ? readLine(fd.get()) : std::string();
  if (name.empty()) {
    std::cout << "{\"backend\":null,\"exchanges\":0,\"errors\":1}" << std::endl;
    return 1;
  }
  std::cerr << "connected to " << name << std::endl;
  int exchanges = 0;
  int errors = 0;
  auto deadline = Clock::now() + std::chrono::milliseconds(durationMs);
  while (!gStop && Clock::now() < deadline && errors == 0) {
    std::string ping = "ping " + std::to_string(exchanges);
    if (!sendAll(fd.get(), ping + "\n") || readLine(fd.get()) != name + " " + ping) {
      ++errors;
      break;
    }
    ++exchanges;
    std::this_thread::sleep_for(std::chrono::milliseconds(intervalMs));
  }
  std::cout << "{\"backend\":\"" << name << "\",\"exchanges\":" << exchanges
            << ",\"errors\":" << errors << "}" << std::endl;
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lb4-testnet - traffic for lb4's namespace tests"};
  app.require_subcommand(1);
  std::string name;
  std::string bindAddr = "0.0.0.0";
  std::string toText;
  uint16_t port = 80;
  bool udp = false;
  int count = 100;
  int timeoutMs = 2000;
  int durationMs = 5000;
  int intervalMs = 100;

  auto* serveCmd = app.add_subcommand("serve", "greet and echo");
  serveCmd->add_option("--name", name)->required();
  serveCmd->add_option("--port", port);
  serveCmd->add_option("--bind", bindAddr);
  serveCmd->add_flag("--udp", udp, "also answer UDP on the same port");
  uint16_t httpPort = 0;
  int failEvery = 0;
  serveCmd->add_option("--http-port", httpPort, "also serve an HTTP health endpoint here");
  serveCmd->add_option("--fail-every", failEvery, "reset every Nth HTTP request")
      ->check(CLI::Range(0, 1000));
  auto* connectCmd = app.add_subcommand("connect", "N sequential connections");
  connectCmd->add_option("--to", toText, "ADDR:PORT/tcp")->required();
  connectCmd->add_option("--count", count)->check(CLI::Range(1, 100000));
  connectCmd->add_option("--timeout-ms", timeoutMs)->check(CLI::Range(1, 60000));
  bool human = false;
  connectCmd->add_flag("--human", human, "a table instead of JSON");
  uint16_t sourcePort = 0;
  connectCmd
      ->add_option("--source-port", sourcePort,
                   "connect from this port (with --count 1: a port left in TIME_WAIT by the "
                   "previous connection cannot connect to the same address again)")
      ->check(CLI::Range(1, 65535));
  auto* holdCmd = app.add_subcommand("hold", "one long-lived connection");
  holdCmd->add_option("--to", toText, "ADDR:PORT/tcp")->required();
  holdCmd->add_option("--duration-ms", durationMs)->check(CLI::Range(1, 600000));
  holdCmd->add_option("--interval-ms", intervalMs)->check(CLI::Range(1, 60000));
  holdCmd->add_option("--timeout-ms", timeoutMs)->check(CLI::Range(1, 60000));
  auto* udpCmd = app.add_subcommand("udp", "N UDP requests, one flow each");
  udpCmd->add_option("--to", toText, "ADDR:PORT/udp")->required();
  udpCmd->add_option("--count", count)->check(CLI::Range(1, 100000));
  udpCmd->add_option("--timeout-ms", timeoutMs)->check(CLI::Range(1, 60000));
  auto* bulkCmd = app.add_subcommand("bulk", "send N bytes and read them back");
  size_t bytes = 1 << 20;
  bulkCmd->add_option("--to", toText, "ADDR:PORT/tcp")->required();
  bulkCmd->add_option("--bytes", bytes)->check(CLI::Range(1, 1 << 30));
  bulkCmd->add_option("--timeout-ms", timeoutMs)->check(CLI::Range(1, 60000));
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGPIPE, SIG_IGN);
  if (serveCmd->parsed()) {
    return serve(name, bindAddr, port, udp, httpPort, failEvery);
  }
  auto to = lb4::ServiceKey::parse(toText);
  if (!to) {
    std::cerr << to.error() << "\n";
    return 2;
  }
  if (connectCmd->parsed()) {
    return connectMany(*to, count, timeoutMs, human, sourcePort);
  }
  if (udpCmd->parsed()) {
    return udpMany(*to, count, timeoutMs);
  }
  if (bulkCmd->parsed()) {
    return bulk(*to, bytes, timeoutMs);
  }
  return hold(*to, durationMs, intervalMs, timeoutMs);
}
