// What `lb4ctl doctor` needs to know about the gateway's own network
// namespace that no other reply carries: per interface the rp_filter in
// force, the driver, whether transmit checksum offload is on and, for a
// veth, where its peer is and (when the peer is in this namespace) whether
// it can receive what XDP_TX sends (an XDP program or GRO gives it NAPI).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lb4 {

nlohmann::json hostFacts(const std::vector<std::string>& interfaces);

}  // namespace lb4
