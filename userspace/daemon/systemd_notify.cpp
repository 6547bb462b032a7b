#include "userspace/daemon/systemd_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstring>

namespace lb4 {

SystemdNotifier::SystemdNotifier(asio::io_context& io) : timer_(io) {}

SystemdNotifier::~SystemdNotifier() { timer_.cancel(); }

void SystemdNotifier::ready(const std::string& status) {
  std::string message = "READY=1\nSTATUS=" + status;
  if (int r = sd_notify(0, message.c_str()); r < 0) {
    spdlog::warn("sd_notify READY: {}", std::strerror(-r));
  }
}

void SystemdNotifier::stopping() {
  stopped_ = true;
  timer_.cancel();
  sd_notify(0, "STOPPING=1");
}

std::chrono::microseconds SystemdNotifier::startWatchdog() {
  uint64_t usec = 0;
  // 1: clears WATCHDOG_USEC and WATCHDOG_PID, so exec health checks (which
  // inherit the environment) do not see them. NOTIFY_SOCKET stays for the
  // keep-alives; the unit's NotifyAccess=main ignores messages from children.
  if (sd_watchdog_enabled(1, &usec) <= 0 || usec == 0) {
    return std::chrono::microseconds(0);
  }
  period_ = std::chrono::microseconds(usec / 2);
  spdlog::info("systemd watchdog: keep-alive every {} ms", period_.count() / 1000);
  sd_notify(0, "WATCHDOG=1");
  arm();
  return period_;
}

void SystemdNotifier::arm() {
  timer_.expires_after(period_);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) {
      return;
    }
    sd_notify(0, "WATCHDOG=1");
    arm();
  });
}

}  // namespace lb4
