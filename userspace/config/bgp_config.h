// The `bgp:` section of lb4d's config: where lb4d writes the BIRD include of
// the VIPs it announces and which control socket it asks BIRD to reload on.
// Off unless `enabled: true`.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>

#include "userspace/common/result.h"

namespace lb4 {

struct BgpConfig {
  bool enabled = false;
  std::string includeFile = "/etc/bird/lb4-vips.conf";  // written atomically by lb4d
  std::string birdSocket = "/run/bird/bird.ctl";        // BIRD's control socket
  std::string protocol = "lb4_vips";                    // static protocols <protocol>4 / 6
  uint32_t retryMs = 2000;     // after a failed write or reconfigure (100 to 60000)
  uint32_t timeoutMs = 5000;   // one exchange with BIRD (100 to 60000)
  bool withdrawOnStop = true;  // a graceful stop withdraws every VIP first
};

// Reads `node` (the bgp: mapping) into `out`; errors read
// "config <file>:<line>: bgp.<field>: <detail>".
Status readBgpConfig(const YAML::Node& node, const std::string& file, BgpConfig& out);

// Checks a BgpConfig built any way (paths, names, ranges).
Status validateBgpConfig(const BgpConfig& config);

}  // namespace lb4
