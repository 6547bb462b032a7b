// systemd integration of lb4d (Type=notify in dist/lb4d.service.in):
// READY=1 once the maps are adopted and the control socket listens, a
// watchdog keep-alive driven by the daemon's io_context, STOPPING=1 on the
// way out. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <string>

namespace lb4 {

class SystemdNotifier {
 public:
  explicit SystemdNotifier(asio::io_context& io);
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // READY=1 with a STATUS= line.
  void ready(const std::string& status);
  // STOPPING=1; cancels the watchdog timer.
  void stopping();
  // When the service manager asked for a watchdog (WatchdogSec=), sends
  // WATCHDOG=1 from the io_context at half the interval it gave, so a hung
  // event loop gets the daemon restarted. Returns the keep-alive period, or
  // zero when no watchdog is wanted.
  std::chrono::microseconds startWatchdog();

 private:
  void arm();

  asio::steady_timer timer_;
  std::chrono::microseconds period_{0};
  bool stopped_ = false;
};

}  // namespace lb4
