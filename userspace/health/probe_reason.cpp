// probeFailureReason: the one-word class of a failed probe's detail, for
// the health check failure metric. It reads the detail texts probe.cpp writes.
#include "userspace/health/probe.h"

namespace lb4 {

std::string_view probeFailureReason(const ProbeResult& r) {
  if (r.ok) {
    return "";
  }
  std::string_view d = r.detail;
  auto starts = [&](std::string_view p) { return d.substr(0, p.size()) == p; };
  if (starts("timeout after")) {
    return "timeout";
  }
  if (d.find("Connection refused") != std::string_view::npos) {
    return "refused";
  }
  if (starts("connect: ")) {
    return "connect";
  }
  if (starts("send") || starts("read response: ") || starts("receive: ") ||
      starts("open socket: ")) {
    return "io";
  }
  if (starts("HTTP ") || starts("empty response") || starts("malformed status line") ||
      starts("reply of ")) {
    return "response";
  }
  if (starts("exit status") || starts("killed by signal") || starts("stopped")) {
    return "exit";
  }
  return "error";
}

}  // namespace lb4
