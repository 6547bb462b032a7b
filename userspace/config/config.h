// lb4d's configuration file (YAML): daemon settings and, optionally, the
// initial interfaces and VIPs. The initial services seed the desired state
// only when no state file exists yet; after that the state file (changed
// through the API) is the truth. Every error names the file, line and field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "userspace/common/result.h"
#include "userspace/config/bgp_config.h"
#include "userspace/metrics/listen_address.h"
#include "userspace/scoring/host_info.h"
#include "userspace/state/state.h"

namespace lb4 {

struct DaemonConfig {
  std::string socketPath = kDefaultSocketPath;
  std::string socketGroup;  // empty: root only (0600); else 0660 with this group
  std::string stateFile = "/var/lib/lb4/state.json";
  std::string pinRoot = "/sys/fs/bpf/lb4";
  uint32_t conntrackSize = LB4_DEFAULT_CT_SIZE;            // flows in total, split over CPUs
  uint32_t natReverseSize = LB4_DEFAULT_NAT_REVERSE_SIZE;  // NAT flows in total
  // NAT conntrack timeouts in seconds (lb4_config): idle TCP, TCP after
  // FIN/RST, idle UDP.
  uint32_t tcpTimeoutS = LB4_DEFAULT_TCP_TIMEOUT;
  uint32_t tcpFinTimeoutS = LB4_DEFAULT_TCP_FIN_TIMEOUT;
  uint32_t udpTimeoutS = LB4_DEFAULT_UDP_TIMEOUT;
  uint32_t defaultRingSize = LB4_DEFAULT_RING_SIZE;
  std::string logLevel = "info";
  std::string logFormat = "text";  // "text" (one line per event) or "json" (one object per line)
  // Where the Prometheus endpoint listens ("ADDR:PORT"); "" turns it off.
  std::string metricsListen = kDefaultMetricsListen;
  // True when the file or the command line chose metricsListen: then a port
  // lb4d cannot bind stops it; the default only warns (metrics off).
  bool metricsListenSet = false;
  uint32_t neighbourRetryMs = 1000;  // how often unresolved backend MACs are retried
  // Receive VLAN offload on attached interfaces: "disable" turns it off at
  // attach (XDP then sees and keeps the tags), "keep" leaves it (tags the
  // driver strips are lost in forwarding; lb4d warns).
  std::string vlanOffload = "disable";
  ScoringConfig scoring;  // scoring: section (host_info thresholds)
  BgpConfig bgp;          // bgp: section (VIP announcements through BIRD)
  DesiredState initial;   // interfaces and vips: sections
  // Where each of initial.interfaces was given ("config <file>:<line>:
  // interfaces[<i>]"), for errors found when lb4d starts.
  std::vector<std::string> interfaceOrigins;
};

Result<DaemonConfig> loadConfig(const std::string& path);
Result<DaemonConfig> parseConfig(const std::string& text, const std::string& name);

// The settings lb4d checks again once the command line has overridden the
// file's: paths and names that must be valid before anything is applied.
Status validateDaemonSettings(const DaemonConfig& config);

}  // namespace lb4
