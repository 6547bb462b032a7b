// lb4d under systemd's notify protocol (lb4d.service is Type=notify with
// WatchdogSec=): with NOTIFY_SOCKET and WATCHDOG_USEC in its environment it
// sends READY=1 once its socket listens, WATCHDOG=1 keep-alives from its
// event loop, and STOPPING=1 on SIGTERM. The test plays the service manager
// on a datagram socket of its own.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>

#include "daemon/daemon_fixture.h"

namespace lb4::test {
namespace {

class SystemdNotifyTest : public DaemonTest {};

TEST_F(SystemdNotifyTest, ReadyThenWatchdogKeepAlivesThenStopping) {
  if (!isRoot()) {
    GTEST_SKIP() << "lb4d needs root for its maps";
  }
  std::string path = (work_ / "notify").string();
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << std::strerror(errno);

  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);  // keep-alive every 100 ms
  startDaemon();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  // Bounded: at most 200 messages or 200 polls of 100 ms.
  auto receive = [&](int polls) -> std::string {
    for (int i = 0; i < polls; ++i) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) == 1) {
        char buf[512];
        ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
        if (n > 0) return std::string(buf, static_cast<size_t>(n));
      }
    }
    return "";
  };
  std::vector<std::string> messages;
  int watchdogs = 0;
  for (int i = 0; i < 200 && watchdogs < 3; ++i) {
    std::string m = receive(100);
    if (m.empty()) break;
    messages.push_back(m);
    watchdogs += m == "WATCHDOG=1";
  }
  ASSERT_FALSE(messages.empty()) << "no notification from lb4d";
  EXPECT_EQ(messages[0].rfind("READY=1\nSTATUS=", 0), 0u) << messages[0];
  EXPECT_NE(messages[0].find(socket_), std::string::npos) << messages[0];
  EXPECT_EQ(watchdogs, 3) << "keep-alives seen: " << watchdogs;

  daemon_.signal(SIGTERM);
  std::string last;
  for (int i = 0; i < 200; ++i) {
    std::string m = receive(50);
    if (m.empty()) break;
    last = m;
    if (m == "STOPPING=1") break;
  }
  EXPECT_EQ(last, "STOPPING=1");
  EXPECT_EQ(daemon_.wait(std::chrono::seconds(10)), 0);
}

}  // namespace
}  // namespace lb4::test
